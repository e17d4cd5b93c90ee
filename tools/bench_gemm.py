#!/usr/bin/env python3
"""Benchmark of the CPU GEMM (_C._gemm_nt) on the GEMM shapes the networks run, against
numpy.matmul (NumPy's bundled OpenBLAS) and scipy-openblas32's cblas_sgemm (through ctypes).

All three compute C[M,N] = A[M,K] B[N,K]^T in float32. "ours+ep" is our GEMM with the
epilogue the network fuses into that layer (bias, plus GELU on the MLP's first linear).

Setup (outside the repo; the project itself needs neither package):
    pip install --target /tmp/benchdeps scipy-openblas32 threadpoolctl
Run from the repository root with OpenBLAS' own CPU detection (no OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE overrides):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=.:/tmp/benchdeps \\
        python3 tools/bench_gemm.py --threads 1 2
The table it prints is the one in docs/cpu_gemm.md.
"""
import argparse
import ctypes
import datetime
import os
import platform
import subprocess
import time
from typing import Callable, List, Optional, Tuple

import numpy as np

from stable_cascade_c import _C

# (name, M, N, K, act): M = rows (tokens or pixels, CFG batch included), N = outputs, K = inputs.
# Derived from docs/spec: CLIP ViT-bigG text (77 tokens, width 1280, MLP 5120, fused QKV);
# Stage C at 1024^2 with CFG: 2 x 24 x 24 = 1152 rows at c = 2048 (MLP 8192); Stage B at
# 1024^2: level 0 is 128^2 = 16384 pixels at 320 channels, level 2 32^2 = 1024 at 1280;
# Stage A decoder: 256^2 = 65536 pixels at 384 channels (MLP 1536).
SHAPES: List[Tuple[str, int, int, int, str]] = [
    ("clip qkv", 77, 3840, 1280, "none"),
    ("clip out-proj", 77, 1280, 1280, "none"),
    ("clip fc1", 77, 5120, 1280, "gelu"),
    ("clip fc2", 77, 1280, 5120, "none"),
    ("stage C attn proj", 1152, 2048, 2048, "none"),
    ("stage C fc1", 1152, 8192, 2048, "gelu"),
    ("stage C fc2", 1152, 2048, 8192, "none"),
    ("stage B L0 fc1", 16384, 1280, 320, "gelu"),
    ("stage B L0 fc2", 16384, 320, 1280, "none"),
    ("stage B L2 fc1", 1024, 5120, 1280, "gelu"),
    ("stage A fc1", 65536, 1536, 384, "gelu"),
    ("stage A fc2", 65536, 384, 1536, "none"),
]

CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS = 101, 111, 112


class OpenBLAS32:
    """cblas_sgemm of the scipy-openblas32 wheel, called through ctypes."""

    def __init__(self) -> None:
        import scipy_openblas32  # noqa: PLC0415 (optional benchmark-only dependency)

        path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
        self.lib = ctypes.CDLL(path)
        # The wheel prefixes its symbols (nm -D libscipy_openblas.so | grep sgemm).
        self.sgemm = self.lib.scipy_cblas_sgemm
        fp = ctypes.POINTER(ctypes.c_float)
        i, f = ctypes.c_int, ctypes.c_float
        self.sgemm.argtypes = [i, i, i, i, i, i, f, fp, i, fp, i, f, fp, i]
        self.sgemm.restype = None
        self.lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
        self.lib.scipy_openblas_get_config.restype = ctypes.c_char_p
        self.path = path

    def describe(self) -> str:
        return "%s (core %s)" % (self.lib.scipy_openblas_get_config().decode(),
                                 self.lib.scipy_openblas_get_corename().decode())

    def set_threads(self, n: int) -> None:
        self.lib.scipy_openblas_set_num_threads(ctypes.c_int(n))

    def gemm_nt(self, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
        M, K = A.shape
        N = B.shape[0]
        fp = ctypes.POINTER(ctypes.c_float)
        self.sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, M, N, K, 1.0, A.ctypes.data_as(fp), K,
                   B.ctypes.data_as(fp), K, 0.0, C.ctypes.data_as(fp), N)


def interleaved_best(fns: List[Optional[Callable[[], None]]], rounds: int, pause_s: float,
                     clock: Callable[[], float]) -> List[float]:
    """Best time of each function over `rounds` calls, run as three blocks per function that
    alternate between the functions, so that every library sees the same background load.
    Each block starts with a warm-up call after an idle pause: OpenBLAS's worker threads
    busy-wait for ~0.1 s after a call and would otherwise steal cores from the next library."""
    best = [float("inf")] * len(fns)
    per_block = max(1, -(-rounds // 3))
    for _ in range(3):
        for i, fn in enumerate(fns):
            if fn is None:
                continue
            time.sleep(pause_s)
            fn()
            for _ in range(per_block):
                t0 = clock()
                fn()
                best[i] = min(best[i], clock() - t0)
    return best


def machine_summary() -> List[str]:
    lines = []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        flags = fields.get("Flags", "").split()
        simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile") if f in flags]
        lines.append("CPU: %s, %s CPUs, L1d %s, L2 %s, L3 %s; SIMD: %s" % (
            fields.get("Model name", "?").strip(), fields.get("CPU(s)", "?").strip(),
            fields.get("L1d cache", "?").strip(), fields.get("L2 cache", "?").strip(),
            fields.get("L3 cache", "?").strip(), ",".join(simd)))
    except (OSError, subprocess.CalledProcessError):
        lines.append("CPU: %s" % platform.processor())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    lines.append("date: %s, commit: %s, ours: %s kernel, %s" % (
        datetime.date.today().isoformat(), commit, _C._gemm_kernel(), _C.build_info()["compiler"]))
    lines.append("env: OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s" % (
        os.environ.get("OPENBLAS_CORETYPE", "(unset)"), os.environ.get("OPENBLAS_L2_SIZE", "(unset)")))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--budget", type=float, default=1.0,
                    help="about this many seconds of compute per library, shape and thread count (default 1)")
    ap.add_argument("--min-rounds", type=int, default=5)
    ap.add_argument("--max-rounds", type=int, default=15)
    ap.add_argument("--pause", type=float, default=0.3, help="idle seconds before each block of calls")
    ap.add_argument("--wall-1t", action="store_true",
                    help="time 1-thread runs by the wall clock too (default: the calling thread's CPU time, "
                         "which all three libraries use alone at 1 thread and which other processes on a "
                         "shared machine do not inflate)")
    ap.add_argument("--only", default="", help="substring filter on the shape names")
    ap.add_argument("--m-scale", type=float, default=1.0, help="multiply every M by this (quick runs)")
    args = ap.parse_args()

    try:
        from threadpoolctl import threadpool_info, threadpool_limits  # noqa: PLC0415
    except ImportError:
        threadpool_info = threadpool_limits = None
    try:
        ob32: Optional[OpenBLAS32] = OpenBLAS32()
    except ImportError:
        ob32 = None

    for line in machine_summary():
        print(line)
    print("numpy %s" % np.__version__)
    if threadpool_info:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                print("  BLAS seen by threadpoolctl: %s %s, kernel %s, %s" % (
                    info.get("internal_api"), info.get("version"), info.get("architecture"),
                    os.path.basename(info.get("filepath", ""))))
    else:
        print("  (threadpoolctl not importable: NumPy's OpenBLAS keeps its default thread count)")
    print("scipy-openblas32: %s" % (ob32.describe() if ob32 else "not importable (column left empty)"))
    print()
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    print("GFLOP/s (best of interleaved rounds; 1 thread: %s, 2+ threads: wall clock); ratios are ours / other."
          % ("wall clock" if args.wall_1t else "thread CPU time"))
    print()
    print("| shape | M | N | K | thr | ours | ours+ep | numpy | openblas32 | ours/numpy | ours/ob32 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    rng = np.random.default_rng(0)
    for name, M, N, K, act in SHAPES:
        if args.only and args.only not in name:
            continue
        M = max(1, int(M * args.m_scale))
        A = rng.standard_normal((M, K), dtype=np.float32)
        B = rng.standard_normal((N, K), dtype=np.float32)
        bias = rng.standard_normal(N, dtype=np.float32)
        C = np.empty((M, N), np.float32)
        flop = 2.0 * M * N * K
        for threads in args.threads:
            _C.set_num_threads(threads)
            if ob32:
                ob32.set_threads(threads)
            limits = threadpool_limits(limits=threads, user_api="blas") if threadpool_limits else None
            rounds = max(args.min_rounds, min(args.max_rounds, int(args.budget / max(flop / 150e9 / threads, 1e-4))))
            t_ours, t_ep, t_np, t_ob = interleaved_best([
                lambda: _C._gemm_nt(A, B, out=C, accumulate=False),
                lambda: _C._gemm_nt(A, B, bias, act=act, out=C, accumulate=False),
                lambda: np.matmul(A, B.T, out=C),
                (lambda: ob32.gemm_nt(A, B, C)) if ob32 else None,
            ], rounds, args.pause, time.thread_time if threads == 1 and not args.wall_1t else time.perf_counter)
            t_ob = t_ob if ob32 else None
            if limits:
                limits.restore_original_limits()
            g = lambda t: flop / t / 1e9  # noqa: E731
            ob_col = "%.0f" % g(t_ob) if t_ob else "-"
            ob_ratio = "%.2f" % (t_ob / t_ours) if t_ob else "-"
            print("| %s | %d | %d | %d | %d | %.0f | %.0f | %.0f | %s | %.2f | %s |" % (
                name, M, N, K, threads, g(t_ours), g(t_ep), g(t_np), ob_col, t_np / t_ours, ob_ratio), flush=True)
    print()
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
