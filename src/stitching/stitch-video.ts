/**
 * Segments' frames → the output: a video with the song, or a PNG sequence. Frames stream from the
 * segment folders through the blend (timeline-frames.ts) into ffmpeg; the song goes in cut to the
 * sample (audio-track.ts). The output is written under a temp name and renamed when complete.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { CrossfadeCurve } from '../config/mapping-schema.js';
import { encodeFramesArgs, encodeVideoArgs, INTERPOLATION_TAIL_FRAMES, type VideoPostOptions } from '../ffmpeg/args.js';
import { ffmpegPath } from '../ffmpeg/ffmpeg-path.js';
import { spawnProcess, type SpawnedProcess } from '../ffmpeg/run-process.js';
import { durationSec, formatFps, frameCountFor, type Rational, type SampleDuration } from '../shared/media-time.js';
import { BeatloomError, throwIfAborted } from '../shared/errors.js';
import { tempPathFor, writeJsonAtomic } from '../shared/fs-atomic.js';
import { encodePng } from '../raster/png.js';
import type { TaskOptions } from '../shared/progress.js';
import { planAudioTrack } from './audio-track.js';
import { drawDebugOverlay, type DebugOverlayData } from './debug-overlay.js';
import { applyCuts } from './frame-sources.js';
import { outputFps, type OutputSettings } from './output-settings.js';
import { timelineFrames, type SegmentFrames, type TimelineOptions } from './timeline-frames.js';

export interface StitchInput extends SegmentFrames {
  readonly fps: Rational;
  /** Crossfade curve and the frames where a transition becomes a hard cut (default: linear, none). */
  readonly transitions?: { readonly curve: CrossfadeCurve; readonly cutFrames: ReadonlySet<number> };
  /** Data for the debug overlay; drawn only when the settings ask for it. */
  readonly overlay?: DebugOverlayData;
}

export interface StitchOutput {
  /** The song. */
  readonly audioPath: string;
  /** The song's track already encoded by prepareAudioTrack: copied instead of encoded again. */
  readonly audioTrackPath?: string;
  readonly duration: SampleDuration;
  /** The video file, or for `frames` the folder that will hold frame-000000.png… */
  readonly outPath: string;
  readonly settings: OutputSettings;
}

export interface StitchResult {
  readonly outPath: string;
  /** Frames in the output: ceil(D · fps) at the output's rate. */
  readonly frameCount: number;
  readonly fps: Rational;
}

/** Name of frame i in a frames-only output. */
export function outputFrameName(frameIndex: number): string {
  return `frame-${String(frameIndex).padStart(6, '0')}.png`;
}
const FRAME_PATTERN = 'frame-%06d.png';
/** What a frames-only output folder says about its frames, next to them. */
export const FRAMES_MANIFEST = 'frames.json';

/** Whether a file belongs to a frames-only output (such a folder may be replaced by a new render). */
export function isFramesOutputEntry(name: string): boolean {
  return /^frame-\d{6}\.png$/.test(name) || name === FRAMES_MANIFEST;
}

function postOptions(settings: OutputSettings, fps: Rational, duration: SampleDuration): VideoPostOptions {
  return {
    interpolate: settings.interpolate
      ? { fps, mode: settings.interpolate.mode, frameCount: frameCountFor(duration, fps) }
      : null,
    upscale: settings.upscale,
  };
}

/**
 * Writes a frame; the promise resolves once the pipe can take more. If ffmpeg exits or stops
 * reading first, it rejects with ffmpeg's own error (its exit code and last stderr lines), not
 * the EPIPE the write saw. The caller prepares the next frame before awaiting it. Listeners are
 * removed as soon as one fires: racing each frame against the process's long-lived `done`
 * promise would add a reaction to it per frame, and memory would grow with the song.
 */
function writeFrame(stdin: Writable, data: Uint8Array, proc: SpawnedProcess): Promise<void> {
  if (stdin.write(data)) return Promise.resolve();
  const drained = new Promise<void>((resolve, reject) => {
    const stopped = (): void => {
      cleanup();
      proc.done.then(
        () =>
          reject(
            new BeatloomError('E_ENCODER_EXIT', 'ffmpeg stopped reading frames before the last one', {
              hint: 'please report this with the command you ran',
            }),
          ),
        reject,
      );
    };
    const drain = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      stdin.off('drain', drain);
      stdin.off('error', stopped);
      proc.child.off('close', stopped);
    };
    stdin.on('drain', drain);
    stdin.on('error', stopped);
    proc.child.on('close', stopped);
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) stopped();
  });
  drained.catch(() => undefined);
  return drained;
}

export async function stitchVideo(
  input: StitchInput,
  output: StitchOutput,
  options: TaskOptions & Pick<TimelineOptions, 'lookahead' | 'poolSize'> = {},
): Promise<StitchResult> {
  const { signal, onProgress } = options;
  const { settings, duration } = output;
  throwIfAborted(signal);
  const fps = outputFps(settings, input.fps);
  const post = postOptions(settings, fps, duration);
  const frames = settings.target === 'frames';
  const tempPath = tempPathFor(output.outPath);
  if (frames) await mkdir(tempPath, { recursive: true });
  const args = frames
    ? encodeFramesArgs({ fps: input.fps, post, pattern: join(tempPath, FRAME_PATTERN) })
    : encodeVideoArgs({
        fps: input.fps,
        codec: settings.codec,
        crf: settings.crf,
        preset: settings.preset,
        pixelFormat: settings.pixelFormat,
        post,
        audio: output.audioTrackPath
          ? { kind: 'track', path: output.audioTrackPath }
          : {
              kind: 'song',
              path: output.audioPath,
              bitrateKbps: settings.audioBitrateKbps,
              ...planAudioTrack(duration, settings.codec),
            },
        outPath: tempPath,
      });
  let proc: SpawnedProcess;
  try {
    proc = spawnProcess(ffmpegPath(), args, { signal });
  } catch (error) {
    await rm(tempPath, { recursive: true, force: true });
    throw error;
  }
  proc.child.stdout.resume();
  const stdin = proc.child.stdin;
  const segments = applyCuts(input.segments, input.transitions?.cutFrames ?? new Set());
  const overlay = settings.debugOverlay ? input.overlay : undefined;
  try {
    const stream = timelineFrames(
      { ...input, segments, curve: input.transitions?.curve ?? 'linear' },
      { signal, lookahead: options.lookahead, poolSize: options.poolSize, decodeAll: overlay !== undefined },
    );
    let writable: Promise<void> = Promise.resolve();
    for await (const frame of stream) {
      let png: Uint8Array;
      if (frame.kind === 'png') png = frame.png;
      else {
        if (overlay)
          drawDebugOverlay(frame.data, input.width, input.height, frame.index, input.fps, frame.sources, overlay);
        // Stored, unfiltered: the cheapest PNG to make and to decode; it only crosses the pipe.
        png = encodePng({ width: input.width, height: input.height, data: frame.data }, { level: 0, filter: 'none' });
        frame.release();
      }
      // The interpolator needs frames past the last one to reach the end (see videoFilter).
      const copies = post.interpolate && frame.index === input.frameCount - 1 ? 1 + INTERPOLATION_TAIL_FRAMES : 1;
      for (let c = 0; c < copies; c++) {
        await writable;
        writable = writeFrame(stdin, png, proc);
      }
      onProgress?.({ stage: 'stitch', done: frame.index + 1, total: input.frameCount, unit: 'frames' });
    }
    await writable;
    stdin.end();
    await proc.done;
    const frameCount = post.interpolate?.frameCount ?? input.frameCount;
    if (frames) await finishFramesFolder(tempPath, output, fps, frameCount, input.width, input.height);
    else await rename(tempPath, output.outPath);
    return { outPath: output.outPath, frameCount, fps };
  } catch (error) {
    proc.child.kill('SIGKILL');
    await proc.done.catch(() => undefined);
    await rm(tempPath, { recursive: true, force: true });
    throw error;
  }
}

async function finishFramesFolder(
  tempPath: string,
  output: StitchOutput,
  fps: Rational,
  frameCount: number,
  width: number,
  height: number,
): Promise<void> {
  const written = (await readdir(tempPath)).filter((n) => n.endsWith('.png')).length;
  if (written !== frameCount) {
    throw new BeatloomError('E_FRAMES_COUNT', `ffmpeg wrote ${written} frames, expected ${frameCount}`, {
      hint: 'please report this with the command you ran',
    });
  }
  const scale = output.settings.upscale ?? { width, height };
  await writeJsonAtomic(join(tempPath, FRAMES_MANIFEST), {
    version: 1,
    fps: formatFps(fps),
    frameCount,
    durationSec: durationSec(output.duration),
    width: scale.width,
    height: scale.height,
    firstFrame: outputFrameName(0),
    audio: output.audioPath,
  });
  // An earlier frames output is replaced as a whole; a folder holding anything else is never removed.
  const existing = await readdir(output.outPath).catch(() => undefined);
  if (existing?.some((name) => !isFramesOutputEntry(name))) {
    throw new BeatloomError('E_OUTPUT_NOT_EMPTY', `output folder ${output.outPath} holds other files`, {
      kind: 'usage',
      hint: 'give an empty or new folder',
    });
  }
  if (existing) await rm(output.outPath, { recursive: true, force: true });
  await rename(tempPath, output.outPath);
}
