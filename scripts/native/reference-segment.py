# A whole AnimateDiff-Lightning segment in ComfyUI + AnimateDiff-Evolved from a given starting noise,
# for the native engine's end-to-end comparison (scripts/native/compare-segment.ts writes the noise and
# reads the result):
#
#   bash <comfyui-cpu>/run.sh py scripts/native/reference-segment.py CHECKPOINT MOTION_MODULE NOISE.f32 OUT.safetensors \
#       FRAMES SIZE STEPS CFG "PROMPT" "NEGATIVE" MOTION_SCALES
#
# A checkpoint of the real SD 1.5 shapes runs through ComfyUI's own nodes, as the comfyui engine's graph
# does: CheckpointLoaderSimple → ADE_AnimateDiffLoaderGen1 (sqrt_linear (AnimateDiff), a per-frame
# scale multival) → CLIPTextEncode → comfy.sample.sample (KSampler's euler / sgm_uniform, with this
# noise instead of the seed's) → VAEDecode. A scaled-down test model (which ComfyUI's model detection
# does not know) is built from the same ComfyUI and ADE classes and sampled with ComfyUI's own
# k-diffusion Euler, EPS maths and sgm_uniform sigmas.
import asyncio
import importlib
import math
import sys

import comfy.options

comfy.options.enable_args_parsing()
(ckpt_path, mm_path, noise_path, out_path, frames, size, steps, cfg, prompt, negative, scales) = sys.argv[1:12]
frames, size, steps, cfg = int(frames), int(size), int(steps), float(cfg)
motion_scales = [float(x) for x in scales.split(",")]
sys.argv = [sys.argv[0], "--cpu"]
import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import comfy.model_base  # noqa: E402
import comfy.ops  # noqa: E402
import comfy.samplers  # noqa: E402
import comfy.sd1_clip  # noqa: E402
import comfy.utils  # noqa: E402

torch.set_grad_enabled(False)
h = size // 8
noise = torch.from_numpy(np.fromfile(noise_path, dtype="<f4").copy()).view(frames, 4, h, h)
sd = comfy.utils.load_torch_file(ckpt_path)
real_shapes = sd["model.diffusion_model.input_blocks.0.0.weight"].shape[0] == 320
out = {"noise": noise}

if real_shapes:
    import os

    import folder_paths
    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
    folder_paths.add_model_folder_path("checkpoints", os.path.dirname(ckpt_path))
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(os.path.basename(ckpt_path))[:3]
    mv = nodes.NODE_CLASS_MAPPINGS["ADE_MultivalDynamicFloats"]() if len(set(motion_scales)) > 1 else None
    if mv is not None:
        scale = getattr(mv, mv.FUNCTION)(floats=motion_scales)[0]
    else:
        m = nodes.NODE_CLASS_MAPPINGS["ADE_MultivalDynamic"]()
        scale = getattr(m, m.FUNCTION)(float_val=motion_scales[0])[0]
    loader = nodes.NODE_CLASS_MAPPINGS["ADE_AnimateDiffLoaderGen1"]()
    model = loader.load_mm_and_inject_params(model, os.path.basename(mm_path), "sqrt_linear (AnimateDiff)", scale_multival=scale)[0]
    encode = nodes.CLIPTextEncode()
    positive = encode.encode(clip, prompt)[0]
    negative_c = encode.encode(clip, negative)[0]
    latent = torch.zeros(frames, 4, h, h)
    samples = comfy.sample.sample(model, noise, steps, cfg, "euler", "sgm_uniform", positive, negative_c, latent, denoise=1.0, seed=0)
    out["latent"] = (samples * 0.18215).contiguous()
    images = nodes.VAEDecode().decode(vae, {"samples": samples})[0]
    out["images"] = images.permute(0, 3, 1, 2).contiguous()
else:
    ade_mm = importlib.import_module("custom_nodes.ComfyUI-AnimateDiff-Evolved.animatediff.motion_module_ad")
    ade_model = importlib.import_module("custom_nodes.ComfyUI-AnimateDiff-Evolved.animatediff.utils_model")
    from comfy.k_diffusion import sampling as kd
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    ops = comfy.ops.disable_weight_init
    mm_sd = comfy.utils.load_torch_file(mm_path)

    def prefixed(prefix):
        return {k[len(prefix):]: v.float() for k, v in sd.items() if k.startswith(prefix)}

    # text encoder: ComfyUI's SD1 tokenizer and SDClipModel (last layer, final layer norm, token weights)
    clip_sd = prefixed("cond_stage_model.transformer.")
    width = clip_sd["text_model.embeddings.token_embedding.weight"].shape[1]
    layers = len({k.split(".")[3] for k in clip_sd if k.startswith("text_model.encoder.layers.")})
    config = {
        "hidden_act": "quick_gelu", "hidden_size": width,
        "intermediate_size": clip_sd["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
        "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "num_attention_heads": width // 64 if width % 64 == 0 else 1,
        "num_hidden_layers": layers, "vocab_size": clip_sd["text_model.embeddings.token_embedding.weight"].shape[0],
        "eos_token_id": 49407, "bos_token_id": 0, "pad_token_id": 1, "projection_dim": width,
    }
    clip = comfy.sd1_clip.SDClipModel(device="cpu", textmodel_json_config=config, dtype=torch.float32)
    clip_sd.setdefault("text_projection.weight", torch.eye(width))
    clip.transformer.load_state_dict(clip_sd, strict=False)
    tokenizer = comfy.sd1_clip.SD1Tokenizer()

    def encode_text(text):
        return clip.encode_token_weights(tokenizer.tokenize_with_weights(text)["l"])[0].float()

    positive = encode_text(prompt)
    negative_c = encode_text(negative)

    # UNet + AnimateDiff v2 motion modules (ADE's classes at the test model's widths)
    unet_sd = prefixed("model.diffusion_model.")
    mc = unet_sd["input_blocks.0.0.weight"].shape[0]
    widths = [unet_sd[f"input_blocks.{i}.0.out_layers.3.weight"].shape[0] for i in (1, 4, 7, 10)]
    context_dim = unet_sd["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
    unet = UNetModel(use_checkpoint=False, image_size=32, out_channels=4, use_spatial_transformer=True, legacy=False,
                     adm_in_channels=None, dtype=torch.float32, in_channels=4, model_channels=mc, num_res_blocks=[2, 2, 2, 2],
                     transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0], channel_mult=[w // mc for w in widths], transformer_depth_middle=1,
                     use_linear_in_transformer=False, context_dim=context_dim, num_heads=8,
                     transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], use_temporal_attention=False,
                     use_temporal_resblock=False, device="cpu", operations=ops)
    unet.load_state_dict(unet_sd, strict=True)
    unet.eval()
    pe_len = mm_sd["down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe"].shape[1]
    mm = torch.nn.Module()
    kw = dict(temporal_pe=True, temporal_pe_max_len=pe_len, attention_block_types=("Temporal_Self", "Temporal_Self"), ops=ops)
    mm.down_blocks = torch.nn.ModuleList([ade_mm.MotionModule(c, block_type=ade_mm.BlockType.DOWN, block_idx=i, **kw) for i, c in enumerate(widths)])
    mm.up_blocks = torch.nn.ModuleList([ade_mm.MotionModule(c, block_type=ade_mm.BlockType.UP, block_idx=i, **kw) for i, c in enumerate(reversed(widths))])
    mm.mid_block = ade_mm.MotionModule(widths[-1], block_type=ade_mm.BlockType.MID, **kw)
    mm.load_state_dict({k: v.float() for k, v in mm_sd.items()}, strict=True)
    ade_mm.AnimateDiffModel._inject(mm, unet.input_blocks, mm.down_blocks)
    ade_mm.AnimateDiffModel._inject(mm, unet.output_blocks, mm.up_blocks)
    ade_mm.AnimateDiffModel._inject(mm, [unet.middle_block], [mm.mid_block])
    scale_mask = torch.tensor(motion_scales)[:, None, None].expand(frames, h, h).contiguous()
    for module in unet.modules():
        if isinstance(module, ade_mm.VanillaTemporalModule):
            module.set_video_length(frames, frames)
            module.set_scale(scale_mask)

    # ComfyUI's sampling maths around it (BaseModel._apply_model, cfg_function, KSAMPLER, sample_euler)
    ms = ade_model.BetaSchedules._to_model_sampling(ade_model.BetaSchedules.SQRT_LINEAR, comfy.model_base.ModelType.EPS)

    def denoised(x, sigma, context):
        eps = unet(ms.calculate_input(sigma, x), timesteps=ms.timestep(sigma).float(), context=context.expand(frames, -1, -1),
                   transformer_options={}).float()
        return ms.calculate_denoised(sigma, eps, x)

    def model(x, sigma, **_kw):
        cond = denoised(x, sigma, positive)
        if math.isclose(cfg, 1.0):
            return cond
        return comfy.samplers.cfg_function(None, cond, denoised(x, sigma, negative_c), cfg, x, sigma)

    sigmas = comfy.samplers.calculate_sigmas(ms, "sgm_uniform", steps)
    max_denoise = math.isclose(float(ms.sigma_max), float(sigmas[0]), rel_tol=1e-05) or float(sigmas[0]) > float(ms.sigma_max)
    x = ms.noise_scaling(sigmas[0], noise.clone(), torch.zeros_like(noise), max_denoise)
    samples = kd.sample_euler(model, x, sigmas, disable=True)
    out["latent"] = samples.contiguous()

    vae_sd = prefixed("first_stage_model.")
    ch = vae_sd["encoder.conv_in.weight"].shape[0]
    vae_widths = [vae_sd[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] for i in range(4)]
    vae = AutoencoderKL(ddconfig={"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": ch,
                                  "ch_mult": [w // ch for w in vae_widths], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0},
                        embed_dim=4)
    vae.load_state_dict(vae_sd, strict=True)
    vae.eval()
    out["images"] = torch.clamp((vae.decode(samples / 0.18215) + 1.0) / 2.0, min=0.0, max=1.0).contiguous()

save_file({k: v.float().contiguous() for k, v in out.items()}, out_path)
for k, v in out.items():
    print(k, tuple(v.shape), float(v.abs().max()))
