import { z } from 'zod';

export const KEYFRAMES_VERSION = 1;

export const keyframeSegmentSchema = z
  .object({
    index: z.number().int().nonnegative(),
    startFrame: z.number().int().nonnegative(),
    frameCount: z.number().int().positive(),
    leadFrame: z.number().int().nonnegative(),
    crossfadeFrames: z.number().int().nonnegative(),
    motionScale: z.number(),
    denoise: z.number().min(0).max(1),
    seed: z.number().int().nonnegative(),
    prompt: z.string(),
    section: z.string(),
  })
  .strict();

export const keyframesSchema = z
  .object({
    version: z.literal(KEYFRAMES_VERSION),
    fps: z.string(),
    frameCount: z.number().int().nonnegative(),
    durationSec: z.number().nonnegative(),
    sampleCount: z.number().int().nonnegative(),
    sampleRateHz: z.number().int().positive(),
    continuity: z.enum(['none', 'chain', 'anchor']),
    /** Each signal per video frame, 0..1. */
    signals: z.record(z.string(), z.array(z.number())),
    /** Each target per video frame, within its range. */
    curves: z.object({ motionScale: z.array(z.number()), denoise: z.array(z.number()) }).strict(),
    segments: z.array(keyframeSegmentSchema),
  })
  .strict();

export type Keyframes = z.infer<typeof keyframesSchema>;
export type KeyframeSegment = z.infer<typeof keyframeSegmentSchema>;
