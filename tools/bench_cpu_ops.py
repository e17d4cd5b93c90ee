"""Benchmark of the CPU op kernels at Stage B/C-like sizes.

Reports the best of a few runs in CPU time of this process (robust when other processes share
the cores; with --threads > 1 it is the sum over threads) and the resulting rate.

    PYTHONPATH=. python3 tools/bench_cpu_ops.py [--threads N] [--isa baseline|avx2|avx512|auto] [filter]
"""
import argparse
import time

import numpy as np

from stable_cascade_c import _C


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("filter", nargs="?", default="", help="run only benchmarks whose name contains this")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--isa", default="auto", help="kernel ISA cap of the non-GEMM ops")
    args = ap.parse_args()
    _C.set_num_threads(args.threads)
    _C._ops_isa(args.isa)
    rng = np.random.default_rng(0)

    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    x, w3, b = f(2, 64, 64, 320), f(3, 3, 320), f(320)
    o = np.empty_like(x)
    x4, g4 = f(2, 32, 32, 1280), f(1280)
    o4 = np.empty_like(x4)
    q, k = f(2, 1024, 640), f(2, 1028, 640)
    oq = np.empty_like(q)
    xc, wc, oc = f(1, 64, 64, 320), f(640, 2, 2, 320), np.empty((1, 32, 32, 640), np.float32)
    xt, wt, ot = f(1, 32, 32, 640), f(2, 2, 320, 640), np.empty((1, 64, 64, 320), np.float32)
    xa, wa, oa = f(1, 64, 64, 384), f(4, 4, 192, 384), np.empty((1, 128, 128, 192), np.float32)
    # (name, call, flops or None, elements or None)
    cases = [
        ("depthwise3x3 zeros 2x64x64x320", lambda: _C.op_depthwise3x3(x, w3, b, out=o), x.size * 18, None),
        ("depthwise3x3 replicate", lambda: _C.op_depthwise3x3(x, w3, b, "replicate", out=o), x.size * 18, None),
        ("layernorm 8192x320", lambda: _C.op_layernorm(x, out=o), None, x.size),
        ("grn 2x32x32x1280", lambda: _C.op_grn(x4, g4, g4, out=o4), None, x4.size),
        ("gelu", lambda: _C.op_activation(x4, "gelu", out=o4), None, x4.size),
        ("silu", lambda: _C.op_activation(x4, "silu", out=o4), None, x4.size),
        ("add", lambda: _C.op_add(x, x, out=o), None, x.size),
        ("nchw_to_nhwc", lambda: _C.op_nchw_to_nhwc(x.reshape(2, 320, 64, 64), out=o), None, x.size),
        ("attention 2x1024x1028, 10 heads of 64", lambda: _C.op_attention(q, k, k, 10, 0.125, out=oq),
         2 * 2 * 1024 * 1028 * 640 * 2, None),
        ("conv2d k2s2 64x64x320 -> 640", lambda: _C.op_conv2d(xc, wc, None, 2, 0, out=oc),
         2 * 1024 * 1280 * 640, None),
        ("conv_transpose2d k2s2 32x32x640 -> 320", lambda: _C.op_conv_transpose2d(xt, wt, None, 2, 0, out=ot),
         2 * 1024 * 640 * 320 * 4, None),
        ("conv_transpose2d k4s2p1 64x64x384 -> 192", lambda: _C.op_conv_transpose2d(xa, wa, None, 2, 1, out=oa),
         2 * 64 * 64 * 384 * 192 * 16, None),
    ]
    print(f"threads {args.threads}, ops ISA {_C._ops_isa()}, GEMM kernel {_C._gemm_kernel()}")
    for name, call, flops, elems in cases:
        if args.filter not in name:
            continue
        call()
        best = min(_cpu_time(call) for _ in range(3))
        rate = f"{flops / best / 1e9:7.1f} GFLOP/s" if flops else f"{best / elems * 1e9:7.2f} ns/element"
        print(f"{name:44s} {best * 1e3:8.2f} ms {rate}", flush=True)


def _cpu_time(call) -> float:
    t = time.process_time()
    call()
    return time.process_time() - t


if __name__ == "__main__":
    main()
