import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { analysisSchema } from '../src/analysis/analysis-schema.js';
import { analyzeFile, analyzeSamples } from '../src/analysis/analyze.js';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';
import { eventF, makeDrumTrack } from './helpers/drums.js';
import { GROOVES, makeGroove } from './helpers/grooves.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

const run = promisify(execFile);
const SOURCE = { path: 'synth', channels: 1, sourceSampleRateHz: 22050, codec: 'pcm_f32le' };

describe('analysis of synthesised drum tracks with known beats', () => {
  it.each([
    ['4/4 at 120', { tempo: [{ bpm: 120, bars: 12 }], beatsPerBar: 4, subdivision: 2 as const }, '4/4', 120],
    ['3/4 at 108', { tempo: [{ bpm: 108, bars: 14 }], beatsPerBar: 3, subdivision: 2 as const }, '3/4', 108],
    [
      '6/8 at 72 (dotted-quarter beats)',
      { tempo: [{ bpm: 72, bars: 14 }], beatsPerBar: 2, subdivision: 3 as const },
      '6/8',
      72,
    ],
    ['4/4 at 70 (ballad tempo)', { tempo: [{ bpm: 70, bars: 8 }], beatsPerBar: 4, subdivision: 2 as const }, '4/4', 70],
  ])('%s: tempo, meter, beats and downbeats', async (_name, options, timeSignature, bpm) => {
    const track = makeDrumTrack(options);
    const analysis = analysisSchema.parse(await analyzeSamples(track.samples, track.sampleRateHz, SOURCE));
    expect(analysis.meter.timeSignature).toBe(timeSignature);
    expect(analysis.bpm).not.toBeNull();
    expect(Math.abs(analysis.bpm! - bpm) / bpm).toBeLessThan(0.02);
    expect(eventF(track.beats, analysis.beats)).toBeGreaterThanOrEqual(0.97);
    expect(eventF(track.downbeats, analysis.downbeats)).toBeGreaterThanOrEqual(0.95);
    expect(analysis.beatPositions.filter((p) => p === 1)).toHaveLength(analysis.downbeats.length);
  });

  it('follows an abrupt tempo change (100 → 130 BPM) and reports it in the tempo map', async () => {
    const track = makeDrumTrack({
      tempo: [
        { bpm: 100, bars: 10 },
        { bpm: 130, bars: 12 },
      ],
      beatsPerBar: 4,
      subdivision: 2,
    });
    const analysis = await analyzeSamples(track.samples, track.sampleRateHz, SOURCE);
    expect(eventF(track.beats, analysis.beats)).toBeGreaterThanOrEqual(0.93);
    expect(eventF(track.downbeats, analysis.downbeats)).toBeGreaterThanOrEqual(0.9);
    expect(analysis.tempoMap[0]!.bpm).toBeCloseTo(100, 0);
    expect(analysis.tempoMap.at(-1)!.bpm).toBeGreaterThan(126);
    expect(analysis.tempoMap.at(-1)!.bpm).toBeLessThan(134);
  });

  it('puts beats within 2 ms of the hits (onset times refined to the start of the rise)', async () => {
    const track = makeDrumTrack({ tempo: [{ bpm: 120, bars: 10 }], beatsPerBar: 4, subdivision: 2 });
    const analysis = await analyzeSamples(track.samples, track.sampleRateHz, SOURCE);
    const errors = analysis.beats.map(
      (b) => b - track.beats.reduce((best, t) => (Math.abs(t - b) < Math.abs(best - b) ? t : best), Infinity),
    );
    errors.sort((a, b) => a - b);
    expect(Math.abs(errors[errors.length >> 1]!)).toBeLessThan(0.002);
  });
});

describe('where there is no beat, none is invented', () => {
  it('silence: no beats, no onsets, bpm null, confidence 0', async () => {
    const analysis = await analyzeSamples(new Float32Array(22050 * 5), 22050, SOURCE);
    expect({
      beats: analysis.beats,
      onsets: analysis.onsets,
      bpm: analysis.bpm,
      bpmConfidence: analysis.bpmConfidence,
    }).toEqual({ beats: [], onsets: [], bpm: null, bpmConfidence: 0 });
    expect(analysis.sections).toHaveLength(1);
  });

  it('white noise: no beats, bpm null, confidence 0', async () => {
    let s = 12345;
    const noise = Float32Array.from({ length: 22050 * 10 }, () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return 0.3 * (s / 2 ** 31 - 1);
    });
    const analysis = await analyzeSamples(noise, 22050, SOURCE);
    expect({
      beats: analysis.beats,
      downbeats: analysis.downbeats,
      bpm: analysis.bpm,
      bpmConfidence: analysis.bpmConfidence,
    }).toEqual({ beats: [], downbeats: [], bpm: null, bpmConfidence: 0 });
    // Not even at the start: the file beginning mid-sound is not an onset.
    expect(analysis.onsets).toEqual([]);
  });

  it.each([1.5, 5])('a %s s tone cut off mid-sound: no onset at either end of the file', async (seconds) => {
    const tone = Float32Array.from(
      { length: Math.round(22050 * seconds) },
      (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 22050),
    );
    const analysis = await analyzeSamples(tone, 22050, SOURCE);
    expect(analysis.onsets).toEqual([]);
  });

  it('a long silence inside a song loses its beats; a short stop keeps them', async () => {
    const part = makeDrumTrack({ tempo: [{ bpm: 120, bars: 8 }], beatsPerBar: 4, subdivision: 2 });
    const partSec = part.samples.length / 22050;
    const lastBeat = part.beats.at(-1)!;
    // [gap length, beats expected between the parts]: the drums stop ringing half a beat after
    // their last beat; a 2 s stop (plus the 1 s tail and 0.5 s lead-in) keeps its 7 beats.
    for (const [gapSec, beatsBetween] of [
      [8, 0],
      [2, 7],
    ] as const) {
      const samples = new Float32Array(2 * part.samples.length + gapSec * 22050);
      samples.set(part.samples);
      samples.set(part.samples, part.samples.length + gapSec * 22050);
      const analysis = await analyzeSamples(samples, 22050, SOURCE);
      const secondPart = part.beats.map((b) => b + partSec + gapSec);
      const between = (b: number): boolean => b > lastBeat + 0.25 && b < secondPart[0]! - 0.25;
      expect(analysis.beats.filter(between)).toHaveLength(beatsBetween);
      expect(
        eventF(
          [...part.beats, ...secondPart],
          analysis.beats.filter((b) => !between(b)),
        ),
      ).toBeGreaterThanOrEqual(0.97);
    }
  });

  it('a long passage without pulse (a swelling chord) inside a song gets no beats', async () => {
    const part = makeDrumTrack({ tempo: [{ bpm: 120, bars: 10 }], beatsPerBar: 4, subdivision: 2 });
    const padSec = 24;
    const pad = Float32Array.from({ length: padSec * 22050 }, (_, i) => {
      const t = i / 22050;
      const chord = Math.sin(2 * Math.PI * 220 * t) + Math.sin(2 * Math.PI * 277 * t) + Math.sin(2 * Math.PI * 330 * t);
      return 0.15 * chord * (0.6 + 0.4 * Math.sin(2 * Math.PI * 0.13 * t)) * Math.min(1, t / 2, (padSec - t) / 2);
    });
    const samples = new Float32Array(2 * part.samples.length + pad.length);
    samples.set(part.samples);
    samples.set(pad, part.samples.length);
    samples.set(part.samples, part.samples.length + pad.length);
    const analysis = await analyzeSamples(samples, 22050, SOURCE);
    const padStart = part.samples.length / 22050;
    // Inside the pad, more than the local-activity window (2 s) away from the drums.
    expect(analysis.beats.filter((b) => b > padStart + 2.5 && b < padStart + padSec - 2)).toEqual([]);
    expect(
      eventF(
        part.beats,
        analysis.beats.filter((b) => b < padStart),
      ),
    ).toBeGreaterThanOrEqual(0.95);
  });

  it.each([0.05, 0.5, 1.5])('a %s s file analyses without error', async (durationSec) => {
    const track = makeDrumTrack({ tempo: [{ bpm: 120, bars: 1 }], beatsPerBar: 4, subdivision: 2, leadInSec: 0.1 });
    const samples = track.samples.subarray(0, Math.round(durationSec * 22050));
    const analysis = analysisSchema.parse(await analyzeSamples(samples, 22050, SOURCE));
    expect(analysis.source.sampleCount).toBe(samples.length);
    expect(analysis.envelopes.rms.length).toBe(Math.floor(samples.length / 512) + 1);
  });
});

describe('decoded files: channel layouts and sample rates', () => {
  it.each([
    ['8 kHz mono', 8000, 'mono'],
    ['96 kHz stereo', 96000, 'stereo'],
    ['48 kHz 5.1', 48000, '5.1'],
  ])('%s click track at 120 BPM', async (_name, rate, layout) => {
    const dir = await tempDir();
    const mono = join(dir, 'mono.wav');
    await makeClickTrack(mono, { durationSec: 16, bpm: 120, sampleRateHz: rate });
    const path = join(dir, `clicks-${layout}.wav`);
    await run(ffmpegPath(), [
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-i',
      mono,
      '-af',
      `aformat=channel_layouts=${layout}`,
      path,
    ]);
    const analysis = await analyzeFile(path);
    expect(analysis.source.sourceSampleRateHz).toBe(rate);
    expect(analysis.source.channels).toBe({ mono: 1, stereo: 2, '5.1': 6 }[layout]);
    expect(analysis.bpm).not.toBeNull();
    expect(Math.abs(analysis.bpm! - 120)).toBeLessThan(1.5);
    const expected = Array.from({ length: 32 }, (_, k) => k * 0.5);
    expect(eventF(expected, analysis.beats)).toBeGreaterThanOrEqual(0.95);
  });
});

describe('beat phase: grooves with most of their energy off the beat', () => {
  // Downbeats are checked where the bar has a bass line or chords that mark it; dembow and
  // offbeat hats here are drums over one repeated bass figure, whose bar line nothing marks.
  it.each([
    ['rock', true],
    ['funk', true],
    ['ska', true],
    ['oneDrop', true],
    ['offbeatHats', false],
    ['offbeatBass', true],
    ['dembow', false],
    ['twoStep', true],
  ] as const)('%s: beats on the beat, not on the offbeat', async (name, checkDownbeats) => {
    const groove = makeGroove({ ...GROOVES[name], bars: 16 });
    const analysis = await analyzeSamples(groove.samples, groove.sampleRateHz, SOURCE);
    const halfBeatSec = 30 / GROOVES[name].bpm;
    expect(eventF(groove.beats, analysis.beats)).toBeGreaterThanOrEqual(0.97);
    expect(
      eventF(
        groove.beats.map((b) => b + halfBeatSec),
        analysis.beats,
      ),
    ).toBeLessThan(0.1);
    if (checkDownbeats) expect(eventF(groove.downbeats, analysis.downbeats)).toBeGreaterThanOrEqual(0.9);
  });
});
