/**
 * What a render is asked to make. The CLI and the batch loader resolve every default and path
 * before building one, so the pipeline never sees an undefined option.
 */
import type { Rational } from '../keyframes/time.js';
import type { EncodeSettings } from '../stitching/stitch-video.js';

/** The sampler values fixed per render (until the mapping drives them per segment). */
export interface SamplerSettings {
  readonly cfg: number;
  readonly steps: number;
}

/** AnimateDiff-Lightning's 4-step model wants cfg 1 (its model card). */
export const DEFAULT_SAMPLER: SamplerSettings = { cfg: 1, steps: 4 };

export interface RenderRequest {
  readonly audioPath: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly mappingPath: string;
  readonly engineId: string;
  readonly fps: Rational;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  readonly runDir: string;
  /** Where the video goes; defaults to <runDir>/out.mp4. */
  readonly outPath?: string;
  readonly encode?: EncodeSettings;
  readonly sampler?: SamplerSettings;
}

/**
 * Defaults for what a batch job leaves out. They are the same as `beatloom render`'s option
 * defaults (src/cli/commands/render.ts), so a job renders what the same command would.
 */
export const RENDER_DEFAULTS = {
  negativePrompt: 'blurry, low quality, watermark, text',
  engineId: 'preview',
  fps: '8',
  size: '512x512',
  seed: 1234,
} as const;
