# Reference values for the native engine's tokenizer, schedule, Euler sampler and context windows,
# computed with ComfyUI's and AnimateDiff-Evolved's own code (comfyui-cpu tool):
#
#   bash <comfyui-cpu>/run.sh py scripts/native/reference-runtime.py
#   cp <chroot>/srv/work/out/native-*.json test/fixtures/native/
#
# Float32 tensors are written as base64 of their little-endian bytes, so the tests compare bits.
import base64
import importlib
import json
import math
import sys

import comfy.options

comfy.options.enable_args_parsing()
sys.argv = [sys.argv[0], "--cpu"]
import torch  # noqa: E402

import comfy.model_base  # noqa: E402
import comfy.samplers  # noqa: E402
import comfy.sd1_clip  # noqa: E402
from comfy.k_diffusion import sampling as kd  # noqa: E402

sys.path.insert(0, "/srv/comfyui/custom_nodes")
ade_model = importlib.import_module("ComfyUI-AnimateDiff-Evolved.animatediff.utils_model")
ade_context = importlib.import_module("ComfyUI-AnimateDiff-Evolved.animatediff.context")

OUT = "/srv/work/out"


def f32(t):
    return base64.b64encode(t.detach().to(torch.float32).contiguous().numpy().tobytes()).decode()


def write(name, data):
    with open(f"{OUT}/{name}", "w") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


# ---------------------------------------------------------------- tokenizer
PROMPTS = [
    "",
    "a cat",
    "A photo of an astronaut riding a horse on Mars, highly detailed, 8k",
    "neon city at night, rain, cinematic lighting",
    "don't stop; it's what we'll do, they're here, you've been, I'm ok, he'd go",
    "Café crème brûlée naïve façade",
    "東京 tower ネオン 🌃🎶 emoji",
    "   many    spaces\tand\ttabs\nand\nnewlines   ",
    "&amp; html &lt;entities&gt; &quot;quoted&quot; &#39;x&#39;",
    "(masterpiece:1.2), best quality, (worst quality:0.5)",
    "((very nested)) and (single) and [brackets]",
    "\\(escaped parens\\) stay \\(text\\)",
    "(unclosed paren and (a:1.5) end",
    "(weight:abc) (trailing:)",
    "numbers 12345 3.14159 2026-12-04 v1.5",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "UPPER lower MiXeD",
    "punctuation!!! ??? ... --- *** ### @@@ $$$ %%% ^^^",
    "<|startoftext|> special <|endoftext|> tokens",
    "embedding:foo a prompt with embedding:bar inside",
    ", ".join(["red flowers in a green field under a blue sky"] * 8),
    " ".join(["word%d" % i for i in range(60)]),
    "a " * 74 + "pneumonoultramicroscopicsilicovolcanoconiosis end",
    "a " * 72 + "(short group:1.3) tail",
    "a " * 140,
    "\u0085next\u00a0line\u2003em\u3000ideo\u001cfs\ufeffbom",
    "&hellip; &mdash; &eacute;t&eacute; &copy &notit; &#128; &#x41;&#0; &amp;amp; &unknownentity;",
    "((a:1.5) b:0.8) c (d: 2) (e:+1e-1) (f:1_0) (g:1E1) (h:)",
    "it'S ThE 'LL 'Ve case",
]
tok = comfy.sd1_clip.SD1Tokenizer()
tokenizer_cases = []
for p in PROMPTS:
    chunks = tok.tokenize_with_weights(p)["l"]
    tokenizer_cases.append(
        {
            "prompt": p,
            "ids": [[t for t, _ in c] for c in chunks],
            "weights": [[w for _, w in c] for c in chunks],
            "plain": tok.clip_l.tokenizer(p)["input_ids"],
        }
    )
write("native-tokenizer-comfyui.json", {"source": "comfy.sd1_clip.SD1Tokenizer (ComfyUI 0.8.0)", "cases": tokenizer_cases})

# ---------------------------------------------------------------- schedule
ms = ade_model.BetaSchedules._to_model_sampling(ade_model.BetaSchedules.SQRT_LINEAR, comfy.model_base.ModelType.EPS)
step_counts = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 25, 30, 50, 100]
sgm = {}
for n in step_counts:
    s = comfy.samplers.calculate_sigmas(ms, "sgm_uniform", n)
    sgm[str(n)] = {
        "sigmas": f32(s),
        "timesteps": [int(ms.timestep(x)) for x in s[:-1]],
        "maxDenoise": math.isclose(float(ms.sigma_max), float(s[0]), rel_tol=1e-05) or float(s[0]) > float(ms.sigma_max),
    }
write(
    "native-schedule-comfyui.json",
    {
        "source": "AnimateDiff-Evolved BetaSchedules 'sqrt_linear (AnimateDiff)' + comfy.samplers.calculate_sigmas sgm_uniform",
        "type": type(ms).__name__,
        "sigmas": f32(ms.sigmas),
        "logSigmas": f32(ms.log_sigmas),
        "sgmUniform": sgm,
    },
)

# ---------------------------------------------------------------- Euler
# A stand-in for the UNet that goes through ComfyUI's own EPS maths (BaseModel._apply_model),
# cfg_function, KSamplerX0Inpaint's mask handling, noise_scaling and k-diffusion's sample_euler.
F, C, H, W = 3, 4, 2, 3
idx = torch.arange(F * C * H * W, dtype=torch.float64)
noise = torch.sin(idx * 0.37 + 0.1).mul(1.7).to(torch.float32).view(F, C, H, W)
latent = torch.cos(idx * 0.23 - 0.4).mul(0.8).to(torch.float32).view(F, C, H, W)
cond_offset = torch.tensor([0.25, -0.5, 0.75], dtype=torch.float32).view(F, 1, 1, 1)
uncond_offset = torch.tensor([-0.125, 0.375, 0.0625], dtype=torch.float32).view(F, 1, 1, 1)


def unet_stub(x_in, t, offset):
    return x_in * 0.5 + t.view(-1, 1, 1, 1) * 0.0009765625 + offset


def apply_model(x, sigma, offset):
    x_in = ms.calculate_input(sigma, x)
    t = ms.timestep(sigma).float()
    eps = unet_stub(x_in, t, offset)
    return ms.calculate_denoised(sigma, eps, x)


def make_model(cfg, mask, noise_, latent_):
    calls = []

    def model(x, sigma, **_kw):
        if mask is not None:
            latent_mask = 1.0 - mask
            x = x * mask + ms.noise_scaling(sigma.view(sigma.shape[:1] + (1,) * (x.ndim - 1)), noise_, latent_) * latent_mask
        cond = apply_model(x, sigma, cond_offset)
        calls.append("cond")
        if math.isclose(cfg, 1.0):
            out = cond
        else:
            uncond = apply_model(x, sigma, uncond_offset)
            calls.append("uncond")
            out = comfy.samplers.cfg_function(None, cond, uncond, cfg, x, sigma)
        if mask is not None:
            out = out * mask + latent_ * latent_mask
        return out

    return model, calls


euler_cases = []
for name, steps, start, cfg, use_latent, use_mask in [
    ("txt2img 4 steps cfg 1", 4, 0, 1.0, False, False),
    ("txt2img 4 steps cfg 1.5", 4, 0, 1.5, False, False),
    ("txt2img 2 steps cfg 2", 2, 0, 2.0, False, False),
    ("txt2img 8 steps cfg 1", 8, 0, 1.0, False, False),
    ("img2img 4 steps from step 2 cfg 1", 4, 2, 1.0, True, False),
    ("img2img 8 steps from step 3 cfg 1.25", 8, 3, 1.25, True, False),
    ("continuation 4 steps from step 1, frame 0 held", 4, 1, 1.0, True, True),
]:
    sigmas = comfy.samplers.calculate_sigmas(ms, "sgm_uniform", steps)[start:]
    lat = latent if use_latent else torch.zeros_like(latent)
    mask = torch.tensor([0.0, 1.0, 1.0]).view(F, 1, 1, 1) if use_mask else None
    sampler = comfy.samplers.KSAMPLER(kd.sample_euler)
    max_denoise = sampler.max_denoise(type("W", (), {"inner_model": type("M", (), {"model_sampling": ms})()})(), sigmas)
    x0 = ms.noise_scaling(sigmas[0], noise.clone(), lat, max_denoise)
    model, calls = make_model(cfg, mask, noise, lat)
    xs = []
    out = kd.sample_euler(model, x0, sigmas, callback=lambda d: xs.append(f32(d["x"])), disable=True)
    out = ms.inverse_noise_scaling(sigmas[-1], out)
    euler_cases.append(
        {
            "name": name,
            "steps": steps,
            "startStep": start,
            "cfg": cfg,
            "latent": use_latent,
            "heldFrames": [0] if use_mask else [],
            "maxDenoise": max_denoise,
            "x0": f32(x0),
            "xBeforeStep": xs,
            "out": f32(out),
            "unetCalls": len(calls),
        }
    )
write(
    "native-euler-comfyui.json",
    {
        "source": "comfy k_diffusion sample_euler + EPS calculate_input/denoised + cfg_function + KSamplerX0Inpaint mask",
        "shape": [F, C, H, W],
        "noise": f32(noise),
        "latent": f32(latent),
        "condOffset": [0.25, -0.5, 0.75],
        "uncondOffset": [-0.125, 0.375, 0.0625],
        "cases": euler_cases,
    },
)

# ---------------------------------------------------------------- context windows
opts = ade_context.ContextOptions(context_length=16, context_overlap=4, context_schedule="standard_static", fuse_method="pyramid")
windows = {}
for n in [1, 8, 16, 17, 20, 28, 29, 32, 40, 48, 64, 100]:
    windows[str(n)] = ade_context.create_windows_static_standard(n, opts)
write(
    "native-context-windows-ade.json",
    {
        "source": "AnimateDiff-Evolved context.py create_windows_static_standard + create_weights_pyramid",
        "contextLength": 16,
        "contextOverlap": 4,
        "windows": windows,
        "pyramid16": ade_context.create_weights_pyramid(16),
        "pyramid7": ade_context.create_weights_pyramid(7),
    },
)
print("ok")
