/**
 * The steps that shape a signal, each a pure function on a regularly sampled curve (the analysis
 * envelope grid). Lengths are given per sample so that lengths in beats and bars follow the tempo
 * map: at a sample where the beat is slower, "half a beat" is longer.
 */
import { quantile } from '../shared/math.js';

/** A length in grid samples at each sample index (may be fractional). */
export type SamplesAt = (index: number) => number;

export const constantSamples =
  (samples: number): SamplesAt =>
  () =>
    samples;

/** Maps the song's `lo`..`hi` percentiles to 0..1, clamped. A flat signal becomes 0. */
export function normalizePercentile(values: Float64Array, loPercentile = 5, hiPercentile = 95): Float64Array {
  const lo = quantile(values, loPercentile / 100);
  const hi = quantile(values, hiPercentile / 100);
  const span = hi - lo;
  return values.map((v) => (span > 0 ? Math.min(1, Math.max(0, (v - lo) / span)) : 0));
}

/**
 * Centred moving average whose window spans `windowAt(i)` samples around sample i (rounded to an
 * odd count; the edges average what exists). Centred, so smoothing adds no delay.
 */
export function smoothCentered(values: Float64Array, windowAt: SamplesAt): Float64Array {
  const n = values.length;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + values[i]!;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const radius = Math.max(0, Math.round((windowAt(i) - 1) / 2));
    const lo = Math.max(0, i - radius);
    const hi = Math.min(n, i + radius + 1);
    out[i] = (prefix[hi]! - prefix[lo]!) / (hi - lo);
  }
  return out;
}

/** A soft gate: values at or below `threshold` become 0, those above are rescaled to 0..1. */
export function applyThreshold(values: Float64Array, threshold: number): Float64Array {
  if (threshold <= 0) return values;
  return values.map((v) => (v <= threshold ? 0 : (v - threshold) / (1 - threshold)));
}

/** A hard gate: 1 where the value is at least `gate`, else 0. */
export function applyGate(values: Float64Array, gate: number): Float64Array {
  return values.map((v) => (v >= gate ? 1 : 0));
}

export interface EnvelopeTimes {
  /** Samples from the trigger to the peak. */
  readonly attack: number;
  /** Samples the peak is held. */
  readonly hold: number;
  /** Samples from the peak back to 0. */
  readonly release: number;
}

/**
 * Attack / hold / release with linear ramps. When the input rises above what the envelope shows,
 * the envelope heads for the input's value: it ramps from its current level to that peak in
 * `attack` samples (a higher input during the attack raises the peak and restarts the ramp from
 * the current level), holds the peak for `hold` samples, then falls from it to 0 in `release`
 * samples. It never falls below the input: an input that stays up holds the envelope up, without
 * a new attack. The lengths are read at each trigger, so they follow the local tempo.
 *
 * With all three 0 the output equals the input.
 */
export function applyEnvelope(values: Float64Array, timesAt: (index: number) => EnvelopeTimes): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  let active = false;
  let from = 0;
  let peak = 0;
  let start = 0;
  let times: EnvelopeTimes = { attack: 0, hold: 0, release: 0 };
  const levelAt = (i: number): number => {
    if (!active) return 0;
    const elapsed = i - start;
    if (elapsed < times.attack) return from + (peak - from) * (elapsed / times.attack);
    const afterHold = elapsed - times.attack - times.hold;
    if (afterHold <= 0) return peak;
    return times.release > 0 ? Math.max(0, peak * (1 - afterHold / times.release)) : 0;
  };
  let shown = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    const y = levelAt(i);
    if (x > y) {
      const attacking = active && i - start < times.attack;
      if (attacking) {
        if (x > peak) {
          from = y;
          peak = x;
          start = i;
        }
      } else if (x > shown) {
        // A new rise: ramp up from where the envelope is.
        times = timesAt(i);
        from = y;
        peak = x;
        start = i;
        active = true;
      } else {
        // The input stayed above the falling envelope: it holds it up, no new attack.
        times = timesAt(i);
        from = x;
        peak = x;
        start = i - times.attack;
        active = true;
      }
    }
    shown = levelAt(i);
    out[i] = shown;
  }
  return out;
}

/**
 * Integrates the signal over time: the running sum, divided by the window's total so that it
 * rises from 0 to exactly 1 across each window. Windows start at 0 and at each index in
 * `resetIndices` (ascending). A window with nothing in it stays at 0.
 */
export function accumulate(values: Float64Array, resetIndices: readonly number[] = []): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  const starts = [0, ...resetIndices.filter((i) => i > 0 && i < n), n];
  for (let w = 0; w + 1 < starts.length; w++) {
    const lo = starts[w]!;
    const hi = starts[w + 1]!;
    if (hi <= lo) continue;
    let total = 0;
    for (let i = lo; i < hi; i++) total += values[i]!;
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      sum += values[i]!;
      out[i] = total > 0 ? sum / total : 0;
    }
  }
  return out;
}

/**
 * Moves the signal earlier by `shiftAt(i)` samples (rounded, so a one-sample pulse stays one
 * sample): out[i] = in[i + shift]. Past the end the last value holds.
 */
export function leadBy(values: Float64Array, shiftAt: SamplesAt): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = values[Math.min(n - 1, i + Math.max(0, Math.round(shiftAt(i))))]!;
  return out;
}

/** A periodic wave from a phase in 0..1: saw rises, sine and triangle rise and fall, square is on in the first half. */
export function waveAt(wave: 'saw' | 'sine' | 'triangle' | 'square', phase: number): number {
  const p = phase - Math.floor(phase);
  switch (wave) {
    case 'saw':
      return p;
    case 'sine':
      return 0.5 - 0.5 * Math.cos(2 * Math.PI * p);
    case 'triangle':
      return 1 - Math.abs(1 - 2 * p);
    case 'square':
      return p < 0.5 ? 1 : 0;
  }
}
