"""The CPU's "bfloat16" math (stable_cascade_c.set_cpu_math): every GEMM (linear layers and
convolutions) rounds both operands to bfloat16 and sums the products in float32 on AMX tiles.

The reference is exact arithmetic on the rounded operands (float64), so the only error left is
float32 accumulation: 1e-6 relative. Skipped, with the reason, on CPUs or kernels without
AMX-BF16 (the float32 math needs nothing)."""
import math
import os

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c import _C

DATA = os.path.join(os.path.dirname(__file__), "data", "pipeline")


def _amx_usable():
    try:
        _C.set_cpu_math("bfloat16")
    except ValueError as exc:
        return str(exc)
    _C.set_cpu_math("float32")
    return None


AMX_MISSING = _amx_usable()
needs_amx = pytest.mark.skipif(AMX_MISSING is not None, reason=f"no AMX-BF16 here: {AMX_MISSING}")


@pytest.fixture
def bf16_math():
    sc.set_cpu_math("bfloat16")
    yield
    sc.set_cpu_math("float32")


def rounded(x):
    return _C.bf16_bits_to_f32(_C.f32_to_bf16_bits(np.ascontiguousarray(x, np.float32))).astype(np.float64)


def rel_err(got, ref):
    return np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30)


def test_the_math_setting():
    assert sc.get_cpu_math() == "float32"
    with pytest.raises(ValueError, match="'float32' or 'bfloat16'"):
        sc.set_cpu_math("float16")
    with pytest.raises(TypeError):
        sc.set_cpu_math(16)
    assert sc.get_cpu_math() == "float32"


@needs_amx
@pytest.mark.parametrize("M,N,K", [(1, 1, 32), (5, 37, 33), (33, 70, 130), (43, 69, 2100), (31, 33, 4100)])
def test_gemm_is_exact_on_the_rounded_operands(bf16_math, M, N, K):
    rng = np.random.default_rng(M * N + K)
    A = rng.standard_normal((M, K), dtype=np.float32)
    B = rng.standard_normal((N, K), dtype=np.float32)
    bias = rng.standard_normal(N, dtype=np.float32)
    exact = rounded(A) @ rounded(B).T + bias
    got = _C._gemm_nt(A, B, bias)
    assert rel_err(got, exact) < 1e-6
    assert rel_err(got, A.astype(np.float64) @ B.astype(np.float64).T + bias) > 1e-4  # the rounding is real
    assert np.array_equal(_C._gemm_nt(A, _C.f32_to_bf16_bits(B), bias), got)  # compact weights: same bits
    base = rng.standard_normal((M, N), dtype=np.float32)  # the fused epilogue, into a residual
    out = base.copy()
    _C._gemm_nt(A, B, act="gelu", alpha=0.5, out=out)
    pre = exact - bias
    gelu = 0.5 * pre * (1.0 + np.vectorize(math.erf)(pre / math.sqrt(2.0)))
    assert rel_err(out, base + 0.5 * gelu) < 1e-5


@needs_amx
def test_gemm_threads_and_narrow_k(bf16_math):
    rng = np.random.default_rng(5)
    A = rng.standard_normal((300, 640), dtype=np.float32)
    B = rng.standard_normal((200, 640), dtype=np.float32)
    before = sc.get_num_threads()
    try:
        sc.set_num_threads(1)
        one = _C._gemm_nt(A, B)
        sc.set_num_threads(2)
        assert np.array_equal(_C._gemm_nt(A, B), one)  # the same sums whatever the thread grid
    finally:
        sc.set_num_threads(before)
    # K < 32 runs the float32 kernel: the stems' narrow inputs stay exact
    a, b = A[:, :16].copy(), B[:, :16].copy()
    got = _C._gemm_nt(a, b)
    sc.set_cpu_math("float32")
    assert np.array_equal(got, _C._gemm_nt(a, b))


@needs_amx
def test_convolutions_use_it(bf16_math):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 9, 8, 40), dtype=np.float32)
    w = rng.standard_normal((24, 3, 3, 40), dtype=np.float32) * 0.1
    got = _C.op_conv2d(x, w, pad=1)
    sc.set_cpu_math("float32")
    exact = _C.op_conv2d(x, w, pad=1)
    assert 1e-5 < rel_err(got, exact) < 2e-2


@needs_amx
def test_pipeline_image_close_to_float32(pipe):
    params = dict(prompt="a red cube", negative_prompt="blurry", prior_num_inference_steps=3,
                  prior_guidance_scale=4.0, num_inference_steps=3, guidance_scale=1.0, seed=11, width=256,
                  height=256)
    exact = pipe(params, progress=False)[0].astype(np.int16)
    sc.set_cpu_math("bfloat16")
    try:
        fast = pipe(params, progress=False)[0].astype(np.int16)
    finally:
        sc.set_cpu_math("float32")
    diff = np.abs(fast - exact)
    assert diff.max() > 0 and diff.mean() < 2.0, (diff.max(), diff.mean())


@needs_amx
@pytest.mark.parametrize("B,Tq,Tk,heads,d,causal,masked", [
    (2, 70, 90, 4, 64, False, False),  # block tails in queries and keys
    (2, 77, 77, 2, 64, True, True),    # CLIP: causal and padding mask
    (2, 5, 130, 3, 32, False, True),
    (1, 64, 64, 1, 128, False, False),
])
def test_attention_runs_on_amx(bf16_math, B, Tq, Tk, heads, d, causal, masked):
    """Scores and P V on AMX tiles (bfloat16 operands, float32 sums), softmax in float32: within
    bf16 rounding of the float32 op; a query whose keys are all masked still gets zeros."""
    rng = np.random.default_rng(Tq * Tk + d)
    C = heads * d
    q, k, v = (rng.standard_normal((B, T, C), dtype=np.float32) for T in (Tq, Tk, Tk))
    mask = None
    if masked:
        mask = np.ones((B, Tk), np.int64)
        mask[:, Tk // 2:] = 0
        mask[0, :] = 0  # batch 0: every key masked
    got = _C.op_attention(q, k, v, heads, 1.0 / math.sqrt(d), causal=causal, key_mask=mask)
    sc.set_cpu_math("float32")
    exact = _C.op_attention(q, k, v, heads, 1.0 / math.sqrt(d), causal=causal, key_mask=mask)
    assert 1e-5 < rel_err(got, exact) < 2e-2
    if masked:
        assert not got[0].any()


@needs_amx
def test_attention_head_size_not_a_multiple_of_32_stays_float32(bf16_math):
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal((1, 20, 80), dtype=np.float32) for _ in range(3))
    got = _C.op_attention(q, k, v, 2, 0.15)
    sc.set_cpu_math("float32")
    assert np.array_equal(got, _C.op_attention(q, k, v, 2, 0.15))


@needs_amx
def test_threads_and_forked_children_use_it(bf16_math):
    """The tile configuration is per thread and loaded by every kernel call; the permission to
    use AMX is inherited by a forked child (multiprocessing's default start method)."""
    import threading

    rng = np.random.default_rng(12)
    A = rng.standard_normal((40, 96), dtype=np.float32)
    B = rng.standard_normal((50, 96), dtype=np.float32)
    want = _C._gemm_nt(A, B)
    got = []
    threads = [threading.Thread(target=lambda: got.append(_C._gemm_nt(A, B))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(np.array_equal(g, want) for g in got)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports whether its product matched, and exits at once
        os.close(read)
        os.write(write, b"1" if np.array_equal(_C._gemm_nt(A, B), want) else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert status == 0 and answer == b"1"
