"""End-to-end GPU benchmark (issue #7): our Pipeline against diffusers on the same card.

Builds the full-size architectures (Stage C prior 3.6B, Stage B decoder 1.5B, the CLIP ViT-bigG
text encoder with projection, Stage A; the lite prior 1.0B and decoder 0.7B with --variants lite)
with random weights of the real shapes, stored in bf16 as the two Hub-layout folders
stable-cascade-prior and stable-cascade (written once without torch, in seconds, and kept in
--workdir), then times the default generation: a prompt and a negative prompt, 20 prior steps
with guidance 4.0 (CFG batch 2), 10 decoder steps without guidance, batch 1, at each --sizes.
Speed depends only on the shapes, so random weights measure what the real ones would.

Each side of each (size, variant) runs in a fresh worker process of its own, one after the
other, so that neither sees the other's memory: load, one warm-up generation (its peak memory is
reported), then --reps timed generations (their times are reported).
  ours       stable_cascade_c.Pipeline.from_pretrained(..., device="cuda"): bf16 weights and
             activations, float32 accumulation. Per-stage times wrap the network calls the
             pipeline makes (text encoder, UNet prepare/forward_prepared, Stage A decode); each
             returns host arrays, so every call ends synchronized.
  diffusers  StableCascadePriorPipeline + StableCascadeDecoderPipeline in torch.bfloat16 on the
             card, loaded from the same folders; forward hooks on the text encoders and UNets and a
             wrapper on vqgan.decode time the same calls, with torch.cuda.synchronize() before and
             after each (the stage boundaries). Both sides draw their noise from a CPU generator
             seeded alike (the README's seed semantics), so the two images are comparable.
Peak device memory: total minus free device memory (cudaMemGetInfo: ours through
_C._cuda_backend_info(), torch through torch.cuda.mem_get_info()) sampled after every network
call of the warm-up run, CUDA context included; torch's allocator maxima are listed too. Our
extension keeps no peak counter of its own, so buffers freed inside a call are not seen; our
activation arenas live until their stage ends, so they are.

The table compares per-stage times (ratio = diffusers / ours: > 1 means we are faster), peak
memory (ours / diffusers), and the Stage C step against its FLOP floor (the FLOP model of
spec/flops.py, copied below) at the card's dense bf16 peak. Targets of issue #7: end to end
>= 2x faster than diffusers, Stage C step <= 1.5x its floor, peak memory <= 0.75x diffusers'.

    python3 tools/bench_gpu.py [--sizes 1024 2048] [--variants full lite] [--reps 1]
        [--skip-reference] [--budget SECONDS] [--json out.json] [--markdown out.md]
    python3 tools/bench_gpu.py --dry-run [--skip-reference]   # CPU, tiny models: a functional check
    python3 tools/bench_gpu.py --check-configs                # parameter counts and key sets vs diffusers

--dry-run runs the same code on the CPU with tiny random models (widths like
tools/make_ref_pipeline.py), 2+2 steps, 256 and 512 pixels: ours with device="cpu", diffusers in
torch float32 on the CPU when torch and diffusers import (skipped with a note otherwise); memory is
then the host's peak resident size (VmHWM). Its figures check that the script works, nothing more.
--budget skips a (size, variant) pair whose estimated time would overrun it, so that a time-limited
caller (tools/gpu_check.sh) still gets a table; --markdown/--json are rewritten after every
measurement, so a killed run leaves what it had measured.

Needs: numpy and stable_cascade_c (an in-place build of this checkout is preferred over an
installed package); for the reference, torch and diffusers (0.35.x; a wheel can travel to a
machine without internet). Nothing in the parent process imports torch or touches the GPU.
"""
import argparse
import copy
import datetime
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import bench_common as bc
import numpy as np

PROMPT = "Anthropomorphic cat dressed as a pilot"
NEGATIVE = "blurry"
SEED = 7
PRIOR_GUIDANCE = 4.0
DECODER_GUIDANCE = 0.0

# ---- configurations -------------------------------------------------------------------------

_R, _T, _A = "SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"
#: CLIP ViT-bigG-14 text tower (stable-cascade-prior/text_encoder/config.json; spec/clip_stage_a_weights.md).
CLIP_BIGG = {"hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 20, "projection_dim": 1280,
             "num_hidden_layers": 32, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}

_TINY_PRIOR = {
    "in_channels": 16, "out_channels": 16, "timestep_ratio_embedding_dim": 64, "patch_size": 1, "conditioning_dim": 32,
    "block_out_channels": [32, 32], "num_attention_heads": [2, 2], "down_num_layers_per_block": [1, 2],
    "up_num_layers_per_block": [2, 1], "down_blocks_repeat_mappers": [1, 1], "up_blocks_repeat_mappers": [1, 1],
    "block_types_per_layer": [[_R, _T, _A], [_R, _T, _A]], "clip_text_in_channels": 16,
    "clip_text_pooled_in_channels": 16, "clip_image_in_channels": 8, "clip_seq": 4, "kernel_size": 3,
    "dropout": [0.0, 0.0], "self_attn": True, "timestep_conditioning_type": ["sca", "crp"], "switch_level": [False]}
_TINY_DECODER = {
    "in_channels": 4, "out_channels": 4, "timestep_ratio_embedding_dim": 64, "patch_size": 2, "conditioning_dim": 24,
    "block_out_channels": [8, 16, 24, 24], "num_attention_heads": [0, 0, 2, 2],
    "down_num_layers_per_block": [1, 1, 2, 1], "up_num_layers_per_block": [1, 2, 1, 1],
    "down_blocks_repeat_mappers": [1, 1, 1, 1], "up_blocks_repeat_mappers": [2, 2, 1, 1],
    "block_types_per_layer": [[_R, _T], [_R, _T], [_R, _T, _A], [_R, _T, _A]], "clip_text_pooled_in_channels": 16,
    "clip_seq": 4, "effnet_in_channels": 16, "pixel_mapper_in_channels": 3, "kernel_size": 3,
    "dropout": [0.0, 0.0, 0.0, 0.0], "self_attn": True, "timestep_conditioning_type": ["sca"], "switch_level": None}


def configs():
    """name -> configuration. `unets` maps each UNet folder name to its diffusers config."""
    from stable_cascade_c.unet import PRESETS
    p = copy.deepcopy(PRESETS)
    return {
        # The published architectures (the HF configs, spec/stage_b_c_unet.md), bf16 files.
        "real": {
            "text_encoder": CLIP_BIGG, "unets": p, "vqgan": {}, "dtype": "bfloat16", "sizes": [1024, 2048],
            "steps": (20, 10), "device": "cuda",
            "describe": "the published architectures (prior 3.6B / lite 1.0B, decoder 1.5B / lite 0.7B, CLIP "
                        "ViT-bigG text encoder, Stage A), random bf16 weights"},
        # The dry run: tiny widths and depths (tools/make_ref_pipeline.py's models), float32 files.
        "tiny": {
            "text_encoder": {"hidden_size": 16, "intermediate_size": 37, "num_hidden_layers": 2,
                             "num_attention_heads": 2, "projection_dim": 16, "bos_token_id": 49406,
                             "eos_token_id": 49407},
            "unets": {"prior": _TINY_PRIOR, "decoder": _TINY_DECODER,
                      "prior_lite": dict(_TINY_PRIOR, conditioning_dim=24, block_out_channels=[24, 24],
                                         down_num_layers_per_block=[1, 1], up_num_layers_per_block=[1, 1]),
                      "decoder_lite": dict(_TINY_DECODER, conditioning_dim=16, block_out_channels=[8, 16, 16, 16],
                                           down_num_layers_per_block=[1, 1, 1, 1], up_num_layers_per_block=[1, 1, 1, 1],
                                           up_blocks_repeat_mappers=[2, 2, 2, 2])},
            "vqgan": {"bottleneck_blocks": 2, "embed_dim": 16, "num_vq_embeddings": 32}, "dtype": "float32",
            "sizes": [256, 512], "steps": (2, 2), "device": "cpu",
            "describe": "tiny random models (CPU functional check, not a performance figure)"},
        # The real depths (layers, repeats, 32 CLIP layers, 12 Stage A blocks) at narrow widths: checks on
        # the CPU that the random weights stay finite through the whole 20+10 step schedule.
        "deep": {
            "text_encoder": dict(CLIP_BIGG, hidden_size=64, intermediate_size=256, num_attention_heads=2,
                                 projection_dim=64),
            "unets": {"prior": dict(p["prior"], conditioning_dim=128, block_out_channels=[128, 128],
                                    num_attention_heads=[2, 2], clip_text_in_channels=64,
                                    clip_text_pooled_in_channels=64),
                      "prior_lite": dict(p["prior_lite"], conditioning_dim=96, block_out_channels=[96, 96],
                                         num_attention_heads=[2, 2], clip_text_in_channels=64,
                                         clip_text_pooled_in_channels=64),
                      "decoder": dict(p["decoder"], conditioning_dim=64, block_out_channels=[32, 64, 128, 128],
                                      num_attention_heads=[0, 0, 2, 2], clip_text_pooled_in_channels=64),
                      "decoder_lite": dict(p["decoder_lite"], conditioning_dim=64, block_out_channels=[32, 48, 96, 96],
                                           num_attention_heads=[0, 2, 2, 2], clip_text_pooled_in_channels=64)},
            "vqgan": {"embed_dim": 48}, "dtype": "float32", "sizes": [256], "steps": (20, 10), "device": "cpu",
            "describe": "the real depths at narrow widths, random float32 weights (finiteness check)"},
    }


VARIANTS = {"full": ("prior", "decoder"), "lite": ("prior_lite", "decoder_lite")}
STAGES = ("text", "stage_c_prepare", "stage_c", "stage_b_prepare", "stage_b", "stage_a")

# ---- FLOP model -------------------------------------------------------------------------------
# Copied from spec/flops.py (`unet`, `latents`) and generalized from its hard-coded published
# configs to any diffusers StableCascadeUNet config: FLOPs = 2 x MACs of every Linear / 1x1 conv /
# depthwise conv / k2s2 conv / convT, plus attention QK^T and PV (4*N*M*c per block, N query
# tokens, M = N + conditioning tokens); norms, GELU, GRN, softmax and interpolation are not
# counted. For the published configs it gives spec/flops.py's figures (Stage C, CFG batch 2, at
# 1024x1024: 8157 GFLOP; Stage B, batch 1: 6161 GFLOP); --check-configs compares the two.

#: Dense bf16 tensor-core peaks (TFLOP/s) by card name (spec/flops.py GPUS; NVIDIA datasheets).
PEAK_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0), ("A100", 312.0),
               ("L40S", 362.0), ("RTX 4090", 165.0))


def unet_flops(cfg, batch, h, w, text_tokens=77, effnet_hw=None):
    """FLOPs of one StableCascadeUNet forward on a [batch, in_channels, h, w] latent."""
    c = cfg["block_out_channels"]
    levels, patch, c_cond, seq = len(c), cfg["patch_size"], cfg["conditioning_dim"], cfg["clip_seq"]
    c_r, n_tconds, k = cfg["timestep_ratio_embedding_dim"], len(cfg["timestep_conditioning_type"]), cfg["kernel_size"]
    types = [[{_R: "R", _T: "T", _A: "A"}[t] for t in level] for level in cfg["block_types_per_layer"]]
    self_attn = cfg.get("self_attn", True)
    self_attn = [self_attn] * levels if isinstance(self_attn, bool) else self_attn
    switch = cfg.get("switch_level")
    total = 0

    def gemm(m, kk, n):
        nonlocal total
        total += 2 * m * kk * n

    gemm(batch, cfg["clip_text_pooled_in_channels"], c_cond * seq)  # clip_txt_pooled_mapper
    ncond = seq
    if cfg.get("clip_text_in_channels"):
        gemm(batch * text_tokens, cfg["clip_text_in_channels"], c_cond)  # clip_txt_mapper
        ncond += text_tokens
    if cfg.get("clip_image_in_channels"):
        gemm(batch, cfg["clip_image_in_channels"], c_cond * seq)  # clip_img_mapper
        ncond += seq
    hh, ww = h // patch, w // patch
    gemm(batch * hh * ww, cfg["in_channels"] * patch * patch, c[0])  # embedding
    if cfg.get("effnet_in_channels"):
        t = batch * effnet_hw[0] * effnet_hw[1]
        gemm(t, cfg["effnet_in_channels"], 4 * c[0])
        gemm(t, 4 * c[0], c[0])
    if cfg.get("pixel_mapper_in_channels"):
        gemm(batch * 64, cfg["pixel_mapper_in_channels"], 4 * c[0])
        gemm(batch * 64, 4 * c[0], c[0])

    def block(kind, level, t_hw, skip):
        nonlocal total
        ch, t = c[level], batch * t_hw
        if kind == "R":
            total += 2 * t * ch * k * k  # depthwise conv
            gemm(t, ch + skip, 4 * ch)
            gemm(t, 4 * ch, ch)
        elif kind == "T":
            for _ in range(1 + n_tconds):
                gemm(batch, c_r, 2 * ch)
        else:
            m = t_hw + ncond if self_attn[level] else ncond
            gemm(batch * ncond, c_cond, ch)  # kv_mapper
            gemm(t, ch, ch)  # q
            gemm(batch * m, ch, 2 * ch)  # k, v
            total += 4 * batch * t_hw * m * ch  # QK^T, PV
            gemm(t, ch, ch)  # out

    sizes = []
    for i in range(levels):
        if i > 0:
            if switch is not None and not switch[i - 1]:
                gemm(batch * hh * ww, c[i - 1], c[i])
            else:
                hh, ww = hh // 2, ww // 2
                gemm(batch * hh * ww, 4 * c[i - 1], c[i])
        sizes.append((hh, ww))
        reps = cfg["down_blocks_repeat_mappers"][i]
        for r in range(reps):
            for _ in range(cfg["down_num_layers_per_block"][i]):
                for kind in types[i]:
                    block(kind, i, hh * ww, 0)
            if r < reps - 1:
                gemm(batch * hh * ww, c[i], c[i])
    for i in reversed(range(levels)):
        hh, ww = sizes[i]
        reps, layers = cfg["up_blocks_repeat_mappers"][::-1][i], cfg["up_num_layers_per_block"][::-1][i]
        for r in range(reps):
            for j in range(layers):
                for n, kind in enumerate(types[i]):
                    block(kind, i, hh * ww, c[i] if (i < levels - 1 and j == 0 and n == 0) else 0)
            if r < reps - 1:
                gemm(batch * hh * ww, c[i], c[i])
        if i > 0:
            if switch is not None and not switch[i - 1]:
                gemm(batch * hh * ww, c[i], c[i - 1])
            else:
                gemm(batch * hh * ww, c[i], 4 * c[i - 1])
    gemm(batch * h * w // (patch * patch), c[0], cfg["out_channels"] * patch * patch)  # clf
    return total


def step_flops(unets, variant, size, prior_cfg_batch=2):
    """(Stage C FLOPs per step with CFG, Stage B FLOPs per step) at size x size."""
    from stable_cascade_c.pipeline import decoder_latent_size, prior_latent_size
    from stable_cascade_c.unet import normalize_config
    prior, decoder = (normalize_config(unets[n]) for n in VARIANTS[variant])
    c_hw = prior_latent_size(size, size)
    b_hw = decoder_latent_size(c_hw)
    return (unet_flops(prior, prior_cfg_batch, *c_hw),
            unet_flops(decoder, 1, *b_hw, effnet_hw=c_hw))


# ---- the workers ------------------------------------------------------------------------------

class Recorder:
    """Seconds per stage call of one generation, and the peak of a memory probe sampled after each."""

    def __init__(self, probe):
        self.probe = probe
        self.reset()

    def reset(self):
        self.stages = {s: [] for s in STAGES}
        self.peak = self.probe()

    def add(self, stage, seconds):
        self.stages[stage].append(seconds)
        self.peak = max(self.peak, self.probe())


def _host_rss():
    return bc.status_kb("VmRSS") * 1024


class OursSide:
    """stable_cascade_c.Pipeline; the network calls it makes are timed by wrapping the classes'
    methods in this process (public names only; the pipeline itself is unchanged)."""

    def __init__(self, dirs, lite, device, steps):
        import stable_cascade_c as sc
        from stable_cascade_c import _C
        from stable_cascade_c.text_encoder import CLIPTextModelWithProjection
        from stable_cascade_c.unet import StableCascadeUNet
        from stable_cascade_c.vqgan import PaellaVQModel

        self.sc, self.device, self.steps = sc, device, steps
        self.cuda_info = getattr(_C, "_cuda_backend_info", None) if device == "cuda" else None
        self.pipe = sc.Pipeline.from_pretrained(dirs[0], dirs[1], device=device, lite=lite)
        self.rec = Recorder(self.device_used if device == "cuda" else _host_rss)
        roles = {id(self.pipe.prior): "stage_c", id(self.pipe.decoder): "stage_b"}
        rec = self.rec

        def wrap(cls, method, label):
            orig = getattr(cls, method)

            def timed(obj, *args, **kwargs):
                t0 = time.perf_counter()
                out = orig(obj, *args, **kwargs)
                rec.add(label(obj), time.perf_counter() - t0)
                return out

            setattr(cls, method, timed)

        wrap(CLIPTextModelWithProjection, "__call__", lambda obj: "text")
        wrap(StableCascadeUNet, "prepare", lambda obj: roles[id(obj)] + "_prepare")
        wrap(StableCascadeUNet, "forward_prepared", lambda obj: roles[id(obj)])
        wrap(PaellaVQModel, "decode", lambda obj: "stage_a")

    def device_used(self):
        if self.cuda_info is None:
            return 0
        info = self.cuda_info()
        return info["total_bytes"] - info["free_bytes"]

    def info(self):
        b = self.sc.build_info()
        return {"package": os.path.dirname(self.sc.__file__), "version": b["version"],
                "device_name": (b.get("cuda_device") or {}).get("name") if self.device == "cuda" else None,
                "cpu_features": b["cpu_features"], "threads": self.sc.get_num_threads(),
                "memory_probe": "device" if self.cuda_info else ("host" if self.device == "cpu" else "none")}

    def memory_now(self):
        return self.device_used() if self.device == "cuda" else _host_rss()

    def generate(self, size):
        return np.stack(self.pipe(prompt=PROMPT, negative_prompt=NEGATIVE, height=size, width=size,
                                  prior_num_inference_steps=self.steps[0], prior_guidance_scale=PRIOR_GUIDANCE,
                                  num_inference_steps=self.steps[1], guidance_scale=DECODER_GUIDANCE, seed=SEED,
                                  progress=False))

    def before_warmup(self):
        if self.device != "cuda":
            bc.reset_peak()

    def extra_memory(self, warmup):
        out = {}
        if self.device == "cpu" and warmup:
            out["host_peak"] = bc.status_kb("VmHWM") * 1024
        return out


class DiffusersSide:
    """diffusers' StableCascadePriorPipeline + StableCascadeDecoderPipeline (torch bf16 on the
    GPU, float32 on the CPU), timed by hooks on the same network calls."""

    def __init__(self, dirs, lite, device, steps):
        import torch
        from diffusers import (
            StableCascadeDecoderPipeline,
            StableCascadePriorPipeline,
            StableCascadeUNet,
        )

        self.torch, self.device, self.steps = torch, device, steps
        self.cuda = device == "cuda"
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        kw_p, kw_d = {}, {}
        if lite:
            kw_p["prior"] = StableCascadeUNet.from_pretrained(dirs[0], subfolder="prior_lite", torch_dtype=self.dtype)
            kw_d["decoder"] = StableCascadeUNet.from_pretrained(dirs[1], subfolder="decoder_lite",
                                                                torch_dtype=self.dtype)
        self.prior = StableCascadePriorPipeline.from_pretrained(dirs[0], torch_dtype=self.dtype, **kw_p).to(device)
        self.decoder = StableCascadeDecoderPipeline.from_pretrained(dirs[1], torch_dtype=self.dtype, **kw_d).to(device)
        for p in (self.prior, self.decoder):
            p.set_progress_bar_config(disable=True)
        self.rec = Recorder(self.memory_now)
        started = {}

        def hook(module, label):
            def pre(mod, args):
                self.sync()
                started[label] = time.perf_counter()

            def post(mod, args, out):
                self.sync()
                self.rec.add(label, time.perf_counter() - started.pop(label))

            module.register_forward_pre_hook(pre)
            module.register_forward_hook(post)

        hook(self.prior.text_encoder, "text")
        hook(self.decoder.text_encoder, "text")
        hook(self.prior.prior, "stage_c")
        hook(self.decoder.decoder, "stage_b")
        vq, decode = self.decoder.vqgan, self.decoder.vqgan.decode

        def timed_decode(*args, **kwargs):
            self.sync()
            t0 = time.perf_counter()
            out = decode(*args, **kwargs)
            self.sync()
            self.rec.add("stage_a", time.perf_counter() - t0)
            return out

        vq.decode = timed_decode

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def memory_now(self):
        if self.cuda:
            free, total = self.torch.cuda.mem_get_info()
            return total - free
        return _host_rss()

    def info(self):
        import diffusers
        import transformers
        return {"torch": self.torch.__version__, "diffusers": diffusers.__version__,
                "transformers": transformers.__version__, "threads": self.torch.get_num_threads(),
                "device_name": self.torch.cuda.get_device_name() if self.cuda else None,
                "memory_probe": "device" if self.cuda else "host"}

    def before_warmup(self):
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()
        else:
            bc.reset_peak()

    def generate(self, size):
        torch = self.torch
        g = torch.Generator("cpu").manual_seed(SEED)
        with torch.inference_mode():
            emb = self.prior(prompt=PROMPT, negative_prompt=NEGATIVE, height=size, width=size,
                             num_inference_steps=self.steps[0], guidance_scale=PRIOR_GUIDANCE,
                             generator=g).image_embeddings
            images = self.decoder(image_embeddings=emb, prompt=PROMPT, negative_prompt=NEGATIVE,
                                  guidance_scale=DECODER_GUIDANCE, num_inference_steps=self.steps[1], generator=g,
                                  output_type="np").images
        return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)  # diffusers' numpy_to_pil

    def extra_memory(self, warmup):
        if self.cuda:
            return {"torch_max_allocated": self.torch.cuda.max_memory_allocated(),
                    "torch_max_reserved": self.torch.cuda.max_memory_reserved()}
        return {"host_peak": bc.status_kb("VmHWM") * 1024} if warmup else {}


def worker_main(args):
    sides = {"ours": OursSide, "diffusers": DiffusersSide}
    impl = None

    def handle(cmd):
        nonlocal impl
        if cmd["op"] == "load":
            t0 = time.perf_counter()
            impl = sides[args.worker](args.dirs, args.variant == "lite", args.device, tuple(args.steps))
            return {"seconds": time.perf_counter() - t0, "memory": impl.memory_now(), "info": impl.info()}
        if cmd["op"] == "run":
            if cmd.get("warmup"):
                impl.before_warmup()
            impl.rec.reset()
            t0 = time.perf_counter()
            images = impl.generate(cmd["size"])
            total = time.perf_counter() - t0
            if cmd.get("save"):
                np.save(cmd["save"], images)
            memory = dict(impl.extra_memory(cmd.get("warmup")), sampled_peak=impl.rec.peak)
            return {"total": total, "stages": impl.rec.stages, "memory": memory, "shape": list(images.shape)}
        raise ValueError(f"unknown command {cmd}")

    bc.serve(handle, catch=True)


# ---- the parent -------------------------------------------------------------------------------

def reference_available():
    """None when torch and diffusers can be imported (checked without importing them here), else why not."""
    missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not importable" if missing else None


def measure(side, variant, size, dirs, args, log):
    """One side at one (variant, size) in a fresh worker: load, warm-up, timed runs."""
    res = {"side": side, "variant": variant, "size": size}
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    argv = [os.path.abspath(__file__), "--worker", side, "--variant", variant, "--dirs", *dirs,
            "--device", args.device if side == "ours" else args.ref_device, "--steps", *map(str, args.steps)]
    t0 = time.perf_counter()
    w = bc.Worker(side, argv, env)
    try:
        for op, kw in [("load", {})] + [("run", {"size": size, "warmup": True, "save": os.path.join(
                args.workdir, f"image_{side}_{variant}_{size}.npy")})] + [("run", {"size": size})] * args.reps:
            r = w.call(op=op, **kw)
            if "error" in r:
                res["error"] = f"{op}: {r['error']}"
                break
            if op == "load":
                res["load"] = r
            elif kw.get("warmup"):
                res["warmup"] = r
            else:
                res.setdefault("runs", []).append(r)
    except RuntimeError as exc:
        res["error"] = str(exc)
    finally:
        w.close()
    res["wall"] = time.perf_counter() - t0
    if "error" in res:
        log(f"[{variant} {size}] {side}: FAILED {res['error']}")
    else:
        totals = [r["total"] for r in res["runs"]]
        log(f"[{variant} {size}] {side}: load {res['load']['seconds']:.1f} s, end to end "
            f"{statistics.median(totals) * 1e3:.0f} ms (warm-up {res['warmup']['total'] * 1e3:.0f} ms), "
            f"worker {res['wall']:.0f} s")
    return res


def estimate(results, side, variant, size, reps):
    """Seconds a measurement is expected to take, from what was measured before (0: unknown)."""
    done = [r for r in results if r["side"] == side and r["variant"] == variant and "error" not in r]
    if not done:
        done = [r for r in results if r["side"] == side and "error" not in r]
    if not done:
        return 0.0
    r = max(done, key=lambda r: r["size"])
    scale = (size / r["size"]) ** 2 * 1.25  # pixels, and attention's quadratic share
    runs = r["warmup"]["total"] + sum(x["total"] for x in r["runs"]) / len(r["runs"]) * reps
    return r["wall"] - r["warmup"]["total"] - sum(x["total"] for x in r["runs"]) + runs * scale


def stage_summary(res):
    """Per-stage milliseconds of a measurement (medians over the timed runs)."""
    runs = res["runs"]
    med = lambda xs: statistics.median(xs) * 1e3
    out = {"total": med([r["total"] for r in runs])}
    for s in STAGES:
        calls = [r["stages"][s] for r in runs]
        out[s + "_calls"] = len(calls[0])
        out[s + "_sum"] = med([sum(c) for c in calls]) if calls[0] else None
        steps = [x for c in calls for x in c]
        out[s + "_median"] = med(steps) if steps else None
        out[s + "_mean"] = statistics.fmean(steps) * 1e3 if steps else None
    out["rest"] = out["total"] - sum(out[s + "_sum"] or 0.0 for s in STAGES)
    return out


def _ms(x):
    return "" if x is None else (f"{x:.1f}" if x < 1000 else f"{x:.0f}")


def _ratio(a, b):
    return f"{a / b:.2f}" if a and b else ""


def _mb(x):
    return "" if not x else f"{x / 2**20:.0f}"


def card_peak(name, override):
    if override:
        return override * 1e12
    for key, tflops in PEAK_TFLOPS:
        if name and key in name:
            return tflops * 1e12
    return None


def report(meta, results, cfg, args):
    """The Markdown report: a summary table, then one table per (variant, size)."""
    dry = "; dry run: a functional check, not a performance figure" if args.config != "real" else ""
    lines = [f"## End-to-end benchmark ({args.config} models, {args.device}{dry})", ""]
    lines += [f"- date {meta['date']}, commit {meta['commit']}, card/CPU: {meta['card'] or 'unknown'}",
              f"- models: {cfg['describe']}",
              (f"- run: prompt + negative prompt, {args.steps[0]} prior steps (guidance {PRIOR_GUIDANCE}, CFG "
               f"batch 2), {args.steps[1]} decoder steps (guidance {DECODER_GUIDANCE}: no CFG), batch 1; one warm-up "
               f"then {args.reps} timed run(s) per side, each side in a fresh process"),
              f"- ours: {meta.get('ours', '')}", f"- reference: {meta.get('reference', '')}", ""]
    peak = meta.get("peak_flops")
    mem_label = "device MB (sampled)" if args.device == "cuda" else "host MB (VmHWM)"
    by = {(r["variant"], r["size"], r["side"]): r for r in results}
    pairs = sorted({(r["variant"], r["size"]) for r in results}, key=lambda p: (p[0] != "full", p[1]))
    lines += ["| variant | size | ours ms | diffusers ms | speed (diffusers/ours) | ours peak " + mem_label +
              " | diffusers peak " + mem_label + " | memory (ours/diffusers) | Stage C step / floor (ours) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    summaries = {}
    for variant, size in pairs:
        row = []
        for side in ("ours", "diffusers"):
            r = by.get((variant, size, side))
            summaries[(variant, size, side)] = stage_summary(r) if r and "runs" in r else None
        o, d = summaries[(variant, size, "ours")], summaries[(variant, size, "diffusers")]
        om, dm = (_peak(by.get((variant, size, s)), args) for s in ("ours", "diffusers"))
        c_flops, _ = step_flops(cfg["unets"], variant, size)
        floor = c_flops / peak * 1e3 if peak else None
        row = [variant, f"{size}x{size}", _ms(o and o["total"]) or _fail(by.get((variant, size, "ours"))),
               _ms(d and d["total"]) or _fail(by.get((variant, size, "diffusers"))),
               _ratio(d and d["total"], o and o["total"]), _mb(om), _mb(dm), _ratio(om, dm),
               _ratio(o and o["stage_c_median"], floor)]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if meta.get("skipped"):
        lines += [f"Skipped for the time budget: {', '.join(meta['skipped'])}.", ""]
    for variant, size in pairs:
        lines += pair_table(variant, size, by, summaries, cfg, args, peak, mem_label)
    return "\n".join(lines)


def _fail(r):
    if r is None:
        return "not run"
    return "failed" if "error" in r else ""


def _peak(r, args):
    """The peak memory of a measurement's warm-up run: host VmHWM on the CPU, sampled device memory on a GPU."""
    if not r or "warmup" not in r:
        return None
    m = r["warmup"]["memory"]
    return m.get("host_peak") or m.get("sampled_peak")


def pair_table(variant, size, by, summaries, cfg, args, peak, mem_label):
    o, d = summaries[(variant, size, "ours")], summaries[(variant, size, "diffusers")]
    ro, rd = by.get((variant, size, "ours")), by.get((variant, size, "diffusers"))
    s0, s1 = args.steps
    lines = [f"### {variant}, {size}x{size}", ""]
    failures = [f"{r['side']} failed: `{r['error']}`" for r in (ro, rd) if r and "error" in r]
    if not (o or d):
        return lines + [x + "\n" for x in failures]
    lines += ["| stage | ours ms | diffusers ms | diffusers/ours |", "|---|---:|---:|---:|"]

    def row(label, key, d_note=""):
        a, b = o and o[key], d and d[key]
        lines.append(f"| {label} | {_ms(a)} | {_ms(b) or d_note} | {_ratio(b, a)} |")

    calls = " / ".join(f"{x['text_calls']} calls" for x in (o, d) if x)
    row(f"text encoder, all calls ({calls})", "text_sum")
    row("Stage C conditioning (once per run)", "stage_c_prepare_sum", "in each step" if d else "")
    row("Stage C step, median", "stage_c_median")
    row("Stage C step, mean", "stage_c_mean")
    row(f"Stage C, all {s0} steps", "stage_c_sum")
    row("Stage B conditioning (once per run)", "stage_b_prepare_sum", "in each step" if d else "")
    row("Stage B step, median", "stage_b_median")
    row("Stage B step, mean", "stage_b_mean")
    row(f"Stage B, all {s1} steps", "stage_b_sum")
    row("Stage A decode", "stage_a_sum")
    row("rest (tokenizer, sampler, CFG mix, copies, uint8)", "rest")
    row("**end to end**", "total")
    lo, ld = (r["load"]["seconds"] * 1e3 if r and "load" in r else None for r in (ro, rd))
    lines.append(f"| load (both repos) | {_ms(lo)} | {_ms(ld)} | {_ratio(ld, lo)} |")
    om, dm = _peak(ro, args), _peak(rd, args)
    lines.append(f"| peak memory, {mem_label}, warm-up run | {_mb(om)} | {_mb(dm)} | "
                 f"{_ratio(om, dm)} (ours/diffusers) |")
    ao, ad = (r["load"]["memory"] if r and "load" in r else None for r in (ro, rd))
    lines.append(f"| memory after load, MB | {_mb(ao)} | {_mb(ad)} | {_ratio(ao, ad)} (ours/diffusers) |")
    if rd and "warmup" in rd and "torch_max_reserved" in rd["warmup"]["memory"]:
        m = rd["warmup"]["memory"]
        lines.append(f"| torch allocator max allocated / reserved, MB | | {_mb(m['torch_max_allocated'])} / "
                     f"{_mb(m['torch_max_reserved'])} | |")
    c_flops, b_flops = step_flops(cfg["unets"], variant, size)
    tf = lambda f, ms: f"{f / (ms * 1e-3) / 1e12:.3g}" if ms else ""
    lines.append(f"| Stage C step: {c_flops / 1e9:.4g} GFLOP (CFG batch 2), achieved TFLOP/s | "
                 f"{tf(c_flops, o and o['stage_c_median'])} | {tf(c_flops, d and d['stage_c_median'])} | |")
    lines.append(f"| Stage B step: {b_flops / 1e9:.4g} GFLOP, achieved TFLOP/s | "
                 f"{tf(b_flops, o and o['stage_b_median'])} | {tf(b_flops, d and d['stage_b_median'])} | |")
    if peak:
        floor = c_flops / peak * 1e3
        lines.append(f"| Stage C step floor at {peak / 1e12:.0f} TFLOP/s: {floor:.2f} ms; step / floor | "
                     f"{_ratio(o and o['stage_c_median'], floor)} | {_ratio(d and d['stage_c_median'], floor)} | |")
    lines.append("")
    if o and d and args.config != "real":
        lines += ["Targets: not evaluated (tiny models: the figures check the script, they measure nothing).", ""]
    elif o and d:
        speed = d["total"] / o["total"]
        verdicts = [f"end to end {speed:.2f}x diffusers' speed (target >= 2: {'met' if speed >= 2 else 'not met'})"]
        if peak:
            f = o["stage_c_median"] / (c_flops / peak * 1e3)
            verdicts.append(f"Stage C step {f:.2f}x its floor (target <= 1.5: {'met' if f <= 1.5 else 'not met'})")
        if om and dm:
            verdicts.append(f"peak memory {om / dm:.2f}x diffusers' (target <= 0.75: "
                            f"{'met' if om / dm <= 0.75 else 'not met'})")
        lines += ["Targets: " + "; ".join(verdicts) + ".", ""]
    lines += [x + "\n" for x in failures]
    check = compare_images(args.workdir, variant, size)
    if check:
        lines += [check, ""]
    return lines


def compare_images(workdir, variant, size):
    paths = [os.path.join(workdir, f"image_{side}_{variant}_{size}.npy") for side in ("ours", "diffusers")]
    if not all(os.path.isfile(p) for p in paths):
        return None
    a, b = (np.load(p).astype(np.int16) for p in paths)
    if a.shape != b.shape:
        return f"Images: shapes differ, ours {a.shape} vs diffusers {b.shape}."
    diff = np.abs(a - b)
    return (f"Images (warm-up runs, same seed and CPU-generator noise): max |pixel diff| {int(diff.max())}, "
            f"mean {diff.mean():.2f} levels (float32 on the CPU: equal within a level or two; bf16 on a GPU: "
            "rounding grows over the steps, only a sanity check).")


def commit():
    if os.environ.get("SC_COMMIT"):
        return os.environ["SC_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=bc.ROOT, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


#: The real checkpoints' tensor manifests (copies of spec/keys/*.tsv kept with the tests).
MANIFESTS = {"text_encoder": ("clip_text", "keys_text_encoder.tsv"), "prior": ("keys", "keys_prior.tsv"),
             "prior_lite": ("keys", "keys_prior_lite.tsv"), "decoder": ("keys", "keys_decoder.tsv"),
             "decoder_lite": ("keys", "keys_decoder_lite.tsv"), "vqgan": ("keys", "keys_vqgan.tsv")}


def read_manifest(part):
    """[(name, shape)] of a real checkpoint, from tests/data (None when the file is absent)."""
    path = os.path.join(bc.ROOT, "tests", "data", *MANIFESTS[part])
    if not os.path.isfile(path):
        return None
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, shape = line.split("\t")[:2]
            rows.append((name, () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))))
    return rows


def written_keys(cfg):
    """{part: [(name, shape)]}: the tensors write_hub_repos stores for a configuration."""
    from stable_cascade_c.text_encoder import CLIPTextModelWithProjection
    from stable_cascade_c.unet import StableCascadeUNet
    from stable_cascade_c.vqgan import PaellaVQModel

    out = {"text_encoder": CLIPTextModelWithProjection.expected_keys(bc.clip_text_config(cfg["text_encoder"],
                                                                                        cfg["dtype"])),
           "vqgan": PaellaVQModel.expected_keys(cfg["vqgan"])}
    out.update({name: StableCascadeUNet.expected_keys(u) for name, u in cfg["unets"].items()})
    return {part: [(k[0], tuple(k[1])) for k in keys] for part, keys in out.items()}


def spec_dir():
    """The project's spec folder (spec/flops.py), where this checkout has one beside or inside it."""
    for d in (os.path.join(bc.ROOT, "shared", "spec"), os.path.join(bc.ROOT, "..", "shared", "spec"),
              os.path.join(bc.ROOT, "..", "..", "shared", "spec")):
        if os.path.isfile(os.path.join(d, "flops.py")):
            return os.path.abspath(d)
    return None


def check_configs(cfg, real):
    """The tensors we write for a configuration against the real checkpoints' manifests (real
    models), and against the state dicts of diffusers'/transformers' models instantiated on the
    meta device (needs torch), with their parameter counts; the FLOP model against spec/flops.py
    when the spec folder is at hand. Returns the exit code (1 on any difference)."""
    ok = True
    keys = written_keys(cfg)
    if real:
        for part, mine in keys.items():
            manifest = read_manifest(part)
            if manifest is not None:
                same = manifest == mine
                ok &= same
                print(f"{part:14s} tensors written equal the real checkpoint's manifest "
                      f"(tests/data/{'/'.join(MANIFESTS[part])}): {same}")
    why_not = reference_available()
    if why_not:
        print(f"(diffusers' models not compared: {why_not})")
    else:
        import torch
        from diffusers import StableCascadeUNet
        from diffusers.pipelines.wuerstchen import PaellaVQModel
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection

        def compare(name, model):
            nonlocal ok
            sd = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            mine = dict(keys[name])
            same = sd == mine
            ok &= same
            print(f"{name:14s} {sum(p.numel() for p in model.parameters()) / 1e6:8.1f} M parameters, "
                  f"{len(sd)} tensors; keys and shapes equal to diffusers'/transformers' model: {same}")
            if not same:
                print("   only in diffusers:", sorted(set(sd) - set(mine))[:8])
                print("   only ours:", sorted(set(mine) - set(sd))[:8])

        te = bc.clip_text_config(cfg["text_encoder"], cfg["dtype"])
        with torch.device("meta"):
            fields = {k: v for k, v in te.items() if k not in ("architectures", "model_type", "dtype")}
            compare("text_encoder", CLIPTextModelWithProjection(CLIPTextConfig(**fields)))
            for name, ucfg in cfg["unets"].items():
                compare(name, StableCascadeUNet(**ucfg))
            compare("vqgan", PaellaVQModel(**cfg["vqgan"]))
    spec = spec_dir()
    if spec and real:
        s = importlib.util.spec_from_file_location("spec_flops", os.path.join(spec, "flops.py"))
        flops = importlib.util.module_from_spec(s)
        s.loader.exec_module(flops)
        for variant, lite in (("full", False), ("lite", True)):
            for size in (1024, 2048):
                lc, lb = flops.latents(size, size)
                c_ref, b_ref = flops.stage_c(2, lite, lc).tot(1), flops.stage_b(1, lite, lb, lc).tot(1)
                c, b = step_flops(cfg["unets"], variant, size)
                same = c == c_ref and b == b_ref
                ok &= same
                print(f"FLOPs {variant} {size}: Stage C {c / 1e9:.1f} GFLOP per CFG step (spec/flops.py "
                      f"{c_ref / 1e9:.1f}), Stage B {b / 1e9:.1f} GFLOP per step (spec/flops.py {b_ref / 1e9:.1f}): "
                      f"{'equal' if same else 'DIFFERENT'}")
    elif real:
        print("(spec/flops.py not found beside this checkout: FLOP model not compared)")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true",
                    help="tiny models on the CPU: checks the script, measures nothing")
    ap.add_argument("--config", choices=["real", "tiny", "deep"], help="model set (default: real; tiny with --dry-run)")
    ap.add_argument("--sizes", type=int, nargs="+", help="image sides (default: 1024 2048; dry run 256 512)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["full", "lite"])
    ap.add_argument("--steps", type=int, nargs=2, metavar=("PRIOR", "DECODER"),
                    help="prior and decoder steps (default 20 10; dry run 2 2)")
    ap.add_argument("--reps", type=int, default=1, help="timed runs after the warm-up, per side (default 1)")
    ap.add_argument("--skip-reference", action="store_true", help="measure ours only")
    ap.add_argument("--device", choices=["cuda", "cpu"], help="our device (default: cuda; cpu for tiny/deep)")
    ap.add_argument("--budget", type=float, help="seconds: skip (size, variant) pairs estimated not to fit")
    ap.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak for the FLOP floor "
                    "(default: from the card's name: H100/H200 989, H100 PCIe 756, A100 312)")
    ap.add_argument("--workdir", default="/tmp/sc_bench_gpu", help="weights (kept between runs), images")
    ap.add_argument("--json", help="write every raw figure here (rewritten after each measurement)")
    ap.add_argument("--markdown", help="write the report here too (rewritten after each measurement)")
    ap.add_argument("--check-configs", action="store_true",
                    help="compare the models' key sets with diffusers' on the meta device (needs torch), then exit")
    ap.add_argument("--worker", choices=["ours", "diffusers"], help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--dirs", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    bc.use_source_tree()
    if args.worker:
        return worker_main(args)

    args.config = args.config or ("tiny" if args.dry_run else "real")
    cfg = configs()[args.config]
    if args.check_configs:
        return check_configs(cfg, args.config == "real")
    args.device = args.device or cfg["device"]
    args.ref_device = args.device
    args.sizes = args.sizes or cfg["sizes"]
    args.steps = tuple(args.steps or cfg["steps"])
    os.makedirs(args.workdir, exist_ok=True)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(),
            "card": None}
    why_not = None if args.skip_reference else reference_available()
    sides = ["ours"] + ([] if args.skip_reference or why_not else ["diffusers"])
    meta["reference"] = ("skipped (--skip-reference)" if args.skip_reference else
                         f"skipped: {why_not}" if why_not else "")
    if why_not:
        log(f"note: the diffusers side is skipped ({why_not})")
    for stale in (f for f in os.listdir(args.workdir) if f.startswith("image_")):
        os.remove(os.path.join(args.workdir, stale))
    unets = {n: cfg["unets"][n] for v in args.variants for n in VARIANTS[v]}
    prior_dir, decoder_dir, written = bc.write_hub_repos(os.path.join(args.workdir, args.config), cfg["text_encoder"],
                                                         unets, cfg["vqgan"], dtype=cfg["dtype"])
    what = "written: " + ", ".join(os.path.relpath(w, args.workdir) for w in written) if written else "reused"
    log(f"weights in {os.path.dirname(prior_dir)} ({what}; {time.perf_counter() - t0:.1f} s)")

    results = []

    def save():
        text = report(meta, results, cfg, args)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(text + "\n")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"meta": meta, "args": {k: v for k, v in vars(args).items()}, "results": results}, f,
                          indent=1)
        return text

    for size in sorted(args.sizes):
        for variant in args.variants:
            need = sum(estimate(results, s, variant, size, args.reps) for s in sides)
            if args.budget and time.perf_counter() - t0 + need > args.budget:
                log(f"[{variant} {size}] skipped: estimated {need:.0f} s would overrun the {args.budget:.0f} s budget")
                meta.setdefault("skipped", []).append(f"{variant} {size}")
                continue
            for side in sides:
                r = measure(side, variant, size, (prior_dir, decoder_dir), args, log)
                results.append(r)
                describe_side(meta, side, r.get("load", {}).get("info"), args)
                save()
    print(save())
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
    return 1 if any("error" in r for r in results) else 0


def describe_side(meta, side, info, args):
    """Fill the report's header from a worker's facts (the first worker that loaded names the card)."""
    if not info:
        return
    meta["card"] = meta["card"] or info.get("device_name") or _cpu_name()
    if side == "ours":
        probe = {"device": "device memory sampled through _C._cuda_backend_info()", "host": "host VmHWM",
                 "none": "NO device memory probe in this build (peak not measured)"}[info["memory_probe"]]
        meta["ours"] = (f"stable_cascade_c {info['version']} from {info['package']}, device {args.device}, "
                        f"{info['threads']} CPU threads ({info['cpu_features']}); memory: {probe}")
    else:
        how = "bf16 on the GPU" if args.ref_device == "cuda" else "float32 on the CPU"
        meta["reference"] = (f"diffusers {info['diffusers']}, transformers {info['transformers']}, torch "
                             f"{info['torch']} ({how}, {info['threads']} threads)")
    if "peak_flops" not in meta:
        meta["peak_flops"] = (card_peak(meta["card"], args.peak_tflops) if args.device == "cuda" else
                              args.peak_tflops * 1e12 if args.peak_tflops else None)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "CPU")
    except OSError:
        name = "CPU"
    return f"{name}, {os.cpu_count()} CPUs"


if __name__ == "__main__":
    sys.exit(main())
