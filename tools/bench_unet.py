"""CPU benchmark: our StableCascadeUNet forward against diffusers' on the same machine and thread count.

Builds a random-weight diffusers UNet of prior_lite widths (1536 channels, 24 heads, c_cond 1536,
CLIP text/image inputs) with fewer layers than the real one, saves it, loads it with
stable_cascade_c, checks that both agree, then times one forward of each (batch 2, 12x12 latent:
the prior's size for a 512x512 image) and prints the ratio.

Run with the reference environment, from the repository root after building in place:
    /work/refenv/bin/python tools/bench_unet.py [--layers 1 2] [--size 12] [--batch 2] [--threads N]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.modules.setdefault("torchvision", None)  # the refenv's torchvision does not match its torch

import torch  # noqa: E402
from diffusers import StableCascadeUNet as DiffusersUNet  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import stable_cascade_c as sc  # noqa: E402
from stable_cascade_c.unet import PRESETS, StableCascadeUNet  # noqa: E402


def interleaved_medians(fns, iters):
    """Median wall time of each function, timed in turns so that load changes hit all alike."""
    times = [[] for _ in fns]
    for _ in range(iters):
        for fn, t in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs=2, default=[1, 2], help="down layers per level (up: reversed)")
    ap.add_argument("--size", type=int, default=12, help="latent height and width")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()

    cfg = dict(PRESETS["prior_lite"], down_num_layers_per_block=args.layers,
               up_num_layers_per_block=args.layers[::-1])
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    sc.set_num_threads(args.threads)
    ref = DiffusersUNet(**cfg).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0.0, 1.0 / np.sqrt(p.numel() / p.shape[0]) if p.ndim >= 2 else 0.1)
    nparams = sum(p.numel() for p in ref.parameters())

    g = torch.Generator().manual_seed(1)
    b, s = args.batch, args.size
    inputs = dict(
        sample=torch.randn(b, 16, s, s, generator=g), timestep_ratio=torch.full((b,), 0.7),
        clip_text_pooled=torch.randn(b, 1, 1280, generator=g), clip_text=torch.randn(b, 77, 1280, generator=g),
        clip_img=torch.randn(b, 1, 768, generator=g),
    )
    np_inputs = {k: v.numpy() for k, v in inputs.items()}

    with tempfile.TemporaryDirectory() as tmp:
        ref.save_pretrained(tmp, safe_serialization=True)
        ours = StableCascadeUNet.from_pretrained(tmp)

    with torch.no_grad():
        expected = ref(**inputs).sample.numpy()
    got = ours(**np_inputs)
    err = np.abs(got - expected).max() / np.abs(expected).max()

    def run_ref():
        with torch.no_grad():
            ref(**inputs)

    cond = ours.prepare(np_inputs["clip_text_pooled"], np_inputs["clip_text"], np_inputs["clip_img"])
    t_ref, t_ours, t_prep = interleaved_medians(
        [run_ref, lambda: ours(**np_inputs),
         lambda: ours.forward_prepared(cond, np_inputs["sample"], np_inputs["timestep_ratio"])], args.iters)
    print(f"config: prior_lite widths, layers {args.layers}/{args.layers[::-1]}, {nparams / 1e6:.0f}M params; "
          f"input {b}x16x{s}x{s}; {args.threads} threads; cpu features {sc.build_info()['cpu_features']}")
    print(f"max rel error vs diffusers: {err:.2e}")
    print(f"diffusers (torch {torch.__version__}): {t_ref * 1e3:.0f} ms")
    print(f"stable_cascade_c forward:           {t_ours * 1e3:.0f} ms  (diffusers/ours = {t_ref / t_ours:.2f})")
    print(f"stable_cascade_c forward_prepared:  {t_prep * 1e3:.0f} ms  (diffusers/ours = {t_ref / t_prep:.2f})")


if __name__ == "__main__":
    main()
