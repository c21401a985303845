/**
 * The fake server's "rendering": it walks an API graph the way ComfyUI's executor does (each
 * output, depth first, announcing every node) and, instead of diffusion, draws deterministic
 * frames from what the graph asks for — size, frame count, seed, prompt (a blend of prompts mixes
 * their palettes by weight), per-frame motion scale, and an init image kept in proportion to
 * 1 − denoise. Enough to tell whether beatloom sent the right graph and got the right frames back.
 */
import { createHash } from 'node:crypto';
import { decodePng } from '../../src/raster/png.js';

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

interface Model {
  kind: 'model';
  checkpoint: string;
  /** `name@strength_model` of each LoraLoader applied, in order. */
  loras: string[];
  motion?: {
    model: string;
    scale: number[] | number;
    context: boolean;
    contextWindow?: { length: number; overlap: number };
    /** ADE sample settings' batch_offset: the noise of frame i is that of frame batchOffset + i. */
    batchOffset: number;
    effect?: number[] | number;
    motionLoras: string[];
  };
}
interface Latent {
  kind: 'latent';
  width: number;
  height: number;
  frames: number;
  init?: Uint8Array;
  /** The pixels each frame was encoded from (VAEEncode), when the latent holds pictures. */
  pixels?: Uint8Array[];
  /** SetLatentNoiseMask, per frame: 0 keeps the frame, 1 samples it. */
  mask?: number[];
  rendered?: Uint8Array[];
}
interface Images {
  kind: 'image';
  width: number;
  height: number;
  frames: Uint8Array[];
}
/** A text embedding as the sum of weighted prompts (what CLIPTextEncode and ConditioningAverage make of them). */
export interface PromptPart {
  text: string;
  weight: number;
}
interface Conditioning {
  kind: 'conditioning';
  parts: PromptPart[];
  /** ADE_PromptScheduling: the prompts of each frame (interpolated between keys). */
  frames?: PromptPart[][];
}
/** A batch of masks (SolidMask…, ImageToMask) or of mask pictures (MaskToImage…): one value per frame, solid. */
interface MaskBatch {
  kind: 'masks' | 'maskImages';
  values: number[];
}
type Value =
  | Model
  | Latent
  | Images
  | { kind: 'clip' | 'vae' | 'mask' }
  | MaskBatch
  | { kind: 'settings'; batchOffset: number }
  | { kind: 'context'; length: number; overlap: number }
  | { kind: 'motionLora'; loras: string[] }
  | Conditioning
  | { kind: 'multival' | 'floats'; values: number[] | number }
  | { kind: 'number'; value: number };

/** An exception inside a node: becomes `execution_error` (node id and type, exception type and message). */
export class NodeFailure extends Error {
  constructor(
    readonly nodeId: string,
    readonly nodeType: string,
    readonly exceptionType: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SavedImage {
  filename: string;
  subfolder: string;
  type: string;
}

export interface ExecHooks {
  /** `executing` for a node about to run. */
  executing(nodeId: string): void;
  /** `executed` for a node that has something to show (SaveImage's images). */
  executed(nodeId: string, ui: Record<string, unknown>): void;
  /** One sampler step: sends progress (and a preview), waits the step's share of the time, may throw to interrupt. */
  step(nodeId: string, value: number, max: number, workFrames: number): Promise<void>;
  readInput(name: string): Buffer | undefined;
  saveImages(prefix: string, images: Images, type: 'output' | 'temp'): SavedImage[];
  /** SaveLatent: the file's bytes under the output folder. */
  saveLatent(prefix: string, bytes: Buffer): SavedImage;
  drawFrames(spec: FrameSpec): Uint8Array[];
}

export interface FrameSpec {
  width: number;
  height: number;
  frames: number;
  seed: number;
  /** The conditioning's prompts with their weights (one with weight 1 without a blend). */
  prompts: PromptPart[];
  /** Per frame, when the conditioning is scheduled. */
  framePrompts?: PromptPart[][];
  /** The frame index the noise is drawn for (ADE batch_offset): the waves' phase starts there. */
  firstFrame?: number;
  motion: number[];
  denoise: number;
  init: Uint8Array | undefined;
}

function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Drifting waves in a palette from the prompt; the phase advances by the motion scale; the seed shifts everything. */
export function drawFrames(spec: FrameSpec): Uint8Array[] {
  const tintOf = (prompts: readonly PromptPart[]): number[] => {
    const base = [0, 0, 0];
    for (const { text, weight } of prompts) {
      const tint = hash32(text);
      [tint & 0xff, (tint >> 8) & 0xff, (tint >> 16) & 0xff].forEach((value, c) => (base[c]! += value * weight));
    }
    return base;
  };
  const seedPhase = (hash32(`seed:${spec.seed}`) % 1000) / 100;
  const out: Uint8Array[] = [];
  // Noise addressed by frame: a batch drawn from frame N starts where the take is at frame N.
  let phase = 0.35 * (spec.firstFrame ?? 0);
  for (let f = 0; f < spec.frames; f++) {
    const base = tintOf(spec.framePrompts?.[f] ?? spec.prompts);
    phase += 0.35 * (spec.motion[f] ?? spec.motion[spec.motion.length - 1] ?? 1);
    const rgb = new Uint8Array(spec.width * spec.height * 3);
    for (let y = 0; y < spec.height; y++) {
      const wy = Math.cos(y * 0.11 - phase + seedPhase);
      for (let x = 0; x < spec.width; x++) {
        const wave = 70 * (Math.sin(x * 0.09 + phase + seedPhase * 2) + wy);
        const p = (y * spec.width + x) * 3;
        for (let c = 0; c < 3; c++) {
          const drawn = Math.max(0, Math.min(255, base[c]! * 0.6 + 50 + wave * (c === 1 ? 0.6 : 1)));
          rgb[p + c] = spec.init
            ? Math.round(spec.init[p + c]! * (1 - spec.denoise) + drawn * spec.denoise)
            : Math.round(drawn);
        }
      }
    }
    out.push(rgb);
  }
  return out;
}

/**
 * The frames the model computes per sampler step: with context windows (uniform, `length` frames
 * sharing `overlap`) a longer batch is covered by windows that compute their shared frames twice.
 */
export function modelFrames(frames: number, context?: { readonly length: number; readonly overlap: number }): number {
  if (!context || frames <= context.length) return frames;
  return Math.ceil((frames - context.overlap) / (context.length - context.overlap)) * context.length;
}

function repeat<T>(items: readonly T[], amount: number): T[] {
  return Array.from({ length: items.length * amount }, (_, i) => items[i % items.length]!);
}

/**
 * ADE_PromptScheduling's JSON format `"0": "a", "16": "b"`: each frame's prompts, interpolated
 * linearly between keys and held after the last (scheduling.py).
 */
export function parsePromptSchedule(text: string, length: number): PromptPart[][] {
  const keys = [...text.matchAll(/"(\d+)"\s*:\s*"([^"]*)"/g)].map((m) => ({ frame: Number(m[1]), text: m[2]! }));
  if (keys.length === 0) throw new Error('No text provided to Prompt Scheduling.');
  const size = length > 0 ? length : keys.at(-1)!.frame + 1;
  return Array.from({ length: size }, (_, f): PromptPart[] => {
    const next = keys.findIndex((k) => k.frame > f);
    if (next === 0) return [{ text: keys[0]!.text, weight: 1 }];
    const before = keys[next === -1 ? keys.length - 1 : next - 1]!;
    const after = next === -1 ? undefined : keys[next]!;
    const w = after ? (f - before.frame) / (after.frame - before.frame) : 0;
    return w === 0 || !after
      ? [{ text: before.text, weight: 1 }]
      : [
          { text: before.text, weight: 1 - w },
          { text: after.text, weight: w },
        ];
  });
}

/** ADE_ValueScheduling's pythonic format `0=1.0, 4=1.5`, holding the last value (no interpolation needed here). */
export function parseValueSchedule(text: string, length: number): number[] {
  const pairs = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [index, value] = part.split('=').map((s) => s.trim());
      if (index === undefined || value === undefined || !/^\d+$/.test(index) || Number.isNaN(Number(value)))
        throw new Error(`Found 1 issue in value schedule: '${part}'`);
      return [Number(index), Number(value)] as const;
    });
  if (pairs.length === 0) throw new Error('No text provided to Value Scheduling.');
  const size = length > 0 ? length : Math.max(...pairs.map(([i]) => i)) + 1;
  const values: number[] = [];
  for (let i = 0; i < size; i++) values.push(pairs.filter(([index]) => index <= i).at(-1)?.[1] ?? pairs[0]![1]);
  return values;
}

export async function executeGraph(
  graph: Graph,
  outputs: readonly string[],
  hooks: ExecHooks,
): Promise<{ ui: Record<string, Record<string, unknown>>; executed: string[] }> {
  const results = new Map<string, Value[]>();
  const ui: Record<string, Record<string, unknown>> = {};
  const executed: string[] = [];

  const run = async (id: string): Promise<Value[]> => {
    const done = results.get(id);
    if (done) return done;
    const node = graph[id]!;
    const linked: Record<string, Value> = {};
    for (const [name, value] of Object.entries(node.inputs)) {
      if (Array.isArray(value) && value.length === 2) linked[name] = (await run(String(value[0])))[Number(value[1])]!;
    }
    hooks.executing(id);
    const fail = (type: string, message: string): NodeFailure => new NodeFailure(id, node.class_type, type, message);
    const input = (name: string): unknown => node.inputs[name];
    const out = await evaluate(id, node.class_type, input, linked, hooks, fail);
    if (out.ui) {
      ui[id] = out.ui;
      hooks.executed(id, out.ui);
    }
    results.set(id, out.values);
    executed.push(id);
    return out.values;
  };
  for (const output of outputs) await run(output);
  return { ui, executed };
}

async function evaluate(
  id: string,
  classType: string,
  input: (name: string) => unknown,
  linked: Record<string, Value>,
  hooks: ExecHooks,
  fail: (type: string, message: string) => NodeFailure,
): Promise<{ values: Value[]; ui?: Record<string, unknown> }> {
  switch (classType) {
    case 'CheckpointLoaderSimple':
      return {
        values: [
          { kind: 'model', checkpoint: String(input('ckpt_name')), loras: [] },
          { kind: 'clip' },
          { kind: 'vae' },
        ],
      };
    case 'LoraLoader': {
      const model = linked['model'] as Model;
      return {
        values: [
          { ...model, loras: [...model.loras, `${String(input('lora_name'))}@${Number(input('strength_model'))}`] },
          { kind: 'clip' },
        ],
      };
    }
    case 'ADE_MultivalDynamic':
      return { values: [{ kind: 'multival', values: Number(input('float_val')) }] };
    case 'ADE_ValueScheduling': {
      let values: number[];
      try {
        values = parseValueSchedule(String(input('values')), Number(input('max_length') ?? 0));
      } catch (error) {
        throw fail('Exception', (error as Error).message);
      }
      return {
        values: [
          { kind: 'number', value: values[0]! },
          { kind: 'floats', values },
          { kind: 'number', value: Math.round(values[0]!) },
          { kind: 'floats', values: values.map(Math.round) },
        ],
      };
    }
    case 'ADE_AnimateDiffSamplingSettings':
      return { values: [{ kind: 'settings', batchOffset: Number(input('batch_offset')) }] };
    case 'ADE_StandardUniformContextOptions':
      return {
        values: [
          { kind: 'context', length: Number(input('context_length')), overlap: Number(input('context_overlap')) },
        ],
      };
    case 'ADE_AnimateDiffLoRALoader': {
      const previous = (linked['prev_motion_lora'] as { loras: string[] } | undefined)?.loras ?? [];
      return {
        values: [{ kind: 'motionLora', loras: [...previous, `${String(input('name'))}@${Number(input('strength'))}`] }],
      };
    }
    case 'ADE_PromptScheduling': {
      let frames: PromptPart[][];
      try {
        frames = parsePromptSchedule(String(input('prompts')), Number(input('max_length') ?? 0));
      } catch (error) {
        throw fail('Exception', (error as Error).message);
      }
      return { values: [{ kind: 'conditioning', parts: frames[0]!, frames }] };
    }
    case 'SolidMask':
      return { values: [{ kind: 'masks', values: [Number(input('value'))] }] };
    case 'MaskToImage':
      return { values: [{ kind: 'maskImages', values: (linked['mask'] as MaskBatch).values }] };
    case 'ImageToMask':
      return { values: [{ kind: 'masks', values: (linked['image'] as MaskBatch).values }] };
    case 'RepeatImageBatch': {
      const image = linked['image'] as Images | MaskBatch;
      const amount = Number(input('amount'));
      if (image.kind === 'image') return { values: [{ ...image, frames: repeat(image.frames, amount) }] };
      return { values: [{ ...image, values: repeat(image.values, amount) }] };
    }
    case 'ImageBatch': {
      const a = linked['image1'] as Images | MaskBatch;
      const b = linked['image2'] as Images | MaskBatch;
      if (a.kind === 'image' && b.kind === 'image') return { values: [{ ...a, frames: [...a.frames, ...b.frames] }] };
      if (a.kind !== 'image' && b.kind !== 'image') return { values: [{ ...a, values: [...a.values, ...b.values] }] };
      throw fail('RuntimeError', 'ImageBatch of a picture and a mask');
    }
    case 'LatentFromBatch': {
      const latent = linked['samples'] as Latent;
      const from = Number(input('batch_index'));
      const length = Number(input('length'));
      const pixels = latent.pixels?.slice(from, from + length);
      return { values: [{ ...latent, frames: Math.min(length, latent.frames - from), pixels, init: pixels?.[0] }] };
    }
    case 'LatentBatch': {
      const a = linked['samples1'] as Latent;
      const b = linked['samples2'] as Latent;
      const pixels = a.pixels && b.pixels ? [...a.pixels, ...b.pixels] : undefined;
      return { values: [{ ...a, frames: a.frames + b.frames, pixels, init: pixels?.[0] }] };
    }
    case 'SetLatentNoiseMask': {
      const latent = linked['samples'] as Latent;
      const mask = (linked['mask'] as MaskBatch).values;
      // comfy.utils.repeat_to_batch_size: a shorter mask batch repeats to the latent's frames.
      return { values: [{ ...latent, mask: Array.from({ length: latent.frames }, (_, i) => mask[i % mask.length]!) }] };
    }
    case 'ADE_MultivalDynamicFloats':
      return { values: [{ kind: 'multival', values: (linked['floats'] as { values: number[] }).values }] };
    case 'ADE_AnimateDiffLoaderGen1': {
      const model = linked['model'] as Model;
      const scale = (linked['scale_multival'] as { values: number[] | number } | undefined)?.values ?? 1;
      const effect = (linked['effect_multival'] as { values: number[] | number } | undefined)?.values;
      const settings = linked['sample_settings'] as { batchOffset: number } | undefined;
      return {
        values: [
          {
            ...model,
            motion: {
              model: String(input('model_name')),
              scale,
              context: linked['context_options'] !== undefined,
              ...(linked['context_options']
                ? { contextWindow: linked['context_options'] as { length: number; overlap: number } }
                : {}),
              batchOffset: settings?.batchOffset ?? 0,
              ...(effect === undefined ? {} : { effect }),
              motionLoras: (linked['motion_lora'] as { loras: string[] } | undefined)?.loras ?? [],
            },
          },
        ],
      };
    }
    case 'CLIPTextEncode':
      return { values: [{ kind: 'conditioning', parts: [{ text: String(input('text')), weight: 1 }] }] };
    case 'ConditioningAverage': {
      // nodes.py ConditioningAverage: to · strength + from · (1 − strength).
      const strength = Number(input('conditioning_to_strength'));
      const to = (linked['conditioning_to'] as Conditioning).parts.map((part) => ({
        ...part,
        weight: part.weight * strength,
      }));
      const from = (linked['conditioning_from'] as Conditioning).parts.map((part) => ({
        ...part,
        weight: part.weight * (1 - strength),
      }));
      return { values: [{ kind: 'conditioning', parts: [...to, ...from] }] };
    }
    case 'EmptyLatentImage':
      return {
        values: [
          {
            kind: 'latent',
            width: Number(input('width')),
            height: Number(input('height')),
            frames: Number(input('batch_size')),
          },
        ],
      };
    case 'LoadImage': {
      const name = String(input('image'));
      const bytes = hooks.readInput(name);
      if (!bytes) throw fail('FileNotFoundError', `[Errno 2] No such file or directory: '${name}'`);
      const image = decodePng(bytes, name);
      return {
        values: [{ kind: 'image', width: image.width, height: image.height, frames: [image.data] }, { kind: 'mask' }],
      };
    }
    case 'VAEEncode': {
      const pixels = linked['pixels'] as Images;
      return {
        values: [
          {
            kind: 'latent',
            width: pixels.width,
            height: pixels.height,
            frames: pixels.frames.length,
            init: pixels.frames[0],
            pixels: pixels.frames,
          },
        ],
      };
    }
    case 'RepeatLatentBatch': {
      const latent = linked['samples'] as Latent;
      const amount = Number(input('amount'));
      return {
        values: [
          {
            ...latent,
            frames: latent.frames * amount,
            ...(latent.pixels ? { pixels: repeat(latent.pixels, amount) } : {}),
          },
        ],
      };
    }
    case 'KSampler':
    case 'KSamplerAdvanced': {
      const model = linked['model'] as Model;
      const latent = linked['latent_image'] as Latent;
      const steps = Number(input('steps'));
      const advanced = classType === 'KSamplerAdvanced';
      // KSamplerAdvanced runs steps [start_at_step, steps): the share of the schedule it denoises.
      const start = advanced ? Math.min(steps, Number(input('start_at_step'))) : 0;
      const denoise = advanced ? (steps - start) / steps : Number(input('denoise'));
      // What AnimateDiff-Evolved raises for too many latents without context options (fixture 84).
      if (model.motion && !model.motion.context && latent.frames > 32) {
        throw fail(
          'ValueError',
          `Without a context window, AnimateDiff model ${model.motion.model} has upper limit of 32 frames, but received ${latent.frames} latents.\n`,
        );
      }
      const scale = model.motion?.scale ?? 1;
      const motion = Array.from({ length: latent.frames }, (_, i) =>
        Array.isArray(scale) ? (scale[i] ?? scale.at(-1) ?? 1) : scale,
      );
      const positive = linked['positive'] as Conditioning;
      const drawn = hooks.drawFrames({
        width: latent.width,
        height: latent.height,
        frames: latent.frames,
        seed: Number(input(advanced ? 'noise_seed' : 'seed')),
        prompts: positive.parts,
        ...(positive.frames ? { framePrompts: positive.frames } : {}),
        firstFrame: model.motion?.batchOffset ?? 0,
        motion,
        denoise,
        init: latent.pixels ? undefined : latent.init,
      });
      // Held frames (mask 0) come back as they went in; the others keep (1 − denoise) of their picture.
      const rendered = latent.pixels
        ? drawn.map((frame, i) => {
            const source = latent.pixels![i]!;
            const keep = (latent.mask?.[i] ?? 1) === 0 ? 1 : 1 - denoise;
            return frame.map((value, p) => Math.round(source[p]! * keep + value * (1 - keep)));
          })
        : drawn;
      const workFrames = modelFrames(latent.frames, model.motion?.contextWindow);
      for (let step = start + 1; step <= steps; step++) await hooks.step(id, step, steps, workFrames);
      return { values: [{ ...latent, rendered }] };
    }
    case 'VAEDecode': {
      const latent = linked['samples'] as Latent;
      return { values: [{ kind: 'image', width: latent.width, height: latent.height, frames: latent.rendered ?? [] }] };
    }
    case 'SaveLatent': {
      // The fake's latents are its pictures: a JSON header line, then each frame's RGB bytes.
      const latent = linked['samples'] as Latent;
      const frames = latent.rendered ?? latent.pixels ?? [];
      const head = Buffer.from(
        `${JSON.stringify({ width: latent.width, height: latent.height, frames: frames.length })}\n`,
      );
      const saved = hooks.saveLatent(String(input('filename_prefix')), Buffer.concat([head, ...frames]));
      return { values: [], ui: { latents: [saved] } };
    }
    case 'LoadLatent': {
      const name = String(input('latent'));
      const bytes = hooks.readInput(name);
      if (!bytes) throw fail('FileNotFoundError', `[Errno 2] No such file or directory: '${name}'`);
      const end = bytes.indexOf(10);
      const head = JSON.parse(bytes.subarray(0, end).toString()) as { width: number; height: number; frames: number };
      const size = head.width * head.height * 3;
      const pixels = Array.from({ length: head.frames }, (_, i) =>
        Uint8Array.from(bytes.subarray(end + 1 + i * size, end + 1 + (i + 1) * size)),
      );
      return {
        values: [
          { kind: 'latent', width: head.width, height: head.height, frames: head.frames, pixels, init: pixels[0] },
        ],
      };
    }
    case 'SaveImage':
    case 'PreviewImage': {
      const images = linked['images'] as Images;
      const prefix = classType === 'SaveImage' ? String(input('filename_prefix') ?? 'ComfyUI') : 'ComfyUI_temp';
      try {
        return {
          values: [],
          ui: { images: hooks.saveImages(prefix, images, classType === 'SaveImage' ? 'output' : 'temp') },
        };
      } catch (error) {
        throw fail('Exception', (error as Error).message);
      }
    }
    default:
      throw fail('NotImplementedError', `the fake ComfyUI server cannot run ${classType} (node ${id})`);
  }
}
