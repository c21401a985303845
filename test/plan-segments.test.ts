import { describe, expect, it } from 'vitest';
import { planSegments, takeoverRange, type PlannedSegment } from '../src/keyframes/plan-segments.js';
import { frameSources } from '../src/stitching/frame-sources.js';

const OPTIONS = { frames: 16, overlap: 4, minOverlap: 2, maxOverlap: 8, crossfade: 2 };
const BEATS = Array.from({ length: 40 }, (_, i) => i * 4);
const BARS = BEATS.filter((_, i) => i % 4 === 0);

const compact = (plan: PlannedSegment[]): string =>
  plan.map((s) => `${s.startFrame}/${s.leadFrame}/${s.crossfadeFrames}`).join(' ');

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
    expect(compact(planSegments(64, OPTIONS, { primary: BARS, secondary: BEATS }))).toBe(
      '0/0/0 11/12/2 23/24/2 35/36/2 48/49/2',
    );
  });

  it('lands on bar starts when the stride allows (bars of 12 frames)', () => {
    const bars = Array.from({ length: 10 }, (_, i) => i * 12);
    expect(compact(planSegments(64, OPTIONS, { primary: bars }))).toBe('0/0/0 11/12/2 23/24/2 35/36/2 48/49/2');
  });

  it('covers every frame, with weights summing to 1, for many lengths and settings', () => {
    for (const options of [
      OPTIONS,
      { ...OPTIONS, crossfade: 0 },
      { frames: 16, overlap: 8, minOverlap: 4, maxOverlap: 8, crossfade: 4 },
    ]) {
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

describe('takeoverRange', () => {
  it('keeps the crossfade inside the overlap', () => {
    expect(takeoverRange(12, 16, 2)).toEqual([13, 15]);
    expect(takeoverRange(12, 16, 4)).toEqual([14, 14]);
    expect(takeoverRange(12, 16, 0)).toEqual([12, 16]);
  });
});
