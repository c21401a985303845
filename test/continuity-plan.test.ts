import { describe, expect, it } from 'vitest';
import { startStepFor } from '../src/engines/engine.js';
import type { Keyframes } from '../src/keyframes/keyframes-schema.js';
import { buildRenderPlan, initFrameOf, promptScheduleOf } from '../src/pipeline/render-plan.js';
import { rational } from '../src/shared/media-time.js';
import { planCapabilities } from './helpers/plan-capabilities.js';

const ALL = planCapabilities({ maxFrames: 32 });

/**
 * Six 16-frame segments at 8 fps, stride 12 (overlap 4): seeds 7 7 7 8 8 8 (a section change
 * at segment 3), with a prompt change blended over frames 10–20 and a cfg step at segment 2.
 */
function keyframes(continuity: Keyframes['continuity'], takeFrames = 192): Keyframes {
  const starts = [0, 12, 24, 36, 48, 60];
  const seeds = [7, 7, 7, 8, 8, 8];
  const frameCount = 76;
  const rain = new Array<number>(frameCount).fill(0).map((_, f) => (f <= 10 ? 1 : f >= 20 ? 0 : (20 - f) / 10));
  return {
    version: 2,
    fps: rational(8),
    frameCount,
    durationSec: 9.5,
    sampleCount: 209475,
    sampleRateHz: 22050,
    continuity,
    takeFrames,
    bpm: 120,
    beatsPerBar: 4,
    warnings: [],
    prompts: [
      { prompt: 'rain', negativePrompt: 'blur', weights: rain },
      { prompt: 'snow', negativePrompt: 'blur', weights: rain.map((w) => 1 - w) },
    ],
    promptChanges: [{ frame: 20, blendFromFrame: 10, prompt: 1 }],
    signals: {},
    curves: {
      motionScale: Array.from({ length: frameCount }, (_, f) => 1 + f / 100),
      denoise: new Array<number>(frameCount).fill(0.5),
      cfg: new Array<number>(frameCount).fill(1),
      loras: {},
    },
    segments: starts.map((startFrame, index) => ({
      index,
      startFrame,
      frameCount: 16,
      leadFrame: index === 0 ? 0 : startFrame + 2,
      crossfadeFrames: index === 0 ? 0 : 2,
      motionScale: 1,
      denoise: 0.5,
      cfg: index === 2 ? 1.5 : 1,
      seed: seeds[index]!,
      prompt: index === 0 ? 'rain' : 'snow',
      negativePrompt: 'blur',
      promptBlend: [{ prompt: index === 0 ? 'rain' : 'snow', negativePrompt: 'blur', weight: 1 }],
      loras: [],
      section: index < 3 ? 'intro' : 'drop',
    })),
  };
}

function plan(continuity: Keyframes['continuity'], capabilities = ALL, takeFrames = 192) {
  return buildRenderPlan(keyframes(continuity, takeFrames), {
    engineId: 'test',
    engineFingerprint: {},
    width: 64,
    height: 64,
    steps: 4,
    capabilities,
  });
}

describe('noise addressed by frame', () => {
  it("counts each job's first frame from its seed's first frame, in every continuity", () => {
    for (const continuity of ['none', 'chain', 'anchor', 'continue'] as const) {
      expect(plan(continuity).jobs.map((job) => job.noiseFrame)).toEqual([0, 12, 24, 0, 12, 24]);
    }
    // Segments of one seed share noise where they share frames: job 1's frame 0 is job 0's frame 12.
    expect(plan('take').jobs.map((job) => [job.startFrame, job.noiseFrame])).toEqual([
      [0, 0],
      [36, 0],
    ]);
  });
});

describe('continue', () => {
  const { jobs, notices, continuity } = plan('continue');

  it('holds the frames it shares with the previous segment of its seed, and starts after them without a crossfade', () => {
    expect(continuity).toBe('continue');
    expect(jobs.map((job) => [job.heldFrames, job.holdFrom, job.leadFrame, job.crossfadeFrames])).toEqual([
      [0, null, 0, 0],
      [4, 0, 16, 0],
      [4, 1, 28, 0],
      // A new seed is new imagery: no hold, the planned transition stays.
      [0, null, 38, 2],
      [4, 3, 52, 0],
      [4, 4, 64, 0],
    ]);
    expect(jobs.every((job) => job.initFrom === null)).toBe(true);
    expect(notices).toEqual([]);
  });

  it('hashes the held segment into its continuation, so re-rendering one re-renders what continues it', () => {
    const other = buildRenderPlan(
      {
        ...keyframes('continue'),
        segments: keyframes('continue').segments.map((s, i) => (i === 1 ? { ...s, cfg: 2 } : s)),
      },
      { engineId: 'test', engineFingerprint: {}, width: 64, height: 64, steps: 4, capabilities: ALL },
    );
    expect(other.jobs.map((job, i) => job.hash === jobs[i]!.hash)).toEqual([true, false, false, true, true, true]);
  });

  it('falls back to none with a notice on an engine that cannot hold frames', () => {
    const fallback = plan('continue', { ...ALL, continuation: false });
    expect(fallback.continuity).toBe('none');
    expect(fallback.jobs.every((job) => job.heldFrames === 0)).toBe(true);
    expect(fallback.notices).toEqual([
      'segments.continuity: continue, but the test engine cannot hold frames: every segment starts from noise',
      'targets.denoise has no effect with segments.continuity none: every segment starts from noise (denoise 1); use continue, chain or anchor',
    ]);
  });
});

describe('take', () => {
  it('samples each seed as one take with its per-frame motion and prompt travel', () => {
    const { jobs, notices } = plan('take');
    expect(
      jobs.map((job) => [job.startFrame, job.frameCount, job.heldFrames, job.leadFrame, job.crossfadeFrames]),
    ).toEqual([
      [0, 40, 0, 0, 0],
      [36, 40, 0, 38, 2],
    ]);
    const first = jobs[0]!;
    expect(first.motion).toEqual({ kind: 'perFrame', scales: Array.from({ length: 40 }, (_, f) => 1 + f / 100) });
    expect(first.promptSchedule).toEqual([
      { frame: 0, prompt: 'rain', negativePrompt: 'blur' },
      { frame: 10, prompt: 'rain', negativePrompt: 'blur' },
      { frame: 20, prompt: 'snow', negativePrompt: 'blur' },
    ]);
    // One prompt throughout: no schedule.
    expect(jobs[1]!.promptSchedule).toBeUndefined();
    expect(notices).toEqual([
      'targets.denoise has no effect with segments.continuity take: every segment starts from noise (denoise 1); use continue, chain or anchor',
      "targets.cfg varies inside 1 take(s): a take samples with one cfg, its first segment's",
    ]);
  });

  it('splits a seed longer than takeFrames into chunks that continue each other', () => {
    const { jobs } = plan('take', ALL, 28);
    expect(jobs.map((job) => [job.startFrame, job.frameCount, job.heldFrames, job.holdFrom, job.noiseFrame])).toEqual([
      [0, 28, 0, null, 0],
      [24, 16, 4, 0, 24],
      [36, 28, 0, null, 0],
      [60, 16, 4, 2, 24],
    ]);
  });

  it('becomes continue on an engine without context windows, with a notice', () => {
    const fallback = plan('take', { ...ALL, takeFrames: 0 });
    expect(fallback.continuity).toBe('continue');
    expect(fallback.jobs).toHaveLength(6);
    expect(fallback.notices[0]).toBe(
      'segments.continuity: take, but the test engine has no context windows: segments continue each other instead',
    );
  });

  it("is the only continuity allowed past the engine's frames per sampling", () => {
    const long = {
      ...keyframes('continue'),
      segments: keyframes('continue').segments.map((s) => ({ ...s, frameCount: 40 })),
    };
    const settings = { engineId: 'test', engineFingerprint: {}, width: 64, height: 64, steps: 4, capabilities: ALL };
    expect(() => buildRenderPlan(long, settings)).toThrow(
      'segment 1 is 40 frames long, but the test engine samples at most 32 frames at once without context windows',
    );
  });
});

describe('prompt travel', () => {
  it('keys a blend at its start and end, relative to the take', () => {
    const k = keyframes('take');
    // Frames 12–27: at 12 the blend is 80 % rain; it is all snow from frame 20 (local 8).
    expect(promptScheduleOf(k, 12, 16)).toEqual([
      { frame: 0, prompt: 'rain', negativePrompt: 'blur' },
      { frame: 8, prompt: 'snow', negativePrompt: 'blur' },
    ]);
    expect(promptScheduleOf(k, 24, 16)).toBeUndefined();
  });
});

describe('chain and anchor', () => {
  it('start a chained segment from the frame it shares first with its predecessor, not its last frame', () => {
    const p = plan('chain');
    expect(p.jobs.map((job) => job.initFrom)).toEqual([null, 0, 1, 2, 3, 4]);
    expect(initFrameOf('chain', p.jobs[0]!, p.jobs[1]!)).toBe(12);
    const anchor = plan('anchor');
    expect(anchor.jobs.map((job) => job.initFrom)).toEqual([null, 0, 0, null, 3, 3]);
    expect(initFrameOf('anchor', anchor.jobs[0]!, anchor.jobs[2]!)).toBe(0);
    expect(p.notices).toEqual([]);
  });
});

describe('denoise on the module grid', () => {
  it('skips whole steps of the distilled schedule', () => {
    const at = (denoise: number, heldFrames = 0, fromImage = true) =>
      startStepFor({ denoise, heldFrames }, 4, fromImage);
    expect([1, 0.85, 0.6, 0.5, 0.4, 0.3, 0.1, 0].map((d) => at(d))).toEqual([0, 1, 2, 2, 2, 3, 3, 3]);
    // From noise denoise does nothing; held frames count as a start.
    expect(at(0.3, 0, false)).toBe(0);
    expect(at(0.3, 4, false)).toBe(3);
    expect(startStepFor({ denoise: 0.5, heldFrames: 4 }, 8, false)).toBe(4);
  });
});
