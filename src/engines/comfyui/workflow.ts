/**
 * The built-in API-format graph for one segment: AnimateDiff-Lightning through
 * AnimateDiff-Evolved, as in the AnimateDiff-Lightning model card's ComfyUI workflow.
 *
 *   CheckpointLoaderSimple ─▶ LoraLoader… ─▶ ADE_AnimateDiffLoaderGen1 ─▶ KSampler ─▶ VAEDecode ─▶ SaveImage
 *                          ╰▶ CLIPTextEncode (positive, negative) ──────────╯   ▲
 *   EmptyLatentImage (frames)  or  LoadImage ─▶ VAEEncode ─▶ RepeatLatentBatch ─╯
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
import { motionScaleAt, type SegmentJob } from '../engine.js';
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
} as const;
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
function graphMotion(job: SegmentJob): { readonly perFrame: number[] } | { readonly value: number } {
  switch (job.motion.kind) {
    case 'constant':
      return { value: motionScaleValue(job.motion.scale) };
    case 'perFrame': {
      const values = Array.from({ length: job.frameCount }, (_, i) => motionScaleValue(motionScaleAt(job.motion, i)));
      return values.every((v) => v === values[0]) ? { value: values[0]! } : { perFrame: values };
    }
  }
}

/**
 * The graph for `job`. With `initImage` (the name LoadImage knows the uploaded file by) the
 * latent is that image encoded and repeated to the segment's length and re-noised by the job's
 * denoise; without it the segment starts from an empty latent, at denoise 1. `loraFiles` names
 * the server's file for each LoRA the mapping drives (see segmentLoras).
 */
export function buildSegmentGraph(
  job: SegmentJob,
  settings: GraphSettings,
  initImage?: string,
  loraFiles?: ReadonlyMap<string, string>,
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

  const motion = graphMotion(job);
  if ('perFrame' in motion) {
    graph[NODE.motionSchedule] = {
      class_type: 'ADE_ValueScheduling',
      inputs: { values: motionSchedule(motion.perFrame), max_length: job.frameCount },
    };
    // Output 1 of ADE_ValueScheduling is FLOATS: one value per frame.
    graph[NODE.motionScale] = { class_type: 'ADE_MultivalDynamicFloats', inputs: { floats: [NODE.motionSchedule, 1] } };
  } else {
    graph[NODE.motionScale] = {
      class_type: 'ADE_MultivalDynamic',
      inputs: { float_val: motion.value },
    };
  }
  graph[NODE.animateDiff] = {
    class_type: 'ADE_AnimateDiffLoaderGen1',
    inputs: {
      model: [modelFrom, 0],
      model_name: settings.motionModel,
      beta_schedule: settings.betaSchedule,
      scale_multival: [NODE.motionScale, 0],
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
  const positives = blendTexts(job.promptBlend, (entry) => entry.prompt);
  const negatives = blendTexts(job.promptBlend, (entry) => entry.negativePrompt);
  const positiveFrom = encodeBlend(NODE.positive, positives.length > 1 ? positives : [{ text: job.prompt, weight: 1 }]);
  const negativeFrom = encodeBlend(
    NODE.negative,
    negatives.length > 1 ? negatives : [{ text: job.negativePrompt, weight: 1 }],
  );

  let latentFrom: string;
  if (initImage === undefined) {
    graph[NODE.emptyLatent] = {
      class_type: 'EmptyLatentImage',
      inputs: { width: job.width, height: job.height, batch_size: job.frameCount },
    };
    latentFrom = NODE.emptyLatent;
  } else {
    graph[NODE.loadInit] = { class_type: 'LoadImage', inputs: { image: initImage } };
    graph[NODE.encodeInit] = {
      class_type: 'VAEEncode',
      inputs: { pixels: [NODE.loadInit, 0], vae: [NODE.checkpoint, 2] },
    };
    graph[NODE.repeatInit] = {
      class_type: 'RepeatLatentBatch',
      inputs: { samples: [NODE.encodeInit, 0], amount: job.frameCount },
    };
    latentFrom = NODE.repeatInit;
  }
  graph[NODE.sampler] = {
    class_type: 'KSampler',
    inputs: {
      model: [NODE.animateDiff, 0],
      positive: [positiveFrom, 0],
      negative: [negativeFrom, 0],
      latent_image: [latentFrom, 0],
      seed: job.seed,
      steps: settings.steps,
      cfg: job.cfg,
      sampler_name: settings.sampler,
      scheduler: settings.scheduler,
      // From an empty latent anything below 1 leaves unconverged noise: denoise is for init images.
      denoise: initImage === undefined ? 1 : job.denoise,
    },
  };
  graph[NODE.decode] = { class_type: 'VAEDecode', inputs: { samples: [NODE.sampler, 0], vae: [NODE.checkpoint, 2] } };
  graph[NODE.save] = {
    class_type: 'SaveImage',
    inputs: { images: [NODE.decode, 0], filename_prefix: saveFilePrefix(job.index) },
  };
  return graph;
}
