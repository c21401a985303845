/**
 * The orchestrator. It reads like the diagram in DESIGN.md:
 * decode → analyze → map → plan → render → stitch, every artifact in the run directory.
 */
import { join } from 'node:path';
import { analyzeFile } from '../analysis/analyze.js';
import { analysisSchema, ANALYSIS_VERSION, type Analysis } from '../analysis/analysis-schema.js';
import { loadMapping } from '../config/load-mapping.js';
import { createEngine } from '../engines/registry.js';
import { buildKeyframes } from '../keyframes/build-keyframes.js';
import { frameFileName } from '../engines/engine.js';
import { formatFps, type Rational, type SampleDuration } from '../keyframes/time.js';
import { hashFile } from '../shared/hash.js';
import type { TaskOptions } from '../shared/progress.js';
import { VERSION } from '../shared/version.js';
import { prepareAudioTrack } from '../stitching/audio-track.js';
import { overlayDataFor } from '../stitching/debug-overlay.js';
import { transitionsFor } from '../stitching/frame-sources.js';
import { assertPostStepsFit, DEFAULT_OUTPUT_SETTINGS, defaultOutputName, type OutputSettings } from '../stitching/output-settings.js';
import { stitchVideo } from '../stitching/stitch-video.js';
import { assertWritableFolder, assertWritableOutput } from './output-path.js';
import { buildRenderPlan } from './render-plan.js';
import { renderSegments } from './render-segments.js';
import { openRunDir, readArtifact, writeArtifact, type RunDir } from './run-dir.js';

export interface RenderRequest {
  readonly audioPath: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly mappingPath: string;
  readonly engineId: string;
  readonly fps: Rational;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  readonly runDir: string;
  /** Where the video goes; defaults to <runDir>/out.mp4 (see defaultOutputName). */
  readonly outPath?: string;
  readonly output?: OutputSettings;
}

export interface RenderSummary {
  readonly outPath: string;
  /** Frames in the output, at outputFps (the render's rate unless interpolated). */
  readonly frameCount: number;
  readonly outputFps: string;
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
  const output = request.output ?? DEFAULT_OUTPUT_SETTINGS;
  assertPostStepsFit(output, request);
  const engine = createEngine({ id: request.engineId });
  const mapping = await loadMapping(request.mappingPath);
  const run = await openRunDir(request.runDir);
  const outPath = request.outPath ?? join(run.root, defaultOutputName(output));
  if (output.target === 'frames') await assertWritableFolder(outPath);
  else await assertWritableOutput(outPath, output.codec);
  const audioAbort = new AbortController();
  let audioTrack: Promise<string> | undefined;
  try {
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
      output,
      outPath,
    });

    // The song's track is encoded while the segments render, and kept for later stitches.
    audioTrack =
      output.target === 'video'
        ? prepareAudioTrack(
            { songPath: request.audioPath, songKey: analysis.source.sha256 ?? (await hashFile(request.audioPath)), duration, codec: output.codec, bitrateKbps: output.audioBitrateKbps },
            run.root,
            { signal: options.signal ? AbortSignal.any([options.signal, audioAbort.signal]) : audioAbort.signal },
          )
        : undefined;
    audioTrack?.catch(() => undefined);
    const rendered = await renderSegments(plan, engine, run, options);
    const stitched = await stitchVideo(
      {
        segments: plan.jobs,
        frameCount: keyframes.frameCount,
        width: request.width,
        height: request.height,
        fps: request.fps,
        segmentDir: run.segmentDir,
        frameFile: frameFileName,
        transitions: transitionsFor(mapping.transitions, analysis, request.fps),
        overlay: output.debugOverlay ? overlayDataFor(keyframes, analysis, request.fps) : undefined,
      },
      { audioPath: request.audioPath, audioTrackPath: await audioTrack, duration, outPath, settings: output },
      options,
    );
    return {
      outPath,
      frameCount: stitched.frameCount,
      outputFps: formatFps(stitched.fps),
      duration,
      segments: plan.jobs.length,
      renderedSegments: rendered.rendered,
      cachedSegments: rendered.cached,
      bpm: analysis.bpm,
    };
  } finally {
    audioAbort.abort();
    await audioTrack?.catch(() => undefined);
    await engine.close();
  }
}
