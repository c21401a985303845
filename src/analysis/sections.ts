/**
 * Song sections from bar-level features.
 *
 * Each bar (downbeat to downbeat; fixed 4 s windows when there is no beat) becomes a vector:
 * level, low / mid / high band levels (dB), rhythmic activity (mean beat envelope) and chroma.
 * Every dimension is standardised over the song so that none dominates by its units. Boundaries
 * are the peaks of Foote's novelty (2000): a checkerboard kernel slid along the bars'
 * self-distance matrix, here four bars each side, scoring how different the bars before a point
 * are from the bars after it while each side is alike within itself. Peaks must stand above the
 * song's typical novelty and be at least four bars apart.
 *
 * Labels come from level and position against the rest of the song: the loudest sections are
 * `drop`, a much quieter one in the middle (or one whose low end drops out) is a `break`, a section
 * leading into a drop while getting louder is a `build`, quieter first and last sections are
 * `intro` and `outro`, and the rest `verse`.
 */
import { ENVELOPE_STRIDE, type FrameFeatures } from './feature-extractor.js';
import type { SectionLabel } from './analysis-schema.js';
import { toDb } from './signal-utils.js';

export interface Section {
  readonly startSec: number;
  readonly endSec: number;
  readonly label: SectionLabel;
  /** Mean level in dBFS. */
  readonly levelDb: number;
}

interface Bar {
  readonly startSec: number;
  readonly endSec: number;
  readonly levelDb: number;
  readonly lowDb: number;
  readonly vector: number[];
}

/** Kernel half-width and minimum section length, in bars. */
const KERNEL_BARS = 4;
const MIN_SECTION_BARS = 4;

function barsFrom(edgesSec: readonly number[], features: FrameFeatures, beatEnvelope: Float32Array): Bar[] {
  const envRate = features.sampleRateHz / features.envelopeHopSamples;
  const bars: Bar[] = [];
  for (let u = 0; u + 1 < edgesSec.length; u++) {
    const startSec = edgesSec[u]!;
    const endSec = edgesSec[u + 1]!;
    const lo = Math.max(0, Math.floor(startSec * envRate));
    const hi = Math.min(features.envelopeCount, Math.max(lo + 1, Math.floor(endSec * envRate)));
    let power = 0;
    let low = 0;
    let mid = 0;
    let high = 0;
    let activity = 0;
    const chroma = new Array<number>(12).fill(0);
    for (let e = lo; e < hi; e++) {
      power += features.rms[e]! ** 2;
      low += features.low[e]! ** 2;
      mid += features.mid[e]! ** 2;
      high += features.high[e]! ** 2;
      for (let s = 0; s < ENVELOPE_STRIDE; s++) activity += beatEnvelope[e * ENVELOPE_STRIDE + s] ?? 0;
      for (let c = 0; c < 12; c++) chroma[c]! += features.chroma[e * 12 + c]!;
    }
    const count = Math.max(1, hi - lo);
    const levelDb = toDb(Math.sqrt(power / count));
    const lowDb = toDb(Math.sqrt(low / count));
    const vector = [levelDb, lowDb, toDb(Math.sqrt(mid / count)), toDb(Math.sqrt(high / count)), activity / (count * ENVELOPE_STRIDE), ...chroma.map((c) => c / count)];
    bars.push({ startSec, endSec, levelDb, lowDb, vector });
  }
  return bars;
}

/** Each dimension to zero mean and unit variance over the bars; chroma shares one unit of weight. */
function standardise(bars: readonly Bar[]): number[][] {
  const dims = bars[0]?.vector.length ?? 0;
  const out = bars.map(() => new Array<number>(dims).fill(0));
  for (let d = 0; d < dims; d++) {
    let values = bars.map((b) => b.vector[d]!);
    // Levels (the first four dimensions, dB) are floored 40 dB below the loudest bar: near
    // silence is "very quiet", not an outlier that flattens every other difference.
    if (d < 4) {
      const top = Math.max(...values);
      values = values.map((v) => Math.max(v, top - 40));
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    const weight = d >= 5 ? 1 / Math.sqrt(12) : 1;
    values.forEach((v, i) => (out[i]![d] = sd > 1e-9 ? ((v - mean) / sd) * weight : 0));
  }
  return out;
}

function distance(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

/** Foote novelty at each bar boundary i (between bar i−1 and bar i). */
export function footeNovelty(vectors: readonly number[][], kernelBars: number): number[] {
  const n = vectors.length;
  return vectors.map((_, i) => {
    if (i === 0) return 0;
    const lo = Math.max(0, i - kernelBars);
    const hi = Math.min(n, i + kernelBars);
    let cross = 0;
    let crossCount = 0;
    let within = 0;
    let withinCount = 0;
    for (let a = lo; a < hi; a++) {
      for (let b = a + 1; b < hi; b++) {
        const d = distance(vectors[a]!, vectors[b]!);
        if (a < i === b < i) {
          within += d;
          withinCount++;
        } else {
          cross += d;
          crossCount++;
        }
      }
    }
    return (crossCount ? cross / crossCount : 0) - (withinCount ? within / withinCount : 0);
  });
}

/**
 * `barStartsSec` are downbeat times (or fixed windows when there is no beat); the result covers
 * [0, durationSec] without gaps.
 */
export function findSections(barStartsSec: readonly number[], durationSec: number, features: FrameFeatures, beatEnvelope: Float32Array): Section[] {
  // A pickup or lead-in shorter than half a bar joins the first bar, a tail the last one:
  // a near-silent sliver would otherwise dominate every standardised dimension.
  const inner = barStartsSec.filter((t) => t > 0 && t < durationSec);
  const barSec = inner.length >= 2 ? (inner[inner.length - 1]! - inner[0]!) / (inner.length - 1) : 4;
  const edges = [0, ...inner.filter((t) => t >= barSec / 2 && t <= durationSec - barSec / 2), durationSec];
  const bars = barsFrom(edges, features, beatEnvelope);
  if (bars.length === 0) return [];
  const vectors = standardise(bars);
  const kernel = Math.max(1, Math.min(KERNEL_BARS, Math.floor(bars.length / 4)));
  const minBars = Math.max(1, Math.min(MIN_SECTION_BARS, Math.floor(bars.length / 3)));
  const novelty = footeNovelty(vectors, kernel);
  const interior = novelty.slice(1);
  const mean = interior.reduce((a, b) => a + b, 0) / Math.max(1, interior.length);
  const sd = Math.sqrt(interior.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, interior.length));
  const threshold = Math.max(mean + 0.5 * sd, 0.5);

  // Strongest peaks first, each at least `minBars` from the song's ends and from every chosen one.
  const peaks = novelty
    .map((v, i) => ({ v, i }))
    .filter(({ v, i }) => i >= minBars && bars.length - i >= Math.min(minBars, 2) && v > threshold && v >= (novelty[i - 1] ?? -Infinity) && v >= (novelty[i + 1] ?? -Infinity))
    .sort((a, b) => b.v - a.v);
  const cuts: number[] = [];
  for (const p of peaks) if (cuts.every((c) => Math.abs(c - p.i) >= minBars)) cuts.push(p.i);
  cuts.sort((a, b) => a - b);
  const bounds = [0, ...cuts, bars.length];

  const raw = bounds.slice(0, -1).map((startBar, s) => {
    const endBar = bounds[s + 1]!;
    let power = 0;
    let lowPower = 0;
    let weight = 0;
    for (let u = startBar; u < endBar; u++) {
      const len = bars[u]!.endSec - bars[u]!.startSec;
      power += 10 ** (bars[u]!.levelDb / 10) * len;
      lowPower += 10 ** (bars[u]!.lowDb / 10) * len;
      weight += len;
    }
    const half = Math.max(startBar + 1, Math.floor((startBar + endBar) / 2));
    const levelOf = (from: number, to: number): number => {
      let p = 0;
      let w = 0;
      for (let u = from; u < to; u++) {
        const len = bars[u]!.endSec - bars[u]!.startSec;
        p += 10 ** (bars[u]!.levelDb / 10) * len;
        w += len;
      }
      return 10 * Math.log10(p / (w || 1) || 1e-10);
    };
    return {
      startSec: bars[startBar]!.startSec,
      endSec: bars[endBar - 1]!.endSec,
      levelDb: 10 * Math.log10(power / (weight || 1) || 1e-10),
      lowDb: 10 * Math.log10(lowPower / (weight || 1) || 1e-10),
      riseDb: endBar - startBar >= 2 ? levelOf(half, endBar) - levelOf(startBar, half) : 0,
    };
  });
  return labelSections(raw);
}

export interface RawSection {
  readonly startSec: number;
  readonly endSec: number;
  readonly levelDb: number;
  /** Level of the low band (kick, bass). */
  readonly lowDb: number;
  /** Level of the second half minus the first half. */
  readonly riseDb: number;
}

/** Names sections by where they sit and how loud they are against the loudest (see the header). */
export function labelSections(raw: readonly RawSection[]): Section[] {
  const loudest = Math.max(...raw.map((s) => s.levelDb));
  const loudestLow = Math.max(...raw.map((s) => s.lowDb));
  const isDrop = raw.map((s) => loudest - s.levelDb <= 2);
  return raw.map((s, i) => {
    const below = loudest - s.levelDb;
    const lowBelow = loudestLow - s.lowDb;
    const last = raw.length - 1;
    let label: SectionLabel;
    if (raw.length === 1) label = 'drop';
    else if (i === 0 && below > 2) label = 'intro';
    else if (i === last && below > 2) label = 'outro';
    else if (isDrop[i]) label = 'drop';
    else if (isDrop[i + 1] && s.riseDb > 1.5) label = 'build';
    else if (below > 6 || lowBelow > 10) label = 'break';
    else label = 'verse';
    return { startSec: s.startSec, endSec: s.endSec, label, levelDb: s.levelDb };
  });
}
