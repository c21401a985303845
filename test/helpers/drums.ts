/**
 * Synthesised drum-and-chord tracks with exactly known beats and downbeats, made in memory.
 * Kick on each bar's first beat (and the middle beat in 4/4), snare on the backbeats, hats on
 * every subdivision, and a sine chord that changes every bar, so meter and downbeats are audible
 * the way they are in music.
 */
export interface DrumTrackOptions {
  readonly sampleRateHz?: number;
  /** Tempo segments: each lasts `bars` bars at `bpm`. */
  readonly tempo: ReadonlyArray<{ readonly bpm: number; readonly bars: number }>;
  readonly beatsPerBar: number;
  /** Hats per beat: 2 (binary) or 3 (compound). */
  readonly subdivision: 2 | 3;
  readonly leadInSec?: number;
}

export interface DrumTrack {
  readonly samples: Float32Array;
  readonly sampleRateHz: number;
  readonly beats: number[];
  readonly downbeats: number[];
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const CHORDS = [
  [220, 261.63, 329.63],
  [174.61, 220, 261.63],
  [196, 261.63, 329.63],
  [196, 246.94, 293.66],
];

export function makeDrumTrack(options: DrumTrackOptions): DrumTrack {
  const rate = options.sampleRateHz ?? 22050;
  const lead = options.leadInSec ?? 0.5;
  const beats: number[] = [];
  const downbeats: number[] = [];
  let t = lead;
  for (const segment of options.tempo) {
    const beatSec = 60 / segment.bpm;
    for (let bar = 0; bar < segment.bars; bar++) {
      for (let b = 0; b < options.beatsPerBar; b++) {
        if (b === 0) downbeats.push(t);
        beats.push(t);
        t += beatSec;
      }
    }
  }
  const end = t + 1;
  const samples = new Float32Array(Math.ceil(end * rate));
  const random = prng(7);
  const add = (start: number, length: number, f: (s: number) => number): void => {
    const i0 = Math.round(start * rate);
    for (let i = 0; i < length && i0 + i < samples.length; i++) samples[i0 + i]! += f(i / rate);
  };
  const kick = (at: number): void =>
    add(
      at,
      Math.round(0.25 * rate),
      (s) => 0.8 * Math.sin(2 * Math.PI * (50 + 60 * Math.exp(-s * 30)) * s) * Math.exp(-s * 12),
    );
  const snare = (at: number): void =>
    add(
      at,
      Math.round(0.15 * rate),
      (s) => (0.45 * (random() * 2 - 1) + 0.2 * Math.sin(2 * Math.PI * 190 * s)) * Math.exp(-s * 25),
    );
  const hat = (at: number, gain: number): void =>
    add(at, Math.round(0.04 * rate), (s) => gain * (random() * 2 - 1) * Math.exp(-s * 120) * (random() > 0.5 ? 1 : -1));
  const m = options.beatsPerBar;
  beats.forEach((beat, i) => {
    const pos = i % m;
    const next = beats[i + 1] ?? beat + (beat - (beats[i - 1] ?? beat - 0.5));
    const beatSec = next - beat;
    if (pos === 0 || (m === 4 && pos === 2)) kick(beat);
    if ((m === 4 && (pos === 1 || pos === 3)) || (m === 3 && pos > 0) || (m === 2 && pos === 1)) snare(beat);
    for (let k = 0; k < options.subdivision; k++) hat(beat + (k * beatSec) / options.subdivision, k === 0 ? 0.3 : 0.06);
  });
  downbeats.forEach((bar, i) => {
    const barEnd = downbeats[i + 1] ?? t;
    const chord = CHORDS[i % CHORDS.length]!;
    add(
      bar,
      Math.round((barEnd - bar) * rate),
      (s) =>
        chord.reduce(
          (acc, hz) => acc + 0.06 * Math.sin(2 * Math.PI * hz * s) + 0.03 * Math.sin(4 * Math.PI * hz * s),
          0,
        ) * Math.min(1, s * 50),
    );
  });
  return { samples, sampleRateHz: rate, beats, downbeats };
}

/** F-measure of `est` against `ref` within ±`windowSec` (greedy matching of sorted lists). */
export function eventF(ref: readonly number[], est: readonly number[], windowSec = 0.07): number {
  let matched = 0;
  let j = 0;
  for (const r of ref) {
    while (j < est.length && est[j]! < r - windowSec) j++;
    if (j < est.length && Math.abs(est[j]! - r) <= windowSec) {
      matched++;
      j++;
    }
  }
  return ref.length && est.length ? (2 * matched) / (ref.length + est.length) : 0;
}
