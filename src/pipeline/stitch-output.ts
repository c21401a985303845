/**
 * The last stage: stitch the segments into the video, unless the video on disk is already
 * exactly what this plan would make (re-running a finished batch must not re-encode hours of
 * video). The output's hash goes into run.json.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { frameFileName } from '../engines/engine.js';
import { ffmpegPath } from '../ffmpeg/ffmpeg-path.js';
import { formatFps, frameCountFor, type Rational } from '../shared/media-time.js';
import { hashFile, hashValue } from '../shared/hash.js';
import type { TaskOptions } from '../shared/progress.js';
import { overlayDataFor } from '../stitching/debug-overlay.js';
import { transitionsFor } from '../stitching/frame-sources.js';
import { outputFps, type OutputSettings } from '../stitching/output-settings.js';
import { FRAMES_MANIFEST, stitchVideo } from '../stitching/stitch-video.js';
import type { PreparedRender } from './prepare-render.js';
import { removeDeadTempsBeside, type RunDir } from '../run/run-dir.js';
import type { OutputRecord } from '../run/run-record.js';

export interface StitchRequest {
  readonly prepared: PreparedRender;
  readonly fps: Rational;
  readonly outPath: string;
  readonly output: OutputSettings;
  /** The song's track, being encoded while segments render (video outputs). */
  readonly audioTrack: Promise<string> | undefined;
  readonly ffmpegVersion: string;
}

/** Everything the stitched bytes depend on besides the segments' pixels (which their hashes stand for). */
export function stitchKeyOf(request: StitchRequest): string {
  const { plan, audio, duration } = request.prepared;
  return hashValue({
    segments: plan.jobs.map((job) => [job.hash, job.startFrame, job.frameCount, job.leadFrame, job.crossfadeFrames]),
    frameCount: plan.frameCount,
    size: [plan.width, plan.height],
    fps: formatFps(request.fps),
    audio: audio.sha256,
    duration,
    output: request.output,
    transitions: request.prepared.transitions,
    ffmpeg: [ffmpegPath(), request.ffmpegVersion],
  });
}

/** The previous run's video is current when its key matches and the file is the one it wrote. */
async function isCurrent(
  previous: OutputRecord | null | undefined,
  outPath: string,
  stitchKey: string,
): Promise<boolean> {
  if (!previous || previous.path !== outPath || previous.stitchKey !== stitchKey) return false;
  const now = await stat(outPath)
    .then((info) => (info.isDirectory() ? stat(join(outPath, FRAMES_MANIFEST)) : info))
    .catch(() => undefined);
  return now !== undefined && now.size === previous.sizeBytes && now.mtimeMs === previous.mtimeMs;
}

export interface StitchOutcome {
  readonly output: OutputRecord;
  /** Frames in the output and their rate (the render's, unless interpolated). */
  readonly frameCount: number;
  readonly fps: Rational;
  /** False when the video on disk was already current. */
  readonly stitched: boolean;
  readonly stitchMs: number;
}

export async function stitchOutput(
  request: StitchRequest,
  run: RunDir,
  previous: OutputRecord | null | undefined,
  options: TaskOptions & { force?: boolean },
): Promise<StitchOutcome> {
  const started = performance.now();
  const { plan, audio, duration } = request.prepared;
  const stitchKey = stitchKeyOf(request);
  const fps = outputFps(request.output, request.fps);
  if (!options.force && (await isCurrent(previous, request.outPath, stitchKey))) {
    options.onProgress?.({
      stage: 'stitch',
      done: plan.frameCount,
      total: plan.frameCount,
      unit: 'frames',
      detail: 'video up to date',
    });
    return {
      output: previous!,
      frameCount: frameCountFor(duration, fps),
      fps,
      stitched: false,
      stitchMs: performance.now() - started,
    };
  }
  // The run directory's own temps are cleared under its lock; an output elsewhere may have some too.
  await removeDeadTempsBeside(request.outPath);
  const { beats, keyframes, transitions } = request.prepared;
  const result = await stitchVideo(
    {
      segments: plan.jobs,
      frameCount: plan.frameCount,
      width: plan.width,
      height: plan.height,
      fps: request.fps,
      segmentDir: run.segmentDir,
      frameFile: frameFileName,
      transitions: transitionsFor(transitions, beats, request.fps),
      overlay: request.output.debugOverlay ? overlayDataFor(keyframes, beats, request.fps) : undefined,
    },
    {
      audioPath: audio.path,
      audioTrackPath: await request.audioTrack,
      duration,
      outPath: request.outPath,
      settings: request.output,
    },
    options,
  );
  // A frames-only output is a folder: its frames.json stands for it.
  const written = request.output.target === 'frames' ? join(request.outPath, FRAMES_MANIFEST) : request.outPath;
  const [sha256, info] = await Promise.all([hashFile(written), stat(written)]);
  return {
    frameCount: result.frameCount,
    fps: result.fps,
    output: { path: request.outPath, sha256, sizeBytes: info.size, mtimeMs: info.mtimeMs, stitchKey },
    stitched: true,
    stitchMs: performance.now() - started,
  };
}
