/**
 * Renders every planned segment that is not already in the run directory with the same hash.
 * A segment is rendered into a temp folder and renamed to segments/NNNN only when all its
 * frames are there, so a folder named NNNN is always complete.
 */
import { setMaxListeners } from 'node:events';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { frameFileName, type RenderEngine } from '../engines/engine.js';
import { AbortedError, BeatloomError, isAbortError, throwIfAborted } from '../shared/errors.js';
import { tempPathFor, writeJsonAtomic } from '../shared/fs-atomic.js';
import { fsFaultError } from '../shared/fs-faults.js';
import { hashValue } from '../shared/hash.js';
import type { TaskOptions } from '../shared/progress.js';
import { PrioritySlots } from '../scheduling/priority-slots.js';
import { initFrameOf, type RenderPlan, type PlannedJob } from './render-plan.js';
import { segmentDirName, type RunDir } from '../run/run-dir.js';

export const SEGMENT_MANIFEST = 'segment.json';

/** segments/NNNN/segment.json: what the folder holds and what it cost (dry-run estimates read it). */
export const segmentManifestSchema = z.object({
  hash: z.string(),
  frameCount: z.number().int().positive(),
  /**
   * Each frame file's size in bytes. After an OS crash or power cut a renamed folder can hold
   * files whose data never reached the disk (zero-length, with delayed allocation); checking
   * sizes on resume catches that without an fsync per frame.
   */
  frameBytes: z.array(z.number().int().positive()),
  elapsedMs: z.number().nonnegative(),
  engine: z.string().optional(),
  /** hashValue of the engine's settings fingerprint: timings only compare within one setup. */
  engineKey: z.string().optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});

export type SegmentManifest = z.infer<typeof segmentManifestSchema>;

export interface RenderSegmentsSummary {
  readonly rendered: number;
  readonly cached: number;
  readonly engineMs: number;
}

export interface RenderSegmentsOptions extends TaskOptions {
  /** Render every segment again, whatever is in the run directory. */
  readonly force?: boolean;
  /** The engine's slots, shared by every render using the engine (a batch); default: our own. */
  readonly slots?: PrioritySlots;
  /** Lower goes first on shared slots (a batch passes the job's position). */
  readonly priority?: number;
}

/** How many segment folders are checked at once: bounded, so an hour's 2 400 segments never exhaust file handles. */
const SCAN_CONCURRENCY = 16;

export function engineKeyOf(engine: RenderEngine): string {
  return hashValue(engine.settingsFingerprint);
}

export async function readSegmentManifest(dir: string): Promise<SegmentManifest | undefined> {
  try {
    const parsed = segmentManifestSchema.safeParse(JSON.parse(await readFile(join(dir, SEGMENT_MANIFEST), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function isComplete(dir: string, job: PlannedJob): Promise<boolean> {
  const manifest = await readSegmentManifest(dir);
  if (
    manifest?.hash !== job.hash ||
    manifest.frameCount !== job.frameCount ||
    manifest.frameBytes.length !== job.frameCount
  )
    return false;
  const sizes = await Promise.all(
    manifest.frameBytes.map((_, i) =>
      stat(join(dir, frameFileName(i))).then(
        (info) => info.size,
        () => -1,
      ),
    ),
  );
  return sizes.every((size, i) => size === manifest.frameBytes[i]);
}

/**
 * Which planned segments can be kept: their folder is complete with the job's hash and, when
 * the engine starts segments from another segment's frame, so is that segment (transitively).
 * A kept segment made from a predecessor that must be rendered again would no longer continue
 * from the frame it starts from, with any engine that is not bit-exact.
 */
export async function findReusableSegments(plan: RenderPlan, run: RunDir, usesInitImages: boolean): Promise<boolean[]> {
  // Held frames are as binding as an init image: a continuation of a segment that is rendered
  // again would no longer continue what is on screen.
  const complete = new Array<boolean>(plan.jobs.length).fill(false);
  for (let from = 0; from < plan.jobs.length; from += SCAN_CONCURRENCY) {
    const batch = plan.jobs.slice(from, from + SCAN_CONCURRENCY);
    const found = await Promise.all(batch.map((job) => isComplete(run.segmentDir(job.index), job)));
    found.forEach((ok, i) => (complete[from + i] = ok));
  }
  const reusable: boolean[] = [];
  for (const job of plan.jobs) {
    const source = dependencyOf(job, usesInitImages);
    reusable.push(complete[job.index]! && (source === null || reusable[source] === true));
  }
  return reusable;
}

/** Segment folders beyond the plan (the song or the plan got shorter) would only confuse. */
async function removeUnplannedSegments(plan: RenderPlan, run: RunDir): Promise<void> {
  const planned = new Set(plan.jobs.map((job) => segmentDirName(job.index)));
  for (const name of await readdir(run.segmentsDir)) {
    if (/^\d{4,}$/.test(name) && !planned.has(name))
      await rm(join(run.segmentsDir, name), { recursive: true, force: true });
  }
}

function initImageFor(run: RunDir, plan: RenderPlan, job: PlannedJob): string | undefined {
  if (job.initFrom === null) return undefined;
  const source = plan.jobs[job.initFrom]!;
  return join(run.segmentDir(source.index), frameFileName(initFrameOf(plan.continuity, source, job)));
}

/** The frames a continuation holds: its predecessor's at the same moments (the frames they share). */
export function heldFramePathsFor(run: RunDir, plan: RenderPlan, job: PlannedJob): string[] | undefined {
  if (job.holdFrom === null || job.heldFrames === 0) return undefined;
  const source = plan.jobs[job.holdFrom]!;
  const offset = job.startFrame - source.startFrame;
  return Array.from({ length: job.heldFrames }, (_, i) =>
    join(run.segmentDir(source.index), frameFileName(offset + i)),
  );
}

/** The job a job must wait for: the one it starts from or holds frames of. */
export function dependencyOf(job: PlannedJob, usesInitImages: boolean): number | null {
  if (job.holdFrom !== null) return job.holdFrom;
  return usesInitImages ? job.initFrom : null;
}

/**
 * Renders the plan's missing segments, up to the engine's concurrency at once (one per ComfyUI
 * server, say). A segment that starts from another's frame (chain / anchor continuity) waits for
 * it. When one segment fails, the others are stopped, every finished segment is kept, and the
 * first real error is thrown. Progress counts the segments to render (reused ones are in the detail).
 */
export async function renderSegments(
  plan: RenderPlan,
  engine: RenderEngine,
  run: RunDir,
  options: RenderSegmentsOptions = {},
): Promise<RenderSegmentsSummary> {
  const { onProgress } = options;
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const signal = stop.signal;
  // Every segment waiting for a slot listens for the stop: thousands, on a long song.
  setMaxListeners(0, signal);
  const slots = options.slots ?? new PrioritySlots(Math.max(1, engine.capabilities.concurrency));
  const useInit = engine.capabilities.initImage;
  const engineKey = engineKeyOf(engine);

  await removeUnplannedSegments(plan, run);
  const reusable = options.force ? plan.jobs.map(() => false) : await findReusableSegments(plan, run, useInit);
  const cached = reusable.filter(Boolean).length;
  const total = plan.jobs.length - cached;
  let rendered = 0;
  let engineMs = 0;
  // Fractions of the segments in flight, summed incrementally: a progress event per frame must
  // not cost O(segments) on an hour-long plan.
  const partial = new Map<number, number>();
  let partialSum = 0;
  const setPartial = (index: number, fraction: number): void => {
    partialSum += fraction - (partial.get(index) ?? 0);
    if (fraction === 0) partial.delete(index);
    else partial.set(index, fraction);
  };
  const reused = cached > 0 ? `, ${cached} reused` : '';
  const report = (detail: string): void => {
    onProgress?.({
      stage: 'render',
      done: Math.min(total, rendered + Math.max(0, partialSum)),
      total,
      unit: 'segments',
      detail: `${detail}${reused}`,
    });
  };
  report(total === 0 ? 'nothing to render' : `${total} to render`);

  const renderOne = async (job: PlannedJob): Promise<void> => {
    const finalDir = run.segmentDir(job.index);
    const label = `segment ${job.index + 1}/${plan.jobs.length}`;
    await slots.acquire([options.priority ?? 0, job.index], signal);
    const tempDir = tempPathFor(finalDir);
    try {
      throwIfAborted(signal);
      await mkdir(tempDir, { recursive: true });
      const { initFrom: _initFrom, holdFrom: _holdFrom, ...segmentJob } = job;
      const initImagePath = useInit ? initImageFor(run, plan, job) : undefined;
      const heldFramePaths = heldFramePathsFor(run, plan, job);
      const result = await engine.renderSegment(segmentJob, {
        workDir: tempDir,
        initImagePath,
        heldFramePaths,
        signal,
        onProgress: (p) => {
          setPartial(job.index, p.totalSteps > 0 ? Math.min(0.99, p.step / p.totalSteps) : 0);
          report(label);
        },
      });
      if (result.frameFiles.length !== job.frameCount) {
        throw new BeatloomError(
          'E_ENGINE_FRAMES',
          `engine ${engine.id} returned ${result.frameFiles.length} frames for ${label}, expected ${job.frameCount}`,
          {
            hint: 'check the engine; the segment will be rendered again next run',
          },
        );
      }
      const frameBytes: number[] = [];
      for (let i = 0; i < result.frameFiles.length; i++) {
        const name = result.frameFiles[i]!;
        if (name !== frameFileName(i)) await rename(join(tempDir, name), join(tempDir, frameFileName(i)));
        const size = (await stat(join(tempDir, frameFileName(i)))).size;
        if (size === 0) {
          throw new BeatloomError('E_ENGINE_FRAMES', `engine ${engine.id} wrote an empty frame ${i} for ${label}`, {
            hint: 'check the engine; the segment will be rendered again next run',
          });
        }
        frameBytes.push(size);
      }
      const manifest: SegmentManifest = {
        hash: job.hash,
        frameCount: job.frameCount,
        frameBytes,
        elapsedMs: Math.round(result.elapsedMs),
        engine: engine.id,
        engineKey,
        width: job.width,
        height: job.height,
      };
      await writeJsonAtomic(join(tempDir, SEGMENT_MANIFEST), manifest);
      await rm(finalDir, { recursive: true, force: true });
      await rename(tempDir, finalDir);
      engineMs += result.elapsedMs;
      rendered++;
      setPartial(job.index, 0);
      report(label);
    } catch (error) {
      setPartial(job.index, 0);
      await rm(tempDir, { recursive: true, force: true });
      throw fsFaultError(error, tempDir) ?? error;
    } finally {
      slots.release();
    }
  };

  const done: Array<Promise<void>> = [];
  for (const job of plan.jobs) {
    if (reusable[job.index]) {
      done.push(Promise.resolve());
      continue;
    }
    const from = dependencyOf(job, useInit);
    const dependency = from !== null ? done[from] : undefined;
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
  const failures = outcomes
    .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
    .map((o) => o.reason as unknown);
  if (failures.length > 0) {
    if (options.signal?.aborted) throw new AbortedError();
    throw failures.find((error) => !isAbortError(error)) ?? failures[0];
  }
  return { rendered, cached, engineMs };
}
