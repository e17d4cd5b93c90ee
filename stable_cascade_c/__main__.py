"""Command line: ``python -m stable_cascade_c --prompt "..." --seed 7 -o out.png``."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from .params import GenerationParams


def build_parser() -> argparse.ArgumentParser:
    d = GenerationParams()
    ap = argparse.ArgumentParser(prog="python -m stable_cascade_c",
                                 description="Stable Cascade text-to-image with stable_cascade_c.")
    ap.add_argument("--prompt", default=d.prompt)
    ap.add_argument("--negative-prompt", default=d.negative_prompt)
    ap.add_argument("--prior-steps", type=int, default=d.prior_num_inference_steps, help="Stage C steps")
    ap.add_argument("--prior-guidance", type=float, default=d.prior_guidance_scale, help="Stage C CFG scale")
    ap.add_argument("--steps", type=int, default=d.num_inference_steps, help="Stage B steps")
    ap.add_argument("--guidance", type=float, default=d.guidance_scale, help="Stage B CFG scale")
    ap.add_argument("--seed", type=int, default=d.seed, help="-1 = random")
    ap.add_argument("--width", type=int, default=d.width)
    ap.add_argument("--height", type=int, default=d.height)
    ap.add_argument("-n", "--num-images", type=int, default=d.num_images_per_prompt)
    ap.add_argument("--prior", default=None, help="prior folder or Hub repo id (default: $STABLE_CASCADE_PRIOR "
                    "or the Hugging Face cache)")
    ap.add_argument("--decoder", default=None, help="decoder folder or Hub repo id (default: "
                    "$STABLE_CASCADE_DECODER or the Hugging Face cache)")
    ap.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    ap.add_argument("--lite", action="store_true", help="use the lite prior/decoder")
    ap.add_argument("--variant", default=None, help='weight variant, e.g. "bf16"')
    ap.add_argument("--weights", default="auto", choices=["auto", "float32", "bfloat16"],
                    help="how the CPU stores the weights: auto keeps bf16 files in bf16 (exact), bfloat16 "
                         "rounds float32 files too (half the memory)")
    ap.add_argument("--low-memory", action="store_true",
                    help="load each network for its stage only (default: only when holding them all would not fit)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads")
    ap.add_argument("--cpu-math", default="float32", choices=["float32", "bfloat16"],
                    help="CPU matrix products: float32 (exact) or bfloat16 on AMX (several times faster)")
    ap.add_argument("-o", "--output", default="stable_cascade.png",
                    help="output PNG; with several images, _<i> is added before the extension")
    ap.add_argument("--info", action="store_true", help="print build information and exit")
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from . import Pipeline, build_info, set_cpu_math, set_num_threads, weights
    from .imageio import save_png

    if args.info:
        for key, value in build_info().items():
            print(f"{key}: {value}")
        return 0
    if args.threads:
        set_num_threads(args.threads)
    try:
        set_cpu_math(args.cpu_math)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        prior = weights.resolve_repo(args.prior, "prior", lite=args.lite, variant=args.variant)
        decoder = weights.resolve_repo(args.decoder, "decoder", lite=args.lite, variant=args.variant)
        pipe = Pipeline.from_pretrained(prior=prior, decoder=decoder, device=args.device or weights.default_device(),
                                        lite=args.lite, variant=args.variant, weights=args.weights,
                                        low_memory=True if args.low_memory else "auto")
        start = time.perf_counter()
        images = pipe(prompt=args.prompt, negative_prompt=args.negative_prompt,
                      prior_num_inference_steps=args.prior_steps, prior_guidance_scale=args.prior_guidance,
                      num_inference_steps=args.steps, guidance_scale=args.guidance, seed=args.seed,
                      width=args.width, height=args.height, num_images_per_prompt=args.num_images,
                      progress=sys.stderr.isatty())
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    root, ext = os.path.splitext(args.output)
    for i, image in enumerate(images):
        path = args.output if len(images) == 1 else f"{root}_{i}{ext or '.png'}"
        save_png(path, image)
        print(path)
    print(f"seed {pipe.last_seed}, {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
