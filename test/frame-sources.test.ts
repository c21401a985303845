import { describe, expect, it } from 'vitest';
import type { CrossfadeCurve } from '../src/config/mapping-schema.js';
import { planSegments, type PlannedSegment } from '../src/keyframes/plan-segments.js';
import { rational } from '../src/shared/media-time.js';
import { blendInto } from '../src/raster/blend-frames.js';
import { crossfadeWeight } from '../src/stitching/crossfade-curve.js';
import { applyCuts, cutFramesFor, frameSources } from '../src/stitching/frame-sources.js';

const OPTIONS = { frames: 16, overlap: 4, minOverlap: 2, maxOverlap: 8, crossfade: 2 };
const CURVES: CrossfadeCurve[] = ['linear', 'smoothstep', 'smootherstep', 'ease-in', 'ease-out'];

describe('crossfade curves: weight of the incoming segment at each frame of the fade', () => {
  // Frame k of a C-frame fade sits at x = (k + 1) / (C + 1); these x are exact in binary.
  it.each([
    ['linear', 3, [0.25, 0.5, 0.75]],
    ['smoothstep', 3, [0.15625, 0.5, 0.84375]],
    ['smootherstep', 3, [0.103515625, 0.5, 0.896484375]],
    ['ease-in', 3, [0.0625, 0.25, 0.5625]],
    ['ease-out', 3, [0.4375, 0.75, 0.9375]],
    ['linear', 1, [0.5]],
    ['smoothstep', 1, [0.5]],
    ['ease-in', 1, [0.25]],
    ['ease-out', 1, [0.75]],
    ['linear', 7, [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875]],
    ['smoothstep', 7, [0.04296875, 0.15625, 0.31640625, 0.5, 0.68359375, 0.84375, 0.95703125]],
  ] as const)('%s over %i frames', (curve, frames, expected) => {
    expect(Array.from({ length: frames }, (_, k) => crossfadeWeight(curve, k, frames))).toEqual(expected);
  });
});

describe('frameSources blends each transition around its lead frame', () => {
  const plan = planSegments(40, OPTIONS);
  it('plans the transitions these tables assume', () => {
    expect(plan.map((s) => [s.startFrame, s.leadFrame, s.crossfadeFrames])).toEqual([
      [0, 0, 0],
      [12, 14, 2],
      [24, 26, 2],
    ]);
  });

  it.each([
    [0, [[0, 0, 1]]],
    [12, [[0, 12, 1]]],
    [
      13,
      [
        [0, 13, 1 - 1 / 3],
        [1, 1, 1 / 3],
      ],
    ],
    [
      14,
      [
        [0, 14, 1 - 2 / 3],
        [1, 2, 2 / 3],
      ],
    ],
    [15, [[1, 3, 1]]],
    [
      25,
      [
        [1, 13, 1 - 1 / 3],
        [2, 1, 1 / 3],
      ],
    ],
    [39, [[2, 15, 1]]],
  ])('linear, frame %i', (frame, expected) => {
    expect(frameSources(plan, frame).map((s) => [s.segment, s.localFrame, s.weight])).toEqual(expected);
  });

  it.each([
    [13, 7 / 27],
    [14, 20 / 27],
  ])('smoothstep, frame %i: incoming weight %d', (frame, weight) => {
    const [outgoing, incoming] = frameSources(plan, frame, 'smoothstep');
    expect(incoming!.weight).toBeCloseTo(weight, 15);
    expect(outgoing!.weight + incoming!.weight).toBe(1);
  });

  it('a hard cut switches at the lead frame', () => {
    const cut = planSegments(40, { ...OPTIONS, crossfade: 0 });
    expect(frameSources(cut, 13)).toEqual([{ segment: 0, localFrame: 13, weight: 1 }]);
    expect(frameSources(cut, 14)).toEqual([{ segment: 1, localFrame: 2, weight: 1 }]);
  });

  it('covers every frame from the frame that belongs there, for every curve, plan and cut', () => {
    const bars = Array.from({ length: 60 }, (_, i) => i * 16);
    const beats = Array.from({ length: 240 }, (_, i) => i * 4);
    const problems: string[] = [];
    let checked = 0;
    for (const options of [
      OPTIONS,
      { ...OPTIONS, crossfade: 0 },
      { frames: 16, overlap: 8, minOverlap: 4, maxOverlap: 8, crossfade: 4 },
    ]) {
      for (let frameCount = 1; frameCount < 300; frameCount += 13) {
        const planned = planSegments(frameCount, options, { primary: bars, secondary: beats });
        for (const plan of [planned, applyCuts(planned, new Set(bars))]) {
          for (const curve of CURVES) {
            let previousIncoming = 0;
            let incomingSegment = -1;
            for (let f = 0; f < frameCount; f++) {
              const sources = frameSources(plan, f, curve);
              const where = `${frameCount} frames, crossfade ${options.crossfade}, ${curve}, frame ${f}`;
              checked++;
              if (sources.length < 1 || sources.length > 2) problems.push(`${where}: ${sources.length} sources`);
              if (Math.abs(sources.reduce((sum, s) => sum + s.weight, 0) - 1) > 1e-12)
                problems.push(`${where}: weights do not sum to 1`);
              for (const s of sources) {
                // No shift: segment frame j is timeline frame startFrame + j, always.
                if (s.localFrame !== f - plan[s.segment]!.startFrame || s.localFrame >= plan[s.segment]!.frameCount)
                  problems.push(`${where}: local frame ${s.localFrame}`);
              }
              if (sources.length === 2) {
                if (sources[1]!.segment !== sources[0]!.segment + 1) problems.push(`${where}: blends non-neighbours`);
                // Within one crossfade the incoming weight only rises.
                if (sources[1]!.segment === incomingSegment && !(sources[1]!.weight > previousIncoming))
                  problems.push(`${where}: weight falls`);
                incomingSegment = sources[1]!.segment;
                previousIncoming = sources[1]!.weight;
              } else incomingSegment = -1;
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBe(99_360);
  });
});

describe('hard cuts on beats or bar starts', () => {
  const plan: PlannedSegment[] = [
    { index: 0, startFrame: 0, frameCount: 16, leadFrame: 0, crossfadeFrames: 0 },
    { index: 1, startFrame: 12, frameCount: 16, leadFrame: 14, crossfadeFrames: 2 },
    { index: 2, startFrame: 24, frameCount: 16, leadFrame: 26, crossfadeFrames: 2 },
  ];
  it('drops the crossfade only where the lead frame is a cut frame', () => {
    expect(applyCuts(plan, new Set([26, 100])).map((s) => s.crossfadeFrames)).toEqual([0, 2, 0]);
    const cut = applyCuts(plan, new Set([26]));
    expect(frameSources(cut, 25)).toEqual([{ segment: 1, localFrame: 13, weight: 1 }]);
    expect(frameSources(cut, 26)).toEqual([{ segment: 2, localFrame: 2, weight: 1 }]);
  });

  it('finds the frames that hold beats or bar starts at the render rate', () => {
    const beats = { beats: [0.5, 1.0, 1.5, 2.0, 2.5], downbeats: [0.5, 2.5] };
    expect([...cutFramesFor('none', beats, rational(8))]).toEqual([]);
    expect([...cutFramesFor('downbeats', beats, rational(8))]).toEqual([4, 20]);
    expect([...cutFramesFor('beats', beats, rational(24000, 1001))]).toEqual([11, 23, 35, 47, 59]);
  });
});

describe('blendInto', () => {
  it('rounds a · (1 − w) + b · w to the nearest integer, in place', () => {
    const a = Uint8Array.from([0, 255, 100, 10, 0]);
    const b = Uint8Array.from([255, 0, 200, 11, 1]);
    blendInto(a, a, b, 1 / 3);
    expect(Array.from(a)).toEqual([85, 170, 133, 10, 0]);
    const c = Uint8Array.from([0, 255]);
    blendInto(c, c, Uint8Array.from([255, 0]), 0.5);
    expect(Array.from(c)).toEqual([128, 128]);
  });
});
