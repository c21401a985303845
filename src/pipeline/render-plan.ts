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
import { segmentJobSchema, type EngineCapabilities, type SegmentJob, type SegmentMotion } from '../engines/engine.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { usageError } from '../shared/errors.js';
import { hashValue } from '../shared/hash.js';
import { formatFps, fpsSchema } from '../shared/media-time.js';

export const PLAN_VERSION = 1;
/** Bumped whenever what goes into a segment hash changes, so old caches are not trusted. */
export const SEGMENT_HASH_VERSION = 2;

export const renderPlanSchema = z
  .object({
    version: z.literal(PLAN_VERSION),
    engine: z.string(),
    fps: fpsSchema,
    frameCount: z.number().int().nonnegative(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    continuity: z.enum(['none', 'chain', 'anchor']),
    jobs: z.array(segmentJobSchema.extend({ initFrom: z.number().int().nonnegative().nullable() })),
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
  /** What the engine takes: the form of each job's motion, and the longest segment. */
  readonly capabilities: Pick<EngineCapabilities, 'perFrameMotionScale' | 'maxFrames'>;
}

/** Which segment's frame a segment starts from, or null (from noise). */
export function initSourceOf(keyframes: Keyframes, index: number): number | null {
  switch (keyframes.continuity) {
    case 'none':
      return null;
    case 'chain':
      return index > 0 ? index - 1 : null;
    case 'anchor': {
      const section = keyframes.segments[index]!.section;
      let first = index;
      while (first > 0 && keyframes.segments[first - 1]!.section === section) first--;
      return first === index ? null : first;
    }
  }
}

/** Fails before anything renders when a segment is longer than the engine can render. */
function assertSegmentsFit(keyframes: Keyframes, settings: PlanSettings): void {
  const { maxFrames } = settings.capabilities;
  const long = keyframes.segments.find((segment) => segment.frameCount > maxFrames);
  if (long === undefined) return;
  throw usageError(
    'E_ENGINE_MAX_FRAMES',
    `segment ${long.index + 1} is ${long.frameCount} frames long, but the ${settings.engineId} engine renders at most ${maxFrames} frames per segment`,
    `set segments.frames to ${maxFrames} or less in the mapping`,
  );
}

export function buildRenderPlan(keyframes: Keyframes, settings: PlanSettings): RenderPlan {
  assertSegmentsFit(keyframes, settings);
  const jobs: PlannedJob[] = [];
  for (const segment of keyframes.segments) {
    const perFrame = keyframes.curves.motionScale.slice(segment.startFrame, segment.startFrame + segment.frameCount);
    const motion: SegmentMotion = settings.capabilities.perFrameMotionScale
      ? { kind: 'perFrame', scales: perFrame }
      : { kind: 'constant', scale: segment.motionScale };
    const { leadFrame: _leadFrame, crossfadeFrames: _crossfadeFrames, ...segmentValues } = segment;
    const initFrom = initSourceOf(keyframes, segment.index);
    const content: Omit<SegmentJob, 'hash'> = {
      index: segment.index,
      startFrame: segment.startFrame,
      frameCount: segment.frameCount,
      leadFrame: segment.leadFrame,
      crossfadeFrames: segment.crossfadeFrames,
      fps: keyframes.fps,
      width: settings.width,
      height: settings.height,
      prompt: segment.prompt,
      negativePrompt: segment.negativePrompt,
      promptBlend: segment.promptBlend,
      loras: segment.loras,
      seed: segment.seed,
      denoise: segment.denoise,
      cfg: segment.cfg,
      steps: settings.steps,
      motion,
      continuity: keyframes.continuity,
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
      engine: settings.engineFingerprint,
      init: initFrom === null ? null : jobs[initFrom]!.hash,
    });
    jobs.push({ ...content, hash, initFrom });
  }
  return {
    version: PLAN_VERSION,
    engine: settings.engineId,
    fps: keyframes.fps,
    frameCount: keyframes.frameCount,
    width: settings.width,
    height: settings.height,
    continuity: keyframes.continuity,
    jobs,
  };
}

/** One hash for the whole plan: equal plans render equal frames. */
export function planHash(plan: RenderPlan): string {
  return hashValue({ hashes: plan.jobs.map((job) => job.hash), frameCount: plan.frameCount, fps: formatFps(plan.fps) });
}
