import { usageError } from '../shared/errors.js';
import type { RenderEngine } from './engine.js';
import { createPreviewEngine } from './preview/preview-engine.js';

export const ENGINE_IDS = ['preview'] as const;
export type EngineId = (typeof ENGINE_IDS)[number];

export interface EngineConfig {
  readonly id: string;
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
  }
}
