"""Benchmark of the CUDA op kernels at the real models' sizes (Stage C, Stage B, Stage A, CLIP).

Each op runs `--repeat` times on device-resident bf16 copies of its arguments (the `repeat=`
hook of the op bindings: one upload, n calls, one synchronize); the time per call includes
launch overhead. When PyTorch with CUDA is importable, the same computation in torch (bf16,
channels-last where it matters) is timed too, as a yardstick. Prints a Markdown table.

    PYTHONPATH=. python3 tools/bench_cuda_ops.py [--repeat N] [filter]
"""
import argparse
import time

import numpy as np

from stable_cascade_c import _C

try:  # the yardstick is optional
    import torch
    import torch.nn.functional as F

    HAVE_TORCH = torch.cuda.is_available()
except ImportError:
    HAVE_TORCH = False


def torch_ms(fn, repeat):
    """Milliseconds per call of a torch CUDA computation (after one warm-up call)."""
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat * 1e3


def cases(rng):
    """(name, op, args, kwargs, flops, bytes moved, torch closure factory or None)."""

    def f(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def t(a):
        return torch.from_numpy(a).to("cuda", torch.bfloat16)

    out = []

    def linear(name, M, K, N, act="none", accumulate=False):
        x, w, b = f(M, K), f(N, K, scale=K**-0.5), f(N)
        kw = {"act": act}
        if accumulate:
            kw.update(accumulate=True, out=f(M, N))

        def ref():
            tx, tw, tb = t(x), t(w), t(b)
            fn = {"none": lambda y: y, "gelu": F.gelu}[act]
            return lambda: fn(F.linear(tx, tw, tb))

        out.append((name, "op_linear", (x, w, b), kw, 2 * M * K * N, 2 * (M * K + K * N + M * N), ref))

    def attention(name, B, Tq, Tk, heads, d, causal=False):
        q, k, v = f(B, Tq, heads * d), f(B, Tk, heads * d), f(B, Tk, heads * d)

        def ref():
            tq, tk, tv = (t(a).view(B, -1, heads, d).transpose(1, 2) for a in (q, k, v))
            return lambda: F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)

        out.append((name, "op_attention", (q, k, v, heads, d**-0.5), {"causal": causal},
                    4 * B * heads * Tq * Tk * d, 2 * (2 * q.size + k.size + v.size), ref))

    def elementwise(name, op, args, nbytes, ref=None):
        out.append((name, op, args, {}, 0, nbytes, ref))

    # Stage C (2 x 24 x 24 tokens for CFG, c 2048, 32 heads, 661 keys)
    linear("C linear 1152x2048 -> 2048", 1152, 2048, 2048)
    linear("C FFN up 1152x2048 -> 8192 +GELU", 1152, 2048, 8192, act="gelu")
    linear("C FFN down 1152x8192 -> 2048 +residual", 1152, 8192, 2048, accumulate=True)
    attention("C attention 2x576x661, 32 heads of 64", 2, 576, 661, 32, 64)
    xc = f(2, 24, 24, 2048)
    elementwise("C depthwise3x3 2x24x24x2048", "op_depthwise3x3", (xc, f(3, 3, 2048), f(2048)), 4 * xc.size)
    elementwise("C layernorm 1152x2048", "op_layernorm", (xc,), 4 * xc.size)
    xg = f(2, 24, 24, 8192)
    elementwise("C GRN 2x24x24x8192", "op_grn", (xg, f(8192), f(8192)), 4 * xg.size)
    # Stage B (256x256 latent, patch 2: 128x128 at c 320; attention at 32x32, c 1280, 20 heads)
    linear("B FFN up 32768x320 -> 1280 +GELU", 32768, 320, 1280, act="gelu")
    linear("B FFN down 32768x1280 -> 320 +residual", 32768, 1280, 320, accumulate=True)
    attention("B attention 2x1024x1028, 20 heads of 64", 2, 1024, 1028, 20, 64)
    xb = f(2, 128, 128, 320)
    elementwise("B depthwise3x3 2x128x128x320", "op_depthwise3x3", (xb, f(3, 3, 320), f(320)), 4 * xb.size)
    elementwise("B layernorm 32768x320", "op_layernorm", (xb,), 4 * xb.size)
    xs = f(2, 128, 128, 320)
    out.append(("B conv2d k2s2 128x128x320 -> 640", "op_conv2d", (xs, f(640, 2, 2, 320), f(640), 2, 0), {},
                2 * 2 * 64 * 64 * 640 * 1280, 0, None))
    # Stage A (1 x 256 x 256 latent)
    linear("A FFN up 65536x384 -> 1536 +GELU", 65536, 384, 1536, act="gelu")
    xa = f(1, 256, 256, 384)
    out.append(("A conv_transpose2d k4s2p1 256x256x384 -> 192", "op_conv_transpose2d",
                (xa, f(4, 4, 192, 384, scale=0.05), f(192), 2, 1), {}, 2 * 65536 * 384 * 192 * 16, 0, None))
    elementwise("A resize 24x24 -> 256x256 (x16)", "op_resize_bilinear", (f(2, 24, 24, 16), (256, 256)),
                2 * 2 * 256 * 256 * 16)
    # CLIP text (77 tokens, 1280 wide, 20 heads, causal)
    attention("CLIP attention 2x77x77, 20 heads of 64, causal", 2, 77, 77, 20, 64, causal=True)
    linear("CLIP MLP 154x1280 -> 5120 +GELU", 154, 1280, 5120, act="gelu")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("filter", nargs="?", default="", help="run only benchmarks whose name contains this")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    info = _C.build_info()
    if not info["cuda_runtime_available"]:
        raise SystemExit("no usable CUDA GPU (build_info: %s)" % info)
    print(f"device: {info['cuda_device']['name']}; torch yardstick: {'yes' if HAVE_TORCH else 'no'}\n")
    print("| op | ms | TFLOP/s | GB/s | torch ms |")
    print("|---|---:|---:|---:|---:|")
    for name, op, op_args, kwargs, flops, nbytes, ref in cases(np.random.default_rng(0)):
        if args.filter not in name:
            continue
        fn = getattr(_C, op)
        fn(*op_args, device="cuda", **kwargs)  # warm-up: algorithm choice, scratch growth
        _, seconds = fn(*op_args, device="cuda", repeat=args.repeat, **kwargs)
        ms = seconds * 1e3
        tflops = f"{flops / seconds / 1e12:.1f}" if flops else ""
        gbs = f"{nbytes / seconds / 1e9:.0f}" if nbytes else ""
        tms = f"{torch_ms(ref(), args.repeat):.3f}" if HAVE_TORCH and ref else ""
        print(f"| {name} | {ms:.3f} | {tflops} | {gbs} | {tms} |", flush=True)


if __name__ == "__main__":
    main()
