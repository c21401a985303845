/**
 * The built-in API-format graph for one segment: AnimateDiff-Lightning through
 * AnimateDiff-Evolved, as in the AnimateDiff-Lightning model card's ComfyUI workflow.
 *
 *   CheckpointLoaderSimple ─▶ LoraLoader… ─▶ ADE_AnimateDiffLoaderGen1 ─▶ KSamplerAdvanced ─▶ VAEDecode ─▶ SaveImage
 *     (sample settings: batch_offset,      ╰▶ CLIPTextEncode / ADE_PromptScheduling ─╯   ▲
 *      context options for a take, motion LoRAs, scale and effect multivals)            │
 *   EmptyLatentImage (frames)                                                          │
 *   or LoadImage ─▶ VAEEncode ─▶ RepeatLatentBatch (chain / anchor)                    │
 *   or LoadImage… ─▶ ImageBatch ─▶ VAEEncode ─▶ LatentBatch(held, last held repeated)  │
 *        ─▶ SetLatentNoiseMask (0 on held frames, 1 on the rest) ──────────────────────╯
 *
 * Noise is addressed by frame: ADE's sample settings draw the noise of `batch_offset + frames`
 * frames from the seed and keep the last `frames` (seed_gen comfy), batch_offset being the job's
 * noiseFrame. Denoise is a first step on the module's own grid (KSamplerAdvanced start_at_step),
 * never a re-spaced shorter schedule.
 *
 * A segment that blends prompts encodes each one and averages them, as ComfyUI users do:
 * CLIPTextEncode per prompt, chained through ConditioningAverage with normalised weights.
 *
 * Node ids are those of the graphs that ran on a real ComfyUI 0.8.0 with AnimateDiff-Evolved
 * (fixtures 80 and 81), so a segment without LoRAs or blends is exactly that graph; LoRAs and
 * then blend nodes take ids from 20 up, the per-frame motion schedule id 13.
 */
import type { ComfyLora } from './comfy-config.js';
import type { PromptWeight } from '../../keyframes/keyframes-schema.js';
import { motionScaleAt, startStepFor, type PromptKey, type SegmentJob, type SegmentMotion } from '../engine.js';
import type { ApiGraph, ApiNode } from './comfy-schemas.js';
import type { ComfySettings } from './settings.js';

export type GraphSettings = Pick<
  ComfySettings,
  'motionModel' | 'betaSchedule' | 'steps' | 'sampler' | 'scheduler' | 'loras'
> & {
  readonly checkpoint: string;
};

export const NODE = {
  checkpoint: '1',
  motionScale: '2',
  animateDiff: '3',
  positive: '4',
  negative: '5',
  emptyLatent: '6',
  sampler: '7',
  decode: '8',
  save: '9',
  loadInit: '10',
  encodeInit: '11',
  repeatInit: '12',
  motionSchedule: '13',
  sampleSettings: '14',
  contextOptions: '15',
  effect: '16',
  effectSchedule: '17',
  encodeHeld: '18',
  lastHeld: '19',
  // Far above the ids handed out from FIRST_EXTRA_ID.
  loadHeldLatent: '1000',
  saveLatent: '1001',
} as const;

/** Where the graph saves its latents (SaveLatent, under the server's output folder). */
export function latentFilePrefix(segmentIndex: number): string {
  return `beatloom/latents/seg_${String(segmentIndex).padStart(4, '0')}`;
}

/**
 * What a continuation holds: its predecessor's latents (a .latent file the previous segment's
 * SaveLatent wrote, uploaded to the input folder), from local frame `from` on — the exact
 * latents, so the held frames decode to the very frames they continue — or, when the
 * predecessor left no latents, its frames as uploaded images, encoded again.
 */
export type HeldInput =
  | { readonly kind: 'latent'; readonly name: string; readonly from: number }
  | { readonly kind: 'images'; readonly names: readonly string[] };
/** AnimateDiff-Evolved's context window for takes: the module's 16 frames, 4 shared (what users run). */
export const TAKE_CONTEXT = { length: 16, overlap: 4 } as const;
/** ADE_AnimateDiffLoRALoader's strength limits. */
const MOTION_LORA_STRENGTH_LIMIT = 10;
const FIRST_EXTRA_ID = 20;
/** LoraLoader's strength_model / strength_clip limits in ComfyUI (nodes.py). */
const LORA_STRENGTH_LIMIT = 100;

/** Motion scale values go to the server with 3 decimals (ADE's step is 0.001) and never below 0. */
export function motionScaleValue(value: number): number {
  return Math.max(0, Math.round(value * 1000) / 1000);
}

/**
 * ADE_ValueScheduling's "pythonic" format, one entry per frame: `0=1.1, 1=1.25, …`
 * (AnimateDiff-Evolved scheduling.py, `_regex_value_pyth`).
 */
export function motionSchedule(values: readonly number[]): string {
  return values.map((value, frame) => `${frame}=${motionScaleValue(value)}`).join(', ');
}

export function saveFilePrefix(segmentIndex: number): string {
  return `beatloom/seg_${String(segmentIndex).padStart(4, '0')}`;
}

/** Three decimals, like the UI's 0.01 steps with room to spare. */
function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** A LoRA strength as LoraLoader takes it: within ComfyUI's ±100, three decimals. */
export function loraStrength(value: number): number {
  return round3(Math.max(-LORA_STRENGTH_LIMIT, Math.min(LORA_STRENGTH_LIMIT, value)));
}

/**
 * The LoRAs of one segment, one LoraLoader each. The config file's LoRAs come first, in its
 * order, at their fixed strengths; a LoRA the mapping drives gets the segment's strength for
 * model and CLIP alike — replacing the config file's strengths when both name the same file
 * (the mapping is the more specific instruction) — and the mapping's other LoRAs follow in its
 * order. `loraFiles` maps a mapping's LoRA name to the server's file (see preflight's
 * resolveLoraFile); a name it lacks is used as it is.
 */
export function segmentLoras(
  config: readonly ComfyLora[],
  job: SegmentJob,
  loraFiles: ReadonlyMap<string, string> = new Map(),
): ComfyLora[] {
  const driven = new Map<string, number>();
  for (const lora of job.loras) driven.set(loraFiles.get(lora.name) ?? lora.name, loraStrength(lora.strength));
  const loras = config.map((lora): ComfyLora => {
    const strength = driven.get(lora.name);
    return strength === undefined ? lora : { name: lora.name, strengthModel: strength, strengthClip: strength };
  });
  for (const [name, strength] of driven) {
    if (!config.some((lora) => lora.name === name))
      loras.push({ name, strengthModel: strength, strengthClip: strength });
  }
  return loras;
}

export interface WeightedText {
  readonly text: string;
  readonly weight: number;
}

/**
 * The distinct texts of a blend with their summed weights, strongest first (ties keep the
 * blend's order): two scheduled entries with the same prompt but different negatives are one
 * positive prompt, and a blend whose entries share a negative has one negative.
 */
export function blendTexts(blend: readonly PromptWeight[], text: (entry: PromptWeight) => string): WeightedText[] {
  const weights = new Map<string, number>();
  for (const entry of blend) {
    if (entry.weight > 0) weights.set(text(entry), (weights.get(text(entry)) ?? 0) + entry.weight);
  }
  return [...weights].map(([t, weight]) => ({ text: t, weight })).sort((a, b) => b.weight - a.weight);
}

/**
 * `conditioning_to_strength` of each ConditioningAverage in the chain that blends `weights`:
 * the running average of the first k texts (weight W) meets text k+1 (weight w) with strength
 * W / (W + w), so the end result weighs every text by its share of the total.
 */
export function averageStrengths(weights: readonly number[]): number[] {
  const strengths: number[] = [];
  let total = weights[0] ?? 0;
  for (const weight of weights.slice(1)) {
    strengths.push(round3(total / (total + weight)));
    total += weight;
  }
  return strengths;
}

/**
 * The values the graph's motion scale takes: one per frame when the job has them and they
 * differ, else one. Every reduction of a segment's curve (mean, max, min, start, onset) lies
 * between its lowest and highest frame, so when every frame rounds to one value, the segment's
 * scale rounds to that value too.
 */
function graphMotion(
  job: SegmentJob,
  motion: SegmentMotion,
): { readonly perFrame: number[] } | { readonly value: number } {
  switch (motion.kind) {
    case 'constant':
      return { value: motionScaleValue(motion.scale) };
    case 'perFrame': {
      const values = Array.from({ length: job.frameCount }, (_, i) => motionScaleValue(motionScaleAt(motion, i)));
      return values.every((v) => v === values[0]) ? { value: values[0]! } : { perFrame: values };
    }
  }
}

/** A multival node for `motion` at `id` (with its schedule at `scheduleId` when it varies per frame). */
function addMultival(
  graph: Record<string, ApiNode>,
  job: SegmentJob,
  motion: SegmentMotion,
  id: string,
  scheduleId: string,
): void {
  const values = graphMotion(job, motion);
  if ('perFrame' in values) {
    graph[scheduleId] = {
      class_type: 'ADE_ValueScheduling',
      inputs: { values: motionSchedule(values.perFrame), max_length: job.frameCount },
    };
    // Output 1 of ADE_ValueScheduling is FLOATS: one value per frame.
    graph[id] = { class_type: 'ADE_MultivalDynamicFloats', inputs: { floats: [scheduleId, 1] } };
  } else {
    graph[id] = { class_type: 'ADE_MultivalDynamic', inputs: { float_val: values.value } };
  }
}

/**
 * ADE_PromptScheduling's JSON format for a take's keys: `"0": "a", "24": "b"`, interpolated
 * between keys. Its parser takes no double quote inside a prompt (scheduling.py
 * `_regex_prompt_json`), so those become single quotes.
 */
export function promptScheduleText(keys: readonly PromptKey[], text: (key: PromptKey) => string): string {
  return keys.map((key) => `"${key.frame}": "${text(key).replaceAll('"', "'")}"`).join(',\n');
}

/**
 * The graph for `job`. With `initImage` (the name LoadImage knows the uploaded file by) the
 * latent is that image encoded and repeated to the segment's length; with `held` (a
 * continuation) the held latents and the last of them repeated, under the hold mask; either
 * starts at the step the job's denoise gives (startStepFor). Without them the segment starts
 * from an empty latent at step 0. `loraFiles` / `motionLoraFiles` name the server's file for
 * each (motion) LoRA the mapping drives (see segmentLoras).
 */
export function buildSegmentGraph(
  job: SegmentJob,
  settings: GraphSettings,
  initImage?: string,
  loraFiles?: ReadonlyMap<string, string>,
  held?: HeldInput,
  motionLoraFiles?: ReadonlyMap<string, string>,
): ApiGraph {
  const graph: Record<string, ApiNode> = {};
  let nextId = FIRST_EXTRA_ID;
  const newId = (): string => String(nextId++);
  graph[NODE.checkpoint] = { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: settings.checkpoint } };

  let modelFrom: string = NODE.checkpoint;
  let clipFrom: string = NODE.checkpoint;
  for (const lora of segmentLoras(settings.loras, job, loraFiles)) {
    const id = newId();
    graph[id] = {
      class_type: 'LoraLoader',
      inputs: {
        model: [modelFrom, 0],
        clip: [clipFrom, 1],
        lora_name: lora.name,
        strength_model: lora.strengthModel,
        strength_clip: lora.strengthClip,
      },
    };
    modelFrom = id;
    clipFrom = id;
  }

  let motionLoraFrom: string | undefined;
  for (const lora of job.motionLoras ?? []) {
    const id = newId();
    graph[id] = {
      class_type: 'ADE_AnimateDiffLoRALoader',
      inputs: {
        name: motionLoraFiles?.get(lora.name) ?? lora.name,
        strength: round3(Math.max(0, Math.min(MOTION_LORA_STRENGTH_LIMIT, lora.strength))),
        ...(motionLoraFrom ? { prev_motion_lora: [motionLoraFrom, 0] } : {}),
      },
    };
    motionLoraFrom = id;
  }
  addMultival(graph, job, job.motion, NODE.motionScale, NODE.motionSchedule);
  if (job.effect) addMultival(graph, job, job.effect, NODE.effect, NODE.effectSchedule);
  graph[NODE.sampleSettings] = {
    class_type: 'ADE_AnimateDiffSamplingSettings',
    inputs: { batch_offset: job.noiseFrame, noise_type: 'default', seed_gen: 'comfy', seed_offset: 0 },
  };
  const take = job.continuity === 'take';
  if (take) {
    graph[NODE.contextOptions] = {
      class_type: 'ADE_StandardUniformContextOptions',
      inputs: {
        context_length: TAKE_CONTEXT.length,
        context_stride: 1,
        context_overlap: TAKE_CONTEXT.overlap,
        fuse_method: 'pyramid',
        use_on_equal_length: false,
        start_percent: 0,
        guarantee_steps: 1,
      },
    };
  }
  graph[NODE.animateDiff] = {
    class_type: 'ADE_AnimateDiffLoaderGen1',
    inputs: {
      model: [modelFrom, 0],
      model_name: settings.motionModel,
      beta_schedule: settings.betaSchedule,
      ...(take ? { context_options: [NODE.contextOptions, 0] } : {}),
      ...(motionLoraFrom ? { motion_lora: [motionLoraFrom, 0] } : {}),
      sample_settings: [NODE.sampleSettings, 0],
      scale_multival: [NODE.motionScale, 0],
      ...(job.effect ? { effect_multival: [NODE.effect, 0] } : {}),
    },
  };
  // The strongest prompt keeps the fixture's node id; each further one is averaged into it.
  const encodeBlend = (firstId: string, texts: readonly WeightedText[]): string => {
    let from = firstId;
    const strengths = averageStrengths(texts.map((t) => t.weight));
    texts.forEach(({ text }, i) => {
      const encodeId = i === 0 ? firstId : newId();
      graph[encodeId] = { class_type: 'CLIPTextEncode', inputs: { clip: [clipFrom, 1], text } };
      if (i === 0) return;
      const averageId = newId();
      graph[averageId] = {
        class_type: 'ConditioningAverage',
        inputs: {
          conditioning_to: [from, 0],
          conditioning_from: [encodeId, 0],
          conditioning_to_strength: strengths[i - 1]!,
        },
      };
      from = averageId;
    });
    return from;
  };
  // A take's prompt travel: one scheduled conditioning per frame (a side whose keys all agree is plainly encoded).
  const scheduled = (id: string, text: (key: PromptKey) => string): boolean => {
    const keys = job.promptSchedule;
    if (!keys || new Set(keys.map(text)).size < 2) return false;
    graph[id] = {
      class_type: 'ADE_PromptScheduling',
      inputs: { prompts: promptScheduleText(keys, text), clip: [clipFrom, 1], max_length: job.frameCount },
    };
    return true;
  };
  const positives = blendTexts(job.promptBlend, (entry) => entry.prompt);
  const negatives = blendTexts(job.promptBlend, (entry) => entry.negativePrompt);
  const positiveFrom = scheduled(NODE.positive, (key) => key.prompt)
    ? NODE.positive
    : encodeBlend(NODE.positive, positives.length > 1 ? positives : [{ text: job.prompt, weight: 1 }]);
  const negativeFrom = scheduled(NODE.negative, (key) => key.negativePrompt)
    ? NODE.negative
    : encodeBlend(NODE.negative, negatives.length > 1 ? negatives : [{ text: job.negativePrompt, weight: 1 }]);

  const latentFrom = addLatent(graph, job, initImage, held, newId);
  const fromImage = initImage !== undefined;
  graph[NODE.sampler] = {
    class_type: 'KSamplerAdvanced',
    inputs: {
      model: [NODE.animateDiff, 0],
      add_noise: 'enable',
      noise_seed: job.seed,
      steps: settings.steps,
      cfg: job.cfg,
      sampler_name: settings.sampler,
      scheduler: settings.scheduler,
      positive: [positiveFrom, 0],
      negative: [negativeFrom, 0],
      latent_image: [latentFrom, 0],
      // On the module's own timesteps: from noise at 0; from an image or held frames, denoise skips steps.
      start_at_step: startStepFor(job, settings.steps, fromImage),
      end_at_step: 10000,
      return_with_leftover_noise: 'disable',
    },
  };
  graph[NODE.decode] = { class_type: 'VAEDecode', inputs: { samples: [NODE.sampler, 0], vae: [NODE.checkpoint, 2] } };
  graph[NODE.save] = {
    class_type: 'SaveImage',
    inputs: { images: [NODE.decode, 0], filename_prefix: saveFilePrefix(job.index) },
  };
  // The latents too: the next segment continues from them exactly.
  graph[NODE.saveLatent] = {
    class_type: 'SaveLatent',
    inputs: { samples: [NODE.sampler, 0], filename_prefix: latentFilePrefix(job.index) },
  };
  return graph;
}

/** A mask batch of `held` frames at 0 (kept) and the rest at 1 (sampled), built from ComfyUI's core mask nodes. */
function addHoldMask(graph: Record<string, ApiNode>, job: SegmentJob, newId: () => string): string {
  const part = (value: number, amount: number): string => {
    const solid = newId();
    graph[solid] = { class_type: 'SolidMask', inputs: { value, width: job.width, height: job.height } };
    const image = newId();
    graph[image] = { class_type: 'MaskToImage', inputs: { mask: [solid, 0] } };
    const repeated = newId();
    graph[repeated] = { class_type: 'RepeatImageBatch', inputs: { image: [image, 0], amount } };
    return repeated;
  };
  const held = part(0, job.heldFrames);
  const free = part(1, job.frameCount - job.heldFrames);
  const batch = newId();
  graph[batch] = { class_type: 'ImageBatch', inputs: { image1: [held, 0], image2: [free, 0] } };
  const mask = newId();
  graph[mask] = { class_type: 'ImageToMask', inputs: { image: [batch, 0], channel: 'red' } };
  return mask;
}

/** The latent the sampler starts from: empty, an init image repeated, or held frames and the last one repeated under a mask. */
function addLatent(
  graph: Record<string, ApiNode>,
  job: SegmentJob,
  initImage: string | undefined,
  held: HeldInput | undefined,
  newId: () => string,
): string {
  if (held && job.heldFrames > 0) {
    if (job.heldFrames >= job.frameCount || (held.kind === 'images' && held.names.length !== job.heldFrames))
      throw new RangeError(`segment ${job.index + 1} holds ${job.heldFrames} of ${job.frameCount} frames`);
    if (held.kind === 'latent') {
      graph[NODE.loadHeldLatent] = { class_type: 'LoadLatent', inputs: { latent: held.name } };
      graph[NODE.encodeHeld] = {
        class_type: 'LatentFromBatch',
        inputs: { samples: [NODE.loadHeldLatent, 0], batch_index: held.from, length: job.heldFrames },
      };
      return addHeldLatent(graph, job, newId);
    }
    let images = '';
    held.names.forEach((name, i) => {
      const load = i === 0 ? NODE.loadInit : newId();
      graph[load] = { class_type: 'LoadImage', inputs: { image: name } };
      if (i === 0) {
        images = load;
        return;
      }
      const batch = newId();
      graph[batch] = { class_type: 'ImageBatch', inputs: { image1: [images, 0], image2: [load, 0] } };
      images = batch;
    });
    graph[NODE.encodeHeld] = { class_type: 'VAEEncode', inputs: { pixels: [images, 0], vae: [NODE.checkpoint, 2] } };
    return addHeldLatent(graph, job, newId);
  }
  if (initImage !== undefined) {
    graph[NODE.loadInit] = { class_type: 'LoadImage', inputs: { image: initImage } };
    graph[NODE.encodeInit] = {
      class_type: 'VAEEncode',
      inputs: { pixels: [NODE.loadInit, 0], vae: [NODE.checkpoint, 2] },
    };
    graph[NODE.repeatInit] = {
      class_type: 'RepeatLatentBatch',
      inputs: { samples: [NODE.encodeInit, 0], amount: job.frameCount },
    };
    return NODE.repeatInit;
  }
  graph[NODE.emptyLatent] = {
    class_type: 'EmptyLatentImage',
    inputs: { width: job.width, height: job.height, batch_size: job.frameCount },
  };
  return NODE.emptyLatent;
}

/** The held latents (NODE.encodeHeld) joined with the last of them repeated for the frames to come, under the hold mask. */
function addHeldLatent(graph: Record<string, ApiNode>, job: SegmentJob, newId: () => string): string {
  // The frames after the held ones start from the last held frame, re-noised by denoise.
  graph[NODE.lastHeld] = {
    class_type: 'LatentFromBatch',
    inputs: { samples: [NODE.encodeHeld, 0], batch_index: job.heldFrames - 1, length: 1 },
  };
  graph[NODE.repeatInit] = {
    class_type: 'RepeatLatentBatch',
    inputs: { samples: [NODE.lastHeld, 0], amount: job.frameCount - job.heldFrames },
  };
  const joined = newId();
  graph[joined] = {
    class_type: 'LatentBatch',
    inputs: { samples1: [NODE.encodeHeld, 0], samples2: [NODE.repeatInit, 0] },
  };
  const masked = newId();
  graph[masked] = {
    class_type: 'SetLatentNoiseMask',
    inputs: { samples: [joined, 0], mask: [addHoldMask(graph, job, newId), 0] },
  };
  return masked;
}
