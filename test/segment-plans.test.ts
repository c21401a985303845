/**
 * Segment plans from analysis beats through the mapping, at integer and rational frame rates and
 * across tempo changes: where transitions land, and that every plan covers the timeline properly.
 */
import { describe, expect, it } from 'vitest';
import { mappingSchema } from '../src/config/mapping-schema.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import type { Keyframes } from '../src/keyframes/keyframes-schema.js';
import { takeoverRange } from '../src/keyframes/plan-segments.js';
import { frameSources } from '../src/stitching/frame-sources.js';
import { frameAtSec, parseFps } from '../src/shared/media-time.js';
import { makeAnalysis, steadyBeats } from './helpers/analysis.js';

const STEADY_120 = steadyBeats(120, 0, 20);
const TEMPO_CHANGE = [...steadyBeats(120, 0, 8), ...steadyBeats(150, 8, 20)]; // 0.5 s beats, then 0.4 s from 8 s
const SLOW_TO_FAST = [...steadyBeats(90, 0.3, 8.3), ...steadyBeats(140, 8.3, 20)];

function plan(
  fps: string,
  beats: readonly number[],
  align: 'none' | 'beats' | 'downbeats',
  segments: Record<string, unknown> = {},
): { keyframes: Keyframes; beatFrames: Set<number>; barFrames: Set<number> } {
  const analysis = makeAnalysis({ durationSec: 20, beats });
  const mapping = mappingSchema.parse({
    version: 2,
    segments: { align, crossfade: 2, ...segments },
    targets: { motionScale: { base: 1 }, denoise: { base: 0.5 } },
  });
  const rate = parseFps(fps);
  const keyframes = buildKeyframes(analysis, mapping, {
    fps: rate,
    duration: { sampleCount: 20 * 22050, sampleRateHz: 22050 },
    texts: { prompt: '', negative: '' },
    seed: 1,
  });
  return {
    keyframes,
    beatFrames: new Set(analysis.beats.map((t) => frameAtSec(t, rate))),
    barFrames: new Set(analysis.downbeats.map((t) => frameAtSec(t, rate))),
  };
}

const compact = (k: Keyframes): string => k.segments.map((s) => `${s.startFrame}/${s.leadFrame}`).join(' ');

describe('where transitions land', () => {
  it.each([
    // fps, beats, align, frames, start/lead of each segment, transitions on bars, on beats
    [
      '8',
      STEADY_120,
      'downbeats',
      160,
      '0/0 11/12 23/24 35/36 47/48 59/60 71/72 83/84 95/96 107/108 119/120 131/132 144/145',
      2,
      11,
    ],
    [
      '8',
      TEMPO_CHANGE,
      'beats',
      160,
      '0/0 11/12 23/24 35/36 47/48 59/60 71/73 83/86 95/96 107/108 119/121 132/134 144/147',
      1,
      12,
    ],
    [
      '8',
      TEMPO_CHANGE,
      'downbeats',
      160,
      '0/0 13/14 25/28 37/40 49/52 61/64 74/76 87/89 100/102 113/115 125/128 133/140 144/147',
      7,
      11,
    ],
    [
      '8',
      TEMPO_CHANGE,
      'none',
      160,
      '0/0 12/14 24/26 36/38 48/50 60/62 72/74 84/86 96/98 108/110 120/122 132/134 144/146',
      0,
      2,
    ],
    [
      '12',
      SLOW_TO_FAST,
      'downbeats',
      240,
      '0/0 10/11 22/24 34/35 46/48 58/59 70/72 82/83 94/96 106/109 118/120 130/132 142/145 154/156 166/168 177/181 189/192 201/202 213/215 224/228',
      4,
      12,
    ],
    [
      '24000/1001',
      TEMPO_CHANGE,
      'beats',
      480,
      '0/0 8/11 20/23 32/35 44/47 56/59 68/71 80/83 92/95 104/107 116/119 128/131 140/143 152/155 164/167 176/179 188/191 200/201 212/214 224/226 236/239 ' +
        '248/249 260/262 272/274 284/287 296/297 308/310 320/322 332/335 344/345 356/358 368/370 380/383 392/393 404/406 416/418 428/431 440/441 452/454 464/466',
      6,
      27,
    ],
  ] as const)('%s fps, align %s…', (fps, beats, align, frameCount, expected, onBars, onBeats) => {
    const { keyframes, beatFrames, barFrames } = plan(fps, beats, align);
    expect(keyframes.frameCount).toBe(frameCount);
    expect(compact(keyframes)).toBe(expected);
    const leads = keyframes.segments.slice(1).map((s) => s.leadFrame);
    expect(leads.filter((l) => barFrames.has(l)).length).toBe(onBars);
    expect(leads.filter((l) => beatFrames.has(l)).length).toBe(onBeats);
  });

  it('at 8 fps every transition lands on a beat of the tempo map, before and after the change', () => {
    const { keyframes, beatFrames } = plan('8', TEMPO_CHANGE, 'beats');
    for (const s of keyframes.segments.slice(1)) expect(beatFrames.has(s.leadFrame)).toBe(true);
    // And past the change, beats are 3.2 frames apart, not 4: the leads follow them.
    expect(keyframes.segments.filter((s) => s.leadFrame >= 64).map((s) => s.leadFrame)).toEqual([
      73, 86, 96, 108, 121, 134, 147,
    ]);
  });

  it('with downbeats asked for, more transitions land on bar starts than with beats', () => {
    const onBars = (align: 'beats' | 'downbeats'): number => {
      const { keyframes, barFrames } = plan('8', TEMPO_CHANGE, align);
      return keyframes.segments.slice(1).filter((s) => barFrames.has(s.leadFrame)).length;
    };
    expect(onBars('downbeats')).toBeGreaterThan(onBars('beats'));
  });
});

describe('every plan covers the timeline', () => {
  const fpsList = ['8', '12', '24000/1001', '30000/1001'];
  const settings = [
    {},
    { crossfade: 0 },
    { overlap: 6, minOverlap: 4, maxOverlap: 8, crossfade: 4 },
    { frames: 24, overlap: 8, minOverlap: 4, maxOverlap: 12, crossfade: 4 },
  ];
  for (const fps of fpsList) {
    for (const beats of [STEADY_120, TEMPO_CHANGE]) {
      for (const align of ['none', 'beats', 'downbeats'] as const) {
        for (const segs of settings) {
          it(`${fps} fps, ${beats === STEADY_120 ? 'steady' : 'tempo change'}, align ${align}, ${JSON.stringify(segs)}`, () => {
            const { keyframes } = plan(fps, beats, align, segs);
            const frames = (segs as { frames?: number }).frames ?? 16;
            const crossfade = (segs as { crossfade?: number }).crossfade ?? 2;
            const segments = keyframes.segments;
            expect(segments[0]!.startFrame).toBe(0);
            expect(segments.at(-1)!.startFrame + segments.at(-1)!.frameCount).toBe(keyframes.frameCount);
            const coverage = new Int32Array(keyframes.frameCount);
            for (const s of segments) {
              expect(s.frameCount).toBe(frames);
              for (let f = s.startFrame; f < s.startFrame + s.frameCount; f++) coverage[f]!++;
            }
            for (let k = 1; k < segments.length; k++) {
              const prev = segments[k - 1]!;
              const s = segments[k]!;
              const prevEnd = prev.startFrame + prev.frameCount;
              // Only neighbours overlap, and the transition (with its crossfade) lies inside the overlap.
              expect(s.startFrame).toBeGreaterThan(prev.startFrame);
              expect(s.startFrame).toBeLessThan(prevEnd);
              if (k + 1 < segments.length) expect(segments[k + 1]!.startFrame).toBeGreaterThanOrEqual(prevEnd);
              const [lo, hi] = takeoverRange(s.startFrame, prevEnd, crossfade);
              expect(s.leadFrame).toBeGreaterThanOrEqual(lo);
              expect(s.leadFrame).toBeLessThanOrEqual(hi);
            }
            // Every frame is covered once, or twice inside an overlap; outside crossfades one segment alone makes it.
            for (let f = 0; f < keyframes.frameCount; f++) {
              expect(coverage[f]).toBeGreaterThanOrEqual(1);
              expect(coverage[f]).toBeLessThanOrEqual(2);
              const sources = frameSources(segments, f);
              expect(sources.reduce((sum, x) => sum + x.weight, 0)).toBeCloseTo(1, 12);
              const inFade = segments.some(
                (s) =>
                  s.crossfadeFrames > 0 &&
                  f >= s.leadFrame - Math.floor(s.crossfadeFrames / 2) &&
                  f < s.leadFrame - Math.floor(s.crossfadeFrames / 2) + s.crossfadeFrames,
              );
              expect(sources.length).toBe(inFade ? 2 : 1);
            }
          });
        }
      }
    }
  }
});
