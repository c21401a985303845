import { describe, expect, it } from 'vitest';
import {
  asTimes,
  beatOffsetMs,
  continuity,
  fMeasure,
  matchEvents,
  referenceVariations,
  tempoAccuracy,
  trimBeats,
} from '../bench/analysis/mir-metrics.js';
import { annotatedBoundaries, boundaryCounts, boundaryF } from '../bench/analysis/score-sections.js';

describe('mir_eval-equivalent metrics (hand-computed cases)', () => {
  it('keeps score.py estimates sorted, unique, finite and in range', () => {
    expect(asTimes([3, 'x', 2, 2, -1, Number.NaN, 1e9, { time: 6 }, { t: 7 }])).toEqual([2, 3, 6, 7]);
    expect(asTimes(null)).toEqual([]);
  });

  it('trims beats before 5 s (inclusive at 5)', () => {
    expect(trimBeats([4.99, 5, 6])).toEqual([5, 6]);
  });

  it.each([
    // ref, est, window, matched
    [[1, 2, 3], [1.05, 2.1, 3], 0.07, 2],
    [[1, 1.1], [1.05], 0.07, 1],
    [[1, 1.1], [1.04, 1.06], 0.07, 2],
    [[1], [1.07], 0.07, 1],
    [[], [1], 0.07, 0],
  ])('matches %j against %j within %s: %s pairs', (ref, est, w, matched) => {
    expect(matchEvents(ref, est, w)).toBe(matched);
  });

  it('F-measure: 2PR/(P+R), 0 when either list is empty', () => {
    // 2 of 3 references, 2 of 4 estimates: P = 0.5, R = 2/3, F = 4/7.
    expect(fMeasure([1, 2, 3], [1.01, 2.02, 5, 6], 0.07)).toBeCloseTo(4 / 7, 12);
    expect(fMeasure([1], [], 0.07)).toBe(0);
  });

  it('builds the five reference variations as mir_eval does', () => {
    expect(referenceVariations([0, 1, 2])).toEqual([[0, 1, 2], [0.5, 1.5], [0, 0.5, 1, 1.5, 2], [0, 2], [1]]);
  });

  it('continuity: perfect, off-beat, double tempo, one wrong beat', () => {
    const ref = [5, 5.5, 6, 6.5, 7, 7.5, 8];
    expect(continuity(ref, ref)).toEqual({ cmlc: 1, cmlt: 1, amlc: 1, amlt: 1 });
    const offbeat = ref.slice(0, -1).map((b) => b + 0.25);
    const c = continuity(ref, offbeat);
    expect(c.cmlt).toBe(0);
    expect(c.amlt).toBe(1);
    // Every other beat at half tempo: CMLt 0, AMLt 1 (the half-tempo variation matches).
    const half = [5, 6, 7, 8];
    expect(continuity(ref, half).cmlt).toBeCloseTo(0, 12);
    expect(continuity(ref, half).amlt).toBe(1);
    // The 4th estimate is 100 ms late (phase 0.2 > 0.175) and the 5th's interval is 20 % short:
    // 5 of 7 correct, longest run 3 (values checked against mir_eval 0.7).
    const wrong = [5, 5.5, 6, 6.6, 7, 7.5, 8];
    expect(continuity(ref, wrong)).toEqual({ cmlc: 3 / 7, cmlt: 5 / 7, amlc: 3 / 7, amlt: 5 / 7 });
  });

  it('divides continuity by max(#ref, #est)', () => {
    // Two extra estimates beyond the references fail (their nearest annotation is used): 3 of 5
    // (mir_eval 0.7 gives 0.6).
    expect(continuity([5, 6, 7], [5, 6, 7, 8, 9]).cmlt).toBeCloseTo(3 / 5, 12);
  });

  it('tempo accuracy within 4 %, with octave factors for Acc2', () => {
    expect(tempoAccuracy(124.9, [[120, 120]], [1])).toBe(0);
    expect(tempoAccuracy(124.8, [[120, 120]], [1])).toBe(1);
    expect(tempoAccuracy(60, [[120, 120]], [1])).toBe(0);
    expect(tempoAccuracy(60, [[120, 120]], [1, 2, 0.5, 3, 1 / 3])).toBe(1);
    expect(tempoAccuracy(115, [[108, 128]], [1])).toBe(1);
    expect(tempoAccuracy(null, [[120, 120]], [1])).toBe(0);
  });

  it('median offset of the nearest estimates within 70 ms', () => {
    expect(beatOffsetMs([5, 6, 7], [5.01, 6.02, 7.5])).toBeCloseTo(15, 9);
    expect(beatOffsetMs([5], [])).toBeNaN();
  });
});

describe('section boundary scores (bench/analysis/score-sections.ts)', () => {
  const truth = [
    { start: 0.5, label: 'intro' },
    { start: 16.3, label: 'groove' },
    { start: 40.3, label: 'break' },
    { start: 48.3, label: 'main' },
    { start: 64.3, label: 'end' },
  ];

  it('interior boundaries: not the song start, not the end marker', () => {
    expect(annotatedBoundaries(truth)).toEqual([16.3, 40.3, 48.3]);
  });

  it.each([
    // window, hits: 16.0 is 0.3 s off, 42.0 is 1.7 s off, 48.3 exact; 60 matches nothing
    [0.5, { hits: 2, reference: 3, estimated: 4 }],
    [3, { hits: 3, reference: 3, estimated: 4 }],
  ])('within ±%s s: %j', (windowSec, counts) => {
    const ours = [0, 16, 42, 48.3, 60].map((startSec) => ({ startSec, label: 'drop' }));
    expect(boundaryCounts([{ id: 'a', truth, ours }], windowSec)).toEqual(counts);
  });

  it('P, R and F from pooled counts', () => {
    const { precision, recall, f } = boundaryF({ hits: 2, reference: 3, estimated: 4 });
    expect([precision, recall]).toEqual([0.5, 2 / 3]);
    expect(f).toBeCloseTo(4 / 7, 12);
    expect(boundaryF({ hits: 0, reference: 3, estimated: 0 })).toEqual({ precision: 0, recall: 0, f: 0 });
  });
});
