/**
 * Runs a batch: every job is a render (or a dry run) of its own, and all of them go at once,
 * sharing what they must. Each engine's slots hold its concurrency across jobs; analysis and
 * encoding, CPU-heavy, take turns. So song N+1 is analysed while song N renders, and song N is
 * encoded while song N+1 renders. Everything queues by job order, so the first videos finish
 * first. Each engine is prepared once (for ComfyUI: its servers checked), by the first job that
 * needs it. A job's failure is a value in the result; the other jobs go on.
 */
import { setMaxListeners } from 'node:events';
import { dryRunSong } from '../dry-run/dry-run-song.js';
import type { CalibrationCache } from '../dry-run/estimate-engine-time.js';
import { JobTurns } from '../scheduling/job-turns.js';
import { PrioritySlots } from '../scheduling/priority-slots.js';
import { renderSong, type SharedResources } from '../pipeline/render-song.js';
import { BeatloomError, formatErrorLine, isAbortError } from '../shared/errors.js';
import { fsFaultError } from '../shared/fs-faults.js';
import type { ProgressEvent } from '../shared/progress.js';
import type { BatchEvent, BatchResult, JobError, JobOutcome, JobResult } from './batch-events.js';
import { EnginePool, type EngineFactory } from './engine-pool.js';
import type { Batch, BatchJob } from './load-batch.js';

export interface BatchOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: BatchEvent) => void;
  /** As for a render: ignore every job's run directory caches. */
  readonly force?: boolean;
  /** Plan every job and estimate engine time; render nothing. */
  readonly dryRun?: boolean;
  readonly engineFactory?: EngineFactory;
}

export function jobErrorOf(thrown: unknown): JobError {
  const error = fsFaultError(thrown) ?? thrown;
  if (error instanceof BeatloomError) return { code: error.code, message: formatErrorLine(error), unexpected: false };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'E_UNEXPECTED', message, unexpected: true, stack: error instanceof Error ? error.stack : undefined };
}

export async function runBatch(batch: Batch, options: BatchOptions = {}): Promise<BatchResult> {
  const started = performance.now();
  const emit = (event: BatchEvent): void => options.onEvent?.(event);
  const pool = new EnginePool(options.engineFactory, (message) => emit({ type: 'notice', message }));
  // Analysis strictly in job order: the first song is analysed first, so its segments queue first.
  const prepareSlots = new JobTurns();
  const stitchSlots = new PrioritySlots(1);
  const calibrations: CalibrationCache = new Map();
  // One signal for all jobs, so the caller's signal carries one listener however long the batch.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  const runJob = async (job: BatchJob): Promise<JobResult> => {
    const jobStarted = performance.now();
    let outcome: JobOutcome;
    try {
      const pooled = await pool.get(job.engine, stop.signal);
      const shared: SharedResources = {
        engine: pooled.engine,
        engineSlots: pooled.slots,
        prepareSlots,
        stitchSlots,
        priority: job.index,
      };
      const taskOptions = {
        signal: stop.signal,
        force: options.force,
        shared,
        onProgress: (progress: ProgressEvent) => emit({ type: 'job-progress', job: job.index, progress }),
      };
      outcome = options.dryRun
        ? { status: 'planned', report: await dryRunSong(job.request, { ...taskOptions, calibrations }) }
        : { status: 'done', summary: await renderSong(job.request, taskOptions) };
    } catch (error) {
      outcome =
        stop.signal.aborted && isAbortError(error)
          ? { status: 'interrupted' }
          : { status: 'failed', error: jobErrorOf(error) };
    }
    // A job that ended before its analysis (a bad output path, an engine that cannot be prepared) gives up its turn.
    prepareSlots.pass(job.index);
    const result: JobResult = { index: job.index, name: job.name, outcome, elapsedMs: performance.now() - jobStarted };
    emit({ type: 'job-end', job: job.index, result });
    return result;
  };

  emit({ type: 'batch-start', jobs: batch.jobs.map((job) => job.name) });
  try {
    const results = await Promise.all(batch.jobs.map(runJob));
    return { results, interrupted: options.signal?.aborted === true, elapsedMs: performance.now() - started };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await pool.closeAll();
  }
}
