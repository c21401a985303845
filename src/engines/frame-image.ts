/**
 * Reading the images a segment starts from (an init image, held frames): every engine checks
 * them the same way, so a missing or mis-sized frame is the same clear error whichever engine
 * renders.
 */
import { readFile } from 'node:fs/promises';
import { BeatloomError } from '../shared/errors.js';
import { decodePng, type RgbImage } from '../raster/png.js';

export interface FrameImage {
  readonly image: RgbImage;
  /** The PNG file as read (engines that keep state in its text chunks read it from here). */
  readonly file: Buffer;
}

/** `what`: 'init image' or 'held frame', as the error names it. */
export async function readFrameImage(
  path: string,
  size: { readonly width: number; readonly height: number },
  what: string,
): Promise<FrameImage> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (error) {
    throw new BeatloomError('E_INIT_MISSING', `${what} ${path} cannot be read`, {
      cause: error,
      hint: 'render again with --force so the segment it comes from is rendered again',
    });
  }
  const image = decodePng(file, `${what} ${path}`);
  if (image.width !== size.width || image.height !== size.height) {
    throw new BeatloomError(
      'E_INIT_SIZE',
      `${what} ${path} is ${image.width}x${image.height}, the render is ${size.width}x${size.height}`,
      { hint: 'render again with --force so every segment has the same size' },
    );
  }
  return { image, file };
}

/**
 * The held frames of a continuation (RenderSegmentOptions.heldFramePaths), checked: as many as
 * the job holds, each readable and of the job's size.
 */
export async function readHeldFrames(
  job: { readonly index: number; readonly heldFrames: number; readonly width: number; readonly height: number },
  paths: readonly string[] | undefined,
): Promise<FrameImage[]> {
  return Promise.all(heldFramePaths(job, paths).map((path) => readFrameImage(path, job, 'held frame')));
}

/** The paths of a continuation's held frames, checked to be as many as the job holds (none when it holds none). */
export function heldFramePaths(
  job: { readonly index: number; readonly heldFrames: number },
  paths: readonly string[] | undefined,
): readonly string[] {
  if (job.heldFrames === 0) return [];
  if (paths?.length !== job.heldFrames) {
    throw new BeatloomError(
      'E_INIT_MISSING',
      `segment ${job.index + 1} holds ${job.heldFrames} frames of the one before, but ${paths?.length ?? 0} were given`,
      { hint: 'render again with --force' },
    );
  }
  return paths;
}
