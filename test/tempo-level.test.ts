import { describe, expect, it } from 'vitest';
import { analyzeSamples } from '../src/analysis/analyze.js';
import { chooseTempoLevel, lagCorrelation, levelEvidence, onSongLevel } from '../src/analysis/tempo-level.js';
import type { FrameFeatures } from '../src/analysis/feature-extractor.js';
import type { TempoPath } from '../src/analysis/tempo.js';
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

  /**
   * Bass and chords that change every `barSec` (a pulse in the 30–120 Hz accents, a new pitch class),
   * no snare, and a tempo path at `bpm` whose windows hear no periodicity at all: only the tempo
   * prior and the bar decide.
   */
  function barOnly(barSec: number, bpm: number): { path: TempoPath; features: FrameFeatures; snare: Float32Array } {
    const frameRate = 22050 / 256;
    const frames = Math.round(120 * frameRate);
    const low = new Float32Array(frames);
    const chroma = new Float32Array(Math.ceil(frames / 2) * 12);
    for (let f = 0; f < frames; f++) {
      const bar = Math.floor(f / (barSec * frameRate));
      if (Math.floor((f - 1) / (barSec * frameRate)) < bar) low[f] = 1;
      if (f % 2 === 0) chroma[(f / 2) * 12 + ((bar * 5) % 12)] = 1;
    }
    const windows = 10;
    const path: TempoPath = {
      frameRate,
      windowCentres: Float64Array.from({ length: windows }, (_, w) => (w + 0.5) * (frames / windows)),
      bpm: new Float64Array(windows).fill(bpm),
      salience: new Float64Array(windows),
      subdivision: new Int32Array(windows).fill(1),
      ternary: new Uint8Array(windows),
      acf: Array.from({ length: windows }, () => new Float32Array(600)),
    };
    const features = {
      frameCount: frames,
      envelopeCount: Math.ceil(frames / 2),
      bandAccents: [low],
      chroma,
    } as unknown as FrameFeatures;
    return { path, features, snare: new Float32Array(frames) };
  }

  it('bass and chords repeating every 3 s: 160 BPM (8-beat bars) becomes 80 (bars of 4)', () => {
    const { path, features, snare } = barOnly(3, 160);
    const evidence = levelEvidence(path, features, snare);
    expect(evidence.map((e) => e.factor)).toEqual([0.5, 1]);
    // The tempo prior alone prefers 160: log-normal around 120 BPM, 0.6 octave.
    expect(evidence[1]!.tactus).toBeGreaterThan(evidence[0]!.tactus);
    expect(evidence[0]!.total).toBeGreaterThan(evidence[1]!.total);
    const chosen = chooseTempoLevel(path, features, snare);
    expect(Array.from(chosen.bpm)).toEqual(new Array(10).fill(80));
  });

  it('bass and chords repeating every 1.5 s: 160 BPM stays (bars of 4 beats)', () => {
    const { path, features, snare } = barOnly(1.5, 160);
    expect(chooseTempoLevel(path, features, snare)).toBe(path);
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

describe('one metrical level through the song', () => {
  const frameRate = 22050 / 256;
  /** Windows whose accents recur exactly every beat of `bpm` (a pulse train's autocorrelation). */
  function pathAt(bpms: readonly number[], pulseBpm: number): TempoPath {
    const period = (60 * frameRate) / pulseBpm;
    const acf = Float32Array.from({ length: 800 }, (_, lag) => {
      const k = lag / period;
      return Math.abs(k - Math.round(k)) * period < 0.5 ? 1 : 0;
    });
    return {
      frameRate,
      windowCentres: Float64Array.from(bpms, (_, w) => (w + 3) * 2 * frameRate),
      bpm: Float64Array.from(bpms),
      salience: new Float64Array(bpms.length).fill(0.5),
      subdivision: new Int32Array(bpms.length).fill(1),
      ternary: new Uint8Array(bpms.length),
      acf: bpms.map(() => acf),
    };
  }

  it('an intro read at twice the tempo of the rest is put back on the song level, and re-scored there', () => {
    const path = pathAt([170, 170, 171, 170, 85, 85, 85, 85, 85, 85], 85);
    const level = onSongLevel(path);
    expect(Array.from(level.bpm)).toEqual([85, 85, 85.5, 85, 85, 85, 85, 85, 85, 85]);
    expect(level.salience[0]).toBe(1);
    expect(level.windowCentres).toBe(path.windowCentres);
  });

  it('a half-time passage comes back up to the song level', () => {
    expect(Array.from(onSongLevel(pathAt([120, 120, 120, 60, 60, 120, 120], 120)).bpm)).toEqual(new Array(7).fill(120));
  });

  it.each([
    ['a ritardando', [100, 100, 95, 90, 85, 80, 75]],
    ['a section at two thirds of the tempo', [150, 150, 150, 100, 100, 150]],
    ['one level throughout', [128, 128, 128]],
  ])('%s stays as it is', (_, bpms) => {
    const path = pathAt(bpms, 100);
    expect(onSongLevel(path)).toBe(path);
  });
});
