/**
 * keyframes → plan: one engine job per segment, each with a content hash of everything that
 * decides its frames. In chain continuity a segment starts from its predecessor's last frame,
 * so the predecessor's hash is part of its own; anchors likewise hash their anchor segment.
 */
import { z } from 'zod';
import { segmentJobSchema, type SegmentJob } from '../engines/engine.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { hashValue } from '../shared/hash.js';

export const PLAN_VERSION = 1;

export const renderPlanSchema = z
  .object({
    version: z.literal(PLAN_VERSION),
    engine: z.string(),
    fps: z.string(),
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

export function buildRenderPlan(keyframes: Keyframes, settings: PlanSettings): RenderPlan {
  const jobs: PlannedJob[] = [];
  for (const segment of keyframes.segments) {
    const perFrame = keyframes.curves.motionScale.slice(segment.startFrame, segment.startFrame + segment.frameCount);
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
      motionScale: segment.motionScale,
      motionScalePerFrame: perFrame,
      continuity: keyframes.continuity,
      section: segment.section,
    };
    // Crossfade lengths are the stitcher's business, not the engine's: they stay out of the hash.
    const { crossfadeFrames: _crossfade, leadFrame: _lead, ...decisive } = content;
    const hash = hashValue({
      ...decisive,
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
