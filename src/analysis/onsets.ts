/**
 * Onset envelopes and onset picking.
 *
 * - The onset envelope is full-band SuperFlux: the four accent regions summed as they are, so
 *   every band counts by how much its log spectrum rises (a note in any register is an onset).
 * - The beat envelope sums the regions after dividing each by its mean, so the few low bands
 *   (kick, bass) weigh as much as the many high ones: beats are carried by kick and snare far
 *   more than by hats (Klapuri et al. 2006 weigh their four accent bands the same way).
 * - Picking follows SuperFlux's peak picking (Böck & Widmer 2013): a peak that is the maximum
 *   within ±30 ms, stands `delta` above the mean of the surrounding 100 ms before / 70 ms after,
 *   and is at least 30 ms after the previous onset; in addition it must be three times the
 *   envelope's local median (its noise floor), which lets `delta` be small enough for soft
 *   16th-note hats while steady noise and reverb tails stay below.
 * - Hats and cymbals are also picked on their own (`findOnsets`). In the summed envelope a soft
 *   16th-note hat sits between kicks and snares whose broadband flux is ten to thirty times
 *   larger, and the local mean that the threshold rides on stays raised by them for 100 ms, so
 *   the hat is masked. Above 3.8 kHz the hat is the main source, so the same picking there finds
 *   it. Only there: in the lower regions a sustained note's partials wobble (measured: per-region
 *   picking below 3.8 kHz cost the ballad and the waltz a fifth of their precision), and only
 *   broadband rises count (both octaves above 3.8 kHz carry at least a quarter of the rise each),
 *   as the noise of a hat or cymbal does and a single bright partial does not. Such an onset is
 *   added where no onset of the summed envelope lies within the combining window.
 */
import { ACCENT_BAND_EDGES_HZ, type FrameFeatures } from './feature-extractor.js';
import { parabolicOffset } from '../shared/math.js';

export function onsetEnvelope(features: FrameFeatures): Float32Array {
  const out = new Float32Array(features.frameCount);
  for (const accent of features.accents) for (let i = 0; i < out.length; i++) out[i]! += accent[i]!;
  return out;
}

export function beatEnvelope(features: FrameFeatures): Float32Array {
  const out = new Float32Array(features.frameCount);
  for (const accent of features.accents) {
    let sum = 0;
    for (let i = 0; i < accent.length; i++) sum += accent[i]!;
    const mean = sum / Math.max(1, accent.length);
    if (!(mean > 0)) continue;
    for (let i = 0; i < out.length; i++) out[i]! += accent[i]! / mean;
  }
  return out;
}

export interface Onset {
  /** Fractional envelope frame. */
  readonly frame: number;
  /** Height of the envelope peak above its local mean. */
  readonly strength: number;
}

export interface OnsetPickOptions {
  readonly preMaxSec: number;
  readonly postMaxSec: number;
  readonly preAvgSec: number;
  readonly postAvgSec: number;
  /** Minimum height above the local mean, in envelope units (sum of log-magnitude rises). */
  readonly delta: number;
  /**
   * Minimum ratio to the envelope's median over ±250 ms: the median is the floor that noise,
   * reverb and sustained sounds leave in the envelope, so an onset must stand clearly above it.
   */
  readonly noiseRatio: number;
  readonly combineSec: number;
}

export const DEFAULT_ONSET_PICK: OnsetPickOptions = {
  preMaxSec: 0.03,
  postMaxSec: 0.03,
  preAvgSec: 0.1,
  postAvgSec: 0.07,
  delta: 0.6,
  noiseRatio: 3,
  combineSec: 0.03,
};

/** The k-th smallest of `a[0 … length − 1]` (Hoare's selection; reorders `a`). */
function select(a: Float32Array, length: number, k: number): number {
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}

/** Median of a centred window (radius frames each side), computed on a stride and held. */
function localMedian(values: Float32Array, radius: number): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  const step = Math.max(1, radius >> 2);
  const scratch = new Float32Array(2 * radius + 1);
  for (let c = 0; c < n; c += step) {
    const lo = Math.max(0, c - radius);
    const hi = Math.min(n, c + radius + 1);
    scratch.set(values.subarray(lo, hi));
    out.fill(select(scratch, hi - lo, (hi - lo) >> 1), c, Math.min(n, c + step));
  }
  return out;
}

export function pickOnsets(
  envelope: Float32Array,
  frameRate: number,
  options: OnsetPickOptions = DEFAULT_ONSET_PICK,
): Onset[] {
  const n = envelope.length;
  const preMax = Math.round(options.preMaxSec * frameRate);
  const postMax = Math.round(options.postMaxSec * frameRate);
  const preAvg = Math.round(options.preAvgSec * frameRate);
  const postAvg = Math.round(options.postAvgSec * frameRate);
  const combine = options.combineSec * frameRate;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + envelope[i]!;
  const noise = localMedian(envelope, Math.round(0.25 * frameRate));
  const onsets: Onset[] = [];
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = envelope[i]!;
    if (!(v > 0)) continue;
    const lo = Math.max(0, i - preAvg);
    const hi = Math.min(n, i + postAvg + 1);
    const mean = (prefix[hi]! - prefix[lo]!) / (hi - lo);
    if (v < mean + options.delta || v < options.noiseRatio * noise[i]!) continue;
    let isPeak = true;
    for (let j = Math.max(0, i - preMax); j <= Math.min(n - 1, i + postMax); j++) {
      if (envelope[j]! > v || (envelope[j] === v && j < i)) {
        isPeak = false;
        break;
      }
    }
    if (!isPeak || i - last < combine) continue;
    onsets.push({ frame: i + parabolicOffset(envelope, i), strength: v - mean });
    last = i;
  }
  return onsets;
}

/** The accent region of hats and cymbals (3.84 kHz up), and the two octave bands it is made of. */
const CYMBAL_REGION = 3;
const CYMBAL_BANDS = [ACCENT_BAND_EDGES_HZ.length - 2, ACCENT_BAND_EDGES_HZ.length - 1] as const;
/** Each cymbal octave's least share of the rise (within a frame of the peak) for a broadband onset. */
const MIN_OCTAVE_SHARE = 0.25;
/**
 * The noise-floor ratio for the cymbal region alone: it sums a third of the bands, so its noise
 * swings relatively more (measured: 30 s of white noise gives ten picks at the summed envelope's
 * ratio of 3, none at 5).
 */
const CYMBAL_NOISE_RATIO = 5;

/** Onsets of the summed envelope, and hats and cymbals that it masks (see the header). */
export function findOnsets(
  features: FrameFeatures,
  frameRate: number,
  options: OnsetPickOptions = DEFAULT_ONSET_PICK,
): Onset[] {
  const onsets = pickOnsets(onsetEnvelope(features), frameRate, options);
  const [lower, upper] = CYMBAL_BANDS.map((b) => features.bandAccents[b]!);
  const near = (band: Float32Array, frame: number): number => {
    const c = Math.round(frame);
    return Math.max(band[c - 1] ?? 0, band[c] ?? 0, band[c + 1] ?? 0);
  };
  const combine = options.combineSec * frameRate;
  const cymbals = pickOnsets(features.accents[CYMBAL_REGION]!, frameRate, {
    ...options,
    noiseRatio: CYMBAL_NOISE_RATIO,
  }).filter((o) => {
    const a = near(lower!, o.frame);
    const b = near(upper!, o.frame);
    return Math.min(a, b) >= MIN_OCTAVE_SHARE * (a + b);
  });
  if (cymbals.length === 0) return onsets;
  const out: Onset[] = [];
  let i = 0;
  for (const c of cymbals) {
    while (i < onsets.length && onsets[i]!.frame <= c.frame) out.push(onsets[i++]!);
    const before = out[out.length - 1];
    const after = onsets[i];
    if (
      (before === undefined || c.frame - before.frame >= combine) &&
      (after === undefined || after.frame - c.frame >= combine)
    )
      out.push(c);
  }
  while (i < onsets.length) out.push(onsets[i++]!);
  return out;
}
