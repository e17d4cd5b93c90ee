"""Time one forward of our CLIP text encoder against transformers' (CPU, float32, eager attention).

    PYTHONPATH=. /work/refenv/bin/python tools/bench_clip_text.py [--threads N] [--batch B] [--repeat R]

For each config a random-weight CLIPTextModelWithProjection is saved to a temporary folder and
loaded by both implementations; both encode the same padded batch of 77 tokens with its mask
(what the pipeline does). Prints the median wall time of R runs after one warm-up, and the
largest relative difference of hidden_states as a sanity check.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.modules["torchvision"] = None  # the installed torchvision does not match torch

import torch  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModelWithProjection as RefModel  # noqa: E402

import stable_cascade_c as sc  # noqa: E402

CONFIGS = {
    # the tiny test model's shape, and the OpenAI ViT-B/32 text tower (a quarter of bigG's width)
    "tiny": dict(hidden_size=16, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2, projection_dim=24),
    "mid": dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                projection_dim=512),
}


def median_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sc.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    ids = np.full((args.batch, 77), 49407, np.int64)
    mask = np.zeros_like(ids)
    for b in range(args.batch):
        n = 5 + 7 * b
        ids[b, 0], ids[b, 1:n - 1] = 49406, rng.integers(0, 49406, n - 2)
        mask[b, :n] = 1
    print("threads=%d batch=%d tokens=77 repeat=%d" % (args.threads, args.batch, args.repeat))
    for name, cfg in CONFIGS.items():
        torch.manual_seed(0)
        config = CLIPTextConfig(hidden_act="gelu", eos_token_id=2, **cfg)
        ref = RefModel(config).eval()
        ref.config._attn_implementation = "eager"
        with tempfile.TemporaryDirectory() as folder:
            ref.save_pretrained(folder)
            ours = sc.CLIPTextModelWithProjection.from_pretrained(folder)
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)

        def run_ref():
            with torch.no_grad():
                return ref(input_ids=ids_t, attention_mask=mask_t, output_hidden_states=True)

        def run_ours():
            return ours(ids, attention_mask=mask)

        diff = np.abs(run_ours().hidden_states - run_ref().hidden_states[-1].numpy()).max()
        diff /= np.abs(run_ref().hidden_states[-1].numpy()).max()
        t_ref, t_ours = median_time(run_ref, args.repeat), median_time(run_ours, args.repeat)
        print("%-5s transformers %8.2f ms   stable_cascade_c %8.2f ms   (x%.2f)   max rel diff %.1e"
              % (name, 1e3 * t_ref, 1e3 * t_ours, t_ref / t_ours, diff))


if __name__ == "__main__":
    main()
