import { describe, expect, it } from 'vitest';
import {
  mappingSchema,
  seedSchema,
  promptsSchema,
  targetSchema,
  type MappingInput,
} from '../src/config/mapping-schema.js';
import { buildKeyframes, evaluateTarget, reduceOverSegment } from '../src/keyframes/build-keyframes.js';
import { keyframesSchema } from '../src/keyframes/keyframes-schema.js';
import { promptWeightsAtFrames, schedulePrompts } from '../src/keyframes/prompt-schedule.js';
import { seedEventTimes, seedsForSegments, transitionsAtOrAfter } from '../src/keyframes/seed-schedule.js';
import { beatGridOf } from '../src/keyframes/signals.js';
import { parseFps } from '../src/shared/media-time.js';
import { buildRenderPlan } from '../src/pipeline/render-plan.js';
import { makeAnalysis, steadyBeats } from './helpers/analysis.js';
import { planCapabilities } from './helpers/plan-capabilities.js';

const FPS10 = parseFps('10');
const PER_FRAME = planCapabilities();
/** The render-plan options of these tests: the preview engine, 64×64, 4 steps, per-frame motion. */
const PREVIEW_PLAN = {
  engineId: 'preview',
  engineFingerprint: {},
  width: 64,
  height: 64,
  steps: 4,
  capabilities: PER_FRAME,
};

describe('reduceOverSegment', () => {
  const curve = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const segment = { startFrame: 2, frameCount: 4, leadFrame: 3 };
  const onsets = [
    { frame: 1, strength: 1 }, // before the segment: ignored
    { frame: 4, strength: 0.5 },
    { frame: 5, strength: 0.9 },
    { frame: 3, strength: 0.9 }, // as strong as frame 5 but earlier: wins
  ];
  it.each([
    ['mean', 3.5],
    ['max', 5],
    ['min', 2],
    ['start', 3],
    ['onset', 3],
  ] as const)('%s → %f', (how, value) => {
    expect(reduceOverSegment(curve, segment, how, onsets)).toBe(value);
  });
  it('onset falls back to the lead frame when no onset is inside the segment', () => {
    expect(reduceOverSegment(curve, segment, 'onset', [{ frame: 9, strength: 1 }])).toBe(3);
    expect(reduceOverSegment(curve, { startFrame: 6, frameCount: 4, leadFrame: 7 }, 'onset', onsets)).toBe(7);
  });
});

describe('evaluateTarget', () => {
  const signals = new Map([
    ['a', Float64Array.from([0, 0.5, 1])],
    ['b', Float64Array.from([1, 1, 0])],
  ]);
  it.each([
    [{ base: 1 }, [1, 1, 1]],
    [{ base: 0.5, add: { a: 0.4 } }, [0.5, 0.7, 0.9]],
    [{ base: 0.5, add: { a: 0.4, b: -0.2 } }, [0.3, 0.5, 0.9]],
    [{ base: 0.5, add: { a: 1 }, range: [0.6, 1.2] }, [0.6, 1, 1.2]],
  ] as const)('%j → %j', (target, expected) => {
    const out = evaluateTarget(targetSchema.parse(target), signals, 3);
    expect(Array.from(out, (v) => Math.round(v * 1e12) / 1e12)).toEqual(expected);
  });
});

describe('seeds', () => {
  const beats = steadyBeats(120, 0, 20); // bars of 2 s
  const analysis = makeAnalysis({
    durationSec: 20,
    beats,
    sections: [
      { startSec: 0, label: 'intro' },
      { startSec: 4, label: 'drop' },
      { startSec: 8, label: 'break' },
      { startSec: 12, label: 'drop' },
    ],
    onsets: [1.1, 5.3, 9.9],
    onsetStrengths: [0.95, 0.5, 0.9],
  });
  const context = { analysis, beats: beatGridOf(analysis).grid, fps: FPS10, durationSec: 20 };

  it.each([
    [{}, [4, 8, 12]],
    [{ sections: false }, []],
    [{ sections: false, every: '2 bars' }, [4, 8, 12, 16]], // bar 1 at 0 s is not a change
    [{ sections: false, every: '3 beats' }, [1.5, 3, 4.5, 6, 7.5, 9, 10.5, 12, 13.5, 15, 16.5, 18, 19.5]],
    [{ sections: false, every: '7s' }, [7, 14]],
    [{ sections: false, every: '50 frames' }, [5, 10, 15]],
    [{ sections: false, onsets: 0.9 }, [1.1, 9.9]],
    [{ every: '4 bars', onsets: 0.9 }, [1.1, 4, 8, 8, 9.9, 12, 16]],
  ])('events for %j: %j', (settings, times) => {
    expect(seedEventTimes(seedSchema.parse(settings), context).map((t) => Math.round(t * 1e9) / 1e9)).toEqual(times);
  });

  it.each([
    [[12], [0, 10, 20, 30], [2]],
    [[10], [0, 10, 20, 30], [1]],
    [
      [11, 19, 5],
      [0, 10, 20, 30],
      [1, 2],
    ],
    [[31], [0, 10, 20, 30], []],
    [[0], [0, 10], [1]],
  ])('events at frames %j with lead frames %j change segments %j', (events, leads, expected) => {
    expect([...transitionsAtOrAfter(events, leads)].sort()).toEqual(expected);
  });

  // Segments leading at 0, 2, 4, 8, 12, 16 s (frames 0, 20, 40, …) in sections intro, intro, drop, break, drop, drop.
  const leads = [0, 20, 40, 80, 120, 160];
  const sectionOf = [0, 0, 1, 2, 3, 3];
  const labels = analysis.sections.map((s) => s.label);
  it.each([
    ['a new seed at each section', {}, [100, 100, 101, 102, 103, 103]],
    // 1.1 s → the transition at 2 s; 9.9 s → the one at 12 s, which the section change already makes.
    ['and at strong onsets', { onsets: 0.9 }, [100, 101, 102, 103, 104, 104]],
    ['never', { sections: false }, [100, 100, 100, 100, 100, 100]],
    // Label offsets: intro 1000, drop 4000, break 5000 (their order among the labels, + 1).
    ['recall: both drops start with the same seed', { recall: true }, [1100, 1100, 4100, 5100, 4100, 4100]],
    ['recall with changes inside a section', { recall: true, every: '4 bars' }, [1100, 1100, 4100, 5100, 4100, 4101]],
    ['recall with an onset inside the intro', { recall: true, onsets: 0.9 }, [1100, 1101, 4100, 5100, 4100, 4100]],
  ])('%s', (_what, settings, seeds) => {
    const parsed = seedSchema.parse(settings);
    expect(seedsForSegments(parsed, 100, leads, sectionOf, labels, seedEventTimes(parsed, context), FPS10)).toEqual(
      seeds,
    );
  });

  it('wraps at 2³²', () => {
    expect(seedsForSegments(seedSchema.parse({}), 0xffffffff, leads, sectionOf, labels, [4, 8, 12], FPS10)).toEqual([
      0xffffffff, 0xffffffff, 0, 1, 2, 2,
    ]);
  });
});

describe('prompt schedules', () => {
  const beats = steadyBeats(120, 0, 10);
  const analysis = makeAnalysis({
    durationSec: 10,
    beats,
    sections: [
      { startSec: 0, label: 'intro' },
      { startSec: 4, label: 'drop' },
      { startSec: 6, label: 'break' },
      { startSec: 8, label: 'drop' },
    ],
  });
  const context = { analysis, beats: beatGridOf(analysis).grid, fps: FPS10, durationSec: 10 };
  const texts = { prompt: 'city', negative: 'blur' };
  const weightsOf = (settings: unknown, frameCount = 100): number[][] => {
    const schedule = schedulePrompts(promptsSchema.parse(settings), texts, context);
    return promptWeightsAtFrames(schedule, FPS10, frameCount).map((w) =>
      Array.from(w, (v) => Math.round(v * 1e9) / 1e9),
    );
  };

  it('fills in {prompt} and {negative}, and merges repeated prompts', () => {
    const schedule = schedulePrompts(
      promptsSchema.parse({
        negative: '{negative}, text',
        schedule: [{ prompt: '{prompt} at dawn' }, { section: 'drop', prompt: '{prompt} on fire', negative: 'calm' }],
      }),
      texts,
      context,
    );
    expect(schedule.prompts).toEqual([
      { prompt: 'city at dawn', negativePrompt: 'blur, text' },
      { prompt: 'city on fire', negativePrompt: 'calm' },
    ]);
    // The drop's prompt holds for each drop (4–6 s, 8 s on); between them the first prompt comes back.
    expect(schedule.changes.map((c) => [c.timeSec, c.prompt])).toEqual([
      [0, 0],
      [4, 1],
      [6, 0],
      [8, 1],
    ]);
    expect(schedule.warnings).toEqual([]);
  });

  it('a section entry holds for its section only; with a blend the way back ends where the section does', () => {
    const [a, b] = weightsOf({ schedule: [{ prompt: 'a' }, { section: 'break', prompt: 'b', blend: '2 beats' }] });
    // The break is 6–8 s: b blends in over 5–6 s and back out over 7–8 s; a is whole again from 8 s.
    expect(b!.slice(49, 53)).toEqual([0, 0, 0.1, 0.2]);
    expect(b!.slice(59, 73)).toEqual([0.9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.9, 0.8]);
    expect(b!.slice(79, 82)).toEqual([0.1, 0, 0]);
    expect(a![85]).toBe(1);
  });

  it('cuts at each section with the label, and back', () => {
    const [a, b] = weightsOf({
      schedule: [{ prompt: 'a' }, { section: 'drop', prompt: 'b' }, { section: 'break', prompt: 'a' }],
    });
    expect(a!.slice(38, 42)).toEqual([1, 1, 0, 0]);
    expect(b!.slice(58, 62)).toEqual([1, 1, 0, 0]);
    expect(b!.slice(78, 82)).toEqual([0, 0, 1, 1]);
  });

  it('blends over one bar (2 s = 20 frames), ending where the entry starts', () => {
    const [a, b] = weightsOf({ blend: '1 bar', schedule: [{ prompt: 'a' }, { time: 4, prompt: 'b' }] });
    expect(b!.slice(18, 42)).toEqual([
      0, 0, 0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
      1, 1,
    ]);
    for (let f = 0; f < 100; f++) expect(a![f]! + b![f]!).toBeCloseTo(1, 12);
  });

  it('a blend cannot reach back past the previous change', () => {
    const [, b, c] = weightsOf({
      blend: '4 bars',
      schedule: [{ prompt: 'a' }, { bar: 2, prompt: 'b' }, { bar: 3, prompt: 'c' }],
    });
    // b starts at bar 2 (2 s) with a blend clamped to start at 0 s; c at 4 s blends from 2 s.
    expect(b!.slice(0, 3)).toEqual([0, 0.05, 0.1]);
    expect(c!.slice(20, 23)).toEqual([0, 0.05, 0.1]);
    expect(c![40]).toBe(1);
  });

  it('positions by bar, beat and time; the later of two entries at the same time wins', () => {
    const schedule = schedulePrompts(
      promptsSchema.parse({
        schedule: [
          { prompt: 'a' },
          { bar: 3, prompt: 'b' },
          { beat: 3, prompt: 'c' },
          { time: '0:04', prompt: 'd' },
          { section: 'drop', prompt: 'e' },
        ],
      }),
      texts,
      context,
    );
    // bar 3 (4 s), 0:04 and the first drop all start at 4 s: the last of them, the drop, wins; when the drop
    // ends (6 s) the latest entry without a section, 0:04's d, comes back until the second drop (8 s).
    expect(schedule.changes.map((c) => [c.timeSec, schedule.prompts[c.prompt]!.prompt])).toEqual([
      [0, 'a'],
      [1, 'c'],
      [4, 'e'],
      [6, 'd'],
      [8, 'e'],
    ]);
  });

  it('warns about entries that never happen, and keeps the first prompt then', () => {
    const schedule = schedulePrompts(
      promptsSchema.parse({
        schedule: [
          { section: 'outro', prompt: 'x' },
          { bar: 40, prompt: 'y' },
        ],
      }),
      texts,
      context,
    );
    expect(schedule.warnings).toEqual(['prompts.schedule[1] starts at 78.00 s, after the song ends (10.00 s)']);
    expect(schedule.missingSections).toEqual([{ label: 'outro', where: 'prompts.schedule[0]' }]);
    expect(schedule.changes).toEqual([{ timeSec: 0, blendStartSec: 0, prompt: 0 }]);
    expect(schedule.prompts).toEqual([{ prompt: 'x', negativePrompt: 'blur' }]);
  });

  it('the earliest entry holds from the start when none is given a start', () => {
    // Prompts are numbered in the order they are first shown: b (the drop at 4 s) before a (the break at 6 s).
    const [b, a] = weightsOf({
      schedule: [
        { section: 'break', prompt: 'a' },
        { section: 'drop', prompt: 'b' },
      ],
    });
    expect([b![0], b![45], a![65], b![85]]).toEqual([1, 1, 1, 1]);
    expect(a![0]).toBe(0);
  });
});

describe('buildKeyframes', () => {
  const beats = steadyBeats(120, 0, 8);
  const analysis = makeAnalysis({
    durationSec: 8,
    beats,
    sections: [
      { startSec: 0, label: 'intro' },
      { startSec: 4, label: 'drop' },
    ],
    onsets: [0.5, 4.2],
    onsetStrengths: [0.4, 1],
    envelopes: { rms: (t) => (t < 4 ? 0.1 : 0.5), low: (t) => ((t * 2) % 1 < 0.1 ? 1 : 0) },
  });
  const base: MappingInput = {
    version: 2,
    segments: { align: 'downbeats', crossfade: 2 },
    signals: {
      beat: { from: 'beat', release: '0.5 beats' },
      level: { from: 'rms', normalize: 'none', range: [0, 2] },
      drop: { from: 'section', values: { drop: 1 } },
    },
    targets: {
      motionScale: { base: 0.5, add: { beat: 0.5 }, range: [0.5, 1.5] },
      denoise: { base: 0.2, add: { level: 0.5 }, range: [0.2, 0.9], reduce: 'max' },
      cfg: { base: 1, add: { drop: 1 }, reduce: 'start' },
      loras: { detail: { base: 0.1, add: { drop: 0.5 }, reduce: 'onset' } },
    },
    prompts: { schedule: [{ prompt: '{prompt}' }, { section: 'drop', prompt: '{prompt}, fire', negative: 'calm' }] },
  };
  const build = (mapping: MappingInput = base) =>
    buildKeyframes(analysis, mappingSchema.parse(mapping), {
      fps: FPS10,
      duration: { sampleCount: 8 * 22050, sampleRateHz: 22050 },
      texts: { prompt: 'city', negative: 'blur' },
      seed: 7,
    });

  it('writes valid keyframes with every curve per frame', () => {
    const kf = build();
    expect(keyframesSchema.parse(keyframesSchema.encode(kf))).toEqual(kf);
    expect(kf.frameCount).toBe(80);
    expect(Object.keys(kf.signals)).toEqual(['beat', 'level', 'drop']);
    for (const curve of [
      kf.curves.motionScale,
      kf.curves.denoise,
      kf.curves.cfg,
      kf.curves.loras.detail!,
      ...Object.values(kf.signals),
    ])
      expect(curve.length).toBe(80);
    expect(kf.warnings).toEqual([]);
  });

  it('curves: a beat pulse at every 5th frame that is gone after half a beat', () => {
    const kf = build();
    // 10 fps, beats every 0.5 s = 5 frames; release 0.25 s: 1 on the beat's frame, 0.6 then 0.2 (grid 100 Hz).
    expect(kf.signals.beat!.slice(0, 10)).toEqual([1, 0.6, 0.2, 0, 0, 1, 0.6, 0.2, 0, 0]);
    expect(kf.curves.motionScale.slice(0, 5)).toEqual([1, 0.8, 0.6, 0.5, 0.5]);
    expect(kf.signals.level!.slice(38, 42)).toEqual([0.2, 0.2, 1, 1]);
    expect(kf.curves.denoise.slice(38, 42)).toEqual([0.3, 0.3, 0.7, 0.7]);
  });

  it('segments: one value per segment by its reducer, seeds per section, prompts and LoRAs', () => {
    const kf = build();
    const drop = kf.segments.find((s) => s.section === 'drop')!;
    const intro = kf.segments[0]!;
    expect(intro).toMatchObject({
      section: 'intro',
      seed: 7,
      cfg: 1,
      prompt: 'city',
      negativePrompt: 'blur',
      loras: [{ name: 'detail', strength: 0.1 }],
    });
    expect(intro.denoise).toBe(0.3);
    expect(drop.leadFrame).toBe(40); // the drop starts on a downbeat, and so does its segment
    expect(drop).toMatchObject({
      seed: 8,
      cfg: 2,
      prompt: 'city, fire',
      negativePrompt: 'calm',
      promptBlend: [{ prompt: 'city, fire', negativePrompt: 'calm', weight: 1 }],
    });
    expect(drop.denoise).toBe(0.7);
    // The LoRA strength at the drop segment's strongest onset (4.2 s, in the drop): 0.1 + 0.5.
    expect(drop.loras).toEqual([{ name: 'detail', strength: 0.6 }]);
    for (const s of kf.segments) {
      const frames = kf.curves.motionScale.slice(s.startFrame, s.startFrame + s.frameCount);
      expect(s.motionScale).toBeCloseTo(frames.reduce((a, b) => a + b, 0) / frames.length, 4);
    }
  });

  it('a segment halfway through a prompt blend carries both prompts', () => {
    const kf = build({ ...base, prompts: { blend: '2 bars', schedule: [{ prompt: 'a' }, { time: 6, prompt: 'b' }] } });
    const mid = kf.segments.find((s) => s.promptBlend.length === 2)!;
    expect(mid.promptBlend.map((p) => p.prompt).sort()).toEqual(['a', 'b']);
    expect(mid.promptBlend[0]!.weight + mid.promptBlend[1]!.weight).toBe(1);
    expect(mid.prompt).toBe(mid.promptBlend[0]!.prompt);
    expect(kf.promptChanges).toEqual([
      { frame: 0, blendFromFrame: 0, prompt: 0 },
      { frame: 60, blendFromFrame: 20, prompt: 1 },
    ]);
  });

  it('drives the motion effect per frame and motion LoRAs per segment, and leaves them out when the mapping does not', () => {
    const kf = build({
      ...base,
      targets: {
        ...base.targets,
        motionEffect: { base: 1, add: { drop: -0.5 }, range: [0, 1] },
        motionLoras: { zoom: { base: 0, add: { drop: 0.8 }, reduce: 'max' } },
      },
    });
    const drop = kf.segments.find((s) => s.section === 'drop')!;
    const intro = kf.segments[0]!;
    expect(kf.curves.motionEffect![0]).toBe(1);
    expect(kf.curves.motionEffect![drop.leadFrame]).toBe(0.5);
    expect(kf.curves.motionLoras!['zoom']![drop.leadFrame]).toBe(0.8);
    expect(intro.motionLoras).toEqual([{ name: 'zoom', strength: 0 }]);
    expect(drop.motionLoras).toEqual([{ name: 'zoom', strength: 0.8 }]);
    const plan = buildRenderPlan(kf, PREVIEW_PLAN);
    const job = plan.jobs[drop.index]!;
    expect(job.motionLoras).toEqual([{ name: 'zoom', strength: 0.8 }]);
    expect(job.effect).toEqual({
      kind: 'perFrame',
      scales: kf.curves.motionEffect!.slice(job.startFrame, job.startFrame + job.frameCount),
    });
    // An engine without the effect input: no effect in the jobs, and the plan says so.
    const without = buildRenderPlan(kf, {
      ...PREVIEW_PLAN,
      engineId: 'native',
      capabilities: planCapabilities({ motionEffect: false }),
    });
    expect(without.jobs.every((j) => j.effect === undefined)).toBe(true);
    expect(without.notices).toContain(
      'targets.motionEffect has no effect: the native engine has no motion effect input',
    );
    const plain = build();
    expect(plain.curves.motionEffect).toBeUndefined();
    expect(plain.segments.every((s) => s.motionLoras === undefined)).toBe(true);
    const outside = mappingSchema.safeParse({ ...base, targets: { ...base.targets, motionEffect: { base: 1.5 } } });
    expect(outside.error?.issues.map((issue) => [issue.path, issue.message])).toEqual([
      [
        ['targets', 'motionEffect'],
        'can reach 1.5 (base 1.5) but must stay within [0, 1]: add a range or change the amounts',
      ],
    ]);
  });

  it('warns when the song cannot do what the mapping asks', () => {
    const silent = makeAnalysis({ durationSec: 3, sections: [{ startSec: 0, label: 'intro' }] });
    const kf = buildKeyframes(
      silent,
      mappingSchema.parse({ ...base, signals: { ...base.signals, beat: { from: 'beat', onlyIn: ['drop'] } } }),
      {
        fps: FPS10,
        duration: { sampleCount: 3 * 22050, sampleRateHz: 22050 },
        texts: { prompt: 'x', negative: '' },
        seed: 1,
      },
    );
    expect(kf.warnings).toEqual([
      'no beat found: lengths in beats and bars, bar and beat numbers use a steady 120 BPM from 0 s',
      'segments.align: downbeats, but the song has no bar starts: transitions are evenly spaced',
      'the song has no drop section, so signals.beat.onlyIn, prompts.schedule[1] do not apply',
    ]);
  });

  it('the render plan passes every per-segment value to the engine', () => {
    const kf = build();
    const plan = buildRenderPlan(kf, PREVIEW_PLAN);
    const drop = kf.segments.find((s) => s.section === 'drop')!;
    const job = plan.jobs[drop.index]!;
    expect(job).toMatchObject({
      prompt: drop.prompt,
      negativePrompt: 'calm',
      promptBlend: drop.promptBlend,
      cfg: 2,
      denoise: drop.denoise,
      seed: drop.seed,
      loras: [{ name: 'detail', strength: 0.6 }],
      motion: {
        kind: 'perFrame',
        scales: kf.curves.motionScale.slice(drop.startFrame, drop.startFrame + drop.frameCount),
      },
    });
    // A change to the LoRA strength changes the segment's hash (so resume re-renders it).
    const changed = buildRenderPlan(
      {
        ...kf,
        segments: kf.segments.map((s) => (s === drop ? { ...s, loras: [{ name: 'detail', strength: 0.7 }] } : s)),
      },
      PREVIEW_PLAN,
    );
    expect(changed.jobs[drop.index]!.hash).not.toBe(job.hash);
    expect(changed.jobs[0]!.hash).toBe(plan.jobs[0]!.hash);
  });
});
