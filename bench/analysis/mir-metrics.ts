/**
 * The evaluation metrics of `../shared/bench/beats-public/score.py`, which calls mir_eval 0.7 with
 * its standard settings. Each function follows mir_eval's definition step by step (including its
 * corner cases), so the two agree to rounding:
 *
 * - `trimBeats`: beats at or after 5 s (`mir_eval.beat.trim_beats`, the MIREX convention).
 * - `matchEvents`: the largest one-to-one matching with |ref − est| ≤ window
 *   (`mir_eval.util.match_events`, which tests `ref ∈ [est − w, est + w]` in floating point).
 *   Both lists are sorted and every window has the same width, so taking, for each reference in
 *   time order, the earliest unused estimate in its window is a maximum matching.
 * - `fMeasure`: 2PR / (P + R) from that matching; 0 when either list is empty.
 * - `continuity`: CMLc, CMLt, AMLc, AMLt (Hainsworth / Klapuri; `mir_eval.beat.continuity`), with
 *   its 17.5 % phase and period tolerances, its "nearest annotation, used once" rule and its
 *   division by max(#ref, #est).
 * - `tempoAccuracy`: score.py's Acc1 / Acc2 (within 4 % of any accepted tempo range, after
 *   ×1 or ×{1, 2, ½, 3, ⅓}).
 * - `beatOffsetMs`: score.py's median signed error of the nearest estimate to each reference,
 *   among those within 70 ms.
 */

export const BEAT_WINDOW_SEC = 0.07;
export const ONSET_WINDOW_SEC = 0.05;
export const SKIP_SEC = 5;

/** Sorted, unique, finite, in [0, 30000): what score.py's `as_times` keeps of an estimate. */
export function asTimes(values: unknown): number[] {
  if (!Array.isArray(values)) return [];
  const out: number[] = [];
  for (const v of values) {
    const raw =
      typeof v === 'object' && v !== null
        ? ((v as Record<string, unknown>).time ?? (v as Record<string, unknown>).t)
        : v;
    const x = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (Number.isFinite(x) && x >= 0 && x < 30000) out.push(x);
  }
  out.sort((a, b) => a - b);
  return out.filter((x, i) => i === 0 || x !== out[i - 1]);
}

export function trimBeats(beats: readonly number[], minBeatSec = SKIP_SEC): number[] {
  return beats.filter((b) => b >= minBeatSec);
}

/** Size of the maximum matching between sorted `ref` and sorted `est` within `windowSec`. */
export function matchEvents(ref: readonly number[], est: readonly number[], windowSec: number): number {
  let matched = 0;
  let next = 0;
  for (const r of ref) {
    // Estimates whose window ends before r can match no later reference either.
    while (next < est.length && r > est[next]! + windowSec) next++;
    if (next < est.length && r >= est[next]! - windowSec) {
      matched++;
      next++;
    }
  }
  return matched;
}

export function fMeasure(ref: readonly number[], est: readonly number[], windowSec: number): number {
  if (ref.length === 0 || est.length === 0) return 0;
  const matched = matchEvents(ref, est, windowSec);
  const precision = matched / est.length;
  const recall = matched / ref.length;
  return precision === 0 && recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/** mir_eval's five readings of the annotation: as is, off-beat, double, half (odd), half (even). */
export function referenceVariations(ref: readonly number[]): number[][] {
  const doubled: number[] = [];
  for (let i = 0; i < ref.length; i++) {
    doubled.push(ref[i]!);
    if (i + 1 < ref.length) doubled.push((ref[i]! + ref[i + 1]!) / 2);
  }
  return [
    ref.slice(),
    doubled.filter((_, i) => i % 2 === 1),
    doubled,
    ref.filter((_, i) => i % 2 === 0),
    ref.filter((_, i) => i % 2 === 1),
  ];
}

function nearestIndex(values: readonly number[], x: number): number {
  // np.argmin of |x − values|: the first index of the smallest difference.
  let best = 0;
  let bestDiff = Infinity;
  for (let i = 0; i < values.length; i++) {
    const d = Math.abs(x - values[i]!);
    if (d < bestDiff) {
      bestDiff = d;
      best = i;
    }
  }
  return best;
}

function continuityOne(
  ref: readonly number[],
  est: readonly number[],
  threshold: number,
): { continuous: number; total: number } {
  const n = Math.max(ref.length, est.length);
  const used = new Uint8Array(n);
  const success = new Uint8Array(n);
  for (let m = 0; m < est.length; m++) {
    const nearest = nearestIndex(ref, est[m]!);
    const minDiff = Math.abs(est[m]! - ref[nearest]!);
    if (used[nearest]) continue;
    let phase: number;
    let period: number;
    if (m === 0 || nearest === 0) {
      const refInterval =
        nearest + 1 < ref.length ? ref[nearest + 1]! - ref[nearest]! : ref[nearest]! - ref[nearest - 1]!;
      const estInterval = m + 1 < est.length ? est[m + 1]! - est[m]! : est[m]! - est[m - 1]!;
      if (refInterval === 0) {
        phase = minDiff === 0 ? 1 : Infinity;
        period = estInterval === 0 ? 0 : Infinity;
      } else {
        phase = Math.abs(minDiff / refInterval);
        period = Math.abs(1 - estInterval / refInterval);
      }
    } else {
      const refInterval = ref[nearest]! - ref[nearest - 1]!;
      phase = Math.abs(minDiff / refInterval);
      period = Math.abs(1 - (est[m]! - est[m - 1]!) / refInterval);
    }
    if (phase < threshold && period < threshold) {
      used[nearest] = 1;
      success[m] = 1;
    }
  }
  let longest = 0;
  let run = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (success[i]) {
      run++;
      total++;
      longest = Math.max(longest, run);
    } else run = 0;
  }
  return { continuous: longest / n, total: total / n };
}

export interface Continuity {
  readonly cmlc: number;
  readonly cmlt: number;
  readonly amlc: number;
  readonly amlt: number;
}

export function continuity(ref: readonly number[], est: readonly number[], threshold = 0.175): Continuity {
  if (est.length <= 1 || ref.length <= 1) return { cmlc: 0, cmlt: 0, amlc: 0, amlt: 0 };
  const results = referenceVariations(ref).map((variation) => continuityOne(variation, est, threshold));
  return {
    cmlc: results[0]!.continuous,
    cmlt: results[0]!.total,
    amlc: Math.max(...results.map((r) => r.continuous)),
    amlt: Math.max(...results.map((r) => r.total)),
  };
}

/** 1 when `bpm` lies within 4 % of an accepted range after one of `factors`, else 0. */
export function tempoAccuracy(
  bpm: unknown,
  accept: ReadonlyArray<readonly [number, number]>,
  factors: readonly number[],
): number {
  const value = typeof bpm === 'number' ? bpm : typeof bpm === 'string' && bpm.trim() !== '' ? Number(bpm) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0) return 0;
  for (const [lo, hi] of accept) {
    for (const f of factors) if (lo * f * 0.96 <= value && value <= hi * f * 1.04) return 1;
  }
  return 0;
}

export const ACC1_FACTORS = [1] as const;
export const ACC2_FACTORS = [1, 2, 0.5, 3, 1 / 3] as const;

/** Median signed error (ms) of the estimate nearest each reference beat, among those within `windowSec`. */
export function beatOffsetMs(ref: readonly number[], est: readonly number[], windowSec = BEAT_WINDOW_SEC): number {
  if (ref.length === 0 || est.length === 0) return Number.NaN;
  const diffs: number[] = [];
  let j = 0;
  for (const r of ref) {
    // score.py: searchsorted(est, r) clipped to [1, len−1], then the nearer of est[j−1], est[j]
    // (ties to the earlier one).
    while (j < est.length && est[j]! < r) j++;
    const k = Math.min(Math.max(j, 1), Math.max(1, est.length - 1));
    let near: number;
    if (est.length === 1) near = est[0]!;
    else near = Math.abs(est[k - 1]! - r) <= Math.abs(est[k]! - r) ? est[k - 1]! : est[k]!;
    const d = near - r;
    if (Math.abs(d) <= windowSec) diffs.push(d);
  }
  if (diffs.length === 0) return Number.NaN;
  diffs.sort((a, b) => a - b);
  const mid = diffs.length >> 1;
  const median = diffs.length % 2 ? diffs[mid]! : (diffs[mid - 1]! + diffs[mid]!) / 2;
  return median * 1000;
}
