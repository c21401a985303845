/**
 * Beat tracking by dynamic programming (Ellis 2007, "Beat tracking by dynamic programming"):
 * the best chain of beats trades onset strength at each beat against deviation of each
 * inter-beat interval from the tempo period. A log-interval penalty lets the period drift, so
 * gradual tempo changes are followed.
 */
import { mean, parabolicOffset } from './signal-utils.js';

export interface BeatTrackOptions {
  /** Weight of the interval penalty α·log²(interval / period). */
  readonly tightness: number;
}

export const DEFAULT_BEAT_OPTIONS: BeatTrackOptions = { tightness: 100 };

/** Returns beat positions in envelope frames (fractional, refined by parabolic interpolation). */
export function trackBeats(envelope: Float32Array, periodFrames: number, options: BeatTrackOptions = DEFAULT_BEAT_OPTIONS): number[] {
  const n = envelope.length;
  if (n === 0 || !(periodFrames > 1)) return [];
  let sumSquares = 0;
  for (let i = 0; i < n; i++) sumSquares += envelope[i]! * envelope[i]!;
  const std = Math.sqrt(sumSquares / n);
  if (std <= 0) return [];

  const local = new Float64Array(n);
  for (let i = 0; i < n; i++) local[i] = envelope[i]! / std;

  const minBack = Math.max(1, Math.round(periodFrames / 2));
  const maxBack = Math.max(minBack + 1, Math.round(periodFrames * 2));
  const penalty = new Float64Array(maxBack + 1);
  for (let d = minBack; d <= maxBack; d++) {
    const l = Math.log(d / periodFrames);
    penalty[d] = -options.tightness * l * l;
  }

  const cumulative = new Float64Array(n);
  const backlink = new Int32Array(n).fill(-1);
  for (let t = 0; t < n; t++) {
    let best = -Infinity;
    let bestFrom = -1;
    const lo = Math.max(0, t - maxBack);
    for (let from = t - minBack; from >= lo; from--) {
      const score = cumulative[from]! + penalty[t - from]!;
      if (score > best) {
        best = score;
        bestFrom = from;
      }
    }
    if (bestFrom >= 0 && best > 0) {
      cumulative[t] = local[t]! + best;
      backlink[t] = bestFrom;
    } else {
      cumulative[t] = local[t]!;
    }
  }

  // End on the best-scoring frame among the last period's local maxima of the cumulative score.
  const tailStart = Math.max(0, n - Math.round(periodFrames));
  let end = tailStart;
  for (let t = tailStart; t < n; t++) if (cumulative[t]! > cumulative[end]!) end = t;

  const frames: number[] = [];
  for (let t = end; t >= 0; t = backlink[t]!) {
    frames.push(t);
    if (backlink[t]! < 0) break;
  }
  frames.reverse();
  return trimWeakEdges(frames, envelope).map((f) => f + parabolicOffset(envelope, f));
}

/**
 * Drops beats at the start and end whose onset strength is below half the RMS of all beats'
 * strengths: silence and fade-outs get no invented beats.
 */
function trimWeakEdges(frames: number[], envelope: Float32Array): number[] {
  if (frames.length === 0) return frames;
  const smoothed = frames.map((f) => {
    let peak = 0;
    for (let j = Math.max(0, f - 2); j <= Math.min(envelope.length - 1, f + 2); j++) peak = Math.max(peak, envelope[j]!);
    return peak;
  });
  const threshold = 0.5 * Math.sqrt(mean(smoothed.map((v) => v * v)));
  let first = 0;
  while (first < frames.length && smoothed[first]! < threshold) first++;
  let last = frames.length - 1;
  while (last >= first && smoothed[last]! < threshold) last--;
  return frames.slice(first, last + 1);
}
