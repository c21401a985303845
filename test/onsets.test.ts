/**
 * Onsets where louder sounds mask softer ones: a soft 16th-note hat layer under loud kicks, soft
 * piano chords alone and between drum hits, and no onsets in noise.
 */
import { describe, expect, it } from 'vitest';
import { computeFrameFeatures, HOP_SAMPLES } from '../src/analysis/feature-extractor.js';
import { findOnsets, onsetEnvelope, pickOnsets } from '../src/analysis/onsets.js';
import { refineOnsetSec } from '../src/analysis/onset-timing.js';
import { eventF } from './helpers/drums.js';
import { makeGroove } from './helpers/grooves.js';

const RATE = 22050;
const FRAME_RATE = RATE / HOP_SAMPLES;
const WINDOW_SEC = 0.05;

const recallOf = (ref: readonly number[], est: readonly number[]): number =>
  ref.filter((t) => est.some((e) => Math.abs(e - t) <= WINDOW_SEC)).length / ref.length;

/** Piano-like chords (six decaying partials a note, 4 ms attack) at `timesSec`; the chord changes every two. */
function pianoChords(timesSec: readonly number[], gain: number, durationSec: number): Float32Array {
  const chords = [
    [57, 60, 64],
    [53, 57, 60],
    [55, 59, 62],
    [52, 55, 59],
  ];
  const out = new Float32Array(Math.ceil(durationSec * RATE));
  timesSec.forEach((t0, i) => {
    for (const midi of chords[Math.floor(i / 2) % chords.length]!) {
      const hz = 440 * 2 ** ((midi - 69) / 12);
      const start = Math.round(t0 * RATE);
      for (let k = 0; k < 1.2 * RATE && start + k < out.length; k++) {
        const t = k / RATE;
        let v = 0;
        for (let h = 1; h <= 6; h++) v += (Math.sin(2 * Math.PI * hz * h * t) * Math.exp(-t * (2 + h))) / h;
        out[start + k]! += gain * v * Math.min(1, t / 0.004);
      }
    }
  });
  return out;
}

async function onsetsSec(samples: Float32Array): Promise<{ found: number[]; summedOnly: number[] }> {
  const features = await computeFrameFeatures(samples, RATE);
  const toSec = (frame: number): number => refineOnsetSec(frame / FRAME_RATE, features);
  return {
    found: findOnsets(features, FRAME_RATE).map((o) => toSec(o.frame)),
    summedOnly: pickOnsets(onsetEnvelope(features), FRAME_RATE).map((o) => toSec(o.frame)),
  };
}

describe('onsets masked by louder sounds', () => {
  it('a soft 16th-note hat layer under loud kicks: found where the summed envelope misses it', async () => {
    // Kick, bass, chord stab and rim together on every beat (large flux below 3.8 kHz), soft hats
    // on every 16th over a faint hiss (in music the bands above 3.8 kHz are never empty, so a
    // soft hat rises a few dB, not out of silence).
    const beats = makeGroove({
      bpm: 120,
      bars: 8,
      patterns: {
        kick: 'X...X...X...X...',
        bass: 'X...X...X...X...',
        stab: 'X...X...X...X...',
        rim: 'X...X...X...X...',
      },
    });
    const hats = makeGroove({ bpm: 120, bars: 8, patterns: { hat: 'xxxxxxxxxxxxxxxx' }, gain: 0.12, seed: 5 });
    let seed = 9;
    let previous = 0;
    const samples = beats.samples.map((v, i) => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      const white = seed / 2 ** 31 - 1;
      const hiss = 0.01 * (white - previous);
      previous = white;
      return v + hats.samples[i]! + hiss;
    });
    const sixteenths = Array.from({ length: 8 * 16 }, (_, i) => 0.5 + i * 0.125);
    const hatsAlone = sixteenths.filter((_, i) => i % 4 !== 0);
    const { found, summedOnly } = await onsetsSec(samples);
    expect(recallOf(hatsAlone, summedOnly)).toBeLessThan(0.72);
    expect(recallOf(hatsAlone, found)).toBeGreaterThanOrEqual(0.8);
    // What the hats band adds is all hats: every onset not in the summed envelope's is a 16th.
    const added = found.filter((t) => !summedOnly.includes(t));
    expect(added.length).toBeGreaterThan(0);
    expect(added.filter((t) => !sixteenths.some((s) => Math.abs(s - t) <= WINDOW_SEC))).toEqual([]);
  });

  it.each([
    ['soft piano chords alone (-26 dBFS)', false],
    ['soft piano chords between kicks and snares', true],
  ])('%s: every chord is an onset, and nothing else', async (_name, withDrums) => {
    const beatSec = 0.6;
    const chordsSec = Array.from({ length: 32 }, (_, i) => 0.5 + i * beatSec + (withDrums ? beatSec / 2 : 0));
    const samples = pianoChords(chordsSec, 0.02, 0.5 + 33 * beatSec + 1);
    let reference = chordsSec;
    if (withDrums) {
      const drums = makeGroove({
        bpm: 100,
        bars: 8,
        patterns: { kick: 'X.......X.......', snare: '....X.......X...' },
      });
      for (let i = 0; i < Math.min(samples.length, drums.samples.length); i++) samples[i]! += drums.samples[i]!;
      reference = [...chordsSec, ...drums.beats].sort((a, b) => a - b);
    }
    const { found } = await onsetsSec(samples);
    expect(found).toHaveLength(reference.length);
    expect(eventF(reference, found, WINDOW_SEC)).toBe(1);
  });

  it('30 s of white noise: no onsets, not even from the hats-and-cymbals band alone', async () => {
    let s = 1;
    const noise = Float32Array.from({ length: RATE * 30 }, () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return 0.3 * (s / 2 ** 31 - 1);
    });
    expect((await onsetsSec(noise)).found).toEqual([]);
  });
});
