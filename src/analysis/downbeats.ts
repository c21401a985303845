/**
 * Meter and bar phase from what happens on each beat. Two cues mark a bar's first beat in most
 * music: the bass/kick hits there, and the harmony changes there. For each candidate meter
 * (2, 3, 4 beats per bar) and phase, we measure how much more of both cues falls on the
 * candidate downbeats than on the other beats, and take the best, with a mild preference for 4.
 */
import type { FrameFeatures } from './features.js';

export interface DownbeatEstimate {
  readonly beatsPerBar: number;
  /** Index (into the beats) of the first downbeat. */
  readonly phase: number;
  /** 0..1: how clearly the winning meter and phase stand out. */
  readonly confidence: number;
}

const METER_PRIOR: Readonly<Record<number, number>> = { 2: 0.8, 3: 0.9, 4: 1.0 };

function zScores(values: number[]): number[] {
  const n = values.length;
  if (n === 0) return [];
  const m = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) * (b - m), 0) / n) || 1;
  return values.map((v) => (v - m) / sd);
}

/** Per-beat cues: low-band onset strength at the beat and chroma change across it. */
export function beatCues(beatFrames: readonly number[], features: FrameFeatures): { bass: number[]; harmony: number[] } {
  const bass: number[] = [];
  const harmony: number[] = [];
  const n = features.frameCount;
  const chromaMean = (from: number, to: number): Float64Array => {
    const acc = new Float64Array(12);
    const lo = Math.max(0, Math.round(from));
    const hi = Math.min(n, Math.round(to));
    for (let f = lo; f < hi; f++) for (let c = 0; c < 12; c++) acc[c]! += features.chroma[f * 12 + c]!;
    return acc;
  };
  for (let b = 0; b < beatFrames.length; b++) {
    const frame = Math.round(beatFrames[b]!);
    let peak = 0;
    for (let j = Math.max(0, frame - 2); j <= Math.min(n - 1, frame + 2); j++) peak = Math.max(peak, features.lowFlux[j]!);
    bass.push(peak);
    const period = b + 1 < beatFrames.length ? beatFrames[b + 1]! - beatFrames[b]! : b > 0 ? beatFrames[b]! - beatFrames[b - 1]! : 20;
    const before = chromaMean(beatFrames[b]! - period, beatFrames[b]!);
    const after = chromaMean(beatFrames[b]!, beatFrames[b]! + period);
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let c = 0; c < 12; c++) {
      dot += before[c]! * after[c]!;
      na += before[c]! * before[c]!;
      nb += after[c]! * after[c]!;
    }
    harmony.push(na > 0 && nb > 0 ? 1 - dot / Math.sqrt(na * nb) : 0);
  }
  return { bass, harmony };
}

export function estimateDownbeats(beatFrames: readonly number[], features: FrameFeatures): DownbeatEstimate {
  if (beatFrames.length < 4) return { beatsPerBar: 4, phase: 0, confidence: 0 };
  const cues = beatCues(beatFrames, features);
  const bass = zScores(cues.bass);
  const harmony = zScores(cues.harmony);
  const cue = bass.map((v, i) => v + harmony[i]!);

  let best = { beatsPerBar: 4, phase: 0, score: -Infinity };
  let runnerUp = -Infinity;
  for (const meter of [4, 3, 2]) {
    for (let phase = 0; phase < meter; phase++) {
      let on = 0;
      let onCount = 0;
      let off = 0;
      let offCount = 0;
      for (let b = 0; b < cue.length; b++) {
        if ((b - phase) % meter === 0) {
          on += cue[b]!;
          onCount++;
        } else {
          off += cue[b]!;
          offCount++;
        }
      }
      const contrast = (onCount ? on / onCount : 0) - (offCount ? off / offCount : 0);
      const score = contrast * METER_PRIOR[meter]!;
      if (score > best.score) {
        runnerUp = best.score;
        best = { beatsPerBar: meter, phase, score };
      } else if (score > runnerUp) {
        runnerUp = score;
      }
    }
  }
  const confidence = Number.isFinite(runnerUp) ? Math.max(0, Math.min(1, (best.score - runnerUp) / Math.max(1e-9, Math.abs(best.score)))) : 0;
  return { beatsPerBar: best.beatsPerBar, phase: best.phase, confidence };
}
