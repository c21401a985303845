/**
 * Renders every planned segment that is not already in the run directory with the same hash.
 * A segment is rendered into a temp folder and renamed to segments/NNNN only when all its
 * frames are there, so a folder named NNNN is always complete.
 */
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { frameFileName, type RenderEngine } from '../engines/engine.js';
import { BeatloomError, throwIfAborted } from '../shared/errors.js';
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

export async function renderSegments(plan: RenderPlan, engine: RenderEngine, run: RunDir, options: TaskOptions = {}): Promise<RenderSegmentsSummary> {
  const { signal, onProgress } = options;
  const total = plan.jobs.length;
  let rendered = 0;
  let cached = 0;
  let engineMs = 0;
  const useInit = engine.capabilities.initImage;
  for (const job of plan.jobs) {
    throwIfAborted(signal);
    const finalDir = run.segmentDir(job.index);
    const label = `segment ${job.index + 1}/${total}`;
    if (await isComplete(finalDir, job)) {
      cached++;
      onProgress?.({ stage: 'render', done: job.index + 1, total, unit: 'segments', detail: `${label} (cached)` });
      continue;
    }
    const tempDir = tempPathFor(finalDir);
    await mkdir(tempDir, { recursive: true });
    try {
      const { initFrom: _initFrom, ...segmentJob } = job;
      const initImagePath = useInit ? initImageFor(run, plan, job) : undefined;
      const result = await engine.renderSegment(segmentJob, {
        workDir: tempDir,
        initImagePath,
        signal,
        onProgress: (p) => onProgress?.({ stage: 'render', done: job.index + p.step / p.totalSteps, total, unit: 'segments', detail: label }),
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
      onProgress?.({ stage: 'render', done: job.index + 1, total, unit: 'segments', detail: label });
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true });
      throw error;
    }
  }
  return { rendered, cached, engineMs };
}
