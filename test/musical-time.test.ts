import { describe, expect, it } from 'vitest';
import { parseDuration, parseTimePosition } from '../src/config/units.js';
import { seedSchema, signalSchema } from '../src/config/mapping-schema.js';
import { seedEventTimes } from '../src/keyframes/seed-schedule.js';
import {
  beatGridOf,
  gridOf,
  sampleAtFrames,
  shapeSignal,
  signalAtFrames,
  type SignalContext,
} from '../src/keyframes/signals.js';
import { parseFps } from '../src/shared/media-time.js';
import {
  barPositionAt,
  barStartSec,
  beatStartSec,
  beatsToSec,
  durationSecAt,
  secBefore,
  steadyBeatGrid,
  type BeatGrid,
} from '../src/keyframes/beat-grid.js';
import { makeAnalysis } from './helpers/analysis.js';

// 120 BPM (0.5 s beats) until 2 s, then 150 BPM (0.4 s beats); 2 beats per bar, bar 1 at the second beat.
const GRID: BeatGrid = { beats: [1, 1.5, 2, 2.4, 2.8, 3.2], beatsPerBar: 2, firstDownbeat: 1 };
const FPS8 = parseFps('8');

describe('lengths in musical units follow the tempo map', () => {
  it.each([
    ['1 beat', 1.0, 0.5],
    ['1 beat', 2.0, 0.4],
    ['1 beat', 1.75, 0.45], // half of a 0.5 s beat, then half of a 0.4 s beat
    ['0.5 beats', 2.4, 0.2],
    ['2 beats', 1.5, 0.9],
    ['1 bar', 1.5, 0.9],
    ['2 bars', 1.5, 1.7],
    ['1 beat', 3.2, 0.4], // after the last beat: the last interval continues
    ['1 beat', 0.5, 0.5], // before the first beat: the first interval continues back
    ['250ms', 2.0, 0.25],
    ['0.3s', 2.0, 0.3],
    ['3 frames', 2.0, 0.375],
  ])('%s at %f s lasts %f s', (text, atSec, sec) => {
    expect(durationSecAt(parseDuration(text)!, atSec, FPS8, GRID)).toBeCloseTo(sec, 12);
  });

  it('frames at a rational frame rate are exact', () => {
    expect(durationSecAt(parseDuration('3 frames')!, 0, parseFps('24000/1001'), GRID)).toBe((3 * 1001) / 24000);
  });

  it.each([
    ['1 beat', 2.4, 2.0],
    ['0.5 beats', 2.2, 2.0],
    ['1 bar', 2.8, 2.0],
    ['0.5s', 2.8, 2.3],
    ['2 frames', 1.0, 0.75],
  ])('%s before %f s is %f s', (text, atSec, sec) => {
    expect(secBefore(parseDuration(text)!, atSec, FPS8, GRID)).toBeCloseTo(sec, 12);
  });

  it.each([
    [1, 1.5],
    [2, 2.4],
    [2.5, 2.8], // halfway through bar 2 (beats 3 and 4)
    [3, 3.2],
  ])('bar %f starts at %f s', (bar, sec) => {
    expect(barStartSec(GRID, bar)).toBeCloseTo(sec, 12);
  });

  it.each([
    [1, 1],
    [3, 2],
    [4.5, 2.6],
  ])('beat %f starts at %f s', (beat, sec) => {
    expect(beatStartSec(GRID, beat)).toBeCloseTo(sec, 12);
  });

  it.each([
    [1.5, 0],
    [1.0, -0.5],
    [2.4, 1],
    [2.6, 1.25],
  ])('at %f s, %f bars have passed since bar 1', (sec, bars) => {
    expect(barPositionAt(GRID, sec)).toBeCloseTo(bars, 12);
  });

  it('beatsToSec counts forwards from any time', () => {
    expect(beatsToSec(GRID, 1.25, 2)).toBeCloseTo(0.95, 12); // to position 2.5 = 2.2 s
  });

  it('a steady grid stands in for a song without a beat', () => {
    expect(steadyBeatGrid(120, 2, 4)).toEqual({ beats: [0, 0.5, 1, 1.5, 2, 2.5], beatsPerBar: 4, firstDownbeat: 0 });
  });
});

describe('parsing lengths and times', () => {
  it.each([
    [0.25, { value: 0.25, unit: 'sec' }],
    ['120ms', { value: 0.12, unit: 'sec' }],
    ['0.5s', { value: 0.5, unit: 'sec' }],
    ['2 frames', { value: 2, unit: 'frames' }],
    ['1f', { value: 1, unit: 'frames' }],
    ['1 beat', { value: 1, unit: 'beats' }],
    ['.5b', { value: 0.5, unit: 'beats' }],
    ['2 bars', { value: 2, unit: 'bars' }],
  ] as const)('%j', (text, expected) => {
    expect(parseDuration(text)).toEqual(expected);
  });
  it.each(['fast', '-1s', '2 Bars', '1 measure', '', 'NaN'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
  it.each([
    [83.5, 83.5],
    ['83.5s', 83.5],
    ['1:23.5', 83.5],
    ['0:05', 5],
  ])('time %j = %f s', (text, sec) => {
    expect(parseTimePosition(text)).toBe(sec);
  });
  it.each(['1:75', '1:20s', 'soon', '-3'])('rejects time %j', (text) => {
    expect(parseTimePosition(text)).toBeUndefined();
  });
});

describe('signals in beat units under a tempo change (100 Hz grid)', () => {
  // Beats every 0.5 s until 2 s, then every 0.4 s.
  const beats = [0, 0.5, 1, 1.5, 2, 2.4, 2.8, 3.2, 3.6];
  const analysis = makeAnalysis({ durationSec: 4, beats, beatsPerBar: 4 });
  const context: SignalContext = { analysis, grid: gridOf(analysis), beats: beatGridOf(analysis).grid, fps: FPS8 };

  it('a release of half a beat lasts 0.25 s at 120 BPM and 0.2 s at 150 BPM', () => {
    const shaped = shapeSignal(signalSchema.parse({ from: 'beat', release: '0.5 beats' }), context);
    const at = (sec: number): number => Math.round(shaped[Math.round(sec * 100)]! * 1e9) / 1e9;
    // At 120 BPM: 1 at the beat, 0.4 after 0.15 s (15 of 25 samples), 0 after 0.25 s.
    expect([at(1), at(1.15), at(1.25), at(1.3)]).toEqual([1, 0.4, 0, 0]);
    // At 150 BPM: 0.5 after 0.1 s, 0 after 0.2 s.
    expect([at(2.4), at(2.5), at(2.6), at(2.7)]).toEqual([1, 0.5, 0, 0]);
  });

  it('a lead of one beat moves each pulse one local beat earlier', () => {
    const shaped = shapeSignal(signalSchema.parse({ from: 'downbeat', lead: '1 beat' }), context);
    const ones = Array.from(shaped, (v, i) => (v === 1 ? i / 100 : -1)).filter((t) => t >= 0);
    // Downbeats at 0, 2 and 3.6 s: one beat earlier is 1.5 s (a 0.5 s beat) and 3.2 s (a 0.4 s beat).
    expect(ones).toEqual([1.5, 3.2]);
  });

  it('beat and bar phases ramp through each local beat and bar', () => {
    const beat = shapeSignal(signalSchema.parse({ from: 'beatPhase' }), context);
    const bar = shapeSignal(signalSchema.parse({ from: 'barPhase' }), context);
    const at = (values: Float64Array, sec: number): number => Math.round(values[Math.round(sec * 100)]! * 1e9) / 1e9;
    expect([at(beat, 0.25), at(beat, 2.2), at(beat, 2.5)]).toEqual([0.5, 0.5, 0.25]);
    expect([at(bar, 1), at(bar, 2.4), at(bar, 3.2)]).toEqual([0.5, 0.25, 0.75]);
  });

  it('a bar reset of accumulate follows the bars', () => {
    const shaped = shapeSignal(
      signalSchema.parse({ from: 'section', values: { other: 1 }, mode: 'accumulate', reset: 'bar' }),
      context,
    );
    // Bar 2 starts at 2 s (grid sample 200), bar 3 at 3.6 s: the ramp restarts there and reaches 1 just before.
    expect(Math.round(shaped[199]! * 1e9) / 1e9).toBe(1);
    expect(shaped[200]).toBeCloseTo(1 / 160, 12);
    expect(shaped[359]).toBeCloseTo(1, 12);
    expect(shaped[360]).toBeCloseTo(1 / 40, 12);
  });

  it('per frame, a pulse shows on the frame that contains it, and phases are read at the frame start', () => {
    const pulse = sampleAtFrames(
      Float64Array.from({ length: 100 }, (_, i) => (i === 30 ? 1 : 0)),
      { rateHz: 100, length: 100 },
      FPS8,
      8,
    );
    expect(Array.from(pulse)).toEqual([0, 0, 1, 0, 0, 0, 0, 0]); // 0.30 s is in frame 2 (0.25–0.375 s)
    const ramp = sampleAtFrames(
      Float64Array.from({ length: 100 }, (_, i) => i / 100),
      { rateHz: 100, length: 100 },
      FPS8,
      3,
      'start',
    );
    expect(Array.from(ramp)).toEqual([0, 0.13, 0.25]);
    const phase = signalAtFrames(
      signalSchema.parse({ from: 'beatPhase', range: [0, 2] }),
      { ...context, fps: parseFps('10') },
      4,
    );
    expect(Array.from(phase, (v) => Math.round(v * 1e9) / 1e9)).toEqual([0, 0.4, 0.8, 1.2]);
  });

  it('an inverted range turns a pulse into a dip, and the frame still shows it', () => {
    const dip = signalAtFrames(signalSchema.parse({ from: 'beat', range: [1, 0] }), context, 8);
    expect(Array.from(dip)).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
  });
});

describe('bars follow meter changes', () => {
  // Beats every 0.5 s from 0 s. Bars found by the analysis: 4/4 at 0 s, 4/4 at 2 s, 3/4 at 4 s,
  // 7/4 at 5.5 s, then 4/4 at 9 s (the song's meter) to the end.
  const beats = Array.from({ length: 25 }, (_, i) => i * 0.5);
  const downbeats = [0, 2, 4, 5.5, 9];
  const analysis = makeAnalysis({ durationSec: 12.5, beats, downbeats, beatsPerBar: 4 });
  const grid = beatGridOf(analysis).grid;

  it('the grid keeps every bar start the analysis found', () => {
    expect(grid.barStarts).toEqual([0, 4, 8, 11, 18]);
    expect(grid.firstDownbeat).toBe(0);
  });

  it.each([
    [1, 0],
    [3, 4],
    [3.5, 4.75], // halfway through the 3/4 bar: 1.5 beats in
    [4, 5.5],
    [5, 9],
    [6, 11], // past the last bar found: the song's 4/4
    [0, -2], // before bar 1: a bar of the song's meter
  ])('bar %f starts at %f s', (bar, sec) => {
    expect(barStartSec(grid, bar)).toBeCloseTo(sec, 12);
  });

  it.each([
    [4.75, 2.5],
    [5.5, 3],
    [7.25, 3.5], // 3.5 of the 7/4 bar's 7 beats
    [10, 4.5],
    [-1, -0.5], // two beats of a 4/4 pickup
  ])('at %f s, %f bars have passed since bar 1', (sec, bars) => {
    expect(barPositionAt(grid, sec)).toBeCloseTo(bars, 12);
  });

  it.each([
    ['1 bar', 4, 1.5], // the 3/4 bar
    ['1 bar', 5.5, 3.5], // the 7/4 bar
    ['2 bars', 2, 3.5], // 4/4 then 3/4
    ['1 bar', 4.75, 2.5], // the second half of the 3/4 bar, then the first half of the 7/4 bar
    ['1 bar', 9, 2],
  ])('%s at %f s lasts %f s', (text, atSec, sec) => {
    expect(durationSecAt(parseDuration(text)!, atSec, FPS8, grid)).toBeCloseTo(sec, 12);
  });

  it.each([
    ['1 bar', 5.5, 4], // back over the 3/4 bar
    ['1 bar', 9, 5.5], // back over the 7/4 bar
    ['2 bars', 9, 4],
  ])('%s before %f s is %f s', (text, atSec, sec) => {
    expect(secBefore(parseDuration(text)!, atSec, FPS8, grid)).toBeCloseTo(sec, 12);
  });

  it('a new seed every 2 bars lands on the bar starts, whatever their lengths', () => {
    const context = { analysis, beats: grid, fps: FPS8, durationSec: 12.5 };
    const times = seedEventTimes(seedSchema.parse({ sections: false, every: '2 bars' }), context);
    expect(times).toEqual([4, 9, 13].filter((t) => t < 12.5));
  });

  it('bar phase ramps through each bar, and a bar reset restarts at each bar start', () => {
    const context: SignalContext = { analysis, grid: gridOf(analysis), beats: grid, fps: FPS8 };
    const bar = shapeSignal(signalSchema.parse({ from: 'barPhase' }), context);
    const at = (sec: number): number => Math.round(bar[Math.round(sec * 100)]! * 1e9) / 1e9;
    expect([at(4.75), at(7.25), at(10)]).toEqual([0.5, 0.5, 0.5]);
    const ramp = shapeSignal(
      signalSchema.parse({ from: 'section', values: { other: 1 }, mode: 'accumulate', reset: 'bar' }),
      context,
    );
    const restarts = Array.from(ramp, (v, i) => (i > 0 && v < ramp[i - 1]! ? i / 100 : -1)).filter((t) => t >= 0);
    expect(restarts).toEqual([2, 4, 5.5, 9, 11]);
  });
});
