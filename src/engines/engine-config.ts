/**
 * Engine configuration: which engine renders, and how to reach and drive a ComfyUI server.
 *
 * Three sources, strongest first: command-line flags, the environment (`BEATLOOM_COMFY_URL`),
 * and a config file (`beatloom.config.yaml` in the working folder, or `--config <file>`). A batch
 * file's defaults and jobs go over all three (src/batch/load-batch.ts). What a user may write in
 * `comfyui:` is the engine's own schema (src/engines/comfyui/comfy-config.ts); the engine resolves
 * its defaults once.
 */
import { readUserText } from '../shared/read-text.js';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { comfyuiConfigSchema, type ComfyuiConfig } from './comfyui/comfy-config.js';
import { nativeConfigSchema, type NativeConfig } from './native/native-config.js';
import { BeatloomError, usageError } from '../shared/errors.js';
import { parseYamlWithSchema } from '../config/yaml-file.js';

export const CONFIG_FILE_NAMES = ['beatloom.config.yaml', 'beatloom.config.yml'] as const;
export const COMFY_URL_ENV = 'BEATLOOM_COMFY_URL';

export const configFileSchema = z
  .object({
    /** The engine `render` uses when --engine is not given. */
    engine: z.string().min(1).optional(),
    comfyui: comfyuiConfigSchema.optional(),
    native: nativeConfigSchema.optional(),
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

/** The native engine's file paths, relative to the config or batch file they were written in. */
export function resolveNativePaths(native: NativeConfig, baseDir: string): NativeConfig {
  const at = (path: string | undefined): string | undefined =>
    path === undefined ? undefined : resolve(baseDir, path);
  return {
    ...native,
    checkpoint: at(native.checkpoint),
    motionModel: at(native.motionModel),
    vocab: at(native.vocab),
    cacheDir: at(native.cacheDir),
    loras: native.loras?.map((lora) => ({ ...lora, path: resolve(baseDir, lora.path) })),
  };
}

function resolvePaths(config: ConfigFile, baseDir: string): ConfigFile {
  const withComfy = config.comfyui ? { ...config, comfyui: resolveComfyPaths(config.comfyui, baseDir) } : config;
  return withComfy.native ? { ...withComfy, native: resolveNativePaths(withComfy.native, baseDir) } : withComfy;
}

/** Merges engine settings key by key, later ones winning; a key left undefined does not count as given. */
export function mergeEngineSettings<T extends object>(...configs: readonly T[]): T {
  const merged: Record<string, unknown> = {};
  for (const config of configs) {
    for (const [key, value] of Object.entries(config)) if (value !== undefined) merged[key] = value;
  }
  return merged as T;
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
  /** Settings of the native engine; absent where nothing set any. */
  readonly native?: NativeConfig;
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
  flags: { readonly engine?: string; readonly comfyui: ComfyuiConfig; readonly native?: NativeConfig },
): EngineSelection {
  const file = loaded.config.comfyui ?? {};
  const envUrl = env[COMFY_URL_ENV];
  const fromEnv: ComfyuiConfig =
    envUrl !== undefined && envUrl.trim() !== '' ? { url: splitUrlList(envUrl, COMFY_URL_ENV) } : {};
  const comfyui = mergeEngineSettings(file, fromEnv, flags.comfyui);
  const native = mergeEngineSettings(loaded.config.native ?? {}, flags.native ?? {});
  const engineId = flags.engine ?? loaded.config.engine ?? 'preview';
  return Object.keys(native).length > 0 ? { engineId, comfyui, native } : { engineId, comfyui };
}
