/**
 * Tempo level from the bar and the backbeat: the tempo path's metrical level checked against the
 * level twice as slow, with evidence the tactus model (tempo.ts) does not see.
 *
 * The tactus model weighs how periodic the accents are at the beat and how the beat subdivides.
 * A slow piece in 16th notes (a 70 BPM groove with 16th-note hats, a chorale whose inner voices
 * move in 8ths) is as periodic at twice its tempo, and the tempo prior then prefers the faster
 * reading. Two cues that a listener uses and that the accents at the beat do not carry decide it
 * (Klapuri, Eronen & Astola 2006 choose the tactus jointly with the measure for this reason):
 *
 * - The bar. The bass line and the harmony repeat with the bar. A level whose bars (2, 3, 4 or 6
 *   beats) line up with a period at which the bass (the 30–120 Hz accents) and the chord changes
 *   (chroma novelty) repeat is supported; one whose every bar length falls between those
 *   periods is not. At 140 BPM, a 70 BPM piece whose bass and chords repeat every 3.4 s has bars
 *   of 8 beats, which no common meter has; at 70 it has bars of 4. A bar-length prior (log-normal
 *   around 1.8 s, σ 0.8 octave: Klapuri's measure prior, a little shorter) and the
 *   meter prior (4 beats, then 3, then 2, then 6) weigh the candidates.
 * - The backbeat. A snare that plays every other beat (2 and 4) marks the beat: its
 *   periodicity at two beats against one beat. At twice the tempo the snare plays every fourth
 *   beat, at half the tempo on every beat.
 *
 * Every bar that fits a level also fits twice as fast with twice the beats, so the bar can only say
 * that a level is too fast; and a snare on every other beat at twice the tempo is also what an
 * offbeat skank or comp looks like. So only the level twice as slow is considered: the tactus
 * model errs that way (its tempo prior prefers the faster of two readings that fit as well).
 *
 * The evidence is taken over the whole song (autocorrelation at the bar lags, a correlation of
 * the whole signal with itself shifted), scaled to the path's median tempo; each window keeps its
 * own tempo, times the level factor. A level other than the path's is taken only where its total
 * (the tactus model's median score + bar + backbeat) is higher.
 */
import { ENVELOPE_STRIDE, type FrameFeatures } from './feature-extractor.js';
import { levelScore, MAX_BPM, MIN_BPM, type TempoPath } from './tempo.js';
import { median } from '../shared/math.js';

/** Bar lengths considered (beats) and their prior (as in the meter prior of downbeats.ts). */
const BAR_PRIOR: ReadonlyArray<readonly [number, number]> = [
  [2, 0.2],
  [3, 0.5],
  [4, 1],
  [6, 0.12],
];
/** Bar-length prior: log-normal around this length (s), this wide (octaves). */
const BAR_CENTRE_SEC = 1.8;
const BAR_SIGMA_OCTAVES = 0.8;
/** Longest bar considered (s). */
const MAX_BAR_SEC = 6.5;
/** Weight of the bar's repetition (a correlation, −1…1) against the tactus model's score. */
const BAR_REPETITION_WEIGHT = 3;
/** Weight of the bar priors (log-probabilities). */
const BAR_PRIOR_WEIGHT = 3 / 8;
/** Weight of the backbeat evidence (a difference of correlations). */
const BACKBEAT_WEIGHT = 1;
/** Chord changes: chroma before against after each envelope frame, over this half window (s). */
const CHROMA_HALF_WINDOW_SEC = 0.2;

/** The correlation of a signal with itself shifted by a lag: mean removed, relative to the variance. */
export function lagCorrelation(values: ArrayLike<number>): (lag: number) => number {
  const n = values.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i]!;
  m /= Math.max(1, n);
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (values[i]! - m) ** 2;
  variance /= Math.max(1, n);
  const at = (lag: number): number => {
    if (lag <= 0 || lag >= n || !(variance > 0)) return 0;
    let sum = 0;
    for (let i = 0; i + lag < n; i++) sum += (values[i]! - m) * (values[i + lag]! - m);
    return sum / (n - lag) / variance;
  };
  // The largest of the neighbouring whole lags: a period within a frame.
  return (lag) => {
    const l = Math.round(lag);
    return Math.max(at(l - 1), at(l), at(l + 1));
  };
}

/** Chord changes per envelope frame: 1 − cosine of the chroma over the half window before and after. */
export function chromaNovelty(features: FrameFeatures, halfWindow: number): Float32Array {
  const n = features.envelopeCount;
  const out = new Float32Array(n);
  const c = features.chroma;
  const sums = new Float64Array((n + 1) * 12);
  for (let e = 0; e < n; e++) for (let k = 0; k < 12; k++) sums[(e + 1) * 12 + k] = sums[e * 12 + k]! + c[e * 12 + k]!;
  for (let e = halfWindow; e + halfWindow <= n; e++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let k = 0; k < 12; k++) {
      const a = sums[e * 12 + k]! - sums[(e - halfWindow) * 12 + k]!;
      const b = sums[(e + halfWindow) * 12 + k]! - sums[e * 12 + k]!;
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    out[e] = na > 0 && nb > 0 ? 1 - dot / Math.sqrt(na * nb) : 0;
  }
  return out;
}

export interface LevelEvidence {
  readonly factor: number;
  readonly tactus: number;
  readonly bar: number;
  readonly backbeat: number;
  readonly total: number;
}

/** The evidence for the path's level and, where it lies in the tempo range, the level twice as slow (factor 0.5). */
export function levelEvidence(path: TempoPath, features: FrameFeatures, snare: Float32Array): LevelEvidence[] {
  const acf = path.acf;
  if (!acf || acf.length === 0) return [];
  const frameRate = path.frameRate;
  const bass = lagCorrelation(features.bandAccents[0]!);
  const chords = lagCorrelation(
    chromaNovelty(features, Math.round((CHROMA_HALF_WINDOW_SEC * frameRate) / ENVELOPE_STRIDE)),
  );
  const snareAt = lagCorrelation(snare);
  const repetition = (sec: number): number => (bass(sec * frameRate) + chords((sec * frameRate) / ENVELOPE_STRIDE)) / 2;
  const songBpm = median(path.bpm);
  const barEvidence = (beatSec: number): number => {
    let bar = -Infinity;
    for (const [beats, prior] of BAR_PRIOR) {
      const sec = beats * beatSec;
      if (sec > MAX_BAR_SEC) continue;
      const z = Math.log2(sec / BAR_CENTRE_SEC) / BAR_SIGMA_OCTAVES;
      bar = Math.max(bar, BAR_REPETITION_WEIGHT * repetition(sec) + BAR_PRIOR_WEIGHT * (Math.log(prior) - 0.5 * z * z));
    }
    return bar;
  };
  const out: LevelEvidence[] = [];
  for (const factor of [0.5, 1]) {
    const bpm = songBpm * factor;
    if (bpm < MIN_BPM || bpm > MAX_BPM) continue;
    const beatSec = 60 / bpm;
    const tactus = median(
      acf.map((a, w) => levelScore(a, (60 * frameRate) / (path.bpm[w]! * factor), frameRate).score),
    );
    const bar = barEvidence(beatSec);
    const backbeat = BACKBEAT_WEIGHT * (snareAt(2 * beatSec * frameRate) - snareAt(beatSec * frameRate));
    out.push({ factor, tactus, bar, backbeat, total: tactus + bar + backbeat });
  }
  return out;
}

/** A window is on another level than the song's where its tempo is twice or half the song's, within this (octaves: ±6 %). */
const OCTAVE_TOLERANCE = 0.08;

/** The path with window w's tempo multiplied by factors[w], re-scored there (periodicity, subdivision). */
function rescaled(path: TempoPath, factors: ArrayLike<number>): TempoPath {
  const frameRate = path.frameRate;
  const scores = path.acf!.map((a, w) => levelScore(a, (60 * frameRate) / (path.bpm[w]! * factors[w]!), frameRate));
  return {
    frameRate,
    windowCentres: path.windowCentres,
    bpm: path.bpm.map((b, w) => b * factors[w]!),
    salience: Float64Array.from(scores, (s) => s.salience),
    subdivision: Int32Array.from(scores, (s) => s.subdivision),
    ternary: Uint8Array.from(scores, (s) => (s.ternary ? 1 : 0)),
    acf: path.acf,
  };
}

/**
 * The path on one metrical level. The tactus model decides each window's level on its own
 * evidence, so a passage whose texture changes (a sparse intro in 8th notes, a half-time bridge,
 * a double-time chorus) can come out at exactly twice or half the song's tempo while the rest
 * does not. Notation keeps the level through such passages (a half-time bridge is written at the
 * song's tempo), and beats that halve or double for a passage are not what a video should cut
 * to. Windows at twice or half the song's tempo (the median of the path, within
 * OCTAVE_TOLERANCE) are therefore put back on the song's level; tempo changes that are not an
 * octave (a ritardando, a new section tempo) stay.
 */
export function onSongLevel(path: TempoPath): TempoPath {
  if (!path.acf || path.bpm.length === 0) return path;
  const song = median(path.bpm);
  const factors = Float64Array.from(path.bpm, (b) => {
    const octaves = Math.log2(b / song);
    if (Math.abs(octaves - 1) < OCTAVE_TOLERANCE) return 0.5;
    if (Math.abs(octaves + 1) < OCTAVE_TOLERANCE) return 2;
    return 1;
  });
  return factors.some((f) => f !== 1) ? rescaled(path, factors) : path;
}

/**
 * The path on the level the evidence prefers (see the header), every window on the song's level
 * (onSongLevel): the path itself where it already is.
 */
export function chooseTempoLevel(tracked: TempoPath, features: FrameFeatures, snare: Float32Array): TempoPath {
  const path = onSongLevel(tracked);
  const evidence = levelEvidence(path, features, snare);
  if (evidence.length === 0) return path;
  const best = evidence.reduce((a, b) => (b.total > a.total ? b : a));
  if (best.factor === 1) return path;
  return rescaled(path, new Float64Array(path.bpm.length).fill(best.factor));
}
