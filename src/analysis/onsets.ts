/**
 * The onset-strength envelope and onset picking.
 */
import type { FrameFeatures } from './features.js';
import { movingAverage, parabolicOffset, quantile } from './signal-utils.js';

/**
 * Onset strength: spectral flux minus its local mean (about ±0.1 s), half-wave rectified, and
 * scaled so the loud part of the song peaks near 1 (robust to gain: the 99th percentile is 1).
 */
export function onsetStrength(features: FrameFeatures): Float32Array {
  const frameRate = features.sampleRateHz / features.hopSamples;
  const local = movingAverage(features.flux, Math.round(0.1 * frameRate));
  const out = new Float32Array(features.frameCount);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, features.flux[i]! - local[i]!);
  const scale = quantile(out, 0.99);
  if (scale > 0) for (let i = 0; i < out.length; i++) out[i]! /= scale;
  return out;
}

export interface Onset {
  readonly timeSec: number;
  /** 0..1, relative to the song's strongest onsets. */
  readonly strength: number;
}

export interface OnsetPickOptions {
  /** Frames either side a peak must dominate. */
  readonly peakRadiusSec: number;
  /** Minimum height above the local mean, in envelope units. */
  readonly delta: number;
  /** Onsets closer than this are merged (the stronger is kept). */
  readonly minGapSec: number;
}

const DEFAULT_PICK: OnsetPickOptions = { peakRadiusSec: 0.03, delta: 0.06, minGapSec: 0.03 };

/**
 * Peaks of the envelope that dominate their neighbourhood and stand above the local mean.
 * The envelope is scaled so 1 is a strong onset; an envelope from silence or steady noise has
 * no such peaks, so none are reported.
 */
export function pickOnsets(
  envelope: Float32Array,
  frameRate: number,
  noiseFloor: number,
  options: OnsetPickOptions = DEFAULT_PICK,
): Onset[] {
  const radius = Math.max(1, Math.round(options.peakRadiusSec * frameRate));
  const meanRadius = Math.round(0.1 * frameRate);
  const local = movingAverage(envelope, meanRadius);
  const onsets: Onset[] = [];
  let lastFrame = -Infinity;
  for (let i = 1; i < envelope.length - 1; i++) {
    const v = envelope[i]!;
    if (v < noiseFloor || v < local[i]! + options.delta) continue;
    let isPeak = true;
    for (let j = Math.max(0, i - radius); j <= Math.min(envelope.length - 1, i + radius); j++) {
      if (envelope[j]! > v || (envelope[j] === v && j < i)) {
        isPeak = false;
        break;
      }
    }
    if (!isPeak) continue;
    const frame = i + parabolicOffset(envelope, i);
    if ((frame - lastFrame) / frameRate < options.minGapSec) {
      const previous = onsets[onsets.length - 1]!;
      if (v <= previous.strength) continue;
      onsets.pop();
    }
    onsets.push({ timeSec: frame / frameRate, strength: Math.min(1, v) });
    lastFrame = frame;
  }
  return onsets;
}
