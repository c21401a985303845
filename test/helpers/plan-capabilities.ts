import type { PlanSettings } from '../../src/pipeline/render-plan.js';

/**
 * What a plan needs to know of an engine, as an engine that can do everything has it (per-frame
 * motion, init images, continuation, takes, the motion effect), with `changes` on top.
 */
export function planCapabilities(changes: Partial<PlanSettings['capabilities']> = {}): PlanSettings['capabilities'] {
  return {
    perFrameMotionScale: true,
    maxFrames: 64,
    initImage: true,
    continuation: true,
    takeFrames: 1024,
    motionEffect: true,
    ...changes,
  };
}
