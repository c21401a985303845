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
  const ext = extname(outPath).toLowerCase();
  const allowed = EXTENSIONS[codec];
  if (!allowed.includes(ext)) {
    throw usageError('E_OUTPUT_EXT', `output ${outPath} does not end in ${allowed.join(' or ')}`, `name the ${codec} output file with ${allowed[0]}`);
  }
  const existing = await stat(outPath).catch(() => undefined);
  if (existing?.isDirectory()) throw usageError('E_OUTPUT_DIR', `output ${outPath} is a folder`, 'give a file path, e.g. out.mp4');
  const folder = dirname(outPath);
  const probe = tempPathFor(outPath);
  try {
    await mkdir(folder, { recursive: true });
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (error) {
    throw usageError('E_OUTPUT_UNWRITABLE', `cannot write output ${outPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'choose a writable location with -o', error);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}
