/**
 * npm run bench:faults — the hostile-server cases of issue 11 played against local servers on
 * 127.0.0.1, each through the real CLI (`node bin/beatloom.js render … --engine comfyui`, run
 * under /usr/bin/time for its peak RSS, or VmHWM polled from /proc when that is missing), with
 * the engine's default settings. Per case: the exit code, the time to the error line, the time
 * from the error line to exit, the peak RSS and the error line. Every case is killed after
 * --limit seconds, so the bench always ends.
 *
 *   npm run bench:faults [-- --limit 90 --case view-endless]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakeComfy, startSilentServer, type FakeComfy } from '../../test/comfyui/fake-comfy-server.js';
import { makeClickTrack } from '../../test/helpers/media.js';

const BIN = fileURLToPath(new URL('../../bin/beatloom.js', import.meta.url));
const TIME = '/usr/bin/time';
const MANY = 1_000_000;

interface Case {
  readonly name: string;
  readonly what: string;
  /** The render's frame size (default 64x64): the /view cap grows with it. */
  readonly size?: string;
  /** Starts the server(s); returns the URL to render against and how to stop them. */
  readonly start: () => Promise<{ url: string; close(): Promise<void> }>;
}

const withFaults =
  (arrange: (server: FakeComfy) => void) => async (): Promise<{ url: string; close(): Promise<void> }> => {
    const server = await startFakeComfy({ segmentMs: 20, historyDelayMs: 5 });
    arrange(server);
    return { url: server.url, close: () => server.close() };
  };

const CASES: readonly Case[] = [
  { name: 'healthy', what: 'a working server (baseline)', start: withFaults(() => undefined) },
  { name: 'silent', what: 'accepts connections, never answers', start: () => startSilentServer() },
  {
    name: 'view-endless',
    what: '/view streams zeros forever',
    start: withFaults((s) => s.faults.hostile.push({ path: '/view', body: 'endless', times: MANY })),
  },
  {
    name: 'view-endless-512',
    what: '/view streams zeros forever, 512x512',
    size: '512x512',
    start: withFaults((s) => s.faults.hostile.push({ path: '/view', body: 'endless', times: MANY })),
  },
  {
    name: 'view-lying',
    what: '/view announces 10 GiB',
    start: withFaults((s) => s.faults.hostile.push({ path: '/view', body: 'lying', times: MANY })),
  },
  {
    name: 'view-drip',
    what: '/view sends a byte every 100 ms',
    start: withFaults((s) => s.faults.hostile.push({ path: '/view', body: 'drip', times: MANY })),
  },
  {
    name: 'history-huge',
    what: '/history answers 1 GiB of JSON',
    start: withFaults((s) => s.faults.hostile.push({ path: '/history/', body: 'huge', bytes: 1 << 30, times: MANY })),
  },
  {
    name: 'object-info-huge',
    what: '/object_info answers 1 GiB of JSON',
    start: withFaults((s) =>
      s.faults.hostile.push({ path: '/object_info', body: 'huge', bytes: 1 << 30, times: MANY }),
    ),
  },
  {
    name: 'prompt-hangs',
    what: 'POST /prompt never answers',
    start: withFaults((s) => s.faults.hangHttp.push({ path: '/prompt', method: 'POST', times: MANY })),
  },
  {
    name: 'dies',
    what: 'the server dies mid-segment',
    start: withFaults((s) => (s.faults.dieAtStep = 2)),
  },
];

interface Outcome {
  readonly code: number | null;
  readonly errorAtMs: number | undefined;
  readonly exitAtMs: number;
  readonly peakRssKb: number | undefined;
  readonly errorLine: string;
  readonly killed: boolean;
}

function vmHwmKb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function runCase(url: string, song: string, dir: string, size: string, limitSec: number): Promise<Outcome> {
  const args = [
    BIN,
    'render',
    song,
    '--prompt',
    'x',
    '--engine',
    'comfyui',
    '--comfy-url',
    url,
    '--size',
    size,
    '--run-dir',
    join(dir, 'run'),
    '-o',
    join(dir, 'out.mp4'),
    '--quiet',
  ];
  const useTime = existsSync(TIME);
  const command = useTime ? TIME : process.execPath;
  const child = spawn(command, useTime ? ['-f', 'PEAK_RSS_KB %M', process.execPath, ...args] : args, {
    cwd: dir,
    env: { ...process.env, BEATLOOM_COMFY_URL: undefined },
  });
  const started = performance.now();
  let errorAtMs: number | undefined;
  let stderr = '';
  let polledPeak: number | undefined;
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    if (errorAtMs === undefined && stderr.includes('beatloom: error:')) errorAtMs = performance.now() - started;
  });
  child.stdout.resume();
  const poll = setInterval(() => {
    if (useTime || child.pid === undefined) return;
    polledPeak = Math.max(polledPeak ?? 0, vmHwmKb(child.pid) ?? 0);
  }, 20);
  let killed = false;
  const limit = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, limitSec * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const exitAtMs = performance.now() - started;
  clearInterval(poll);
  clearTimeout(limit);
  const peak = /PEAK_RSS_KB (\d+)/.exec(stderr);
  return {
    code,
    errorAtMs,
    exitAtMs,
    peakRssKb: peak ? Number(peak[1]) : polledPeak,
    errorLine: stderr.split('\n').find((line) => line.startsWith('beatloom: error:')) ?? '',
    killed,
  };
}

const seconds = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { limit: { type: 'string', default: '90' }, case: { type: 'string', multiple: true } },
  });
  const limitSec = Number(values.limit);
  const chosen = values.case && values.case.length > 0 ? CASES.filter((c) => values.case!.includes(c.name)) : CASES;
  const dir = await mkdtemp(join(tmpdir(), 'beatloom-faults-'));
  try {
    // A short song: the figures are about the server, not the analysis.
    const song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 6, bpm: 120 });
    console.log(
      `beatloom bench:faults — render of a 6 s song at 64x64 (unless said), default engine settings, limit ${limitSec} s`,
    );
    console.log('');
    const header = ['case', 'server', 'exit', 'to error', 'error→exit', 'peak RSS', 'error line'];
    const rows: string[][] = [];
    for (const c of chosen) {
      const caseDir = await mkdtemp(join(dir, `${c.name}-`));
      const server = await c.start();
      let outcome: Outcome;
      try {
        outcome = await runCase(server.url, song, caseDir, c.size ?? '64x64', limitSec);
      } finally {
        await server.close();
      }
      const line = outcome.errorLine.replace('beatloom: error: ', '').replaceAll(server.url, 'URL');
      rows.push([
        c.name,
        c.what,
        outcome.killed ? 'killed' : String(outcome.code),
        seconds(outcome.errorAtMs),
        outcome.errorAtMs === undefined ? '—' : seconds(outcome.exitAtMs - outcome.errorAtMs),
        outcome.peakRssKb === undefined ? '?' : `${Math.round(outcome.peakRssKb / 1024)} MB`,
        line.length > 110 ? `${line.slice(0, 107)}…` : line,
      ]);
      console.log(`${c.name}: done (${seconds(outcome.exitAtMs)})`);
    }
    console.log('');
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const format = (cells: readonly string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
    console.log(format(header));
    console.log(format(widths.map((w) => '-'.repeat(w))));
    for (const row of rows) console.log(format(row));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
