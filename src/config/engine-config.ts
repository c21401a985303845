/**
 * Engine configuration: which engine renders, and how to reach and drive a ComfyUI server.
 *
 * Three sources, strongest first: command-line flags, the environment (`BEATLOOM_COMFY_URL`),
 * and a config file (`beatloom.config.yaml` in the working folder, or `--config <file>`). A batch
 * file's defaults and jobs go over all three (src/batch/load-batch.ts). The schemas here describe what a user may write; the engine resolves its defaults once.
 */
import { readUserText } from '../shared/read-text.js';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { BeatloomError, usageError } from '../shared/errors.js';
import { parseYamlWithSchema } from './yaml-file.js';

export const CONFIG_FILE_NAMES = ['beatloom.config.yaml', 'beatloom.config.yml'] as const;
export const COMFY_URL_ENV = 'BEATLOOM_COMFY_URL';

/** `"<node id>.<input name>"`: one input of one node of an API-format workflow. */
const workflowTargetSchema = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*\.[A-Za-z0-9_ ]+$/, 'must look like "<node id>.<input name>", e.g. "3.seed"');
const workflowTargetsSchema = z.union([workflowTargetSchema, z.array(workflowTargetSchema).min(1)]);

/**
 * Which node inputs of a bring-your-own workflow beatloom fills in per segment. `output` is the
 * node whose images are the segment's frames (a SaveImage).
 */
export const workflowMapSchema = z
  .object({
    output: z.string().min(1),
    prompt: workflowTargetsSchema,
    negative: workflowTargetsSchema.optional(),
    seed: workflowTargetsSchema,
    frameCount: workflowTargetsSchema,
    denoise: workflowTargetsSchema.optional(),
    /** A FLOAT input gets the segment's motion scale; ADE_ValueScheduling.values gets one value per frame. */
    motionScale: workflowTargetsSchema.optional(),
    /** A LoadImage.image input: gets the uploaded init image (chain / anchor continuity). */
    initImage: workflowTargetsSchema.optional(),
    width: workflowTargetsSchema.optional(),
    height: workflowTargetsSchema.optional(),
    cfg: workflowTargetsSchema.optional(),
    steps: workflowTargetsSchema.optional(),
    /**
     * A LoRA the mapping drives (by its name in the mapping's targets.loras) → the inputs that get
     * its strength per segment, e.g. `{ add_detail: [20.strength_model, 20.strength_clip] }`.
     */
    loras: z.record(z.string().min(1), workflowTargetsSchema).optional(),
  })
  .strict();
export type WorkflowMap = z.infer<typeof workflowMapSchema>;

export const comfyLoraSchema = z
  .object({
    name: z.string().min(1),
    strengthModel: z.number().min(-100).max(100).default(1),
    strengthClip: z.number().min(-100).max(100).default(1),
  })
  .strict();
export type ComfyLora = z.infer<typeof comfyLoraSchema>;

/** The `comfyui:` section of the config file, and what flags and the environment may set. */
export const comfyuiConfigSchema = z
  .object({
    /** One server or several (a list, or a comma-separated string). */
    url: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    checkpoint: z.string().min(1).optional(),
    motionModel: z.string().min(1).optional(),
    betaSchedule: z.string().min(1).optional(),
    steps: z.number().int().min(1).max(100).optional(),
    sampler: z.string().min(1).optional(),
    scheduler: z.string().min(1).optional(),
    loras: z.array(comfyLoraSchema).optional(),
    /** An API-format workflow JSON to use instead of the built-in graph (needs workflowMap). */
    workflow: z.string().min(1).optional(),
    /** The map for `workflow`: inline, or the path of a YAML/JSON file. */
    workflowMap: z.union([z.string().min(1), workflowMapSchema]).optional(),
    /** Segments each server holds at once: one running, the rest queued so its GPU never waits for beatloom. */
    queueDepth: z.number().int().min(1).max(8).optional(),
    requestTimeoutMs: z.number().int().min(100).optional(),
    segmentTimeoutMs: z.number().int().min(1000).optional(),
  })
  .strict();
export type ComfyuiConfig = z.infer<typeof comfyuiConfigSchema>;

export const configFileSchema = z
  .object({
    /** The engine `render` uses when --engine is not given. */
    engine: z.string().min(1).optional(),
    comfyui: comfyuiConfigSchema.optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof configFileSchema>;

export interface LoadedConfig {
  readonly config: ConfigFile;
  /** The file it came from; undefined when there was none. */
  readonly path: string | undefined;
}

/** Paths in a config file (or a batch file's engineOptions) are relative to that file, wherever beatloom runs. */
export function resolveComfyPaths(comfyui: ComfyuiConfig, baseDir: string): ComfyuiConfig {
  return {
    ...comfyui,
    workflow: comfyui.workflow === undefined ? undefined : resolve(baseDir, comfyui.workflow),
    workflowMap: typeof comfyui.workflowMap === 'string' ? resolve(baseDir, comfyui.workflowMap) : comfyui.workflowMap,
  };
}

function resolvePaths(config: ConfigFile, baseDir: string): ConfigFile {
  return config.comfyui ? { ...config, comfyui: resolveComfyPaths(config.comfyui, baseDir) } : config;
}

/** Merges ComfyUI settings key by key, later ones winning; a key left undefined does not count as given. */
export function mergeComfyConfigs(...configs: readonly ComfyuiConfig[]): ComfyuiConfig {
  const merged: Record<string, unknown> = {};
  for (const config of configs) {
    for (const [key, value] of Object.entries(config)) if (value !== undefined) merged[key] = value;
  }
  return merged as ComfyuiConfig;
}

export function parseConfigFile(text: string, fileName: string): ConfigFile {
  const config = parseYamlWithSchema(text, fileName, configFileSchema.nullable(), {
    syntax: 'E_CONFIG_YAML',
    invalid: 'E_CONFIG',
    hint: 'see the README section "Engine configuration" for the keys',
  });
  return resolvePaths(config ?? {}, dirname(resolve(fileName)));
}

/**
 * Reads `explicitPath` (which must exist), or else the first of CONFIG_FILE_NAMES in `cwd`
 * (which may be absent).
 */
export async function loadConfigFile(options: { explicitPath?: string; cwd: string }): Promise<LoadedConfig> {
  const candidates =
    options.explicitPath !== undefined
      ? [resolve(options.cwd, options.explicitPath)]
      : CONFIG_FILE_NAMES.map((name) => join(options.cwd, name));
  for (const path of candidates) {
    let text: string;
    try {
      text = await readUserText(path, 'config file');
    } catch (error) {
      if (error instanceof BeatloomError) throw error;
      if (options.explicitPath !== undefined) {
        throw usageError(
          'E_CONFIG_MISSING',
          `config file not found: ${path}`,
          'give --config the path of a beatloom.config.yaml',
          error,
        );
      }
      continue;
    }
    return { config: parseConfigFile(text, path), path };
  }
  return { config: {}, path: undefined };
}

/** Splits `a,b , c` into URLs; empty parts are an error, not silently dropped. */
export function splitUrlList(text: string, source: string): string[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) {
    throw usageError(
      'E_COMFY_URL',
      `invalid server list in ${source}: '${text}'`,
      'give URLs separated by commas, e.g. http://gpu1:8188,http://gpu2:8188',
    );
  }
  return parts;
}

export interface EngineSelection {
  readonly engineId: string;
  readonly comfyui: ComfyuiConfig;
  /** The config file the settings came from, if any (no output may be it). */
  readonly configPath?: string | undefined;
}

/**
 * Merges flags over the environment over the config file. `flags.engine` undefined means "not
 * given", so the file's `engine:` (or `preview`) applies.
 */
export function selectEngine(
  loaded: LoadedConfig,
  env: Readonly<Record<string, string | undefined>>,
  flags: { readonly engine?: string; readonly comfyui: ComfyuiConfig },
): EngineSelection {
  const file = loaded.config.comfyui ?? {};
  const envUrl = env[COMFY_URL_ENV];
  const fromEnv: ComfyuiConfig =
    envUrl !== undefined && envUrl.trim() !== '' ? { url: splitUrlList(envUrl, COMFY_URL_ENV) } : {};
  const comfyui = mergeComfyConfigs(file, fromEnv, flags.comfyui);
  return { engineId: flags.engine ?? loaded.config.engine ?? 'preview', comfyui };
}
