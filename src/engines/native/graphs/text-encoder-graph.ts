import type { LoraPatches } from '../lora.js';
import { GraphBuilder } from '../onnx/graph-builder.js';
import { CLIP_PREFIX, CLIP_TOKENS, type ClipDims } from '../model-spec.js';
import type { SafetensorsFile } from '../safetensors.js';
import { Layers } from './layers.js';

/**
 * SD 1.5's CLIP ViT-L/14 text tower as ComfyUI's comfy/clip_model.py runs it for the UNet: token +
 * position embeddings, pre-norm layers with a causal mask and quick_gelu, and the last layer's output
 * through final_layer_norm (sd1_clip: layer="last", layer_norm_hidden_state=True).
 * in `input_ids` int64 [B, 77] → out `hidden_states` [B, 77, D].
 */
export function buildTextEncoderGraph(file: SafetensorsFile, dims: ClipDims, patches?: LoraPatches): GraphBuilder {
  const g = new GraphBuilder('beatloom_text_encoder');
  const l = new Layers(g, file, patches);
  const c = CLIP_PREFIX;
  const d = dims.width;
  const ids = g.input('input_ids', 'int64', ['B', CLIP_TOKENS]);
  const tokens = g.op('Gather', [l.tensor(`${c}embeddings.token_embedding.weight`), ids], { axis: { i: 0 } });
  let x = g.add(tokens, l.tensor(`${c}embeddings.position_embedding.weight`));
  const causal = new Float32Array(CLIP_TOKENS * CLIP_TOKENS);
  for (let row = 0; row < CLIP_TOKENS; row++) {
    for (let col = row + 1; col < CLIP_TOKENS; col++) causal[row * CLIP_TOKENS + col] = -Infinity;
  }
  const mask = g.constFloat(causal, [CLIP_TOKENS, CLIP_TOKENS]);
  for (let layer = 0; layer < dims.layers; layer++) {
    const p = `${c}encoder.layers.${layer}.`;
    const h = l.layerNorm(x, `${p}layer_norm1.`);
    const q = l.linear(h, `${p}self_attn.q_proj.`);
    const k = l.linear(h, `${p}self_attn.k_proj.`);
    const v = l.linear(h, `${p}self_attn.v_proj.`);
    x = g.add(x, l.linear(l.attention(q, k, v, dims.heads, d, mask), `${p}self_attn.out_proj.`));
    const m = l.layerNorm(x, `${p}layer_norm2.`);
    x = g.add(x, l.linear(g.quickGelu(l.linear(m, `${p}mlp.fc1.`)), `${p}mlp.fc2.`));
  }
  g.output(l.layerNorm(x, `${c}final_layer_norm.`), 'hidden_states', 'float', ['B', CLIP_TOKENS, d]);
  return g;
}
