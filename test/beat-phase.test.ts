import { describe, expect, it } from 'vitest';
import { alternation, offbeats, phaseEvidence, shiftToOffbeats, snareActivation } from '../src/analysis/beat-phase.js';
import { computeFrameFeatures } from '../src/analysis/feature-extractor.js';
import { beatEnvelope } from '../src/analysis/onsets.js';
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
      const envelope = beatEnvelope(features);
      const snare = snareActivation(features);
      expect(phaseEvidence(beatFrames, features, envelope, snare).total).toBeGreaterThan(0);
      expect(phaseEvidence(offbeats(beatFrames), features, envelope, snare).total).toBeLessThan(0);
    },
  );
});
