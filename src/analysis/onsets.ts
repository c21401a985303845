/**
 * Onset envelopes and onset picking.
 *
 * - The onset envelope is full-band SuperFlux: the four accent regions summed as they are, so
 *   every band counts by how much its log spectrum rises (a note in any register is an onset).
 * - The beat envelope sums the regions after dividing each by its mean, so the few low bands
 *   (kick, bass) weigh as much as the many high ones: beats are carried by kick and snare far
 *   more than by hats (Klapuri et al. 2006 weigh their four accent bands the same way).
 * - Picking follows SuperFlux's peak picking (Böck & Widmer 2013): a peak that is the maximum
 *   within ±30 ms, stands `delta` above the mean of the surrounding 100 ms before / 70 ms after,
 *   and is at least 30 ms after the previous onset; in addition it must be three times the
 *   envelope's local median (its noise floor), which lets `delta` be small enough for soft
 *   16th-note hats while steady noise and reverb tails stay below.
 */
import type { FrameFeatures } from './feature-extractor.js';
import { parabolicOffset } from './signal-utils.js';

export function onsetEnvelope(features: FrameFeatures): Float32Array {
  const out = new Float32Array(features.frameCount);
  for (const accent of features.accents) for (let i = 0; i < out.length; i++) out[i]! += accent[i]!;
  return out;
}

export function beatEnvelope(features: FrameFeatures): Float32Array {
  const out = new Float32Array(features.frameCount);
  for (const accent of features.accents) {
    let sum = 0;
    for (let i = 0; i < accent.length; i++) sum += accent[i]!;
    const mean = sum / Math.max(1, accent.length);
    if (!(mean > 0)) continue;
    for (let i = 0; i < out.length; i++) out[i]! += accent[i]! / mean;
  }
  return out;
}

export interface Onset {
  /** Fractional envelope frame. */
  readonly frame: number;
  /** Height of the envelope peak above its local mean. */
  readonly strength: number;
}

export interface OnsetPickOptions {
  readonly preMaxSec: number;
  readonly postMaxSec: number;
  readonly preAvgSec: number;
  readonly postAvgSec: number;
  /** Minimum height above the local mean, in envelope units (sum of log-magnitude rises). */
  readonly delta: number;
  /**
   * Minimum ratio to the envelope's median over ±250 ms: the median is the floor that noise,
   * reverb and sustained sounds leave in the envelope, so an onset must stand clearly above it.
   */
  readonly noiseRatio: number;
  readonly combineSec: number;
}

export const DEFAULT_ONSET_PICK: OnsetPickOptions = { preMaxSec: 0.03, postMaxSec: 0.03, preAvgSec: 0.1, postAvgSec: 0.07, delta: 0.6, noiseRatio: 3, combineSec: 0.03 };

/** Median of a centred window (radius frames each side), computed on a stride and held. */
function localMedian(values: Float32Array, radius: number): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  const step = Math.max(1, radius >> 2);
  for (let c = 0; c < n; c += step) {
    const window = Float32Array.from(values.subarray(Math.max(0, c - radius), Math.min(n, c + radius + 1))).sort();
    const m = window[window.length >> 1] ?? 0;
    out.fill(m, c, Math.min(n, c + step));
  }
  return out;
}

export function pickOnsets(envelope: Float32Array, frameRate: number, options: OnsetPickOptions = DEFAULT_ONSET_PICK): Onset[] {
  const n = envelope.length;
  const preMax = Math.round(options.preMaxSec * frameRate);
  const postMax = Math.round(options.postMaxSec * frameRate);
  const preAvg = Math.round(options.preAvgSec * frameRate);
  const postAvg = Math.round(options.postAvgSec * frameRate);
  const combine = options.combineSec * frameRate;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + envelope[i]!;
  const noise = localMedian(envelope, Math.round(0.25 * frameRate));
  const onsets: Onset[] = [];
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = envelope[i]!;
    if (!(v > 0)) continue;
    const lo = Math.max(0, i - preAvg);
    const hi = Math.min(n, i + postAvg + 1);
    const mean = (prefix[hi]! - prefix[lo]!) / (hi - lo);
    if (v < mean + options.delta || v < options.noiseRatio * noise[i]!) continue;
    let isPeak = true;
    for (let j = Math.max(0, i - preMax); j <= Math.min(n - 1, i + postMax); j++) {
      if (envelope[j]! > v || (envelope[j] === v && j < i)) {
        isPeak = false;
        break;
      }
    }
    if (!isPeak || i - last < combine) continue;
    onsets.push({ frame: i + parabolicOffset(envelope, i), strength: v - mean });
    last = i;
  }
  return onsets;
}
