import { describe, expect, it } from 'vitest';
import { barPositionsWithMeterChanges, repetitionEvidence } from '../src/analysis/downbeats.js';

/**
 * Cues of clear bar lines, as the downbeat cues are on the synthetic pieces of
 * analysis-drumless.test.ts (a sum of three clipped z-scores: bass, harmonic change and, negated,
 * snare): +5 on a bar's first beat, −1 on the others; one cue set for every meter.
 */
function cuesOfBars(bars: readonly number[]): number[] {
  return bars.flatMap((length) => Array.from({ length }, (_, i) => (i === 0 ? 5 : -1)));
}

const positionsOfBars = (bars: readonly number[]): string =>
  bars.map((length) => Array.from({ length }, (_, i) => i + 1).join('')).join('');

describe('bar positions with meter changes', () => {
  const meters = [2, 3, 4, 5, 6, 7];

  it.each([
    ['4/4 throughout', [4, 4, 4, 4, 4, 4, 4, 4]],
    ['4/4, then four bars of 3/4, then 4/4', [4, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4]],
    ['four bars of 5/4 inside 4/4', [4, 4, 4, 4, 5, 5, 5, 5, 4, 4, 4, 4]],
    ['three bars of 7/4 inside 4/4', [4, 4, 4, 4, 7, 7, 7, 4, 4, 4, 4]],
  ])('%s: every position', (_name, bars) => {
    const cues = cuesOfBars(bars);
    expect(barPositionsWithMeterChanges(() => cues, meters, 4).join('')).toBe(positionsOfBars(bars));
  });

  it('a meter that changes every bar is not followed: each change must pay for itself', () => {
    // 5 + 7 beats realign with 4/4 every three bars; six changes cost more than they explain.
    const cues = cuesOfBars([4, 4, 4, 5, 7, 5, 7, 5, 7, 4, 4, 4]);
    expect(barPositionsWithMeterChanges(() => cues, meters, 4).join('')).toBe(positionsOfBars(new Array(15).fill(4)));
  });

  it('one stray accent does not change the meter: a bar of another length must pay for itself', () => {
    const bars = [4, 4, 4, 4, 4, 4, 4, 4];
    const cues = cuesOfBars(bars);
    cues[13] = 5; // beat 2 of the fourth bar
    expect(barPositionsWithMeterChanges(() => cues, meters, 4).join('')).toBe(positionsOfBars(bars));
  });

  it('a pickup: the beats before the first bar count back from it', () => {
    const cues = [-1, -1, ...cuesOfBars([3, 3, 3, 3, 3, 3])];
    expect(barPositionsWithMeterChanges(() => cues, meters, 3).join('')).toBe(
      `23${positionsOfBars([3, 3, 3, 3, 3, 3])}`,
    );
  });
});

describe('repetition evidence for a bar length', () => {
  it('a pattern that repeats every 6 beats and not every 3 favours 6 over 3', () => {
    // Similarity by lag 1…14: high at 6 and 12, low elsewhere (3 and 9 included).
    const repetition = Array.from({ length: 14 }, (_, i) => ((i + 1) % 6 === 0 ? 0.9 : 0.2));
    expect(repetitionEvidence(repetition, 6)).toBeCloseTo(0.7, 10);
    expect(repetitionEvidence(repetition, 3)).toBeCloseTo(0.9 * 0.5 + 0.2 * 0.5 - 0.2, 10);
  });
});
