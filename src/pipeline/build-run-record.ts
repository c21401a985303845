import type { RenderEngine } from '../engines/engine.js';
import { ANALYSIS_VERSION } from '../analysis/analysis-schema.js';
import { KEYFRAMES_VERSION } from '../keyframes/keyframes-schema.js';
import { formatFps } from '../shared/media-time.js';
import { VERSION } from '../shared/version.js';
import type { OutputSettings } from '../stitching/output-settings.js';
import type { PreparedRender } from './prepare-render.js';
import { planHash, PLAN_VERSION, SEGMENT_HASH_VERSION } from './render-plan.js';
import type { RenderRequest } from './render-request.js';
import { currentEnvironment, RUN_RECORD_VERSION, type RunRecord } from '../run/run-record.js';

export interface RunRecordInput {
  readonly request: RenderRequest;
  readonly prepared: PreparedRender;
  readonly engine: RenderEngine;
  readonly output: OutputSettings;
  readonly ffmpeg: { readonly path: string; readonly version: string };
  readonly startedAt: Date;
}

/** run.json as a render starts: the inputs and settings; counts and timings come as it goes. */
export function buildRunRecord(input: RunRecordInput): RunRecord {
  const { request, prepared, engine, output, startedAt } = input;
  const { plan } = prepared;
  return {
    version: RUN_RECORD_VERSION,
    tool: { name: 'beatloom', version: VERSION },
    status: 'rendering',
    inputs: { audio: prepared.audio, mapping: prepared.mapping },
    prompt: prepared.texts.prompt,
    negativePrompt: prepared.texts.negative,
    seeds: { base: request.seed, used: [...new Set(plan.jobs.map((job) => job.seed))].sort((a, b) => a - b) },
    video: {
      fps: formatFps(request.fps),
      frameCount: plan.frameCount,
      width: plan.width,
      height: plan.height,
      continuity: plan.continuity,
    },
    engine: {
      id: engine.id,
      settings: { ...engine.settingsFingerprint },
      concurrency: engine.capabilities.concurrency,
    },
    sampler: { ...engine.sampler },
    encode: { ...output },
    ffmpeg: { ...input.ffmpeg },
    plan: {
      hash: planHash(plan),
      segments: plan.jobs.length,
      planVersion: PLAN_VERSION,
      segmentHashVersion: SEGMENT_HASH_VERSION,
      analysisVersion: ANALYSIS_VERSION,
      keyframesVersion: KEYFRAMES_VERSION,
    },
    segments: { rendered: 0, reused: 0 },
    output: null,
    timings: {
      startedAt: startedAt.toISOString(),
      finishedAt: null,
      analyzeMs: Math.round(prepared.analyzeMs),
      planMs: Math.round(prepared.planMs),
      renderMs: 0,
      engineMs: 0,
      stitchMs: 0,
      totalMs: 0,
    },
    environment: currentEnvironment(),
  };
}
