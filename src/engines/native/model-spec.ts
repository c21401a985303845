import { BeatloomError, usageError } from '../../shared/errors.js';
import type { SafetensorsFile } from './safetensors.js';

/**
 * The SD 1.5 checkpoint (original LDM layout, as ComfyUI's CheckpointLoaderSimple reads it) and the
 * AnimateDiff v2 / Lightning motion module, as lists of expected tensors. Widths come from tensor
 * shapes, so a scaled-down model of the same architecture is read by the same code; the layout (4
 * levels, 2 ResBlocks per level, attention on the first 3, one transformer block each) is SD 1.5's.
 */
export const UNET_PREFIX = 'model.diffusion_model.';
export const VAE_PREFIX = 'first_stage_model.';
export const CLIP_PREFIX = 'cond_stage_model.transformer.text_model.';
export const LEVELS = 4;
export const RES_BLOCKS = 2;
/** SD 1.5's UNet uses 8 heads at every width (ldm v1-inference.yaml num_heads: 8); so does AnimateDiff. */
export const UNET_HEADS = 8;
export const MOTION_HEADS = 8;
export const CLIP_TOKENS = 77;

export interface UnetDims {
  readonly inChannels: number;
  readonly modelChannels: number;
  readonly levelWidths: readonly number[];
  readonly timeEmbedDim: number;
  readonly contextDim: number;
  readonly heads: number;
}

export interface ClipDims {
  readonly vocabSize: number;
  readonly width: number;
  readonly layers: number;
  readonly intermediate: number;
  readonly heads: number;
}

export interface VaeDims {
  readonly baseChannels: number;
  readonly levelWidths: readonly number[];
  readonly latentChannels: number;
}

export interface MotionDims {
  readonly levelWidths: readonly number[];
  readonly maxFrames: number;
  readonly heads: number;
}

export interface NativeModelDims {
  readonly contextDim: number;
  readonly latentChannels: number;
  readonly vaeScaleFactor: number;
  readonly motionMaxFrames: number;
  readonly unet: UnetDims;
  readonly clip: ClipDims;
  readonly vae: VaeDims;
  readonly motion: MotionDims;
}

export type TensorSpec = readonly [name: string, shape: readonly number[]];

function shapeOf(file: SafetensorsFile, name: string, what: string): readonly number[] {
  const entry = file.tensors.get(name);
  if (!entry) {
    throw usageError(
      'E_NATIVE_MODEL_TENSOR',
      `${file.path} is not ${what}: tensor ${name} is missing`,
      what.includes('motion')
        ? 'use an AnimateDiff v2 / Lightning motion module (…_comfyui.safetensors)'
        : 'use an SD 1.5 checkpoint in the original (non-diffusers) layout',
    );
  }
  return entry.shape;
}

// ---------------------------------------------------------------- checkpoint

function resBlockSpecs(p: string, inCh: number, outCh: number, embDim: number): TensorSpec[] {
  const specs: TensorSpec[] = [
    [`${p}in_layers.0.weight`, [inCh]],
    [`${p}in_layers.0.bias`, [inCh]],
    [`${p}in_layers.2.weight`, [outCh, inCh, 3, 3]],
    [`${p}in_layers.2.bias`, [outCh]],
    [`${p}emb_layers.1.weight`, [outCh, embDim]],
    [`${p}emb_layers.1.bias`, [outCh]],
    [`${p}out_layers.0.weight`, [outCh]],
    [`${p}out_layers.0.bias`, [outCh]],
    [`${p}out_layers.3.weight`, [outCh, outCh, 3, 3]],
    [`${p}out_layers.3.bias`, [outCh]],
  ];
  if (inCh !== outCh)
    specs.push([`${p}skip_connection.weight`, [outCh, inCh, 1, 1]], [`${p}skip_connection.bias`, [outCh]]);
  return specs;
}

function spatialTransformerSpecs(p: string, ch: number, contextDim: number): TensorSpec[] {
  const t = `${p}transformer_blocks.0.`;
  return [
    [`${p}norm.weight`, [ch]],
    [`${p}norm.bias`, [ch]],
    [`${p}proj_in.weight`, [ch, ch, 1, 1]],
    [`${p}proj_in.bias`, [ch]],
    [`${t}attn1.to_q.weight`, [ch, ch]],
    [`${t}attn1.to_k.weight`, [ch, ch]],
    [`${t}attn1.to_v.weight`, [ch, ch]],
    [`${t}attn1.to_out.0.weight`, [ch, ch]],
    [`${t}attn1.to_out.0.bias`, [ch]],
    [`${t}attn2.to_q.weight`, [ch, ch]],
    [`${t}attn2.to_k.weight`, [ch, contextDim]],
    [`${t}attn2.to_v.weight`, [ch, contextDim]],
    [`${t}attn2.to_out.0.weight`, [ch, ch]],
    [`${t}attn2.to_out.0.bias`, [ch]],
    [`${t}norm1.weight`, [ch]],
    [`${t}norm1.bias`, [ch]],
    [`${t}norm2.weight`, [ch]],
    [`${t}norm2.bias`, [ch]],
    [`${t}norm3.weight`, [ch]],
    [`${t}norm3.bias`, [ch]],
    [`${t}ff.net.0.proj.weight`, [ch * 8, ch]],
    [`${t}ff.net.0.proj.bias`, [ch * 8]],
    [`${t}ff.net.2.weight`, [ch, ch * 4]],
    [`${t}ff.net.2.bias`, [ch]],
    [`${p}proj_out.weight`, [ch, ch, 1, 1]],
    [`${p}proj_out.bias`, [ch]],
  ];
}

/** One entry of the UNet's block lists, in ComfyUI openaimodel order. */
export type UnetBlock =
  | { readonly kind: 'conv_in'; readonly prefix: string; readonly outCh: number }
  | {
      readonly kind: 'res';
      readonly prefix: string;
      readonly resPrefix: string;
      readonly stPrefix?: string;
      readonly upPrefix?: string;
      readonly inCh: number;
      readonly outCh: number;
      readonly level: number;
    }
  | { readonly kind: 'down'; readonly prefix: string; readonly ch: number };

export interface UnetLayout {
  readonly input: readonly UnetBlock[];
  readonly output: readonly Extract<UnetBlock, { kind: 'res' }>[];
}

/** The SD 1.5 block structure of openaimodel.UNetModel for the given widths. */
export function unetLayout(dims: UnetDims): UnetLayout {
  const u = UNET_PREFIX;
  const input: UnetBlock[] = [{ kind: 'conv_in', prefix: `${u}input_blocks.0.0.`, outCh: dims.modelChannels }];
  const skips = [dims.modelChannels];
  let ch = dims.modelChannels;
  let index = 1;
  for (let level = 0; level < LEVELS; level++) {
    const width = dims.levelWidths[level]!;
    for (let r = 0; r < RES_BLOCKS; r++) {
      const prefix = `${u}input_blocks.${index}.`;
      input.push({
        kind: 'res',
        prefix,
        resPrefix: `${prefix}0.`,
        ...(level < LEVELS - 1 ? { stPrefix: `${prefix}1.` } : {}),
        inCh: ch,
        outCh: width,
        level,
      });
      ch = width;
      skips.push(ch);
      index++;
    }
    if (level < LEVELS - 1) {
      input.push({ kind: 'down', prefix: `${u}input_blocks.${index}.0.op.`, ch });
      skips.push(ch);
      index++;
    }
  }
  const output: Extract<UnetBlock, { kind: 'res' }>[] = [];
  index = 0;
  for (let level = LEVELS - 1; level >= 0; level--) {
    const width = dims.levelWidths[level]!;
    for (let r = 0; r <= RES_BLOCKS; r++) {
      const skip = skips.pop()!;
      const prefix = `${u}output_blocks.${index}.`;
      const hasSt = level < LEVELS - 1;
      output.push({
        kind: 'res',
        prefix,
        resPrefix: `${prefix}0.`,
        ...(hasSt ? { stPrefix: `${prefix}1.` } : {}),
        ...(r === RES_BLOCKS && level > 0 ? { upPrefix: `${prefix}${hasSt ? 2 : 1}.conv.` } : {}),
        inCh: ch + skip,
        outCh: width,
        level,
      });
      ch = width;
      index++;
    }
  }
  return { input, output };
}

export function unetSpecs(dims: UnetDims): TensorSpec[] {
  const u = UNET_PREFIX;
  const t = dims.timeEmbedDim;
  const mc = dims.modelChannels;
  const specs: TensorSpec[] = [
    [`${u}time_embed.0.weight`, [t, mc]],
    [`${u}time_embed.0.bias`, [t]],
    [`${u}time_embed.2.weight`, [t, t]],
    [`${u}time_embed.2.bias`, [t]],
  ];
  const layout = unetLayout(dims);
  for (const block of [...layout.input, ...layout.output]) {
    if (block.kind === 'conv_in') {
      specs.push([`${block.prefix}weight`, [mc, dims.inChannels, 3, 3]], [`${block.prefix}bias`, [mc]]);
    } else if (block.kind === 'down') {
      specs.push([`${block.prefix}weight`, [block.ch, block.ch, 3, 3]], [`${block.prefix}bias`, [block.ch]]);
    } else {
      specs.push(...resBlockSpecs(block.resPrefix, block.inCh, block.outCh, t));
      if (block.stPrefix) specs.push(...spatialTransformerSpecs(block.stPrefix, block.outCh, dims.contextDim));
      if (block.upPrefix) {
        specs.push(
          [`${block.upPrefix}weight`, [block.outCh, block.outCh, 3, 3]],
          [`${block.upPrefix}bias`, [block.outCh]],
        );
      }
    }
  }
  const mid = dims.levelWidths[LEVELS - 1]!;
  specs.push(...resBlockSpecs(`${u}middle_block.0.`, mid, mid, t));
  specs.push(...spatialTransformerSpecs(`${u}middle_block.1.`, mid, dims.contextDim));
  specs.push(...resBlockSpecs(`${u}middle_block.2.`, mid, mid, t));
  specs.push(
    [`${u}out.0.weight`, [mc]],
    [`${u}out.0.bias`, [mc]],
    [`${u}out.2.weight`, [dims.inChannels, mc, 3, 3]],
    [`${u}out.2.bias`, [dims.inChannels]],
  );
  return specs;
}

export function clipSpecs(dims: ClipDims): TensorSpec[] {
  const c = CLIP_PREFIX;
  const d = dims.width;
  const specs: TensorSpec[] = [
    [`${c}embeddings.token_embedding.weight`, [dims.vocabSize, d]],
    [`${c}embeddings.position_embedding.weight`, [CLIP_TOKENS, d]],
  ];
  for (let layer = 0; layer < dims.layers; layer++) {
    const p = `${c}encoder.layers.${layer}.`;
    for (const norm of ['layer_norm1', 'layer_norm2'])
      specs.push([`${p}${norm}.weight`, [d]], [`${p}${norm}.bias`, [d]]);
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      specs.push([`${p}self_attn.${proj}.weight`, [d, d]], [`${p}self_attn.${proj}.bias`, [d]]);
    }
    specs.push([`${p}mlp.fc1.weight`, [dims.intermediate, d]], [`${p}mlp.fc1.bias`, [dims.intermediate]]);
    specs.push([`${p}mlp.fc2.weight`, [d, dims.intermediate]], [`${p}mlp.fc2.bias`, [d]]);
  }
  specs.push([`${c}final_layer_norm.weight`, [d]], [`${c}final_layer_norm.bias`, [d]]);
  return specs;
}

function vaeResSpecs(p: string, inCh: number, outCh: number): TensorSpec[] {
  const specs: TensorSpec[] = [
    [`${p}norm1.weight`, [inCh]],
    [`${p}norm1.bias`, [inCh]],
    [`${p}conv1.weight`, [outCh, inCh, 3, 3]],
    [`${p}conv1.bias`, [outCh]],
    [`${p}norm2.weight`, [outCh]],
    [`${p}norm2.bias`, [outCh]],
    [`${p}conv2.weight`, [outCh, outCh, 3, 3]],
    [`${p}conv2.bias`, [outCh]],
  ];
  if (inCh !== outCh) specs.push([`${p}nin_shortcut.weight`, [outCh, inCh, 1, 1]], [`${p}nin_shortcut.bias`, [outCh]]);
  return specs;
}

function vaeMidSpecs(p: string, ch: number): TensorSpec[] {
  const specs = [...vaeResSpecs(`${p}mid.block_1.`, ch, ch)];
  specs.push([`${p}mid.attn_1.norm.weight`, [ch]], [`${p}mid.attn_1.norm.bias`, [ch]]);
  for (const conv of ['q', 'k', 'v', 'proj_out'])
    specs.push([`${p}mid.attn_1.${conv}.weight`, [ch, ch, 1, 1]], [`${p}mid.attn_1.${conv}.bias`, [ch]]);
  specs.push(...vaeResSpecs(`${p}mid.block_2.`, ch, ch));
  return specs;
}

export function vaeEncoderSpecs(dims: VaeDims): TensorSpec[] {
  const e = `${VAE_PREFIX}encoder.`;
  const z = dims.latentChannels;
  const specs: TensorSpec[] = [
    [`${e}conv_in.weight`, [dims.baseChannels, 3, 3, 3]],
    [`${e}conv_in.bias`, [dims.baseChannels]],
  ];
  let ch = dims.baseChannels;
  for (let level = 0; level < LEVELS; level++) {
    const width = dims.levelWidths[level]!;
    for (let b = 0; b < RES_BLOCKS; b++) {
      specs.push(...vaeResSpecs(`${e}down.${level}.block.${b}.`, ch, width));
      ch = width;
    }
    if (level < LEVELS - 1)
      specs.push(
        [`${e}down.${level}.downsample.conv.weight`, [ch, ch, 3, 3]],
        [`${e}down.${level}.downsample.conv.bias`, [ch]],
      );
  }
  specs.push(...vaeMidSpecs(e, ch));
  specs.push(
    [`${e}norm_out.weight`, [ch]],
    [`${e}norm_out.bias`, [ch]],
    [`${e}conv_out.weight`, [2 * z, ch, 3, 3]],
    [`${e}conv_out.bias`, [2 * z]],
  );
  specs.push([`${VAE_PREFIX}quant_conv.weight`, [2 * z, 2 * z, 1, 1]], [`${VAE_PREFIX}quant_conv.bias`, [2 * z]]);
  return specs;
}

export function vaeDecoderSpecs(dims: VaeDims): TensorSpec[] {
  const d = `${VAE_PREFIX}decoder.`;
  const z = dims.latentChannels;
  let ch = dims.levelWidths[LEVELS - 1]!;
  const specs: TensorSpec[] = [
    [`${VAE_PREFIX}post_quant_conv.weight`, [z, z, 1, 1]],
    [`${VAE_PREFIX}post_quant_conv.bias`, [z]],
    [`${d}conv_in.weight`, [ch, z, 3, 3]],
    [`${d}conv_in.bias`, [ch]],
    ...vaeMidSpecs(d, ch),
  ];
  for (let level = LEVELS - 1; level >= 0; level--) {
    const width = dims.levelWidths[level]!;
    for (let b = 0; b <= RES_BLOCKS; b++) {
      specs.push(...vaeResSpecs(`${d}up.${level}.block.${b}.`, ch, width));
      ch = width;
    }
    if (level > 0)
      specs.push(
        [`${d}up.${level}.upsample.conv.weight`, [ch, ch, 3, 3]],
        [`${d}up.${level}.upsample.conv.bias`, [ch]],
      );
  }
  specs.push(
    [`${d}norm_out.weight`, [ch]],
    [`${d}norm_out.bias`, [ch]],
    [`${d}conv_out.weight`, [3, ch, 3, 3]],
    [`${d}conv_out.bias`, [3]],
  );
  return specs;
}

// ---------------------------------------------------------------- motion module

/** Motion modules in injection order: down levels 0..3 (2 each), the mid block, up levels 3..0 (3 each). */
export interface MotionSlot {
  readonly prefix: string;
  readonly width: number;
}

export function motionSlots(levelWidths: readonly number[]): {
  down: MotionSlot[][];
  mid: MotionSlot;
  up: MotionSlot[][];
} {
  const down = levelWidths.map((width, level) =>
    Array.from({ length: RES_BLOCKS }, (_, m) => ({ prefix: `down_blocks.${level}.motion_modules.${m}.`, width })),
  );
  const up = Array.from({ length: LEVELS }, (_, upIndex) => {
    const width = levelWidths[LEVELS - 1 - upIndex]!;
    return Array.from({ length: RES_BLOCKS + 1 }, (_, m) => ({
      prefix: `up_blocks.${upIndex}.motion_modules.${m}.`,
      width,
    }));
  });
  return { down, mid: { prefix: 'mid_block.motion_modules.0.', width: levelWidths[LEVELS - 1]! }, up };
}

function motionModuleSpecs(p: string, c: number, maxFrames: number): TensorSpec[] {
  const t = `${p}temporal_transformer.`;
  const b = `${t}transformer_blocks.0.`;
  const specs: TensorSpec[] = [
    [`${t}norm.weight`, [c]],
    [`${t}norm.bias`, [c]],
    [`${t}proj_in.weight`, [c, c]],
    [`${t}proj_in.bias`, [c]],
  ];
  for (const a of [0, 1]) {
    const q = `${b}attention_blocks.${a}.`;
    specs.push([`${q}pos_encoder.pe`, [1, maxFrames, c]]);
    for (const proj of ['to_q', 'to_k', 'to_v']) specs.push([`${q}${proj}.weight`, [c, c]]);
    specs.push([`${q}to_out.0.weight`, [c, c]], [`${q}to_out.0.bias`, [c]]);
    specs.push([`${b}norms.${a}.weight`, [c]], [`${b}norms.${a}.bias`, [c]]);
  }
  specs.push([`${b}ff.net.0.proj.weight`, [c * 8, c]], [`${b}ff.net.0.proj.bias`, [c * 8]]);
  specs.push([`${b}ff.net.2.weight`, [c, c * 4]], [`${b}ff.net.2.bias`, [c]]);
  specs.push([`${b}ff_norm.weight`, [c]], [`${b}ff_norm.bias`, [c]]);
  specs.push([`${t}proj_out.weight`, [c, c]], [`${t}proj_out.bias`, [c]]);
  return specs;
}

export function motionSpecs(dims: MotionDims): TensorSpec[] {
  const slots = motionSlots(dims.levelWidths);
  return [...slots.down.flat(), slots.mid, ...slots.up.flat()].flatMap((slot) =>
    motionModuleSpecs(slot.prefix, slot.width, dims.maxFrames),
  );
}

// ---------------------------------------------------------------- validation

function checkSpecs(file: SafetensorsFile, specs: readonly TensorSpec[], what: string): void {
  for (const [name, shape] of specs) {
    const entry = file.tensors.get(name);
    if (!entry) {
      throw usageError(
        'E_NATIVE_MODEL_TENSOR',
        `${file.path} is not ${what}: tensor ${name} is missing`,
        'the file may be incomplete or of another model family',
      );
    }
    if (entry.shape.length !== shape.length || entry.shape.some((dim, i) => dim !== shape[i])) {
      throw usageError(
        'E_NATIVE_MODEL_SHAPE',
        `${file.path}: tensor ${name} has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}] for ${what}`,
        'the file is damaged or of another architecture',
      );
    }
    if (!['F16', 'BF16', 'F32', 'F64'].includes(entry.dtype)) {
      throw usageError(
        'E_NATIVE_MODEL_DTYPE',
        `${file.path}: tensor ${name} has dtype ${entry.dtype}, expected a float type`,
      );
    }
  }
}

const SD15 = 'an SD 1.5 checkpoint';

/** Infers and checks the checkpoint's widths; throws a BeatloomError naming the file and tensor. */
export function validateCheckpoint(file: SafetensorsFile): { unet: UnetDims; clip: ClipDims; vae: VaeDims } {
  const names = [...file.tensors.keys()];
  if (names.some((name) => name.startsWith('conditioner.embedders.'))) {
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is an SDXL checkpoint, not ${SD15}`,
      'the native engine runs SD 1.5 checkpoints (AnimateDiff-Lightning is trained on SD 1.5)',
    );
  }
  if (!names.some((name) => name.startsWith(UNET_PREFIX))) {
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is not ${SD15} in the original layout (no ${UNET_PREFIX}* tensors)`,
      names.some((name) => name.startsWith('down_blocks.'))
        ? 'this looks like a motion module or a diffusers UNet; pass it as --native-motion-model or use a single-file checkpoint'
        : 'use the single-file .safetensors checkpoint ComfyUI loads',
    );
  }
  const u = UNET_PREFIX;
  const convIn = shapeOf(file, `${u}input_blocks.0.0.weight`, SD15);
  const modelChannels = convIn[0]!;
  const levelWidths = [1, 4, 7, 10].map(
    (index) => shapeOf(file, `${u}input_blocks.${index}.0.out_layers.3.weight`, SD15)[0]!,
  );
  const contextDim = shapeOf(file, `${u}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`, SD15)[1]!;
  const timeEmbedDim = shapeOf(file, `${u}time_embed.0.weight`, SD15)[0]!;
  if (
    names.some((name) => name.startsWith(`${u}label_emb.`)) ||
    names.some((name) => name.startsWith(`${u}input_blocks.4.1.transformer_blocks.1.`))
  ) {
    throw usageError('E_NATIVE_MODEL_FAMILY', `${file.path} is not ${SD15} (it has SDXL-style UNet blocks)`);
  }
  if (convIn[1] !== 4)
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is not ${SD15}: its UNet takes ${convIn[1]} input channels, not 4 (inpainting models are not supported)`,
    );
  const unet: UnetDims = { inChannels: 4, modelChannels, levelWidths, timeEmbedDim, contextDim, heads: UNET_HEADS };

  const token = shapeOf(file, `${CLIP_PREFIX}embeddings.token_embedding.weight`, SD15);
  let layers = 0;
  while (file.tensors.has(`${CLIP_PREFIX}encoder.layers.${layers}.layer_norm1.weight`)) layers++;
  const width = token[1]!;
  if (width !== contextDim) {
    throw usageError(
      'E_NATIVE_MODEL_SHAPE',
      `${file.path}: the text encoder's width ${width} does not match the UNet's context width ${contextDim}`,
      `not ${SD15} (SD 2.x uses OpenCLIP)`,
    );
  }
  const clip: ClipDims = {
    vocabSize: token[0]!,
    width,
    layers,
    intermediate: shapeOf(file, `${CLIP_PREFIX}encoder.layers.0.mlp.fc1.weight`, SD15)[0]!,
    // OpenAI CLIP text towers use 64-wide heads (ViT-L/14: 768 = 12 × 64); narrower test models use one.
    heads: width % 64 === 0 ? width / 64 : 1,
  };

  const baseChannels = shapeOf(file, `${VAE_PREFIX}encoder.conv_in.weight`, SD15)[0]!;
  const vaeWidths = Array.from(
    { length: LEVELS },
    (_, level) => shapeOf(file, `${VAE_PREFIX}encoder.down.${level}.block.0.conv1.weight`, SD15)[0]!,
  );
  const vae: VaeDims = {
    baseChannels,
    levelWidths: vaeWidths,
    latentChannels: shapeOf(file, `${VAE_PREFIX}post_quant_conv.weight`, SD15)[0]!,
  };
  if (vae.latentChannels !== 4)
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is not ${SD15}: its VAE has ${vae.latentChannels} latent channels`,
    );

  checkSpecs(file, unetSpecs(unet), SD15);
  checkSpecs(file, clipSpecs(clip), SD15);
  checkSpecs(file, vaeEncoderSpecs(vae), SD15);
  checkSpecs(file, vaeDecoderSpecs(vae), SD15);
  return { unet, clip, vae };
}

const MOTION = 'an AnimateDiff v2 motion module';

/** Checks the motion module against the UNet it will be injected into. */
export function validateMotionModule(file: SafetensorsFile, unet: UnetDims): MotionDims {
  const names = [...file.tensors.keys()];
  if (!names.some((name) => name.includes('.motion_modules.'))) {
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is not ${MOTION} (no motion_modules tensors)`,
      names.some((name) => name.startsWith(UNET_PREFIX))
        ? 'this is a checkpoint; pass it as --native-checkpoint'
        : 'use animatediff_lightning_{1,2,4,8}step_comfyui.safetensors',
    );
  }
  if (!names.some((name) => name.startsWith('down_blocks.3.'))) {
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is not ${MOTION}: it has 3 down blocks (an SDXL motion module)`,
      'use an SD 1.5 AnimateDiff v2 / Lightning module',
    );
  }
  if (!names.some((name) => name.startsWith('mid_block.'))) {
    throw usageError(
      'E_NATIVE_MODEL_FAMILY',
      `${file.path} is not ${MOTION}: it has no mid block (AnimateDiff v1 or v3)`,
      'use an AnimateDiff v2 module such as animatediff_lightning_4step_comfyui.safetensors',
    );
  }
  if (names.some((name) => name.startsWith('down_blocks.') && !name.includes('.motion_modules.'))) {
    throw usageError('E_NATIVE_MODEL_FAMILY', `${file.path} is not ${MOTION}: it holds a whole diffusers UNet`);
  }
  const pe = shapeOf(
    file,
    'down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe',
    MOTION,
  );
  const dims: MotionDims = { levelWidths: unet.levelWidths, maxFrames: pe[1]!, heads: MOTION_HEADS };
  const inProj = shapeOf(file, 'down_blocks.0.motion_modules.0.temporal_transformer.proj_in.weight', MOTION);
  if (inProj[0] !== unet.levelWidths[0]) {
    throw usageError(
      'E_NATIVE_MODEL_SHAPE',
      `${file.path}: motion module width ${inProj[0]} does not match the checkpoint's UNet width ${unet.levelWidths[0]}`,
      'use a motion module made for this checkpoint family',
    );
  }
  checkSpecs(file, motionSpecs(dims), MOTION);
  return dims;
}

export function nativeModelDims(
  checkpoint: { unet: UnetDims; clip: ClipDims; vae: VaeDims },
  motion: MotionDims,
): NativeModelDims {
  return {
    contextDim: checkpoint.unet.contextDim,
    latentChannels: checkpoint.vae.latentChannels,
    vaeScaleFactor: 2 ** (LEVELS - 1),
    motionMaxFrames: motion.maxFrames,
    unet: checkpoint.unet,
    clip: checkpoint.clip,
    vae: checkpoint.vae,
    motion,
  };
}

export function isModelError(error: unknown): error is BeatloomError {
  return error instanceof BeatloomError && error.code.startsWith('E_NATIVE_MODEL');
}
