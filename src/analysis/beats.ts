/**
 * Beat tracking by dynamic programming (Ellis 2007, "Beat tracking by dynamic programming"),
 * with the target period taken from the tempo path at every frame instead of one global tempo:
 * the best chain of beats trades the beat envelope at each beat against the deviation of each
 * inter-beat interval from the local period, so ramps and tempo changes are followed while the
 * phase is set by the accents themselves.
 */
import { parabolicOffset } from '../shared/math.js';

export interface BeatTrackOptions {
  /** Weight of the interval penalty λ·ln²(interval / period), in units of the envelope's RMS. */
  readonly tightness: number;
  /** Intervals considered, as fractions of the local period. */
  readonly minRatio: number;
  readonly maxRatio: number;
}

export const DEFAULT_BEAT_OPTIONS: BeatTrackOptions = { tightness: 300, minRatio: 0.7, maxRatio: 1.4 };

/**
 * Beat positions in envelope frames (fractional, refined by parabolic interpolation).
 * `periodFrames[t]` is the expected beat period at frame t (0 where there is no beat).
 */
export function trackBeats(
  envelope: Float32Array,
  periodFrames: Float64Array,
  options: BeatTrackOptions = DEFAULT_BEAT_OPTIONS,
): number[] {
  const n = envelope.length;
  if (n === 0) return [];
  let sumSquares = 0;
  for (let i = 0; i < n; i++) sumSquares += envelope[i]! * envelope[i]!;
  const rms = Math.sqrt(sumSquares / n);
  if (!(rms > 0)) return [];

  const cumulative = new Float64Array(n);
  const backlink = new Int32Array(n).fill(-1);
  // ln(interval / period) = ln(interval) − ln(period): a table of ln(interval) keeps logs out of the inner loop.
  let longest = 2;
  for (let t = 0; t < n; t++) longest = Math.max(longest, Math.ceil(periodFrames[t]! * options.maxRatio) + 1);
  const logInterval = Float64Array.from({ length: longest + 1 }, (_, d) => Math.log(Math.max(1, d)));
  for (let t = 0; t < n; t++) {
    const local = envelope[t]! / rms;
    const period = periodFrames[t]!;
    let best = -Infinity;
    let bestFrom = -1;
    if (period > 1) {
      const logPeriod = Math.log(period);
      const lo = Math.max(0, t - Math.ceil(period * options.maxRatio));
      for (let from = t - Math.max(1, Math.floor(period * options.minRatio)); from >= lo; from--) {
        const l = logInterval[t - from]! - logPeriod;
        const score = cumulative[from]! - options.tightness * l * l;
        if (score > best) {
          best = score;
          bestFrom = from;
        }
      }
    }
    if (bestFrom >= 0 && best > 0) {
      cumulative[t] = local + best;
      backlink[t] = bestFrom;
    } else {
      cumulative[t] = local;
    }
  }

  // End on the best-scoring frame within the last period.
  const lastPeriod = periodFrames[n - 1]! > 1 ? periodFrames[n - 1]! : 1;
  const tailStart = Math.max(0, n - Math.round(lastPeriod));
  let end = tailStart;
  for (let t = tailStart; t < n; t++) if (cumulative[t]! > cumulative[end]!) end = t;

  const frames: number[] = [];
  for (let t = end; t >= 0; t = backlink[t]!) {
    frames.push(t);
    if (backlink[t]! < 0) break;
  }
  frames.reverse();
  return frames.map((f) => f + parabolicOffset(envelope, f));
}
