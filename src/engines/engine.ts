/**
 * The engine interface (DESIGN.md §4). The pipeline talks to every backend through this and
 * never knows which one it has.
 */
import { z } from 'zod';
import { fpsSchema } from '../shared/media-time.js';
import { loraStrengthSchema, promptWeightSchema } from '../keyframes/keyframes-schema.js';

export const continuitySchema = z.enum(['none', 'chain', 'anchor']);

/** One sampler call: 16 frames (or fewer for a short song) with fixed denoise, cfg and seed. */
export const segmentJobSchema = z
  .object({
    index: z.number().int().nonnegative(),
    /** Content hash of everything that decides the frames (see pipeline/render-plan.ts). */
    hash: z.string(),
    startFrame: z.number().int().nonnegative(),
    frameCount: z.number().int().positive(),
    leadFrame: z.number().int().nonnegative(),
    crossfadeFrames: z.number().int().nonnegative(),
    fps: fpsSchema,
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    prompt: z.string(),
    negativePrompt: z.string(),
    /** Every prompt blended into this segment, strongest first, weights summing to 1 (`prompt` is the first). */
    promptBlend: z.array(promptWeightSchema).min(1),
    /** LoRA strengths for this segment (engines without LoRA support ignore them). */
    loras: z.array(loraStrengthSchema),
    seed: z.number().int().nonnegative(),
    denoise: z.number().min(0).max(1),
    cfg: z.number().positive(),
    steps: z.number().int().positive(),
    motionScale: z.number(),
    /** Motion scale for each frame of the segment (engines without per-frame support use motionScale). */
    motionScalePerFrame: z.array(z.number()),
    continuity: continuitySchema,
    section: z.string(),
  })
  .strict();

export type SegmentJob = z.infer<typeof segmentJobSchema>;

export interface EngineCapabilities {
  /** Can start a segment from an image (chain / anchor continuity). */
  readonly initImage: boolean;
  readonly perFrameMotionScale: boolean;
  readonly maxFrames: number;
  /** Segments it can render at once (servers × 1 for ComfyUI, cores for preview). */
  readonly concurrency: number;
}

/** The sampler values an engine fixes per render (cfg comes per segment from the mapping). */
export interface SamplerSettings {
  readonly steps: number;
}

/** What one render asks of an engine beyond its settings; known from the mapping before analysis. */
export interface RenderNeeds {
  /** The LoRAs the mapping drives (`targets.loras`), by the names the mapping gives them. */
  readonly loras: readonly string[];
}

export interface EngineHealth {
  readonly ok: boolean;
  readonly engine: string;
  readonly summary: string;
  readonly details: Readonly<Record<string, string>>;
  readonly problems: readonly string[];
}

export interface EngineProgress {
  readonly segmentIndex: number;
  readonly step: number;
  readonly totalSteps: number;
}

export interface RenderSegmentOptions {
  /** An empty folder the engine writes the segment's frames into. */
  readonly workDir: string;
  /** For chain / anchor continuity: the image the segment starts from. */
  readonly initImagePath?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: EngineProgress) => void;
}

export interface SegmentResult {
  /** PNG file names inside workDir, one per frame, in order. */
  readonly frameFiles: readonly string[];
  readonly elapsedMs: number;
}

export interface RenderEngine {
  readonly id: string;
  readonly capabilities: EngineCapabilities;
  /** Everything that changes the engine's output besides the job: part of each segment's hash. */
  readonly settingsFingerprint: Readonly<Record<string, unknown>>;
  /**
   * The sampler settings its segments really get (ComfyUI: from the motion module, the config
   * or a custom workflow), settled by `prepare`. plan.json and run.json record these.
   */
  readonly sampler: SamplerSettings;
  checkHealth(options: { signal?: AbortSignal }): Promise<EngineHealth>;
  /**
   * Fail fast: check the backend can render (servers up, models present) before the first
   * segment, and settle `capabilities` and `settingsFingerprint`. Throws a BeatloomError that
   * names what is missing. Engines without a backend to check leave it out.
   */
  prepare?(options: { signal?: AbortSignal }): Promise<void>;
  /**
   * After `prepare`, before analysis: throws a BeatloomError naming what one render needs that
   * the backend lacks (a LoRA its mapping drives). Engines that can render anything leave it out.
   */
  checkNeeds?(needs: RenderNeeds): void;
  renderSegment(job: SegmentJob, options: RenderSegmentOptions): Promise<SegmentResult>;
  close(): Promise<void>;
}

/** Frame file name for local frame i (what every engine writes). */
export function frameFileName(localFrame: number): string {
  return `frame-${String(localFrame).padStart(4, '0')}.png`;
}
