/**
 * What a render is asked to make. The CLI and the batch loader resolve every default and path
 * before building one, so the pipeline never sees an undefined option.
 */
import type { EngineOptions } from '../engines/registry.js';
import type { Rational } from '../shared/media-time.js';
import type { NamedPath } from '../shared/same-file.js';
import type { OutputSettings } from '../stitching/output-settings.js';

/** What both `plan` and `render` are asked: a song, a mapping and what it needs to become keyframes. */
export interface SongRequest {
  readonly audioPath: string;
  readonly mappingPath: string;
  /** --prompt: what {prompt} in the mapping stands for (required when the mapping uses it). */
  readonly prompt?: string | undefined;
  /** --negative: what {negative} stands for (a default when not given). */
  readonly negativePrompt?: string | undefined;
  readonly fps: Rational;
  readonly seed: number;
  /** The run directory (analysis.json is cached there). */
  readonly runDir: string;
  /** Other files the command reads (a config or batch file, another job's song): never an output. */
  readonly readFiles?: readonly NamedPath[];
}

export interface RenderRequest extends SongRequest {
  readonly engineId: string;
  /** Engine settings besides the id (the comfyui engine's servers and models, a notice sink). */
  readonly engineOptions?: EngineOptions;
  readonly width: number;
  readonly height: number;
  /** Where the video goes; defaults to <runDir>/out.mp4 (see defaultOutputName). */
  readonly outPath?: string;
  /** Codec, quality, frames-only, overlay, upscale, interpolation (defaults: DEFAULT_OUTPUT_SETTINGS). */
  readonly output?: OutputSettings;
}

/**
 * Defaults for what a batch job leaves out. They are the same as `beatloom render`'s option
 * defaults (src/cli/commands/render.ts), so a job renders what the same command would.
 */
export const RENDER_DEFAULTS = {
  engineId: 'preview',
  fps: '8',
  size: '512x512',
  seed: 1234,
} as const;
