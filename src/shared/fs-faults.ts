/**
 * Resource faults are errors, not crashes: a full disk, a quota, a read-only mount, a permission,
 * too many open files or no memory, wherever in the pipeline they happen, become one line that
 * names the path and says what to do (exit 1: the environment, not the command, is at fault).
 * Everything beatloom writes goes through a temp name and a rename, so nothing half-written is
 * left, and finished segments stay for the rerun.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BeatloomError } from './errors.js';
import type { ErrorCode } from './error-codes.js';

interface Fault {
  readonly says: string;
  readonly hint: string;
}

const RERUN = 'then run the same command again (finished segments are kept)';

const FAULTS: Readonly<Record<string, Fault>> = {
  ENOSPC: { says: 'the disk is full', hint: `free some space there (or choose another --run-dir or -o), ${RERUN}` },
  EDQUOT: { says: 'the disk quota is used up', hint: `free some of your quota (or write elsewhere), ${RERUN}` },
  EROFS: { says: 'the file system is read-only', hint: `choose a writable folder (--run-dir, -o), ${RERUN}` },
  EACCES: { says: 'permission denied', hint: `give yourself write access there or choose another folder, ${RERUN}` },
  EPERM: { says: 'operation not permitted', hint: `check the folder's permissions or choose another, ${RERUN}` },
  EMFILE: { says: 'too many open files', hint: `raise the limit (ulimit -n 4096), ${RERUN}` },
  ENFILE: { says: 'the system has too many open files', hint: `close other programs, ${RERUN}` },
  ENOMEM: { says: 'out of memory', hint: `close other programs or render a smaller --size, ${RERUN}` },
  EIO: { says: 'an input/output error (a failing disk?)', hint: `check the disk, ${RERUN}` },
  EFBIG: { says: 'the file is too large for the file system', hint: `write to another disk, ${RERUN}` },
};

const READS = new Set(['read', 'scandir', 'stat', 'lstat', 'access', 'realpath', 'readlink', 'opendir']);

/** The errno code of a Node error, or of the error it wraps. */
function errnoOf(error: unknown): NodeJS.ErrnoException | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code in FAULTS) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** V8 gives up on an allocation with a RangeError, not an errno. */
function isOutOfMemory(error: unknown): boolean {
  return (
    error instanceof RangeError &&
    /Array buffer allocation failed|Invalid string length|Invalid typed array length|allocation failed/i.test(
      error.message,
    )
  );
}

/**
 * The one-line error for a resource fault (E_DISK_FULL, E_READ_ONLY, …), or undefined when
 * `error` is not one. `where`: the path to name when the error carries none (a write on an
 * already open file).
 */
export function fsFaultError(error: unknown, where?: string): BeatloomError | undefined {
  if (error instanceof BeatloomError) return processFault(error, where);
  if (isOutOfMemory(error)) {
    return new BeatloomError('E_NO_MEMORY', `out of memory${where ? ` while working on ${where}` : ''}`, {
      hint: FAULTS['ENOMEM']!.hint,
      cause: error,
    });
  }
  const errno = errnoOf(error);
  if (!errno) return undefined;
  const fault = FAULTS[errno.code!]!;
  const path = untemp(errno.path ?? where);
  const verb = errno.syscall && READS.has(errno.syscall) ? 'cannot read' : 'cannot write';
  return new BeatloomError(faultCode(errno.code!), `${verb} ${path ?? '(a file)'}: ${fault.says} (${errno.code})`, {
    hint: fault.hint,
    cause: error,
  });
}

function faultCode(code: string): ErrorCode {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'E_DISK_FULL';
    case 'EROFS':
      return 'E_READ_ONLY';
    case 'EACCES':
    case 'EPERM':
      return 'E_PERMISSION';
    case 'EMFILE':
    case 'ENFILE':
      return 'E_TOO_MANY_FILES';
    case 'ENOMEM':
      return 'E_NO_MEMORY';
    default:
      return 'E_IO';
  }
}

/**
 * Why a folder cannot be made: `mkdir -p` on a read-only mount says ENOENT (Node 20), so this
 * looks at the nearest part of the path that exists. Returns a phrase ("is a file", "read-only
 * file system (EROFS)") for messages.
 */
export async function whyNotCreatable(path: string, error: unknown): Promise<string> {
  const code = (error as NodeJS.ErrnoException).code;
  let head = path;
  for (;;) {
    const info = await stat(head).catch(() => undefined);
    if (info) {
      if (!info.isDirectory()) return `${head} is a file, not a folder`;
      break;
    }
    const parent = dirname(head);
    if (parent === head) break;
    head = parent;
  }
  const real = code === 'ENOENT' ? await probeCode(head) : code;
  if (real && real in FAULTS) return `${FAULTS[real]!.says} (${real})`;
  return real ?? (error as Error).message;
}

/** The error code creating something in `folder` gives. */
async function probeCode(folder: string): Promise<string | undefined> {
  const probe = `${folder}/.beatloom-probe-${process.pid}`;
  try {
    await mkdir(probe);
    await rmdir(probe);
    return 'ENOENT';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

/** What ffmpeg (or another child) says when it hits the same faults. */
const PROCESS_FAULTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/Read-only file system/i, 'EROFS'],
  [/Permission denied/i, 'EACCES'],
  [/Too many open files/i, 'EMFILE'],
  [/Cannot allocate memory/i, 'ENOMEM'],
];

/** A child process that failed on a resource fault: the same line as our own faults. */
function processFault(error: BeatloomError, where: string | undefined): BeatloomError | undefined {
  const tail = (error as { stderrTail?: unknown }).stderrTail;
  if (error.code !== 'E_PROCESS' || typeof tail !== 'string') return undefined;
  for (const [pattern, code] of PROCESS_FAULTS) {
    const line = tail.split('\n').find((l) => pattern.test(l));
    if (!line) continue;
    // ffmpeg names the file first: "/runs/x/.out.mp4.tmp-1-ab: No space left on device".
    const named = untemp(/^(\/[^:]+):/.exec(line.trim())?.[1]);
    const fault = FAULTS[code]!;
    return new BeatloomError(faultCode(code), `cannot write ${named ?? where ?? '(a file)'}: ${fault.says} (${code})`, {
      hint: fault.hint,
      cause: error,
    });
  }
  return undefined;
}

/** A temp name (`.out.mp4.tmp-<pid>-<hex>`, see fs-atomic.ts) as the file it becomes. */
function untemp(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const match = /^\.(.+)\.tmp-\d+-[0-9a-f]+$/.exec(basename(path));
  return match ? join(dirname(path), match[1]!) : path;
}
