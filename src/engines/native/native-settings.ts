/**
 * The native engine's settings, resolved once from its config (flags, config file `native:`
 * section, batch engineOptions): model files, tokenizer files, graph cache, steps, provider.
 */
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { NativeConfig } from './native-config.js';
import { usageError } from '../../shared/errors.js';
import type { NativeLora } from './lora.js';

export type NativeProvider = 'cpu' | 'cuda' | 'auto';

export interface NativeSettings {
  readonly checkpoint: string;
  readonly motionModel: string;
  /** CLIP tokenizer files; undefined: the merges beatloom ships. */
  readonly vocab: string | undefined;
  readonly cacheDir: string;
  readonly steps: number;
  readonly provider: NativeProvider;
  /** onnxruntime's intra-op threads; undefined: its default (one per core). */
  readonly threads: number | undefined;
  /** Merged into the weights when the graphs are built (a new cache entry per set). */
  readonly loras: readonly NativeLora[];
}

/** AnimateDiff-Lightning's file names say the steps it was distilled for: `…_4step_comfyui.safetensors`. */
export function stepsFromMotionModel(path: string): number | undefined {
  const match = /(\d+)step/i.exec(basename(path));
  return match ? Number(match[1]) : undefined;
}

/** The default graph cache: $XDG_CACHE_HOME/beatloom/native, else ~/.cache/beatloom/native. */
export function defaultNativeCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.trim() !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'beatloom', 'native');
}

export function resolveNativeSettings(config: NativeConfig): NativeSettings {
  if (config.checkpoint === undefined) {
    throw usageError(
      'E_NATIVE_CONFIG',
      'the native engine needs an SD 1.5 checkpoint',
      'give --native-checkpoint <file.safetensors> (or native.checkpoint in beatloom.config.yaml)',
    );
  }
  if (config.motionModel === undefined) {
    throw usageError(
      'E_NATIVE_CONFIG',
      'the native engine needs an AnimateDiff-Lightning motion module',
      'give --native-motion-model <animatediff_lightning_4step_comfyui.safetensors> (or native.motionModel in beatloom.config.yaml)',
    );
  }
  const motionModel = resolve(config.motionModel);
  return {
    checkpoint: resolve(config.checkpoint),
    motionModel,
    vocab: config.vocab === undefined ? undefined : resolve(config.vocab),
    cacheDir: resolve(config.cacheDir ?? defaultNativeCacheDir()),
    steps: config.steps ?? stepsFromMotionModel(motionModel) ?? 4,
    provider: config.provider ?? 'auto',
    threads: config.threads,
    loras: (config.loras ?? []).map((lora) => ({
      path: resolve(lora.path),
      strengthModel: lora.strengthModel ?? 1,
      strengthClip: lora.strengthClip ?? 1,
    })),
  };
}
