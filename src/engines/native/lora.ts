import { usageError } from '../../shared/errors.js';
import {
  CLIP_PREFIX,
  LEVELS,
  RES_BLOCKS,
  UNET_PREFIX,
  unetLayout,
  type ClipDims,
  type UnetDims,
} from './model-spec.js';
import { readSafetensors, readTensorFloat32, type SafetensorsFile } from './safetensors.js';

/**
 * LoRAs in the kohya format ComfyUI's LoraLoader reads for SD 1.5 (`lora_unet_…` with diffusers or LDM
 * module names, `lora_te_text_model_encoder_layers_…`, each `.lora_up.weight` / `.lora_down.weight` /
 * optional `.alpha`), merged into the checkpoint's weights when the graphs are built, as ComfyUI's
 * weight_adapter/lora.py does: W += strength · (alpha / rank) · up·down.
 */
export interface NativeLora {
  readonly path: string;
  readonly strengthModel: number;
  readonly strengthClip: number;
}

interface LoraPatch {
  readonly file: SafetensorsFile;
  readonly up: string;
  readonly down: string;
  readonly alpha: number | undefined;
  readonly strength: number;
}

/** Checkpoint tensor name → the patches on it, in LoRA order. */
export type LoraPatches = ReadonlyMap<string, readonly LoraPatch[]>;

const RESNET_TO_DIFFUSERS: Record<string, string> = {
  'in_layers.0': 'norm1',
  'in_layers.2': 'conv1',
  'emb_layers.1': 'time_emb_proj',
  'out_layers.0': 'norm2',
  'out_layers.3': 'conv2',
  skip_connection: 'conv_shortcut',
};
const TRANSFORMER_MODULES = [
  'proj_in',
  'proj_out',
  'norm',
  ...['attn1', 'attn2'].flatMap((attn) =>
    ['to_q', 'to_k', 'to_v', 'to_out.0'].map((proj) => `transformer_blocks.0.${attn}.${proj}`),
  ),
  'transformer_blocks.0.ff.net.0.proj',
  'transformer_blocks.0.ff.net.2',
  'transformer_blocks.0.norm1',
  'transformer_blocks.0.norm2',
  'transformer_blocks.0.norm3',
];
const CLIP_MODULES: Record<string, string> = {
  'self_attn.q_proj': 'self_attn_q_proj',
  'self_attn.k_proj': 'self_attn_k_proj',
  'self_attn.v_proj': 'self_attn_v_proj',
  'self_attn.out_proj': 'self_attn_out_proj',
  'mlp.fc1': 'mlp_fc1',
  'mlp.fc2': 'mlp_fc2',
};

/** LoRA module name → checkpoint weight name, as comfy/lora.py model_lora_keys_unet / _clip build it. */
export function loraKeyMap(unet: UnetDims, clip: ClipDims): Map<string, string> {
  const map = new Map<string, string>();
  const add = (ldmModule: string, diffusersModule?: string): void => {
    const target = `${UNET_PREFIX}${ldmModule}.weight`;
    map.set(`lora_unet_${ldmModule.replaceAll('.', '_')}`, target);
    map.set(`diffusion_model.${ldmModule}`, target);
    if (diffusersModule) map.set(`lora_unet_${diffusersModule.replaceAll('.', '_')}`, target);
  };
  add('time_embed.0', 'time_embedding.linear_1');
  add('time_embed.2', 'time_embedding.linear_2');
  add('out.0', 'conv_norm_out');
  add('out.2', 'conv_out');
  const resnet = (ldm: string, diffusers: string): void => {
    for (const [from, to] of Object.entries(RESNET_TO_DIFFUSERS)) add(`${ldm}${from}`, `${diffusers}${to}`);
  };
  const transformer = (ldm: string, diffusers: string): void => {
    for (const module of TRANSFORMER_MODULES) add(`${ldm}${module}`, `${diffusers}${module}`);
  };
  const layout = unetLayout(unet);
  const strip = (prefix: string): string => prefix.slice(UNET_PREFIX.length);
  let inputRes = 0;
  for (const block of layout.input) {
    if (block.kind === 'conv_in') add(strip(block.prefix).slice(0, -1), 'conv_in');
    else if (block.kind === 'down')
      add(strip(block.prefix).slice(0, -1), `down_blocks.${Math.floor(inputRes / RES_BLOCKS) - 1}.downsamplers.0.conv`);
    else {
      const diffusers = `down_blocks.${block.level}.`;
      const r = inputRes++ % RES_BLOCKS;
      resnet(strip(block.resPrefix), `${diffusers}resnets.${r}.`);
      if (block.stPrefix) transformer(strip(block.stPrefix), `${diffusers}attentions.${r}.`);
    }
  }
  resnet('middle_block.0.', 'mid_block.resnets.0.');
  transformer('middle_block.1.', 'mid_block.attentions.0.');
  resnet('middle_block.2.', 'mid_block.resnets.1.');
  layout.output.forEach((block, index) => {
    const diffusers = `up_blocks.${LEVELS - 1 - block.level}.`;
    const r = index % (RES_BLOCKS + 1);
    resnet(strip(block.resPrefix), `${diffusers}resnets.${r}.`);
    if (block.stPrefix) transformer(strip(block.stPrefix), `${diffusers}attentions.${r}.`);
    if (block.upPrefix) add(strip(block.upPrefix).slice(0, -1), `${diffusers}upsamplers.0.conv`);
  });
  for (let layer = 0; layer < clip.layers; layer++) {
    for (const [module, kohya] of Object.entries(CLIP_MODULES)) {
      const target = `${CLIP_PREFIX}encoder.layers.${layer}.${module}.weight`;
      map.set(`lora_te_text_model_encoder_layers_${layer}_${kohya}`, target);
      map.set(`text_encoder.text_model.encoder.layers.${layer}.${module}`, target);
    }
  }
  return map;
}

/** Reads the LoRAs' headers and matches their modules to checkpoint weights. */
export async function readLoraPatches(
  loras: readonly NativeLora[],
  unet: UnetDims,
  clip: ClipDims,
): Promise<LoraPatches> {
  const keyMap = loraKeyMap(unet, clip);
  const patches = new Map<string, LoraPatch[]>();
  for (const lora of loras) {
    const file = await readSafetensors(lora.path);
    let matched = 0;
    for (const [module, target] of keyMap) {
      const up = `${module}.lora_up.weight`;
      const down = `${module}.lora_down.weight`;
      if (!file.tensors.has(up) || !file.tensors.has(down)) continue;
      if (file.tensors.has(`${module}.lora_mid.weight`) || file.tensors.has(`${module}.dora_scale`)) {
        throw usageError(
          'E_NATIVE_LORA',
          `${lora.path}: ${module} is a LoCon-mid / DoRA module, which the native engine does not merge`,
          'use a plain LoRA, or --engine comfyui',
        );
      }
      const strength = target.startsWith(CLIP_PREFIX) ? lora.strengthClip : lora.strengthModel;
      if (strength === 0) continue;
      const alphaEntry = file.tensors.get(`${module}.alpha`);
      const alpha = alphaEntry ? (await readTensorFloat32(file, alphaEntry.name))[0] : undefined;
      const list = patches.get(target) ?? [];
      list.push({ file, up, down, alpha, strength });
      patches.set(target, list);
      matched++;
    }
    if (matched === 0 && (lora.strengthModel !== 0 || lora.strengthClip !== 0)) {
      throw usageError(
        'E_NATIVE_LORA',
        `${lora.path} is not an SD 1.5 LoRA: none of its tensors names a module of the checkpoint`,
        'use a kohya-format SD 1.5 LoRA (lora_unet_… / lora_te_… keys)',
      );
    }
  }
  return patches;
}

/** W + Σ strength · (alpha / rank) · (up ⋅ down), for Linear and Conv weights (down [r, in, …], up [out, r, 1, 1]). */
export async function applyLoraPatches(
  name: string,
  shape: readonly number[],
  weight: Float32Array,
  patches: readonly LoraPatch[],
): Promise<Float32Array> {
  const out = Float32Array.from(weight);
  const rows = shape[0]!;
  const cols = weight.length / rows;
  for (const patch of patches) {
    const upShape = patch.file.tensors.get(patch.up)!.shape;
    const downShape = patch.file.tensors.get(patch.down)!.shape;
    const rank = downShape[0]!;
    if (
      upShape[0] !== rows ||
      upShape.slice(1).reduce((a, b) => a * b, 1) !== rank ||
      downShape.slice(1).reduce((a, b) => a * b, 1) !== cols
    ) {
      throw usageError(
        'E_NATIVE_LORA',
        `${patch.file.path}: ${patch.up} [${upShape.join(', ')}] × ${patch.down} [${downShape.join(', ')}] does not fit ${name} [${shape.join(', ')}]`,
        'the LoRA was made for another model family',
      );
    }
    const up = await readTensorFloat32(patch.file, patch.up);
    const down = await readTensorFloat32(patch.file, patch.down);
    const scale = Math.fround(patch.strength * ((patch.alpha ?? rank) / rank));
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        let sum = 0;
        for (let k = 0; k < rank; k++) sum += up[row * rank + k]! * down[k * cols + col]!;
        out[row * cols + col] = out[row * cols + col]! + Math.fround(scale * Math.fround(sum));
      }
    }
  }
  return out;
}
