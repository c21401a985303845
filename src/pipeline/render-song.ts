/**
 * The orchestrator. It reads like the diagram in DESIGN.md:
 * decode → analyze → map → plan → render → stitch, every artifact in the run directory.
 */
import { analyzeFile } from '../analysis/analyze.js';
import { analysisSchema, ANALYSIS_VERSION, type Analysis } from '../analysis/analysis-schema.js';
import { loadMapping } from '../config/load-mapping.js';
import { createEngine, type EngineConfig } from '../engines/registry.js';
import { buildKeyframes } from '../keyframes/build-keyframes.js';
import { frameFileName } from '../engines/engine.js';
import { formatFps, type Rational, type SampleDuration } from '../keyframes/time.js';
import { hashFile } from '../shared/hash.js';
import type { TaskOptions } from '../shared/progress.js';
import { VERSION } from '../shared/version.js';
import { DEFAULT_ENCODE_SETTINGS, stitchVideo, type EncodeSettings } from '../stitching/stitch-video.js';
import { assertWritableOutput } from './output-path.js';
import { buildRenderPlan } from './render-plan.js';
import { renderSegments } from './render-segments.js';
import { openRunDir, readArtifact, writeArtifact, type RunDir } from './run-dir.js';

export interface RenderRequest {
  readonly audioPath: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly mappingPath: string;
  readonly engineId: string;
  /** Engine settings besides the id (the comfyui engine's servers and models, a notice sink). */
  readonly engineOptions?: Omit<EngineConfig, 'id'>;
  readonly fps: Rational;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  readonly runDir: string;
  /** Where the video goes; defaults to <runDir>/out.mp4. */
  readonly outPath?: string;
  readonly encode?: EncodeSettings;
}

export interface RenderSummary {
  readonly outPath: string;
  readonly frameCount: number;
  readonly duration: SampleDuration;
  readonly segments: number;
  readonly renderedSegments: number;
  readonly cachedSegments: number;
  readonly bpm: number | null;
}

async function analysisFor(run: RunDir, audioPath: string, options: TaskOptions): Promise<Analysis> {
  const sha256 = await hashFile(audioPath).catch(() => undefined);
  const cached = await readArtifact(run.analysisJson, analysisSchema);
  if (cached && sha256 && cached.source.sha256 === sha256 && cached.version === ANALYSIS_VERSION) return cached;
  options.onProgress?.({ stage: 'analyze', done: 0, total: 1, unit: 'steps', detail: 'decoding and analysing the audio' });
  const analysis = await analyzeFile(audioPath, { signal: options.signal });
  const withHash = { ...analysis, source: { ...analysis.source, sha256 } };
  await writeArtifact(run.analysisJson, withHash);
  options.onProgress?.({ stage: 'analyze', done: 1, total: 1, unit: 'steps' });
  return withHash;
}

export async function renderSong(request: RenderRequest, options: TaskOptions = {}): Promise<RenderSummary> {
  const encode = request.encode ?? DEFAULT_ENCODE_SETTINGS;
  const engine = createEngine({ ...request.engineOptions, id: request.engineId });
  const mapping = await loadMapping(request.mappingPath);
  const run = await openRunDir(request.runDir);
  const outPath = request.outPath ?? run.outMp4;
  await assertWritableOutput(outPath, encode.codec);
  try {
    // Fail fast: a server without the models is found out before minutes of analysis.
    await engine.prepare?.({ signal: options.signal });
    const analysis = await analysisFor(run, request.audioPath, options);
    const duration = { sampleCount: analysis.source.sampleCount, sampleRateHz: analysis.source.sampleRateHz };

    const keyframes = buildKeyframes(analysis, mapping, { fps: request.fps, duration, prompt: request.prompt, seed: request.seed });
    await writeArtifact(run.keyframesJson, keyframes);
    options.onProgress?.({ stage: 'keyframes', done: 1, total: 1, unit: 'steps', detail: `${keyframes.segments.length} segments` });

    const plan = buildRenderPlan(keyframes, {
      engineId: engine.id,
      engineFingerprint: engine.settingsFingerprint,
      width: request.width,
      height: request.height,
      negativePrompt: request.negativePrompt,
      cfg: 1,
      steps: 4,
    });
    await writeArtifact(run.planJson, plan);
    await writeArtifact(run.runJson, {
      version: 1,
      tool: `beatloom ${VERSION}`,
      inputs: { audio: { path: request.audioPath, sha256: analysis.source.sha256 }, mapping: { path: request.mappingPath, resolved: mapping } },
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      seed: request.seed,
      fps: formatFps(request.fps),
      size: { width: request.width, height: request.height },
      engine: { id: engine.id, settings: engine.settingsFingerprint },
      encode,
      outPath,
    });

    const rendered = await renderSegments(plan, engine, run, options);
    await stitchVideo(
      {
        segments: plan.jobs,
        frameCount: keyframes.frameCount,
        width: request.width,
        height: request.height,
        fps: request.fps,
        segmentDir: run.segmentDir,
        frameFile: frameFileName,
      },
      { audioPath: request.audioPath, duration, outPath, encode },
      options,
    );
    return {
      outPath,
      frameCount: keyframes.frameCount,
      duration,
      segments: plan.jobs.length,
      renderedSegments: rendered.rendered,
      cachedSegments: rendered.cached,
      bpm: analysis.bpm,
    };
  } finally {
    await engine.close();
  }
}
