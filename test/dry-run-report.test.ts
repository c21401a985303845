import { describe, expect, it } from 'vitest';
import { formatClock, formatDryRun, formatTable } from '../src/cli/format-dry-run.js';
import type { Keyframes } from '../src/keyframes/keyframes-schema.js';
import { describePlan } from '../src/dry-run/describe-plan.js';
import { estimateFromCost, scheduleWallMs } from '../src/dry-run/estimate-engine-time.js';
import { buildRenderPlan, type RenderPlan } from '../src/pipeline/render-plan.js';
import { rational } from '../src/shared/media-time.js';
import { planCapabilities } from './helpers/plan-capabilities.js';

function promptOf(index: number): string {
  return index === 3 ? 'neon city, snow' : index === 4 ? 'calm ocean' : 'neon city, rain';
}

/** Five 16-frame segments at 8 fps over 64 frames (8 s): intro, intro, drop, drop, break. */
function keyframes(continuity: Keyframes['continuity']): Keyframes {
  const starts = [0, 12, 24, 36, 48];
  const sections = ['intro', 'intro', 'drop', 'drop', 'break'];
  const seeds = [7, 7, 8, 9, 10];
  return {
    version: 2,
    fps: rational(8),
    frameCount: 64,
    durationSec: 7.95,
    sampleCount: 175297,
    sampleRateHz: 22050,
    continuity,
    takeFrames: 192,
    bpm: 120,
    beatsPerBar: 4,
    warnings: [],
    prompts: [],
    promptChanges: [],
    signals: {},
    curves: {
      motionScale: new Array<number>(64).fill(1),
      denoise: new Array<number>(64).fill(0.5),
      cfg: new Array<number>(64).fill(1),
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
      cfg: 1,
      seed: seeds[index]!,
      prompt: promptOf(index),
      negativePrompt: '',
      promptBlend: [{ prompt: promptOf(index), negativePrompt: '', weight: 1 }],
      loras: [],
      section: sections[index]!,
    })),
  };
}

function planOf(continuity: Keyframes['continuity']): RenderPlan {
  return buildRenderPlan(keyframes(continuity), {
    engineId: 'preview',
    engineFingerprint: {},
    width: 64,
    height: 32,
    steps: 4,
    capabilities: planCapabilities(),
  });
}

describe('describePlan', () => {
  it('groups segments by section with their frames, times, seeds, prompts and what is left to render', () => {
    const overview = describePlan(keyframes('none'), planOf('none'), [true, false, false, true, false]);
    expect(overview).toEqual({
      fps: rational(8),
      frameCount: 64,
      durationSec: 7.95,
      width: 64,
      height: 32,
      continuity: 'none',
      notices: [
        'targets.denoise has no effect with segments.continuity none: every segment starts from noise (denoise 1); use continue, chain or anchor',
      ],
      segments: 5,
      framesPerSegment: 16,
      toRender: 3,
      reused: 2,
      sections: [
        {
          section: 'intro',
          firstSegment: 0,
          lastSegment: 1,
          startFrame: 0,
          endFrame: 26,
          startSec: 0,
          endSec: 3.25,
          seeds: [7],
          prompts: ['neon city, rain'],
          toRender: 1,
        },
        {
          section: 'drop',
          firstSegment: 2,
          lastSegment: 3,
          startFrame: 26,
          endFrame: 50,
          startSec: 3.25,
          endSec: 6.25,
          seeds: [8, 9],
          prompts: ['neon city, rain', 'neon city, snow'],
          toRender: 1,
        },
        {
          section: 'break',
          firstSegment: 4,
          lastSegment: 4,
          startFrame: 50,
          endFrame: 64,
          startSec: 6.25,
          endSec: 7.95,
          seeds: [10],
          prompts: ['calm ocean'],
          toRender: 1,
        },
      ],
    });
  });
});

describe('engine time estimate', () => {
  const cost = (ms: readonly number[]) => (index: number) => ms[index]!;
  it.each([
    // continuity, concurrency, reusable, per-segment ms, wall ms
    ['none', 1, [false, false, false, false, false], [10, 20, 30, 40, 50], 150],
    ['none', 2, [false, false, false, false, false], [10, 20, 30, 40, 50], 90], // slots: 10+30+50 | 20+40
    ['none', 3, [false, false, false, false, false], [10, 20, 30, 40, 50], 70], // 10+40 | 20+50 | 30
    ['none', 2, [true, false, true, false, true], [10, 20, 30, 40, 50], 40],
    ['chain', 4, [false, false, false, false, false], [10, 20, 30, 40, 50], 150], // each waits for the one before
    ['chain', 4, [true, true, false, false, false], [10, 20, 30, 40, 50], 120],
    ['anchor', 4, [false, false, false, false, false], [10, 20, 30, 40, 50], 70], // 1 after 0: 10+20; 3 after 2: 30+40; 4: 50
  ] as const)('%s at concurrency %i', (continuity, concurrency, reusable, ms, wall) => {
    expect(scheduleWallMs(planOf(continuity), reusable, cost(ms), concurrency, true)).toBe(wall);
  });

  it('scales a cost per frame·pixel to the plan and sums what is left to render', () => {
    const estimate = estimateFromCost(planOf('none'), [true, false, false, false, false], 0.001, 2, true, {
      kind: 'measured',
      segments: 12,
    });
    // 16 frames · 64 · 32 pixels · 0.001 ms = 32.768 ms per segment.
    expect(estimate).toEqual({
      basis: { kind: 'measured', segments: 12 },
      segmentsToRender: 4,
      concurrency: 2,
      msPerSegment: 32.768,
      engineMs: 4 * 32.768,
      wallMs: 2 * 32.768,
    });
  });
});

describe('dry-run text', () => {
  it.each([
    [0, '0:00.0'],
    [7.95, '0:08.0'],
    [59.96, '1:00.0'],
    [3599.94, '59:59.9'],
    [3600, '1:00:00.0'],
    [4000.25, '1:06:40.3'],
  ])('formatClock(%d) = %s', (sec, text) => {
    expect(formatClock(sec)).toBe(text);
  });

  it('pads columns to the widest cell and leaves the last one ragged', () => {
    expect(
      formatTable(
        [
          ['a', 'bbb', 'c'],
          ['dddd', 'e', 'ffff f'],
        ],
        '  ',
      ),
    ).toEqual(['  a     bbb  c', '  dddd  e    ffff f']);
  });

  it('prints the plan by section and the estimate with its basis', () => {
    const plan = planOf('chain');
    const reusable = [true, false, false, false, false];
    const report = {
      runDir: '/runs/song',
      outPath: '/runs/song/out.mp4',
      engine: 'preview',
      steps: 4,
      bpm: 116,
      overview: describePlan(keyframes('chain'), plan, reusable),
      estimate: estimateFromCost(plan, reusable, 0.0005, 1, true, { kind: 'calibrated' }),
    };
    expect(formatDryRun(report, '/songs/song.mp3')).toEqual([
      'dry run: nothing rendered, no video written',
      'song      /songs/song.mp3 — 0:08.0, 116 BPM',
      'video     64 frames at 8 fps, 64x32 → /runs/song/out.mp4',
      'run dir   /runs/song',
      'segments  5 of up to 16 frames, 4 sampler steps each, continuity chain: 4 to render, 1 already rendered',
      'sections',
      '  section  time           segments  frames  seeds  render  prompt',
      '  intro    0:00.0–0:03.3  0–1       0–25    7      1       neon city, rain',
      '  drop     0:03.3–0:06.3  2–3       26–49   8, 9   2       neon city, rain → neon city, snow',
      '  break    0:06.3–0:08.0  4         50–63   10     1       calm ocean',
      'engine    preview: ~0.02 s per segment (calibrated: one segment rendered just now)',
      '          4 segments → ~0:00 of engine time, ~0:00 at concurrency 1',
    ]);
  });

  it('says when there is no estimate and why', () => {
    const plan = planOf('none');
    const report = {
      runDir: '/r',
      outPath: '/r/out.mp4',
      engine: 'comfyui',
      steps: 8,
      bpm: null,
      overview: describePlan(keyframes('none'), plan, [false, false, false, false, false]),
      estimate: {
        basis: { kind: 'unavailable', reason: 'no segment rendered yet with this comfyui setup in /r' },
        segmentsToRender: 5,
        concurrency: 2,
        msPerSegment: null,
        engineMs: null,
        wallMs: null,
      } as const,
    };
    const lines = formatDryRun(report, '/s.wav');
    expect(lines[4]).toBe(
      'segments  5 of up to 16 frames, 8 sampler steps each, continuity none: 5 to render, 0 already rendered',
    );
    expect(lines.at(-1)).toBe(
      'engine    comfyui: no estimate (no segment rendered yet with this comfyui setup in /r; render a few segments and run --dry-run again)',
    );
  });
});
