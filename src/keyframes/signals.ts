/**
 * Signals: analysis features shaped by the mapping, on the analysis envelope grid
 * (frame i at i · hop / rate seconds), then sampled per video frame.
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import type { SignalDef } from '../config/mapping-schema.js';
import { durationToSec, type TimeContext } from '../config/units.js';
import { quantile } from '../analysis/signal-utils.js';
import { frameStartSec, type Rational } from './time.js';

export interface Grid {
  readonly rateHz: number;
  readonly length: number;
}

export function gridOf(analysis: Analysis): Grid {
  const env = analysis.envelopes;
  return { rateHz: env.sampleRateHz / env.hopSamples, length: env.rms.length };
}

/** Seconds per beat: from the median beat interval, or 120 BPM when the song has no beat. */
export function secPerBeatOf(analysis: Analysis): number {
  return analysis.bpm ? 60 / analysis.bpm : 0.5;
}

function rawSource(def: SignalDef, analysis: Analysis, grid: Grid): Float32Array {
  switch (def.from) {
    case 'beat':
    case 'downbeat': {
      const out = new Float32Array(grid.length);
      for (const t of def.from === 'beat' ? analysis.beats : analysis.downbeats) {
        const i = Math.round(t * grid.rateHz);
        if (i >= 0 && i < grid.length) out[i] = 1;
      }
      return out;
    }
    case 'rms':
    case 'loudness':
    case 'low':
    case 'mid':
    case 'high':
    case 'onset':
      return Float32Array.from(analysis.envelopes[def.from]);
  }
}

/** Maps the 5th..95th percentile to 0..1, clamped. A flat signal becomes 0. */
export function normalizePercentile(values: Float32Array): Float32Array {
  const lo = quantile(values, 0.05);
  const hi = quantile(values, 0.95);
  const span = hi - lo;
  return values.map((v) => (span > 0 ? Math.min(1, Math.max(0, (v - lo) / span)) : 0));
}

/** One-pole attack/release follower: rises with time constant `attackSec`, falls with `releaseSec`. */
export function attackRelease(values: Float32Array, rateHz: number, attackSec: number, releaseSec: number): Float32Array {
  const coef = (sec: number): number => (sec > 0 ? 1 - Math.exp(-1 / (sec * rateHz)) : 1);
  const a = coef(attackSec);
  const r = coef(releaseSec);
  const out = new Float32Array(values.length);
  let y = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    y += (x - y) * (x > y ? a : r);
    out[i] = y;
  }
  return out;
}

/** Moves a signal earlier by `leadSec` (the end is held at its last value). */
export function leadBy(values: Float32Array, rateHz: number, leadSec: number): Float32Array {
  const shift = Math.round(leadSec * rateHz);
  if (shift <= 0) return values;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[Math.min(values.length - 1, i + shift)]!;
  return out;
}

export function shapeSignal(def: SignalDef, analysis: Analysis, context: TimeContext): Float32Array {
  const grid = gridOf(analysis);
  let values = rawSource(def, analysis, grid);
  const isPulse = def.from === 'beat' || def.from === 'downbeat';
  if (def.normalize === 'percentile' && !isPulse) values = normalizePercentile(values);
  if (def.threshold > 0) {
    const th = def.threshold;
    values = values.map((v) => (v <= th ? 0 : (v - th) / (1 - th)));
  }
  values = attackRelease(values, grid.rateHz, durationToSec(def.attack, context), durationToSec(def.release, context));
  return leadBy(values, grid.rateHz, durationToSec(def.lead, context));
}

/**
 * One value per video frame: the largest value of the signal while the frame is on screen, so a
 * beat pulse shows on the frame that contains the beat even at 8 fps.
 */
export function sampleAtFrames(values: Float32Array, grid: Grid, fps: Rational, frameCount: number): Float32Array {
  const out = new Float32Array(frameCount);
  for (let f = 0; f < frameCount; f++) {
    const from = Math.round(frameStartSec(f, fps) * grid.rateHz);
    const to = Math.max(from + 1, Math.round(frameStartSec(f + 1, fps) * grid.rateHz));
    let peak = 0;
    let any = false;
    for (let i = Math.max(0, from); i < Math.min(values.length, to); i++) {
      if (!any || values[i]! > peak) peak = values[i]!;
      any = true;
    }
    out[f] = any ? peak : values.length > 0 ? values[values.length - 1]! : 0;
  }
  return out;
}
