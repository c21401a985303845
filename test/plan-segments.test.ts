import { describe, expect, it } from 'vitest';
import { frameSources, planSegments, takeoverRange, type PlannedSegment } from '../src/keyframes/plan-segments.js';

const OPTIONS = { frames: 16, overlap: 4, minOverlap: 2, maxOverlap: 8, crossfade: 2 };
const BEATS = Array.from({ length: 40 }, (_, i) => i * 4);
const BARS = BEATS.filter((_, i) => i % 4 === 0);

const compact = (plan: PlannedSegment[]): string => plan.map((s) => `${s.startFrame}/${s.leadFrame}/${s.crossfadeFrames}`).join(' ');

describe('planSegments', () => {
  it.each([
    [0, [], ''],
    [10, [], '0/0/0'],
    [16, [], '0/0/0'],
    [17, [], '0/0/0 1/8/2'],
    [40, [], '0/0/0 12/14/2 24/26/2'],
    [45, [], '0/0/0 8/12/2 17/20/2 29/31/2'],
  ])('%i frames, no alignment → %s', (frameCount, align, expected) => {
    expect(compact(planSegments(frameCount, OPTIONS, { primary: align }))).toBe(expected);
  });

  it('puts transitions on beats when bar starts are out of reach (8 fps, 120 BPM: a bar is 16 frames)', () => {
    expect(compact(planSegments(64, OPTIONS, { primary: BARS, secondary: BEATS }))).toBe('0/0/0 11/12/2 23/24/2 35/36/2 48/49/2');
  });

  it('lands on bar starts when the stride allows (bars of 12 frames)', () => {
    const bars = Array.from({ length: 10 }, (_, i) => i * 12);
    expect(compact(planSegments(64, OPTIONS, { primary: bars }))).toBe('0/0/0 11/12/2 23/24/2 35/36/2 48/49/2');
  });

  it('covers every frame, with weights summing to 1, for many lengths and settings', () => {
    for (const options of [OPTIONS, { ...OPTIONS, crossfade: 0 }, { frames: 16, overlap: 8, minOverlap: 4, maxOverlap: 8, crossfade: 4 }]) {
      for (let frameCount = 1; frameCount < 200; frameCount += 7) {
        const plan = planSegments(frameCount, options, { primary: BARS, secondary: BEATS });
        const last = plan[plan.length - 1]!;
        expect(last.startFrame + last.frameCount).toBe(frameCount);
        for (let f = 0; f < frameCount; f++) {
          const sources = frameSources(plan, f);
          expect(sources.reduce((sum, s) => sum + s.weight, 0)).toBeCloseTo(1, 12);
          for (const s of sources) {
            expect(s.localFrame).toBeGreaterThanOrEqual(0);
            expect(s.localFrame).toBeLessThan(plan[s.segment]!.frameCount);
          }
        }
        for (let i = 1; i < plan.length; i++) {
          const stride = plan[i]!.startFrame - plan[i - 1]!.startFrame;
          expect(stride).toBeGreaterThan(0);
          expect(stride).toBeLessThanOrEqual(16 - options.minOverlap);
        }
      }
    }
  });
});

describe('frameSources blends each transition around its lead frame', () => {
  const plan = planSegments(40, OPTIONS);
  it.each([
    [0, [[0, 0, 1]]],
    [12, [[0, 12, 1]]],
    [13, [[0, 13, 1 - 1 / 3], [1, 1, 1 / 3]]],
    [14, [[0, 14, 1 - 2 / 3], [1, 2, 2 / 3]]],
    [15, [[1, 3, 1]]],
    [39, [[2, 15, 1]]],
  ])('frame %i', (frame, expected) => {
    expect(frameSources(plan, frame).map((s) => [s.segment, s.localFrame, s.weight])).toEqual(expected);
  });

  it('a hard cut switches at the lead frame', () => {
    const cut = planSegments(40, { ...OPTIONS, crossfade: 0 });
    expect(frameSources(cut, 13)).toEqual([{ segment: 0, localFrame: 13, weight: 1 }]);
    expect(frameSources(cut, 14)).toEqual([{ segment: 1, localFrame: 2, weight: 1 }]);
  });

  it('takeoverRange keeps the crossfade inside the overlap', () => {
    expect(takeoverRange(12, 16, 2)).toEqual([13, 15]);
    expect(takeoverRange(12, 16, 4)).toEqual([14, 14]);
    expect(takeoverRange(12, 16, 0)).toEqual([12, 16]);
  });
});
