/**
 * The step `render`, `plan` and a dry run share: a song and a mapping → its analysis (cached in
 * the run directory by the audio's content hash) → keyframes. Each caller checks what it must
 * between loading the mapping and analysing (a render: the engine has the mapping's LoRAs; a
 * plan: its outputs can be written), so mistakes are found before the analysis runs.
 */
import { analyzeFile } from '../analysis/analyze.js';
import { analysisSchema, ANALYSIS_VERSION, type Analysis } from '../analysis/analysis-schema.js';
import { loadMapping } from '../config/load-mapping.js';
import type { Mapping } from '../config/mapping-schema.js';
import { resolvePromptTexts, type PromptTexts } from '../config/prompt-texts.js';
import { buildKeyframes } from '../keyframes/build-keyframes.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { readArtifact, writeArtifact, type RunDir } from '../run/run-dir.js';
import { hashFile } from '../shared/hash.js';
import type { SampleDuration } from '../shared/media-time.js';
import type { TaskOptions } from '../shared/progress.js';
import type { SongRequest } from './render-request.js';

export interface AnalysisOptions extends TaskOptions {
  /** Analyse again even when analysis.json matches the audio. */
  readonly force?: boolean;
}

/** The mapping with what {prompt} and {negative} stand for. */
export interface SongMapping {
  readonly mapping: Mapping;
  readonly texts: PromptTexts;
}

export interface SongKeyframes {
  readonly analysis: Analysis;
  readonly keyframes: Keyframes;
  readonly duration: SampleDuration;
  readonly audioSha256: string;
  readonly analyzeMs: number;
  readonly keyframesMs: number;
}

export async function loadSongMapping(request: SongRequest): Promise<SongMapping> {
  const mapping = await loadMapping(request.mappingPath);
  const texts = resolvePromptTexts(
    mapping,
    { prompt: request.prompt, negative: request.negativePrompt },
    request.mappingPath,
  );
  return { mapping, texts };
}

/** The song's analysis: analysis.json when it was made from the same audio (by content hash), else a fresh one. */
export async function analysisFor(
  run: RunDir,
  audioPath: string,
  sha256: string,
  options: AnalysisOptions,
): Promise<Analysis> {
  const cached = options.force ? undefined : await readArtifact(run.analysisJson, analysisSchema);
  if (cached && cached.source.sha256 === sha256 && cached.version === ANALYSIS_VERSION) return cached;
  options.onProgress?.({
    stage: 'analyze',
    done: 0,
    total: 1,
    unit: 'steps',
    detail: 'decoding and analysing the audio',
  });
  const analysis = await analyzeFile(audioPath, { signal: options.signal });
  const withHash = { ...analysis, source: { ...analysis.source, sha256 } };
  await writeArtifact(run.analysisJson, withHash);
  options.onProgress?.({ stage: 'analyze', done: 1, total: 1, unit: 'steps' });
  return withHash;
}

export async function prepareKeyframes(
  request: SongRequest,
  run: RunDir,
  { mapping, texts }: SongMapping,
  options: AnalysisOptions,
): Promise<SongKeyframes> {
  const analyzeStarted = performance.now();
  const audioSha256 = await hashFile(request.audioPath);
  const analysis = await analysisFor(run, request.audioPath, audioSha256, options);
  const analyzeMs = performance.now() - analyzeStarted;
  const keyframesStarted = performance.now();
  const { source } = analysis;
  const duration = { sampleCount: source.sampleCount, sampleRateHz: source.sampleRateHz };
  const keyframes = buildKeyframes(analysis, mapping, { fps: request.fps, duration, texts, seed: request.seed });
  return { analysis, keyframes, duration, audioSha256, analyzeMs, keyframesMs: performance.now() - keyframesStarted };
}
