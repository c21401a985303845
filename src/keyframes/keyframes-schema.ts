/** keyframes.json: every signal and parameter per video frame, and the segments (DESIGN.md §2). */
import { z } from 'zod';
import { continuitySchema } from '../shared/continuity.js';
import { fpsSchema } from '../shared/media-time.js';

export const KEYFRAMES_VERSION = 2;

export const promptWeightSchema = z
  .object({
    prompt: z.string(),
    negativePrompt: z.string(),
    weight: z.number().min(0).max(1),
  })
  .strict();

export const loraStrengthSchema = z.object({ name: z.string().min(1), strength: z.number() }).strict();

export const keyframeSegmentSchema = z
  .object({
    index: z.number().int().nonnegative(),
    startFrame: z.number().int().nonnegative(),
    frameCount: z.number().int().positive(),
    /** The frame where this segment takes over from the previous one (its transition). */
    leadFrame: z.number().int().nonnegative(),
    crossfadeFrames: z.number().int().nonnegative(),
    /** The section label at the lead frame. */
    section: z.string(),
    /** Reduced from the per-frame curve (for engines without per-frame motion scale). */
    motionScale: z.number().nonnegative(),
    denoise: z.number().min(0).max(1),
    cfg: z.number().positive(),
    seed: z.number().int().nonnegative(),
    /** The strongest prompt at the lead frame, and its negative prompt. */
    prompt: z.string(),
    negativePrompt: z.string(),
    /** Every prompt with weight at the lead frame, strongest first; weights sum to 1. */
    promptBlend: z.array(promptWeightSchema).min(1),
    loras: z.array(loraStrengthSchema),
    /** Motion LoRA strengths (only when the mapping drives motion LoRAs). */
    motionLoras: z.array(loraStrengthSchema).optional(),
  })
  .strict();

export const keyframesSchema = z
  .object({
    version: z.literal(KEYFRAMES_VERSION),
    fps: fpsSchema,
    frameCount: z.number().int().nonnegative(),
    durationSec: z.number().nonnegative(),
    sampleCount: z.number().int().nonnegative(),
    sampleRateHz: z.number().int().positive(),
    continuity: continuitySchema,
    /** take continuity: the longest stretch sampled at once. */
    takeFrames: z.number().int().positive(),
    bpm: z.number().positive().nullable(),
    beatsPerBar: z.number().int().positive(),
    /** Things the plan could not do as the mapping asks (no beat to align to, a section the song lacks…). */
    warnings: z.array(z.string()),
    /** Each signal per video frame, in its output range. */
    signals: z.record(z.string(), z.array(z.number())),
    /** Each target per video frame, within its range. */
    curves: z
      .object({
        motionScale: z.array(z.number()),
        denoise: z.array(z.number()),
        cfg: z.array(z.number()),
        loras: z.record(z.string(), z.array(z.number())),
        /** The motion module's effect per frame, when the mapping drives it. */
        motionEffect: z.array(z.number()).optional(),
        motionLoras: z.record(z.string(), z.array(z.number())).optional(),
      })
      .strict(),
    /** Each distinct prompt with its weight per video frame (the weights of a frame sum to 1). */
    prompts: z.array(
      z.object({ prompt: z.string(), negativePrompt: z.string(), weights: z.array(z.number().min(0).max(1)) }).strict(),
    ),
    /** When each prompt takes over: fully in from `frame`, blending in after `blendFromFrame` (equal for a cut). */
    promptChanges: z.array(
      z
        .object({
          frame: z.number().int().nonnegative(),
          blendFromFrame: z.number().int().nonnegative(),
          prompt: z.number().int().nonnegative(),
        })
        .strict(),
    ),
    segments: z.array(keyframeSegmentSchema),
  })
  .strict();

export type Keyframes = z.infer<typeof keyframesSchema>;
export type KeyframeSegment = z.infer<typeof keyframeSegmentSchema>;
export type PromptWeight = z.infer<typeof promptWeightSchema>;
export type LoraStrength = z.infer<typeof loraStrengthSchema>;
