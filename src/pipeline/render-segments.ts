/**
 * Renders every planned segment that is not already in the run directory with the same hash.
 * A segment is rendered into a temp folder and renamed to segments/NNNN only when all its
 * frames are there, so a folder named NNNN is always complete.
 */
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { frameFileName, type RenderEngine } from '../engines/engine.js';
import { AbortedError, BeatloomError, isAbortError, throwIfAborted } from '../shared/errors.js';
import { tempPathFor, writeJsonAtomic } from '../shared/fs-atomic.js';
import type { TaskOptions } from '../shared/progress.js';
import type { RenderPlan, PlannedJob } from './render-plan.js';
import type { RunDir } from './run-dir.js';

export const SEGMENT_MANIFEST = 'segment.json';

const segmentManifestSchema = z.object({ hash: z.string(), frameCount: z.number().int().positive(), elapsedMs: z.number() });

export interface RenderSegmentsSummary {
  readonly rendered: number;
  readonly cached: number;
  readonly engineMs: number;
}

async function isComplete(dir: string, job: PlannedJob): Promise<boolean> {
  try {
    const manifest = segmentManifestSchema.parse(JSON.parse(await readFile(join(dir, SEGMENT_MANIFEST), 'utf8')));
    if (manifest.hash !== job.hash || manifest.frameCount !== job.frameCount) return false;
    await access(join(dir, frameFileName(job.frameCount - 1)));
    return true;
  } catch {
    return false;
  }
}

function initImageFor(run: RunDir, plan: RenderPlan, job: PlannedJob): string | undefined {
  if (job.initFrom === null) return undefined;
  const source = plan.jobs[job.initFrom]!;
  const localFrame = plan.continuity === 'chain' ? source.frameCount - 1 : 0;
  return join(run.segmentDir(source.index), frameFileName(localFrame));
}

/** A counting semaphore: at most `size` holders at once, served first come, first served. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Renders the plan's missing segments, up to the engine's concurrency at once (one per ComfyUI
 * server, say). A segment that starts from another's frame (chain / anchor continuity) waits for
 * it. When one segment fails, the others are stopped, every finished segment is kept, and the
 * first real error is thrown.
 */
export async function renderSegments(plan: RenderPlan, engine: RenderEngine, run: RunDir, options: TaskOptions = {}): Promise<RenderSegmentsSummary> {
  const { onProgress } = options;
  const total = plan.jobs.length;
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const signal = stop.signal;
  const slots = new Slots(Math.max(1, engine.capabilities.concurrency));
  const useInit = engine.capabilities.initImage;
  let rendered = 0;
  let cached = 0;
  let finished = 0;
  let engineMs = 0;
  const progress: number[] = new Array<number>(total).fill(0);
  const report = (detail: string): void => {
    onProgress?.({ stage: 'render', done: Math.min(total, finished + progress.reduce((a, b) => a + b, 0)), total, unit: 'segments', detail });
  };

  const renderOne = async (job: PlannedJob): Promise<void> => {
    const finalDir = run.segmentDir(job.index);
    const label = `segment ${job.index + 1}/${total}`;
    if (await isComplete(finalDir, job)) {
      cached++;
      finished++;
      report(`${label} (cached)`);
      return;
    }
    await slots.acquire();
    const tempDir = tempPathFor(finalDir);
    try {
      throwIfAborted(signal);
      await mkdir(tempDir, { recursive: true });
      const { initFrom: _initFrom, ...segmentJob } = job;
      const initImagePath = useInit ? initImageFor(run, plan, job) : undefined;
      const result = await engine.renderSegment(segmentJob, {
        workDir: tempDir,
        initImagePath,
        signal,
        onProgress: (p) => {
          progress[job.index] = p.totalSteps > 0 ? Math.min(0.99, p.step / p.totalSteps) : 0;
          report(label);
        },
      });
      if (result.frameFiles.length !== job.frameCount) {
        throw new BeatloomError('E_ENGINE_FRAMES', `engine ${engine.id} returned ${result.frameFiles.length} frames for ${label}, expected ${job.frameCount}`, {
          hint: 'check the engine; the segment will be rendered again next run',
        });
      }
      for (let i = 0; i < result.frameFiles.length; i++) {
        const name = result.frameFiles[i]!;
        if (name !== frameFileName(i)) await rename(join(tempDir, name), join(tempDir, frameFileName(i)));
      }
      await writeJsonAtomic(join(tempDir, SEGMENT_MANIFEST), { hash: job.hash, frameCount: job.frameCount, elapsedMs: Math.round(result.elapsedMs) });
      await rm(finalDir, { recursive: true, force: true });
      await rename(tempDir, finalDir);
      engineMs += result.elapsedMs;
      rendered++;
      finished++;
      progress[job.index] = 0;
      report(label);
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true });
      throw error;
    } finally {
      slots.release();
    }
  };

  const done: Array<Promise<void>> = [];
  for (const job of plan.jobs) {
    const dependency = useInit && job.initFrom !== null ? done[job.initFrom] : undefined;
    const task = (async () => {
      if (dependency) await dependency;
      throwIfAborted(signal);
      await renderOne(job);
    })();
    // The first failure stops the rest; their own (abort) errors are not the news.
    task.catch(() => stop.abort());
    done.push(task);
  }
  const outcomes = await Promise.allSettled(done);
  options.signal?.removeEventListener('abort', onOuterAbort);
  const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
  if (failures.length > 0) {
    if (options.signal?.aborted) throw new AbortedError();
    throw failures.find((error) => !isAbortError(error)) ?? failures[0];
  }
  return { rendered, cached, engineMs };
}
