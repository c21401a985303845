/**
 * Measures a finished video against its song, from decoded data only: the frame count and the
 * video's and audio track's decoded durations against ceil(D · fps) and D, and where the video's
 * visual changes fall relative to the song's beats. For a render made with a flash-on-beat
 * mapping (mappings/flash-test.yaml) every beat frame must hold a flash, ±tolerance.
 */
import { z } from 'zod';
import { median, quantile } from '../shared/math.js';
import { decodeAudioChunks } from '../ffmpeg/decode-audio.js';
import { inspectVideo } from '../ffmpeg/inspect-video.js';
import {
  durationSec,
  formatFps,
  fpsValue,
  frameAtSec,
  frameCountFor,
  rational,
  type Rational,
  type SampleDuration,
} from '../shared/media-time.js';
import { BeatloomError, usageError } from '../shared/errors.js';
import type { TaskOptions } from '../shared/progress.js';
import { OUTPUT_AUDIO_SAMPLE_RATE_HZ } from './audio-track.js';

/** Size of the grey copy each frame is measured on: brightness and change need no detail. */
const SAMPLE_SIZE = 32;
/** Frame rates that are not whole numbers but common (NTSC family). */
const NTSC_RATES = [rational(24000, 1001), rational(30000, 1001), rational(60000, 1001), rational(120000, 1001)];

const eventStatsSchema = z
  .object({
    /** Frames where the event was detected. */
    frames: z.array(z.number().int().nonnegative()),
    /** For each event: its frame minus the nearest beat frame. */
    offsetsFrames: z.array(z.number().int()),
    medianOffsetFrames: z.number().nullable(),
    meanOffsetMs: z.number().nullable(),
    /** Events within ±tolerance frames of a beat frame. */
    onBeat: z.number().int().nonnegative(),
    /** Beat frames with an event within ±tolerance frames. */
    beatsHit: z.number().int().nonnegative(),
  })
  .strict();

export const syncReportSchema = z
  .object({
    video: z
      .object({ path: z.string(), frameCount: z.number().int(), fps: z.string(), durationSec: z.number() })
      .strict(),
    audio: z
      .object({ sampleRateHz: z.number().int(), sampleCount: z.number().int(), durationSec: z.number() })
      .strict()
      .nullable(),
    song: z.object({ durationSec: z.number(), beats: z.number().int(), downbeats: z.number().int() }).strict(),
    expectedFrameCount: z.number().int(),
    frameSec: z.number(),
    videoMinusSongSec: z.number(),
    audioMinusSongSec: z.number().nullable(),
    /** Beat frames inside the video (the song's beats at the video's rate). */
    beatFrames: z.array(z.number().int().nonnegative()),
    toleranceFrames: z.number().int().nonnegative(),
    /** Brightness rising sharply from one frame to the next. */
    flashes: eventStatsSchema,
    /** Peaks of the picture's frame-to-frame difference (cuts, transitions, jumps in motion). */
    changes: eventStatsSchema,
    checks: z
      .object({
        frameCount: z.boolean(),
        videoDuration: z.boolean(),
        audioDuration: z.boolean(),
        flashesOnBeats: z.boolean().nullable(),
      })
      .strict(),
    ok: z.boolean(),
  })
  .strict();

export type SyncReport = z.infer<typeof syncReportSchema>;
export type EventStats = z.infer<typeof eventStatsSchema>;

export interface SongTiming {
  readonly duration: SampleDuration;
  readonly beats: readonly number[];
  readonly downbeats: readonly number[];
}

export interface VerifyOptions extends TaskOptions {
  /** The video's frame rate when known; otherwise read from its decoded timestamps. */
  readonly fps?: Rational;
  readonly toleranceFrames?: number;
  /** Require a flash on every beat frame and no flash elsewhere (a flash-on-beat render). */
  readonly expectFlashes?: boolean;
}

/**
 * The frame rate from decoded timestamps: exact when every interval is the same number of ticks
 * (mp4 stores 24000/1001 as 1001 ticks of 1/24000 s), else the nearest common rate (WebM's
 * millisecond ticks alternate 41 and 42 ms at 24 fps).
 */
export function frameRateFromPts(pts: readonly number[], timeBaseHz: number): Rational | undefined {
  if (pts.length < 2) return undefined;
  const sorted = [...pts].sort((a, b) => a - b);
  const first = sorted[1]! - sorted[0]!;
  if (first > 0 && sorted.every((t, i) => i === 0 || t - sorted[i - 1]! === first)) return rational(timeBaseHz, first);
  const measured = ((sorted.length - 1) * timeBaseHz) / (sorted.at(-1)! - sorted[0]!);
  const candidates = [...NTSC_RATES, ...Array.from({ length: 240 }, (_, i) => rational(i + 1))];
  const nearest = candidates.reduce((a, b) =>
    Math.abs(fpsValue(b) - measured) < Math.abs(fpsValue(a) - measured) ? b : a,
  );
  return Math.abs(fpsValue(nearest) - measured) / measured < 0.002
    ? nearest
    : rational(Math.round(measured * 1000), 1000);
}

/** Local maxima above max(floor, 0.3 × the 98th percentile): the clear events of a curve. */
export function detectEvents(values: ArrayLike<number>, floor: number): number[] {
  const threshold = Math.max(floor, 0.3 * quantile(values, 0.98));
  const events: number[] = [];
  for (let f = 0; f < values.length; f++) {
    const v = values[f]!;
    if (v > threshold && v >= (values[f - 1] ?? -Infinity) && v > (values[f + 1] ?? -Infinity)) events.push(f);
  }
  return events;
}

/** `frame` minus the nearest of the sorted `targets`, or undefined when there are none. */
export function offsetToNearest(frame: number, targets: readonly number[]): number | undefined {
  if (targets.length === 0) return undefined;
  let lo = 0;
  let hi = targets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (targets[mid]! < frame) lo = mid + 1;
    else hi = mid;
  }
  const after = targets[lo]!;
  const before = targets[lo - 1];
  return before !== undefined && frame - before <= after - frame ? frame - before : frame - after;
}

/** Offsets of events from the nearest beat frame, and how many of each side match within ±tolerance. */
export function eventStats(
  events: readonly number[],
  beatFrames: readonly number[],
  toleranceFrames: number,
  fps: Rational,
): EventStats {
  const offsets = events.map((e) => offsetToNearest(e, beatFrames)).filter((o): o is number => o !== undefined);
  const frameMs = 1000 / fpsValue(fps);
  const near = (o: number | undefined): boolean => o !== undefined && Math.abs(o) <= toleranceFrames;
  return {
    frames: [...events],
    offsetsFrames: offsets,
    medianOffsetFrames: offsets.length ? median(offsets) : null,
    meanOffsetMs: offsets.length ? (offsets.reduce((s, o) => s + o, 0) / offsets.length) * frameMs : null,
    onBeat: offsets.filter(near).length,
    beatsHit: beatFrames.filter((b) => near(offsetToNearest(b, events))).length,
  };
}

async function decodedAudioTrack(path: string, signal: AbortSignal | undefined): Promise<SampleDuration | null> {
  let sampleCount = 0;
  try {
    for await (const chunk of decodeAudioChunks(path, { sampleRateHz: OUTPUT_AUDIO_SAMPLE_RATE_HZ, signal }))
      sampleCount += chunk.length;
  } catch (error) {
    if (error instanceof BeatloomError && error.code === 'E_AUDIO_NO_STREAM') return null;
    throw error;
  }
  return { sampleCount, sampleRateHz: OUTPUT_AUDIO_SAMPLE_RATE_HZ };
}

export async function verifySync(
  videoPath: string,
  song: SongTiming,
  options: VerifyOptions = {},
): Promise<SyncReport> {
  const { signal } = options;
  const toleranceFrames = options.toleranceFrames ?? 1;
  const luma: number[] = [];
  const change: number[] = [];
  let previous: Uint8Array | undefined;
  const video = await inspectVideo(videoPath, {
    sampleWidth: SAMPLE_SIZE,
    sampleHeight: SAMPLE_SIZE,
    signal,
    onFrame: (pixels) => {
      let sum = 0;
      let diff = 0;
      for (let i = 0; i < pixels.length; i++) {
        sum += pixels[i]!;
        if (previous) diff += Math.abs(pixels[i]! - previous[i]!);
      }
      luma.push(sum / pixels.length);
      change.push(previous ? diff / pixels.length : 0);
      previous = Uint8Array.from(pixels);
    },
  });
  options.onProgress?.({ stage: 'stitch', done: 1, total: 2, unit: 'steps', detail: 'video decoded' });
  const fps = options.fps ?? frameRateFromPts(video.pts, video.timeBaseHz);
  if (!fps)
    throw usageError(
      'E_VIDEO_FPS',
      `cannot tell the frame rate of ${videoPath} (${video.frameCount} frame)`,
      'give it with --fps',
    );
  const audio = await decodedAudioTrack(videoPath, signal);
  options.onProgress?.({ stage: 'stitch', done: 2, total: 2, unit: 'steps', detail: 'audio decoded' });

  const songSec = durationSec(song.duration);
  const frameSec = 1 / fpsValue(fps);
  const sortedPts = [...video.pts].sort((a, b) => a - b);
  const videoSec = video.frameCount === 0 ? 0 : (sortedPts.at(-1)! - sortedPts[0]!) / video.timeBaseHz + frameSec;
  const audioSec = audio ? durationSec(audio) : null;
  const expectedFrameCount = frameCountFor(song.duration, fps);
  const beatFrames = [...new Set(song.beats.map((t) => frameAtSec(t, fps)))]
    .filter((f) => f < video.frameCount)
    .sort((a, b) => a - b);
  const flashCurve = luma.map((y, f) => (f === 0 ? 0 : Math.max(0, y - luma[f - 1]!)));
  const flashes = eventStats(detectEvents(flashCurve, 2), beatFrames, toleranceFrames, fps);
  const changes = eventStats(detectEvents(change, 2), beatFrames, toleranceFrames, fps);
  const checks = {
    frameCount: video.frameCount === expectedFrameCount,
    videoDuration: Math.abs(videoSec - songSec) < frameSec,
    audioDuration: audioSec !== null && Math.abs(audioSec - songSec) < frameSec,
    flashesOnBeats: options.expectFlashes
      ? flashes.beatsHit === beatFrames.length && flashes.onBeat === flashes.frames.length && beatFrames.length > 0
      : null,
  };
  return {
    video: { path: videoPath, frameCount: video.frameCount, fps: formatFps(fps), durationSec: videoSec },
    audio: audio && audioSec !== null ? { ...audio, durationSec: audioSec } : null,
    song: { durationSec: songSec, beats: song.beats.length, downbeats: song.downbeats.length },
    expectedFrameCount,
    frameSec,
    videoMinusSongSec: videoSec - songSec,
    audioMinusSongSec: audioSec === null ? null : audioSec - songSec,
    beatFrames,
    toleranceFrames,
    flashes,
    changes,
    checks,
    ok: checks.frameCount && checks.videoDuration && checks.audioDuration && checks.flashesOnBeats !== false,
  };
}
