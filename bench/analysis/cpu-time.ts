import { readFileSync } from 'node:fs';

export interface CpuTime {
  /** This process: user + system seconds. */
  readonly selfSec: number;
  /** Finished child processes (ffmpeg): user + system seconds, from /proc (0 where there is none). */
  readonly childrenSec: number;
}

/** Linux's clock tick for /proc times; 100 on every mainstream kernel config. */
const CLOCK_TICKS_PER_SEC = 100;

function childrenCpuSec(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return 0;
  }
}

export function cpuTime(): CpuTime {
  const usage = process.cpuUsage();
  return { selfSec: (usage.user + usage.system) / 1e6, childrenSec: childrenCpuSec() };
}

export function cpuSince(start: CpuTime): CpuTime {
  const now = cpuTime();
  return { selfSec: now.selfSec - start.selfSec, childrenSec: now.childrenSec - start.childrenSec };
}
