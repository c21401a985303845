/**
 * The engines of a batch: one per distinct engine spec (jobs with equal settings share one),
 * created and prepared once, when a job first needs it, each with the slots that hold its
 * concurrency across every job that uses it. An engine that cannot be prepared (a server
 * without the checkpoint) fails every job that uses it with the same error, without asking again.
 */
import type { ConfiguredEngine, RenderEngine } from '../engines/engine.js';
import { comfyuiConfigSchema } from '../engines/comfyui/comfy-config.js';
import { nativeConfigSchema } from '../engines/native/native-config.js';
import { createEngine } from '../engines/registry.js';
import { PrioritySlots } from '../scheduling/priority-slots.js';
import { engineSpecKey, type EngineSpec } from './load-batch.js';

export interface PooledEngine {
  readonly engine: RenderEngine;
  readonly slots: PrioritySlots;
}

/** Makes the engine for a spec; `onNotice` takes what the user should know that is not an error. */
export type EngineFactory = (spec: EngineSpec, onNotice: (message: string) => void) => ConfiguredEngine;

export const defaultEngineFactory: EngineFactory = (spec, onNotice) => {
  switch (spec.id) {
    case 'preview':
      return createEngine({ id: spec.id, onNotice });
    case 'comfyui':
      // Batch files give options as written; parsing fills their defaults (a LoRA's strengths).
      return createEngine({ id: spec.id, comfyui: comfyuiConfigSchema.parse(spec.options), onNotice });
    case 'native':
      return createEngine({ id: spec.id, native: nativeConfigSchema.parse(spec.options), onNotice });
  }
};

export class EnginePool {
  private readonly created: ConfiguredEngine[] = [];
  private readonly engines = new Map<string, Promise<PooledEngine>>();
  constructor(
    private readonly factory: EngineFactory = defaultEngineFactory,
    private readonly onNotice: (message: string) => void = () => undefined,
  ) {}

  /**
   * The spec's engine, prepared. The first job to ask prepares it (under its signal, which in a
   * batch is the batch's); the slots take the concurrency prepare settled (servers left out of
   * the render do not count).
   */
  get(spec: EngineSpec, signal?: AbortSignal): Promise<PooledEngine> {
    const key = engineSpecKey(spec);
    let pooled = this.engines.get(key);
    if (!pooled) {
      pooled = (async () => {
        const configured = this.factory(spec, this.onNotice);
        this.created.push(configured);
        const engine = await configured.prepare({ signal });
        return { engine, slots: new PrioritySlots(Math.max(1, engine.capabilities.concurrency)) };
      })();
      this.engines.set(key, pooled);
    }
    return pooled;
  }

  async closeAll(): Promise<void> {
    const all = this.created.splice(0);
    this.engines.clear();
    await Promise.allSettled(all.map((engine) => engine.close()));
  }
}
