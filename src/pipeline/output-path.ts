import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import type { VideoCodec } from '../ffmpeg/args.js';
import { usageError } from '../shared/errors.js';
import { tempPathFor } from '../shared/fs-atomic.js';
import { isFramesOutputEntry } from '../stitching/stitch-video.js';

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
  await assertCreatable(outPath);
}

/** Creates (and removes) a file next to `outPath`: its folder exists or can be made, and is writable. */
async function assertCreatable(outPath: string): Promise<void> {
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

/**
 * For a frames-only output: the folder is new, empty, or an earlier frames output (only
 * frame-NNNNNN.png files and frames.json), which is replaced once the new frames are complete.
 */
export async function assertWritableFolder(outPath: string): Promise<void> {
  const existing = await stat(outPath).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw usageError('E_OUTPUT_NOT_DIR', `output ${outPath} is a file, not a folder`, 'give a folder for the frames with -o');
  if (existing) {
    const foreign = (await readdir(outPath)).filter((name) => !isFramesOutputEntry(name));
    if (foreign.length > 0) {
      throw usageError('E_OUTPUT_NOT_EMPTY', `output folder ${outPath} holds other files (${foreign[0]})`, 'give an empty or new folder with -o');
    }
  }
  await assertCreatable(outPath);
}
