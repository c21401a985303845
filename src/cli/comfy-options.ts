/**
 * The flags that configure the ComfyUI and native engines, shared by `render`, `batch` and
 * `engines check`, and their parsing into the config shape (flags win over BEATLOOM_COMFY_URL
 * and the config file).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfigFile, selectEngine, splitUrlList, type EngineSelection } from '../engines/engine-config.js';
import type { ComfyLora, ComfyuiConfig } from '../engines/comfyui/comfy-config.js';
import type { NativeConfig } from '../engines/native/native-config.js';
import { DEFAULT_MOTION_MODEL } from '../engines/comfyui/settings.js';
import { assertEngineId } from '../engines/registry.js';
import { usageError } from '../shared/errors.js';

export interface ComfyFlags {
  config?: string;
  comfyUrl?: string;
  comfyCheckpoint?: string;
  comfyMotionModel?: string;
  comfyLora?: string[];
  comfySteps?: string;
  comfyWorkflow?: string;
  comfyWorkflowMap?: string;
  nativeCheckpoint?: string;
  nativeMotionModel?: string;
  nativeVocab?: string;
  nativeCacheDir?: string;
  nativeLora?: string[];
}

const COMFY_FLAG_NAMES: ReadonlyArray<[keyof ComfyFlags, string]> = [
  ['comfyUrl', '--comfy-url'],
  ['comfyCheckpoint', '--comfy-checkpoint'],
  ['comfyMotionModel', '--comfy-motion-model'],
  ['comfyLora', '--comfy-lora'],
  ['comfySteps', '--comfy-steps'],
  ['comfyWorkflow', '--comfy-workflow'],
  ['comfyWorkflowMap', '--comfy-workflow-map'],
];

const NATIVE_FLAG_NAMES: ReadonlyArray<[keyof ComfyFlags, string]> = [
  ['nativeCheckpoint', '--native-checkpoint'],
  ['nativeMotionModel', '--native-motion-model'],
  ['nativeVocab', '--native-vocab'],
  ['nativeCacheDir', '--native-cache-dir'],
  ['nativeLora', '--native-lora'],
];

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addComfyOptions(command: Command): Command {
  return command
    .option('--config <file>', 'engine settings (default: ./beatloom.config.yaml when it exists)')
    .option('--comfy-url <urls>', 'ComfyUI server(s), comma-separated (also BEATLOOM_COMFY_URL)')
    .option('--comfy-checkpoint <name>', 'SD 1.5 checkpoint on the server (default: the server’s only one)')
    .option('--comfy-motion-model <name>', `AnimateDiff motion module (default: ${DEFAULT_MOTION_MODEL})`)
    .option('--comfy-lora <name[:strength]>', 'apply a LoRA; repeat for several', collect, [])
    .option('--comfy-steps <n>', 'sampler steps (default: the steps the Lightning module was distilled for)')
    .option('--comfy-workflow <file>', 'your own API-format workflow instead of the built-in graph')
    .option('--comfy-workflow-map <file>', 'which inputs of --comfy-workflow beatloom fills in (YAML or JSON)')
    .option('--native-checkpoint <file>', 'native engine: SD 1.5 checkpoint (.safetensors, as ComfyUI loads it)')
    .option('--native-motion-model <file>', 'native engine: AnimateDiff-Lightning motion module (.safetensors)')
    .option(
      '--native-vocab <path>',
      "native engine: CLIP tokenizer files (ComfyUI's comfy/sd1_tokenizer; default: built in)",
    )
    .option(
      '--native-cache-dir <dir>',
      'native engine: where built ONNX graphs are cached (default: ~/.cache/beatloom/native)',
    )
    .option('--native-lora <file[:strength]>', 'native engine: merge a LoRA at a fixed strength; repeat', collect, []);
}

/** `detail.safetensors:0.8` → strength 0.8 for model and CLIP; without `:n`, 1. */
export function parseLoraFlag(text: string, flag = '--comfy-lora'): ComfyLora {
  const match = /^([^:].*?)(?::(-?\d+(?:\.\d+)?))?$/.exec(text.trim());
  const strength = match?.[2] === undefined ? 1 : Number(match[2]);
  if (!match || match[1]!.trim() === '' || strength < -100 || strength > 100) {
    throw usageError(
      'E_COMFY_LORA',
      `invalid ${flag}: '${text}'`,
      'give NAME or NAME:STRENGTH, e.g. --comfy-lora detail_tweaker.safetensors:0.7',
    );
  }
  return { name: match[1]!.trim(), strengthModel: strength, strengthClip: strength };
}

export function parseStepsFlag(text: string): number {
  const steps = Number(text);
  if (!/^\d+$/.test(text.trim()) || steps < 1 || steps > 100) {
    throw usageError(
      'E_COMFY_STEPS',
      `invalid --comfy-steps: '${text}'`,
      'give a whole number from 1 to 100 (AnimateDiff-Lightning modules are made for 1, 2, 4 or 8)',
    );
  }
  return steps;
}

export function comfyConfigFromFlags(flags: ComfyFlags): ComfyuiConfig {
  return {
    url: flags.comfyUrl === undefined ? undefined : splitUrlList(flags.comfyUrl, '--comfy-url'),
    checkpoint: flags.comfyCheckpoint,
    motionModel: flags.comfyMotionModel,
    loras:
      flags.comfyLora && flags.comfyLora.length > 0 ? flags.comfyLora.map((text) => parseLoraFlag(text)) : undefined,
    steps: flags.comfySteps === undefined ? undefined : parseStepsFlag(flags.comfySteps),
    workflow: flags.comfyWorkflow === undefined ? undefined : resolve(flags.comfyWorkflow),
    workflowMap: flags.comfyWorkflowMap === undefined ? undefined : resolve(flags.comfyWorkflowMap),
  };
}

export function nativeConfigFromFlags(flags: ComfyFlags): NativeConfig {
  const path = (value: string | undefined): string | undefined => (value === undefined ? undefined : resolve(value));
  return {
    checkpoint: path(flags.nativeCheckpoint),
    motionModel: path(flags.nativeMotionModel),
    vocab: path(flags.nativeVocab),
    cacheDir: path(flags.nativeCacheDir),
    loras:
      flags.nativeLora && flags.nativeLora.length > 0
        ? flags.nativeLora.map((text) => {
            const lora = parseLoraFlag(text, '--native-lora');
            return { path: resolve(lora.name), strengthModel: lora.strengthModel, strengthClip: lora.strengthClip };
          })
        : undefined,
  };
}

/** Flags + environment + config file → the engine to use when nothing else says, and its settings. */
export async function loadEngineSelection(engineFlag: string | undefined, flags: ComfyFlags): Promise<EngineSelection> {
  const loaded = await loadConfigFile({ explicitPath: flags.config, cwd: process.cwd() });
  const selection = selectEngine(loaded, process.env, {
    engine: engineFlag,
    comfyui: comfyConfigFromFlags(flags),
    native: nativeConfigFromFlags(flags),
  });
  assertEngineId(selection.engineId);
  return { ...selection, configPath: loaded.path };
}

/**
 * ComfyUI flags where nothing renders with ComfyUI are a mistake worth one clear line, not
 * something to ignore. `engineIds`: the engines that will render.
 */
export function assertComfyFlagsUsed(flags: ComfyFlags, engineIds: readonly string[]): void {
  const given = COMFY_FLAG_NAMES.filter(([key]) => {
    const value = flags[key];
    return Array.isArray(value) ? value.length > 0 : value !== undefined;
  });
  if (given.length > 0 && !engineIds.includes('comfyui')) {
    const engines = [...new Set(engineIds)].map((id) => `'${id}'`).join(', ');
    throw usageError(
      'E_ENGINE_FLAGS',
      `${given.map(([, flag]) => flag).join(', ')} only apply to the comfyui engine, not ${engines}`,
      'add --engine comfyui',
    );
  }
  const nativeGiven = NATIVE_FLAG_NAMES.filter(([key]) => {
    const value = flags[key];
    return Array.isArray(value) ? value.length > 0 : value !== undefined;
  });
  if (nativeGiven.length > 0 && !engineIds.includes('native')) {
    const engines = [...new Set(engineIds)].map((id) => `'${id}'`).join(', ');
    throw usageError(
      'E_ENGINE_FLAGS',
      `${nativeGiven.map(([, flag]) => flag).join(', ')} only apply to the native engine, not ${engines}`,
      'add --engine native',
    );
  }
}

/** `render` and `engines check`: the engine and its settings from flags, environment and config file. */
export async function resolveEngineSelection(
  engineFlag: string | undefined,
  flags: ComfyFlags,
): Promise<EngineSelection> {
  const selection = await loadEngineSelection(engineFlag, flags);
  assertComfyFlagsUsed(flags, [selection.engineId]);
  return selection;
}
