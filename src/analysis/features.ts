/**
 * Frame features on a centred STFT: frame i is centred on sample i·hop (the signal is treated as
 * zero outside its ends), so feature time i·hop/rate is the time of what the frame hears most.
 *
 * Spectra come from our own real FFT; meyda's extractors (loudness, spectral centroid) run on
 * those spectra, which is what meyda itself does after its own, much slower, FFT step.
 * meyda's `spectralFlux` throws in 5.x (upstream #236), so flux is computed here.
 */
import Meyda from 'meyda';
import { RealFft } from './fft.js';

export interface FeatureOptions {
  readonly frameSize: number;
  readonly hopSamples: number;
}

export const DEFAULT_FEATURE_OPTIONS: FeatureOptions = { frameSize: 1024, hopSamples: 256 };

/** Band edges in Hz: low = kick and bass, mid = body of most instruments, high = hats, air. */
export const BAND_EDGES_HZ = { lowMax: 150, midMax: 2000 } as const;

export interface FrameFeatures {
  readonly sampleRateHz: number;
  readonly hopSamples: number;
  readonly frameSize: number;
  readonly frameCount: number;
  /** RMS of the unwindowed samples in each frame (true level: a full-scale sine gives 0.707). */
  readonly rms: Float32Array;
  /** meyda's total loudness (sum of specific loudness over 24 Bark bands). */
  readonly loudness: Float32Array;
  /** meyda's spectral centroid converted from a bin index to Hz. */
  readonly centroidHz: Float32Array;
  /** RMS-equivalent amplitude in each band. */
  readonly low: Float32Array;
  readonly mid: Float32Array;
  readonly high: Float32Array;
  /** Positive log-magnitude change against two frames back, vibrato-suppressed (SuperFlux-style). */
  readonly flux: Float32Array;
  /** The same flux restricted to the low band: where the kick and bass hit. */
  readonly lowFlux: Float32Array;
  /** 12 pitch-class energies per frame, frame-major (frameCount × 12), each frame summing to 1 or 0. */
  readonly chroma: Float32Array;
}

interface MeydaInternals {
  bufferSize: number;
  sampleRate: number;
  barkScale?: Float32Array;
  extract: (features: string | string[], signal: Float32Array) => unknown;
  featureExtractors: Record<string, (args: Record<string, unknown>) => unknown>;
}

function meydaFor(frameSize: number, sampleRateHz: number): MeydaInternals {
  const meyda = Meyda as unknown as MeydaInternals;
  // Both must be set explicitly: meyda defaults bufferSize to 512 and sampleRate to 44100.
  meyda.bufferSize = frameSize;
  meyda.sampleRate = sampleRateHz;
  meyda.extract('loudness', new Float32Array(frameSize)); // builds meyda's Bark scale for this size and rate
  return meyda;
}

export function computeFrameFeatures(
  samples: Float32Array,
  sampleRateHz: number,
  options: FeatureOptions = DEFAULT_FEATURE_OPTIONS,
): FrameFeatures {
  const { frameSize, hopSamples } = options;
  const bins = frameSize / 2 + 1;
  const frameCount = Math.floor(samples.length / hopSamples) + 1;
  const fft = new RealFft(frameSize);
  const window = new Float64Array(frameSize);
  let windowEnergy = 0;
  for (let i = 0; i < frameSize; i++) {
    window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frameSize);
    windowEnergy += window[i]! * window[i]!;
  }
  const binHz = sampleRateHz / frameSize;
  const lowEnd = Math.min(bins, Math.ceil(BAND_EDGES_HZ.lowMax / binHz));
  const midEnd = Math.min(bins, Math.ceil(BAND_EDGES_HZ.midMax / binHz));
  const bandScale = 2 / (frameSize * windowEnergy);
  // Log compression relative to a full-scale sine's peak bin, so flux does not depend on gain much.
  const magRef = windowEnergy > 0 ? 1 / (frameSize / 4) : 1;

  const pitchClass = new Int8Array(bins).fill(-1);
  for (let k = 1; k < bins; k++) {
    const hz = k * binHz;
    if (hz < 55 || hz > 5000) continue;
    const midi = 69 + 12 * Math.log2(hz / 440);
    pitchClass[k] = ((Math.round(midi) % 12) + 12) % 12;
  }

  const meyda = meydaFor(frameSize, sampleRateHz);
  const loudnessExtractor = meyda.featureExtractors.loudness!;
  const centroidExtractor = meyda.featureExtractors.spectralCentroid!;
  const barkScale = meyda.barkScale;

  const out = {
    rms: new Float32Array(frameCount),
    loudness: new Float32Array(frameCount),
    centroidHz: new Float32Array(frameCount),
    low: new Float32Array(frameCount),
    mid: new Float32Array(frameCount),
    high: new Float32Array(frameCount),
    flux: new Float32Array(frameCount),
    lowFlux: new Float32Array(frameCount),
    chroma: new Float32Array(frameCount * 12),
  };

  const frame = new Float64Array(frameSize);
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  const amp = new Float32Array(frameSize / 2); // meyda's ampSpectrum has size/2 bins
  // Log spectra of the last three frames (ring), for flux against two frames back.
  const LAG = 2;
  const history = [new Float32Array(bins), new Float32Array(bins), new Float32Array(bins)];
  const half = frameSize / 2;

  for (let f = 0; f < frameCount; f++) {
    const start = f * hopSamples - half;
    let sumSquares = 0;
    for (let i = 0; i < frameSize; i++) {
      const s = start + i;
      const x = s >= 0 && s < samples.length ? samples[s]! : 0;
      sumSquares += x * x;
      frame[i] = x * window[i]!;
    }
    out.rms[f] = Math.sqrt(sumSquares / frameSize);
    fft.forward(frame, re, im);

    const logMag = history[f % 3]!;
    let low = 0;
    let mid = 0;
    let high = 0;
    const chromaBase = f * 12;
    let chromaSum = 0;
    for (let k = 0; k < bins; k++) {
      const power = re[k]! * re[k]! + im[k]! * im[k]!;
      const mag = Math.sqrt(power);
      if (k < half) amp[k] = mag;
      logMag[k] = Math.log1p(100 * mag * magRef);
      if (k < lowEnd) low += power;
      else if (k < midEnd) mid += power;
      else high += power;
      const pc = pitchClass[k]!;
      if (pc >= 0) {
        out.chroma[chromaBase + pc]! += power;
        chromaSum += power;
      }
    }
    if (chromaSum > 0) for (let c = 0; c < 12; c++) out.chroma[chromaBase + c]! /= chromaSum;
    out.low[f] = Math.sqrt(low * bandScale);
    out.mid[f] = Math.sqrt(mid * bandScale);
    out.high[f] = Math.sqrt(high * bandScale);

    if (f >= LAG) {
      const prev = history[(f - LAG) % 3]!;
      let flux = 0;
      let lowFlux = 0;
      for (let k = 1; k < bins - 1; k++) {
        // Vibrato suppression: compare against the loudest of the three neighbouring previous bins.
        const ref = Math.max(prev[k - 1]!, prev[k]!, prev[k + 1]!);
        const d = logMag[k]! - ref;
        if (d > 0) {
          flux += d;
          if (k < lowEnd) lowFlux += d;
        }
      }
      out.flux[f] = flux;
      out.lowFlux[f] = lowFlux;
    }

    if (barkScale !== undefined) {
      const loud = loudnessExtractor({ ampSpectrum: amp, barkScale, numberOfBarkBands: 24 }) as { total: number };
      out.loudness[f] = loud.total;
    }
    const centroidBin = centroidExtractor({ ampSpectrum: amp }) as number;
    out.centroidHz[f] = Number.isFinite(centroidBin) ? centroidBin * binHz : 0;
  }

  return { sampleRateHz, hopSamples, frameSize, frameCount, ...out };
}
