/**
 * Synthesised drumless pieces with exactly known beats and downbeats, made in memory: a chord
 * progression (one chord a bar, its root in the bass on each bar's first beat), the chord struck
 * on every beat and a melody note on every beat, in one of two voices:
 *
 * - `piano`: struck partials that decay (a hammer attack, 2 ms);
 * - `strings`: bowed partials that swell in over 90 ms, sustain legato into the next note and
 *   carry a 5.5 Hz vibrato, so that the attacks are soft and the spectrum never goes quiet.
 *
 * Tempo segments may ramp (`endBpm`: the tempo moves linearly, beat by beat, from `bpm` to
 * `endBpm` over the segment, a ritardando or accelerando).
 */
export interface PitchedPieceOptions {
  readonly sampleRateHz?: number;
  /** Tempo segments; a segment's `beatsPerBar` (a change of meter) overrides the piece's. */
  readonly tempo: ReadonlyArray<{
    readonly bpm: number;
    readonly bars: number;
    readonly endBpm?: number;
    readonly beatsPerBar?: number;
  }>;
  readonly beatsPerBar: number;
  readonly voice: 'piano' | 'strings';
  readonly leadInSec?: number;
  /** Loudness of the bar's first beat relative to the others (1: no accent). */
  readonly downbeatAccent?: number;
  /** Beats of melody alone before the first bar (an anacrusis), at the first segment's tempo. */
  readonly pickupBeats?: number;
}

export interface PitchedPiece {
  readonly samples: Float32Array;
  readonly sampleRateHz: number;
  readonly beats: number[];
  readonly downbeats: number[];
}

/** MIDI notes of the progression (A minor, F, C, G): root and three chord tones. */
const PROGRESSION = [
  [45, 57, 60, 64],
  [41, 57, 60, 65],
  [48, 55, 60, 64],
  [43, 55, 59, 62],
] as const;
/** Melody steps (MIDI), one a beat, cycling; it moves by step and leap so each beat has a new pitch. */
const MELODY = [76, 74, 72, 71, 72, 74, 76, 79, 77, 76, 74, 72, 71, 69, 71, 72];

const hz = (midi: number): number => 440 * 2 ** ((midi - 69) / 12);

export function makePitchedPiece(options: PitchedPieceOptions): PitchedPiece {
  const rate = options.sampleRateHz ?? 22050;
  const lead = options.leadInSec ?? 0.5;
  const accent = options.downbeatAccent ?? 1.4;
  const beats: number[] = [];
  const downbeats: number[] = [];
  /** Position of each beat in its bar (0 = downbeat). */
  const positions: number[] = [];
  let t = lead;
  const pickup = options.pickupBeats ?? 0;
  for (let i = 0; i < pickup; i++) {
    const m = options.tempo[0]!.beatsPerBar ?? options.beatsPerBar;
    positions.push(m - pickup + i);
    beats.push(t);
    t += 60 / options.tempo[0]!.bpm;
  }
  for (const segment of options.tempo) {
    const m = segment.beatsPerBar ?? options.beatsPerBar;
    const count = segment.bars * m;
    const endBpm = segment.endBpm ?? segment.bpm;
    for (let i = 0; i < count; i++) {
      if (i % m === 0) downbeats.push(t);
      positions.push(i % m);
      beats.push(t);
      const bpm = segment.bpm + ((endBpm - segment.bpm) * i) / Math.max(1, count - 1);
      t += 60 / bpm;
    }
  }
  const end = t;
  const samples = new Float32Array(Math.ceil((end + 1.5) * rate));
  const strings = options.voice === 'strings';

  /** One note: harmonic partials 1…6 (amplitude 1/k), from `start` for `length` s. */
  const note = (midi: number, start: number, length: number, gain: number): void => {
    const f0 = hz(midi);
    const i0 = Math.round(start * rate);
    const tail = strings ? 0.08 : 1.2;
    const total = Math.round((length + tail) * rate);
    let phase = 0;
    for (let i = 0; i < total && i0 + i < samples.length; i++) {
      const s = i / rate;
      let envelope: number;
      if (strings) {
        const attack = Math.min(1, s / 0.09);
        const release = s > length ? Math.max(0, 1 - (s - length) / tail) : 1;
        envelope = attack * attack * (3 - 2 * attack) * release;
      } else {
        envelope = Math.min(1, s / 0.002) * Math.exp(-3 * s) * (s > length ? Math.exp(-(s - length) * 8) : 1);
      }
      const vibrato = strings ? 1 + 0.003 * Math.sin(2 * Math.PI * 5.5 * s) : 1;
      phase += (2 * Math.PI * f0 * vibrato) / rate;
      let v = 0;
      for (let k = 1; k <= 6; k++) if (f0 * k < rate / 2) v += Math.sin(k * phase) / k;
      samples[i0 + i]! += gain * envelope * v;
    }
  };

  let bar = -1;
  beats.forEach((beat, i) => {
    const pos = positions[i]!;
    if (pos === 0) bar++;
    const next = beats[i + 1] ?? end;
    if (bar < 0) {
      note(MELODY[(MELODY.length + i - pickup) % MELODY.length]!, beat, next - beat, 0.06);
      return;
    }
    const chord = PROGRESSION[bar % PROGRESSION.length]!;
    const beatSec = next - beat;
    const gain = pos === 0 ? accent : 1;
    if (pos === 0) {
      const barEnd = downbeats[bar + 1] ?? end;
      note(chord[0], beat, barEnd - beat, 0.1 * gain);
    }
    for (const tone of chord.slice(1)) note(tone, beat, beatSec, 0.035 * gain);
    note(MELODY[i % MELODY.length]!, beat, beatSec, 0.06 * gain);
  });
  let peak = 0;
  for (const v of samples) peak = Math.max(peak, Math.abs(v));
  if (peak > 0.9) for (let i = 0; i < samples.length; i++) samples[i]! *= 0.9 / peak;
  return { samples, sampleRateHz: rate, beats, downbeats };
}
