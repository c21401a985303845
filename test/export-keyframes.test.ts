import { describe, expect, it } from 'vitest';
import { mappingSchema } from '../src/config/mapping-schema.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import {
  deforumSchedule,
  deforumStepSchedule,
  exportCsv,
  exportDeforum,
  exportKeyframes,
  exportParseq,
  leadingSegmentAtFrames,
  linearKeyframeIndices,
} from '../src/keyframes/export-keyframes.js';
import { parseFps } from '../src/shared/media-time.js';
import { makeAnalysis, steadyBeats } from './helpers/analysis.js';

describe('schedules keep only the keyframes linear interpolation needs', () => {
  it.each([
    [[], []],
    [[5], [0]],
    [
      [1, 1, 1, 1],
      [0, 3],
    ],
    [
      [0, 1, 2, 3, 4],
      [0, 4],
    ],
    [
      [0, 1, 2, 2, 2],
      [0, 2, 4],
    ],
    [
      [0, 0, 1, 0, 0],
      [0, 1, 2, 3, 4],
    ],
    [
      [0, 0.5, 1, 0.5, 0],
      [0, 2, 4],
    ],
    [
      [1, 1.00004, 1, 1.00004],
      [0, 3],
    ], // within the tolerance
  ])('%j → frames %j', (values, frames) => {
    expect(linearKeyframeIndices(values)).toEqual(frames);
  });

  it('reproduces every value when interpolated, on a long curve', () => {
    // Sine stretches (curved: many keyframes), triangle stretches (two per period) and spikes.
    const values = Array.from(
      { length: 2000 },
      (_, i) =>
        Math.round((i < 1000 ? Math.sin(i / 50) : Math.abs(((i / 100) % 2) - 1)) * 1e4) / 1e4 + (i % 97 === 0 ? 1 : 0),
    );
    const keep = linearKeyframeIndices(values);
    for (let k = 0; k + 1 < keep.length; k++) {
      const [a, b] = [keep[k]!, keep[k + 1]!];
      for (let f = a; f <= b; f++) {
        const interpolated = values[a]! + ((values[b]! - values[a]!) * (f - a)) / (b - a);
        expect(Math.abs(interpolated - values[f]!)).toBeLessThanOrEqual(5e-5 + 1e-12);
      }
    }
    // The triangle half compresses to its corners and spikes.
    expect(keep.filter((f) => f > 1000).length).toBeLessThan(80);
  });

  it.each([
    [[0.6, 0.6, 0.6], '0: (0.6), 2: (0.6)'],
    [[0.6, 0.7, 0.8, 0.8], '0: (0.6), 2: (0.8), 3: (0.8)'],
    [[0.123456], '0: (0.1235)'],
  ])('deforumSchedule(%j) = %s', (values, text) => {
    expect(deforumSchedule(values)).toBe(text);
  });

  it.each([
    [[7, 7, 7], '0: (7)'],
    [[7, 7, 8, 8, 9], '0: (7), 1: (7), 2: (8), 3: (8), 4: (9)'],
    [[7, 8, 8], '0: (7), 1: (8)'],
  ])('a step schedule holds each seed until it changes: %j → %s', (values, text) => {
    expect(deforumStepSchedule(values)).toBe(text);
  });
});

describe('exports of a planned song', () => {
  const analysis = makeAnalysis({
    durationSec: 6,
    beats: steadyBeats(120, 0, 6),
    sections: [
      { startSec: 0, label: 'intro' },
      { startSec: 4, label: 'drop' },
    ],
    envelopes: { rms: (t) => (t < 4 ? 0.1 : 0.5) },
  });
  const mapping = mappingSchema.parse({
    version: 2,
    signals: { level: { from: 'rms', normalize: 'none', range: [0, 2] } },
    targets: {
      motionScale: { base: 0.5, add: { level: 1 }, range: [0.5, 1.5] },
      denoise: { base: 0.2, add: { level: 0.5 }, range: [0.2, 0.9] },
      cfg: { base: 1.5 },
      loras: { detail: { base: 0.25 } },
    },
    prompts: {
      negative: 'blur',
      schedule: [{ prompt: 'calm sea' }, { section: 'drop', prompt: 'storm, city', blend: '1 bar', negative: 'sun' }],
    },
  });
  const fps = parseFps('10');
  const keyframes = buildKeyframes(analysis, mapping, {
    fps,
    duration: { sampleCount: 6 * 22050, sampleRateHz: 22050 },
    texts: { prompt: '', negative: '' },
    seed: 5,
  });

  it('the leading segment at each frame follows the lead frames', () => {
    const leading = leadingSegmentAtFrames(keyframes);
    for (const s of keyframes.segments) expect(leading[s.leadFrame]).toBe(s.index);
    expect(leading[0]).toBe(0);
    expect(leading[keyframes.frameCount - 1]).toBe(keyframes.segments.length - 1);
  });

  it('deforum: schedules, seeds as steps, and prompts with blends and LoRAs', () => {
    const d = exportDeforum(keyframes) as Record<string, any>;
    expect(d.max_frames).toBe(60);
    expect(d.fps).toBe(10);
    expect(d.seed_behavior).toBe('schedule');
    // Strength is 1 − denoise: 0.9 (denoise 0.2 + 0.5 × 0.2) before the drop at frame 40, 0.3 after.
    expect(d.strength_schedule).toBe('0: (0.7), 39: (0.7), 40: (0.3), 59: (0.3)');
    expect(d.cfg_scale_schedule).toBe('0: (1.5), 59: (1.5)');
    const dropSegment = keyframes.segments.find((s) => s.section === 'drop')!;
    expect(d.seed_schedule).toBe(`0: (5), ${dropSegment.leadFrame - 1}: (5), ${dropSegment.leadFrame}: (6)`);
    expect(d.beatloom_motion_scale_schedule).toBe('0: (0.7), 39: (0.7), 40: (1.5), 59: (1.5)');
    expect(d.beatloom_level_schedule).toBe('0: (0.2), 39: (0.2), 40: (1), 59: (1)');
    // A bar (2 s = 20 frames) of blend ending at the drop: the prompt changes every frame in between.
    expect(d.prompts['0']).toBe('calm sea <lora:detail:0.25> --neg blur');
    expect(d.prompts['30']).toBe(
      '(calm sea):0.5 AND (storm, city):0.5 <lora:detail:0.25> --neg (blur):0.5 AND (sun):0.5',
    );
    expect(d.prompts['40']).toBe('storm, city <lora:detail:0.25> --neg sun');
    expect(Object.keys(d.prompts).map(Number)).toEqual([0, ...Array.from({ length: 20 }, (_, i) => 21 + i)]);
  });

  it('parseq: rendered frames Deforum reads, keyframes Parseq merges, prompts with linear overlaps', () => {
    const p = exportParseq(keyframes, analysis) as Record<string, any>;
    expect(p.options).toEqual({ input_fps: 10, output_fps: 10, bpm: 120, cadence: 1 });
    expect(p.managedFields).toEqual(['seed', 'scale', 'strength']);
    expect(p.rendered_frames.length).toBe(60);
    expect(p.rendered_frames[0]).toEqual({
      frame: 0,
      seed: 5,
      scale: 1.5,
      strength: 0.7,
      deforum_prompt: 'calm sea <lora:detail:0.25> --neg blur',
      motion_scale: 0.7,
      beatloom_level: 0.2,
    });
    expect(p.rendered_frames[45]).toMatchObject({
      frame: 45,
      seed: 6,
      strength: 0.3,
      deforum_prompt: 'storm, city <lora:detail:0.25> --neg sun',
    });
    expect(p.rendered_frames_meta.seed).toEqual({ min: 5, max: 6, isFlat: false });
    expect(p.rendered_frames_meta.scale.isFlat).toBe(true);
    const dropLead = keyframes.segments.find((s) => s.section === 'drop')!.leadFrame;
    expect(p.keyframes).toEqual([
      { frame: 0, scale: 1.5, strength: 0.7, seed: 5, seed_i: 'S', info: 'intro' },
      { frame: 39, strength: 0.7 },
      { frame: 40, strength: 0.3, info: 'drop', ...(dropLead === 40 ? { seed: 6 } : {}) },
      ...(dropLead === 40 ? [] : [{ frame: dropLead, seed: 6 }]),
      { frame: 59, scale: 1.5, strength: 0.3, seed: 6 },
    ]);
    expect(p.prompts.promptList).toEqual([
      {
        name: 'Prompt 1',
        positive: 'calm sea',
        negative: 'blur',
        allFrames: false,
        from: 0,
        to: 40,
        overlap: { inFrames: 0, outFrames: 20, type: 'linear', custom: 'prompt_weight_1' },
      },
      {
        name: 'Prompt 2',
        positive: 'storm, city',
        negative: 'sun',
        allFrames: false,
        from: 20,
        to: 59,
        overlap: { inFrames: 20, outFrames: 0, type: 'linear', custom: 'prompt_weight_1' },
      },
    ]);
    expect(p.keyframeLock).toBe('frames');
  });

  it('csv: a header and one row per frame, with positions in beats and bars, and quoted prompts', () => {
    const lines = exportCsv(keyframes, analysis).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'frame,time_sec,beat,bar,section,segment,seed,motion_scale,denoise,cfg,lora:detail,level,prompt,prompt_weight',
    );
    expect(lines.length).toBe(61);
    expect(lines[1]).toBe('0,0,1,1,intro,0,5,0.7,0.3,1.5,0.25,0.2,calm sea,1');
    // 4.5 s is beat 10 (beats every 0.5 s from beat 1 at 0 s) and a quarter into bar 3 (bars of 2 s).
    expect(lines[46]).toBe(
      `45,4.5,10,3.25,drop,${leadingSegmentAtFrames(keyframes)[45]},6,1.5,0.7,1.5,0.25,1,"storm, city",1`,
    );
  });

  it('exportKeyframes prints each format as text', () => {
    expect(JSON.parse(exportKeyframes('deforum', keyframes, analysis))).toEqual(exportDeforum(keyframes));
    expect(JSON.parse(exportKeyframes('parseq', keyframes, analysis))).toEqual(exportParseq(keyframes, analysis));
    expect(exportKeyframes('csv', keyframes, analysis)).toBe(exportCsv(keyframes, analysis));
  });
});
