/**
 * Reads a batch file and resolves every job to a complete render request and engine spec.
 *
 * Engine settings, strongest first: the job, the batch file's defaults, then what `render`
 * would use — flags, BEATLOOM_COMFY_URL, the config file (the `base` selection). The engine id
 * follows the same order. A job's comfyui settings merge key by key over those below them, so a
 * job can change the checkpoint and keep the servers. The defaults' engineOptions are for the
 * defaults' engine: a job on another engine does not take them.
 */
import { readUserText } from '../shared/read-text.js';
import { dirname, join, resolve } from 'node:path';
import {
  mergeEngineSettings,
  resolveComfyPaths,
  resolveNativePaths,
  type EngineSelection,
} from '../engines/engine-config.js';
import type { ComfyuiConfig } from '../engines/comfyui/comfy-config.js';
import type { NativeConfig } from '../engines/native/native-config.js';
import { parseYamlWithSchema } from '../config/yaml-file.js';
import { parseFps } from '../shared/media-time.js';
import { serverUrls } from '../engines/comfyui/settings.js';
import type { EngineId } from '../engines/registry.js';
import { parseSize } from '../config/render-values.js';
import { RENDER_DEFAULTS, type RenderRequest } from '../pipeline/render-request.js';
import { DEFAULT_MAPPING_PATH } from '../shared/package-root.js';
import { BeatloomError, usageError } from '../shared/errors.js';
import { assertNotAnInput, type NamedPath } from '../shared/same-file.js';
import { inputsOf } from '../pipeline/output-path.js';
import { stableStringify } from '../shared/hash.js';
import {
  batchFileSchema,
  jobNameOf,
  jobPaths,
  type BatchFile,
  type BatchFileDefaults,
  type BatchFileJob,
} from './batch-schema.js';

/** A job's engine: the engine config's variants (src/engines/registry.ts), options as the batch file gives them. */
export type EngineSpec =
  | { readonly id: 'preview'; readonly options: Readonly<Record<string, unknown>> }
  | { readonly id: 'comfyui'; readonly options: ComfyuiConfig }
  | { readonly id: 'native'; readonly options: NativeConfig };

export interface BatchJob {
  /** Position in the batch file: earlier jobs go first wherever jobs queue. */
  readonly index: number;
  readonly name: string;
  readonly engine: EngineSpec;
  readonly request: RenderRequest;
}

export interface Batch {
  readonly path: string;
  readonly jobs: readonly BatchJob[];
}

/** Jobs with equal specs share one engine (and its concurrency). */
export function engineSpecKey(spec: EngineSpec): string {
  // `url: "a, b"` and `url: [a, b/]` are the same servers: one engine, one set of slots for them.
  if (spec.id !== 'comfyui' || spec.options.url === undefined) return stableStringify(spec);
  const { url } = spec.options;
  let urls: string[];
  try {
    urls = serverUrls(url);
  } catch {
    return stableStringify(spec); // a bad list: the engine made for it says what is wrong
  }
  return stableStringify({ ...spec, options: { ...spec.options, url: urls } });
}

/** What a batch job gets when neither it nor the defaults say: `render`'s defaults, no config file. */
export const NO_ENGINE_SELECTION: EngineSelection = { engineId: RENDER_DEFAULTS.engineId, comfyui: {} };

/** A job's engine: its id and options after the job, the defaults and the base selection (see the top). */
export function jobEngineSpec(
  job: BatchFileJob,
  defaults: BatchFileDefaults,
  base: EngineSelection,
  baseDir: string,
): EngineSpec {
  const defaultsEngine = defaults.engine ?? base.engineId;
  const id = (job.engine ?? defaultsEngine) as EngineId;
  const fromDefaults = id === defaultsEngine ? (defaults.engineOptions ?? {}) : {};
  const fromJob = job.engineOptions ?? {};
  switch (id) {
    case 'preview':
      return { id, options: { ...fromDefaults, ...fromJob } };
    case 'comfyui': {
      // The batch schema checked both against comfyuiConfigSchema; their paths are relative to the batch file.
      const fileOptions = (options: Record<string, unknown>): ComfyuiConfig => resolveComfyPaths(options, baseDir);
      return { id, options: mergeEngineSettings(base.comfyui, fileOptions(fromDefaults), fileOptions(fromJob)) };
    }
    case 'native': {
      const fileOptions = (options: Record<string, unknown>): NativeConfig => resolveNativePaths(options, baseDir);
      return { id, options: mergeEngineSettings(base.native ?? {}, fileOptions(fromDefaults), fileOptions(fromJob)) };
    }
  }
}

export function resolveBatch(
  file: BatchFile,
  baseDir: string,
  base: EngineSelection = NO_ENGINE_SELECTION,
): BatchJob[] {
  const d = file.defaults;
  return file.jobs.map((job, index) => {
    const { runDir, outPath } = jobPaths(job, file.runsDir, baseDir);
    const size = job.size ?? d.size ?? parseSize(RENDER_DEFAULTS.size);
    const mapping = job.mapping ?? d.mapping;
    const engine = jobEngineSpec(job, d, base, baseDir);
    return {
      index,
      name: jobNameOf(job),
      engine,
      request: {
        audioPath: resolve(baseDir, job.audio),
        prompt: job.prompt ?? d.prompt,
        negativePrompt: job.negative ?? d.negative,
        mappingPath: mapping === undefined ? DEFAULT_MAPPING_PATH : resolve(baseDir, mapping),
        engineId: engine.id,
        fps: job.fps ?? d.fps ?? parseFps(RENDER_DEFAULTS.fps),
        width: size.width,
        height: size.height,
        seed: job.seed ?? d.seed ?? RENDER_DEFAULTS.seed,
        runDir,
        outPath,
      },
    };
  });
}

/** `base`: the engine and settings a job gets from flags, environment and config file (see the top). */
export function parseBatch(text: string, path: string, base: EngineSelection = NO_ENGINE_SELECTION): Batch {
  const baseDir = dirname(resolve(path));
  const file = parseYamlWithSchema(text, path, batchFileSchema(baseDir, base.engineId), {
    syntax: 'E_BATCH_YAML',
    invalid: 'E_BATCH',
    hint: 'see `beatloom batch --help` for the format',
  });
  return { path: resolve(path), jobs: resolveBatch(file, baseDir, base) };
}

export async function loadBatch(path: string, base: EngineSelection = NO_ENGINE_SELECTION): Promise<Batch> {
  let text: string;
  try {
    text = await readUserText(path, 'batch file');
  } catch (error) {
    if (error instanceof BeatloomError) throw error;
    throw usageError('E_BATCH_MISSING', `batch file not found: ${path}`, 'give the path of a YAML batch file');
  }
  return guardInputs(parseBatch(text, path, base), base.configPath);
}

/**
 * No job writes over what any job reads (its song, its mapping, another job's song, the batch
 * file, the config file): checked for every job before any work, and again by each render.
 */
async function guardInputs(batch: Batch, configPath: string | undefined): Promise<Batch> {
  const readFiles: NamedPath[] = [
    { path: batch.path, what: 'the batch file' },
    ...(configPath === undefined ? [] : [{ path: configPath, what: 'the config file' }]),
    ...batch.jobs.flatMap((job) => inputsOf(job.request).map((p) => ({ ...p, what: `${p.what} of job ${job.name}` }))),
  ];
  const jobs = batch.jobs.map((job) => ({ ...job, request: { ...job.request, readFiles } }));
  for (const job of jobs) {
    const outPath = job.request.outPath ?? join(job.request.runDir, 'out.mp4');
    try {
      await assertNotAnInput({ path: outPath, what: 'output' }, inputsOf(job.request));
    } catch (error) {
      if (!(error instanceof BeatloomError)) throw error;
      throw usageError(error.code, `${batch.path}: job ${job.name}: ${error.message}`, error.hint);
    }
  }
  return { ...batch, jobs };
}
