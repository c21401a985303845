/**
 * Exact media time (DESIGN.md §3): every conversion between seconds, samples and frames, below every
 * stage. The beat and bar grid that musical lengths follow is keyframes/beat-grid.ts.
 *
 * Frame rates are exact rationals and durations are exact sample counts, so frame indices are
 * computed with integer arithmetic: frame 1 000 000 at 30000/1001 fps is exactly where it should
 * be, not where a million float additions drift to.
 */
import { z } from 'zod';
import { usageError } from './errors.js';

export interface Rational {
  readonly num: number;
  readonly den: number;
}

/** The length of a decoded stream, exactly. */
export interface SampleDuration {
  readonly sampleCount: number;
  readonly sampleRateHz: number;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function rational(num: number, den = 1): Rational {
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den) || den <= 0) {
    throw new RangeError(`not a rational: ${num}/${den}`);
  }
  const g = gcd(BigInt(num), BigInt(den));
  return { num: Number(BigInt(num) / g), den: Number(BigInt(den) / g) };
}

const FPS_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+)\s*)?$/;

/** Why a text is not a frame rate, or the rate it is. */
export type FpsReading =
  { readonly ok: true; readonly fps: Rational } | { readonly ok: false; readonly problem: string };

/**
 * Reads `8`, `24`, `24000/1001`, `29.97` (taken literally, as 2997/100) as a reduced rational
 * of 1–240 fps. Throws nothing: user input (parseFps) and artifacts (fpsSchema) say it their way.
 */
export function readFps(text: string): FpsReading {
  const invalid: FpsReading = { ok: false, problem: `invalid fps: '${text}'` };
  const match = FPS_PATTERN.exec(text);
  if (!match) return invalid;
  const [, whole = '', denText] = match;
  const [intPart = '', fracPart = ''] = whole.split('.');
  let num = BigInt(intPart + fracPart);
  let den = 10n ** BigInt(fracPart.length);
  if (denText !== undefined) {
    if (fracPart.length > 0) return invalid;
    den = BigInt(denText);
  }
  if (den === 0n || num === 0n) return invalid;
  const g = gcd(num, den);
  num /= g;
  den /= g;
  if (num > BigInt(Number.MAX_SAFE_INTEGER) || den > BigInt(Number.MAX_SAFE_INTEGER)) return invalid;
  const fps = { num: Number(num), den: Number(den) };
  const value = fps.num / fps.den;
  if (value < 1 || value > 240) return { ok: false, problem: `fps out of range: '${text}' (${value.toFixed(3)} fps)` };
  return { ok: true, fps };
}

/** A frame rate the user gave (a flag, a batch or config file): a usage error when it is not one. */
export function parseFps(text: string): Rational {
  const reading = readFps(text);
  if (reading.ok) return reading.fps;
  const hint = reading.problem.startsWith('fps out of range')
    ? 'use between 1 and 240 fps'
    : 'give a number like 8, 24 or 30, or a ratio like 24000/1001';
  throw usageError('E_FPS', reading.problem, hint);
}

/** A rate already read (in memory): positive integers, as `rational` and `readFps` make them. */
export function rationalSchema() {
  return z.object({ num: z.number().int().positive(), den: z.number().int().positive() }).readonly();
}

/**
 * fps in memory is a Rational; on disk (keyframes.json, plan.json, run.json) it is the text
 * `formatFps` writes. Parse artifacts with this schema and write them with `schema.encode`.
 */
export const fpsSchema = z.codec(z.string(), rationalSchema(), {
  decode: (text, ctx) => {
    const reading = readFps(text);
    if (reading.ok) return reading.fps;
    ctx.issues.push({ code: 'custom', message: reading.problem, input: text });
    return z.NEVER;
  },
  encode: (fps) => formatFps(fps),
});

export function formatFps(fps: Rational): string {
  return fps.den === 1 ? String(fps.num) : `${fps.num}/${fps.den}`;
}

export function fpsValue(fps: Rational): number {
  return fps.num / fps.den;
}

export function durationSec(duration: SampleDuration): number {
  return duration.sampleCount / duration.sampleRateHz;
}

/** The sync contract: the video has exactly ceil(D · fps) frames, D = samples / rate. */
export function frameCountFor(duration: SampleDuration, fps: Rational): number {
  const numerator = BigInt(duration.sampleCount) * BigInt(fps.num);
  const denominator = BigInt(duration.sampleRateHz) * BigInt(fps.den);
  return Number((numerator + denominator - 1n) / denominator);
}

/** Frame i starts at i / fps seconds. */
export function frameStartSec(frameIndex: number, fps: Rational): number {
  return (frameIndex * fps.den) / fps.num;
}

/**
 * The frame on screen at `sec`: the one whose interval [i/fps, (i+1)/fps) contains it.
 * A relative tolerance absorbs float noise in `sec` itself (a time computed as 0.3 that is
 * really 0.29999999999999993 still lands on its frame).
 */
export function frameAtSec(sec: number, fps: Rational): number {
  const exact = (sec * fps.num) / fps.den;
  return Math.floor(exact + 1e-9 * Math.max(1, Math.abs(exact)));
}

/** The frame whose start is nearest to `sec`. */
export function nearestFrame(sec: number, fps: Rational): number {
  return Math.round((sec * fps.num) / fps.den);
}

/** The sample index where frame i starts, rounded down (exact integer arithmetic). */
export function frameStartSample(frameIndex: number, fps: Rational, sampleRateHz: number): number {
  return Number((BigInt(frameIndex) * BigInt(fps.den) * BigInt(sampleRateHz)) / BigInt(fps.num));
}

export function samplesToSec(sampleIndex: number, sampleRateHz: number): number {
  return sampleIndex / sampleRateHz;
}

/**
 * A duration for ffmpeg's `-t`, in seconds with microsecond resolution (ffmpeg's AV_TIME_BASE),
 * rounded up so the last sample is never cut off.
 */
export function ffmpegDuration(duration: SampleDuration): string {
  const micros =
    (BigInt(duration.sampleCount) * 1_000_000n + BigInt(duration.sampleRateHz) - 1n) / BigInt(duration.sampleRateHz);
  const whole = micros / 1_000_000n;
  const frac = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${whole}.${frac}`;
}
