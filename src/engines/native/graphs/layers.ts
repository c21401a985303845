import { applyLoraPatches, type LoraPatches } from '../lora.js';
import type { GraphBuilder } from '../onnx/graph-builder.js';
import { readTensorFloat32, type SafetensorsFile } from '../safetensors.js';

/**
 * The layers SD 1.5's modules are made of, as ONNX subgraphs whose weights are read from a
 * .safetensors file (by tensor name) only when the model is written.
 */
export class Layers {
  constructor(
    readonly g: GraphBuilder,
    readonly file: SafetensorsFile,
    /** LoRA patches merged into the weights they name (checkpoint tensor name → patches). */
    private readonly patches: LoraPatches = new Map(),
  ) {}

  private async load(name: string): Promise<Float32Array> {
    const data = await readTensorFloat32(this.file, name);
    const patches = this.patches.get(name);
    return patches ? applyLoraPatches(name, this.dimsOf(name), data, patches) : data;
  }

  private dimsOf(name: string): readonly number[] {
    const entry = this.file.tensors.get(name);
    if (!entry) throw new Error(`graph builder asked for missing tensor ${name} of ${this.file.path}`);
    return entry.shape;
  }

  /** The tensor as stored. */
  tensor(name: string, dims?: readonly number[]): string {
    return this.g.weight(name, dims ?? this.dimsOf(name), () => this.load(name));
  }

  /** A per-channel vector shaped [C, 1, 1] to broadcast over NCHW. */
  channelVector(name: string): string {
    const [channels] = this.dimsOf(name);
    return this.g.weight(`${name}:c11`, [channels!, 1, 1], () => this.load(name));
  }

  /** A Linear weight [out, in] transposed to [in, out] for MatMul. */
  linearWeight(name: string): string {
    const [out, inp] = this.dimsOf(name) as [number, number];
    return this.g.weight(`${name}:T`, [inp, out], async () => {
      const data = await this.load(name);
      const transposed = new Float32Array(data.length);
      for (let o = 0; o < out; o++) {
        const row = o * inp;
        for (let i = 0; i < inp; i++) transposed[i * out + o] = data[row + i]!;
      }
      return transposed;
    });
  }

  linear(x: string, prefix: string, bias = true): string {
    const y = this.g.matmul(x, this.linearWeight(`${prefix}weight`));
    return bias ? this.g.add(y, this.tensor(`${prefix}bias`)) : y;
  }

  conv(x: string, prefix: string, options: { pads?: readonly number[]; strides?: readonly number[] } = {}): string {
    const weight = this.tensor(`${prefix}weight`);
    const kernel = this.dimsOf(`${prefix}weight`)[2]!;
    const pad = (kernel - 1) / 2;
    return this.g.conv(x, weight, this.tensor(`${prefix}bias`), {
      pads: options.pads ?? [pad, pad, pad, pad],
      ...(options.strides ? { strides: options.strides } : {}),
    });
  }

  /** torch.nn.GroupNorm(32, C) on NCHW (or N, C, L). */
  groupNorm(x: string, prefix: string, epsilon: number, channelDims = 3): string {
    const gamma = channelDims === 3 ? this.channelVector(`${prefix}weight`) : this.tensor(`${prefix}weight`);
    const beta = channelDims === 3 ? this.channelVector(`${prefix}bias`) : this.tensor(`${prefix}bias`);
    return this.g.groupNorm(x, 32, gamma, beta, epsilon);
  }

  layerNorm(x: string, prefix: string, epsilon = 1e-5): string {
    return this.g.layerNorm(x, this.tensor(`${prefix}weight`), this.tensor(`${prefix}bias`), epsilon);
  }

  /**
   * Scaled dot-product attention over [B, T, C] queries and [B, S, C] keys/values with `heads` heads
   * (as ComfyUI's optimized_attention): softmax(q·kᵀ/√d)·v. `mask` is added to the scores.
   */
  attention(q: string, k: string, v: string, heads: number, channels: number, mask?: string): string {
    const g = this.g;
    const headDim = channels / heads;
    const qh = g.transpose(g.reshape(q, [0, 0, heads, headDim]), [0, 2, 1, 3]);
    const kh = g.transpose(g.reshape(k, [0, 0, heads, headDim]), [0, 2, 3, 1]);
    const vh = g.transpose(g.reshape(v, [0, 0, heads, headDim]), [0, 2, 1, 3]);
    let scores = g.mul(g.matmul(qh, kh), g.scalar(1 / Math.sqrt(headDim)));
    if (mask) scores = g.add(scores, mask);
    const out = g.matmul(g.softmax(scores, -1), vh);
    return g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, channels]);
  }

  /** diffusers/ComfyUI GEGLU feed-forward: proj → (a, gate) → a·gelu(gate) → Linear. */
  gegluFeedForward(x: string, prefix: string, channels: number): string {
    const g = this.g;
    const projected = this.linear(x, `${prefix}net.0.proj.`);
    const inner = channels * 4;
    const [a, gate] = g.node('Split', [projected, g.constInt([inner, inner])], { axis: { i: -1 } }, [
      `${prefix}geglu_a`,
      `${prefix}geglu_gate`,
    ]) as [string, string];
    return this.linear(g.mul(a, g.gelu(gate)), `${prefix}net.2.`);
  }
}
