/**
 * Beat phase: on the beat or on the offbeat?
 *
 * The beat tracker puts beats where the accents are strongest. When most of the energy sits off
 * the beat (a funk groove whose bass, kick and horns play the 16th-note syncopations, a reggae
 * skank on every offbeat over a one-drop), that is half a beat late: the right tempo, the wrong
 * phase. Listeners are not fooled, because they hear what each instrument does, not the sum
 * (Goto 2001, "An audio-based real-time beat tracking system for music with or without
 * drum-sounds", uses the same knowledge: bass drum on the strong beats, snare drum on the
 * backbeat). So the tracked beats (grid A) and the points halfway between them (grid B) are
 * compared by three cues, each a signal scaled to a mean of 1 over the song:
 *
 * - accents: where the attacks fall in each of the four accent regions (low, low-mid, high-mid,
 *   high), each region's evidence taken on its own and the median of the four kept: every register
 *   votes, so one loud register cannot outvote the rest. An offbeat bass under claps and hats
 *   with no kick (measured: an electronic track whose low region favours the offbeats by
 *   0.8 while the three upper regions favour the beats by 0.2–0.5) put the beat envelope, all
 *   regions summed, on the bass; the low register has its own cue below;
 * - low: kick drum and bass (30–120 Hz) — the instruments that lay down the beat (Hove et al.
 *   2014, "Superior time perception for lower musical pitch explains why bass-ranged instruments
 *   lay down musical rhythms");
 * - backbeat: a snare drum (its body, 120–480 Hz, and its rattle, 1.9–7.7 kHz, rising together,
 *   without the sub-bass of a kick or a bass note) that alternates from one beat to the next, as
 *   the backbeat on 2 and 4 of rock, pop, funk, soul, hip-hop and drum & bass does. Alternation
 *   is what makes it a backbeat: an offbeat chord (a skank, a piano comp) recurs on every offbeat
 *   and does not alternate.
 *
 * Each cue's evidence is ln((A + 1) / (B + 1)), its mean on grid A against grid B, with 1 (the
 * signal's mean, what a grid placed at random would get) keeping a cue that is nearly silent on
 * both grids from deciding anything. Each cue's evidence is limited to ±1 (one grid's mean e times
 * the other's): where the bass is the only sound below 240 Hz its evidence reaches ±3 and would
 * outvote the other two together. The cues are independent views of the same question, so
 * their evidence adds with equal weights; grid B wins when the sum is negative.
 */
import type { FrameFeatures } from './feature-extractor.js';
import { mean, median, parabolicOffset, peakNear } from '../shared/math.js';

/** Accent bands (indices into `bandAccents`) of each cue. */
const LOW_BANDS = [0] as const;
const SNARE_BODY_BANDS = [1, 2] as const;
const SNARE_NOISE_BANDS = [5, 6] as const;
/** Backbeat alternation is measured over windows of this many beats (two bars of 4/4). */
const BACKBEAT_WINDOW_BEATS = 8;
/** Grid points take the largest value within this many frames (±23 ms at 86 frames/s). */
const TOLERANCE_FRAMES = 2;
/** The most one cue can say (a log ratio): no cue decides alone where the others disagree. */
const MAX_CUE = 1;

export interface PhaseEvidence {
  readonly accents: number;
  readonly low: number;
  readonly backbeat: number;
  /** Sum of the three: negative when the offbeat grid is the beat. */
  readonly total: number;
}

function scaledToMeanOne(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  const m = mean(values);
  if (m > 0) for (let i = 0; i < values.length; i++) out[i] = values[i]! / m;
  return out;
}

/** The bands, each scaled to a mean of 1, summed. */
function sumOfBands(features: FrameFeatures, bands: readonly number[]): Float32Array {
  const out = new Float32Array(features.frameCount);
  for (const b of bands) {
    const band = features.bandAccents[b]!;
    const m = mean(band);
    if (m > 0) for (let i = 0; i < out.length; i++) out[i]! += band[i]! / m;
  }
  return out;
}

/**
 * Snare-drum activation per frame: body and rattle rising together (the smaller of the two),
 * less the sub-bass rise that a kick or a bass note would bring (each band scaled to mean 1).
 */
export function snareActivation(features: FrameFeatures): Float32Array {
  const body = sumOfBands(features, SNARE_BODY_BANDS);
  const noise = sumOfBands(features, SNARE_NOISE_BANDS);
  const low = sumOfBands(features, LOW_BANDS);
  const out = new Float32Array(body.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(body[i]!, noise[i]!) - low[i]!);
  return out;
}

function atGrid(signal: Float32Array, grid: readonly number[]): number[] {
  return grid.map((t) => peakNear(signal, t, TOLERANCE_FRAMES));
}

/**
 * How much the values alternate from one grid point to the next: per window, the difference
 * between the means at even and at odd points, averaged over windows (a window at every other
 * point, so that a dropped or added beat does not cancel the alternation of the rest).
 */
export function alternation(values: readonly number[]): number {
  const w = BACKBEAT_WINDOW_BEATS;
  if (values.length < w) return 0;
  let total = 0;
  let windows = 0;
  for (let start = 0; start + w <= values.length; start += 2) {
    let even = 0;
    let odd = 0;
    for (let i = 0; i < w; i += 2) {
      even += values[start + i]!;
      odd += values[start + i + 1]!;
    }
    total += Math.abs(even - odd) / (w / 2);
    windows++;
  }
  return total / windows;
}

/** The points `fraction` of the way from each beat to the next (a half: halfway, the offbeats). */
export function offbeats(beatFrames: readonly number[], fraction = 0.5): number[] {
  return beatFrames.slice(1).map((b, i) => beatFrames[i]! + fraction * (b - beatFrames[i]!));
}

/**
 * Evidence for the tracked beats (positive) against the offbeats between them (negative).
 * `snare` is `snareActivation(features)`, passed in because the downbeat cues use it too.
 */
export function phaseEvidence(
  beatFrames: readonly number[],
  features: FrameFeatures,
  snare: Float32Array,
): PhaseEvidence {
  const onGrid = beatFrames.slice(0, -1);
  const offGrid = offbeats(beatFrames);
  if (onGrid.length < BACKBEAT_WINDOW_BEATS) return { accents: 0, low: 0, backbeat: 0, total: 0 };
  const ratio = (a: number, b: number): number => Math.max(-MAX_CUE, Math.min(MAX_CUE, Math.log((a + 1) / (b + 1))));
  const regionEvidence = features.accents.map((region) => {
    const scaled = scaledToMeanOne(region);
    return ratio(mean(atGrid(scaled, onGrid)), mean(atGrid(scaled, offGrid)));
  });
  const low = sumOfBands(features, LOW_BANDS);
  const snareScaled = scaledToMeanOne(snare);
  const evidence = {
    accents: median(regionEvidence),
    low: ratio(mean(atGrid(low, onGrid)), mean(atGrid(low, offGrid))),
    backbeat: ratio(alternation(atGrid(snareScaled, onGrid)), alternation(atGrid(snareScaled, offGrid))),
  };
  return { ...evidence, total: evidence.accents + evidence.low + evidence.backbeat };
}

/**
 * The beats moved by `fraction` of a beat (a half: the offbeats), plus one that far after the
 * last (within the song), each moved to the envelope's largest value within two frames where
 * there is one (the midpoint of two tracked beats can be off by a 16th-note syncopation's pull).
 */
export function shiftToOffbeats(beatFrames: readonly number[], envelope: Float32Array, fraction = 0.5): number[] {
  if (beatFrames.length < 2) return [...beatFrames];
  const grid = offbeats(beatFrames, fraction);
  const lastInterval = beatFrames.at(-1)! - beatFrames.at(-2)!;
  if (beatFrames.at(-1)! + fraction * lastInterval < envelope.length - 1)
    grid.push(beatFrames.at(-1)! + fraction * lastInterval);
  return grid.map((t) => nearestPeak(envelope, t, TOLERANCE_FRAMES));
}

/** How much more the accents must favour the third of a beat after each beat than the two thirds (a ratio). */
const SWING_PAIR_RATIO = 2;

/**
 * Swing: on the beat, or on the swung eighth? In a swung (or compound) beat the eighths are long
 * and short, two thirds and one third of the beat, and the beat starts the long one. Swing also
 * accents the short offbeat eighth (the "and"), so a tracker that follows the accents can lock
 * onto it: the right tempo, two thirds of a beat late. The two grids are told apart by where the
 * other eighth falls: after a beat it sounds two thirds of a beat later (the "and"); after the
 * "and" it sounds a third of a beat later (the next beat). So where the accents a third of a
 * beat after the tracked beats are clearly stronger than two thirds after (SWING_PAIR_RATIO,
 * each mean taken against the envelope's mean, plus 1 so that a near-silent pair decides
 * nothing), the tracked beats are the short eighths and the beat is a third of a beat later. A
 * beat whose three triplet eighths all sound (a 12/8 shuffle, a 6/8 jig) has no such asymmetry
 * and keeps its beats.
 */
export function onSwungOffbeats(beatFrames: readonly number[], envelope: Float32Array): boolean {
  if (beatFrames.length <= BACKBEAT_WINDOW_BEATS) return false;
  const scaled = scaledToMeanOne(envelope);
  const at = (fraction: number): number => mean(atGrid(scaled, offbeats(beatFrames, fraction)));
  return at(1 / 3) + 1 > SWING_PAIR_RATIO * (at(2 / 3) + 1);
}

/** The position (fractional, by a parabola through the peak) of the largest value within `radius` frames of t; t where all are 0. */
function nearestPeak(envelope: Float32Array, t: number, radius: number): number {
  const c = Math.round(t);
  let best = -1;
  for (let i = Math.max(1, c - radius); i <= Math.min(envelope.length - 2, c + radius); i++)
    if (best < 0 || envelope[i]! > envelope[best]!) best = i;
  if (best < 0 || !(envelope[best]! > 0)) return t;
  return best + parabolicOffset(envelope, best);
}
