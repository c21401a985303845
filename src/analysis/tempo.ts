/**
 * Tempo: a tempo path through the song (ramps and abrupt changes), with the metrical level chosen
 * on purpose rather than by whichever periodicity is strongest.
 *
 * 1. Salience. The beat envelope is cut into 11.9 s windows every 2 s; each window's normalised
 *    autocorrelation S_w(τ) (1 at lag 0) measures how periodic the accents are at lag τ.
 * 2. Metrical level (the octave problem). Periodicity alone cannot tell 86 from 172 BPM: a
 *    periodic signal is just as periodic at twice its period. Following Klapuri, Eronen & Astola
 *    (2006, "Analysis of the meter of acoustic musical signals"), the beat (tactus) is chosen
 *    jointly with the level below it (the tatum, the fastest regular pulse) under priors that
 *    encode primitive musical knowledge:
 *      score(τ) = log prior(τ)            tempo prior: log-normal around 120 BPM, σ = 0.6 octave
 *                                         (the preferred-tempo region, Moelants 2002)
 *               + β · S_w(τ)              how periodic the accents are at the beat itself
 *               + log p(k*)               k* = the finest subdivision of τ (2, 3, 4, 6 or 8) at
 *                                         which the accents are still clearly periodic (at least
 *                                         θ · S_w(τ)); beats divide into 2 or 4 far more often
 *                                         than into 8, and a beat with no audible subdivision at
 *                                         all is less likely than one with
 *    This is what puts trap with 16th-note hats at 142 (k* = 4) rather than 71 (k* = 8), drum &
 *    bass with 8th-note hats at 172 (k* = 2) rather than 86 (k* = 4), and a ballad whose fastest
 *    pulse is the 8th note at 70 (k* = 2) rather than 140 (no subdivision), while the tempo
 *    prior alone would get at least one of them wrong.
 * 3. Path. A Viterbi pass over (window, tempo) with that score as the observation and a
 *    transition that lets the tempo drift by a few percent per window and jump (a change of
 *    section tempo) at a fixed cost.
 */
import { createAutocorrelation, windowAutocorrelation } from './power-spectrum.js';

export const MIN_BPM = 50;
export const MAX_BPM = 220;
/** Tempo grid step: 1 % in tempo. */
const STEP_OCTAVES = Math.log2(1.01);
const WINDOW_SEC = 11.9;
const WINDOW_HOP_SEC = 2;

const PULSE_MULTIPLES = 4;
const PRIOR_CENTRE_BPM = 120;
const PRIOR_SIGMA_OCTAVES = 0.6;
const BEAT_SALIENCE_WEIGHT = 3;
/** A subdivision counts when its periodicity is at least this fraction of the beat's. */
const SUBDIVISION_THRESHOLD = 0.35;
/** Shortest subdivision period considered (s): faster "pulses" are the envelope's own width. */
const MIN_SUBDIVISION_SEC = 0.08;
const SUBDIVISION_PRIOR: ReadonlyArray<readonly [number, number]> = [
  [1, 0.7],
  [2, 1],
  [3, 0.6],
  [4, 0.7],
  [6, 0.4],
  [8, 0.2],
];
/** Which coarser subdivisions a finer one implies (4 needs 2, 6 needs 2 or 3, 8 needs 4). */
const SUBDIVISION_REQUIRES: Readonly<Record<number, readonly number[]>> = { 2: [], 3: [], 4: [2], 6: [2, 3], 8: [4] };

/** Log-probability of staying within one tempo step per window vs drifting. */
const DRIFT_SIGMA_OCTAVES = 0.02;
/** Log-probability cost of an abrupt tempo change between windows. */
const JUMP_LOG_PROB = -6;

export interface TempoPath {
  readonly frameRate: number;
  /** Centre frame of each window. */
  readonly windowCentres: Float64Array;
  /** Tempo of each window (BPM) on the chosen metrical level. */
  readonly bpm: Float64Array;
  /** Beat-level periodicity S_w(τ) of each window along the path: 0 for no pulse, ~1 for a metronome. */
  readonly salience: Float64Array;
  /** The subdivision k* of the beat in each window (1 when none is heard). */
  readonly subdivision: Int32Array;
  /** Whether each window's beat divides in three. */
  readonly ternary: Uint8Array;
  /** Each window's normalised autocorrelation (tempo-level.ts scores other levels on it); absent on refined paths. */
  readonly acf?: readonly Float32Array[];
}

/** Normalised autocorrelation of each window of the envelope, lags 0 … maxLag. */
export async function windowedSalience(
  envelope: Float32Array,
  frameRate: number,
  maxLag: number,
): Promise<{ centres: Float64Array; acf: Float32Array[] }> {
  const n = envelope.length;
  const windowFrames = Math.min(n, Math.round(WINDOW_SEC * frameRate));
  const hop = Math.round(WINDOW_HOP_SEC * frameRate);
  const starts: number[] = [];
  if (windowFrames > 0) {
    for (let s = 0; s + windowFrames <= n; s += hop) starts.push(s);
    const lastStart = n - windowFrames;
    if (starts.length === 0 || starts[starts.length - 1]! < lastStart) starts.push(lastStart);
  }
  const size = 2 ** Math.ceil(Math.log2(Math.max(32, windowFrames)));
  const ac = await createAutocorrelation(size);
  const acf: Float32Array[] = [];
  const centres = new Float64Array(starts.length);
  starts.forEach((start, w) => {
    const value = windowAutocorrelation(ac, envelope, start, windowFrames);
    const out = new Float32Array(maxLag + 1);
    if (value) for (let lag = 0; lag <= maxLag && lag < windowFrames; lag++) out[lag] = value(lag);
    acf.push(out);
    centres[w] = start + windowFrames / 2;
  });
  return { centres, acf };
}

/** The value at a fractional lag: the largest of the two neighbouring lags (a peak within half a frame). */
function at(acf: Float32Array, lag: number): number {
  const i = Math.floor(lag);
  if (i < 0 || i + 1 >= acf.length) return 0;
  return Math.max(acf[i]!, acf[i + 1]!);
}

/**
 * How strongly the accents recur every `periodFrames` and keep recurring: the mean periodicity
 * at the first PULSE_MULTIPLES multiples of the period (a comb). A beat continues through the
 * bar, so its multiples are periodic too; a rhythmic figure that only happens to repeat at some
 * lag (the 3 + 3 + 2 of a tresillo repeats after three 16ths) is not periodic at twice that lag.
 */
export function pulseSalience(acf: Float32Array, periodFrames: number): number {
  let sum = 0;
  for (let k = 1; k <= PULSE_MULTIPLES; k++) sum += at(acf, k * periodFrames);
  return Math.max(0, sum / PULSE_MULTIPLES);
}

export interface LevelScore {
  readonly score: number;
  readonly salience: number;
  readonly subdivision: number;
  /** The beat divides in three rather than two: more periodicity at a third of it than at half. */
  readonly ternary: boolean;
}

/** The subdivisions tried, finest last, with the log of their prior and the coarser ones each needs (a bit mask over SUBDIVISIONS). */
const SUBDIVISIONS = [2, 3, 4, 6, 8] as const;
const SUBDIVISION_NEEDS = SUBDIVISIONS.map((k) =>
  SUBDIVISION_REQUIRES[k]!.reduce(
    (mask, j) => mask | (1 << SUBDIVISIONS.indexOf(j as (typeof SUBDIVISIONS)[number])),
    0,
  ),
);
const LOG_SUBDIVISION_PRIOR = new Map(SUBDIVISION_PRIOR.map(([k, p]) => [k, Math.log(p)]));

/** The metrical-level score of beat period `periodFrames` in one window (see the header). */
export function levelScore(acf: Float32Array, periodFrames: number, frameRate: number): LevelScore {
  const bpm = (60 * frameRate) / periodFrames;
  const octaves = Math.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_SIGMA_OCTAVES;
  const salience = pulseSalience(acf, periodFrames);
  const threshold = SUBDIVISION_THRESHOLD * salience;
  // Bit i: SUBDIVISIONS[i] is heard (a bit mask, not a set: this runs for every tempo of every window).
  let heard = 0;
  let subdivision = 1;
  for (let i = 0; i < SUBDIVISIONS.length; i++) {
    const k = SUBDIVISIONS[i]!;
    const sub = periodFrames / k;
    if (sub < MIN_SUBDIVISION_SEC * frameRate) continue;
    const needs = SUBDIVISION_NEEDS[i]!;
    if (needs !== 0 && (heard & needs) === 0) continue;
    if (salience > 0 && at(acf, sub) >= threshold) {
      heard |= 1 << i;
      subdivision = k;
    }
  }
  const ternary = at(acf, periodFrames / 3) > Math.max(at(acf, periodFrames / 2), 0.05);
  return {
    score: -0.5 * octaves * octaves + BEAT_SALIENCE_WEIGHT * salience + LOG_SUBDIVISION_PRIOR.get(subdivision)!,
    salience,
    subdivision,
    ternary,
  };
}

export function tempoGrid(): Float64Array {
  const count = Math.floor(Math.log2(MAX_BPM / MIN_BPM) / STEP_OCTAVES) + 1;
  return Float64Array.from({ length: count }, (_, i) => MIN_BPM * 2 ** (i * STEP_OCTAVES));
}

/** The tempo path (see the header); empty when the envelope is shorter than a beat. */
export async function trackTempo(envelope: Float32Array, frameRate: number): Promise<TempoPath> {
  const grid = tempoGrid();
  const maxLag = Math.ceil((PULSE_MULTIPLES * 60 * frameRate) / MIN_BPM) + 2;
  const { centres, acf } = await windowedSalience(envelope, frameRate, maxLag);
  const windows = acf.length;
  const states = grid.length;
  const empty: TempoPath = {
    frameRate,
    windowCentres: new Float64Array(0),
    bpm: new Float64Array(0),
    salience: new Float64Array(0),
    subdivision: new Int32Array(0),
    ternary: new Uint8Array(0),
  };
  if (windows === 0 || envelope.length < (60 * frameRate) / MIN_BPM) return empty;

  const obs = acf.map((a) => Array.from(grid, (bpm) => levelScore(a, (60 * frameRate) / bpm, frameRate)));
  // Transition: Gaussian drift in log-tempo, or a jump anywhere at a fixed cost.
  const driftRadius = Math.ceil((4 * DRIFT_SIGMA_OCTAVES) / STEP_OCTAVES);
  const driftLog = Float64Array.from(
    { length: driftRadius + 1 },
    (_, d) => -0.5 * ((d * STEP_OCTAVES) / DRIFT_SIGMA_OCTAVES) ** 2,
  );
  let score = Float64Array.from(obs[0]!, (o) => o.score);
  const back: Int32Array[] = [];
  for (let w = 1; w < windows; w++) {
    let bestPrev = 0;
    for (let s = 1; s < states; s++) if (score[s]! > score[bestPrev]!) bestPrev = s;
    const next = new Float64Array(states);
    const from = new Int32Array(states);
    for (let s = 0; s < states; s++) {
      let best = score[bestPrev]! + JUMP_LOG_PROB;
      let arg = bestPrev;
      for (let d = -driftRadius; d <= driftRadius; d++) {
        const p = s + d;
        if (p < 0 || p >= states) continue;
        const v = score[p]! + driftLog[Math.abs(d)]!;
        if (v > best) {
          best = v;
          arg = p;
        }
      }
      next[s] = best + obs[w]![s]!.score;
      from[s] = arg;
    }
    back.push(from);
    score = next;
  }
  let state = 0;
  for (let s = 1; s < states; s++) if (score[s]! > score[state]!) state = s;
  const path = new Int32Array(windows);
  for (let w = windows - 1; w >= 0; w--) {
    path[w] = state;
    if (w > 0) state = back[w - 1]![state]!;
  }
  return {
    frameRate,
    windowCentres: centres,
    bpm: Float64Array.from(path, (s) => grid[s]!),
    salience: Float64Array.from(path, (s, w) => obs[w]![s]!.salience),
    subdivision: Int32Array.from(path, (s, w) => obs[w]![s]!.subdivision),
    ternary: Uint8Array.from(path, (s, w) => (obs[w]![s]!.ternary ? 1 : 0)),
    acf,
  };
}

/** The beat period (frames) at every frame: the path's tempo, interpolated in log-tempo between window centres. */
export function periodAtFrames(path: TempoPath, frameCount: number): Float64Array {
  const out = new Float64Array(frameCount);
  const w = path.windowCentres;
  if (w.length === 0) return out;
  let j = 0;
  for (let t = 0; t < frameCount; t++) {
    while (j + 1 < w.length && w[j + 1]! <= t) j++;
    let logBpm: number;
    if (t <= w[0]!) logBpm = Math.log(path.bpm[0]!);
    else if (j + 1 >= w.length) logBpm = Math.log(path.bpm[w.length - 1]!);
    else {
      const a = (t - w[j]!) / (w[j + 1]! - w[j]!);
      logBpm = (1 - a) * Math.log(path.bpm[j]!) + a * Math.log(path.bpm[j + 1]!);
    }
    out[t] = (60 * path.frameRate) / Math.exp(logBpm);
  }
  return out;
}
