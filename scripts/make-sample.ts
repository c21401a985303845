/**
 * Synthesises the bundled sample song and its exact ground truth, then encodes it to MP3.
 * Everything is made here, so the licence is ours and every beat time is known exactly.
 *
 *   npx tsx scripts/make-sample.ts            # writes samples/loom-groove.mp3 + .beats.json
 *
 * 116 BPM, 4/4, 18 bars: intro (pads + hats), groove (full kit, bass, chords), break (pads
 * alone, quieter, a snare roll into the return), return (full kit plus an arpeggio), and a
 * final chord that rings out. Chords change on every bar line: Am – F – C – G.
 */
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';
import { runProcess } from '../src/ffmpeg/run-process.js';
import { prng } from '../src/engines/preview/draw-frame.js';

const RATE = 44100;
const BPM = 116;
const BEAT = 60 / BPM;
const BAR = 4 * BEAT;
const START = 0.5; // a moment of silence before the first downbeat
const BARS = 18;
const TAIL = 2.0;
const DURATION = START + BARS * BAR + TAIL;
const N = Math.ceil(DURATION * RATE);

const left = new Float64Array(N);
const right = new Float64Array(N);
const random = prng(20261126);
const noise = (): number => random() * 2 - 1;

type Section = { label: string; fromBar: number; toBar: number };
const SECTIONS: Section[] = [
  { label: 'intro', fromBar: 0, toBar: 4 },
  { label: 'groove', fromBar: 4, toBar: 8 },
  { label: 'break', fromBar: 8, toBar: 12 },
  { label: 'return', fromBar: 12, toBar: 17 },
  { label: 'outro', fromBar: 17, toBar: 18 },
];
const sectionAt = (bar: number): string => SECTIONS.find((s) => bar >= s.fromBar && bar < s.toBar)!.label;

// A minor – F – C – G, as MIDI notes.
const CHORDS = [
  [57, 60, 64],
  [53, 57, 60],
  [55, 60, 64],
  [55, 59, 62],
];
const ROOTS = [45, 41, 48, 43];
const hz = (midi: number): number => 440 * 2 ** ((midi - 69) / 12);

function add(t0: number, samples: Float64Array, gain: number, pan = 0): void {
  const start = Math.round(t0 * RATE);
  const gl = gain * Math.cos(((pan + 1) * Math.PI) / 4);
  const gr = gain * Math.sin(((pan + 1) * Math.PI) / 4);
  for (let i = 0; i < samples.length && start + i < N; i++) {
    if (start + i < 0) continue;
    left[start + i]! += samples[i]! * gl;
    right[start + i]! += samples[i]! * gr;
  }
}

function kick(): Float64Array {
  const len = Math.round(0.35 * RATE);
  const out = new Float64Array(len);
  let phase = 0;
  for (let i = 0; i < len; i++) {
    const t = i / RATE;
    const f = 45 + 85 * Math.exp(-t / 0.025);
    phase += (2 * Math.PI * f) / RATE;
    out[i] = Math.sin(phase) * Math.exp(-t / 0.12) + (i < 90 ? 0.4 * noise() * (1 - i / 90) : 0);
  }
  return out;
}

function snare(): Float64Array {
  const len = Math.round(0.22 * RATE);
  const out = new Float64Array(len);
  let prev = 0;
  for (let i = 0; i < len; i++) {
    const t = i / RATE;
    const n = noise();
    const hp = n - prev;
    prev = n;
    out[i] = 0.6 * hp * Math.exp(-t / 0.06) + 0.5 * Math.sin(2 * Math.PI * 185 * t) * Math.exp(-t / 0.045);
  }
  return out;
}

function hat(open: boolean): Float64Array {
  const len = Math.round((open ? 0.25 : 0.06) * RATE);
  const out = new Float64Array(len);
  let p1 = 0;
  let p2 = 0;
  for (let i = 0; i < len; i++) {
    const n = noise();
    const hp = n - 2 * p1 + p2;
    p2 = p1;
    p1 = n;
    out[i] = 0.35 * hp * Math.exp(-(i / RATE) / (open ? 0.08 : 0.018));
  }
  return out;
}

function saw(freq: number, length: number, attack: number, release: number, cutoff: number, detune = 0): Float64Array {
  const len = Math.round(length * RATE);
  const out = new Float64Array(len);
  const alpha = 1 - Math.exp((-2 * Math.PI * cutoff) / RATE);
  let y = 0;
  for (let i = 0; i < len; i++) {
    const t = i / RATE;
    const s = 2 * ((t * freq * (1 + detune)) % 1) - 1;
    y += alpha * (s - y);
    const env = Math.min(1, t / attack) * Math.min(1, Math.max(0, (length - t) / release));
    out[i] = y * env;
  }
  return out;
}

function pluck(freq: number, length: number): Float64Array {
  const len = Math.round(length * RATE);
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    const t = i / RATE;
    const sq = Math.sin(2 * Math.PI * freq * t) + 0.3 * Math.sin(6 * Math.PI * freq * t);
    out[i] = sq * Math.exp(-t / 0.09) * Math.min(1, t / 0.003);
  }
  return out;
}

const K = kick();
const S = snare();
const HC = hat(false);
const HO = hat(true);

const beats: number[] = [];
const downbeats: number[] = [];
for (let bar = 0; bar < BARS; bar++) {
  const section = sectionAt(bar);
  const t0 = START + bar * BAR;
  const chord = CHORDS[bar % 4]!;
  const root = ROOTS[bar % 4]!;
  downbeats.push(t0);
  for (let b = 0; b < 4; b++) beats.push(t0 + b * BEAT);

  const full = section === 'groove' || section === 'return';
  const padGain = section === 'break' ? 0.11 : section === 'outro' ? 0.12 : 0.075;
  const padLength = section === 'outro' ? BAR + TAIL - 0.2 : BAR + 0.05;
  chord.forEach((note, i) => {
    add(t0, saw(hz(note), padLength, 0.04, section === 'outro' ? 2.0 : 0.12, 1800, 0.003), padGain, -0.4 + 0.4 * i);
    add(
      t0,
      saw(hz(note), padLength, 0.04, section === 'outro' ? 2.0 : 0.12, 1800, -0.004),
      padGain * 0.7,
      0.4 - 0.4 * i,
    );
  });

  if (section === 'outro') {
    add(t0, K, 0.9);
    add(t0, HO, 0.5, 0.3);
    add(t0, saw(hz(root - 12), 2.5, 0.005, 2.0, 400), 0.35);
    continue;
  }
  for (let eighth = 0; eighth < 8; eighth++) {
    const t = t0 + (eighth * BEAT) / 2;
    const onBeat = eighth % 2 === 0;
    if (section !== 'break') add(t, onBeat ? HC : section === 'return' ? HO : HC, onBeat ? 0.45 : 0.32, 0.35);
    if (full) add(t, saw(hz(root - 12), BEAT / 2 - 0.02, 0.004, 0.03, 500), 0.32);
  }
  if (section === 'break') add(t0, saw(hz(root - 12), BAR, 0.3, 0.4, 250), 0.18);
  if (full) {
    for (let b = 0; b < 4; b++) add(t0 + b * BEAT, K, 0.95);
    add(t0 + BEAT, S, 0.55, -0.1);
    add(t0 + 3 * BEAT, S, 0.55, -0.1);
  }
  if (section === 'return') {
    const arp = [...chord, chord[1]! + 12];
    for (let s = 0; s < 16; s++) add(t0 + (s * BEAT) / 4, pluck(hz(arp[s % 4]! + 12), 0.2), 0.09, s % 2 ? 0.5 : -0.5);
  }
  if (bar === 11) {
    // A rising snare roll through the break's last bar announces the return.
    for (let s = 0; s < 16; s++) add(t0 + (s * BEAT) / 4, S, 0.08 + 0.3 * (s / 15), -0.1);
  }
}

let peak = 0;
for (let i = 0; i < N; i++) peak = Math.max(peak, Math.abs(left[i]!), Math.abs(right[i]!));
const gain = 10 ** (-1 / 20) / peak;
const pcm = Buffer.alloc(N * 4);
for (let i = 0; i < N; i++) {
  pcm.writeInt16LE(Math.round(Math.max(-1, Math.min(1, left[i]! * gain)) * 32767), i * 4);
  pcm.writeInt16LE(Math.round(Math.max(-1, Math.min(1, right[i]! * gain)) * 32767), i * 4 + 2);
}
const header = Buffer.alloc(44);
header.write('RIFF', 0);
header.writeUInt32LE(36 + pcm.length, 4);
header.write('WAVEfmt ', 8);
header.writeUInt32LE(16, 16);
header.writeUInt16LE(1, 20);
header.writeUInt16LE(2, 22);
header.writeUInt32LE(RATE, 24);
header.writeUInt32LE(RATE * 4, 28);
header.writeUInt16LE(4, 32);
header.writeUInt16LE(16, 34);
header.write('data', 36);
header.writeUInt32LE(pcm.length, 40);

const outDir = join(import.meta.dirname, '..', 'samples');
const wavPath = join(outDir, '.loom-groove.wav');
await writeFile(wavPath, Buffer.concat([header, pcm]));
await runProcess(ffmpegPath(), [
  '-hide_banner',
  '-nostdin',
  '-y',
  '-loglevel',
  'error',
  '-i',
  wavPath,
  '-c:a',
  'libmp3lame',
  '-b:a',
  '192k',
  join(outDir, 'loom-groove.mp3'),
]);
await rm(wavPath);

const round = (x: number): number => Math.round(x * 1e6) / 1e6;
await writeFile(
  join(outDir, 'loom-groove.beats.json'),
  `${JSON.stringify(
    {
      title: 'Loom Groove (beatloom sample)',
      license: 'CC0-1.0: synthesised by scripts/make-sample.ts',
      bpm: BPM,
      timeSignature: '4/4',
      durationSec: round(N / RATE),
      beats: beats.map(round),
      downbeats: downbeats.map(round),
      sections: SECTIONS.map((s) => ({ label: s.label, startSec: round(START + s.fromBar * BAR) })),
    },
    null,
    2,
  )}\n`,
);
console.log(`samples/loom-groove.mp3: ${(N / RATE).toFixed(3)} s, ${beats.length} beats, ${downbeats.length} bars`);
