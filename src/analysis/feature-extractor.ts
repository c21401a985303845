/**
 * Streaming frame features: PCM goes in chunk by chunk (as ffmpeg decodes it) and only a frame's
 * worth of samples is kept, so an hour of audio needs the feature arrays (about 60 bytes per
 * 11.6 ms) and no PCM buffer.
 *
 * Frames are centred: analysis frame i (1024 samples, Hann) is centred on sample i·256 at
 * 22050 Hz, the signal being zero outside its ends, so time i·hop/rate is the time of what the
 * frame hears most. Per analysis frame (86 per second), the onset features:
 *
 * - `accents`: SuperFlux (Böck & Widmer 2013) in four frequency regions, the accent signals of
 *   Klapuri et al. 2006: log-compressed band magnitudes (12 bands per octave), each compared with
 *   the maximum of its neighbours two frames back (which suppresses vibrato and slow glides),
 *   positive differences summed per region: kick and bass, low mids (snare body, chords), high
 *   mids (snare, vocals, keys), highs (hats, cymbals).
 *
 * Per envelope frame (every second analysis frame, 43 per second, enough for 30 fps video):
 * rms, meyda's loudness and spectral centroid (run on our spectrum), low / mid / high band
 * levels, 12-bin chroma and the waveform's min/max for plots. meyda's `spectralFlux` throws in
 * 5.x (upstream #236), so flux is computed here.
 */
import Meyda from 'meyda';
import { createPowerSpectrum, type PowerSpectrum } from './power-spectrum.js';

export const FRAME_SIZE = 1024;
export const HOP_SAMPLES = 256;
/** Envelope frames are every `ENVELOPE_STRIDE` analysis frames. */
export const ENVELOPE_STRIDE = 2;

/** Band edges in Hz for the envelopes: low = kick and bass, mid = body of most instruments, high = hats, air. */
export const BAND_EDGES_HZ = { lowMax: 150, midMax: 2000 } as const;
/** Lower edges (Hz) of the four accent regions. */
export const ACCENT_REGION_EDGES_HZ = [0, 200, 800, 4000] as const;
export const ACCENT_REGIONS = ACCENT_REGION_EDGES_HZ.length;

/** Log compression: log(1 + γ·|X| / (N/4)); |X| of a full-scale sine is N/4 under a Hann window. */
const LOG_GAMMA = 100;

export interface FrameFeatures {
  readonly sampleRateHz: number;
  readonly hopSamples: number;
  readonly frameSize: number;
  /** Decoded samples (at `sampleRateHz`). */
  readonly sampleCount: number;
  /** Analysis frames: floor(sampleCount / hop) + 1. */
  readonly frameCount: number;
  /** SuperFlux per accent region, each frameCount long. */
  readonly accents: readonly Float32Array[];
  readonly envelopeHopSamples: number;
  readonly envelopeCount: number;
  /** RMS of the unwindowed samples in the frame (a full-scale sine gives 0.707). */
  readonly rms: Float32Array;
  /** meyda's total loudness (sum of specific loudness over 24 Bark bands). */
  readonly loudness: Float32Array;
  /** meyda's spectral centroid converted from a bin index to Hz. */
  readonly centroidHz: Float32Array;
  /** RMS-equivalent amplitude in each band. */
  readonly low: Float32Array;
  readonly mid: Float32Array;
  readonly high: Float32Array;
  /** 12 pitch-class energies per envelope frame (envelopeCount × 12), each frame summing to 1 or 0. */
  readonly chroma: Float32Array;
  /** Smallest and largest sample within each envelope frame's hop, for waveform plots. */
  readonly waveMin: Float32Array;
  readonly waveMax: Float32Array;
  /** Largest |sample| of the whole signal. */
  readonly peak: number;
}

/** A Float32Array that grows by doubling; `view()` is the filled part. */
class Growable {
  private data: Float32Array;
  length = 0;
  constructor(capacity = 4096) {
    this.data = new Float32Array(capacity);
  }
  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }
  view(): Float32Array {
    return this.data.slice(0, this.length);
  }
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

/**
 * Log-spaced bands (12 per octave from 30 Hz) over FFT bins, as first bins: band b covers bins
 * bandStart[b] … bandStart[b + 1] − 1. Bands narrower than a bin merge.
 */
function logBands(bins: number, binHz: number): { bandStart: Int32Array; regionOfBand: Uint8Array } {
  const starts: number[] = [];
  const regionOfBand: number[] = [];
  let bandTopHz = 0;
  for (let k = Math.max(1, Math.ceil(30 / binHz)); k < bins - 1; k++) {
    const hz = k * binHz;
    if (starts.length > 0 && hz < bandTopHz) continue;
    starts.push(k);
    bandTopHz = Math.max(hz * 2 ** (1 / 12), hz + binHz);
    let region = 0;
    while (region + 1 < ACCENT_REGIONS && hz >= ACCENT_REGION_EDGES_HZ[region + 1]!) region++;
    regionOfBand.push(region);
  }
  starts.push(bins - 1);
  return { bandStart: Int32Array.from(starts), regionOfBand: Uint8Array.from(regionOfBand) };
}

export class FeatureExtractor {
  readonly sampleRateHz: number;
  private readonly spectrum: PowerSpectrum;
  private readonly window: Float32Array;
  private readonly bandStart: Int32Array;
  private readonly regionOfBand: Uint8Array;
  private readonly bandCount: number;
  private readonly pitchClass: Int8Array;
  private readonly lowEnd: number;
  private readonly midEnd: number;
  private readonly bandScale: number;
  private readonly magScale: number;
  private readonly meyda: MeydaInternals;
  private readonly amp: Float32Array;
  /** Log band magnitudes of the last three frames (ring), for flux against two frames back. */
  private readonly history: Float32Array[];
  private readonly regionFlux = new Float64Array(ACCENT_REGIONS);
  private readonly chromaScratch = new Float64Array(12);

  /** Samples not yet fully consumed; `bufferStart` is the absolute index of buffer[0]. */
  private buffer = new Float32Array(1 << 16);
  private bufferLength = 0;
  private bufferStart = 0;
  private totalSamples = 0;
  private nextFrame = 0;
  private peak = 0;

  private readonly accentOut: Growable[];
  private readonly out = {
    rms: new Growable(),
    loudness: new Growable(),
    centroidHz: new Growable(),
    low: new Growable(),
    mid: new Growable(),
    high: new Growable(),
    waveMin: new Growable(),
    waveMax: new Growable(),
    chroma: new Growable(12 * 4096),
  };

  private constructor(sampleRateHz: number, spectrum: PowerSpectrum) {
    this.sampleRateHz = sampleRateHz;
    this.spectrum = spectrum;
    const n = FRAME_SIZE;
    const bins = n / 2 + 1;
    this.window = new Float32Array(n);
    let windowEnergy = 0;
    for (let i = 0; i < n; i++) {
      this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
      windowEnergy += this.window[i]! * this.window[i]!;
    }
    const binHz = sampleRateHz / n;
    const bands = logBands(bins, binHz);
    this.bandStart = bands.bandStart;
    this.regionOfBand = bands.regionOfBand;
    this.bandCount = bands.regionOfBand.length;
    this.lowEnd = Math.min(bins, Math.ceil(BAND_EDGES_HZ.lowMax / binHz));
    this.midEnd = Math.min(bins, Math.ceil(BAND_EDGES_HZ.midMax / binHz));
    this.bandScale = 2 / (n * windowEnergy);
    this.magScale = LOG_GAMMA / (n / 4);
    this.pitchClass = new Int8Array(bins).fill(-1);
    for (let k = 1; k < bins; k++) {
      const hz = k * binHz;
      if (hz < 80 || hz > 5000) continue;
      const midi = 69 + 12 * Math.log2(hz / 440);
      this.pitchClass[k] = ((Math.round(midi) % 12) + 12) % 12;
    }
    this.meyda = meydaFor(n, sampleRateHz);
    this.amp = new Float32Array(n / 2);
    this.history = [0, 1, 2].map(() => new Float32Array(this.bandCount));
    this.accentOut = Array.from({ length: ACCENT_REGIONS }, () => new Growable());
  }

  static async create(sampleRateHz: number): Promise<FeatureExtractor> {
    return new FeatureExtractor(sampleRateHz, await createPowerSpectrum(FRAME_SIZE));
  }

  /** Feeds the next samples (mono, at `sampleRateHz`); computes every frame they complete. */
  push(samples: Float32Array): void {
    for (let i = 0; i < samples.length; i++) {
      const a = Math.abs(samples[i]!);
      if (a > this.peak) this.peak = a;
    }
    if (this.bufferLength + samples.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(this.buffer.length * 2, this.bufferLength + samples.length));
      grown.set(this.buffer.subarray(0, this.bufferLength));
      this.buffer = grown;
    }
    this.buffer.set(samples, this.bufferLength);
    this.bufferLength += samples.length;
    this.totalSamples += samples.length;
    // A frame can be computed once every sample it covers has arrived.
    while (this.nextFrame * HOP_SAMPLES + FRAME_SIZE / 2 <= this.totalSamples) this.computeFrame(this.nextFrame++);
    this.discardConsumed();
  }

  /** Computes the frames that reach past the end (zeros there) and returns every feature. */
  finish(): FrameFeatures {
    const frameCount = Math.floor(this.totalSamples / HOP_SAMPLES) + 1;
    while (this.nextFrame < frameCount) this.computeFrame(this.nextFrame++);
    const chroma = this.out.chroma.view();
    return {
      sampleRateHz: this.sampleRateHz,
      hopSamples: HOP_SAMPLES,
      frameSize: FRAME_SIZE,
      sampleCount: this.totalSamples,
      frameCount,
      accents: this.accentOut.map((g) => g.view()),
      envelopeHopSamples: HOP_SAMPLES * ENVELOPE_STRIDE,
      envelopeCount: this.out.rms.length,
      rms: this.out.rms.view(),
      loudness: this.out.loudness.view(),
      centroidHz: this.out.centroidHz.view(),
      low: this.out.low.view(),
      mid: this.out.mid.view(),
      high: this.out.high.view(),
      chroma,
      waveMin: this.out.waveMin.view(),
      waveMax: this.out.waveMax.view(),
      peak: this.peak,
    };
  }

  private discardConsumed(): void {
    // Keep from the first sample the next frame needs (and the envelope hop's waveform span).
    const keepFrom = Math.max(0, this.nextFrame * HOP_SAMPLES - FRAME_SIZE / 2 - HOP_SAMPLES * ENVELOPE_STRIDE);
    const drop = keepFrom - this.bufferStart;
    if (drop < 1 << 15) return;
    this.buffer.copyWithin(0, drop, this.bufferLength);
    this.bufferLength -= drop;
    this.bufferStart += drop;
  }

  private sample(index: number): number {
    return index >= 0 && index < this.totalSamples ? this.buffer[index - this.bufferStart]! : 0;
  }

  private computeFrame(f: number): void {
    const n = FRAME_SIZE;
    const input = this.spectrum.input;
    const start = f * HOP_SAMPLES - n / 2;
    const isEnvelopeFrame = f % ENVELOPE_STRIDE === 0;
    let sumSquares = 0;
    if (start >= 0 && start + n <= this.totalSamples) {
      const offset = start - this.bufferStart;
      const buf = this.buffer;
      const w = this.window;
      for (let i = 0; i < n; i++) {
        const x = buf[offset + i]!;
        sumSquares += x * x;
        input[i] = x * w[i]!;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const x = this.sample(start + i);
        sumSquares += x * x;
        input[i] = x * this.window[i]!;
      }
    }
    this.spectrum.compute();
    const power = this.spectrum.power;
    const bins = power.length;

    // Log band magnitudes (band power first: one root and one log per band, 75 a frame, not 511),
    // then SuperFlux per accent region.
    const logMag = this.history[f % 3]!;
    const scale = this.magScale;
    const bandStart = this.bandStart;
    for (let b = 0; b < this.bandCount; b++) {
      let sum = 0;
      for (let k = bandStart[b]!, end = bandStart[b + 1]!; k < end; k++) sum += power[k]!;
      logMag[b] = Math.log(1 + scale * Math.sqrt(sum));
    }
    const regionFlux = this.regionFlux;
    regionFlux.fill(0);
    if (f >= 2) {
      const prev = this.history[(f - 2) % 3]!;
      const last = this.bandCount - 1;
      const regionOfBand = this.regionOfBand;
      for (let b = 0; b <= last; b++) {
        let ref = prev[b]!;
        if (b > 0 && prev[b - 1]! > ref) ref = prev[b - 1]!;
        if (b < last && prev[b + 1]! > ref) ref = prev[b + 1]!;
        const d = logMag[b]! - ref;
        if (d > 0) regionFlux[regionOfBand[b]!]! += d;
      }
    }
    for (let r = 0; r < ACCENT_REGIONS; r++) this.accentOut[r]!.push(regionFlux[r]!);

    if (!isEnvelopeFrame) return;
    const out = this.out;
    out.rms.push(Math.sqrt(sumSquares / n));
    let low = 0;
    let mid = 0;
    let high = 0;
    for (let k = 0; k < bins; k++) {
      const p = power[k]!;
      if (k < this.lowEnd) low += p;
      else if (k < this.midEnd) mid += p;
      else high += p;
    }
    out.low.push(Math.sqrt(low * this.bandScale));
    out.mid.push(Math.sqrt(mid * this.bandScale));
    out.high.push(Math.sqrt(high * this.bandScale));

    const chroma = this.chromaScratch;
    chroma.fill(0);
    let chromaSum = 0;
    const amp = this.amp;
    for (let k = 0; k < bins - 1; k++) {
      const p = power[k]!;
      amp[k] = Math.sqrt(p);
      const pc = this.pitchClass[k]!;
      if (pc >= 0) {
        chroma[pc]! += p;
        chromaSum += p;
      }
    }
    for (let c = 0; c < 12; c++) out.chroma.push(chromaSum > 0 ? chroma[c]! / chromaSum : 0);

    const loud = this.meyda.featureExtractors.loudness!({ ampSpectrum: amp, barkScale: this.meyda.barkScale, numberOfBarkBands: 24 }) as { total: number };
    out.loudness.push(loud.total);
    const centroidBin = this.meyda.featureExtractors.spectralCentroid!({ ampSpectrum: amp }) as number;
    out.centroidHz.push(Number.isFinite(centroidBin) ? centroidBin * (this.sampleRateHz / n) : 0);

    // The waveform over this envelope frame's span (centred on its time).
    const span = HOP_SAMPLES * ENVELOPE_STRIDE;
    let lo = 0;
    let hi = 0;
    const from = Math.max(0, f * HOP_SAMPLES - span / 2);
    const to = Math.min(this.totalSamples, f * HOP_SAMPLES + span / 2);
    const buf = this.buffer;
    for (let s = from - this.bufferStart, end = to - this.bufferStart; s < end; s++) {
      const x = buf[s]!;
      if (x < lo) lo = x;
      else if (x > hi) hi = x;
    }
    out.waveMin.push(lo);
    out.waveMax.push(hi);
  }
}

/** Features of a whole in-memory signal (tests, and callers that already hold the PCM). */
export async function computeFrameFeatures(samples: Float32Array, sampleRateHz: number): Promise<FrameFeatures> {
  const extractor = await FeatureExtractor.create(sampleRateHz);
  const chunk = 1 << 16;
  for (let i = 0; i < samples.length; i += chunk) extractor.push(samples.subarray(i, i + chunk));
  return extractor.finish();
}
