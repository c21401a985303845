/**
 * The engine interface (DESIGN.md §4). The pipeline talks to every backend through this and
 * never knows which one it has.
 *
 * An engine comes in two stages. A `ConfiguredEngine` (what `createEngine` returns) has its
 * settings but has not looked at its backend: it can report health, and `prepare` checks the
 * backend (servers, models; for a native engine, building its models) and resolves to a
 * `RenderEngine` bound to what it found. Its capabilities, fingerprint and sampler are known
 * before the plan is made, and the plan follows them; it renders one segment per call. Closing the
 * configured engine releases whatever the prepared ones use.
 */
import { z } from 'zod';
import { fpsSchema } from '../shared/media-time.js';
import { loraStrengthSchema, promptWeightSchema } from '../keyframes/keyframes-schema.js';
import { continuitySchema } from '../shared/continuity.js';

export { CONTINUITIES, continuitySchema, type Continuity } from '../shared/continuity.js';

/** The longest take an engine with context windows is given: a few hundred frames, split at sections. */
export const MAX_TAKE_FRAMES = 1024;

/** One key of a take's prompt travel: at `frame` (local) the prompt is exactly this; linear between keys. */
export const promptKeySchema = z
  .object({ frame: z.number().int().nonnegative(), prompt: z.string(), negativePrompt: z.string() })
  .strict();
export type PromptKey = z.infer<typeof promptKeySchema>;

/**
 * The motion a segment's frames get, in the one form its engine takes (the plan picks it from
 * `capabilities.perFrameMotionScale`): a scale per frame, or the segment's one scale (the
 * mapping's reduction of the curve over the segment).
 */
export const segmentMotionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('perFrame'), scales: z.array(z.number()).min(1) }).strict(),
  z.object({ kind: z.literal('constant'), scale: z.number() }).strict(),
]);
export type SegmentMotion = z.infer<typeof segmentMotionSchema>;

/** The motion scale at a segment's local frame, whichever form the job has it in. */
export function motionScaleAt(motion: SegmentMotion, localFrame: number): number {
  switch (motion.kind) {
    case 'perFrame': {
      const scale = motion.scales[localFrame];
      if (scale === undefined)
        throw new RangeError(`frame ${localFrame} is past the ${motion.scales.length} motion scales`);
      return scale;
    }
    case 'constant':
      return motion.scale;
  }
}

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
    /**
     * Where the job's first frame sits in its seed's take: frames since the seed's first frame.
     * Frame `noiseFrame + j` of a seed always starts from the same noise, whichever job holds it,
     * so the frames two jobs share start alike, and a recalled seed brings back its imagery.
     */
    noiseFrame: z.number().int().nonnegative(),
    /**
     * Continuation (continue / take): the job's first `heldFrames` frames are the previous job's
     * frames at the same moments (RenderSegmentOptions.heldFramePaths), kept as they are by a
     * per-frame noise mask; the rest continues from them. 0: nothing held.
     */
    heldFrames: z.number().int().nonnegative(),
    /** How far the frames depart from where they start (an init image, or the last held frame); 1 = from noise. */
    denoise: z.number().min(0).max(1),
    cfg: z.number().positive(),
    steps: z.number().int().positive(),
    /** With kind 'perFrame', `scales` has one entry per frame (frameCount). */
    motion: segmentMotionSchema,
    /** The motion module's effect (ADE effect_multival: 0 = no motion module, 1 = full), when the mapping drives it. */
    effect: segmentMotionSchema.optional(),
    /** Motion LoRA strengths (ADE_AnimateDiffLoRALoader), when the mapping drives them. */
    motionLoras: z.array(loraStrengthSchema).optional(),
    /**
     * A take's prompt travel, keys in frame order from frame 0 (absent: the job's prompt blend
     * holds for all its frames).
     */
    promptSchedule: z.array(promptKeySchema).min(1).optional(),
    continuity: continuitySchema,
    section: z.string(),
  })
  .strict();

export type SegmentJob = z.infer<typeof segmentJobSchema>;

export interface EngineCapabilities {
  /** Can start a segment from an image (chain / anchor continuity). */
  readonly initImage: boolean;
  /** Can hold a job's first frames (continue / take continuity). */
  readonly continuation: boolean;
  /**
   * Samples more frames than its motion module's context in one sampling, with context windows
   * and prompt travel (take continuity): the longest take it renders, in frames; 0 = no takes.
   */
  readonly takeFrames: number;
  /** Takes the motion module's effect per frame (`effect`). */
  readonly motionEffect: boolean;
  /** Takes a motion scale per frame: the plan gives its jobs `motion.kind` 'perFrame', else 'constant'. */
  readonly perFrameMotionScale: boolean;
  /** The longest segment it renders, in frames: a plan with a longer one fails before any rendering. */
  readonly maxFrames: number;
  /** Segments it can render at once (ComfyUI: usable servers × queue depth; preview: 1). */
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
  /** The motion LoRAs the mapping drives (`targets.motionLoras`). */
  readonly motionLoras?: readonly string[];
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

/**
 * The files an engine may leave beside a segment's frames for the segment that continues it
 * (they are kept in the segment's folder): ComfyUI's latents. (The preview keeps its drawing
 * state inside each frame's PNG; the native engine encodes the held frames again.)
 */
export const ENGINE_STATE_FILES: readonly string[] = ['latents.latent'];

export interface RenderSegmentOptions {
  /** An empty folder the engine writes the segment's frames into (and its ENGINE_STATE_FILES). */
  readonly workDir: string;
  /** For chain / anchor continuity: the image the segment starts from. */
  readonly initImagePath?: string;
  /** For continuation: the job's first `heldFrames` frames, as PNG files, in order. */
  readonly heldFramePaths?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: EngineProgress) => void;
}

export interface SegmentResult {
  /** PNG file names inside workDir, one per frame, in order. */
  readonly frameFiles: readonly string[];
  readonly elapsedMs: number;
}

/** An engine as configured, not yet bound to a backend (see the top). */
export interface ConfiguredEngine {
  readonly id: string;
  checkHealth(options: { signal?: AbortSignal }): Promise<EngineHealth>;
  /**
   * Fail fast: checks the backend can render (servers up, models present) before the first
   * segment, and resolves to the engine bound to it. Throws a BeatloomError that names what is
   * missing. Each call checks again and returns a new prepared engine.
   */
  prepare(options: { signal?: AbortSignal }): Promise<RenderEngine>;
  /** Releases the backend (connections) of this engine and of every engine it prepared. */
  close(): Promise<void>;
}

/**
 * A prepared engine: its values are fixed when `prepare` resolves, except that concurrency falls
 * when a server is taken out mid-render.
 */
export interface RenderEngine {
  readonly id: string;
  readonly capabilities: EngineCapabilities;
  /** Everything that changes the engine's output besides the job: part of each segment's hash. */
  readonly settingsFingerprint: Readonly<Record<string, unknown>>;
  /**
   * The sampler settings its segments really get (ComfyUI: from the motion module, the config
   * or a custom workflow). plan.json and run.json record these.
   */
  readonly sampler: SamplerSettings;
  /**
   * Before analysis: throws a BeatloomError naming what one render needs that the backend lacks
   * (a LoRA its mapping drives). Engines that can render anything accept every need.
   */
  checkNeeds(needs: RenderNeeds): void;
  /**
   * After planning, before any rendering: what the user should know about these jobs on this
   * backend (guardrails: steps against the module's, cfg, a negative prompt cfg ignores).
   * Throws a BeatloomError for jobs the backend would refuse.
   */
  reviewJobs?(jobs: readonly SegmentJob[]): string[];
  renderSegment(job: SegmentJob, options: RenderSegmentOptions): Promise<SegmentResult>;
}

/**
 * The first sampler step of a job that starts from an image or held frames, on the motion
 * module's own grid of `steps` (AnimateDiff-Lightning is distilled for exactly those timesteps:
 * skipping steps keeps the rest on the grid, where re-spacing a shorter schedule would not).
 * denoise 1 → 0 (from noise); the last step always runs. A job from noise starts at 0.
 */
export function startStepFor(
  job: Pick<SegmentJob, 'denoise' | 'heldFrames'>,
  steps: number,
  fromImage: boolean,
): number {
  if (!fromImage && job.heldFrames === 0) return 0;
  return Math.min(steps - 1, Math.max(0, Math.round(steps * (1 - job.denoise))));
}

/** Frame file name for local frame i (what every engine writes). */
export function frameFileName(localFrame: number): string {
  return `frame-${String(localFrame).padStart(4, '0')}.png`;
}
