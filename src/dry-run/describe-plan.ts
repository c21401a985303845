/**
 * What a dry run shows: the plan grouped by section — which segments and frames each section
 * spans, its seeds and prompts, how many of its segments must be rendered.
 */
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { frameStartSec, type Rational } from '../shared/media-time.js';
import type { RenderPlan } from '../pipeline/render-plan.js';

export interface SectionSpan {
  readonly section: string;
  /** Segments [firstSegment, lastSegment]. */
  readonly firstSegment: number;
  readonly lastSegment: number;
  /** Frames [startFrame, endFrame) where this section's segments lead the picture. */
  readonly startFrame: number;
  readonly endFrame: number;
  readonly startSec: number;
  readonly endSec: number;
  /** Distinct, in order of first use. */
  readonly seeds: readonly number[];
  readonly prompts: readonly string[];
  readonly toRender: number;
}

export interface PlanOverview {
  readonly fps: Rational;
  readonly frameCount: number;
  readonly durationSec: number;
  readonly width: number;
  readonly height: number;
  readonly continuity: RenderPlan['continuity'];
  readonly segments: number;
  readonly framesPerSegment: number;
  readonly toRender: number;
  readonly reused: number;
  readonly sections: readonly SectionSpan[];
  /** What the plan does differently from the mapping, and guardrails (RenderPlan.notices). */
  readonly notices: readonly string[];
}

function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** `reusable[i]`: segment i is already rendered with its hash (see findReusableSegments). */
export function describePlan(keyframes: Keyframes, plan: RenderPlan, reusable: readonly boolean[]): PlanOverview {
  const { fps } = plan;
  const sections: SectionSpan[] = [];
  const jobs = plan.jobs;
  for (let first = 0; first < jobs.length;) {
    let last = first;
    while (last + 1 < jobs.length && jobs[last + 1]!.section === jobs[first]!.section) last++;
    const span = jobs.slice(first, last + 1);
    const startFrame = jobs[first]!.leadFrame;
    const endFrame = jobs[last + 1]?.leadFrame ?? plan.frameCount;
    sections.push({
      section: jobs[first]!.section,
      firstSegment: first,
      lastSegment: last,
      startFrame,
      endFrame,
      startSec: frameStartSec(startFrame, fps),
      endSec: Math.min(keyframes.durationSec, frameStartSec(endFrame, fps)),
      seeds: distinct(span.map((job) => job.seed)),
      prompts: distinct(span.map((job) => job.prompt)),
      toRender: span.filter((job) => !reusable[job.index]).length,
    });
    first = last + 1;
  }
  const toRender = jobs.filter((job) => !reusable[job.index]).length;
  return {
    fps: plan.fps,
    frameCount: plan.frameCount,
    durationSec: keyframes.durationSec,
    width: plan.width,
    height: plan.height,
    continuity: plan.continuity,
    notices: plan.notices,
    segments: jobs.length,
    framesPerSegment: jobs.reduce((most, job) => Math.max(most, job.frameCount), 0),
    toRender,
    reused: jobs.length - toRender,
    sections,
  };
}
