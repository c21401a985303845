/**
 * The plan reads the engine's capabilities: each job's motion in the one form the engine takes,
 * and no segment longer than the engine renders.
 */
import { describe, expect, it } from 'vitest';
import { mappingSchema, type MappingInput } from '../src/config/mapping-schema.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import { parseFps } from '../src/shared/media-time.js';
import { buildRenderPlan, type PlanSettings } from '../src/pipeline/render-plan.js';
import { BeatloomError } from '../src/shared/errors.js';
import { makeAnalysis, steadyBeats } from './helpers/analysis.js';
import { planCapabilities } from './helpers/plan-capabilities.js';

const MAPPING: MappingInput = {
  version: 2,
  segments: { frames: 16, overlap: 4 },
  signals: { beat: { from: 'beat', release: '0.5 beats' } },
  targets: {
    motionScale: { base: 0.5, add: { beat: 0.5 }, range: [0.5, 1.5], reduce: 'max' },
    denoise: { base: 0.5 },
    cfg: { base: 1 },
  },
};

function keyframes(mapping: MappingInput = MAPPING) {
  return buildKeyframes(makeAnalysis({ durationSec: 8, beats: steadyBeats(120, 0, 8) }), mappingSchema.parse(mapping), {
    fps: parseFps('10'),
    duration: { sampleCount: 8 * 22050, sampleRateHz: 22050 },
    texts: { prompt: 'city', negative: 'blur' },
    seed: 7,
  });
}

const SETTINGS: PlanSettings = {
  engineId: 'comfyui',
  engineFingerprint: { engine: 'comfyui' },
  width: 64,
  height: 64,
  steps: 4,
  capabilities: planCapabilities({ maxFrames: 32 }),
};

describe('buildRenderPlan: what the engine can do', () => {
  const kf = keyframes();

  it('gives an engine with per-frame motion each frame’s scale, and one without the segment’s scale', () => {
    const perFrame = buildRenderPlan(kf, SETTINGS);
    const constant = buildRenderPlan(kf, {
      ...SETTINGS,
      capabilities: planCapabilities({ perFrameMotionScale: false, maxFrames: 32 }),
    });
    expect(kf.segments.length).toBeGreaterThan(2);
    kf.segments.forEach((segment, i) => {
      expect(perFrame.jobs[i]!.motion).toEqual({
        kind: 'perFrame',
        scales: kf.curves.motionScale.slice(segment.startFrame, segment.startFrame + segment.frameCount),
      });
      expect(constant.jobs[i]!.motion).toEqual({ kind: 'constant', scale: segment.motionScale });
    });
    expect(perFrame.jobs[0]!.motion).toEqual({
      kind: 'perFrame',
      scales: [1, 0.8, 0.6, 0.5, 0.5, 1, 0.8, 0.6, 0.5, 0.5, 1, 0.8, 0.6, 0.5, 0.5, 1],
    });
    expect(constant.jobs[0]!.motion).toEqual({ kind: 'constant', scale: 1 });
    // The hash covers the keyframe values; which form an engine takes is in its fingerprint.
    expect(constant.jobs.map((job) => job.hash)).toEqual(perFrame.jobs.map((job) => job.hash));
  });

  it('refuses a plan with a segment longer than the engine renders, before anything renders', () => {
    const long = keyframes({ ...MAPPING, segments: { frames: 48, overlap: 4 } });
    expect(long.segments[0]!.frameCount).toBe(48);
    let error: unknown;
    try {
      buildRenderPlan(long, SETTINGS);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).code).toBe('E_ENGINE_MAX_FRAMES');
    expect((error as BeatloomError).message).toBe(
      'segment 1 is 48 frames long, but the comfyui engine samples at most 32 frames at once without context windows',
    );
    expect((error as BeatloomError).hint).toBe(
      'set segments.frames to 32 or less in the mapping, or segments.continuity: take',
    );
    expect(
      buildRenderPlan(long, {
        ...SETTINGS,
        capabilities: planCapabilities({ maxFrames: 48 }),
      }).jobs[0]!.frameCount,
    ).toBe(48);
  });
});
