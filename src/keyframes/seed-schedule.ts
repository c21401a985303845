/**
 * Seeds per segment. A seed is fixed for a whole sampler call, and a segment shows what is in
 * effect at its lead frame (where it takes over), so each seed event (a section start, every N
 * bars, a strong onset) takes effect at the first transition at or after the frame it falls in —
 * the same rule that decides a segment's section and prompt. With `align: downbeats` transitions
 * sit on bar starts, so section and bar events land exactly.
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import { sectionLabelSchema } from '../analysis/analysis-schema.js';
import type { SeedSettings } from '../config/mapping-schema.js';
import { frameAtSec, type Rational } from '../shared/media-time.js';
import { beatAtBarPosition, secAtBeatPosition, type BeatGrid } from './beat-grid.js';

export interface SeedContext {
  readonly analysis: Analysis;
  readonly beats: BeatGrid;
  readonly fps: Rational;
  readonly durationSec: number;
}

/** When the mapping asks for a new seed, in seconds (after 0, before the end), ascending. */
export function seedEventTimes(settings: SeedSettings, context: SeedContext): number[] {
  const { analysis, beats, durationSec } = context;
  const times: number[] = [];
  if (settings.sections) times.push(...analysis.sections.slice(1).map((s) => s.startSec));
  const every = settings.every;
  if (every && every.value > 0) {
    const at = (m: number): number => {
      switch (every.unit) {
        case 'sec':
          return m * every.value;
        case 'frames':
          return (m * every.value * context.fps.den) / context.fps.num;
        case 'beats':
          return secAtBeatPosition(beats.beats, m * every.value);
        case 'bars':
          return secAtBeatPosition(beats.beats, beatAtBarPosition(beats, m * every.value));
      }
    };
    // Bar 1 + N, 1 + 2N, …: the imagery of bar 1 (or of a pickup before it) holds for the first N bars.
    for (let m = 1; at(m) < durationSec; m++) times.push(at(m));
  }
  if (settings.onsets !== undefined) {
    const threshold = settings.onsets;
    analysis.onsets.forEach((t, i) => {
      if ((analysis.onsetStrengths[i] ?? 0) >= threshold) times.push(t);
    });
  }
  return times.filter((t) => t > 0 && t < durationSec).sort((a, b) => a - b);
}

/** The transitions (segment indices ≥ 1) at or after each event frame (events after the last transition are dropped). */
export function transitionsAtOrAfter(eventFrames: readonly number[], leadFrames: readonly number[]): Set<number> {
  const out = new Set<number>();
  for (const e of eventFrames) {
    let lo = 1;
    let hi = leadFrames.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (leadFrames[mid]! < e) lo = mid + 1;
      else hi = mid;
    }
    if (lo < leadFrames.length) out.add(lo);
  }
  return out;
}

const RECALL_STRIDE = 1000;

/**
 * One seed per segment from the base seed: +1 at every transition with an event. With `recall`,
 * a section's seeds depend only on its label and how many events came since it started, so a
 * returning drop brings back the first drop's imagery. Seeds wrap at 2³².
 */
export function seedsForSegments(
  settings: SeedSettings,
  baseSeed: number,
  leadFrames: readonly number[],
  sectionIndexOfSegment: readonly number[],
  sectionLabels: readonly string[],
  eventTimes: readonly number[],
  fps: Rational,
): number[] {
  const changes = transitionsAtOrAfter(
    eventTimes.map((t) => frameAtSec(t, fps)),
    leadFrames,
  );
  const seeds: number[] = [];
  let count = 0;
  let sinceSection = 0;
  leadFrames.forEach((_, k) => {
    const newSection = k > 0 && sectionIndexOfSegment[k] !== sectionIndexOfSegment[k - 1];
    if (k > 0 && changes.has(k)) count++;
    if (newSection) sinceSection = 0;
    else if (k > 0 && changes.has(k)) sinceSection++;
    const label = sectionLabels[sectionIndexOfSegment[k]!] ?? '';
    const ordinal = Math.max(0, (sectionLabelSchema.options as readonly string[]).indexOf(label));
    const offset = settings.recall ? RECALL_STRIDE * (ordinal + 1) + sinceSection : count;
    seeds.push((baseSeed + offset) >>> 0);
  });
  return seeds;
}
