/** Reads a batch file and resolves every job to a complete render request. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseYamlWithSchema } from '../config/yaml-file.js';
import { parseFps } from '../keyframes/time.js';
import type { EngineId } from '../engines/registry.js';
import { parseSize } from '../config/render-values.js';
import { RENDER_DEFAULTS, type RenderRequest } from '../pipeline/render-request.js';
import { DEFAULT_MAPPING_PATH } from '../shared/package-root.js';
import { usageError } from '../shared/errors.js';
import { stableStringify } from '../shared/hash.js';
import { batchFileSchema, jobNameOf, jobPaths, type BatchFile } from './batch-schema.js';

export interface EngineSpec {
  readonly id: EngineId;
  readonly options: Readonly<Record<string, unknown>>;
}

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
  return stableStringify(spec);
}

export function resolveBatch(file: BatchFile, baseDir: string): BatchJob[] {
  const d = file.defaults;
  return file.jobs.map((job, index) => {
    const { runDir, outPath } = jobPaths(job, file.runsDir, baseDir);
    const size = job.size ?? d.size ?? parseSize(RENDER_DEFAULTS.size);
    const mapping = job.mapping ?? d.mapping;
    const engineId = (job.engine ?? d.engine ?? RENDER_DEFAULTS.engineId) as EngineId;
    return {
      index,
      name: jobNameOf(job),
      engine: { id: engineId, options: job.engineOptions ?? d.engineOptions ?? {} },
      request: {
        audioPath: resolve(baseDir, job.audio),
        prompt: job.prompt ?? d.prompt,
        negativePrompt: job.negative ?? d.negative,
        mappingPath: mapping === undefined ? DEFAULT_MAPPING_PATH : resolve(baseDir, mapping),
        engineId,
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

export function parseBatch(text: string, path: string): Batch {
  const baseDir = dirname(resolve(path));
  const file = parseYamlWithSchema(text, path, batchFileSchema(baseDir), {
    syntax: 'E_BATCH_YAML',
    invalid: 'E_BATCH',
    hint: 'see `beatloom batch --help` for the format',
  });
  return { path: resolve(path), jobs: resolveBatch(file, baseDir) };
}

export async function loadBatch(path: string): Promise<Batch> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw usageError('E_BATCH_MISSING', `batch file not found: ${path}`, 'give the path of a YAML batch file');
  }
  return parseBatch(text, path);
}
