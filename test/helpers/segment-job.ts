import type { SegmentJob } from '../../src/engines/engine.js';
import { rational } from '../../src/shared/media-time.js';

/** A 16-frame 64×64 segment like those of the recorded AnimateDiff-Evolved runs (fixtures 80, 81). */
export function segmentJob(changes: Partial<SegmentJob> = {}): SegmentJob {
  return {
    index: 0,
    hash: 'h',
    startFrame: 0,
    frameCount: 16,
    leadFrame: 0,
    crossfadeFrames: 2,
    fps: rational(8),
    width: 64,
    height: 64,
    prompt: 'neon city at night',
    negativePrompt: 'blurry',
    promptBlend: [{ prompt: 'neon city at night', negativePrompt: 'blurry', weight: 1 }],
    loras: [],
    seed: 42,
    noiseFrame: 0,
    heldFrames: 0,
    denoise: 0.6,
    cfg: 1,
    steps: 4,
    motion: { kind: 'perFrame', scales: Array<number>(16).fill(1.1) },
    continuity: 'none',
    section: 'intro',
    ...changes,
  };
}
