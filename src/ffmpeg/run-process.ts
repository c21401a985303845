import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { AbortedError, BeatloomError } from '../shared/errors.js';

/** How many trailing stderr lines a failure carries. */
const STDERR_TAIL_LINES = 8;

export class ProcessError extends BeatloomError {
  readonly exitCode: number | null;
  readonly stderrTail: string;

  constructor(command: string, exitCode: number | null, signal: string | null, stderrTail: string) {
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${exitCode}`;
    const last = lastMeaningfulLine(stderrTail);
    super('E_PROCESS', `${command} ${how}${last ? `: ${last}` : ''}`, {
      hint: `${last ? `that is ${command}'s last line of output; ` : ''}if the input is fine, please report this with the command you ran`,
    });
    this.name = 'ProcessError';
    this.exitCode = exitCode;
    this.stderrTail = stderrTail;
  }
}

function lastMeaningfulLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.at(-1) ?? '';
}

/** Keeps the last N lines of a stream without holding all of it. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly maxLines: number) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.maxLines) this.lines.shift();
    }
  }

  text(): string {
    return [...this.lines, this.partial].filter((l) => l.length > 0).join('\n');
  }
}

export interface SpawnedProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves when the process exits 0; rejects with ProcessError or AbortedError otherwise. */
  readonly done: Promise<void>;
  /** Everything stderr has said so far (bounded to the first 64 KiB plus the tail). */
  stderrHead(): string;
}

export interface SpawnOptions {
  readonly signal?: AbortSignal;
  /** Called with each stderr chunk (decoded as UTF-8). */
  readonly onStderr?: (text: string) => void;
}

const STDERR_HEAD_BYTES = 64 * 1024;

/** The one place beatloom starts processes. `args` is an array: no shell, no quoting bugs. */
export function spawnProcess(command: string, args: readonly string[], options: SpawnOptions = {}): SpawnedProcess {
  const { signal } = options;
  if (signal?.aborted) throw new AbortedError();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const tail = new LineTail(STDERR_TAIL_LINES);
  let head = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (head.length < STDERR_HEAD_BYTES) head += text.slice(0, STDERR_HEAD_BYTES - head.length);
    tail.push(text);
    options.onStderr?.(text);
  });
  // A consumer that stops reading early (or an ffmpeg that exits first) must not crash us with EPIPE.
  child.stdin.on('error', () => undefined);

  const onAbort = (): void => {
    child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      reject(
        new BeatloomError('E_SPAWN', `could not start ${command}: ${error.message}`, {
          hint:
            error.code === 'ENOENT' ? 'reinstall with `npm ci`, or set BEATLOOM_FFMPEG to an ffmpeg binary' : undefined,
          cause: error,
        }),
      );
    });
    child.once('close', (code, killSignal) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(new AbortedError());
      else if (code === 0) resolve();
      else reject(new ProcessError(shortName(command), code, killSignal, tail.text()));
    });
  });
  // The caller may only look at `done` later; never let it become an unhandled rejection meanwhile.
  done.catch(() => undefined);
  return { child, done, stderrHead: () => head };
}

function shortName(command: string): string {
  return command.split(/[\\/]/).at(-1) ?? command;
}

/** Runs a process to completion and returns its stdout. */
export async function runProcess(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<Buffer> {
  const proc = spawnProcess(command, args, options);
  proc.child.stdin.end();
  const chunks: Buffer[] = [];
  proc.child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  await proc.done;
  return Buffer.concat(chunks);
}
