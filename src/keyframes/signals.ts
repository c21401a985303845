/**
 * Signals: analysis features shaped by the mapping on the analysis envelope grid (sample i at
 * i · hop / rate seconds), then sampled once per video frame.
 *
 * The order of the shaping steps (mappings/README.md documents it for creators):
 * source → smooth → normalise → onlyIn → threshold | gate → attack/hold/release → pulse | accumulate
 * → clamp to 0..1 → easing curve → output range → lead.
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import type { SignalDef } from '../config/mapping-schema.js';
import type { MusicalDuration } from '../config/units.js';
import { ease } from './easing.js';
import {
  accumulate,
  applyEnvelope,
  applyGate,
  applyThreshold,
  constantSamples,
  leadBy,
  normalizePercentile,
  smoothCentered,
  waveAt,
  type SamplesAt,
} from './shaping.js';
import { frameStartSec, type Rational } from '../shared/media-time.js';
import {
  barPositionAt,
  barStartSec,
  beatPositionAt,
  durationSecAt,
  steadyBeatGrid,
  type BeatGrid,
} from './beat-grid.js';

export interface Grid {
  readonly rateHz: number;
  readonly length: number;
}

export function gridOf(analysis: Analysis): Grid {
  const env = analysis.envelopes;
  return { rateHz: env.sampleRateHz / env.hopSamples, length: env.rms.length };
}

/** The tempo used for beats and bars when a song has no beat. */
export const FALLBACK_BPM = 120;

export interface SongBeatGrid {
  readonly grid: BeatGrid;
  /** True when the song has no usable beat and the grid is a steady FALLBACK_BPM (or its bpm). */
  readonly steady: boolean;
}

/**
 * The beat grid musical units follow: the analysis beats, bar 1 at the first downbeat, and every
 * bar start the analysis found (so bars follow meter changes).
 */
export function beatGridOf(analysis: Analysis): SongBeatGrid {
  const { beats, downbeats, beatsPerBar } = analysis;
  if (beats.length < 2) {
    return {
      grid: steadyBeatGrid(analysis.bpm ?? FALLBACK_BPM, analysis.source.durationSec, beatsPerBar),
      steady: true,
    };
  }
  const barStarts = downbeatIndices(beats, downbeats);
  return { grid: { beats, beatsPerBar, firstDownbeat: barStarts[0] ?? 0, barStarts }, steady: false };
}

/** The beat index of each downbeat: the beat nearest it (downbeats are a subset of the beats), ascending, once each. */
function downbeatIndices(beats: readonly number[], downbeats: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  for (const d of downbeats) {
    while (i + 1 < beats.length && Math.abs(beats[i + 1]! - d) <= Math.abs(beats[i]! - d)) i++;
    if (out.length === 0 || i > out[out.length - 1]!) out.push(i);
  }
  return out;
}

/** Everything shaping needs to know about time. */
export interface SignalContext {
  readonly analysis: Analysis;
  readonly grid: Grid;
  readonly beats: BeatGrid;
  readonly fps: Rational;
}

/** A length, in grid samples, measured forwards from each grid sample (constant unless in beats or bars). */
export function samplesAt(duration: MusicalDuration, context: SignalContext): SamplesAt {
  const { rateHz } = context.grid;
  if (duration.value === 0) return constantSamples(0);
  if (duration.unit === 'sec' || duration.unit === 'frames')
    return constantSamples(durationSecAt(duration, 0, context.fps, context.beats) * rateHz);
  return (i) => durationSecAt(duration, i / rateHz, context.fps, context.beats) * rateHz;
}

/** The grid sample an event at `sec` falls on (events, section starts and resets all round the same way). */
export function gridIndexAt(sec: number, grid: Grid): number {
  return Math.round(sec * grid.rateHz);
}

/** The section index at each grid sample: a section owns the samples from the one its start falls on. */
function sectionIndexAt(analysis: Analysis, grid: Grid): Int32Array {
  const out = new Int32Array(grid.length);
  const starts = analysis.sections.map((s) => gridIndexAt(s.startSec, grid));
  let s = 0;
  for (let i = 0; i < grid.length; i++) {
    while (s + 1 < starts.length && starts[s + 1]! <= i) s++;
    out[i] = s;
  }
  return out;
}

function eventPulses(times: readonly number[], heights: readonly number[] | undefined, grid: Grid): Float64Array {
  const out = new Float64Array(grid.length);
  times.forEach((t, k) => {
    const i = gridIndexAt(t, grid);
    if (i >= 0 && i < grid.length) out[i] = Math.max(out[i]!, heights?.[k] ?? 1);
  });
  return out;
}

/** The raw source on the grid: levels as analysed, events as pulses, phases as waves, sections as values. */
export function sourceValues(def: SignalDef, context: SignalContext): Float64Array {
  const { analysis, grid, beats } = context;
  const env = analysis.envelopes;
  switch (def.from) {
    case 'rms':
    case 'loudness':
    case 'low':
    case 'mid':
    case 'high':
      return Float64Array.from(env[def.from]);
    case 'brightness':
      return Float64Array.from(env.centroidHz);
    case 'onsetStrength':
      return Float64Array.from(env.onset);
    case 'onsets':
      return eventPulses(analysis.onsets, analysis.onsetStrengths, grid);
    case 'beat':
      return eventPulses(analysis.beats, undefined, grid);
    case 'downbeat':
      return eventPulses(analysis.downbeats, undefined, grid);
    case 'beatPhase':
      return Float64Array.from({ length: grid.length }, (_, i) =>
        waveAt(def.wave, beatPositionAt(beats.beats, i / grid.rateHz)),
      );
    case 'barPhase':
      return Float64Array.from({ length: grid.length }, (_, i) =>
        waveAt(def.wave, barPositionAt(beats, i / grid.rateHz)),
      );
    case 'sectionPhase': {
      const index = sectionIndexAt(analysis, grid);
      return Float64Array.from({ length: grid.length }, (_, i) => {
        const s = analysis.sections[index[i]!];
        if (!s || s.endSec <= s.startSec) return 0;
        return waveAt(
          def.wave,
          Math.min(0.999999, Math.max(0, (i / grid.rateHz - s.startSec) / (s.endSec - s.startSec))),
        );
      });
    }
    case 'section': {
      const index = sectionIndexAt(analysis, grid);
      const values = def.values ?? {};
      return Float64Array.from({ length: grid.length }, (_, i) => {
        const label = analysis.sections[index[i]!]?.label;
        return (label !== undefined ? values[label] : undefined) ?? values.other ?? 0;
      });
    }
  }
}

/** Grid indices where a new section or bar starts (for accumulate's reset). */
function resetIndices(def: SignalDef, context: SignalContext): number[] {
  const { analysis, grid, beats } = context;
  switch (def.reset) {
    case 'never':
      return [];
    case 'section':
      return analysis.sections.map((s) => gridIndexAt(s.startSec, grid));
    case 'bar': {
      const out: number[] = [];
      const endSec = grid.length / grid.rateHz;
      for (let bar = Math.floor(barPositionAt(beats, 0)) + 2; barStartSec(beats, bar) < endSec; bar++)
        out.push(gridIndexAt(barStartSec(beats, bar), grid));
      return out;
    }
  }
}

/**
 * A signal on the grid, eased, in 0..1 (before its output range: frames sample the peak of this,
 * so a pulse stays a pulse even when the range turns it into a dip).
 */
export function shapeSignal(def: SignalDef, context: SignalContext): Float64Array {
  const { analysis, grid } = context;
  let values = sourceValues(def, context);
  // Smoothing before normalising: a smoothed level still spans 0..1 over the song.
  if (def.smooth.value > 0) values = smoothCentered(values, samplesAt(def.smooth, context));
  if (def.normalize === 'percentile') values = normalizePercentile(values, def.percentiles[0], def.percentiles[1]);
  if (def.onlyIn) {
    const allowed = new Set<string>(def.onlyIn);
    const index = sectionIndexAt(analysis, grid);
    values = values.map((v, i) => (allowed.has(analysis.sections[index[i]!]?.label ?? '') ? v : 0));
  }
  values = def.gate !== undefined ? applyGate(values, def.gate) : applyThreshold(values, def.threshold);
  if (def.attack.value > 0 || def.hold.value > 0 || def.release.value > 0) {
    const attack = samplesAt(def.attack, context);
    const hold = samplesAt(def.hold, context);
    const release = samplesAt(def.release, context);
    values = applyEnvelope(values, (i) => ({ attack: attack(i), hold: hold(i), release: release(i) }));
  }
  if (def.mode === 'accumulate') values = accumulate(values, resetIndices(def, context));
  values = values.map((v) => ease(def.curve, v));
  return def.lead.value > 0 ? leadBy(values, samplesAt(def.lead, context)) : values;
}

/** Maps 0..1 to the signal's output range. */
export function toRange(values: Float64Array, range: readonly [number, number]): Float64Array {
  const [from, to] = range;
  return values.map((v) => from + (to - from) * v);
}

/** A signal per video frame, in its output range. */
export function signalAtFrames(def: SignalDef, context: SignalContext, frameCount: number): Float64Array {
  const unit = sampleAtFrames(shapeSignal(def, context), context.grid, context.fps, frameCount, frameSamplingOf(def));
  return toRange(unit, def.range);
}

/** How a signal becomes one value per video frame. */
export type FrameSampling = 'peak' | 'start';

/**
 * Phases are read at each frame's start (a ramp that wraps inside a frame must show its start);
 * everything else takes its peak while the frame is on screen, so a beat pulse shows on the
 * frame that contains the beat even at 8 fps.
 */
export function frameSamplingOf(def: SignalDef): FrameSampling {
  return def.kind === 'phase' ? 'start' : 'peak';
}

/** One value per video frame (see frameSamplingOf). Past the grid's end the last value holds. */
export function sampleAtFrames(
  values: Float64Array,
  grid: Grid,
  fps: Rational,
  frameCount: number,
  how: FrameSampling = 'peak',
): Float64Array {
  const out = new Float64Array(frameCount);
  const last = values.length > 0 ? values[values.length - 1]! : 0;
  for (let f = 0; f < frameCount; f++) {
    const from = Math.round(frameStartSec(f, fps) * grid.rateHz);
    if (how === 'start') {
      out[f] = from < values.length ? values[Math.max(0, from)]! : last;
      continue;
    }
    const to = Math.max(from + 1, Math.round(frameStartSec(f + 1, fps) * grid.rateHz));
    let peak = -Infinity;
    for (let i = Math.max(0, from); i < Math.min(values.length, to); i++) peak = Math.max(peak, values[i]!);
    out[f] = peak === -Infinity ? last : peak;
  }
  return out;
}
