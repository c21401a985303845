import { describe, expect, it } from 'vitest';
import { alternation, offbeats, phaseEvidence, shiftToOffbeats, snareActivation } from '../src/analysis/beat-phase.js';
import { computeFrameFeatures } from '../src/analysis/feature-extractor.js';
import { analyzeSamples } from '../src/analysis/analyze.js';
import { eventF } from './helpers/drums.js';
import { GROOVES, makeGroove } from './helpers/grooves.js';

describe('beat-phase helpers', () => {
  it.each([
    ['a backbeat alternates fully', [0, 4, 0, 4, 0, 4, 0, 4], 4],
    ['steady values do not alternate', [3, 3, 3, 3, 3, 3, 3, 3], 0],
    ['one accent a bar alternates half as much', [4, 0, 0, 0, 4, 0, 0, 0], 2],
    // Over the whole sequence even and odd would cancel; only the window across the flip does.
    ['a dropped beat flips parity: only the windows across it lose', [0, 4, 0, 4, 0, 4, 4, 0, 4, 0, 4, 0], 4 / 3],
    ['fewer values than one window', [0, 4, 0, 4], 0],
  ])('alternation: %s', (_name, values, expected) => {
    expect(alternation(values)).toBeCloseTo(expected, 9);
  });

  it('puts offbeats halfway between beats', () => {
    expect(offbeats([10, 20, 32, 40])).toEqual([15, 26, 36]);
  });

  it('moves beats to the offbeats, onto the nearest envelope peak within two frames', () => {
    const envelope = new Float32Array(60);
    envelope[16] = 1; // one frame after the midpoint 15
    envelope[36] = 1; // exactly at the midpoint
    // No peak near 25: stays at the midpoint. The last offbeat follows the last beat by half a beat.
    expect(shiftToOffbeats([10, 20, 30, 40], envelope)).toEqual([16, 25, 36, 45]);
  });
});

describe('phase evidence on grooves', () => {
  it.each(['rock', 'funk', 'oneDrop', 'ska'] as const)(
    '%s: the beats win over the offbeats, the offbeats lose to the beats',
    async (name) => {
      const groove = makeGroove({ ...GROOVES[name], bars: 16 });
      const features = await computeFrameFeatures(groove.samples, groove.sampleRateHz);
      const frameRate = groove.sampleRateHz / features.hopSamples;
      const beatFrames = groove.beats.map((b) => b * frameRate);
      const snare = snareActivation(features);
      expect(phaseEvidence(beatFrames, features, snare).total).toBeGreaterThan(0);
      expect(phaseEvidence(offbeats(beatFrames), features, snare).total).toBeLessThan(0);
    },
  );
});

describe('an offbeat bass without a kick', () => {
  // The bass is the only sound below 240 Hz and plays every offbeat; claps or a snare on 2 and 4
  // and the hats say where the beat is. Each register votes and no cue decides alone.
  const SOURCE = { path: 'synth', channels: 1, sourceSampleRateHz: 22050, codec: 'pcm_f32le' };
  it.each([
    [
      'claps on 2 and 4, quarter-note hats',
      { bass: '..X...X...X...X.', clap: '....x.......x...', hat: 'x...x...x...x...' },
    ],
    [
      'a snare on 2 and 4, 8th-note hats, a bass with pickups',
      { bass: '..X..xX...X..xX.', snare: '....x.......x...', hat: 'x.o.x.o.x.o.x.o.' },
    ],
  ])('%s: the beats are on the beat, not on the bass', async (_, patterns) => {
    const groove = makeGroove({ bpm: 120, bars: 16, patterns });
    const analysis = await analyzeSamples(groove.samples, groove.sampleRateHz, SOURCE);
    expect(eventF(groove.beats, analysis.beats)).toBe(1);
    expect(
      eventF(
        groove.beats.map((b) => b + 0.25),
        analysis.beats,
      ),
    ).toBe(0);
  });
});

describe('a swung beat', () => {
  // Boogie-woogie: every beat a long and a short eighth (two thirds and one third of the beat),
  // the short one accented by the bass, the hats and a stab; the snare on 2 and 4. The accents
  // alone put the beat on the swung eighths, two thirds of a beat late.
  const SOURCE = { path: 'synth', channels: 1, sourceSampleRateHz: 22050, codec: 'pcm_f32le' };
  const swung = (beat: string, and: string): string => `${beat}.${and}`.repeat(4);
  it.each([
    [
      'accented swung eighths, a snare on 2 and 4',
      { bass: swung('o', 'X'), hat: swung('o', 'X'), stab: swung('.', 'x'), snare: '...x.....x..' },
    ],
    [
      'accented swung eighths, no drums but the hats',
      { bass: swung('x', 'X'), hat: swung('o', 'X'), stab: swung('.', 'X') },
    ],
  ])('%s: the beats start the long eighths', async (_, patterns) => {
    const groove = makeGroove({ bpm: 120, bars: 16, stepsPerBeat: 3, patterns });
    const analysis = await analyzeSamples(groove.samples, groove.sampleRateHz, SOURCE);
    // Before: F 0 on the beats, 1 on the swung eighths. Now every beat but the first (its long
    // eighth starts the song, with no short one before it to follow).
    expect(eventF(groove.beats, analysis.beats)).toBeCloseTo(1 - 1 / 127, 6);
    expect(
      eventF(
        groove.beats.map((b) => b + 1 / 3),
        analysis.beats,
      ),
    ).toBe(0);
    expect(analysis.bpm).toBeCloseTo(120, 1);
  });

  it('a shuffle whose beats are the accented eighths keeps its beats', async () => {
    const groove = makeGroove({
      bpm: 120,
      bars: 16,
      stepsPerBeat: 3,
      patterns: { kick: 'X.....X.....', bass: swung('X', 'x'), hat: swung('x', 'o'), snare: '...X.....X..' },
    });
    const analysis = await analyzeSamples(groove.samples, groove.sampleRateHz, SOURCE);
    expect(eventF(groove.beats, analysis.beats)).toBe(1);
  });

  it('a beat whose three triplet eighths all sound keeps its beats', async () => {
    const groove = makeGroove({
      bpm: 100,
      bars: 16,
      stepsPerBeat: 3,
      patterns: { kick: 'X.....X.....', hat: 'xoxxoxxoxxox', snare: '...x.....x..', bass: 'X..x..X..x..' },
    });
    const analysis = await analyzeSamples(groove.samples, groove.sampleRateHz, SOURCE);
    expect(eventF(groove.beats, analysis.beats)).toBe(1);
  });
});
