/**
 * run.json: everything needed to make the same video again — the inputs with their content
 * hashes, the resolved mapping, the tool, engine, sampler and encoder settings, the seeds — and
 * what this run did (segments rendered and reused, timings, the output's hash).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { continuitySchema } from '../shared/continuity.js';
import { formatErrorLine, isAbortError, BeatloomError } from '../shared/errors.js';
import { fpsSchema } from '../shared/media-time.js';

export const RUN_RECORD_VERSION = 1;

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);

export const audioInputSchema = z
  .object({
    path: z.string(),
    sha256: sha256Schema,
    sizeBytes: z.number().int().nonnegative(),
    codec: z.string(),
    channels: z.number().int().positive(),
    sourceSampleRateHz: z.number().int().positive(),
    /** The decoded length that decides the frame count: sampleCount / sampleRateHz. */
    sampleCount: z.number().int().nonnegative(),
    sampleRateHz: z.number().int().positive(),
    durationSec: z.number().nonnegative(),
  })
  .strict();

export const mappingInputSchema = z
  .object({
    path: z.string(),
    sha256: sha256Schema,
    /** The mapping with every default filled in: what was actually used. */
    resolved: z.record(z.string(), z.unknown()),
  })
  .strict();

export const outputRecordSchema = z
  .object({
    path: z.string(),
    sha256: sha256Schema,
    sizeBytes: z.number().int().nonnegative(),
    mtimeMs: z.number(),
    /** Hash of everything the stitch depends on: equal keys, equal video (see stitch-output.ts). */
    stitchKey: z.string(),
  })
  .strict();

export const runStatusSchema = z.enum(['rendering', 'complete', 'failed', 'interrupted']);

export const runRecordSchema = z
  .object({
    version: z.literal(RUN_RECORD_VERSION),
    tool: z.object({ name: z.literal('beatloom'), version: z.string() }).strict(),
    status: runStatusSchema,
    inputs: z.object({ audio: audioInputSchema, mapping: mappingInputSchema }).strict(),
    prompt: z.string(),
    negativePrompt: z.string(),
    seeds: z
      .object({
        /** --seed: the mapping derives each segment's seed from it. */
        base: z.number().int().nonnegative(),
        /** Every seed a segment uses, ascending (plan.json has each segment's). */
        used: z.array(z.number().int().nonnegative()),
      })
      .strict(),
    video: z
      .object({
        fps: fpsSchema,
        frameCount: z.number().int().nonnegative(),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        continuity: continuitySchema,
      })
      .strict(),
    engine: z
      .object({
        id: z.string(),
        /** The engine's settings fingerprint (model names, versions…): part of every segment hash. */
        settings: z.record(z.string(), z.unknown()),
        concurrency: z.number().int().positive(),
      })
      .strict(),
    sampler: z.object({ steps: z.number().int().positive() }).strict(),
    /** The stitcher's encoder settings as given to it. */
    encode: z.record(z.string(), z.unknown()),
    ffmpeg: z.object({ path: z.string(), version: z.string() }).strict(),
    plan: z
      .object({
        hash: z.string(),
        segments: z.number().int().nonnegative(),
        planVersion: z.number().int(),
        segmentHashVersion: z.number().int(),
        analysisVersion: z.number().int(),
        keyframesVersion: z.number().int(),
      })
      .strict(),
    segments: z.object({ rendered: z.number().int().nonnegative(), reused: z.number().int().nonnegative() }).strict(),
    output: outputRecordSchema.nullable(),
    timings: z
      .object({
        startedAt: z.string(),
        finishedAt: z.string().nullable(),
        analyzeMs: z.number().nonnegative(),
        planMs: z.number().nonnegative(),
        renderMs: z.number().nonnegative(),
        /** Sum of the engine's own time over the segments rendered in this run. */
        engineMs: z.number().nonnegative(),
        stitchMs: z.number().nonnegative(),
        totalMs: z.number().nonnegative(),
      })
      .strict(),
    environment: z
      .object({
        node: z.string(),
        platform: z.string(),
        arch: z.string(),
        /** x264 picks its thread count from this, and its output bytes depend on the thread count. */
        cpus: z.number().int().positive(),
      })
      .strict(),
    error: z.object({ code: z.string(), message: z.string() }).strict().optional(),
  })
  .strict();

export type RunRecord = z.infer<typeof runRecordSchema>;
export type OutputRecord = z.infer<typeof outputRecordSchema>;
export type AudioInput = z.infer<typeof audioInputSchema>;
export type MappingInput = z.infer<typeof mappingInputSchema>;

export function currentEnvironment(): RunRecord['environment'] {
  return { node: process.version, platform: process.platform, arch: process.arch, cpus: availableParallelism() };
}

/** The record of a run that stopped: why, in one line. */
export function stoppedRecord(record: RunRecord, error: unknown, finishedAt: Date): RunRecord {
  const interrupted = isAbortError(error);
  const code = error instanceof BeatloomError ? error.code : 'E_UNEXPECTED';
  const message =
    error instanceof BeatloomError ? formatErrorLine(error) : error instanceof Error ? error.message : String(error);
  return {
    ...record,
    status: interrupted ? 'interrupted' : 'failed',
    timings: {
      ...record.timings,
      finishedAt: finishedAt.toISOString(),
      totalMs: finishedAt.getTime() - Date.parse(record.timings.startedAt),
    },
    error: { code, message },
  };
}
