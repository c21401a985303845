/** The segment scripts/native/compare-segment.ts renders on the native engine and in ComfyUI, and its error figures. */
import type { SegmentJob } from '../../src/engines/engine.js';
import { rational } from '../../src/shared/media-time.js';

export const SEGMENT_PROMPT = 'a photo of a cat dancing, (neon lights:1.2), rain';
export const SEGMENT_NEGATIVE = 'blurry';
export const SEGMENT_MOTION = [1, 1, 1.1, 1.2, 1.3, 1.2, 1.1, 1, 0.9, 0.8, 0.9, 1, 1, 1, 1, 1];

export function segmentJob(width: number, frameCount: number, cfg: number, motion: readonly number[]): SegmentJob {
  return {
    index: 0,
    hash: 'compare',
    startFrame: 0,
    frameCount,
    leadFrame: 0,
    crossfadeFrames: 0,
    fps: rational(8),
    width,
    height: width,
    prompt: SEGMENT_PROMPT,
    negativePrompt: SEGMENT_NEGATIVE,
    promptBlend: [{ prompt: SEGMENT_PROMPT, negativePrompt: SEGMENT_NEGATIVE, weight: 1 }],
    loras: [],
    seed: 7,
    noiseFrame: 0,
    heldFrames: 0,
    denoise: 1,
    cfg,
    steps: 4,
    motion: { kind: 'perFrame', scales: [...motion] },
    continuity: 'none',
    section: 'compare',
  };
}

export function errors(
  native: Float32Array,
  reference: Float32Array,
): { maxAbs: number; maxRel: number; maxRef: number } {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < native.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(native[i]! - reference[i]!));
    maxRef = Math.max(maxRef, Math.abs(reference[i]!));
  }
  // Relative to the tensor's scale (an element-wise ratio explodes where the reference crosses 0).
  return { maxAbs, maxRel: maxAbs / maxRef, maxRef };
}
