import { GraphBuilder } from '../onnx/graph-builder.js';
import { LEVELS, RES_BLOCKS, VAE_PREFIX, type VaeDims } from '../model-spec.js';
import type { SafetensorsFile } from '../safetensors.js';
import { Layers } from './layers.js';

/** SD 1.5's latent scale (ldm v1-inference.yaml scale_factor; ComfyUI latent_formats.SD15). */
export const SD15_LATENT_SCALE = 0.18215;
const EPS = 1e-6;

/** comfy/ldm/modules/diffusionmodules/model.py ResnetBlock (no timestep embedding). */
function resnet(l: Layers, x: string, prefix: string, inCh: number, outCh: number): string {
  const g = l.g;
  let h = l.conv(g.silu(l.groupNorm(x, `${prefix}norm1.`, EPS)), `${prefix}conv1.`);
  h = l.conv(g.silu(l.groupNorm(h, `${prefix}norm2.`, EPS)), `${prefix}conv2.`);
  const skip = inCh === outCh ? x : l.conv(x, `${prefix}nin_shortcut.`);
  return g.add(skip, h);
}

/** AttnBlock: one head over all pixels, 1×1-conv projections. */
function attnBlock(l: Layers, x: string, prefix: string, ch: number): string {
  const g = l.g;
  const h = l.groupNorm(x, `${prefix}norm.`, EPS);
  const tokens = (value: string): string => g.transpose(g.reshape(value, [0, 0, -1]), [0, 2, 1]);
  const q = tokens(l.conv(h, `${prefix}q.`));
  const k = tokens(l.conv(h, `${prefix}k.`));
  const v = tokens(l.conv(h, `${prefix}v.`));
  const out = g.reshape(g.transpose(l.attention(q, k, v, 1, ch), [0, 2, 1]), g.shape(x));
  return g.add(x, l.conv(out, `${prefix}proj_out.`));
}

function mid(l: Layers, x: string, prefix: string, ch: number): string {
  let h = resnet(l, x, `${prefix}mid.block_1.`, ch, ch);
  h = attnBlock(l, h, `${prefix}mid.attn_1.`, ch);
  return resnet(l, h, `${prefix}mid.block_2.`, ch, ch);
}

/**
 * in `latent` [N, 4, h, w] (sampler space) → out `image` [N, 3, 8h, 8w] in [0, 1]: 1/0.18215, then
 * AutoencoderKL.decode (post_quant_conv, Decoder), then ComfyUI's VAE.process_output clamp((x+1)/2).
 */
export function buildVaeDecoderGraph(file: SafetensorsFile, dims: VaeDims): GraphBuilder {
  const g = new GraphBuilder('beatloom_vae_decoder');
  const l = new Layers(g, file);
  const d = `${VAE_PREFIX}decoder.`;
  const latent = g.input('latent', 'float', ['N', dims.latentChannels, 'h', 'w']);
  let x = l.conv(g.mul(latent, g.scalar(1 / SD15_LATENT_SCALE)), `${VAE_PREFIX}post_quant_conv.`);
  let ch = dims.levelWidths[LEVELS - 1]!;
  x = l.conv(x, `${d}conv_in.`);
  x = mid(l, x, d, ch);
  for (let level = LEVELS - 1; level >= 0; level--) {
    const width = dims.levelWidths[level]!;
    for (let b = 0; b <= RES_BLOCKS; b++) {
      x = resnet(l, x, `${d}up.${level}.block.${b}.`, ch, width);
      ch = width;
    }
    if (level > 0) {
      const up = g.op('Resize', [x, '', g.constFloat([1, 1, 2, 2], [4])], {
        mode: { s: 'nearest' },
        coordinate_transformation_mode: { s: 'asymmetric' },
        nearest_mode: { s: 'floor' },
      });
      x = l.conv(up, `${d}up.${level}.upsample.conv.`);
    }
  }
  x = l.conv(g.silu(l.groupNorm(x, `${d}norm_out.`, EPS)), `${d}conv_out.`);
  const image = g.op('Clip', [g.mul(g.add(x, g.scalar(1)), g.scalar(0.5)), g.scalar(0), g.scalar(1)]);
  g.output(image, 'image', 'float', ['N', 3, 'H', 'W']);
  return g;
}

/**
 * in `image` [N, 3, H, W] in [0, 1] → out `latent` [N, 4, H/8, W/8]: 2x−1, Encoder, quant_conv, the
 * posterior's mean (DiagonalGaussianRegularizer without sampling), × 0.18215.
 */
export function buildVaeEncoderGraph(file: SafetensorsFile, dims: VaeDims): GraphBuilder {
  const g = new GraphBuilder('beatloom_vae_encoder');
  const l = new Layers(g, file);
  const e = `${VAE_PREFIX}encoder.`;
  const image = g.input('image', 'float', ['N', 3, 'H', 'W']);
  let x = l.conv(g.sub(g.mul(image, g.scalar(2)), g.scalar(1)), `${e}conv_in.`);
  let ch = dims.baseChannels;
  for (let level = 0; level < LEVELS; level++) {
    const width = dims.levelWidths[level]!;
    for (let b = 0; b < RES_BLOCKS; b++) {
      x = resnet(l, x, `${e}down.${level}.block.${b}.`, ch, width);
      ch = width;
    }
    // model.py Downsample: pad (0, 1, 0, 1) then a 3×3 stride-2 conv without padding.
    if (level < LEVELS - 1)
      x = l.conv(x, `${e}down.${level}.downsample.conv.`, { pads: [0, 0, 1, 1], strides: [2, 2] });
  }
  x = mid(l, x, e, ch);
  x = l.conv(g.silu(l.groupNorm(x, `${e}norm_out.`, EPS)), `${e}conv_out.`);
  const moments = l.conv(x, `${VAE_PREFIX}quant_conv.`);
  const mean = g.op('Slice', [moments, g.constInt([0]), g.constInt([dims.latentChannels]), g.constInt([1])]);
  g.output(g.mul(mean, g.scalar(SD15_LATENT_SCALE)), 'latent', 'float', ['N', dims.latentChannels, 'h', 'w']);
  return g;
}
