/**
 * beatloom as a library (`import { renderSong } from 'beatloom'`): the same steps the CLI runs.
 * Analyse a song, plan its keyframes, render it through an engine, verify the result, or run a
 * batch. Everything else in src/ is internal and may change between versions.
 */
export { analyzeSong, type AnalyzeSongRequest, type PlotFormat } from './pipeline/analyze-song.js';
export { planSong, type PlanRequest, type PlanResult } from './pipeline/plan-song.js';
export { renderSong, type RenderOptions, type RenderSummary } from './pipeline/render-song.js';
export type { RenderRequest, SongRequest } from './pipeline/render-request.js';
export { verifyRender, type VerifyRenderRequest, type VerifyReport } from './pipeline/verify-render.js';
export type { SeamBoundary, SeamReport } from './pipeline/measure-seams.js';
export { dryRunSong, type DryRunReport } from './dry-run/dry-run-song.js';
export { loadBatch, type Batch } from './batch/load-batch.js';
export { runBatch, type BatchOptions } from './batch/run-batch.js';
export { createEngine, ENGINE_IDS, type EngineConfig, type EngineId } from './engines/registry.js';
export type { RenderEngine, SegmentJob, SegmentResult, EngineCapabilities } from './engines/engine.js';
export type { Analysis } from './analysis/analysis-schema.js';
export type { Keyframes } from './keyframes/keyframes-schema.js';
export type { Mapping } from './config/mapping-schema.js';
export { AbortedError, BeatloomError, type ErrorKind } from './shared/errors.js';
export { ERROR_CODES, type ErrorCode } from './shared/error-codes.js';
export { formatFps, parseFps, rational, type Rational } from './shared/media-time.js';
