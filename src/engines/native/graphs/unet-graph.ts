import type { LoraPatches } from '../lora.js';
import { GraphBuilder } from '../onnx/graph-builder.js';
import {
  LEVELS,
  RES_BLOCKS,
  UNET_PREFIX,
  motionSlots,
  unetLayout,
  type MotionDims,
  type UnetDims,
} from '../model-spec.js';
import type { SafetensorsFile } from '../safetensors.js';
import { Layers } from './layers.js';

/**
 * SD 1.5's UNet (ComfyUI comfy/ldm/modules/diffusionmodules/openaimodel.py) with AnimateDiff v2 motion
 * modules placed where AnimateDiff-Evolved's AnimateDiffModel._inject puts them: after the
 * SpatialTransformer of a block, or after its ResBlock when it has none, the mid block's between its
 * transformer and second ResBlock. The F frames of one video are the batch.
 *
 * in  `sample` [F, 4, h, w], `timestep` [F], `context` [F, T, D] (T = 77 per prompt chunk), `motion_scale` [F]
 * out `eps` [F, 4, h, w]
 *
 * `motion_scale` multiplies the temporal attention's keys of each frame, which is what ADE does with a
 * scale_multival (CrossAttentionMM: k *= scale, or k *= scale_mask per frame).
 */
const RES_EPS = 1e-5;
const TRANSFORMER_EPS = 1e-6;

/** timestep_embedding's frequencies, rounded in float32 as torch computes them. */
function timestepFrequencies(channels: number): Float32Array {
  const half = channels / 2;
  const logPeriod = Math.fround(-Math.log(10000));
  return Float32Array.from({ length: half }, (_, k) =>
    Math.fround(Math.exp(Math.fround(Math.fround(logPeriod * k) / half))),
  );
}

interface UnetContext {
  readonly l: Layers;
  readonly motion: Layers;
  readonly emb: string;
  readonly context: string;
  readonly motionScale: string;
  readonly frames: string;
  readonly dims: UnetDims;
  readonly motionDims: MotionDims;
}

function resBlock(u: UnetContext, x: string, prefix: string, inCh: number, outCh: number): string {
  const { l } = u;
  const g = l.g;
  let h = l.conv(g.silu(l.groupNorm(x, `${prefix}in_layers.0.`, RES_EPS)), `${prefix}in_layers.2.`);
  const embOut = g.reshape(l.linear(g.silu(u.emb), `${prefix}emb_layers.1.`), [0, 0, 1, 1]);
  h = g.add(h, embOut);
  h = l.conv(g.silu(l.groupNorm(h, `${prefix}out_layers.0.`, RES_EPS)), `${prefix}out_layers.3.`);
  const skip = inCh === outCh ? x : l.conv(x, `${prefix}skip_connection.`);
  return g.add(skip, h);
}

/** [F, C, H, W] → [F, HW, C] */
function toTokens(g: GraphBuilder, x: string): string {
  return g.transpose(g.reshape(x, [0, 0, -1]), [0, 2, 1]);
}

/** [F, HW, C] → the shape of `like` ([F, C, H, W]) */
function fromTokens(g: GraphBuilder, tokens: string, like: string): string {
  return g.reshape(g.transpose(tokens, [0, 2, 1]), g.shape(like));
}

function spatialTransformer(u: UnetContext, x: string, prefix: string, ch: number): string {
  const { l } = u;
  const g = l.g;
  const heads = u.dims.heads;
  const t = `${prefix}transformer_blocks.0.`;
  let h = toTokens(g, l.conv(l.groupNorm(x, `${prefix}norm.`, TRANSFORMER_EPS), `${prefix}proj_in.`));
  const n1 = l.layerNorm(h, `${t}norm1.`);
  h = g.add(
    l.linear(
      l.attention(
        l.linear(n1, `${t}attn1.to_q.`, false),
        l.linear(n1, `${t}attn1.to_k.`, false),
        l.linear(n1, `${t}attn1.to_v.`, false),
        heads,
        ch,
      ),
      `${t}attn1.to_out.0.`,
    ),
    h,
  );
  const n2 = l.layerNorm(h, `${t}norm2.`);
  h = g.add(
    l.linear(
      l.attention(
        l.linear(n2, `${t}attn2.to_q.`, false),
        l.linear(u.context, `${t}attn2.to_k.`, false),
        l.linear(u.context, `${t}attn2.to_v.`, false),
        heads,
        ch,
      ),
      `${t}attn2.to_out.0.`,
    ),
    h,
  );
  h = g.add(l.gegluFeedForward(l.layerNorm(h, `${t}norm3.`), `${t}ff.`, ch), h);
  return g.add(l.conv(fromTokens(g, h, x), `${prefix}proj_out.`), x);
}

/** ADE's VanillaTemporalModule → TemporalTransformer3DModel (one block, two temporal self-attentions). */
function motionModule(u: UnetContext, x: string, prefix: string, ch: number): string {
  const l = u.motion;
  const g = l.g;
  const t = `${prefix}temporal_transformer.`;
  const b = `${t}transformer_blocks.0.`;
  const heads = u.motionDims.heads;
  // [F, C, H, W] → [F, HW, C]
  let h = l.linear(toTokens(g, l.groupNorm(x, `${t}norm.`, TRANSFORMER_EPS)), `${t}proj_in.`);
  // per-frame key scale, broadcast over [HW, F, C]
  const keyScale = g.reshape(u.motionScale, [1, -1, 1]);
  for (const a of [0, 1]) {
    const q = `${b}attention_blocks.${a}.`;
    // "(b f) d c -> (b d) f c": attend across frames at each pixel.
    const n = g.transpose(l.layerNorm(h, `${b}norms.${a}.`), [1, 0, 2]);
    const pe = g.op('Slice', [l.tensor(`${q}pos_encoder.pe`), g.constInt([0]), u.frames, g.constInt([1])]);
    const withPe = g.add(n, pe);
    const k = g.mul(l.linear(withPe, `${q}to_k.`, false), keyScale);
    const attended = l.attention(
      l.linear(withPe, `${q}to_q.`, false),
      k,
      l.linear(withPe, `${q}to_v.`, false),
      heads,
      ch,
    );
    h = g.add(g.transpose(l.linear(attended, `${q}to_out.0.`), [1, 0, 2]), h);
  }
  h = g.add(l.gegluFeedForward(l.layerNorm(h, `${b}ff_norm.`), `${b}ff.`, ch), h);
  return g.add(fromTokens(g, l.linear(h, `${t}proj_out.`), x), x);
}

export function buildUnetGraph(
  checkpoint: SafetensorsFile,
  motionFile: SafetensorsFile,
  dims: UnetDims,
  motionDims: MotionDims,
  patches?: LoraPatches,
): GraphBuilder {
  const g = new GraphBuilder('beatloom_unet_animatediff');
  const l = new Layers(g, checkpoint, patches);
  const motion = new Layers(g, motionFile);
  const sample = g.input('sample', 'float', ['F', dims.inChannels, 'h', 'w']);
  const timestep = g.input('timestep', 'float', ['F']);
  const context = g.input('context', 'float', ['F', 'T', dims.contextDim]);
  const motionScale = g.input('motion_scale', 'float', ['F']);
  const pre = UNET_PREFIX;

  const freqs = g.constFloat(timestepFrequencies(dims.modelChannels), [1, dims.modelChannels / 2]);
  const args = g.mul(g.reshape(timestep, [-1, 1]), freqs);
  const tEmb = g.concat([g.op('Cos', [args]), g.op('Sin', [args])], 1);
  const emb = l.linear(g.silu(l.linear(tEmb, `${pre}time_embed.0.`)), `${pre}time_embed.2.`);

  const u: UnetContext = { l, motion, emb, context, motionScale, frames: g.shape(sample, 0, 1), dims, motionDims };
  const slots = motionSlots(motionDims.levelWidths);
  const layout = unetLayout(dims);
  const skips: string[] = [];
  let h = sample;
  let downIndex = 0;
  for (const block of layout.input) {
    if (block.kind === 'conv_in') {
      h = l.conv(h, block.prefix);
    } else if (block.kind === 'down') {
      h = l.conv(h, block.prefix, { strides: [2, 2] });
    } else {
      h = resBlock(u, h, block.resPrefix, block.inCh, block.outCh);
      if (block.stPrefix) h = spatialTransformer(u, h, block.stPrefix, block.outCh);
      const slot = slots.down[block.level]![downIndex++ % RES_BLOCKS]!;
      h = motionModule(u, h, slot.prefix, slot.width);
    }
    skips.push(h);
  }
  const mid = dims.levelWidths[LEVELS - 1]!;
  h = resBlock(u, h, `${pre}middle_block.0.`, mid, mid);
  h = spatialTransformer(u, h, `${pre}middle_block.1.`, mid);
  h = motionModule(u, h, slots.mid.prefix, slots.mid.width);
  h = resBlock(u, h, `${pre}middle_block.2.`, mid, mid);

  let upIndex = 0;
  for (const block of layout.output) {
    h = g.concat([h, skips.pop()!], 1);
    h = resBlock(u, h, block.resPrefix, block.inCh, block.outCh);
    if (block.stPrefix) h = spatialTransformer(u, h, block.stPrefix, block.outCh);
    const slot = slots.up[LEVELS - 1 - block.level]![upIndex++ % (RES_BLOCKS + 1)]!;
    h = motionModule(u, h, slot.prefix, slot.width);
    if (block.upPrefix) {
      // Upsample to the next skip's size, as openaimodel passes output_shape (odd sizes stay exact).
      const target = skips[skips.length - 1]!;
      const sizes = g.concat([g.shape(h, 0, 2), g.shape(target, 2, 4)], 0);
      const up = g.op('Resize', [h, '', '', sizes], {
        mode: { s: 'nearest' },
        coordinate_transformation_mode: { s: 'asymmetric' },
        nearest_mode: { s: 'floor' },
      });
      h = l.conv(up, block.upPrefix);
    }
  }
  const out = l.conv(g.silu(l.groupNorm(h, `${pre}out.0.`, RES_EPS)), `${pre}out.2.`);
  g.output(out, 'eps', 'float', ['F', dims.inChannels, 'h', 'w']);
  return g;
}
