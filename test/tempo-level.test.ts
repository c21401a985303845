import { describe, expect, it } from 'vitest';
import { analyzeSamples } from '../src/analysis/analyze.js';
import { lagCorrelation } from '../src/analysis/tempo-level.js';
import { eventF } from './helpers/drums.js';
import { makeGroove } from './helpers/grooves.js';

const SOURCE = { path: 'synth', channels: 1, sourceSampleRateHz: 22050, codec: 'pcm_f32le' };
/** A new chord root every bar, so the bass and the harmony repeat with the bar (4 bars). */
const ROOTS = [55, 73.42, 61.74, 82.41];

describe('tempo level from the bar and the backbeat', () => {
  it('lagCorrelation: 1 at the period of a pulse train, negative half a period off', () => {
    const pulses = Float32Array.from({ length: 400 }, (_, i) => (i % 20 === 0 ? 1 : 0));
    const at = lagCorrelation(pulses);
    expect(at(20)).toBeCloseTo(1, 6);
    expect(at(40)).toBeCloseTo(1, 6);
    expect(at(10)).toBeLessThan(0);
    expect(lagCorrelation(new Float32Array(100))(10)).toBe(0);
  });

  it.each([
    [
      '70 BPM, 16th-note hats, snare on 2 and 4, bass and chords once a bar',
      70,
      { kick: 'X.....x.X.......', snare: '....X.......X...', hat: 'xoxoxoxoxoxoxoxo', bass: 'x.....x.x.......' },
    ],
    [
      '80 BPM, straight 16th hats, a stab on 1 and 3',
      80,
      {
        kick: 'X.....x...X.....',
        snare: '....X.......X..o',
        hat: 'xxxxxxxxxxxxxxxx',
        bass: 'X.x...x...x.x...',
        stab: 'x.......x.......',
      },
    ],
  ])('a slow groove (%s) is tracked at its own tempo, not twice as fast', async (_, bpm, patterns) => {
    const groove = makeGroove({ bpm, bars: 16, patterns, roots: ROOTS });
    const analysis = await analyzeSamples(groove.samples, groove.sampleRateHz, SOURCE);
    expect(Math.abs(analysis.bpm! - bpm) / bpm).toBeLessThan(0.01);
    expect(analysis.beats).toHaveLength(groove.beats.length);
    expect(eventF(groove.beats, analysis.beats)).toBe(1);
    expect(eventF(groove.downbeats, analysis.downbeats)).toBe(1);
  });
});
