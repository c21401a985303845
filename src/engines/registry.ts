import { usageError } from '../shared/errors.js';
import type { ComfyuiConfig } from './comfyui/comfy-config.js';
import { createComfyEngine } from './comfyui/engine.js';
import type { ComfyTuning } from './comfyui/settings.js';
import type { ConfiguredEngine } from './engine.js';
import type { NativeConfig } from './native/native-config.js';
import { createNativeEngine } from './native/native-engine.js';
import { createPreviewEngine } from './preview/preview-engine.js';

export const ENGINE_IDS = ['preview', 'comfyui', 'native'] as const;
export type EngineId = (typeof ENGINE_IDS)[number];

interface EngineHooks {
  /** Notes for the user that are not errors (e.g. a failed server taken out of the render). */
  readonly onNotice?: (message: string) => void;
}

/** Which engine renders, with the settings that engine owns: one variant per engine. */
export type EngineConfig =
  | (EngineHooks & { readonly id: 'preview' })
  | (EngineHooks & {
      readonly id: 'comfyui';
      /** From flags, BEATLOOM_COMFY_URL and the config file (or a batch file). */
      readonly comfyui: ComfyuiConfig;
      /** Protocol timings; tests shorten them. */
      readonly comfyTuning?: Partial<ComfyTuning>;
    })
  | (EngineHooks & {
      readonly id: 'native';
      /** From flags and the config file's `native:` section (or a batch file). */
      readonly native: NativeConfig;
    });

/** What a render request carries besides the engine's id (see engineConfig). */
export interface EngineOptions extends EngineHooks {
  /** Settings of the comfyui engine; none given is a comfyui engine without a server (an error when made). */
  readonly comfyui?: ComfyuiConfig;
  readonly comfyTuning?: Partial<ComfyTuning>;
  /** Settings of the native engine; none given is an error when it is made (no model files). */
  readonly native?: NativeConfig;
}

export function isEngineId(id: string): id is EngineId {
  return (ENGINE_IDS as readonly string[]).includes(id);
}

export function assertEngineId(id: string): EngineId {
  if (!isEngineId(id)) throw usageError('E_ENGINE', `unknown engine '${id}'`, `use one of: ${ENGINE_IDS.join(', ')}`);
  return id;
}

/** The config of engine `id` from a request's options; throws a usage error for an unknown id. */
export function engineConfig(id: string, options: EngineOptions = {}): EngineConfig {
  const engineId = assertEngineId(id);
  switch (engineId) {
    case 'preview':
      return { id: engineId, onNotice: options.onNotice };
    case 'comfyui':
      return {
        id: engineId,
        comfyui: options.comfyui ?? {},
        comfyTuning: options.comfyTuning,
        onNotice: options.onNotice,
      };
    case 'native':
      return { id: engineId, native: options.native ?? {}, onNotice: options.onNotice };
  }
}

export function createEngine(config: EngineConfig): ConfiguredEngine {
  switch (config.id) {
    case 'preview':
      return createPreviewEngine();
    case 'comfyui':
      return createComfyEngine(config.comfyui, { onNotice: config.onNotice, tuning: config.comfyTuning });
    case 'native':
      return createNativeEngine(config.native, { onNotice: config.onNotice });
  }
}
