/**
 * The beat and bar grid: positions in beats and bars, and musical lengths (beats, bars) in seconds,
 * following the tempo map given by the beat times. Seconds↔frames↔samples is shared/media-time.ts.
 */
import type { MusicalDuration } from '../config/units.js';
import type { Rational } from '../shared/media-time.js';

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
  return fractionalIndex(beats, sec);
}

/** Where `x` falls among ascending `values` (values[0] < x < the last): index lo + the fraction of the way to lo + 1. */
function fractionalIndex(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= x) lo = mid;
    else hi = mid;
  }
  return lo + (x - values[lo]!) / (values[hi]! - values[lo]!);
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
 *
 * Bars follow the meter map: `barStarts` holds the beat index of every bar start the analysis
 * found (the first is `firstDownbeat`), so "1 bar" is as long as the bar it starts in, a 7/4 bar
 * seven beats and the 3/4 bar after it three. Before the first and from the last listed bar on,
 * bars are `beatsPerBar` beats (the song's meter). Without `barStarts` every bar is
 * `beatsPerBar` beats from `firstDownbeat`.
 */
export interface BeatGrid {
  readonly beats: readonly number[];
  readonly beatsPerBar: number;
  readonly firstDownbeat: number;
  readonly barStarts?: readonly number[];
}

/** A steady grid from 0 s (for songs without a beat): one beat every 60/bpm s past `durationSec`. */
export function steadyBeatGrid(bpm: number, durationSec: number, beatsPerBar: number): BeatGrid {
  const period = 60 / bpm;
  const count = Math.max(2, Math.ceil(durationSec / period) + 2);
  return { beats: Array.from({ length: count }, (_, i) => i * period), beatsPerBar, firstDownbeat: 0 };
}

/** The bar starts as beat positions: `barStarts` where given (ascending, at least one), else bar 1's. */
function barStartsOf(grid: BeatGrid): readonly number[] {
  return grid.barStarts && grid.barStarts.length > 0 ? grid.barStarts : [grid.firstDownbeat];
}

/**
 * The beat position of bar position `bar` (0 = the start of bar 1; fractions are positions inside
 * a bar, linear in its beats). Inverse of barAtBeatPosition.
 */
export function beatAtBarPosition(grid: BeatGrid, bar: number): number {
  const starts = barStartsOf(grid);
  const last = starts.length - 1;
  if (bar <= 0) return starts[0]! + bar * grid.beatsPerBar;
  if (bar >= last) return starts[last]! + (bar - last) * grid.beatsPerBar;
  const k = Math.floor(bar);
  return starts[k]! + (bar - k) * (starts[k + 1]! - starts[k]!);
}

/** Bars elapsed since bar 1 started at beat position `beat` (negative in a pickup). */
export function barAtBeatPosition(grid: BeatGrid, beat: number): number {
  const starts = barStartsOf(grid);
  const last = starts.length - 1;
  if (beat <= starts[0]!) return (beat - starts[0]!) / grid.beatsPerBar;
  if (beat >= starts[last]!) return last + (beat - starts[last]!) / grid.beatsPerBar;
  return fractionalIndex(starts, beat);
}

/** The beat position `bars` bars after (negative: before) beat position `beat`, following the meter map. */
function beatAfterBars(grid: BeatGrid, beat: number, bars: number): number {
  return beatAtBarPosition(grid, barAtBeatPosition(grid, beat) + bars);
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
      return (
        secAtBeatPosition(grid.beats, beatAfterBars(grid, beatPositionAt(grid.beats, atSec), duration.value)) - atSec
      );
  }
}

/** Where bar `bar` starts (1-based, as musicians count; fractions are positions inside a bar). */
export function barStartSec(grid: BeatGrid, bar: number): number {
  return secAtBeatPosition(grid.beats, beatAtBarPosition(grid, bar - 1));
}

/** Where beat `beat` starts (1-based: beat 1 is the song's first beat). */
export function beatStartSec(grid: BeatGrid, beat: number): number {
  return secAtBeatPosition(grid.beats, beat - 1);
}

/** Bars elapsed since bar 1 started (negative in a pickup). */
export function barPositionAt(grid: BeatGrid, sec: number): number {
  return barAtBeatPosition(grid, beatPositionAt(grid.beats, sec));
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
      return secAtBeatPosition(grid.beats, beatAfterBars(grid, beatPositionAt(grid.beats, atSec), -duration.value));
  }
}
