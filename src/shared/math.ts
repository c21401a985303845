/** Small numeric helpers shared by the analysis stages. */

export function mean(values: ArrayLike<number>, start = 0, end = values.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += values[i]!;
  return sum / (end - start);
}

/** The q-quantile (0..1) of the values, by sorting a copy. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const pos = Math.min(sorted.length - 1, Math.max(0, q * (sorted.length - 1)));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Moving average over a centred window of `radius` on each side (edges use what exists). */
export function movingAverage(values: ArrayLike<number>, radius: number): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + values[i]!;
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - radius);
    const hi = Math.min(n, i + radius + 1);
    out[i] = (prefix[hi]! - prefix[lo]!) / (hi - lo);
  }
  return out;
}

/** Offset of a peak's vertex from index i, by a parabola through i-1, i, i+1 (in -0.5..0.5). */
export function parabolicOffset(values: ArrayLike<number>, i: number): number {
  if (i <= 0 || i >= values.length - 1) return 0;
  const a = values[i - 1]!;
  const b = values[i]!;
  const c = values[i + 1]!;
  const denom = a - 2 * b + c;
  if (denom >= 0) return 0;
  return Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denom));
}

export function toDb(amplitude: number, floorDb = -100): number {
  return amplitude > 0 ? Math.max(floorDb, 20 * Math.log10(amplitude)) : floorDb;
}

const POWERS_OF_TEN = Array.from({ length: 10 }, (_, d) => 10 ** d);

/** Rounds for JSON output (0 … 9 digits): keeps files small and diffs readable. */
export function round(value: number, digits: number): number {
  const f = POWERS_OF_TEN[digits] ?? 10 ** digits;
  return Math.round(value * f) / f;
}

/** Every value rounded to `digits`, as a plain array for JSON. */
export function roundAll(values: ArrayLike<number>, digits: number): number[] {
  const f = POWERS_OF_TEN[digits] ?? 10 ** digits;
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(values[i]! * f) / f;
  return out;
}

/** The largest value within `radius` frames of `frame` (rounded); 0 where there is none. */
export function peakNear(values: ArrayLike<number>, frame: number, radius: number): number {
  let peak = 0;
  const c = Math.round(frame);
  for (let j = Math.max(0, c - radius); j <= Math.min(values.length - 1, c + radius); j++)
    if (values[j]! > peak) peak = values[j]!;
  return peak;
}
