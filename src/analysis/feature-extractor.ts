/**
 * Streaming frame features: PCM goes in chunk by chunk (as ffmpeg decodes it) and only a frame's
 * worth of samples is kept, so an hour of audio needs the feature arrays (about 80 bytes per
 * 11.6 ms) and no PCM buffer.
 *
 * Frames are centred: analysis frame i (1024 samples, Hann) is centred on sample i·256 at
 * 22050 Hz, the signal being zero outside its ends, so time i·hop/rate is the time of what the
 * frame hears most. Per analysis frame (86 per second), the onset features:
 *
 * - `bandAccents`: SuperFlux (Böck & Widmer 2013) in eight octave-wide bands: log-compressed band
 *   magnitudes (12 bands per octave), each compared with the maximum of its neighbours two frames
 *   back (which suppresses vibrato and slow glides), positive differences summed per octave. The
 *   octaves keep instruments apart well enough for the beat-phase cues (kick and bass below
 *   240 Hz, snare body 120–480 Hz, hats above 3.8 kHz).
 * - `accents`: the octaves summed into the four accent regions of Klapuri et al. 2006: kick and
 *   bass, low mids (snare body, chords), high mids (snare, vocals, keys), highs (hats, cymbals).
 *
 * Per envelope frame (every second analysis frame, 43 per second, enough for 30 fps video):
 * rms, loudness and spectral centroid as meyda defines them, low / mid / high band levels,
 * 12-bin chroma and the waveform's min/max for plots. meyda's `spectralFlux` throws in 5.x
 * (upstream #236), so flux is computed here.
 *
 * Speed (the whole analysis must run at 300× realtime on one core): the frame is windowed
 * straight into the FFT's memory, every table (bands, pitch classes, meyda's Bark bands) is built
 * once, and meyda's loudness and centroid are evaluated with meyda's Bark scale and formulas in
 * one pass over the spectrum; meyda's own extractors rebuild the Bark band limits on every call
 * and took a tenth of the analysis time (test/feature-extractor.test.ts checks that the values
 * are meyda's).
 */
import Meyda from 'meyda';
import { createPowerSpectrum, type PowerSpectrum } from './power-spectrum.js';

export const FRAME_SIZE = 1024;
export const HOP_SAMPLES = 256;
/** Envelope frames are every `ENVELOPE_STRIDE` analysis frames. */
export const ENVELOPE_STRIDE = 2;

/** Band edges in Hz for the envelopes: low = kick and bass, mid = body of most instruments, high = hats, air. */
export const BAND_EDGES_HZ = { lowMax: 150, midMax: 2000 } as const;
/** Lower edges (Hz) of the octave-wide accent bands; the last reaches the Nyquist frequency. */
export const ACCENT_BAND_EDGES_HZ = [30, 120, 240, 480, 960, 1920, 3840, 7680] as const;
export const ACCENT_BANDS = ACCENT_BAND_EDGES_HZ.length;
/** The accent region of each accent band: 30–240 Hz, 240–960 Hz, 0.96–3.84 kHz, 3.84 kHz up. */
const REGION_OF_ACCENT_BAND = [0, 0, 1, 1, 2, 2, 3, 3] as const;
export const ACCENT_REGIONS = 4;

/** Samples per block of the fine transient energy (2.9 ms at 22050 Hz). */
export const FINE_BLOCK_SAMPLES = 64;
/** The first frame whose window lies wholly inside the signal (frames are centred on i·hop). */
const FIRST_WHOLE_FRAME = FRAME_SIZE / 2 / HOP_SAMPLES;
/** Log compression: log(1 + γ·|X| / (N/4)); |X| of a full-scale sine is N/4 under a Hann window. */
const LOG_GAMMA = 100;
/** meyda's loudness model: 24 Bark bands, specific loudness = (Σ amplitude)^0.23. */
const BARK_BANDS = 24;
const LOUDNESS_EXPONENT = 0.23;
/** Pitch classes are taken from 80 Hz to 5 kHz: below, bins are wider than a semitone; above, partials blur the notes. */
const CHROMA_MIN_HZ = 80;
const CHROMA_MAX_HZ = 5000;
/** Timbre bands: meyda's 24 Bark bands in pairs (a coarse spectral envelope, like MFCCs' filterbank). */
export const TIMBRE_BANDS = BARK_BANDS / 2;

/** Columns of the per-envelope-frame record. */
const ENV_RMS = 0;
const ENV_LOUDNESS = 1;
const ENV_CENTROID = 2;
const ENV_LOW = 3;
const ENV_MID = 4;
const ENV_HIGH = 5;
const ENV_WAVE_MIN = 6;
const ENV_WAVE_MAX = 7;
const ENV_CHROMA = 8;
const ENV_TIMBRE = ENV_CHROMA + 12;
const ENV_COLUMNS = ENV_TIMBRE + TIMBRE_BANDS;

export interface FrameFeatures {
  readonly sampleRateHz: number;
  readonly hopSamples: number;
  readonly frameSize: number;
  /** Decoded samples (at `sampleRateHz`). */
  readonly sampleCount: number;
  /** Analysis frames: floor(sampleCount / hop) + 1. */
  readonly frameCount: number;
  /** SuperFlux per accent region (ACCENT_REGIONS arrays, each frameCount long). */
  readonly accents: readonly Float32Array[];
  /** SuperFlux per octave-wide accent band (ACCENT_BANDS arrays, each frameCount long). */
  readonly bandAccents: readonly Float32Array[];
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
  /**
   * The spectral envelope (envelopeCount × TIMBRE_BANDS): summed amplitude in each pair of meyda's
   * Bark bands, low to high. Sections compare bars by its shape (what is playing, not how loud).
   */
  readonly timbre: Float32Array;
  /** Smallest and largest sample within each envelope frame's hop, for waveform plots. */
  readonly waveMin: Float32Array;
  readonly waveMax: Float32Array;
  /**
   * Mean square of the signal's first difference per FINE_BLOCK_SAMPLES block: a transient
   * envelope at 2.9 ms resolution for onset times (onset-timing.ts). The difference removes the
   * low end, whose waveform would make short blocks' energy swing with its period.
   */
  readonly fineEnergy: Float32Array;
}

/** Rows of `width` values in one Float32Array that grows by doubling. */
class RowStore {
  /** The rows so far and spare capacity (zeros); replaced when it grows. */
  data: Float32Array;
  rows = 0;
  constructor(
    readonly width: number,
    capacityRows = 4096,
  ) {
    this.data = new Float32Array(width * capacityRows);
  }
  /** Adds a row of zeros and returns its offset in `data` (read `data` after calling this). */
  next(): number {
    this.reserve(1);
    return this.rows++ * this.width;
  }
  /** Makes room for `count` more rows (read `data` after calling this). */
  reserve(count: number): void {
    const needed = (this.rows + count) * this.width;
    if (needed <= this.data.length) return;
    const grown = new Float32Array(Math.max(needed, this.data.length * 2));
    grown.set(this.data);
    this.data = grown;
  }
  column(c: number): Float32Array {
    const out = new Float32Array(this.rows);
    for (let r = 0, i = c; r < this.rows; r++, i += this.width) out[r] = this.data[i]!;
    return out;
  }
  /** Columns from..from+count-1 as one row-major array (rows × count). */
  columns(from: number, count: number): Float32Array {
    const out = new Float32Array(this.rows * count);
    for (let r = 0; r < this.rows; r++)
      out.set(this.data.subarray(r * this.width + from, r * this.width + from + count), r * count);
    return out;
  }
}

interface MeydaInternals {
  bufferSize: number;
  sampleRate: number;
  barkScale?: Float32Array;
  extract: (features: string | string[], signal: Float32Array) => unknown;
}

/** meyda's Bark scale for this frame size and rate (meyda builds it on its first extraction). */
export function meydaBarkScale(frameSize: number, sampleRateHz: number): Float32Array {
  const meyda = Meyda as unknown as MeydaInternals;
  // Both must be set explicitly: meyda defaults bufferSize to 512 and sampleRate to 44100.
  meyda.bufferSize = frameSize;
  meyda.sampleRate = sampleRateHz;
  meyda.extract('loudness', new Float32Array(frameSize));
  return Float32Array.from(meyda.barkScale!);
}

/**
 * The Bark band of each amplitude bin (−1: in none), with the band limits meyda's `loudness`
 * derives on every call: band i covers bins limit[i] … limit[i+1] − 1, the last bin in none.
 */
export function barkBandOfBin(barkScale: Float32Array, bins: number): Int8Array {
  const limits = new Int32Array(BARK_BANDS + 1);
  let bandEnd = barkScale[bins - 1]! / BARK_BANDS;
  let band = 1;
  for (let i = 0; i < bins; i++) {
    while (barkScale[i]! > bandEnd) {
      limits[band++] = i;
      bandEnd = (band * barkScale[bins - 1]!) / BARK_BANDS;
    }
  }
  limits[BARK_BANDS] = bins - 1;
  const out = new Int8Array(bins).fill(-1);
  for (let b = 0; b < BARK_BANDS; b++) for (let k = limits[b]!; k < limits[b + 1]!; k++) out[k] = b;
  return out;
}

/**
 * Log-spaced bands (12 per octave from 30 Hz) over FFT bins, as first bins: band b covers bins
 * bandStart[b] … bandStart[b + 1] − 1. Bands narrower than a bin merge.
 */
function logBands(bins: number, binHz: number): { bandStart: Int32Array; accentBandOf: Uint8Array } {
  const starts: number[] = [];
  const accentBandOf: number[] = [];
  let bandTopHz = 0;
  for (let k = Math.max(1, Math.ceil(ACCENT_BAND_EDGES_HZ[0] / binHz)); k < bins - 1; k++) {
    const hz = k * binHz;
    if (starts.length > 0 && hz < bandTopHz) continue;
    starts.push(k);
    bandTopHz = Math.max(hz * 2 ** (1 / 12), hz + binHz);
    let band = 0;
    while (band + 1 < ACCENT_BANDS && hz >= ACCENT_BAND_EDGES_HZ[band + 1]!) band++;
    accentBandOf.push(band);
  }
  starts.push(bins - 1);
  return { bandStart: Int32Array.from(starts), accentBandOf: Uint8Array.from(accentBandOf) };
}

export class FeatureExtractor {
  readonly sampleRateHz: number;
  private readonly spectrum: PowerSpectrum;
  private readonly window: Float32Array;
  private readonly bandStart: Int32Array;
  private readonly accentBandOf: Uint8Array;
  private readonly bandCount: number;
  private readonly pitchClass: Int8Array;
  private readonly chromaFrom: number;
  private readonly chromaTo: number;
  private readonly barkBand: Int8Array;
  private readonly lowEnd: number;
  private readonly midEnd: number;
  private readonly bandScale: number;
  private readonly magScale: number;
  /** Compressed band magnitudes of the last three frames (ring), for flux against two frames back. */
  private readonly history: Float32Array[];
  private readonly barkSums = new Float64Array(BARK_BANDS);
  private readonly ratioProducts = new Float64Array(ACCENT_BANDS);
  private readonly chromaSums = new Float64Array(12);

  /** Samples not yet fully consumed; `bufferStart` is the absolute index of buffer[0]. */
  private buffer = new Float32Array(1 << 16);
  private bufferLength = 0;
  private bufferStart = 0;
  private totalSamples = 0;
  private nextFrame = 0;

  private readonly accentRows = new RowStore(ACCENT_BANDS, 1 << 14);
  private readonly fineRows = new RowStore(1, 1 << 16);
  private fineSum = 0;
  private fineCount = 0;
  private lastSample = 0;
  private readonly envelopeRows = new RowStore(ENV_COLUMNS, 1 << 13);

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
    this.accentBandOf = bands.accentBandOf;
    this.bandCount = bands.accentBandOf.length;
    this.lowEnd = Math.min(bins, Math.ceil(BAND_EDGES_HZ.lowMax / binHz));
    this.midEnd = Math.min(bins, Math.ceil(BAND_EDGES_HZ.midMax / binHz));
    this.bandScale = 2 / (n * windowEnergy);
    this.magScale = LOG_GAMMA / (n / 4);
    this.pitchClass = new Int8Array(bins).fill(-1);
    this.chromaFrom = Math.max(1, Math.ceil(CHROMA_MIN_HZ / binHz));
    this.chromaTo = Math.min(bins - 1, Math.floor(CHROMA_MAX_HZ / binHz) + 1);
    for (let k = this.chromaFrom; k < this.chromaTo; k++) {
      const midi = 69 + 12 * Math.log2((k * binHz) / 440);
      this.pitchClass[k] = ((Math.round(midi) % 12) + 12) % 12;
    }
    this.barkBand = barkBandOfBin(meydaBarkScale(n, sampleRateHz), n / 2);
    this.history = [0, 1, 2].map(() => new Float32Array(this.bandCount));
  }

  static async create(sampleRateHz: number): Promise<FeatureExtractor> {
    return new FeatureExtractor(sampleRateHz, await createPowerSpectrum(FRAME_SIZE));
  }

  /** Feeds the next samples (mono, at `sampleRateHz`); computes every frame they complete. */
  push(samples: Float32Array): void {
    if (this.bufferLength + samples.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(this.buffer.length * 2, this.bufferLength + samples.length));
      grown.set(this.buffer.subarray(0, this.bufferLength));
      this.buffer = grown;
    }
    this.buffer.set(samples, this.bufferLength);
    this.bufferLength += samples.length;
    this.totalSamples += samples.length;
    this.addFineEnergy(samples);
    // A frame can be computed once every sample it covers has arrived.
    while (this.nextFrame * HOP_SAMPLES + FRAME_SIZE / 2 <= this.totalSamples) this.computeFrame(this.nextFrame++);
    this.discardConsumed();
  }

  private addFineEnergy(samples: Float32Array): void {
    let sum = this.fineSum;
    let count = this.fineCount;
    let last = this.lastSample;
    const store = this.fineRows;
    // Room for every block these samples can complete, then written without checks.
    store.reserve(Math.floor((count + samples.length) / FINE_BLOCK_SAMPLES));
    const data = store.data;
    let row = store.rows;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i]!;
      const d = x - last;
      last = x;
      sum += d * d;
      if (++count === FINE_BLOCK_SAMPLES) {
        data[row++] = sum / FINE_BLOCK_SAMPLES;
        sum = 0;
        count = 0;
      }
    }
    store.rows = row;
    this.fineSum = sum;
    this.fineCount = count;
    this.lastSample = last;
  }

  /** Computes the frames that reach past the end (zeros there) and returns every feature. */
  finish(): FrameFeatures {
    const frameCount = Math.floor(this.totalSamples / HOP_SAMPLES) + 1;
    while (this.nextFrame < frameCount) this.computeFrame(this.nextFrame++);
    if (this.fineCount > 0) this.fineRows.data[this.fineRows.next()] = this.fineSum / this.fineCount;
    const bandAccents = Array.from({ length: ACCENT_BANDS }, (_, b) => this.accentRows.column(b));
    const accents = Array.from({ length: ACCENT_REGIONS }, () => new Float32Array(frameCount));
    bandAccents.forEach((band, b) => {
      const region = accents[REGION_OF_ACCENT_BAND[b]!]!;
      for (let i = 0; i < frameCount; i++) region[i]! += band[i]!;
    });
    const env = this.envelopeRows;
    return {
      sampleRateHz: this.sampleRateHz,
      hopSamples: HOP_SAMPLES,
      frameSize: FRAME_SIZE,
      sampleCount: this.totalSamples,
      frameCount,
      accents,
      bandAccents,
      envelopeHopSamples: HOP_SAMPLES * ENVELOPE_STRIDE,
      envelopeCount: env.rows,
      rms: env.column(ENV_RMS),
      loudness: env.column(ENV_LOUDNESS),
      centroidHz: env.column(ENV_CENTROID),
      low: env.column(ENV_LOW),
      mid: env.column(ENV_MID),
      high: env.column(ENV_HIGH),
      chroma: env.columns(ENV_CHROMA, 12),
      timbre: env.columns(ENV_TIMBRE, TIMBRE_BANDS),
      waveMin: env.column(ENV_WAVE_MIN),
      waveMax: env.column(ENV_WAVE_MAX),
      fineEnergy: this.fineRows.column(0),
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

  /**
   * Windows frame f into the FFT input; on envelope frames also returns the sum of squares of its
   * (unwindowed) samples, in four partial sums so that the additions do not wait on each other.
   */
  private windowFrame(f: number, input: Float32Array, withEnergy: boolean): number {
    const n = FRAME_SIZE;
    const start = f * HOP_SAMPLES - n / 2;
    const w = this.window;
    if (start < 0 || start + n > this.totalSamples) {
      let sumSquares = 0;
      for (let i = 0; i < n; i++) {
        const x = this.sample(start + i);
        sumSquares += x * x;
        input[i] = x * w[i]!;
      }
      return sumSquares;
    }
    const buf = this.buffer;
    const offset = start - this.bufferStart;
    if (!withEnergy) {
      for (let i = 0; i < n; i++) input[i] = buf[offset + i]! * w[i]!;
      return 0;
    }
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < n; i += 4) {
      const x0 = buf[offset + i]!;
      const x1 = buf[offset + i + 1]!;
      const x2 = buf[offset + i + 2]!;
      const x3 = buf[offset + i + 3]!;
      s0 += x0 * x0;
      s1 += x1 * x1;
      s2 += x2 * x2;
      s3 += x3 * x3;
      input[i] = x0 * w[i]!;
      input[i + 1] = x1 * w[i + 1]!;
      input[i + 2] = x2 * w[i + 2]!;
      input[i + 3] = x3 * w[i + 3]!;
    }
    return s0 + s1 + s2 + s3;
  }

  private computeFrame(f: number): void {
    const envelopeFrame = f % ENVELOPE_STRIDE === 0;
    const sumSquares = this.windowFrame(f, this.spectrum.input, envelopeFrame);
    this.spectrum.compute();
    const power = this.spectrum.power;

    // Band magnitudes on the compressed scale M = 1 + γ·|X|/(N/4) (band power first: one root a
    // band, 75 a frame, not 511). SuperFlux sums log M − log M_ref over the rising bands of each
    // accent band, which is the log of the product of the ratios M / M_ref: one log per accent
    // band instead of one per band, the same value.
    const mag = this.history[f % 3]!;
    const scale = this.magScale;
    const bandStart = this.bandStart;
    const bandCount = this.bandCount;
    for (let b = 0, k = bandStart[0]!; b < bandCount; b++) {
      let sum = 0;
      for (const end = bandStart[b + 1]!; k < end; k++) sum += power[k]!;
      mag[b] = 1 + scale * Math.sqrt(sum);
    }
    const row = this.accentRows.next();
    // The reference frame (two back) must lie wholly inside the signal: before that, the flux
    // would measure the file's first samples against the zeros before them, an "onset" at the
    // start of any file that begins mid-sound (white noise, a cut).
    // Likewise at the end: a frame reaching past the last sample measures the cut to the zeros
    // after it, an "onset" at the end of any file that ends mid-sound (a sustained tone, a loop).
    if (f >= 2 + FIRST_WHOLE_FRAME && f * HOP_SAMPLES + FRAME_SIZE / 2 <= this.totalSamples) {
      const prev = this.history[(f - 2) % 3]!;
      const last = bandCount - 1;
      const accentBandOf = this.accentBandOf;
      const ratios = this.ratioProducts;
      ratios.fill(1);
      for (let b = 0; b <= last; b++) {
        let ref = prev[b]!;
        if (b > 0 && prev[b - 1]! > ref) ref = prev[b - 1]!;
        if (b < last && prev[b + 1]! > ref) ref = prev[b + 1]!;
        const m = mag[b]!;
        if (m > ref) ratios[accentBandOf[b]!]! *= m / ref;
      }
      const out = this.accentRows.data;
      for (let a = 0; a < ACCENT_BANDS; a++) out[row + a] = Math.log(ratios[a]!);
    }
    if (envelopeFrame) this.envelopeFrame(f, sumSquares, power);
  }

  private envelopeFrame(f: number, sumSquares: number, power: Float32Array): void {
    const at = this.envelopeRows.next();
    const row = this.envelopeRows.data.subarray(at, at + ENV_COLUMNS);
    const bins = power.length;
    row[ENV_RMS] = Math.sqrt(sumSquares / FRAME_SIZE);

    let low = 0;
    let mid = 0;
    let high = 0;
    let k = 0;
    for (const end = this.lowEnd; k < end; k++) low += power[k]!;
    for (const end = this.midEnd; k < end; k++) mid += power[k]!;
    for (; k < bins; k++) high += power[k]!;
    row[ENV_LOW] = Math.sqrt(low * this.bandScale);
    row[ENV_MID] = Math.sqrt(mid * this.bandScale);
    row[ENV_HIGH] = Math.sqrt(high * this.bandScale);

    const chroma = this.chromaSums;
    chroma.fill(0);
    let chromaSum = 0;
    const pitchClass = this.pitchClass;
    for (let c = this.chromaFrom, end = this.chromaTo; c < end; c++) {
      const p = power[c]!;
      chroma[pitchClass[c]!]! += p;
      chromaSum += p;
    }
    for (let c = 0; c < 12; c++) row[ENV_CHROMA + c] = chromaSum > 0 ? chroma[c]! / chromaSum : 0;

    // meyda's loudness and centroid over the amplitude spectrum (bins 0 … N/2 − 1), summed in
    // meyda's order. x^0.23 as exp(0.23·ln x): the same to 1e-15, three times faster than Math.pow.
    const bark = this.barkSums;
    bark.fill(0);
    const barkBand = this.barkBand;
    let ampSum = 0;
    let moment = 0;
    for (let j = 0, half = FRAME_SIZE / 2; j < half; j++) {
      const a = Math.sqrt(power[j]!);
      ampSum += a;
      moment += j * a;
      const band = barkBand[j]!;
      if (band >= 0) bark[band]! += a;
    }
    let loudness = 0;
    for (let b = 0; b < BARK_BANDS; b++) if (bark[b]! > 0) loudness += Math.exp(LOUDNESS_EXPONENT * Math.log(bark[b]!));
    row[ENV_LOUDNESS] = loudness;
    for (let t = 0; t < TIMBRE_BANDS; t++) row[ENV_TIMBRE + t] = bark[2 * t]! + bark[2 * t + 1]!;
    row[ENV_CENTROID] = ampSum > 0 ? (moment / ampSum) * (this.sampleRateHz / FRAME_SIZE) : 0;

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
    row[ENV_WAVE_MIN] = lo;
    row[ENV_WAVE_MAX] = hi;
  }
}

/** Features of a whole in-memory signal (tests, and callers that already hold the PCM). */
export async function computeFrameFeatures(samples: Float32Array, sampleRateHz: number): Promise<FrameFeatures> {
  const extractor = await FeatureExtractor.create(sampleRateHz);
  const chunk = 1 << 16;
  for (let i = 0; i < samples.length; i += chunk) extractor.push(samples.subarray(i, i + chunk));
  return extractor.finish();
}
