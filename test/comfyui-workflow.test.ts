import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bindWorkflowMap,
  fillCustomWorkflow,
  loadCustomWorkflow,
  parseWorkflowGraph,
  unmappedLoras,
  workflowOwnSteps,
} from '../src/engines/comfyui/custom-workflow.js';
import { lightningSteps, normalizeServerUrl, resolveComfySettings } from '../src/engines/comfyui/settings.js';
import {
  averageStrengths,
  blendTexts,
  buildSegmentGraph,
  loraStrength,
  motionSchedule,
  segmentLoras,
  type GraphSettings,
} from '../src/engines/comfyui/workflow.js';
import type { SegmentJob } from '../src/engines/engine.js';
import { renderPlanSchema } from '../src/pipeline/render-plan.js';
import { fixtureJson } from './comfyui/fixtures.js';
import { segmentJob } from './helpers/segment-job.js';

const JOB = segmentJob();

/** The settings of the AnimateDiff-Evolved runs recorded from a real ComfyUI 0.8.0 (fixtures 80, 81). */
const FIXTURE_SETTINGS: GraphSettings = {
  checkpoint: 'random_sd15_fp16.safetensors',
  motionModel: 'animatediff_lightning_4step_comfyui.safetensors',
  betaSchedule: 'sqrt_linear (AnimateDiff)',
  steps: 2,
  sampler: 'euler',
  scheduler: 'sgm_uniform',
  loras: [],
};

/** The jobs of the render whose prompts fixtures 90 and 91 recorded, and its settings. */
function recordedJobs(fixture: string): SegmentJob[] {
  return fixtureJson<{ jobs: unknown[] }>(fixture).jobs.map((job) => {
    const { initFrom: _initFrom, holdFrom: _holdFrom, ...rest } = renderPlanSchema.shape.jobs.element.parse(job);
    return rest;
  });
}
const RECORDED_JOBS = recordedJobs('90_91_ade_continue_plan.json');
const RECORDED_SETTINGS: GraphSettings = {
  checkpoint: 'sd15_random.safetensors',
  motionModel: 'animatediff_lightning_4step_comfyui.safetensors',
  betaSchedule: 'sqrt_linear (AnimateDiff)',
  steps: 4,
  sampler: 'euler',
  scheduler: 'sgm_uniform',
  loras: [],
};

function fixtureGraph(name: string): unknown {
  return fixtureJson<{ request: { body: { prompt: unknown } } }>(name).request.body.prompt;
}

describe('buildSegmentGraph: the instrument', () => {
  it('drives the motion effect per frame (effect_multival) and motion LoRAs at the segment’s strength', () => {
    const job = segmentJob({
      frameCount: 4,
      motion: { kind: 'constant', scale: 1 },
      effect: { kind: 'perFrame', scales: [1, 0.5, 0.25, 0] },
      motionLoras: [
        { name: 'pan_left', strength: 0.8 },
        { name: 'zoom_in', strength: 12 },
      ],
    });
    const graph = buildSegmentGraph(
      job,
      FIXTURE_SETTINGS,
      undefined,
      undefined,
      undefined,
      new Map([['pan_left', 'v2_lora_PanLeft.ckpt']]),
    );
    expect(graph['17']).toEqual({
      class_type: 'ADE_ValueScheduling',
      inputs: { values: '0=1, 1=0.5, 2=0.25, 3=0', max_length: 4 },
    });
    expect(graph['16']).toEqual({ class_type: 'ADE_MultivalDynamicFloats', inputs: { floats: ['17', 1] } });
    expect(graph['20']).toEqual({
      class_type: 'ADE_AnimateDiffLoRALoader',
      inputs: { name: 'v2_lora_PanLeft.ckpt', strength: 0.8 },
    });
    // ADE's limit is 10.
    expect(graph['21']).toEqual({
      class_type: 'ADE_AnimateDiffLoRALoader',
      inputs: { name: 'zoom_in', strength: 10, prev_motion_lora: ['20', 0] },
    });
    expect(graph['3']!.inputs['motion_lora']).toEqual(['21', 0]);
    expect(graph['3']!.inputs['effect_multival']).toEqual(['16', 0]);
  });

  it('starts an init image or held frames at the step its denoise gives on the module’s grid', () => {
    const fromImage = buildSegmentGraph(
      segmentJob({ denoise: 0.5, continuity: 'chain' }),
      { ...FIXTURE_SETTINGS, steps: 4 },
      'init.png',
    );
    expect(fromImage['7']!.inputs['start_at_step']).toBe(2);
    const held = buildSegmentGraph(
      segmentJob({ denoise: 0.75, heldFrames: 4, continuity: 'continue' }),
      { ...FIXTURE_SETTINGS, steps: 4 },
      undefined,
      undefined,
      { kind: 'latent', name: 'beatloom_held_x.latent', from: 12 },
    );
    expect(held['7']!.inputs['start_at_step']).toBe(1);
    expect(held['1000']).toEqual({ class_type: 'LoadLatent', inputs: { latent: 'beatloom_held_x.latent' } });
    expect(held['18']).toEqual({
      class_type: 'LatentFromBatch',
      inputs: { samples: ['1000', 0], batch_index: 12, length: 4 },
    });
    expect(held['19']).toEqual({
      class_type: 'LatentFromBatch',
      inputs: { samples: ['18', 0], batch_index: 3, length: 1 },
    });
    expect(held['12']).toEqual({ class_type: 'RepeatLatentBatch', inputs: { samples: ['19', 0], amount: 12 } });
    const solids = Object.values(held)
      .filter((node) => node.class_type === 'SolidMask')
      .map((node) => node.inputs['value']);
    expect(solids).toEqual([0, 1]);
    const repeats = Object.values(held)
      .filter((node) => node.class_type === 'RepeatImageBatch')
      .map((node) => node.inputs['amount']);
    expect(repeats).toEqual([4, 12]);
  });
});

describe('buildSegmentGraph', () => {
  it('from noise it is exactly the graph that ran on real ComfyUI 0.8.0 with AnimateDiff-Evolved (fixture 90)', () => {
    const [first] = RECORDED_JOBS;
    expect(buildSegmentGraph(first!, RECORDED_SETTINGS)).toEqual(fixtureGraph('90_ade_continue_first_post.json'));
  });

  it('a continuation is exactly the graph of fixture 91: the uploaded latents from frame 10, the last repeated, the hold mask', () => {
    const [, held] = RECORDED_JOBS;
    const upload = fixtureJson<{ body: { name: string } }>('91_ade_continue_held_upload.json').body.name;
    const graph = buildSegmentGraph(held!, RECORDED_SETTINGS, undefined, undefined, {
      kind: 'latent',
      name: upload,
      from: held!.startFrame - RECORDED_JOBS[0]!.startFrame,
    });
    expect(graph).toEqual(fixtureGraph('91_ade_continue_held_post.json'));
  });

  it('a take is exactly the graph of fixture 92: 48 frames in one sampling with context windows (16, overlap 4)', () => {
    const take = recordedJobs('92_ade_take_48f_plan.json')[0]!;
    expect(take.frameCount).toBe(48);
    expect(buildSegmentGraph(take, RECORDED_SETTINGS)).toEqual(fixtureGraph('92_ade_take_48f_post.json'));
  });

  it('chain continuity starts from the init image: LoadImage → VAEEncode → RepeatLatentBatch, at the denoise step', () => {
    const graph = buildSegmentGraph(
      { ...JOB, index: 1, continuity: 'chain' },
      FIXTURE_SETTINGS,
      'beatloom_seg_0000_last.png',
    );
    // Fixture 81's img2img chain, on KSamplerAdvanced now.
    const recorded = fixtureGraph('81_ade_img2img_chain_post.json') as Record<string, unknown>;
    for (const id of ['10', '11', '12']) expect(graph[id]).toEqual(recorded[id]);
    expect(graph['7']!.inputs['latent_image']).toEqual(['12', 0]);
    expect(graph['7']!.inputs['start_at_step']).toBe(1);
  });

  it('a per-frame motion scale becomes ADE_ValueScheduling (one value per frame) → ADE_MultivalDynamicFloats', () => {
    const perFrame = [1, 1.25, 1.5, 1.2345, 0.9, 0.8, -0.2, 2];
    const graph = buildSegmentGraph(
      { ...JOB, frameCount: 8, motion: { kind: 'perFrame', scales: perFrame } },
      FIXTURE_SETTINGS,
    );
    expect(graph['13']).toEqual({
      class_type: 'ADE_ValueScheduling',
      inputs: { values: '0=1, 1=1.25, 2=1.5, 3=1.235, 4=0.9, 5=0.8, 6=0, 7=2', max_length: 8 },
    });
    expect(graph['2']).toEqual({ class_type: 'ADE_MultivalDynamicFloats', inputs: { floats: ['13', 1] } });
    expect(graph['3']!.inputs['scale_multival']).toEqual(['2', 0]);
    expect(graph['6']!.inputs).toEqual({ width: 64, height: 64, batch_size: 8 });
  });

  it('without per-frame support (or a constant curve) the segment’s motion scale goes to ADE_MultivalDynamic', () => {
    const constant = { ...JOB, motion: { kind: 'constant', scale: 1.2 } } as const;
    const graph = buildSegmentGraph(constant, FIXTURE_SETTINGS);
    expect(graph['2']).toEqual({ class_type: 'ADE_MultivalDynamic', inputs: { float_val: 1.2 } });
    expect(graph['13']).toBeUndefined();
  });

  it('a per-frame job whose frames all round to one value gets ADE_MultivalDynamic with that value', () => {
    const flat = segmentJob({ motion: { kind: 'perFrame', scales: [1.2001, 1.1996, ...Array<number>(14).fill(1.2)] } });
    const graph = buildSegmentGraph(flat, FIXTURE_SETTINGS);
    expect(graph['2']).toEqual({ class_type: 'ADE_MultivalDynamic', inputs: { float_val: 1.2 } });
    expect(graph['13']).toBeUndefined();
  });

  it('chains LoRAs between the checkpoint and AnimateDiff / the text encoders, with the model card’s Lightning defaults', () => {
    const settings = resolveComfySettings({
      url: 'gpu:8188',
      checkpoint: 'epicrealism.safetensors',
      loras: [{ name: 'a.safetensors', strengthModel: 0.8, strengthClip: 0.6 }, { name: 'b.safetensors' } as never],
    });
    const graph = buildSegmentGraph({ ...JOB, cfg: 1.5 }, { ...settings, checkpoint: 'epicrealism.safetensors' });
    expect(graph['20']).toEqual({
      class_type: 'LoraLoader',
      inputs: { model: ['1', 0], clip: ['1', 1], lora_name: 'a.safetensors', strength_model: 0.8, strength_clip: 0.6 },
    });
    expect(graph['21']).toEqual({
      class_type: 'LoraLoader',
      inputs: { model: ['20', 0], clip: ['20', 1], lora_name: 'b.safetensors', strength_model: 1, strength_clip: 1 },
    });
    expect(graph['3']!.inputs).toEqual({
      model: ['21', 0],
      model_name: 'animatediff_lightning_4step_comfyui.safetensors',
      beta_schedule: 'sqrt_linear (AnimateDiff)',
      sample_settings: ['14', 0],
      scale_multival: ['2', 0],
    });
    expect(graph['4']!.inputs['clip']).toEqual(['21', 1]);
    expect(graph['5']!.inputs['clip']).toEqual(['21', 1]);
    expect(graph['7']!.inputs).toEqual({
      model: ['3', 0],
      add_noise: 'enable',
      noise_seed: 42,
      steps: 4,
      cfg: 1.5,
      sampler_name: 'euler',
      scheduler: 'sgm_uniform',
      positive: ['4', 0],
      negative: ['5', 0],
      latent_image: ['6', 0],
      // From noise: every step of the module's grid, whatever the segment's denoise.
      start_at_step: 0,
      end_at_step: 10000,
      return_with_leftover_noise: 'disable',
    });
    expect(graph['9']!.inputs['filename_prefix']).toBe('beatloom/seg_0000');
  });
});

describe('prompt blends: CLIPTextEncode per prompt, chained through ConditioningAverage', () => {
  it.each<[number[], number[]]>([
    [[1], []],
    [[0.5, 0.5], [0.5]],
    [[0.7, 0.3], [0.7]],
    [
      [0.5, 0.3, 0.2],
      [0.625, 0.8],
    ],
    [
      [0.25, 0.25, 0.25, 0.25],
      [0.5, 0.667, 0.75],
    ],
  ])('weights %j → conditioning_to_strength %j', (weights, strengths) => {
    expect(averageStrengths(weights)).toEqual(strengths);
  });

  it.each<[number[]]>([[[0.5, 0.3, 0.2]], [[0.4, 0.3, 0.2, 0.1]], [[0.34, 0.33, 0.33]], [[0.9, 0.05, 0.05]]])(
    'the chain for %j weighs every prompt by its share, as ConditioningAverage computes (to · s + from · (1 − s))',
    (weights) => {
      const strengths = averageStrengths(weights);
      let effective = [weights[0]! / weights[0]!];
      strengths.forEach((strength) => (effective = [...effective.map((w) => w * strength), 1 - strength]));
      effective.forEach((w, i) => expect(w).toBeCloseTo(weights[i]!, 3));
    },
  );

  it('sums the weights of equal texts and orders them strongest first', () => {
    const blend = [
      { prompt: 'a', negativePrompt: 'n1', weight: 0.4 },
      { prompt: 'b', negativePrompt: 'n2', weight: 0.35 },
      { prompt: 'a', negativePrompt: 'n2', weight: 0.25 },
    ];
    expect(blendTexts(blend, (e) => e.prompt)).toEqual([
      { text: 'a', weight: 0.65 },
      { text: 'b', weight: 0.35 },
    ]);
    expect(blendTexts(blend, (e) => e.negativePrompt)).toEqual([
      { text: 'n2', weight: 0.6 },
      { text: 'n1', weight: 0.4 },
    ]);
  });

  it('two prompts with one negative: the strongest in node 4, the other averaged into it; one negative encode', () => {
    const job = segmentJob({
      prompt: 'neon city',
      promptBlend: [
        { prompt: 'neon city', negativePrompt: 'blurry', weight: 0.7 },
        { prompt: 'calm ocean', negativePrompt: 'blurry', weight: 0.3 },
      ],
    });
    const graph = buildSegmentGraph(job, FIXTURE_SETTINGS);
    const plain = buildSegmentGraph(segmentJob({ prompt: 'neon city' }), FIXTURE_SETTINGS);
    expect(graph).toEqual({
      ...plain,
      '20': { class_type: 'CLIPTextEncode', inputs: { clip: ['1', 1], text: 'calm ocean' } },
      '21': {
        class_type: 'ConditioningAverage',
        inputs: { conditioning_to: ['4', 0], conditioning_from: ['20', 0], conditioning_to_strength: 0.7 },
      },
      '7': { ...plain['7']!, inputs: { ...plain['7']!.inputs, positive: ['21', 0], negative: ['5', 0] } },
    });
  });

  it('three prompts with two negatives, after the LoRAs: every node exactly', () => {
    const settings = {
      ...FIXTURE_SETTINGS,
      loras: [{ name: 'style.safetensors', strengthModel: 0.8, strengthClip: 0.6 }],
    };
    const job = segmentJob({
      prompt: 'A',
      negativePrompt: 'n1',
      promptBlend: [
        { prompt: 'A', negativePrompt: 'n1', weight: 0.5 },
        { prompt: 'B', negativePrompt: 'n2', weight: 0.3 },
        { prompt: 'C', negativePrompt: 'n1', weight: 0.2 },
      ],
      loras: [{ name: 'add_detail', strength: 0.45 }],
    });
    const graph = buildSegmentGraph(job, settings, undefined, new Map([['add_detail', 'add_detail.safetensors']]));
    const clip = ['21', 1];
    expect(graph['20']).toEqual({
      class_type: 'LoraLoader',
      inputs: {
        model: ['1', 0],
        clip: ['1', 1],
        lora_name: 'style.safetensors',
        strength_model: 0.8,
        strength_clip: 0.6,
      },
    });
    expect(graph['21']).toEqual({
      class_type: 'LoraLoader',
      inputs: {
        model: ['20', 0],
        clip: ['20', 1],
        lora_name: 'add_detail.safetensors',
        strength_model: 0.45,
        strength_clip: 0.45,
      },
    });
    expect(graph['4']).toEqual({ class_type: 'CLIPTextEncode', inputs: { clip, text: 'A' } });
    expect(graph['22']).toEqual({ class_type: 'CLIPTextEncode', inputs: { clip, text: 'B' } });
    expect(graph['23']).toEqual({
      class_type: 'ConditioningAverage',
      inputs: { conditioning_to: ['4', 0], conditioning_from: ['22', 0], conditioning_to_strength: 0.625 },
    });
    expect(graph['24']).toEqual({ class_type: 'CLIPTextEncode', inputs: { clip, text: 'C' } });
    expect(graph['25']).toEqual({
      class_type: 'ConditioningAverage',
      inputs: { conditioning_to: ['23', 0], conditioning_from: ['24', 0], conditioning_to_strength: 0.8 },
    });
    expect(graph['5']).toEqual({ class_type: 'CLIPTextEncode', inputs: { clip, text: 'n1' } });
    expect(graph['26']).toEqual({ class_type: 'CLIPTextEncode', inputs: { clip, text: 'n2' } });
    expect(graph['27']).toEqual({
      class_type: 'ConditioningAverage',
      inputs: { conditioning_to: ['5', 0], conditioning_from: ['26', 0], conditioning_to_strength: 0.7 },
    });
    expect(graph['3']!.inputs['model']).toEqual(['21', 0]);
    expect(graph['7']!.inputs).toMatchObject({ positive: ['25', 0], negative: ['27', 0] });
    expect(Object.keys(graph).sort((a, b) => Number(a) - Number(b))).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '14',
      '20',
      '21',
      '22',
      '23',
      '24',
      '25',
      '26',
      '27',
      '1001',
    ]);
  });

  it('one prompt under two negatives: one positive encode, the negatives averaged', () => {
    const job = segmentJob({
      promptBlend: [
        { prompt: 'neon city at night', negativePrompt: 'blurry', weight: 0.6 },
        { prompt: 'neon city at night', negativePrompt: 'people', weight: 0.4 },
      ],
    });
    const graph = buildSegmentGraph(job, FIXTURE_SETTINGS);
    expect(graph['20']).toEqual({ class_type: 'CLIPTextEncode', inputs: { clip: ['1', 1], text: 'people' } });
    expect(graph['21']).toEqual({
      class_type: 'ConditioningAverage',
      inputs: { conditioning_to: ['5', 0], conditioning_from: ['20', 0], conditioning_to_strength: 0.6 },
    });
    expect(graph['7']!.inputs).toMatchObject({ positive: ['4', 0], negative: ['21', 0] });
    expect(graph['22']).toBeUndefined();
  });
});

describe('LoRAs: the config file’s and the mapping’s', () => {
  const config = [
    { name: 'style.safetensors', strengthModel: 0.8, strengthClip: 0.6 },
    { name: 'add_detail.safetensors', strengthModel: 1, strengthClip: 0.5 },
  ];

  it.each<[string, Array<{ name: string; strength: number }>, ReadonlyMap<string, string>, unknown[]]>([
    ['none from the mapping: the config file’s as they are', [], new Map(), config],
    [
      'the mapping drives one the config file names: its strength replaces both of the config’s',
      [{ name: 'add_detail', strength: 0.25 }],
      new Map([['add_detail', 'add_detail.safetensors']]),
      [config[0], { name: 'add_detail.safetensors', strengthModel: 0.25, strengthClip: 0.25 }],
    ],
    [
      'mapping-only LoRAs follow in the mapping’s order',
      [
        { name: 'glow', strength: 0.5 },
        { name: 'grain.pt', strength: -0.3 },
      ],
      new Map([['glow', 'fx/glow.safetensors']]),
      [
        ...config,
        { name: 'fx/glow.safetensors', strengthModel: 0.5, strengthClip: 0.5 },
        { name: 'grain.pt', strengthModel: -0.3, strengthClip: -0.3 },
      ],
    ],
  ])('%s', (_what, loras, files, expected) => {
    expect(segmentLoras(config, segmentJob({ loras }), files)).toEqual(expected);
  });

  it.each([
    [0.12345, 0.123],
    [-0.6666, -0.667],
    [250, 100],
    [-101, -100],
  ])('strength %d goes to LoraLoader as %d (ComfyUI’s limits are ±100)', (value, sent) => {
    expect(loraStrength(value)).toBe(sent);
  });
});

describe('settings', () => {
  it.each([
    ['animatediff_lightning_1step_comfyui.safetensors', 1],
    ['animatediff_lightning_2step_comfyui.safetensors', 2],
    ['animatediff_lightning_4step_comfyui.safetensors', 4],
    ['animatediff_lightning_8step_comfyui.safetensors', 8],
    ['mm_sd_v15_v2.ckpt', undefined],
  ])('steps of %s: %s', (name, steps) => {
    expect(lightningSteps(name)).toBe(steps);
  });

  it('takes steps from the motion module unless given, and the model card defaults otherwise', () => {
    expect(
      resolveComfySettings({ url: 'a', motionModel: 'animatediff_lightning_8step_comfyui.safetensors' }).steps,
    ).toBe(8);
    expect(
      resolveComfySettings({ url: 'a', motionModel: 'animatediff_lightning_8step_comfyui.safetensors', steps: 6 })
        .steps,
    ).toBe(6);
    expect(resolveComfySettings({ url: 'a', motionModel: 'mm_sd_v15_v2.ckpt' }).steps).toBe(4);
    const defaults = resolveComfySettings({ url: ['http://a:8188', 'b:8188,c'] });
    expect(defaults).toMatchObject({
      urls: ['http://a:8188', 'http://b:8188', 'http://c'],
      checkpoint: undefined,
      motionModel: 'animatediff_lightning_4step_comfyui.safetensors',
      betaSchedule: 'sqrt_linear (AnimateDiff)',
      steps: 4,
      sampler: 'euler',
      scheduler: 'sgm_uniform',
      loras: [],
    });
  });

  it.each([
    ['127.0.0.1:8188', 'http://127.0.0.1:8188'],
    ['http://gpu:8188/', 'http://gpu:8188'],
    ['https://box.example/comfy/', 'https://box.example/comfy'],
    ['HTTP://Gpu:8188', 'http://gpu:8188'],
  ])('normalizes %s to %s', (text, url) => {
    expect(normalizeServerUrl(text)).toBe(url);
  });

  it.each([
    [{ url: 'ftp://gpu:21' }, /invalid ComfyUI URL: 'ftp:\/\/gpu:21'/],
    [{ url: 'http://gpu:8188?x=1' }, /invalid ComfyUI URL/],
    [{}, /no ComfyUI server given/],
    [{ url: ['http://a:1', 'a:1'] }, /listed twice: http:\/\/a:1/],
    [{ url: 'a', workflow: '/w.json' }, /has no map/],
    [{ url: 'a', workflowMap: '/m.yaml' }, /without a workflow/],
  ])('rejects %j', (config, message) => {
    expect(() => resolveComfySettings(config)).toThrow(message);
  });
});

describe('bring your own workflow', () => {
  const workflow = (): Record<string, { class_type: string; inputs: Record<string, unknown> }> => ({
    '3': {
      class_type: 'KSampler',
      inputs: {
        model: ['12', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
        seed: 1,
        steps: 20,
        cfg: 7,
        sampler_name: 'euler',
        scheduler: 'normal',
        denoise: 1,
      },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'dreamshaper_8.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 16 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'ugly', clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'ComfyUI' } },
    '12': {
      class_type: 'ADE_AnimateDiffLoaderGen1',
      inputs: { model: ['4', 0], model_name: 'x.ckpt', beta_schedule: 'autoselect', scale_multival: ['14', 0] },
    },
    '13': { class_type: 'ADE_ValueScheduling', inputs: { values: '0=1', max_length: 16 } },
    '14': { class_type: 'ADE_MultivalDynamicFloats', inputs: { floats: ['13', 1] } },
  });
  const map = {
    output: '9',
    prompt: '6.text',
    negative: '7.text',
    seed: '3.seed',
    frameCount: ['5.batch_size', '13.max_length'],
    denoise: '3.denoise',
    motionScale: '13.values',
    width: '5.width',
    height: '5.height',
    cfg: '3.cfg',
  };

  it('fills exactly the mapped inputs and leaves the rest of the user’s graph alone', () => {
    const bound = bindWorkflowMap(workflow(), map, 'wf.json');
    const job = {
      ...JOB,
      index: 7,
      width: 256,
      height: 128,
      frameCount: 4,
      seed: 99,
      cfg: 1.5,
      motion: { kind: 'perFrame' as const, scales: [1, 1.5, 2, 2] },
    };
    const filled = fillCustomWorkflow(bound, job, { initImage: undefined, fromInit: false, steps: 4 });
    const expected = workflow();
    expected['3']!.inputs = { ...expected['3']!.inputs, seed: 99, cfg: 1.5, denoise: 1 };
    expected['5']!.inputs = { width: 256, height: 128, batch_size: 4 };
    expected['6']!.inputs['text'] = 'neon city at night';
    expected['7']!.inputs['text'] = 'blurry';
    expected['9']!.inputs['filename_prefix'] = 'beatloom/seg_0007';
    expected['13']!.inputs = { values: '0=1, 1=1.5, 2=2, 3=2', max_length: 4 };
    expect(filled).toEqual(expected);
    // The bound workflow itself is untouched: every segment starts from the user's graph.
    expect(bound.graph).toEqual(workflow());
    expect(motionSchedule([0.5, 0.25])).toBe('0=0.5, 1=0.25');
  });

  it('gives a mapped LoRA input the segment’s strength and a blending segment its strongest prompt; reads the workflow’s own steps', () => {
    const graph = {
      ...workflow(),
      '20': {
        class_type: 'LoraLoader',
        inputs: {
          model: ['4', 0],
          clip: ['4', 1],
          lora_name: 'add_detail.safetensors',
          strength_model: 1,
          strength_clip: 1,
        },
      },
    };
    const bound = bindWorkflowMap(
      graph,
      { ...map, loras: { add_detail: ['20.strength_model', '20.strength_clip'] } },
      'wf.json',
    );
    expect(bound.loras).toEqual({
      add_detail: [
        { node: '20', input: 'strength_model' },
        { node: '20', input: 'strength_clip' },
      ],
    });
    const job = {
      ...JOB,
      prompt: 'neon city',
      negativePrompt: 'blurry',
      promptBlend: [
        { prompt: 'neon city', negativePrompt: 'blurry', weight: 0.6 },
        { prompt: 'calm ocean', negativePrompt: 'people', weight: 0.4 },
      ],
      loras: [
        { name: 'add_detail', strength: 0.4567 },
        { name: 'unmapped', strength: 0.9 },
      ],
    };
    const filled = fillCustomWorkflow(bound, job, { initImage: undefined, fromInit: false, steps: 4 });
    expect(filled['20']!.inputs).toEqual({
      model: ['4', 0],
      clip: ['4', 1],
      lora_name: 'add_detail.safetensors',
      strength_model: 0.457,
      strength_clip: 0.457,
    });
    expect(filled['6']!.inputs['text']).toBe('neon city');
    expect(filled['7']!.inputs['text']).toBe('blurry');
    expect(unmappedLoras(bound, ['add_detail', 'unmapped'])).toEqual(['unmapped']);
    // No steps target: the workflow samples with its own (node 3's 20).
    expect(workflowOwnSteps(bound)).toBe(20);
    expect(() => bindWorkflowMap(graph, { ...map, loras: { add_detail: '20.strength' } }, 'wf.json')).toThrow(
      /^workflow map loras.add_detail: node 20 \(LoraLoader\) has no input 'strength' \(it has model, clip, lora_name, strength_model, strength_clip\)$/,
    );
  });

  it.each([
    [
      { ...map, prompt: '66.text' },
      /workflow map prompt: wf.json has no node 66 \(it has 3, 4, 5, 6, 7, 8, 9, 12, 13, 14\)/,
    ],
    [
      { ...map, prompt: '6.txt' },
      /workflow map prompt: node 6 \(CLIPTextEncode\) has no input 'txt' \(it has text, clip\)/,
    ],
    [{ ...map, seed: '3.model' }, /input 'model' of node 3 \(KSampler\) is connected to node 12/],
    [{ ...map, output: '99' }, /workflow map output: wf.json has no node 99/],
  ])('rejects a map that does not fit the workflow: %j', (bad, message) => {
    expect(() => bindWorkflowMap(workflow(), bad, 'wf.json')).toThrow(message);
  });

  it('takes per-frame motion when every motionScale target is a schedule, one value when none is; refuses a map with both', () => {
    expect(bindWorkflowMap(workflow(), map, 'wf.json').perFrameMotionScale).toBe(true);
    const { cfg: _cfg, ...withoutCfg } = map;
    const single = bindWorkflowMap(workflow(), { ...withoutCfg, motionScale: '3.cfg' }, 'wf.json');
    expect(single.perFrameMotionScale).toBe(false);
    expect(
      fillCustomWorkflow(
        single,
        { ...JOB, motion: { kind: 'constant', scale: 1.2345 } },
        { initImage: undefined, fromInit: false, steps: 4 },
      )['3']!.inputs['cfg'],
    ).toBe(1.235);
    // A schedule target takes a constant job too: the same value at every frame.
    const scheduled = bindWorkflowMap(workflow(), map, 'wf.json');
    const filled = fillCustomWorkflow(
      scheduled,
      { ...JOB, frameCount: 3, motion: { kind: 'constant', scale: 0.5 } },
      { initImage: undefined, fromInit: false, steps: 4 },
    );
    expect(filled['13']!.inputs['values']).toBe('0=0.5, 1=0.5, 2=0.5');
    expect(() => bindWorkflowMap(workflow(), { ...map, motionScale: ['13.values', '3.cfg'] }, 'wf.json')).toThrow(
      "workflow map motionScale: 13.values takes a value per frame, 3.cfg one value; beatloom gives a segment's motion in one form",
    );
  });

  it('explains a UI-format workflow and accepts a saved POST /prompt body', () => {
    expect(() => parseWorkflowGraph({ nodes: [], links: [] }, 'ui.json')).toThrow(
      /ui.json is a ComfyUI UI workflow, not the API format/,
    );
    expect(parseWorkflowGraph({ prompt: workflow(), client_id: 'x' }, 'body.json')).toEqual(workflow());
    expect(() => parseWorkflowGraph({ '1': { inputs: {} } }, 'bad.json')).toThrow(/bad.json: node 1: class_type/);
  });

  it('loads the workflow and a YAML map from files, with file:line errors in the map', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wf-'));
    await writeFile(join(dir, 'wf.json'), JSON.stringify(workflow()));
    await writeFile(join(dir, 'map.yaml'), 'output: "9"\nprompt: 6.text\nseed: 3.seed\nframeCount: 5.batch_size\n');
    const loaded = await loadCustomWorkflow({ path: join(dir, 'wf.json'), map: join(dir, 'map.yaml') });
    expect(loaded.targets.frameCount).toEqual([{ node: '5', input: 'batch_size' }]);
    await writeFile(join(dir, 'bad.yaml'), 'output: "9"\nprompt: 6.text\nseed: 3.seed\nframecount: 5.batch_size\n');
    await expect(loadCustomWorkflow({ path: join(dir, 'wf.json'), map: join(dir, 'bad.yaml') })).rejects.toThrow(
      /bad.yaml:1:1: frameCount: missing \(and 1 more\)$/,
    );
  });
});
