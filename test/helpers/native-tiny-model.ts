import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLIP_PREFIX,
  MOTION_HEADS,
  UNET_HEADS,
  UNET_PREFIX,
  clipSpecs,
  motionSpecs,
  unetSpecs,
  vaeDecoderSpecs,
  vaeEncoderSpecs,
  type ClipDims,
  type MotionDims,
  type TensorSpec,
  type UnetDims,
  type VaeDims,
} from '../../src/engines/native/model-spec.js';
import { elementCount, writeSafetensors, type SafetensorsInput } from '../../src/engines/native/safetensors.js';

/**
 * A scaled-down SD 1.5 checkpoint and AnimateDiff v2 motion module: the same tensor names and
 * architecture as the real files, small widths (UNet 32/64, CLIP width 64 × 2 layers with the real
 * 49408-token vocabulary, VAE 32/64), deterministic values from a seeded PRNG.
 */
export const TINY_UNET: UnetDims = {
  inChannels: 4,
  modelChannels: 32,
  levelWidths: [32, 64, 64, 64],
  timeEmbedDim: 128,
  contextDim: 64,
  heads: UNET_HEADS,
};
export const TINY_CLIP: ClipDims = { vocabSize: 49408, width: 64, layers: 2, intermediate: 256, heads: 1 };
export const TINY_VAE: VaeDims = { baseChannels: 32, levelWidths: [32, 64, 64, 64], latentChannels: 4 };
export const TINY_MOTION: MotionDims = { levelWidths: TINY_UNET.levelWidths, maxFrames: 32, heads: MOTION_HEADS };

export const TINY_CHECKPOINT_FILE = 'tiny-sd15.safetensors';
export const TINY_MOTION_FILE = 'tiny-animatediff-v2.safetensors';

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tensorValues(name: string, shape: readonly number[], random: () => number): Float32Array {
  const count = elementCount(shape);
  const out = new Float32Array(count);
  const uniform = (amplitude: number, centre = 0): void => {
    for (let i = 0; i < count; i++) out[i] = centre + (random() * 2 - 1) * amplitude;
  };
  if (shape.length === 1) {
    if (name.endsWith('.weight')) uniform(0.1, 1);
    else uniform(0.05);
  } else if (name.endsWith('pos_encoder.pe') || name.includes('embeddings.')) {
    uniform(0.5);
  } else {
    // Variance 1/fan_in keeps activations O(1) through the stack.
    const fanIn = shape.slice(1).reduce((product, dim) => product * dim, 1);
    uniform(Math.sqrt(3 / fanIn));
  }
  return out;
}

function toInputs(specs: readonly TensorSpec[], random: () => number): SafetensorsInput[] {
  return specs.map(([name, shape]) => ({
    name,
    // The token table in float16, as real checkpoints store everything: it exercises the conversion.
    dtype: name.endsWith('token_embedding.weight') ? 'F16' : 'F32',
    shape,
    data: tensorValues(name, shape, random),
  }));
}

export function tinyCheckpointTensors(seed = 1): SafetensorsInput[] {
  const random = prng(seed);
  return toInputs(
    [...unetSpecs(TINY_UNET), ...clipSpecs(TINY_CLIP), ...vaeEncoderSpecs(TINY_VAE), ...vaeDecoderSpecs(TINY_VAE)],
    random,
  );
}

export function tinyMotionTensors(seed = 1): SafetensorsInput[] {
  return toInputs(motionSpecs(TINY_MOTION), prng(seed + 1000));
}

export interface TinyModelPaths {
  readonly checkpointPath: string;
  readonly motionModulePath: string;
}

export async function writeTinyModels(dir: string, seed = 1): Promise<TinyModelPaths> {
  const checkpointPath = join(dir, TINY_CHECKPOINT_FILE);
  const motionModulePath = join(dir, TINY_MOTION_FILE);
  await writeSafetensors(checkpointPath, tinyCheckpointTensors(seed), { note: 'beatloom tiny SD 1.5 test model' });
  await writeSafetensors(motionModulePath, tinyMotionTensors(seed), {
    note: 'beatloom tiny AnimateDiff v2 test module',
  });
  return { checkpointPath, motionModulePath };
}

// ---------------------------------------------------------------- bad files

/** The first `keepBytes` bytes of a good file (default: half of it). */
export async function writeTruncatedCopy(source: string, target: string, keepBytes?: number): Promise<void> {
  const bytes = await readFile(source);
  await writeFile(target, bytes.subarray(0, keepBytes ?? Math.floor(bytes.length / 2)));
}

/** An SDXL-layout checkpoint: OpenCLIP/CLIP-G embedders under conditioner.embedders and a label_emb. */
export async function writeSdxlLikeCheckpoint(target: string, seed = 1): Promise<void> {
  const tensors = tinyCheckpointTensors(seed).map((tensor) =>
    tensor.name.startsWith(CLIP_PREFIX)
      ? {
          ...tensor,
          name: tensor.name.replace('cond_stage_model.transformer.', 'conditioner.embedders.0.transformer.'),
        }
      : tensor,
  );
  tensors.push({
    name: `${UNET_PREFIX}label_emb.0.0.weight`,
    dtype: 'F32',
    shape: [128, 64],
    data: new Float32Array(128 * 64),
  });
  await writeSafetensors(target, tensors);
}

/** The tiny checkpoint with one tensor given a different shape. */
export async function writeWrongShapeCheckpoint(target: string, tensorName: string, seed = 1): Promise<void> {
  const tensors = tinyCheckpointTensors(seed).map((tensor) => {
    if (tensor.name !== tensorName) return tensor;
    const shape = [...tensor.shape];
    shape[shape.length - 1] = shape[shape.length - 1]! + 1;
    return { ...tensor, shape, data: new Float32Array(elementCount(shape)) };
  });
  await writeSafetensors(target, tensors);
}

/** An AnimateDiff v1 / v3-style module: the same down/up blocks, no mid block. */
export async function writeMidlessMotionModule(target: string, seed = 1): Promise<void> {
  await writeSafetensors(
    target,
    tinyMotionTensors(seed).filter((tensor) => !tensor.name.startsWith('mid_block.')),
  );
}

// ---------------------------------------------------------------- LoRA

export const TINY_LORA_FILE = 'tiny-lora.safetensors';

/**
 * A kohya-format LoRA for the tiny model (rank 4, alpha 2): diffusers-named attention and feed-forward
 * modules, an LDM-named 1×1 conv, a 3×3 conv (LoCon), and text-encoder projections.
 */
export async function writeTinyLora(path: string, seed = 1): Promise<void> {
  const random = prng(seed + 2000);
  const rank = 4;
  const modules: [string, number[], number[]][] = [
    // [module, down shape, up shape]
    ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', [rank, 32], [32, rank]],
    ['lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_k', [rank, 64], [64, rank]],
    ['lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2', [rank, 256], [64, rank]],
    ['lora_unet_input_blocks_4_1_proj_in', [rank, 64, 1, 1], [64, rank, 1, 1]],
    ['lora_unet_down_blocks_1_resnets_0_conv1', [rank, 32, 3, 3], [64, rank, 1, 1]],
    ['lora_te_text_model_encoder_layers_0_self_attn_q_proj', [rank, 64], [64, rank]],
    ['lora_te_text_model_encoder_layers_1_mlp_fc1', [rank, 64], [256, rank]],
  ];
  const tensors: SafetensorsInput[] = [];
  for (const [module, down, up] of modules) {
    tensors.push({
      name: `${module}.lora_down.weight`,
      dtype: 'F32',
      shape: down,
      data: tensorValues('w', down, random),
    });
    tensors.push({ name: `${module}.lora_up.weight`, dtype: 'F32', shape: up, data: tensorValues('w', up, random) });
    tensors.push({ name: `${module}.alpha`, dtype: 'F32', shape: [], data: Float32Array.from([2]) });
  }
  await writeSafetensors(path, tensors, { note: 'beatloom tiny LoRA' });
}
