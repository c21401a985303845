/**
 * Every conversion between seconds, samples, frames and beats lives here (DESIGN.md §3).
 *
 * Frame rates are exact rationals and durations are exact sample counts, so frame indices are
 * computed with integer arithmetic: frame 1 000 000 at 30000/1001 fps is exactly where it should
 * be, not where a million float additions drift to.
 */
import type { MusicalDuration } from '../config/units.js';
import { usageError } from '../shared/errors.js';

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

/**
 * Position in beats at `sec`, following the tempo map given by the beat times: beat k is at
 * beats[k]; between beats, linear; before the first and after the last, extrapolated with the
 * nearest inter-beat interval. Returns NaN when fewer than two beats are known.
 */
export function beatPositionAt(beats: readonly number[], sec: number): number {
  const n = beats.length;
  if (n < 2) return Number.NaN;
  const first = beats[0]!;
  const last = beats[n - 1]!;
  if (sec <= first) return (sec - first) / (beats[1]! - first);
  if (sec >= last) return n - 1 + (sec - last) / (last - beats[n - 2]!);
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (beats[mid]! <= sec) lo = mid;
    else hi = mid;
  }
  return lo + (sec - beats[lo]!) / (beats[hi]! - beats[lo]!);
}

/** Inverse of beatPositionAt. */
export function secAtBeatPosition(beats: readonly number[], position: number): number {
  const n = beats.length;
  if (n < 2) return Number.NaN;
  if (position <= 0) return beats[0]! + position * (beats[1]! - beats[0]!);
  if (position >= n - 1) return beats[n - 1]! + (position - (n - 1)) * (beats[n - 1]! - beats[n - 2]!);
  const k = Math.floor(position);
  return beats[k]! + (position - k) * (beats[k + 1]! - beats[k]!);
}

/**
 * The beats that musical units follow: "1 beat" at a time is the length of the beat it starts
 * in, so lengths in beats and bars stretch and shrink with the tempo map. `beats` holds at least
 * two ascending times; bar 1 starts at beat index `firstDownbeat` (earlier beats are a pickup).
 */
export interface BeatGrid {
  readonly beats: readonly number[];
  readonly beatsPerBar: number;
  readonly firstDownbeat: number;
}

/** A steady grid from 0 s (for songs without a beat): one beat every 60/bpm s past `durationSec`. */
export function steadyBeatGrid(bpm: number, durationSec: number, beatsPerBar: number): BeatGrid {
  const period = 60 / bpm;
  const count = Math.max(2, Math.ceil(durationSec / period) + 2);
  return { beats: Array.from({ length: count }, (_, i) => i * period), beatsPerBar, firstDownbeat: 0 };
}

/** Seconds from `atSec` until `beatCount` beats later, following the tempo map. */
export function beatsToSec(grid: BeatGrid, atSec: number, beatCount: number): number {
  return secAtBeatPosition(grid.beats, beatPositionAt(grid.beats, atSec) + beatCount) - atSec;
}

/** A length in seconds, frames, beats or bars, measured forwards from `atSec`, in seconds. */
export function durationSecAt(duration: MusicalDuration, atSec: number, fps: Rational, grid: BeatGrid): number {
  switch (duration.unit) {
    case 'sec':
      return duration.value;
    case 'frames':
      return (duration.value * fps.den) / fps.num;
    case 'beats':
      return beatsToSec(grid, atSec, duration.value);
    case 'bars':
      return beatsToSec(grid, atSec, duration.value * grid.beatsPerBar);
  }
}

/** Where bar `bar` starts (1-based, as musicians count; fractions are positions inside a bar). */
export function barStartSec(grid: BeatGrid, bar: number): number {
  return secAtBeatPosition(grid.beats, grid.firstDownbeat + (bar - 1) * grid.beatsPerBar);
}

/** Where beat `beat` starts (1-based: beat 1 is the song's first beat). */
export function beatStartSec(grid: BeatGrid, beat: number): number {
  return secAtBeatPosition(grid.beats, beat - 1);
}

/** Bars elapsed since bar 1 started (negative in a pickup). */
export function barPositionAt(grid: BeatGrid, sec: number): number {
  return (beatPositionAt(grid.beats, sec) - grid.firstDownbeat) / grid.beatsPerBar;
}

/** The time `duration` before `atSec` (lengths in beats and bars count the beats before it). */
export function secBefore(duration: MusicalDuration, atSec: number, fps: Rational, grid: BeatGrid): number {
  switch (duration.unit) {
    case 'sec':
      return atSec - duration.value;
    case 'frames':
      return atSec - (duration.value * fps.den) / fps.num;
    case 'beats':
      return secAtBeatPosition(grid.beats, beatPositionAt(grid.beats, atSec) - duration.value);
    case 'bars':
      return secAtBeatPosition(grid.beats, beatPositionAt(grid.beats, atSec) - duration.value * grid.beatsPerBar);
  }
}
