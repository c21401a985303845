/**
 * keyframes → plan: one engine job per segment, each with a content hash of everything that
 * decides its frames. In chain continuity a segment starts from its predecessor's last frame,
 * so the predecessor's hash is part of its own; anchors likewise hash their anchor segment.
 *
 * The hash covers the keyframe segment as a whole, not only the fields copied into the job: a
 * value the mapping sets per segment (a section's prompt, a LoRA strength, a cfg curve) changes
 * the hash of exactly the segments it touches, without this file having to learn about it.
 */
import { z } from 'zod';
import {
  continuitySchema,
  segmentJobSchema,
  type Continuity,
  type EngineCapabilities,
  type PromptKey,
  type SegmentJob,
  type SegmentMotion,
} from '../engines/engine.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { usageError } from '../shared/errors.js';
import { hashValue } from '../shared/hash.js';
import { formatFps, fpsSchema } from '../shared/media-time.js';

export const PLAN_VERSION = 1;
/** Bumped whenever what goes into a segment hash changes, so old caches are not trusted. */
export const SEGMENT_HASH_VERSION = 3;

export const renderPlanSchema = z
  .object({
    version: z.literal(PLAN_VERSION),
    engine: z.string(),
    fps: fpsSchema,
    frameCount: z.number().int().nonnegative(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    /** The continuity the jobs follow: the mapping's, or what the engine can do of it (see notices). */
    continuity: continuitySchema,
    /** What this plan does differently from what the mapping asks, and targets it ignores. */
    notices: z.array(z.string()).default([]),
    jobs: z.array(
      segmentJobSchema.extend({
        /** chain / anchor: the job whose frame it starts from. */
        initFrom: z.number().int().nonnegative().nullable(),
        /** continue / take: the job whose last `heldFrames` frames it holds. */
        holdFrom: z.number().int().nonnegative().nullable().default(null),
      }),
    ),
  })
  .strict();

export type RenderPlan = z.infer<typeof renderPlanSchema>;
export type PlannedJob = RenderPlan['jobs'][number];

export interface PlanSettings {
  readonly engineId: string;
  readonly engineFingerprint: Readonly<Record<string, unknown>>;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  /** What the engine takes: the form of each job's motion, the longest segment, continuation and takes. */
  readonly capabilities: Pick<
    EngineCapabilities,
    'perFrameMotionScale' | 'maxFrames' | 'initImage' | 'continuation' | 'takeFrames' | 'motionEffect'
  >;
}

/** Which segment's frame a segment starts from, or null (from noise). */
export function initSourceOf(keyframes: Pick<Keyframes, 'continuity' | 'segments'>, index: number): number | null {
  switch (keyframes.continuity) {
    case 'chain':
      return index > 0 ? index - 1 : null;
    case 'anchor': {
      const section = keyframes.segments[index]!.section;
      let first = index;
      while (first > 0 && keyframes.segments[first - 1]!.section === section) first--;
      return first === index ? null : first;
    }
    default:
      return null;
  }
}

/** The local frame of `source` that a chain or anchor job starts from. */
export function initFrameOf(continuity: Continuity, source: PlannedJob, job: PlannedJob): number {
  // chain: the frame the two share first (the same moment); anchor: the section's first frame.
  if (continuity !== 'chain') return 0;
  return Math.min(source.frameCount - 1, Math.max(0, job.startFrame - source.startFrame));
}

/** Fails before anything renders when a segment is longer than the engine can render. */
function assertSegmentsFit(keyframes: Keyframes, settings: PlanSettings, continuity: Continuity): void {
  if (continuity === 'take') return;
  const { maxFrames } = settings.capabilities;
  const long = keyframes.segments.find((segment) => segment.frameCount > maxFrames);
  if (long === undefined) return;
  throw usageError(
    'E_ENGINE_MAX_FRAMES',
    `segment ${long.index + 1} is ${long.frameCount} frames long, but the ${settings.engineId} engine samples at most ${maxFrames} frames at once without context windows`,
    `set segments.frames to ${maxFrames} or less in the mapping, or segments.continuity: take`,
  );
}

/** The continuity the engine can give, with a notice when it is not the mapping's. */
function effectiveContinuity(asked: Continuity, settings: PlanSettings, notices: string[]): Continuity {
  const { capabilities: can, engineId } = settings;
  if (asked === 'take' && can.takeFrames === 0) {
    const to = can.continuation ? 'continue' : 'none';
    notices.push(
      `segments.continuity: take, but the ${engineId} engine has no context windows: segments ${to === 'continue' ? 'continue each other' : 'start from noise'} instead`,
    );
    return to;
  }
  if (asked === 'continue' && !can.continuation) {
    notices.push(
      `segments.continuity: continue, but the ${engineId} engine cannot hold frames: every segment starts from noise`,
    );
    return 'none';
  }
  if ((asked === 'chain' || asked === 'anchor') && !can.initImage) {
    notices.push(
      `segments.continuity: ${asked}, but the ${engineId} engine cannot start from an image: every segment starts from noise`,
    );
    return 'none';
  }
  return asked;
}

/**
 * A stretch the engine samples at once: one keyframe segment, or (take) consecutive segments of
 * one seed up to takeFrames long. `first`/`last` index keyframes.segments.
 */
interface Unit {
  readonly first: number;
  readonly last: number;
  readonly startFrame: number;
  readonly frameCount: number;
}

function unitsOf(keyframes: Keyframes, continuity: Continuity, takeFrames: number): Unit[] {
  const segments = keyframes.segments;
  const unit = (first: number, last: number): Unit => ({
    first,
    last,
    startFrame: segments[first]!.startFrame,
    frameCount: segments[last]!.startFrame + segments[last]!.frameCount - segments[first]!.startFrame,
  });
  if (continuity !== 'take') return segments.map((_, i) => unit(i, i));
  const units: Unit[] = [];
  let first = 0;
  for (let i = 1; i <= segments.length; i++) {
    const next = segments[i];
    const fits = next !== undefined && next.startFrame + next.frameCount - segments[first]!.startFrame <= takeFrames;
    if (next === undefined || next.seed !== segments[first]!.seed || !fits) {
      units.push(unit(first, i - 1));
      first = i;
    }
  }
  return units;
}

/**
 * A take's prompt travel over [start, start + count): a key where each blend begins and ends
 * (ADE interpolates linearly between keys, as the keyframes' blends do). Undefined when one
 * prompt holds throughout.
 */
export function promptScheduleOf(keyframes: Keyframes, start: number, count: number): PromptKey[] | undefined {
  const strongestAt = (frame: number): { prompt: string; negativePrompt: string } => {
    let best = keyframes.prompts[0]!;
    for (const p of keyframes.prompts) if ((p.weights[frame] ?? 0) > (best.weights[frame] ?? 0)) best = p;
    return { prompt: best.prompt, negativePrompt: best.negativePrompt };
  };
  if (keyframes.prompts.length === 0) return undefined;
  const keys: PromptKey[] = [{ frame: 0, ...strongestAt(start) }];
  const add = (local: number, at: number): void => {
    if (local <= keys[keys.length - 1]!.frame || local >= count) return;
    keys.push({ frame: local, ...strongestAt(at) });
  };
  for (const change of keyframes.promptChanges) {
    const from = change.blendFromFrame - start;
    const to = change.frame - start;
    if (to <= 0 || from >= count) continue;
    // The blend starts from what holds just before it, and ends on the new prompt.
    if (from > 0) add(from, Math.max(start, change.blendFromFrame - 1));
    add(Math.max(1, to), change.frame);
  }
  const distinct = new Set(keys.map((k) => `${k.prompt}\u0000${k.negativePrompt}`));
  return distinct.size > 1 ? keys : undefined;
}

/** Targets the chosen continuity does not apply, said once each. */
function ignoredTargetNotices(
  keyframes: Keyframes,
  continuity: Continuity,
  jobs: readonly PlannedJob[],
  units: readonly Unit[],
): string[] {
  const notices: string[] = [];
  const fromImage = jobs.filter((job) => job.initFrom !== null || job.heldFrames > 0).length;
  if (fromImage === 0 && keyframes.segments.length > 0) {
    notices.push(
      `targets.denoise has no effect with segments.continuity ${continuity}: every segment starts from noise (denoise 1); use continue, chain or anchor`,
    );
  } else if (continuity === 'take' && fromImage < jobs.length) {
    notices.push(
      `targets.denoise applies only where a take continues the previous chunk (${fromImage} of ${jobs.length} takes); the others start from noise`,
    );
  }
  if (continuity === 'take') {
    const varies = (values: (segment: Keyframes['segments'][number]) => unknown): number =>
      units.filter((u) => {
        const first = JSON.stringify(values(keyframes.segments[u.first]!));
        for (let i = u.first + 1; i <= u.last; i++)
          if (JSON.stringify(values(keyframes.segments[i]!)) !== first) return true;
        return false;
      }).length;
    const cfg = varies((s) => s.cfg);
    if (cfg > 0)
      notices.push(`targets.cfg varies inside ${cfg} take(s): a take samples with one cfg, its first segment's`);
    const loras = varies((s) => s.loras);
    if (loras > 0)
      notices.push(
        `targets.loras vary inside ${loras} take(s): a take loads each LoRA once, at its first segment's strength`,
      );
  }
  return notices;
}

export function buildRenderPlan(keyframes: Keyframes, settings: PlanSettings): RenderPlan {
  const notices: string[] = [];
  const continuity = effectiveContinuity(keyframes.continuity, settings, notices);
  assertSegmentsFit(keyframes, settings, continuity);
  const takeFrames = Math.min(keyframes.takeFrames, settings.capabilities.takeFrames);
  const units = unitsOf(keyframes, continuity, takeFrames);
  const holds = continuity === 'continue' || continuity === 'take';
  const segments = keyframes.segments;
  const jobs: PlannedJob[] = [];
  // Where the running seed's take began: noise is addressed from there.
  let seedStart = 0;
  let noOverlap = 0;
  units.forEach((unit, index) => {
    const segment = segments[unit.first]!;
    const previous = index > 0 ? jobs[index - 1]! : undefined;
    const sameSeed = previous !== undefined && segments[units[index - 1]!.first]!.seed === segment.seed;
    if (!sameSeed) seedStart = unit.startFrame;
    const shared = previous === undefined ? 0 : previous.startFrame + previous.frameCount - unit.startFrame;
    const heldFrames = holds && sameSeed ? Math.max(0, Math.min(shared, unit.frameCount - 1)) : 0;
    if (holds && sameSeed && heldFrames === 0) noOverlap++;
    const holdFrom = heldFrames > 0 ? index - 1 : null;
    const perFrame = keyframes.curves.motionScale.slice(unit.startFrame, unit.startFrame + unit.frameCount);
    const motion: SegmentMotion = settings.capabilities.perFrameMotionScale
      ? { kind: 'perFrame', scales: perFrame }
      : { kind: 'constant', scale: segment.motionScale };
    const { leadFrame: _leadFrame, crossfadeFrames: _crossfadeFrames, ...segmentValues } = segment;
    // chain / anchor plan one job per segment: job indices are segment indices.
    const initFrom = initSourceOf({ continuity, segments }, index);
    const promptSchedule =
      continuity === 'take' ? promptScheduleOf(keyframes, unit.startFrame, unit.frameCount) : undefined;
    const content: Omit<SegmentJob, 'hash'> = {
      index,
      startFrame: unit.startFrame,
      frameCount: unit.frameCount,
      // A continuation is not a transition: the frames it holds are its predecessor's, so it
      // takes over after them, without a crossfade.
      leadFrame: heldFrames > 0 ? unit.startFrame + heldFrames : segment.leadFrame,
      crossfadeFrames: heldFrames > 0 ? 0 : segment.crossfadeFrames,
      fps: keyframes.fps,
      width: settings.width,
      height: settings.height,
      prompt: segment.prompt,
      negativePrompt: segment.negativePrompt,
      promptBlend: segment.promptBlend,
      loras: segment.loras,
      seed: segment.seed,
      noiseFrame: unit.startFrame - seedStart,
      heldFrames,
      denoise: segment.denoise,
      cfg: segment.cfg,
      steps: settings.steps,
      motion,
      ...effectOf(keyframes, unit, settings.capabilities.motionEffect),
      ...(segment.motionLoras ? { motionLoras: segment.motionLoras } : {}),
      ...(promptSchedule ? { promptSchedule } : {}),
      continuity,
      section: segment.section,
    };
    // Crossfades and lead frames are the stitcher's business, not the engine's: they stay out of
    // the hash, so re-timing a transition re-renders nothing. The motion is hashed as the
    // keyframes give it, the segment's scale and its curve: which of the two the engine takes
    // is in its fingerprint (a server without per-frame nodes is another setup).
    const { crossfadeFrames: _crossfade, leadFrame: _lead, motion: _motion, ...decisive } = content;
    const hash = hashValue({
      v: SEGMENT_HASH_VERSION,
      ...decisive,
      fps: formatFps(decisive.fps),
      motionScale: segment.motionScale,
      motionScalePerFrame: perFrame,
      segment: segmentValues,
      segments: unit.last > unit.first ? segments.slice(unit.first + 1, unit.last + 1) : undefined,
      engine: settings.engineFingerprint,
      init: initFrom === null ? null : jobs[initFrom]!.hash,
      hold: holdFrom === null ? null : jobs[holdFrom]!.hash,
    });
    jobs.push({ ...content, hash, initFrom, holdFrom });
  });
  if (noOverlap > 0)
    notices.push(
      `segments.continuity: ${continuity}, but ${noOverlap} segment(s) share no frame with the one before: they start from noise (set segments.minOverlap to 1 or more)`,
    );
  notices.push(...ignoredTargetNotices(keyframes, continuity, jobs, units));
  if (keyframes.curves.motionEffect && !settings.capabilities.motionEffect)
    notices.push(`targets.motionEffect has no effect: the ${settings.engineId} engine has no motion effect input`);
  return {
    version: PLAN_VERSION,
    engine: settings.engineId,
    fps: keyframes.fps,
    frameCount: keyframes.frameCount,
    width: settings.width,
    height: settings.height,
    continuity,
    notices,
    jobs,
  };
}

/** The motion effect of a unit's frames, when the mapping drives it and the engine takes it. */
function effectOf(keyframes: Keyframes, unit: Unit, engineTakesIt: boolean): Pick<SegmentJob, 'effect'> {
  const curve = keyframes.curves.motionEffect;
  if (!curve || !engineTakesIt) return {};
  return { effect: { kind: 'perFrame', scales: curve.slice(unit.startFrame, unit.startFrame + unit.frameCount) } };
}

/** One hash for the whole plan: equal plans render equal frames. */
export function planHash(plan: RenderPlan): string {
  return hashValue({ hashes: plan.jobs.map((job) => job.hash), frameCount: plan.frameCount, fps: formatFps(plan.fps) });
}
