import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import type { VideoCodec } from '../ffmpeg/args.js';
import { usageError } from '../shared/errors.js';
import { tempPathFor } from '../shared/fs-atomic.js';

const EXTENSIONS: Readonly<Record<VideoCodec, readonly string[]>> = {
  h264: ['.mp4', '.m4v', '.mov'],
  h265: ['.mp4', '.m4v', '.mov'],
  vp9: ['.webm'],
};

/**
 * Checks, before any work, that the video can be written where the user asked: the extension
 * fits the codec, the path is not a folder, and its folder exists (or can be made) and is writable.
 */
export async function assertWritableOutput(outPath: string, codec: VideoCodec): Promise<void> {
  await assertWritableFile(outPath, EXTENSIONS[codec], { what: 'output', flag: '-o', example: 'out.mp4' });
}

export interface WritableFileLabel {
  /** What the file is, for messages: "output", "plot". */
  readonly what: string;
  /** The option that names it. */
  readonly flag: string;
  readonly example: string;
}

/** Checks that a file with one of `extensions` can be written at `path` (its folder is made if missing). */
export async function assertWritableFile(path: string, extensions: readonly string[], label: WritableFileLabel): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (!extensions.includes(ext)) {
    throw usageError('E_OUTPUT_EXT', `${label.what} ${path} does not end in ${extensions.join(' or ')}`, `name the ${label.what} file with ${extensions[0]}, e.g. ${label.example}`);
  }
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw usageError('E_OUTPUT_DIR', `${label.what} ${path} is a folder`, `give a file path, e.g. ${label.example}`);
  const folder = dirname(path);
  const probe = tempPathFor(path);
  try {
    await mkdir(folder, { recursive: true });
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (error) {
    throw usageError(
      'E_OUTPUT_UNWRITABLE',
      `cannot write ${label.what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      `choose a writable location with ${label.flag}`,
      error,
    );
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}
