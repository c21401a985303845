/**
 * The planning half of a render: mapping, analysis (cached by the audio's content hash),
 * keyframes and the render plan. Both a render and a dry run go through here, so a dry run
 * shows exactly the plan a render would follow.
 */
import { stat } from 'node:fs/promises';
import type { TransitionSettings } from '../config/mapping-schema.js';
import type { PromptTexts } from '../config/prompt-texts.js';
import type { RenderEngine } from '../engines/engine.js';
import { assertReadableFile } from '../ffmpeg/decode-audio.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import type { SampleDuration } from '../shared/media-time.js';
import { hashFile } from '../shared/hash.js';

import { buildRenderPlan, type RenderPlan, renderPlanSchema } from './render-plan.js';
import type { RenderRequest } from './render-request.js';
import type { AudioInput, MappingInput } from '../run/run-record.js';
import { writeArtifact, type RunDir } from '../run/run-dir.js';
import { loadSongMapping, prepareKeyframes, type AnalysisOptions } from './prepare-keyframes.js';
import { keyframesSchema } from '../keyframes/keyframes-schema.js';

export interface PreparedRender {
  /** What {prompt} and {negative} stood for. */
  readonly texts: PromptTexts;
  /** The song's beats and bar starts (for cuts on beats and the debug overlay). */
  readonly beats: { readonly beats: readonly number[]; readonly downbeats: readonly number[] };
  /** How segments meet in the video (the mapping's transitions). */
  readonly transitions: TransitionSettings;
  readonly keyframes: Keyframes;
  readonly plan: RenderPlan;
  readonly duration: SampleDuration;
  readonly bpm: number | null;
  readonly audio: AudioInput;
  readonly mapping: MappingInput;
  readonly analyzeMs: number;
  readonly planMs: number;
}

export interface PrepareOptions extends AnalysisOptions {
  /** Write keyframes.json and plan.json into the run directory (a dry run does not). */
  readonly writePlan: boolean;
}

/** The engine as planning sees it: prepared already, so its fingerprint and sampler are settled. */
export type PlanningEngine = Pick<
  RenderEngine,
  'id' | 'settingsFingerprint' | 'sampler' | 'capabilities' | 'checkNeeds' | 'reviewJobs'
>;

export async function prepareRender(
  request: RenderRequest,
  engine: PlanningEngine,
  run: RunDir,
  options: PrepareOptions,
): Promise<PreparedRender> {
  const song = await loadSongMapping(request);
  const { mapping, texts } = song;
  // Fail fast: a LoRA the mapping drives that the server lacks is found out before the analysis.
  engine.checkNeeds({
    loras: Object.keys(mapping.targets.loras),
    motionLoras: Object.keys(mapping.targets.motionLoras),
  });
  const mappingSha256 = await hashFile(request.mappingPath);
  await assertReadableFile(request.audioPath);
  const [audioStat, { analysis, keyframes, duration, audioSha256, analyzeMs, keyframesMs }] = await Promise.all([
    stat(request.audioPath),
    prepareKeyframes(request, run, song, options),
  ]);
  const planStarted = performance.now();
  const { source } = analysis;
  const planned = buildRenderPlan(keyframes, {
    engineId: engine.id,
    engineFingerprint: engine.settingsFingerprint,
    width: request.width,
    height: request.height,
    steps: engine.sampler.steps,
    capabilities: engine.capabilities,
  });
  const plan = { ...planned, notices: [...planned.notices, ...(engine.reviewJobs?.(planned.jobs) ?? [])] };
  if (options.writePlan) {
    await writeArtifact(run.keyframesJson, keyframesSchema, keyframes);
    await writeArtifact(run.planJson, renderPlanSchema, plan);
  }
  options.onProgress?.({
    stage: 'keyframes',
    done: 1,
    total: 1,
    unit: 'steps',
    detail: `${keyframes.segments.length} segments`,
  });
  return {
    texts,
    beats: { beats: analysis.beats, downbeats: analysis.downbeats },
    transitions: mapping.transitions,
    keyframes,
    plan,
    duration,
    bpm: analysis.bpm,
    audio: {
      path: request.audioPath,
      sha256: audioSha256,
      sizeBytes: audioStat.size,
      codec: source.codec,
      channels: source.channels,
      sourceSampleRateHz: source.sourceSampleRateHz,
      sampleCount: source.sampleCount,
      sampleRateHz: source.sampleRateHz,
      durationSec: source.durationSec,
    },
    mapping: {
      path: request.mappingPath,
      sha256: mappingSha256,
      resolved: mapping,
    },
    analyzeMs,
    planMs: keyframesMs + (performance.now() - planStarted),
  };
}
