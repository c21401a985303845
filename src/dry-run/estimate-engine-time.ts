/**
 * How long the engine will take for a plan, from what the engine has measurably taken: the
 * segment.json of segments rendered earlier in the run directory with the same engine settings,
 * or, for engines cheap enough to try (the local preview), one segment rendered now. The cost is
 * kept per frame·pixel so a measurement at one size scales to another.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../shared/math.js';
import type { RenderEngine, SegmentMotion } from '../engines/engine.js';
import type { RenderPlan } from '../pipeline/render-plan.js';
import { dependencyOf, engineKeyOf, readSegmentManifest } from '../pipeline/render-segments.js';
import type { RunDir } from '../run/run-dir.js';

/**
 * Engines a dry run may calibrate by rendering one segment: local and seconds-cheap. A GPU
 * engine's segment costs real GPU time and may queue behind other work, so its estimate comes
 * only from segments it has rendered before.
 */
export const CALIBRATED_ENGINES: ReadonlySet<string> = new Set(['preview']);

export type EstimateBasis =
  /** Median of `segments` segments rendered earlier in this run directory. */
  | { readonly kind: 'measured'; readonly segments: number }
  /** One segment rendered just now. */
  | { readonly kind: 'calibrated' }
  | { readonly kind: 'nothing-to-render' }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface EngineTimeEstimate {
  readonly basis: EstimateBasis;
  readonly segmentsToRender: number;
  readonly concurrency: number;
  /** A full-length segment of this plan. */
  readonly msPerSegment: number | null;
  /** The engine's time summed over the segments to render. */
  readonly engineMs: number | null;
  /** Wall time with the engine's concurrency and the plan's continuity (chain is serial). */
  readonly wallMs: number | null;
}

/** Scheduled like renderSegments: in segment order, each on the first free slot, after the segment it starts from. */
export function scheduleWallMs(
  plan: RenderPlan,
  reusable: readonly boolean[],
  msOf: (index: number) => number,
  concurrency: number,
  usesInitImages: boolean,
): number {
  const slotFreeAt = new Array<number>(Math.max(1, concurrency)).fill(0);
  const finishedAt = new Array<number>(plan.jobs.length).fill(0);
  let end = 0;
  for (const job of plan.jobs) {
    if (reusable[job.index]) continue;
    const from = dependencyOf(job, usesInitImages);
    const ready = from !== null ? finishedAt[from]! : 0;
    let slot = 0;
    for (let s = 1; s < slotFreeAt.length; s++) if (slotFreeAt[s]! < slotFreeAt[slot]!) slot = s;
    const start = Math.max(ready, slotFreeAt[slot]!);
    finishedAt[job.index] = start + msOf(job.index);
    slotFreeAt[slot] = finishedAt[job.index]!;
    end = Math.max(end, finishedAt[job.index]!);
  }
  return end;
}

export function estimateFromCost(
  plan: RenderPlan,
  reusable: readonly boolean[],
  msPerFramePixel: number,
  concurrency: number,
  usesInitImages: boolean,
  basis: EstimateBasis,
): EngineTimeEstimate {
  const pixels = plan.width * plan.height;
  const msOf = (index: number): number => msPerFramePixel * plan.jobs[index]!.frameCount * pixels;
  const toRender = plan.jobs.filter((job) => !reusable[job.index]);
  const framesPerSegment = plan.jobs.reduce((most, job) => Math.max(most, job.frameCount), 0);
  return {
    basis,
    segmentsToRender: toRender.length,
    concurrency,
    msPerSegment: msPerFramePixel * framesPerSegment * pixels,
    engineMs: toRender.reduce((sum, job) => sum + msOf(job.index), 0),
    wallMs: scheduleWallMs(plan, reusable, msOf, concurrency, usesInitImages),
  };
}

/** ms per frame·pixel over the run directory's segments made with this engine setup. */
export async function measuredCost(
  run: RunDir,
  engine: RenderEngine,
): Promise<{ msPerFramePixel: number; segments: number } | undefined> {
  const key = engineKeyOf(engine);
  let names: string[];
  try {
    names = (await readdir(run.segmentsDir)).filter((name) => /^\d{4,}$/.test(name));
  } catch {
    return undefined;
  }
  const costs: number[] = [];
  const CHUNK = 16;
  for (let i = 0; i < names.length; i += CHUNK) {
    const manifests = await Promise.all(
      names.slice(i, i + CHUNK).map((name) => readSegmentManifest(join(run.segmentsDir, name))),
    );
    for (const m of manifests) {
      if (m?.engineKey === key && m.width !== undefined && m.height !== undefined && m.elapsedMs > 0)
        costs.push(m.elapsedMs / (m.frameCount * m.width * m.height));
    }
  }
  return costs.length > 0 ? { msPerFramePixel: median(costs), segments: costs.length } : undefined;
}

/** Renders one of the plan's segments into a scratch folder and returns its cost per frame·pixel. */
export async function calibrateEngine(
  engine: RenderEngine,
  plan: RenderPlan,
  signal?: AbortSignal,
): Promise<number | undefined> {
  // A full-length segment from noise: what most segments are.
  const job = plan.jobs.reduce<RenderPlan['jobs'][number] | undefined>(
    (best, j) => (best === undefined || j.frameCount > best.frameCount ? j : best),
    undefined,
  );
  if (!job) return undefined;
  const scratch = await mkdtemp(join(tmpdir(), 'beatloom-calibrate-'));
  try {
    // Timed from noise: a continuation's held frames are not there before the render.
    const { initFrom: _initFrom, holdFrom: _holdFrom, ...planned } = job;
    const segmentJob = { ...planned, heldFrames: 0 };
    // A two-frame warm-up first: cold (JIT, caches), the first segment of a 26-segment preview
    // render took 483 ms here against a median of 270 ms.
    const warmFrames = Math.min(2, job.frameCount);
    await mkdir(join(scratch, 'warm-up'));
    await engine.renderSegment(
      {
        ...segmentJob,
        frameCount: warmFrames,
        motion: firstFrames(segmentJob.motion, warmFrames),
      },
      { workDir: join(scratch, 'warm-up'), signal },
    );
    const result = await engine.renderSegment(segmentJob, { workDir: scratch, signal });
    return result.elapsedMs / (job.frameCount * job.width * job.height);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function firstFrames(motion: SegmentMotion, frameCount: number): SegmentMotion {
  switch (motion.kind) {
    case 'perFrame':
      return { kind: 'perFrame', scales: motion.scales.slice(0, frameCount) };
    case 'constant':
      return motion;
  }
}

/** Shared by the jobs of a batch dry run: one calibration per engine setup. */
export type CalibrationCache = Map<string, Promise<number | undefined>>;

export interface EstimateOptions {
  readonly signal?: AbortSignal;
  readonly calibrations?: CalibrationCache;
}

export async function estimateEngineTime(
  plan: RenderPlan,
  reusable: readonly boolean[],
  engine: RenderEngine,
  run: RunDir,
  options: EstimateOptions = {},
): Promise<EngineTimeEstimate> {
  const concurrency = Math.max(1, engine.capabilities.concurrency);
  const usesInit = engine.capabilities.initImage;
  if (reusable.every(Boolean))
    return estimateFromCost(plan, reusable, 0, concurrency, usesInit, { kind: 'nothing-to-render' });
  const measured = await measuredCost(run, engine);
  if (measured)
    return estimateFromCost(plan, reusable, measured.msPerFramePixel, concurrency, usesInit, {
      kind: 'measured',
      segments: measured.segments,
    });
  if (CALIBRATED_ENGINES.has(engine.id)) {
    const key = engineKeyOf(engine);
    const calibrations = options.calibrations ?? new Map<string, Promise<number | undefined>>();
    let cost = calibrations.get(key);
    if (!cost) {
      cost = calibrateEngine(engine, plan, options.signal);
      calibrations.set(key, cost);
    }
    const msPerFramePixel = await cost;
    if (msPerFramePixel !== undefined)
      return estimateFromCost(plan, reusable, msPerFramePixel, concurrency, usesInit, { kind: 'calibrated' });
  }
  return {
    basis: { kind: 'unavailable', reason: `no segment rendered yet with this ${engine.id} setup in ${run.root}` },
    segmentsToRender: plan.jobs.filter((job) => !reusable[job.index]).length,
    concurrency,
    msPerSegment: null,
    engineMs: null,
    wallMs: null,
  };
}
