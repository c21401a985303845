# The UNet + motion forward of a reference file (made by reference.py) recomputed in float64 by the same
# ComfyUI / AnimateDiff-Evolved modules, to show how far float32 itself (ComfyUI's and beatloom's) is
# from the exact answer on a given model:
#   python3 reference_fp64.py CHECKPOINT MOTION_MODULE REFERENCE.safetensors OUT.safetensors
import sys
import comfy.options
comfy.options.enable_args_parsing()
ckpt_path, mm_path, ref_path, out_path = sys.argv[1:5]
sys.argv = [sys.argv[0], "--cpu"]
import importlib
import torch
import comfy.ops
import comfy.utils
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
from safetensors.torch import load_file, save_file
ade = importlib.import_module("custom_nodes.ComfyUI-AnimateDiff-Evolved.animatediff.motion_module_ad")
torch.set_grad_enabled(False)
ops = comfy.ops.disable_weight_init

ref = load_file(ref_path)
sd = comfy.utils.load_torch_file(ckpt_path)
unet_sd = {k[len("model.diffusion_model."):]: v for k, v in sd.items() if k.startswith("model.diffusion_model.")}
del sd
mc = unet_sd["input_blocks.0.0.weight"].shape[0]
widths = [unet_sd[f"input_blocks.{i}.0.out_layers.3.weight"].shape[0] for i in (1, 4, 7, 10)]
context_dim = unet_sd["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
config = {'use_checkpoint': False, 'image_size': 32, 'out_channels': 4, 'use_spatial_transformer': True, 'legacy': False, 'adm_in_channels': None,
          'dtype': torch.float64, 'in_channels': 4, 'model_channels': mc, 'num_res_blocks': [2, 2, 2, 2], 'transformer_depth': [1, 1, 1, 1, 1, 1, 0, 0],
          'channel_mult': [w // mc for w in widths], 'transformer_depth_middle': 1, 'use_linear_in_transformer': False, 'context_dim': context_dim, 'num_heads': 8,
          'transformer_depth_output': [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 'use_temporal_attention': False, 'use_temporal_resblock': False}
unet = UNetModel(**config, device="cpu", operations=ops)
unet.load_state_dict(unet_sd, strict=True)
del unet_sd
mm_sd = comfy.utils.load_torch_file(mm_path)
pe_len = mm_sd["down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe"].shape[1]
if widths == [320, 640, 1280, 1280]:
    mm_sd, info = ade.normalize_ad_state_dict(mm_state_dict=mm_sd, mm_name="lightning")
    mm = ade.AnimateDiffModel(mm_state_dict=mm_sd, mm_info=info)
else:
    mm = torch.nn.Module()
    kw = dict(temporal_pe=True, temporal_pe_max_len=pe_len, attention_block_types=("Temporal_Self", "Temporal_Self"), ops=ops)
    mm.down_blocks = torch.nn.ModuleList([ade.MotionModule(c, block_type=ade.BlockType.DOWN, block_idx=i, **kw) for i, c in enumerate(widths)])
    mm.up_blocks = torch.nn.ModuleList([ade.MotionModule(c, block_type=ade.BlockType.UP, block_idx=i, **kw) for i, c in enumerate(reversed(widths))])
    mm.mid_block = ade.MotionModule(widths[-1], block_type=ade.BlockType.MID, **kw)
mm.double()
mm.load_state_dict(mm_sd, strict=True)
del mm_sd
ade.AnimateDiffModel._inject(mm, unet.input_blocks, mm.down_blocks)
ade.AnimateDiffModel._inject(mm, unet.output_blocks, mm.up_blocks)
ade.AnimateDiffModel._inject(mm, [unet.middle_block], [mm.mid_block])

sample = ref["unet.sample"].double()
frames, h = sample.shape[0], sample.shape[2]
scale_mask = ref["unet.motion_scale"].double()[:, None, None].expand(frames, h, h).contiguous()
for module in unet.modules():
    if isinstance(module, ade.VanillaTemporalModule):
        module.set_video_length(frames, frames)
        module.set_scale(scale_mask)
eps = unet(sample, timesteps=ref["unet.timestep"].double(), context=ref["unet.context"].double(), transformer_options={})
fp32 = ref["unet.eps"].double()
print("comfy fp32 vs fp64: max abs %.3e, max rel %.3e" % (float((fp32 - eps).abs().max()), float((fp32 - eps).abs().max() / eps.abs().max())))
save_file({"unet.eps": eps.contiguous()}, out_path)
