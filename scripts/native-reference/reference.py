# Reference tensors for beatloom's native engine, from ComfyUI's own modules (comfy.sd1_clip,
# comfy.ldm...openaimodel, AnimateDiff-Evolved's motion_module_ad, comfy.ldm.models.autoencoder).
# Run inside the ComfyUI chroot (see scripts/native-reference/README.md):
#   python3 reference.py CHECKPOINT MOTION_MODULE OUT.safetensors FRAMES LATENT_SIZE [LORA STRENGTH_MODEL STRENGTH_CLIP]
# Writes the inputs and outputs of one text-encoder, UNet+motion, VAE decode and VAE encode pass; with a
# LoRA, also the text encoder and UNet outputs after comfy.lora merges it (as LoraLoader does).
import sys
import comfy.options
comfy.options.enable_args_parsing()
ckpt_path, mm_path, out_path, frames, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
lora_args = sys.argv[6:9]
sys.argv = [sys.argv[0], "--cpu"]
import torch
import comfy.ops
import comfy.utils
import comfy.sd1_clip
import comfy.lora
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
from comfy.ldm.models.autoencoder import AutoencoderKL
from safetensors.torch import save_file
import importlib
ade = importlib.import_module("custom_nodes.ComfyUI-AnimateDiff-Evolved.animatediff.motion_module_ad")

torch.manual_seed(0)
torch.set_grad_enabled(False)
ops = comfy.ops.disable_weight_init


def prefixed(sd, prefix):
    return {k[len(prefix):]: v.float() for k, v in sd.items() if k.startswith(prefix)}


sd = comfy.utils.load_torch_file(ckpt_path)
mm_sd = comfy.utils.load_torch_file(mm_path)
out = {}

# ---- text encoder
clip_sd = prefixed(sd, "cond_stage_model.transformer.")
width = clip_sd["text_model.embeddings.token_embedding.weight"].shape[1]
layers = len({k.split(".")[3] for k in clip_sd if k.startswith("text_model.encoder.layers.")})
clip_config = {
    "hidden_act": "quick_gelu", "hidden_size": width, "intermediate_size": clip_sd["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
    "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "num_attention_heads": width // 64 if width % 64 == 0 else 1,
    "num_hidden_layers": layers, "vocab_size": clip_sd["text_model.embeddings.token_embedding.weight"].shape[0],
    "eos_token_id": 49407, "bos_token_id": 0, "pad_token_id": 1, "projection_dim": width,
}
clip = comfy.sd1_clip.SDClipModel(device="cpu", textmodel_json_config=clip_config, dtype=torch.float32)
if "text_projection.weight" not in clip_sd:
    clip_sd["text_projection.weight"] = torch.eye(width)
missing, unexpected = clip.transformer.load_state_dict(clip_sd, strict=False)
assert not [m for m in missing if "position_ids" not in m], missing
# a prompt-shaped id sequence (bos, 9 word ids, eos, padding) and the empty prompt
prompt = [49406, 320, 1125, 539, 320, 2368, 7865, 267, 13919, 3073, 49407] + [49407] * 66
empty = [49406] + [49407] * 76
ids = torch.tensor([prompt, empty], dtype=torch.int64)
hidden = clip([prompt, empty])[0].float()
out["text.input_ids"] = ids
out["text.hidden_states"] = hidden.contiguous()

lora_sd = comfy.utils.load_torch_file(lora_args[0]) if lora_args else None


def merge_lora(module, wrapper_name, key_map, strength):
    """comfy.lora.load_lora + calculate_weight on `module`'s parameters, as ModelPatcher applies them."""
    patches = comfy.lora.load_lora(lora_sd, key_map, log_missing=False)
    params = dict(module.named_parameters())
    for key, adapter in patches.items():
        name = key[len(wrapper_name) + 1:]
        weight = params[name]
        weight.data = comfy.lora.calculate_weight([(strength, adapter, 1.0, None, None)], weight.data.clone(), key)
    return len(patches)


if lora_sd is not None:
    wrapper = torch.nn.Module()
    wrapper.clip_l = clip
    n = merge_lora(clip, "clip_l", comfy.lora.model_lora_keys_clip(wrapper, {}), float(lora_args[2]))
    print("lora: text encoder modules patched", n)
    out["lora.text.hidden_states"] = clip([prompt, empty])[0].float().contiguous()

# ---- UNet + AnimateDiff v2 motion modules
unet_sd = prefixed(sd, "model.diffusion_model.")
mc = unet_sd["input_blocks.0.0.weight"].shape[0]
widths = [unet_sd[f"input_blocks.{i}.0.out_layers.3.weight"].shape[0] for i in (1, 4, 7, 10)]
context_dim = unet_sd["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
config = {'use_checkpoint': False, 'image_size': 32, 'out_channels': 4, 'use_spatial_transformer': True, 'legacy': False, 'adm_in_channels': None,
          'dtype': torch.float32, 'in_channels': 4, 'model_channels': mc, 'num_res_blocks': [2, 2, 2, 2], 'transformer_depth': [1, 1, 1, 1, 1, 1, 0, 0],
          'channel_mult': [w // mc for w in widths], 'transformer_depth_middle': 1, 'use_linear_in_transformer': False, 'context_dim': context_dim, 'num_heads': 8,
          'transformer_depth_output': [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 'use_temporal_attention': False, 'use_temporal_resblock': False}
unet = UNetModel(**config, device="cpu", operations=ops)
unet.load_state_dict(unet_sd, strict=True)
unet.eval()

pe_len = mm_sd["down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe"].shape[1]
if widths == [320, 640, 1280, 1280]:
    # the real module: ADE's own loader path
    mm_sd, info = ade.normalize_ad_state_dict(mm_state_dict=mm_sd, mm_name="lightning")
    print("motion module:", info.get_string())
    mm = ade.AnimateDiffModel(mm_state_dict=mm_sd, mm_info=info)
else:
    # a scaled-down module: the same classes at the test model's widths (AnimateDiffModel fixes 320..1280)
    mm = torch.nn.Module()
    kw = dict(temporal_pe=True, temporal_pe_max_len=pe_len, attention_block_types=("Temporal_Self", "Temporal_Self"), ops=ops)
    mm.down_blocks = torch.nn.ModuleList([ade.MotionModule(c, block_type=ade.BlockType.DOWN, block_idx=i, **kw) for i, c in enumerate(widths)])
    mm.up_blocks = torch.nn.ModuleList([ade.MotionModule(c, block_type=ade.BlockType.UP, block_idx=i, **kw) for i, c in enumerate(reversed(widths))])
    mm.mid_block = ade.MotionModule(widths[-1], block_type=ade.BlockType.MID, **kw)
mm.load_state_dict({k: v.float() for k, v in mm_sd.items()}, strict=True)
mm.float()
ade.AnimateDiffModel._inject(mm, unet.input_blocks, mm.down_blocks)
ade.AnimateDiffModel._inject(mm, unet.output_blocks, mm.up_blocks)
ade.AnimateDiffModel._inject(mm, [unet.middle_block], [mm.mid_block])

h = size
sample = torch.randn(frames, 4, h, h)
timestep = torch.tensor([999.0, 749.0, 499.0, 249.0] * (frames // 4))
context = torch.cat([hidden[0:1]] * (frames // 2) + [hidden[1:2]] * (frames - frames // 2))
motion_scale = torch.tensor([1.0, 0.5, 1.5, 1.0] * (frames // 4))
# scale_multival as a per-frame mask, as ADE's Scale multival node makes it: [F, H, W]
scale_mask = motion_scale[:, None, None].expand(frames, h, h).contiguous()
for module in unet.modules():
    if isinstance(module, ade.VanillaTemporalModule):
        module.set_video_length(frames, frames)
        module.set_scale(scale_mask)
eps = unet(sample, timesteps=timestep, context=context, transformer_options={}).float()
out["unet.sample"] = sample
out["unet.timestep"] = timestep
out["unet.context"] = context.contiguous()
out["unet.motion_scale"] = motion_scale
out["unet.eps"] = eps.contiguous()
if lora_sd is not None:
    import types
    wrapper = torch.nn.Module()
    wrapper.diffusion_model = unet
    wrapper.model_config = types.SimpleNamespace(unet_config=config)
    n = merge_lora(unet, "diffusion_model", comfy.lora.model_lora_keys_unet(wrapper, {}), float(lora_args[1]))
    print("lora: unet modules patched", n)
    out["lora.unet.eps"] = unet(sample, timesteps=timestep, context=context, transformer_options={}).float().contiguous()
del unet, mm

# ---- VAE
vae_sd = prefixed(sd, "first_stage_model.")
ch = vae_sd["encoder.conv_in.weight"].shape[0]
vae_widths = [vae_sd[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] for i in range(4)]
ddconfig = {'double_z': True, 'z_channels': 4, 'resolution': 256, 'in_channels': 3, 'out_ch': 3, 'ch': ch, 'ch_mult': [w // ch for w in vae_widths],
            'num_res_blocks': 2, 'attn_resolutions': [], 'dropout': 0.0}
vae = AutoencoderKL(ddconfig=ddconfig, embed_dim=4)
vae.load_state_dict(vae_sd, strict=True)
vae.eval()
latent = torch.randn(1, 4, h, h)
# comfy.sd.VAE.decode: process_output(first_stage_model.decode(samples)); the sampler's process_latent_out is x / 0.18215
image = torch.clamp((vae.decode(latent / 0.18215) + 1.0) / 2.0, min=0.0, max=1.0)
out["vae_decoder.latent"] = latent
out["vae_decoder.image"] = image.contiguous()
pixels = torch.rand(1, 3, h * 8, h * 8)
# comfy.sd.VAE.encode: first_stage_model.encode(process_input(x)); process_latent_in is x * 0.18215
z = vae.encode(pixels * 2.0 - 1.0) * 0.18215
out["vae_encoder.image"] = pixels
out["vae_encoder.latent"] = z.contiguous()

save_file({k: v.contiguous() for k, v in out.items()}, out_path, metadata={"checkpoint": ckpt_path.split("/")[-1], "motion_module": mm_path.split("/")[-1]})
for k, v in out.items():
    print(k, tuple(v.shape), float(v.float().abs().max()))
