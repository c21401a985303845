/**
 * The built-in API-format graph for one segment: AnimateDiff-Lightning through
 * AnimateDiff-Evolved, as in the AnimateDiff-Lightning model card's ComfyUI workflow.
 *
 *   CheckpointLoaderSimple ─▶ LoraLoader… ─▶ ADE_AnimateDiffLoaderGen1 ─▶ KSampler ─▶ VAEDecode ─▶ SaveImage
 *                          ╰▶ CLIPTextEncode (positive, negative) ──────────╯   ▲
 *   EmptyLatentImage (frames)  or  LoadImage ─▶ VAEEncode ─▶ RepeatLatentBatch ─╯
 *
 * Node ids are those of the graphs that ran on a real ComfyUI 0.8.0 with AnimateDiff-Evolved
 * (fixtures 80 and 81); LoRAs take ids from 20 up and the per-frame motion schedule id 13.
 */
import type { SegmentJob } from '../engine.js';
import type { ApiGraph, ApiNode } from './comfy-schemas.js';
import type { ComfySettings } from './settings.js';

export type GraphSettings = Pick<ComfySettings, 'motionModel' | 'betaSchedule' | 'steps' | 'sampler' | 'scheduler' | 'loras'> & {
  readonly checkpoint: string;
  /** The server has ADE_ValueScheduling and ADE_MultivalDynamicFloats (a motion scale per frame). */
  readonly perFrameMotionScale: boolean;
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
const FIRST_LORA_ID = 20;

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

/** The segment's per-frame motion scales, or undefined when they are all the same. */
function perFrameValues(job: SegmentJob): number[] | undefined {
  const values = Array.from({ length: job.frameCount }, (_, i) => motionScaleValue(job.motionScalePerFrame[i] ?? job.motionScale));
  return values.every((v) => v === values[0]) ? undefined : values;
}

/**
 * The graph for `job`. With `initImage` (the name LoadImage knows the uploaded file by) the
 * latent is that image encoded and repeated to the segment's length and re-noised by the job's
 * denoise; without it the segment starts from an empty latent, at denoise 1.
 */
export function buildSegmentGraph(job: SegmentJob, settings: GraphSettings, initImage?: string): ApiGraph {
  const graph: Record<string, ApiNode> = {};
  graph[NODE.checkpoint] = { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: settings.checkpoint } };

  let modelFrom: string = NODE.checkpoint;
  let clipFrom: string = NODE.checkpoint;
  settings.loras.forEach((lora, i) => {
    const id = String(FIRST_LORA_ID + i);
    graph[id] = {
      class_type: 'LoraLoader',
      inputs: { model: [modelFrom, 0], clip: [clipFrom, 1], lora_name: lora.name, strength_model: lora.strengthModel, strength_clip: lora.strengthClip },
    };
    modelFrom = id;
    clipFrom = id;
  });

  const schedule = settings.perFrameMotionScale ? perFrameValues(job) : undefined;
  if (schedule) {
    graph[NODE.motionSchedule] = { class_type: 'ADE_ValueScheduling', inputs: { values: motionSchedule(schedule), max_length: job.frameCount } };
    // Output 1 of ADE_ValueScheduling is FLOATS: one value per frame.
    graph[NODE.motionScale] = { class_type: 'ADE_MultivalDynamicFloats', inputs: { floats: [NODE.motionSchedule, 1] } };
  } else {
    graph[NODE.motionScale] = { class_type: 'ADE_MultivalDynamic', inputs: { float_val: motionScaleValue(job.motionScale) } };
  }
  graph[NODE.animateDiff] = {
    class_type: 'ADE_AnimateDiffLoaderGen1',
    inputs: { model: [modelFrom, 0], model_name: settings.motionModel, beta_schedule: settings.betaSchedule, scale_multival: [NODE.motionScale, 0] },
  };
  graph[NODE.positive] = { class_type: 'CLIPTextEncode', inputs: { clip: [clipFrom, 1], text: job.prompt } };
  graph[NODE.negative] = { class_type: 'CLIPTextEncode', inputs: { clip: [clipFrom, 1], text: job.negativePrompt } };

  let latentFrom: string;
  if (initImage === undefined) {
    graph[NODE.emptyLatent] = { class_type: 'EmptyLatentImage', inputs: { width: job.width, height: job.height, batch_size: job.frameCount } };
    latentFrom = NODE.emptyLatent;
  } else {
    graph[NODE.loadInit] = { class_type: 'LoadImage', inputs: { image: initImage } };
    graph[NODE.encodeInit] = { class_type: 'VAEEncode', inputs: { pixels: [NODE.loadInit, 0], vae: [NODE.checkpoint, 2] } };
    graph[NODE.repeatInit] = { class_type: 'RepeatLatentBatch', inputs: { samples: [NODE.encodeInit, 0], amount: job.frameCount } };
    latentFrom = NODE.repeatInit;
  }
  graph[NODE.sampler] = {
    class_type: 'KSampler',
    inputs: {
      model: [NODE.animateDiff, 0],
      positive: [NODE.positive, 0],
      negative: [NODE.negative, 0],
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
  graph[NODE.save] = { class_type: 'SaveImage', inputs: { images: [NODE.decode, 0], filename_prefix: saveFilePrefix(job.index) } };
  return graph;
}
