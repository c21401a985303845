/**
 * From prompts to the UNet's cross-attention context, as ComfyUI's CLIPTextEncode and
 * ConditioningAverage do it: every 77-token chunk of a prompt encoded, weighted tokens pulled
 * away from the empty prompt's encoding by their weight (comfy/sd1_clip.py
 * ClipTokenWeightEncoder.encode_token_weights), the chunks concatenated along the tokens, and a
 * blend of prompts a weighted average (the first prompt's length; the others cut or padded with
 * zeros, as ConditioningAverage does).
 */
import { CLIP_CONTEXT_LENGTH, CLIP_END_TOKEN, CLIP_START_TOKEN, type ClipTokenizer } from './clip-tokenizer.js';

const f = Math.fround;

/** Runs the text encoder on `batch` rows of 77 token ids → batch · 77 · width values. */
export type TextEncoderFn = (ids: readonly (readonly number[])[]) => Promise<Float32Array>;

export interface Conditioning {
  /** tokens · width values. */
  readonly values: Float32Array;
  readonly tokens: number;
  readonly width: number;
}

/** comfy/sd1_clip.py gen_empty_tokens: start, end, then end-token padding to 77. */
export function emptyTokens(): number[] {
  return [CLIP_START_TOKEN, ...new Array<number>(CLIP_CONTEXT_LENGTH - 1).fill(CLIP_END_TOKEN)];
}

export async function encodePrompt(
  text: string,
  tokenizer: ClipTokenizer,
  encode: TextEncoderFn,
  width: number,
): Promise<Conditioning> {
  const chunks = tokenizer.tokenizeWithWeights(text);
  const weighted = chunks.some((chunk) => chunk.weights.some((w) => w !== 1));
  const rows = chunks.map((chunk) => chunk.ids);
  if (weighted) rows.push(emptyTokens());
  const out = await encode(rows);
  const chunkSize = CLIP_CONTEXT_LENGTH * width;
  if (out.length !== rows.length * chunkSize) {
    throw new RangeError(`the text encoder gave ${out.length} values for ${rows.length}×77×${width}`);
  }
  const values = new Float32Array(chunks.length * chunkSize);
  values.set(out.subarray(0, values.length));
  if (weighted) {
    const empty = out.subarray(chunks.length * chunkSize);
    chunks.forEach((chunk, k) => {
      chunk.weights.forEach((weight, j) => {
        if (weight === 1) return;
        const w = f(weight);
        for (let d = 0; d < width; d++) {
          const i = k * chunkSize + j * width + d;
          const e = empty[j * width + d]!;
          values[i] = f(f(f(values[i]! - e) * w) + e);
        }
      });
    });
  }
  return { values, tokens: chunks.length * CLIP_CONTEXT_LENGTH, width };
}

/** A weighted average of conditionings, over the first one's tokens (weights need not sum to 1). */
export function blendConditionings(parts: readonly { conditioning: Conditioning; weight: number }[]): Conditioning {
  const first = parts[0];
  if (!first) throw new RangeError('no conditioning to blend');
  if (parts.length === 1) return first.conditioning;
  const total = parts.reduce((sum, p) => sum + p.weight, 0);
  const values = new Float32Array(first.conditioning.values.length);
  for (const { conditioning, weight } of parts) {
    const w = weight / total;
    const n = Math.min(values.length, conditioning.values.length);
    for (let i = 0; i < n; i++) values[i] = f(values[i]! + f(conditioning.values[i]! * w));
  }
  return { values, tokens: first.conditioning.tokens, width: first.conditioning.width };
}

/** The first `tokens` tokens of a conditioning (a UNet graph with a fixed context length). */
export function truncateConditioning(conditioning: Conditioning, tokens: number): Conditioning {
  if (conditioning.tokens <= tokens) return conditioning;
  return { ...conditioning, values: conditioning.values.slice(0, tokens * conditioning.width), tokens };
}
