/**
 * Song sections: where the music changes, and what kind of part each stretch is.
 *
 * Bars. The song is cut into bars at the downbeats; the grid is carried on at the typical bar
 * length before the first downbeat, after the last and through passages without a beat, so a
 * beatless intro or a ringing last chord is measured in bars too (without any beat: 4 s windows).
 *
 * Bar features, each group in units of a clearly audible change (UNITS), so that no group wins
 * by its units and a song without structure does not have its noise blown up by standardising:
 * level (dB); the spectral envelope's shape (the first cosine-transform terms of 12 log band
 * levels without the level term, like MFCCs: what is playing, not the notes); accent activity in
 * four regions (kick/bass, low mids, high mids, hats and cymbals: which drums play, how densely);
 * and chroma (the harmony).
 *
 * Boundaries (Foote 2000, with the multi-scale kernels of later structure analysers): the bar
 * vectors go through a three-bar median (a fill, a crash, a one-bar stop is not a section, and a
 * median keeps steps where they are), then a Gaussian-tapered checkerboard kernel slides along
 * their self-distance matrix at half-widths of 2, 4 and 8 bars; its score at a bar line is the
 * mean distance across the line minus the mean distance within each side, averaged over the
 * scales. Peaks must reach both an absolute floor (half a unit) and three times the song's
 * novelty noise (the typical size of its negative values: how much bars vary within sections). The strongest are taken first; a section is at least four bars long, or two
 * where both its boundaries are twice the threshold (a short break, a last chord). Sections start
 * on four-bar phrases far more often than a bar off one, where the fill or pickup that leads into
 * a section moves the change a bar early; a boundary one bar off the phrase grid (counted from the
 * first downbeat) moves onto it when the novelty there is substantial.
 *
 * Labels, from what each section is against the others:
 * - Repetition: sections whose mean bar vectors are within a unit of each other are one kind
 *   (the chorus that comes back, the second drop), and a kind is as intense as its most intense
 *   member. Intensity is the level plus 3 dB per doubling of accent activity.
 * - `drop`: the most intense kinds (within 2 dB), wherever they are not one of the below.
 * - `intro` / `outro`: the first / last section, unless it is as intense and as busy as the
 *   section next to it and of a main kind (a song that starts on its chorus).
 * - `break`: a section at least 4 dB less intense than a section before it and one after it, or
 *   whose kick/bass activity falls below a third of what surrounds it.
 * - `build`: a section whose intensity rises by 1.5 dB or more from its first half to its second
 *   into a different kind of section at least as intense as the build's middle.
 * - `verse`: the rest.
 */
import { ENVELOPE_STRIDE, TIMBRE_BANDS, type FrameFeatures } from './feature-extractor.js';
import type { SectionLabel } from './analysis-schema.js';
import { median, toDb } from '../shared/math.js';

export interface Section {
  readonly startSec: number;
  readonly endSec: number;
  readonly label: SectionLabel;
  /** Mean level in dBFS. */
  readonly levelDb: number;
}

/** One bar's description; every group is in its own "noticeable difference" units (see UNITS). */
export interface BarFeatures {
  readonly startSec: number;
  readonly endSec: number;
  /** Mean power of the bar, dBFS. */
  readonly levelDb: number;
  /** Accent activity per region (kick/bass, low mids, high mids, highs): mean SuperFlux. */
  readonly accents: readonly number[];
  /** Spectral envelope, dB per timbre band. */
  readonly timbreDb: readonly number[];
  /** Mean chroma (sums to 1, or 0 in silence). */
  readonly chroma: readonly number[];
}

/**
 * How big a difference in each feature group counts as one unit: a 3 dB change of level, a 3 dB
 * (RMS over bands) change of the spectral envelope's shape, a doubling of the accent activity, and
 * half the largest chroma change (all energy moving from one pitch class to another).
 */
const UNITS = { levelDb: 3, timbreDb: 3, accentsLn: Math.LN2, chroma: 0.5 } as const;
/** Floors below the song's loudest bar: near silence is "very quiet", not an outlier. */
const LEVEL_RANGE_DB = 30;
/** Cosine-transform terms kept of the spectral envelope (after the level term). */
const TIMBRE_COEFFICIENTS = 5;
const ACCENT_RANGE = 16;

/** Without a beat, the song is measured in windows of this length instead of bars. */
const WINDOW_SEC = 4;
/** Checkerboard half-widths, in bars. */
const SCALES_BARS = [2, 4, 8] as const;
const MIN_SECTION_BARS = 4;
const MIN_SHORT_SECTION_BARS = 2;
/** A boundary's novelty must reach this (units) and TYPICAL_RATIO × the song's novelty noise (see chooseBoundaries). */
const MIN_NOVELTY = 0.5;
const TYPICAL_RATIO = 3;
/** Sections shorter than MIN_SECTION_BARS need boundaries this many times the threshold. */
const STRONG_RATIO = 2;
/** Phrase length (bars) sections are aligned to, and how much of a boundary's novelty the aligned bar needs. */
const PHRASE_BARS = 4;
const ALIGN_RATIO = 0.3;
/** Accent activity's weight in intensity: dB per doubling. */
const ACTIVITY_DB_PER_DOUBLING = 3;
/** Kinds of section within this (dB of intensity) of the most intense are the song's main part (drop, chorus). */
const MAIN_WITHIN_DB = 2;
/** An intro or outro is this much less intense than its neighbour, or its kick/bass this much sparser. */
const EDGE_CALMER_DB = 1.5;
const EDGE_SPARSER = 0.75;
/** Sections whose bars are this close (units, mean distance to the nearest bar) are the same kind. */
const REPEAT_UNITS = 1;
/** A break: this much less intense than a section before it and one after it. */
const BREAK_DIP_DB = 4;
/** …or its kick/bass activity below this fraction of what surrounds it. */
const DRUMS_OUT = 0.3;
/** A build rises by this much (intensity, second half against first) into a main section. */
const BUILD_RISE_DB = 1.5;

// ---------------------------------------------------------------------------------------------
// The bar grid

/**
 * Bar edges over [0, durationSec]: the downbeats, with the grid carried on at the local bar
 * length before the first downbeat, after the last one and through gaps (passages where the
 * beat tracker found no beat), so that an intro before the beat or a ringing last chord is
 * measured in bars too. A sliver shorter than half a bar joins its neighbour.
 */
export function barEdges(downbeatsSec: readonly number[], durationSec: number): number[] {
  const inner = downbeatsSec.filter((t) => t > 0 && t < durationSec);
  if (inner.length < 2) {
    const windows = [0];
    for (let t = WINDOW_SEC; t <= durationSec - WINDOW_SEC / 2; t += WINDOW_SEC) windows.push(t);
    return [...windows, durationSec];
  }
  const lengths = inner.slice(1).map((t, i) => t - inner[i]!);
  const barSec = median(lengths);
  const edges = [0];
  for (let t = inner[0]! - barSec * Math.floor((inner[0]! - barSec / 2) / barSec); t < inner[0]! - 1e-9; t += barSec)
    edges.push(t);
  inner.forEach((t, i) => {
    edges.push(t);
    const next = inner[i + 1];
    if (next !== undefined && next - t > 1.5 * barSec) {
      const count = Math.round((next - t) / barSec);
      for (let k = 1; k < count; k++) edges.push(t + ((next - t) * k) / count);
    }
  });
  for (let t = inner[inner.length - 1]! + barSec; t <= durationSec - barSec / 2; t += barSec) edges.push(t);
  // A lead-in or tail shorter than half a bar joins the first or last bar.
  if (edges.length > 2 && edges[1]! < barSec / 2) edges.splice(1, 1);
  if (edges.length > 1 && durationSec - edges[edges.length - 1]! < barSec / 2) edges.pop();
  edges.push(durationSec);
  return edges;
}

// ---------------------------------------------------------------------------------------------
// Bar features and distances

export function barFeatures(edgesSec: readonly number[], features: FrameFeatures): BarFeatures[] {
  const envRate = features.sampleRateHz / features.envelopeHopSamples;
  const bars: BarFeatures[] = [];
  for (let u = 0; u + 1 < edgesSec.length; u++) {
    const startSec = edgesSec[u]!;
    const endSec = edgesSec[u + 1]!;
    const lo = Math.max(0, Math.floor(startSec * envRate));
    const hi = Math.min(features.envelopeCount, Math.max(lo + 1, Math.floor(endSec * envRate)));
    let power = 0;
    const chroma = new Array<number>(12).fill(0);
    const timbre = new Array<number>(TIMBRE_BANDS).fill(0);
    for (let e = lo; e < hi; e++) {
      power += features.rms[e]! ** 2;
      for (let c = 0; c < 12; c++) chroma[c]! += features.chroma[e * 12 + c]!;
      for (let t = 0; t < TIMBRE_BANDS; t++) timbre[t]! += features.timbre[e * TIMBRE_BANDS + t]!;
    }
    const count = Math.max(1, hi - lo);
    const accents = features.accents.map((accent) => {
      let sum = 0;
      const from = lo * ENVELOPE_STRIDE;
      const to = Math.min(accent.length, hi * ENVELOPE_STRIDE);
      for (let f = from; f < to; f++) sum += accent[f]!;
      return sum / Math.max(1, to - from);
    });
    const chromaSum = chroma.reduce((a, b) => a + b, 0);
    bars.push({
      startSec,
      endSec,
      levelDb: toDb(Math.sqrt(power / count)),
      accents,
      timbreDb: timbre.map((v) => toDb(v / count)),
      chroma: chroma.map((c) => (chromaSum > 0 ? c / chromaSum : 0)),
    });
  }
  return bars;
}

/**
 * Each bar as one vector in units (UNITS), groups scaled so that each group's Euclidean distance
 * is its RMS difference over its dimensions: distance² between two bars is the sum over groups of
 * (difference in units)².
 */
export function barVectors(bars: readonly BarFeatures[]): Float64Array[] {
  const loudest = Math.max(...bars.map((b) => b.levelDb));
  const levelFloor = loudest - LEVEL_RANGE_DB;
  const topAccent = topAccents(bars);
  return bars.map((b) => {
    const out: number[] = [Math.max(b.levelDb, levelFloor) / UNITS.levelDb];
    // The shape of the spectral envelope, as MFCCs describe it: the cosine transform of the log
    // band levels without its first term (the level) and truncated (a smooth envelope, not the
    // notes being played). Orthonormal, so the coefficients' distance is the RMS over the bands
    // of the smoothed shape's difference, once divided by √bands.
    const topDb = b.timbreDb.reduce((m, x) => Math.max(m, x), -Infinity);
    const floored = b.timbreDb.map((v) => Math.max(v, topDb - LEVEL_RANGE_DB));
    const bands = floored.length;
    const timbreScale = 1 / (UNITS.timbreDb * Math.sqrt(bands));
    for (let k = 1; k <= TIMBRE_COEFFICIENTS; k++) {
      let c = 0;
      for (let j = 0; j < bands; j++) c += floored[j]! * Math.cos((Math.PI * k * (j + 0.5)) / bands);
      out.push(c * Math.sqrt(2 / bands) * timbreScale);
    }
    const accentScale = 1 / (UNITS.accentsLn * Math.sqrt(b.accents.length));
    b.accents.forEach((a, r) => {
      const floor = (topAccent[r] ?? 0) / ACCENT_RANGE;
      out.push(floor > 0 ? Math.log(Math.max(a, floor) / floor) * accentScale : 0);
    });
    const chromaScale = 1 / (UNITS.chroma * Math.sqrt(2));
    for (const c of b.chroma) out.push(c * chromaScale);
    return Float64Array.from(out);
  });
}

function topAccents(bars: readonly BarFeatures[]): number[] {
  const top: number[] = [];
  for (const b of bars) b.accents.forEach((a, r) => (top[r] = Math.max(top[r] ?? 0, a)));
  return top;
}

function distance(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

// ---------------------------------------------------------------------------------------------
// Novelty

/** Distances between bars up to `maxLag` apart: `at(a, b)` for |a − b| ≤ maxLag, computed once. */
function bandedDistances(vectors: readonly Float64Array[], maxLag: number): (a: number, b: number) => number {
  const n = vectors.length;
  const band = new Float64Array(n * maxLag);
  for (let a = 0; a < n; a++)
    for (let lag = 1; lag <= maxLag && a + lag < n; lag++)
      band[a * maxLag + lag - 1] = distance(vectors[a]!, vectors[a + lag]!);
  return (a, b) => (a === b ? 0 : a < b ? band[a * maxLag + b - a - 1]! : band[b * maxLag + a - b - 1]!);
}

/**
 * Foote's novelty at every bar line i (between bar i−1 and bar i) with a Gaussian-tapered
 * checkerboard kernel of `half` bars each side: the weighted mean distance across the line
 * minus the weighted mean distance within each side. 0 at the song's ends.
 */
export function footeNovelty(vectors: readonly Float64Array[], half: number): number[] {
  return noveltyOf(vectors.length, bandedDistances(vectors, 2 * half), half);
}

function noveltyOf(n: number, at: (a: number, b: number) => number, half: number): number[] {
  const taper = Array.from({ length: half }, (_, k) => Math.exp(-0.5 * ((k + 0.5) / (half / 2)) ** 2));
  const out = new Array<number>(n).fill(0);
  for (let i = 1; i < n; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half);
    const weight = (a: number): number => taper[a < i ? i - 1 - a : a - i]!;
    let cross = 0;
    let crossWeight = 0;
    let within = 0;
    let withinWeight = 0;
    for (let a = lo; a < hi; a++) {
      for (let b = a + 1; b < hi; b++) {
        const w = weight(a) * weight(b);
        const d = at(a, b);
        if (a < i === b < i) {
          within += w * d;
          withinWeight += w;
        } else {
          cross += w * d;
          crossWeight += w;
        }
      }
    }
    out[i] = (crossWeight > 0 ? cross / crossWeight : 0) - (withinWeight > 0 ? within / withinWeight : 0);
  }
  return out;
}

/**
 * Each dimension through a three-bar median: a one-bar event (a drum fill, a crash, a stop) is
 * not a section, and a median keeps the steps between sections where they are.
 */
export function medianOfThree(vectors: readonly Float64Array[]): Float64Array[] {
  return vectors.map((v, i) => {
    const a = vectors[i - 1];
    const c = vectors[i + 1];
    if (a === undefined || c === undefined) return v;
    return v.map((x, d) => Math.max(Math.min(x, a[d]!), Math.min(Math.max(x, a[d]!), c[d]!)));
  });
}

/** Novelty averaged over the kernel scales that fit the song (a quarter of its bars at most). */
export function multiScaleNovelty(vectors: readonly Float64Array[]): number[] {
  const n = vectors.length;
  const scales = SCALES_BARS.filter((s, k) => k === 0 || 4 * s <= n);
  const sum = new Array<number>(n).fill(0);
  const at = bandedDistances(vectors, 2 * Math.max(...scales));
  for (const s of scales) noveltyOf(n, at, s).forEach((v, i) => (sum[i]! += v / scales.length));
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Boundaries

/**
 * Bar indices where sections start (excluding 0), chosen from the novelty (see the header).
 * `phraseOrigin` is the bar of the first detected downbeat, the origin of the phrase grid.
 */
export function chooseBoundaries(novelty: readonly number[], phraseOrigin: number | undefined): number[] {
  const n = novelty.length;
  const eligible = (i: number): boolean => i >= MIN_SHORT_SECTION_BARS && n - i >= MIN_SHORT_SECTION_BARS;
  const maxima: Array<{ v: number; i: number }> = [];
  for (let i = 0; i < n; i++) {
    if (!eligible(i)) continue;
    if (eligible(i - 1) && novelty[i - 1]! >= novelty[i]!) continue;
    if (eligible(i + 1) && novelty[i + 1]! > novelty[i]!) continue;
    maxima.push({ v: novelty[i]!, i });
  }
  // The song's novelty noise: novelty is negative only where the bars across a line are more
  // alike than those within a side, which no boundary does, so its size there is how much bars
  // vary within sections, whatever the number of boundaries (the median of all values rises with
  // every boundary's shoulders in a short, busy song).
  const typical = median(
    novelty
      .slice(1)
      .filter((v) => v < 0)
      .map((v) => -v),
  );
  const threshold = Math.max(MIN_NOVELTY, TYPICAL_RATIO * typical);
  const strong = STRONG_RATIO * threshold;
  const peaks = maxima.filter((p) => p.v > threshold).sort((a, b) => b.v - a.v);
  const cuts = [0, n];
  for (const p of peaks) {
    const minBars = p.v >= strong ? MIN_SHORT_SECTION_BARS : MIN_SECTION_BARS;
    if (cuts.every((c) => Math.abs(c - p.i) >= minBars)) cuts.push(p.i);
  }
  const chosen = cuts.filter((c) => c > 0 && c < n).sort((a, b) => a - b);
  // Sections start on four-bar phrases far more often than a bar before or after one; a change
  // that shows a bar early is usually the fill (or pickup) that leads into the section. A
  // boundary one bar off the phrase grid moves onto it where the novelty there is substantial.
  if (phraseOrigin === undefined) return chosen;
  return chosen.map((c, k) => {
    const offset = (((c - phraseOrigin) % PHRASE_BARS) + PHRASE_BARS) % PHRASE_BARS;
    if (offset !== 1 && offset !== PHRASE_BARS - 1) return c;
    const target = offset === 1 ? c - 1 : c + 1;
    const prev = chosen[k - 1] ?? 0;
    const next = chosen[k + 1] ?? n;
    const fits = target - prev >= MIN_SHORT_SECTION_BARS && next - target >= MIN_SHORT_SECTION_BARS;
    return fits && novelty[target]! >= ALIGN_RATIO * novelty[c]! ? target : c;
  });
}

// ---------------------------------------------------------------------------------------------
// Labels

/** What the labels are decided from, per section. */
export interface SectionTraits {
  readonly startSec: number;
  readonly endSec: number;
  readonly bars: number;
  /** Mean power, dBFS. */
  readonly levelDb: number;
  /** Level plus accent activity (3 dB per doubling, against the song's busiest section): how much is going on. */
  readonly intensityDb: number;
  /** Kick/bass accent activity against the song's busiest section (0..1). */
  readonly drums: number;
  /** Intensity of the second half minus the first half. */
  readonly riseDb: number;
  /** Which earlier section this one repeats (index), or its own index. */
  readonly repeats: number;
}

/**
 * Sections of a song from its downbeats (none: fixed windows instead of bars) and features;
 * the result covers [0, durationSec] without gaps.
 */
export function findSections(downbeatsSec: readonly number[], durationSec: number, features: FrameFeatures): Section[] {
  const edges = barEdges(downbeatsSec, durationSec);
  const bars = barFeatures(edges, features);
  const first = downbeatsSec.find((t) => t > 0 && t < durationSec);
  const phraseOrigin =
    downbeatsSec.length >= 2 && first !== undefined
      ? Math.max(
          0,
          bars.findIndex((b) => b.endSec > first + 1e-6),
        )
      : undefined;
  return sectionsOfBars(bars, phraseOrigin);
}

/** Sections from bar features; `phraseOrigin` is the bar the phrase grid counts from (none without a beat). */
export function sectionsOfBars(bars: readonly BarFeatures[], phraseOrigin: number | undefined): Section[] {
  if (bars.length === 0) return [];
  const vectors = barVectors(bars);
  const novelty = multiScaleNovelty(medianOfThree(vectors));
  const bounds = [0, ...chooseBoundaries(novelty, phraseOrigin), bars.length];
  return labelSections(sectionTraits(bars, vectors, bounds));
}

export function sectionTraits(
  bars: readonly BarFeatures[],
  vectors: readonly Float64Array[],
  bounds: readonly number[],
): SectionTraits[] {
  const spans = bounds.slice(0, -1).map((from, s) => ({ from, to: bounds[s + 1]! }));
  const meanDb = (from: number, to: number, pick: (b: BarFeatures) => number): number => {
    let p = 0;
    let w = 0;
    for (let u = from; u < to; u++) {
      const len = bars[u]!.endSec - bars[u]!.startSec;
      p += 10 ** (pick(bars[u]!) / 10) * len;
      w += len;
    }
    return 10 * Math.log10(p / (w || 1) || 1e-10);
  };
  const activity = (from: number, to: number, regions: readonly number[]): number => {
    let sum = 0;
    for (let u = from; u < to; u++) for (const r of regions) sum += bars[u]!.accents[r] ?? 0;
    return sum / Math.max(1, to - from);
  };
  const ALL = [0, 1, 2, 3];
  const busiest = Math.max(1e-9, ...spans.map((s) => activity(s.from, s.to, ALL)));
  const busiestLow = Math.max(1e-9, ...spans.map((s) => activity(s.from, s.to, [0])));
  const intensity = (from: number, to: number): number =>
    meanDb(from, to, (b) => b.levelDb) +
    ACTIVITY_DB_PER_DOUBLING * Math.log2(Math.max(activity(from, to, ALL) / busiest, 1 / ACCENT_RANGE));
  // Two sections are one kind when every bar of each has a close counterpart in the other (the
  // mean distance to the nearest bar, both ways): a chorus that comes back, not a build that
  // merely ends where the drop is.
  const nearest = (a: { from: number; to: number }, b: { from: number; to: number }): number => {
    let sum = 0;
    for (let u = a.from; u < a.to; u++) {
      let best = Infinity;
      for (let w = b.from; w < b.to; w++) best = Math.min(best, distance(vectors[u]!, vectors[w]!));
      sum += best;
    }
    return sum / (a.to - a.from);
  };
  const alike = (a: number, b: number): boolean =>
    (nearest(spans[a]!, spans[b]!) + nearest(spans[b]!, spans[a]!)) / 2 <= REPEAT_UNITS;
  // The rise is between the medians of each half's bars, so a fill in a section's last bar is
  // not a build: a build rises through its bars.
  const barIntensity = bars.map(
    (b) =>
      b.levelDb +
      ACTIVITY_DB_PER_DOUBLING * Math.log2(Math.max(b.accents.reduce((a, c) => a + c, 0) / busiest, 1 / ACCENT_RANGE)),
  );
  return spans.map(({ from, to }, s) => {
    const half = Math.floor((from + to) / 2);
    const repeats = spans.findIndex((_, t) => t === s || (t < s && alike(t, s)));
    return {
      startSec: bars[from]!.startSec,
      endSec: bars[to - 1]!.endSec,
      bars: to - from,
      levelDb: meanDb(from, to, (b) => b.levelDb),
      intensityDb: intensity(from, to),
      drums: activity(from, to, [0]) / busiestLow,
      riseDb: to - from >= 2 ? median(barIntensity.slice(half, to)) - median(barIntensity.slice(from, half)) : 0,
      repeats,
    };
  });
}

/** Names sections by intensity against their neighbours and the song, position and repetition (see the header). */
export function labelSections(traits: readonly SectionTraits[]): Section[] {
  const n = traits.length;
  // Sections that repeat one another are one kind; a kind is as intense as its most intense member.
  const kind = traits.map((t) => t.repeats);
  for (let i = 0; i < n; i++) kind[i] = kind[kind[i]!]!;
  const kindIntensity = new Map<number, number>();
  traits.forEach((t, i) =>
    kindIntensity.set(kind[i]!, Math.max(kindIntensity.get(kind[i]!) ?? -Infinity, t.intensityDb)),
  );
  const peak = Math.max(...kindIntensity.values());
  const main = traits.map((_, i) => peak - kindIntensity.get(kind[i]!)! <= MAIN_WITHIN_DB);
  const labels = traits.map((t, i): SectionLabel => {
    if (n === 1) return 'drop';
    const prev = traits[i - 1];
    const next = traits[i + 1];
    // Quieter or sparser than the section it leads into (intro) or follows (outro).
    const calmerThan = (o: SectionTraits): boolean =>
      o.intensityDb - t.intensityDb >= EDGE_CALMER_DB || t.drums < EDGE_SPARSER * o.drums;
    if (i === 0) return next && (calmerThan(next) || !main[i]) ? 'intro' : 'drop';
    if (i === n - 1) return prev && (calmerThan(prev) || !main[i]) ? 'outro' : 'drop';
    const louderBefore = Math.max(...traits.slice(0, i).map((o) => o.intensityDb)) - t.intensityDb;
    const louderAfter = Math.max(...traits.slice(i + 1).map((o) => o.intensityDb)) - t.intensityDb;
    if (louderBefore >= BREAK_DIP_DB && louderAfter >= BREAK_DIP_DB) return 'break';
    const drumsAround = Math.min(
      Math.max(...traits.slice(0, i).map((o) => o.drums)),
      Math.max(...traits.slice(i + 1).map((o) => o.drums)),
    );
    if (drumsAround >= 0.5 && t.drums <= DRUMS_OUT * drumsAround) return 'break';
    if (next && kind[i + 1] !== kind[i] && t.riseDb >= BUILD_RISE_DB && next.intensityDb > t.intensityDb - t.riseDb / 2)
      return 'build';
    return main[i] ? 'drop' : 'verse';
  });
  return traits.map((t, i) => ({ startSec: t.startSec, endSec: t.endSec, label: labels[i]!, levelDb: t.levelDb }));
}
