import { describe, expect, it } from 'vitest';
import { EASINGS, type Easing } from '../src/config/mapping-schema.js';
import { ease } from '../src/keyframes/easing.js';
import {
  accumulate,
  applyEnvelope,
  applyGate,
  applyThreshold,
  constantSamples,
  leadBy,
  normalizePercentile,
  smoothCentered,
  waveAt,
} from '../src/keyframes/shaping.js';

const f64 = (values: number[]): Float64Array => Float64Array.from(values);
/** Exact to 12 digits (the arithmetic is double precision; the tables are written in decimals). */
const r = (values: ArrayLike<number>): number[] => Array.from(values, (v) => Math.round(v * 1e12) / 1e12);

describe('normalizePercentile', () => {
  it.each([
    [
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [0, 100],
      [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    ],
    // 10th..90th percentile of 0..10 is 1..9: the ends clamp.
    [
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [10, 90],
      [0, 0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1, 1],
    ],
    // One loud spike does not squash the rest (robust): the 95th percentile ignores it.
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 100], [5, 95], null],
    [
      [3, 3, 3],
      [5, 95],
      [0, 0, 0],
    ],
  ])('%j with percentiles %j', (values, [lo, hi], expected) => {
    const out = r(normalizePercentile(f64(values), lo, hi));
    if (expected) expect(out).toEqual(expected);
    else {
      expect(out[20]).toBeGreaterThan(0.4);
      expect(out[22]).toBe(1);
    }
  });
});

describe('smoothCentered', () => {
  it.each([
    [[0, 0, 3, 0, 0], 3, [0, 1, 1, 1, 0]],
    [[0, 0, 5, 0, 0], 5, [5 / 3, 5 / 4, 1, 5 / 4, 5 / 3]],
    [[1, 2, 3], 1, [1, 2, 3]],
    [[1, 2, 3], 0, [1, 2, 3]],
  ])('%j over a window of %i samples', (values, window, expected) => {
    expect(r(smoothCentered(f64(values), constantSamples(window)))).toEqual(r(expected));
  });
});

describe('threshold and gate', () => {
  it.each([
    [[0.2, 0.5, 0.6, 1], 0.5, [0, 0, 0.2, 1]],
    [[0.2, 0.5, 0.75, 1], 0, [0.2, 0.5, 0.75, 1]],
    [[0.25, 0.75], 0.25, [0, 2 / 3]],
  ])('threshold: %j at %f → %j', (values, threshold, expected) => {
    expect(r(applyThreshold(f64(values), threshold))).toEqual(r(expected));
  });
  it.each([
    [[0.2, 0.5, 0.6, 1], 0.5, [0, 1, 1, 1]],
    [[0.2, 0.49, 0.8], 0.8, [0, 0, 1]],
  ])('gate: %j at %f → %j', (values, gate, expected) => {
    expect(Array.from(applyGate(f64(values), gate))).toEqual(expected);
  });
});

describe('applyEnvelope: attack / hold / release, in samples', () => {
  const env = (values: number[], attack: number, hold: number, release: number): number[] =>
    r(applyEnvelope(f64(values), () => ({ attack, hold, release })));
  it.each([
    ['passes the input through with no times', [0, 1, 0.5, 0, 0.3], [0, 0, 0], [0, 1, 0.5, 0, 0.3]],
    ['releases an impulse linearly to 0', [0, 1, 0, 0, 0, 0, 0], [0, 0, 4], [0, 1, 0.75, 0.5, 0.25, 0, 0]],
    ['reaches the peak after the attack', [0, 1, 0, 0, 0, 0, 0, 0], [2, 0, 4], [0, 0, 0.5, 1, 0.75, 0.5, 0.25, 0]],
    ['holds the peak', [0, 1, 0, 0, 0, 0, 0, 0], [0, 2, 4], [0, 1, 1, 1, 0.75, 0.5, 0.25, 0]],
    ['a second hit during the release starts again', [1, 0, 0, 1, 0, 0], [0, 0, 4], [1, 0.75, 0.5, 1, 0.75, 0.5]],
    [
      'a weaker hit during the release holds the envelope at its height',
      [1, 0, 0.6, 0, 0],
      [0, 0, 4],
      [1, 0.75, 0.6, 0.45, 0.3],
    ],
    ['a steady input holds the envelope up', [0.5, 0.5, 0.5, 0.5, 0.5], [0, 0, 2], [0.5, 0.5, 0.5, 0.5, 0.5]],
    [
      'a steady input holds it up after an attack too',
      [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
      [2, 0, 2],
      [0, 0.25, 0.5, 0.5, 0.5, 0.5],
    ],
    ['an input that falls slower than the release is followed', [1, 0.9, 0.8, 0.7], [0, 0, 2], [1, 0.9, 0.8, 0.7]],
    [
      'an input that falls faster than the release is released',
      [1, 0, 0, 0, 0, 0],
      [0, 0, 20],
      [1, 0.95, 0.9, 0.85, 0.8, 0.75],
    ],
    // A rising input restarts the ramp from the current level whenever it passes the peak.
    [
      'a rising input is followed with the attack as lag',
      [0, 0.2, 0.4, 0.6, 0.8, 1, 1, 1],
      [2, 0, 0],
      [0, 0, 0.1, 0.25, 0.425, 0.6125, 0.80625, 1],
    ],
    ['release 0 drops at once after the hold', [0, 1, 0, 0, 0], [0, 1, 0], [0, 1, 1, 0, 0]],
  ])('%s', (_what, values, [attack, hold, release], expected) => {
    expect(env(values, attack!, hold!, release!)).toEqual(r(expected));
  });

  it('reads the times at each trigger (so they can follow the tempo)', () => {
    const times = [4, 4, 4, 4, 2, 2, 2, 2];
    const out = applyEnvelope(f64([1, 0, 0, 0, 1, 0, 0, 0]), (i) => ({ attack: 0, hold: 0, release: times[i]! }));
    expect(r(out)).toEqual([1, 0.75, 0.5, 0.25, 1, 0.5, 0, 0]);
  });
});

describe('accumulate', () => {
  it.each([
    [[1, 1, 1, 1], [], [0.25, 0.5, 0.75, 1]],
    [[0, 2, 0, 2], [], [0, 0.5, 0.5, 1]],
    [[1, 1, 1, 1], [2], [0.5, 1, 0.5, 1]],
    [[1, 3, 0, 0], [2], [0.25, 1, 0, 0]],
    [[0, 0, 0], [], [0, 0, 0]],
  ])('%j with resets at %j → %j', (values, resets, expected) => {
    expect(r(accumulate(f64(values), resets))).toEqual(expected);
  });
});

describe('leadBy', () => {
  it.each([
    [[0, 0, 1, 0, 0], 2, [1, 0, 0, 0, 0]],
    [[0, 0, 1, 0, 0], 1.4, [0, 1, 0, 0, 0]],
    [[0, 0, 1, 0, 2], 3, [0, 2, 2, 2, 2]],
    [[1, 2, 3], 0, [1, 2, 3]],
  ])('%j moved %f samples earlier → %j', (values, shift, expected) => {
    expect(Array.from(leadBy(f64(values), constantSamples(shift)))).toEqual(expected);
  });
});

describe('waveAt', () => {
  it.each([
    ['saw', 0, 0],
    ['saw', 0.25, 0.25],
    ['saw', 1.75, 0.75],
    ['saw', -0.25, 0.75],
    ['sine', 0, 0],
    ['sine', 0.25, 0.5],
    ['sine', 0.5, 1],
    ['sine', 0.75, 0.5],
    ['triangle', 0, 0],
    ['triangle', 0.25, 0.5],
    ['triangle', 0.5, 1],
    ['triangle', 0.75, 0.5],
    ['square', 0, 1],
    ['square', 0.49, 1],
    ['square', 0.5, 0],
    ['square', 0.99, 0],
  ] as const)('%s at phase %f = %f', (wave, phase, value) => {
    expect(waveAt(wave, phase)).toBeCloseTo(value, 12);
  });
});

describe('easing curves', () => {
  it.each([
    ['linear', 0.25, 0.25],
    ['easeInSine', 0.5, 1 - Math.cos(Math.PI / 4)],
    ['easeOutSine', 0.5, Math.sin(Math.PI / 4)],
    ['easeInOutSine', 0.25, (1 - Math.cos(Math.PI / 4)) / 2],
    ['easeInQuad', 0.5, 0.25],
    ['easeOutQuad', 0.5, 0.75],
    ['easeInOutQuad', 0.25, 0.125],
    ['easeInOutQuad', 0.75, 0.875],
    ['easeInCubic', 0.5, 0.125],
    ['easeOutCubic', 0.5, 0.875],
    ['easeInOutCubic', 0.25, 0.0625],
    ['easeInQuart', 0.5, 0.0625],
    ['easeOutQuart', 0.5, 0.9375],
    ['easeInOutQuart', 0.25, 0.03125],
    ['easeInExpo', 0.5, 0.03125],
    ['easeOutExpo', 0.5, 0.96875],
    ['easeInOutExpo', 0.25, 0.015625],
    ['smoothstep', 0.25, 0.15625],
  ] as const)('%s(%f) = %f', (curve, x, y) => {
    expect(ease(curve, x)).toBeCloseTo(y, 12);
  });

  it.each(EASINGS.map((e) => [e]))('%s maps 0 → 0 and 1 → 1, rises, and clamps its input', (curve: Easing) => {
    expect(ease(curve, 0)).toBeCloseTo(0, 12);
    expect(ease(curve, 1)).toBeCloseTo(1, 12);
    expect(ease(curve, -3)).toBe(ease(curve, 0));
    expect(ease(curve, 7)).toBe(ease(curve, 1));
    for (let x = 0; x < 1; x += 0.05) expect(ease(curve, x + 0.05)).toBeGreaterThanOrEqual(ease(curve, x) - 1e-12);
  });
});
