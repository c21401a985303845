import { describe, expect, it } from 'vitest';
import { computeFrameFeatures, FINE_BLOCK_SAMPLES, type FrameFeatures } from '../src/analysis/feature-extractor.js';
import { refineOnsetSec } from '../src/analysis/onset-timing.js';
import { onsetEnvelope, pickOnsets } from '../src/analysis/onsets.js';

const RATE = 22050;

/** Tones (a plucked chord) that swell in over `attackSec` from each onset, over a quiet hum. */
function swellingNotes(onsetsSec: readonly number[], attackSec: number): Float32Array {
  const out = new Float32Array(RATE * 3);
  for (let i = 0; i < out.length; i++) out[i] = 0.01 * Math.sin((2 * Math.PI * 60 * i) / RATE);
  for (const onset of onsetsSec) {
    const i0 = Math.round(onset * RATE);
    for (let i = 0; i < 0.6 * RATE && i0 + i < out.length; i++) {
      const t = i / RATE;
      const gain = Math.min(1, t / attackSec) * Math.exp(-t * 12);
      out[i0 + i]! +=
        0.3 *
        gain *
        (Math.sin(2 * Math.PI * 330 * t) +
          0.6 * Math.sin(2 * Math.PI * 660 * t) +
          0.4 * Math.sin(2 * Math.PI * 1320 * t));
    }
  }
  return out;
}

describe('onset times refined to the start of the rise', () => {
  // The onset found is where the sound is within 30 dB of its peak, to a 2.9 ms block: within
  // 2 ms for attacks up to ~12 ms; a 40 ms swell reaches −30 dB about 1.3 ms in.
  it.each([
    ['an instant attack', 0.0005, 0.002],
    ['a 12 ms swell', 0.012, 0.002],
    ['a 40 ms swell (bowed strings)', 0.04, 0.0035],
  ])('%s: found within the tolerance of the true onset', async (_name, attackSec, toleranceSec) => {
    const onsetsSec = [0.5, 1.2, 2.1];
    const features = await computeFrameFeatures(swellingNotes(onsetsSec, attackSec), RATE);
    const frameRate = RATE / features.hopSamples;
    const picked = pickOnsets(onsetEnvelope(features), frameRate).map((o) => o.frame / frameRate);
    expect(picked).toHaveLength(3);
    picked.forEach((peakSec, i) =>
      expect(Math.abs(refineOnsetSec(peakSec, features) - onsetsSec[i]!)).toBeLessThan(toleranceSec),
    );
  });

  it('a swell puts the envelope peak more than 3 ms late (the refinement above brings it within 2 ms)', async () => {
    const features = await computeFrameFeatures(swellingNotes([0.5], 0.012), RATE);
    const frameRate = RATE / features.hopSamples;
    const [peak] = pickOnsets(onsetEnvelope(features), frameRate).map((o) => o.frame / frameRate);
    expect(peak! - 0.5).toBeGreaterThan(0.003);
  });

  it('leaves a time alone where nothing rises near it (a steady tone)', async () => {
    const tone = Float32Array.from({ length: RATE * 3 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / RATE));
    const features = await computeFrameFeatures(tone, RATE);
    expect(refineOnsetSec(1.5, features)).toBe(1.5);
  });
});

describe('the start of a rise that spans several blocks', () => {
  const blocksPerSec = RATE / FINE_BLOCK_SAMPLES;
  /** A decaying background (−0.04 dB a block), and from block 100 on the steps given (dB), then a decay. */
  function energyWith(stepsDb: readonly number[]): FrameFeatures {
    const energy = new Float32Array(200);
    let level = 1e-3;
    for (let k = 0; k < 200; k++) {
      const step = k >= 100 && k < 100 + stepsDb.length ? stepsDb[k - 100]! : -0.04;
      level *= 10 ** (step / 10);
      energy[k] = level;
    }
    // Only the fine energy and the rate are read by refineOnsetSec.
    return { sampleRateHz: RATE, fineEnergy: energy } as unknown as FrameFeatures;
  }
  const peakSec = 104 / blocksPerSec;

  it.each([
    ['an instant attack: the jump', [20], 100],
    ['a slow attack: where the rise began, not its steepest step', [2, 2, 6, 2], 100],
    ['a steepest step after a slow start of 1.2 dB steps', [1.2, 1.2, 8], 100],
    ['steps under 1 dB before the jump are not part of it', [0.5, 0.5, 8], 102],
  ])('%s', (_name, stepsDb, startBlock) => {
    expect(refineOnsetSec(peakSec, energyWith(stepsDb))).toBeCloseTo((startBlock + 0.5) / blocksPerSec, 9);
  });
});
