/**
 * Exact media time (DESIGN.md §3): every conversion between seconds, samples and frames, below every
 * stage. The beat and bar grid that musical lengths follow is keyframes/beat-grid.ts.
 *
 * Frame rates are exact rationals and durations are exact sample counts, so frame indices are
 * computed with integer arithmetic: frame 1 000 000 at 30000/1001 fps is exactly where it should
 * be, not where a million float additions drift to.
 */
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

/**
 * Parses `8`, `24`, `24000/1001`, `29.97` (taken literally, as 2997/100) into a reduced rational.
 * Accepts 1–240 fps.
 */
export function parseFps(text: string): Rational {
  const match = FPS_PATTERN.exec(text);
  const fail = (): never => {
    throw usageError('E_FPS', `invalid fps: '${text}'`, 'give a number like 8, 24 or 30, or a ratio like 24000/1001');
  };
  if (!match) return fail();
  const [, whole = '', denText] = match;
  const [intPart = '', fracPart = ''] = whole.split('.');
  let num = BigInt(intPart + fracPart);
  let den = 10n ** BigInt(fracPart.length);
  if (denText !== undefined) {
    if (fracPart.length > 0) return fail();
    den = BigInt(denText);
  }
  if (den === 0n || num === 0n) return fail();
  const g = gcd(num, den);
  num /= g;
  den /= g;
  if (num > BigInt(Number.MAX_SAFE_INTEGER) || den > BigInt(Number.MAX_SAFE_INTEGER)) return fail();
  const fps = { num: Number(num), den: Number(den) };
  const value = fps.num / fps.den;
  if (value < 1 || value > 240) {
    throw usageError('E_FPS', `fps out of range: '${text}' (${value.toFixed(3)} fps)`, 'use between 1 and 240 fps');
  }
  return fps;
}

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
