import Meyda from 'meyda';
import { describe, expect, it } from 'vitest';
import {
  ACCENT_BANDS,
  computeFrameFeatures,
  FRAME_SIZE,
  HOP_SAMPLES,
  meydaBarkScale,
} from '../src/analysis/feature-extractor.js';
import { createPowerSpectrum } from '../src/analysis/power-spectrum.js';

const RATE = 22050;

/** A chord that swells and a noise burst every 0.3 s: frames with very different spectra. */
function testSignal(lengthSec: number): Float32Array {
  let seed = 99;
  const noise = (): number => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 31 - 1;
  };
  return Float32Array.from({ length: Math.round(lengthSec * RATE) }, (_, i) => {
    const t = i / RATE;
    const chord = [196, 247, 294, 880].reduce((a, hz) => a + Math.sin(2 * Math.PI * hz * t), 0) * 0.1 * Math.min(1, t);
    const burst = t % 0.3 < 0.02 ? 0.5 * noise() : 0;
    return chord + burst;
  });
}

interface MeydaExtractors {
  featureExtractors: Record<string, (args: Record<string, unknown>) => unknown>;
}

describe('feature extractor', () => {
  it("gives meyda's loudness and spectral centroid for each envelope frame", async () => {
    const signal = testSignal(2);
    const features = await computeFrameFeatures(signal, RATE);
    const barkScale = meydaBarkScale(FRAME_SIZE, RATE);
    const spectrum = await createPowerSpectrum(FRAME_SIZE);
    const meyda = Meyda as unknown as MeydaExtractors;
    for (const e of [3, 20, 41, 60, 77]) {
      // Envelope frame e is analysis frame 2e, centred on sample 2e·hop, Hann-windowed.
      const start = 2 * e * HOP_SAMPLES - FRAME_SIZE / 2;
      const input = spectrum.input;
      for (let i = 0; i < FRAME_SIZE; i++)
        input[i] = (signal[start + i] ?? 0) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / FRAME_SIZE));
      spectrum.compute();
      const amp = Float32Array.from({ length: FRAME_SIZE / 2 }, (_, k) => Math.sqrt(spectrum.power[k]!));
      const loudness = (
        meyda.featureExtractors.loudness!({ ampSpectrum: amp, barkScale, numberOfBarkBands: 24 }) as { total: number }
      ).total;
      const centroidBin = meyda.featureExtractors.spectralCentroid!({ ampSpectrum: amp }) as number;
      // Relative 1e-3: the near-empty bins hold float32 FFT rounding noise, which x^0.23 lifts; two
      // FFTs of the same frame differ there by about 2e-4 of the total.
      expect(Math.abs(features.loudness[e]! - loudness) / loudness).toBeLessThan(1e-3);
      expect(features.centroidHz[e]).toBeCloseTo((centroidBin * RATE) / FRAME_SIZE, 0);
    }
  });

  it('has one accent value per band and frame, the regions being sums of bands, and none in silence', async () => {
    const signal = new Float32Array(RATE);
    signal.set(testSignal(0.5), RATE / 2);
    const features = await computeFrameFeatures(signal, RATE);
    expect(features.bandAccents).toHaveLength(ACCENT_BANDS);
    expect(features.frameCount).toBe(Math.floor(RATE / HOP_SAMPLES) + 1);
    for (const band of features.bandAccents) expect(band).toHaveLength(features.frameCount);
    const f = Math.round(RATE / 2 / HOP_SAMPLES) + 1;
    const sumOfBands = features.bandAccents.reduce((a, band) => a + band[f]!, 0);
    const sumOfRegions = features.accents.reduce((a, region) => a + region[f]!, 0);
    expect(sumOfRegions).toBeCloseTo(sumOfBands, 4);
    expect(sumOfBands).toBeGreaterThan(1);
    // The first half second is silent: no flux there.
    expect(Math.max(...features.accents.map((region) => Math.max(...region.subarray(0, 30))))).toBe(0);
  });
});
