import { describe, expect, it } from 'vitest';
import { analysisSchema } from '../src/analysis/analysis-schema.js';
import { analyzeSamples } from '../src/analysis/analyze.js';
import { eventF } from './helpers/drums.js';
import { makePitchedPiece, type PitchedPieceOptions } from './helpers/pitched.js';

const SOURCE = { path: 'synth', channels: 1, sourceSampleRateHz: 22050, codec: 'pcm_f32le' };

async function analyse(options: PitchedPieceOptions) {
  const piece = makePitchedPiece(options);
  const analysis = analysisSchema.parse(await analyzeSamples(piece.samples, piece.sampleRateHz, SOURCE));
  return { piece, analysis };
}

/** The truth's bar positions (1 = downbeat) as a string, one digit a beat. */
function positionsOf(beats: readonly number[], downbeats: readonly number[]): string {
  let position = 0;
  return beats.map((b) => (downbeats.includes(b) ? (position = 1) : ++position)).join('');
}

describe('music without drums (synthesised pieces with known beats)', () => {
  it('a string piece whose notes swell in (72 BPM, legato, vibrato) has its beats: every note, none invented', async () => {
    const { piece, analysis } = await analyse({ tempo: [{ bpm: 72, bars: 14 }], beatsPerBar: 4, voice: 'strings' });
    expect(Math.abs(analysis.bpm! - 72) / 72).toBeLessThan(0.005);
    expect(analysis.beats).toHaveLength(piece.beats.length);
    // A bowed note swells in over 90 ms; its beat is heard within that swell, never before the note.
    analysis.beats.forEach((b, i) => {
      expect(b - piece.beats[i]!).toBeGreaterThanOrEqual(0);
      expect(b - piece.beats[i]!).toBeLessThan(0.09);
    });
    expect(analysis.meter.timeSignature).toBe('4/4');
    expect(eventF(piece.downbeats, analysis.downbeats)).toBe(1);
  });

  it.each([
    ['3/4 at 100', 3, 100, 20],
    ['5/4 at 120', 5, 120, 16],
    ['6/4 at 126', 6, 126, 14],
    ['7/4 at 140', 7, 140, 14],
  ])('piano in %s: the meter, and every bar position exactly', async (name, beatsPerBar, bpm, bars) => {
    const { piece, analysis } = await analyse({ tempo: [{ bpm, bars }], beatsPerBar, voice: 'piano' });
    expect(analysis.meter.timeSignature).toBe(name.split(' ')[0]);
    expect(analysis.beatsPerBar).toBe(beatsPerBar);
    expect(eventF(piece.beats, analysis.beats, 0.01)).toBe(1);
    expect(analysis.beatPositions.join('')).toBe(positionsOf(piece.beats, piece.downbeats));
  });

  it('a meter change (8 bars of 4/4, 8 of 3/4, 8 of 4/4): bars of the right length throughout', async () => {
    const { piece, analysis } = await analyse({
      tempo: [
        { bpm: 110, bars: 8 },
        { bpm: 110, bars: 8, beatsPerBar: 3 },
        { bpm: 110, bars: 8 },
      ],
      beatsPerBar: 4,
      voice: 'piano',
    });
    expect(analysis.meter.timeSignature).toBe('4/4');
    expect(eventF(piece.beats, analysis.beats, 0.01)).toBe(1);
    expect(analysis.beatPositions.join('')).toBe(positionsOf(piece.beats, piece.downbeats));
    expect(analysis.downbeats).toHaveLength(24);
  });

  it.each([
    [4, 1],
    [3, 1],
    [4, 2],
  ])(
    'a %i-beat bar with a pickup of %i beat(s): the pickup has its beats, counted back from the first bar',
    async (beatsPerBar, pickupBeats) => {
      const { piece, analysis } = await analyse({
        tempo: [{ bpm: 100, bars: 14 }],
        beatsPerBar,
        voice: 'piano',
        pickupBeats,
      });
      expect(analysis.beats).toHaveLength(piece.beats.length);
      expect(analysis.downbeats[0]).toBeCloseTo(piece.downbeats[0]!, 2);
      expect(analysis.beatPositions.join('')).toBe(
        Array.from(piece.beats, (_, i) => ((beatsPerBar - pickupBeats + i) % beatsPerBar) + 1).join(''),
      );
    },
  );

  it('a ritardando (100 → 70 BPM over the last six bars) is followed to the end', async () => {
    const { piece, analysis } = await analyse({
      tempo: [
        { bpm: 100, bars: 10 },
        { bpm: 100, endBpm: 70, bars: 6 },
      ],
      beatsPerBar: 4,
      voice: 'piano',
    });
    expect(eventF(piece.beats, analysis.beats)).toBeGreaterThanOrEqual(0.97);
    expect(eventF(piece.downbeats, analysis.downbeats)).toBe(1);
    // Every beat of the slowing bars but the last few is kept, and the tempo map slows with them.
    expect(analysis.beats.filter((b) => b > piece.beats[40]!).length).toBeGreaterThanOrEqual(20);
    expect(analysis.tempoMap.at(-1)!.bpm).toBeGreaterThan(70);
    expect(analysis.tempoMap.at(-1)!.bpm).toBeLessThan(80);
  });
});
