/**
 * No input is ever an output. Before a command writes anything it compares each destination with
 * every file it reads (the song, the mapping, a config, batch or workflow file): the same file is
 * the same device and inode where both exist (hard links, symlinks, `..`, and a different case on a
 * case-insensitive disk all land there), else the same real path. A folder that will be replaced
 * (frames-only) must not hold an input either.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { usageError } from './errors.js';

/** A path and what it is, for messages: `{ path: 'song.mp3', what: 'the audio input' }`. */
export interface NamedPath {
  readonly path: string;
  readonly what: string;
}

interface Identity {
  /** The path with every link and `..` resolved (of the part that exists; the rest as written). */
  readonly real: string;
  readonly file: { readonly dev: number; readonly ino: number; readonly isDirectory: boolean } | undefined;
}

/** The real path of `path`, resolving the longest part of it that exists. */
export async function realPathOf(path: string): Promise<string> {
  const absolute = resolve(path);
  const rest: string[] = [];
  let head = absolute;
  for (;;) {
    try {
      return join(await realpath(head), ...rest.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return absolute;
      rest.push(basename(head));
      head = parent;
    }
  }
}

async function identify(path: string): Promise<Identity> {
  const real = await realPathOf(path);
  const info = await stat(path).catch(() => undefined);
  return {
    real,
    file: info ? { dev: info.dev, ino: info.ino, isDirectory: info.isDirectory() } : undefined,
  };
}

function sameFile(a: Identity, b: Identity): boolean {
  if (a.file && b.file) return a.file.dev === b.file.dev && a.file.ino === b.file.ino;
  return a.real === b.real;
}

function howSame(outPath: string, inPath: string, out: Identity, source: Identity): string {
  if (resolve(outPath) === resolve(inPath)) return '';
  return out.real === source.real
    ? ' (by a link or ..)'
    : ' (the same file on disk: a hard link, or another case of its name)';
}

function isInside(child: string, folder: string): boolean {
  const rel = relative(folder, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep);
}

/**
 * Throws E_OUTPUT_IS_INPUT (exit 2) when `output` is one of `inputs`, or — for a folder that will
 * be written or replaced — holds one of them. Inputs that do not exist are skipped (the command
 * reports them on its own).
 */
export async function assertNotAnInput(
  output: NamedPath & { readonly folder?: boolean },
  inputs: ReadonlyArray<NamedPath | undefined>,
): Promise<void> {
  const out = await identify(output.path);
  // Writing goes through a temp file renamed into place: that would replace a device or a fifo
  // (as root, `-o /dev/full` replaced the device node with JSON).
  const kind = await stat(output.path).catch(() => undefined);
  if (kind && !kind.isFile() && !kind.isDirectory()) {
    throw usageError(
      'E_OUTPUT_NOT_FILE',
      `${output.what} ${output.path} is a device, fifo or socket, not a file`,
      'give the path of a file to write',
    );
  }
  for (const input of inputs) {
    if (input === undefined) continue;
    const source = await identify(input.path);
    if (source.file === undefined) continue;
    const holds = (output.folder === true || out.file?.isDirectory === true) && isInside(source.real, out.real);
    if (sameFile(out, source) || holds) {
      throw usageError(
        'E_OUTPUT_IS_INPUT',
        holds
          ? `${output.what} ${output.path} holds ${input.what} ${input.path}`
          : `${output.what} ${output.path} is ${input.what} ${input.path}${howSame(output.path, input.path, out, source)}`,
        'beatloom never writes over what it reads: give another destination',
      );
    }
  }
}

/**
 * What beatloom itself keeps in a run directory. A destination inside the run directory may only
 * be the artifact the command makes there (`allowed`), or a name beatloom does not use.
 */
const RUN_DIR_RESERVED = [/^run\.json$/, /^run\.lock$/, /^analysis\.json$/, /^keyframes\.json$/, /^plan\.json$/];
const RUN_DIR_RESERVED_FOLDERS = ['segments', 'frames'];

/** Throws E_OUTPUT_IN_RUN_DIR when `output` would overwrite something of the run directory's own. */
export async function assertNotRunDirContent(
  output: NamedPath,
  runDir: string,
  allowed: readonly string[],
): Promise<void> {
  const [out, root] = await Promise.all([realPathOf(output.path), realPathOf(runDir)]);
  if (out === root) {
    throw usageError(
      'E_OUTPUT_IN_RUN_DIR',
      `${output.what} ${output.path} is the run directory ${runDir}`,
      'give a path outside it, or a file name inside it',
    );
  }
  if (!isInside(out, root)) return;
  const rel = relative(root, out);
  if (allowed.includes(rel)) return;
  const first = rel.split(sep)[0]!;
  const reserved =
    RUN_DIR_RESERVED.some((pattern) => pattern.test(rel)) ||
    RUN_DIR_RESERVED_FOLDERS.includes(first) ||
    /^audio-.*\.(m4a|webm)$/.test(rel) ||
    /^\..+\.tmp-/.test(basename(rel));
  if (reserved) {
    throw usageError(
      'E_OUTPUT_IN_RUN_DIR',
      `${output.what} ${output.path} is beatloom's own ${rel} in the run directory ${runDir}`,
      'give a path outside the run directory, or another name in it',
    );
  }
}
