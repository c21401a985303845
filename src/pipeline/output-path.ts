import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import type { VideoCodec } from '../ffmpeg/args.js';
import { BeatloomError, usageError } from '../shared/errors.js';
import type { ErrorCode } from '../shared/error-codes.js';
import { tempPathFor } from '../shared/fs-atomic.js';
import { join } from 'node:path';
import {
  assertPostStepsFit,
  DEFAULT_OUTPUT_SETTINGS,
  defaultOutputName,
  type OutputSettings,
} from '../stitching/output-settings.js';
import { isFramesOutputEntry } from '../stitching/stitch-video.js';
import type { RenderRequest, SongRequest } from './render-request.js';
import { whyNotCreatable } from '../shared/fs-faults.js';
import { assertNotAnInput, assertNotRunDirContent, type NamedPath } from '../shared/same-file.js';

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
  await assertWritableFile(outPath, EXTENSIONS[codec], OUTPUT_LABEL);
}

export interface WritableFileLabel {
  /** What the file is, for messages: "output", "plot". */
  readonly what: string;
  /** The option that names it. */
  readonly flag: string;
  readonly example: string;
}

/** Checks that a file with one of `extensions` can be written at `path` (its folder is made if missing). */
export async function assertWritableFile(
  path: string,
  extensions: readonly string[],
  label: WritableFileLabel,
): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (!extensions.includes(ext)) {
    throw usageError(
      'E_OUTPUT_EXT',
      `${label.what} ${path} does not end in ${extensions.join(' or ')}`,
      `name the ${label.what} file with ${extensions[0]}, e.g. ${basename(path, extname(path)) || 'out'}${extensions[0]}`,
    );
  }
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory())
    throw usageError('E_OUTPUT_DIR', `${label.what} ${path} is a folder`, `give a file path, e.g. ${label.example}`);
  await assertCreatable(path, label);
}

/** The faults of the machine, not of the command: a read-only or full disk, no permission, no file handles. */
const ENVIRONMENT_FAULT = /\((EROFS|ENOSPC|EDQUOT|EACCES|EPERM|EMFILE|ENFILE|ENOMEM)\)/;

/** A destination that cannot be written: exit 1 when the machine is why (ENVIRONMENT_FAULT), else a usage error. */
function unwritable(code: ErrorCode, what: string, why: string, hint: string, cause: unknown): BeatloomError {
  return new BeatloomError(code, `${what}: ${why}`, {
    hint,
    cause,
    kind: ENVIRONMENT_FAULT.test(why) ? 'failure' : 'usage',
  });
}

const OUTPUT_LABEL: WritableFileLabel = { what: 'output', flag: '-o', example: 'out.mp4' };

/** Creates (and removes) a file next to `path`: its folder exists or can be made, and is writable. */
async function assertCreatable(path: string, label: WritableFileLabel = OUTPUT_LABEL): Promise<void> {
  const folder = dirname(path);
  const probe = tempPathFor(path);
  try {
    await mkdir(folder, { recursive: true });
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (error) {
    throw unwritable(
      'E_OUTPUT_UNWRITABLE',
      `cannot write ${label.what} ${path}`,
      await whyNotCreatable(folder, error),
      `choose a writable location with ${label.flag}`,
      error,
    );
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
  if (existing && !existing.isDirectory())
    throw usageError(
      'E_OUTPUT_NOT_DIR',
      `output ${outPath} is a file, not a folder`,
      'give a folder for the frames with -o',
    );
  if (existing) {
    const foreign = (await readdir(outPath)).filter((name) => !isFramesOutputEntry(name));
    if (foreign.length > 0) {
      throw usageError(
        'E_OUTPUT_NOT_EMPTY',
        `output folder ${outPath} holds other files (${foreign[0]})`,
        'give an empty or new folder with -o',
      );
    }
  }
  await assertCreatable(outPath);
}

/**
 * The output a render will write, checked before any work: settings that fit the render (an
 * upscale or interpolation must not shrink it), and a writable file — or, for frames-only, a
 * folder that is new, empty or an earlier frames output. The default is <runDir>/out.mp4
 * (out.webm for vp9, frames/ for frames-only).
 */
export async function resolveOutput(request: RenderRequest): Promise<{ output: OutputSettings; outPath: string }> {
  const output = request.output ?? DEFAULT_OUTPUT_SETTINGS;
  assertPostStepsFit(output, request);
  const outPath = request.outPath ?? join(request.runDir, defaultOutputName(output));
  await assertNotAnInput({ path: outPath, what: 'output', folder: output.target === 'frames' }, inputsOf(request));
  await assertNotRunDirContent({ path: outPath, what: 'output' }, request.runDir, RENDER_OUTPUT_NAMES);
  await assertUsableRunDir(request.runDir);
  if (output.target === 'frames') await assertWritableFolder(outPath);
  else await assertWritableOutput(outPath, output.codec);
  return { output, outPath };
}

/** What a render may write in its own run directory (defaultOutputName's names). */
const RENDER_OUTPUT_NAMES = ['out.mp4', 'out.webm', 'frames'];

/** Every file a song request reads: none of them may be an output. */
export function inputsOf(request: SongRequest & Pick<Partial<RenderRequest>, 'engineOptions'>): NamedPath[] {
  const comfy = request.engineOptions?.comfyui;
  return [
    { path: request.audioPath, what: 'the audio input' },
    { path: request.mappingPath, what: 'the mapping' },
    ...(comfy?.workflow !== undefined ? [{ path: comfy.workflow, what: 'the workflow' }] : []),
    ...(typeof comfy?.workflowMap === 'string' ? [{ path: comfy.workflowMap, what: 'the workflow map' }] : []),
    ...(request.readFiles ?? []),
  ];
}

/**
 * The run directory is a folder that can be written: not a file, not on a read-only disk. Said
 * about the run directory (and --run-dir), not about the output inside it.
 */
export async function assertUsableRunDir(runDir: string): Promise<void> {
  const existing = await stat(runDir).catch(() => undefined);
  if (existing && !existing.isDirectory())
    throw usageError(
      'E_RUN_DIR',
      `the run directory ${runDir} is a file, not a folder`,
      'give --run-dir a folder (new or an earlier run directory)',
    );
  const probe = tempPathFor(join(runDir, 'probe'));
  try {
    await mkdir(runDir, { recursive: true });
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (error) {
    throw unwritable(
      'E_RUN_DIR',
      `cannot write to the run directory ${runDir}`,
      await whyNotCreatable(runDir, error),
      'choose a writable folder with --run-dir',
      error,
    );
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}
