/**
 * The engines of a batch: one per distinct engine spec, created when a job first needs it, each
 * with the slots that hold its concurrency across every job that uses it.
 */
import type { RenderEngine } from '../engines/engine.js';
import { comfyuiConfigSchema } from '../config/engine-config.js';
import { createEngine } from '../engines/registry.js';
import { PrioritySlots } from '../pipeline/priority-slots.js';
import { engineSpecKey, type EngineSpec } from './load-batch.js';

export interface PooledEngine {
  readonly engine: RenderEngine;
  readonly slots: PrioritySlots;
}

export type EngineFactory = (spec: EngineSpec) => RenderEngine;

export const defaultEngineFactory: EngineFactory = (spec) =>
  spec.id === 'comfyui' ? createEngine({ id: spec.id, comfyui: comfyuiConfigSchema.parse(spec.options) }) : createEngine({ id: spec.id });

export class EnginePool {
  private readonly engines = new Map<string, PooledEngine>();
  constructor(private readonly factory: EngineFactory = defaultEngineFactory) {}

  get(spec: EngineSpec): PooledEngine {
    const key = engineSpecKey(spec);
    let pooled = this.engines.get(key);
    if (!pooled) {
      const engine = this.factory(spec);
      pooled = { engine, slots: new PrioritySlots(Math.max(1, engine.capabilities.concurrency)) };
      this.engines.set(key, pooled);
    }
    return pooled;
  }

  async closeAll(): Promise<void> {
    const all = [...this.engines.values()];
    this.engines.clear();
    await Promise.allSettled(all.map((p) => p.engine.close()));
  }
}
