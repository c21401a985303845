import type { ComfyuiConfig, NativeConfig } from '../config/engine-config.js';
import { usageError } from '../shared/errors.js';
import { createComfyEngine } from './comfyui/engine.js';
import type { ComfyTuning } from './comfyui/settings.js';
import type { RenderEngine } from './engine.js';
import { createNativeEngine } from './native/native-engine.js';
import { createPreviewEngine } from './preview/preview-engine.js';

export const ENGINE_IDS = ['preview', 'comfyui', 'native'] as const;
export type EngineId = (typeof ENGINE_IDS)[number];

export interface EngineConfig {
  readonly id: string;
  /** Settings of the comfyui engine (from flags, BEATLOOM_COMFY_URL and the config file). */
  readonly comfyui?: ComfyuiConfig;
  /** Settings of the native engine (from flags and the config file's `native:` section). */
  readonly native?: NativeConfig;
  /** Protocol timings of the comfyui engine; tests shorten them. */
  readonly comfyTuning?: Partial<ComfyTuning>;
  /** Notes for the user that are not errors (e.g. a failed server taken out of the render). */
  readonly onNotice?: (message: string) => void;
}

export function isEngineId(id: string): id is EngineId {
  return (ENGINE_IDS as readonly string[]).includes(id);
}

export function assertEngineId(id: string): EngineId {
  if (!isEngineId(id)) throw usageError('E_ENGINE', `unknown engine '${id}'`, `use one of: ${ENGINE_IDS.join(', ')}`);
  return id;
}

export function createEngine(config: EngineConfig): RenderEngine {
  const id = assertEngineId(config.id);
  switch (id) {
    case 'preview':
      return createPreviewEngine();
    case 'comfyui':
      return createComfyEngine(config.comfyui ?? {}, { onNotice: config.onNotice, tuning: config.comfyTuning });
    case 'native':
      return createNativeEngine(config.native ?? {}, { onNotice: config.onNotice });
  }
}
