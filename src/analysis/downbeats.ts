/**
 * Meter and downbeats from what happens on each beat.
 *
 * Meter (beats per bar). A bar is the span after which the rhythm repeats: the accent pattern
 * on the beat and between beats (four accent regions at the beat and at the half beat) is more
 * alike M beats apart than at lags coprime to M. Repetition cannot tell 2 from 4 (a kick–snare
 * figure repeats every two beats in most 4/4), so the downbeat cues below add how clearly one
 * position in M stands out. Both are weighed against a prior that depends on how the beat
 * divides: with binary subdivision 4/4 is most common, then 3/4, then 2/4; with ternary
 * subdivision 6/8 (two dotted-quarter beats), then 12/8, then 9/8.
 *
 * Downbeats. Three cues mark a bar's first beat in most music: the bass/kick hits there, the
 * harmony changes there, and the snare does not play there (it plays the backbeat). Each beat
 * gets a downbeat cue (z-scored low-band accent plus z-scored chroma change across the beat minus
 * the z-scored snare activation, beat-phase.ts); a Viterbi pass over the position in the bar (1 … M) then
 * chooses where bars start, advancing one position per beat and allowing, at a high cost, a
 * restart of the bar anywhere (an inserted 2/4 bar, a pickup, an edit).
 */
import { ENVELOPE_STRIDE, type FrameFeatures } from './feature-extractor.js';
import { snareActivation } from './beat-phase.js';
import { median, peakNear } from '../shared/math.js';

export interface Meter {
  readonly beatsPerBar: number;
  /** How the beat divides: 2 (simple meter) or 3 (compound). */
  readonly subdivision: 2 | 3;
  /** e.g. "4/4", "3/4", "6/8". */
  readonly timeSignature: string;
  /** 0..1: how clearly the chosen meter's repetition stands out. */
  readonly confidence: number;
}

export interface DownbeatResult {
  readonly meter: Meter;
  /** Position of each beat in its bar, 1 = downbeat. */
  readonly positions: number[];
}

/**
 * Prior of each bar length (beats per bar) given how the beat divides. Simple meters: 4/4, then
 * 3/4, then 2/4; the longer and odd bars of progressive rock, jazz-rock and folk (6/4, 5/4, 7/4)
 * are rarer but real, and are taken only where the repetition and the downbeat cues clearly
 * prefer them (their log prior costs 2.1 to 2.8 against 4/4).
 */
const METER_PRIOR: Readonly<Record<2 | 3, Readonly<Record<number, number>>>> = {
  2: { 4: 1, 3: 0.5, 2: 0.2, 6: 0.12, 5: 0.08, 7: 0.06 },
  3: { 2: 1, 4: 0.5, 3: 0.3 },
};
/** Weight of the repetition evidence (a difference of mean cosine similarities) against the log prior. */
const REPETITION_WEIGHT = 12;
/** Weight of the downbeat-cue contrast (z-score units) against the log prior. */
const CUE_WEIGHT = 2;
/** Log-probability of restarting the bar at a beat that is not the next position. */
const RESTART_LOG_PROB = -12;
/** Lags compared (beats): two bars of the longest bar considered. */
const MAX_LAG = 14;

function timeSignatureOf(beatsPerBar: number, subdivision: 2 | 3): string {
  return subdivision === 3 ? `${beatsPerBar * 3}/8` : `${beatsPerBar}/4`;
}

/**
 * Values relative to their mean, in units of their spread; the spread is floored at a tenth of
 * the mean so that near-constant values (a metronome) stay near zero instead of amplifying noise.
 */
function zScores(values: readonly number[]): number[] {
  const n = values.length;
  if (n === 0) return [];
  const m = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) * (b - m), 0) / n);
  const scale = Math.max(sd, 0.1 * Math.abs(m)) || 1;
  return values.map((v) => (v - m) / scale);
}

/** Scores limited to ±3: one freak beat (a crash, the first note after silence) must not flatten the others. */
function clipped(scores: number[]): number[] {
  return scores.map((z) => Math.max(-3, Math.min(3, z)));
}

/**
 * The snare at each beat relative to its mean over the beats, in units of its spread, the spread
 * floored at the song's mean snare activation: where the snare does not play on the beats at all
 * (dembow, four on the floor without claps) the small differences left say nothing and must not
 * be blown up to unit size.
 */
function snareScores(atBeats: readonly number[], snare: Float32Array): number[] {
  let sum = 0;
  for (let i = 0; i < snare.length; i++) sum += snare[i]!;
  const songMean = sum / Math.max(1, snare.length);
  const m = atBeats.reduce((a, b) => a + b, 0) / Math.max(1, atBeats.length);
  const sd = Math.sqrt(atBeats.reduce((a, b) => a + (b - m) * (b - m), 0) / Math.max(1, atBeats.length));
  const scale = Math.max(sd, songMean) || 1;
  return atBeats.map((v) => (v - m) / scale);
}

/** Per beat: the accent pattern (4 regions at the beat, 4 at the half beat), each dimension z-scored. */
function rhythmVectors(beatFrames: readonly number[], features: FrameFeatures): number[][] {
  const dims: number[][] = [];
  for (const accent of features.accents) {
    let mean = 0;
    for (let i = 0; i < accent.length; i++) mean += accent[i]!;
    mean = mean / Math.max(1, accent.length) || 1;
    const onBeat = beatFrames.map((f) => peakNear(accent, f, 2) / mean);
    const between = beatFrames.map((f, b) => {
      const next = beatFrames[b + 1] ?? f + (b > 0 ? f - beatFrames[b - 1]! : 0);
      return peakNear(accent, (f + next) / 2, 2) / mean;
    });
    dims.push(zScores(onBeat), zScores(between));
  }
  return beatFrames.map((_, b) => dims.map((d) => d[b]!));
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Mean similarity of beat vectors `lag` beats apart, for lags 1 … MAX_LAG. */
export function repetitionByLag(vectors: readonly number[][]): number[] {
  const out: number[] = [];
  for (let lag = 1; lag <= MAX_LAG; lag++) {
    let sum = 0;
    let count = 0;
    for (let b = 0; b + lag < vectors.length; b++) {
      sum += cosine(vectors[b]!, vectors[b + lag]!);
      count++;
    }
    out.push(count > 0 ? sum / count : 0);
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Repetition evidence for a bar of M beats: the mean similarity at lags that are multiples of M
 * minus the mean at lags coprime to M. Lags that share a factor with M (2 and 6 for a 4-beat
 * bar) are left out: a kick–snare figure repeating every 2 beats says nothing about 2 against 4,
 * which the downbeat cues decide.
 */
export function repetitionEvidence(repetition: readonly number[], beatsPerBar: number): number {
  const on: number[] = [];
  const off: number[] = [];
  repetition.forEach((sim, i) => {
    const lag = i + 1;
    if (lag % beatsPerBar === 0) on.push(sim);
    else if (gcd(lag, beatsPerBar) === 1) off.push(sim);
  });
  const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  return mean(on) - mean(off);
}

/** How much the best bar phase's cues stand above the other positions' (cues are z-scores). */
export function cueContrast(cues: readonly number[], beatsPerBar: number): number {
  let best = 0;
  for (let phase = 0; phase < beatsPerBar; phase++) {
    let on = 0;
    let onCount = 0;
    let off = 0;
    let offCount = 0;
    cues.forEach((c, b) => {
      if ((b - phase) % beatsPerBar === 0) {
        on += c;
        onCount++;
      } else {
        off += c;
        offCount++;
      }
    });
    if (onCount && offCount) best = Math.max(best, on / onCount - off / offCount);
  }
  return best;
}

export function chooseMeter(
  repetition: readonly number[],
  cuesFor: (beatsPerBar: number) => readonly number[],
  subdivision: 2 | 3,
): Meter {
  const candidates = Object.keys(METER_PRIOR[subdivision])
    .map(Number)
    .map((beatsPerBar) => {
      const score =
        Math.log(METER_PRIOR[subdivision][beatsPerBar]!) +
        REPETITION_WEIGHT * repetitionEvidence(repetition, beatsPerBar) +
        CUE_WEIGHT * cueContrast(cuesFor(beatsPerBar), beatsPerBar);
      return { beatsPerBar, score };
    });
  candidates.sort((a, b) => b.score - a.score);
  const best = candidates[0]!;
  const margin = best.score - candidates[1]!.score;
  return {
    beatsPerBar: best.beatsPerBar,
    subdivision,
    timeSignature: timeSignatureOf(best.beatsPerBar, subdivision),
    confidence: Math.max(0, Math.min(1, 1 - Math.exp(-margin))),
  };
}

/** Running sums of the chroma over envelope frames: row e holds the sums of frames 0 … e − 1. */
const prefixCache = new WeakMap<FrameFeatures, Float64Array>();
function chromaPrefixSums(features: FrameFeatures): Float64Array {
  const cached = prefixCache.get(features);
  if (cached) return cached;
  const n = features.envelopeCount;
  const out = new Float64Array((n + 1) * 12);
  for (let e = 0; e < n; e++)
    for (let c = 0; c < 12; c++) out[(e + 1) * 12 + c] = out[e * 12 + c]! + features.chroma[e * 12 + c]!;
  prefixCache.set(features, out);
  return out;
}

/**
 * Per beat: how much it looks like a bar's first beat: bass accent + harmonic change − snare,
 * each z-scored. The harmonic change compares the chroma of the half bar before the beat with
 * the half bar after it: at a bar line both halves hold one chord each, elsewhere they straddle
 * one. The snare plays the backbeat (2 and 4, the 3 of a half-time groove, 2 and 3 of a waltz),
 * not the one: this keeps an anticipated chord change (a push on the and of 4) from moving the
 * bar line to beat 4.
 */
export function downbeatCues(
  beatFrames: readonly number[],
  features: FrameFeatures,
  beatsPerBar: number,
  snare: Float32Array = snareActivation(features),
): number[] {
  const span = Math.max(1, Math.floor(beatsPerBar / 2));
  const low = features.accents[0]!;
  const bass = beatFrames.map((f) => peakNear(low, f, 2));
  const envCount = features.envelopeCount;
  const cumulative = chromaPrefixSums(features);
  const chromaMean = (fromFrame: number, toFrame: number): number[] => {
    const lo = Math.min(envCount, Math.max(0, Math.round(fromFrame / ENVELOPE_STRIDE)));
    const hi = Math.min(envCount, Math.max(lo + 1, Math.round(toFrame / ENVELOPE_STRIDE)));
    const acc = new Array<number>(12);
    for (let c = 0; c < 12; c++) acc[c] = cumulative[hi * 12 + c]! - cumulative[lo * 12 + c]!;
    return acc;
  };
  const beatAt = (i: number): number => {
    const last = beatFrames.length - 1;
    if (i < 0) return beatFrames[0]! + i * (beatFrames[Math.min(1, last)]! - beatFrames[0]! || 40);
    if (i > last)
      return beatFrames[last]! + (i - last) * (beatFrames[last]! - beatFrames[Math.max(0, last - 1)]! || 40);
    return beatFrames[i]!;
  };
  // Where a window reaches past the first or last beat it holds silence or a fade: no evidence.
  const changeOver = (span: number): number[] => {
    const change = beatFrames.map((f, b) =>
      b - span >= 0 && b + span < beatFrames.length
        ? 1 - cosine(chromaMean(beatAt(b - span), f), chromaMean(f, beatAt(b + span)))
        : NaN,
    );
    const typical = median(change.filter((c) => !Number.isNaN(c)));
    return clipped(zScores(change.map((c) => (Number.isNaN(c) ? typical : c))));
  };
  const spans = [...new Set([1, span, beatsPerBar])];
  const changes = spans.map(changeOver);
  const harmony = beatFrames.map((_, b) => changes.reduce((sum, c) => sum + c[b]!, 0) / spans.length);
  const zb = clipped(zScores(bass));
  const zh = clipped(zScores(harmony));
  const zs = clipped(
    snareScores(
      beatFrames.map((f) => peakNear(snare, f, 2)),
      snare,
    ),
  );
  return zb.map((v, i) => v + zh[i]! - zs[i]!);
}

/** Bar positions by Viterbi over (beat, position in bar); see the header. */
export function barPositions(cues: readonly number[], beatsPerBar: number): number[] {
  const n = cues.length;
  const m = beatsPerBar;
  if (n === 0) return [];
  let score = new Float64Array(m);
  const back: Int8Array[] = [];
  const emit = (b: number, p: number): number => (p === 0 ? cues[b]! : 0);
  for (let p = 0; p < m; p++) score[p] = emit(0, p);
  for (let b = 1; b < n; b++) {
    let bestAny = 0;
    for (let p = 1; p < m; p++) if (score[p]! > score[bestAny]!) bestAny = p;
    const next = new Float64Array(m);
    const from = new Int8Array(m);
    for (let p = 0; p < m; p++) {
      const prev = (p - 1 + m) % m;
      let best = score[prev]!;
      let arg = prev;
      if (score[bestAny]! + RESTART_LOG_PROB > best && bestAny !== prev) {
        best = score[bestAny]! + RESTART_LOG_PROB;
        arg = bestAny;
      }
      next[p] = best + emit(b, p);
      from[p] = arg;
    }
    back.push(from);
    score = next;
  }
  let state = 0;
  for (let p = 1; p < m; p++) if (score[p]! > score[state]!) state = p;
  const positions = new Array<number>(n);
  for (let b = n - 1; b >= 0; b--) {
    positions[b] = state + 1;
    if (b > 0) state = back[b - 1]![state]!;
  }
  return positions;
}

/** Log-probability of a bar in another meter than the one before it (a meter change). */
const METER_CHANGE_LOG_PROB = -5;
/** Log-probability, per bar, of a bar in another meter than the song's. */
const OTHER_METER_BAR_LOG_PROB = -1.5;

/**
 * Bar positions when the meter may change from bar to bar: a Viterbi over (meter, position in
 * the bar) for every candidate meter, advancing one position per beat; at the end of a bar the
 * next bar may be of another meter at a cost (METER_CHANGE_LOG_PROB), and every bar in a meter
 * other than the song's costs a little more (OTHER_METER_BAR_LOG_PROB), so the song's meter
 * holds unless the downbeat cues of the other bar length are clearly better over more than a
 * bar or two. The restart anywhere (barPositions) stays. `cuesFor(M)` are the downbeat cues for
 * bars of M beats (their harmony spans depend on M).
 */
export function barPositionsWithMeterChanges(
  cuesFor: (beatsPerBar: number) => readonly number[],
  meters: readonly number[],
  primary: number,
): number[] {
  const n = cuesFor(primary).length;
  if (n === 0) return [];
  const states: Array<{ m: number; p: number }> = [];
  for (const m of meters) for (let p = 0; p < m; p++) states.push({ m, p });
  const index = new Map(states.map((s, i) => [`${s.m}:${s.p}`, i]));
  /** The state one beat earlier in the same bar (p > 0), or the last position of the same meter (p = 0). */
  const previous = Int16Array.from(states, ({ m, p }) => index.get(`${m}:${p > 0 ? p - 1 : m - 1}`)!);
  const barEnds = Int16Array.from(meters, (m) => index.get(`${m}:${m - 1}`)!);
  const barCost = (m: number): number => (m === primary ? 0 : OTHER_METER_BAR_LOG_PROB);
  const emit = (b: number, i: number): number => (states[i]!.p === 0 ? cuesFor(states[i]!.m)[b]! : 0);
  const k = states.length;
  let score = Float64Array.from(states, (s, i) => emit(0, i) + barCost(s.m));
  const back: Int16Array[] = [];
  for (let b = 1; b < n; b++) {
    let bestAny = 0;
    for (let i = 1; i < k; i++) if (score[i]! > score[bestAny]!) bestAny = i;
    // The best bar end of each meter, for the bars that begin now.
    let bestEnd = -1;
    let bestEndScore = -Infinity;
    for (const i of barEnds) {
      if (score[i]! > bestEndScore) {
        bestEndScore = score[i]!;
        bestEnd = i;
      }
    }
    const next = new Float64Array(k);
    const from = new Int16Array(k);
    for (let i = 0; i < k; i++) {
      const { m, p } = states[i]!;
      let best: number;
      let arg: number;
      arg = previous[i]!;
      if (p > 0) {
        best = score[arg]!;
      } else {
        best = score[arg]! + barCost(m);
        if (bestEnd !== arg && bestEndScore + METER_CHANGE_LOG_PROB + barCost(m) > best) {
          best = bestEndScore + METER_CHANGE_LOG_PROB + barCost(m);
          arg = bestEnd;
        }
      }
      if (bestAny !== arg && score[bestAny]! + RESTART_LOG_PROB > best) {
        best = score[bestAny]! + RESTART_LOG_PROB;
        arg = bestAny;
      }
      next[i] = best + emit(b, i);
      from[i] = arg;
    }
    back.push(from);
    score = next;
  }
  let state = 0;
  for (let i = 1; i < k; i++) if (score[i]! > score[state]!) state = i;
  const positions = new Array<number>(n);
  for (let b = n - 1; b >= 0; b--) {
    positions[b] = states[state]!.p + 1;
    if (b > 0) state = back[b - 1]![state]!;
  }
  return positions;
}

/** `snare` is `snareActivation(features)` (beat-phase.ts). */
export function estimateDownbeats(
  beatFrames: readonly number[],
  features: FrameFeatures,
  subdivision: 2 | 3,
  snare: Float32Array = snareActivation(features),
): DownbeatResult {
  if (beatFrames.length < 4) {
    return {
      meter: { beatsPerBar: 4, subdivision, timeSignature: timeSignatureOf(4, subdivision), confidence: 0 },
      positions: beatFrames.map((_, i) => (i % 4) + 1),
    };
  }
  const cues = new Map<number, number[]>();
  const cuesFor = (beatsPerBar: number): number[] => {
    const key = beatsPerBar;
    if (!cues.has(key)) cues.set(key, downbeatCues(beatFrames, features, beatsPerBar, snare));
    return cues.get(key)!;
  };
  const meter = chooseMeter(repetitionByLag(rhythmVectors(beatFrames, features)), cuesFor, subdivision);
  const meters = Object.keys(METER_PRIOR[subdivision]).map(Number);
  return { meter, positions: barPositionsWithMeterChanges(cuesFor, meters, meter.beatsPerBar) };
}
