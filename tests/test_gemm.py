"""The CPU float32 GEMM (_C._gemm_nt) against float64 NumPy references.

Every microkernel this CPU has (scalar always; avx2, avx512 where present) runs with 1 and 2
threads over awkward sizes (1, primes, sizes that are not multiples of any register tile,
K = 0, strided rows) and every epilogue combination.
"""
import math
import subprocess
import threading

import numpy as np
import pytest
from procutil import run_python

from stable_cascade_c import _C

EPS32 = float(np.finfo(np.float32).eps)


def _kernel_available(name: str) -> bool:
    previous = _C._gemm_kernel()
    try:
        _C._gemm_kernel(name)
        return True
    except ValueError:
        return False
    finally:
        _C._gemm_kernel(previous)


KERNELS = [k for k in ("scalar", "avx2", "avx512") if _kernel_available(k)]
THREADS = [1, 2]

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _act64(v: np.ndarray, act: str) -> np.ndarray:
    if act == "gelu":  # 0.5 v (1 + erf(v / sqrt2)) in the erfc form, exact in the negative tail too
        return 0.5 * v * _erfc(-v / math.sqrt(2.0)).astype(np.float64)
    if act == "silu":
        return v / (1.0 + np.exp(-v))
    if act == "quick_gelu":  # 1.702 v rounded to float32 as torch computes it (exp amplifies it in the tail)
        return v / (1.0 + np.exp(-(np.float32(1.702) * v.astype(np.float32)).astype(np.float64)))
    return v


def _reference(A, B, bias, act, alpha, c_old):
    """float64 result and a per-element error bound for float32 accumulation."""
    a, b = A.astype(np.float64), B.astype(np.float64)
    pre = a @ b.T
    mag = np.abs(a) @ np.abs(b).T
    if bias is not None:
        pre = pre + bias
        mag = mag + np.abs(bias)
    y = alpha * _act64(pre, act)
    # Rounding of the K-term float32 sum: about EPS32 * sum|a||b| for random data (the worst case
    # grows with K, random signs cancel); margin 8. Carried through act (|act'| < 1.2), plus a few
    # ulps for act itself, alpha and the accumulation.
    tol = 1.2 * abs(alpha) * 8 * EPS32 * mag + 4 * EPS32 * np.abs(y) + 1e-30
    if c_old is not None:
        y = y + c_old
        tol = tol + 4 * EPS32 * np.abs(c_old)
    return y, tol


def _check(M, N, K, *, bias=True, act="none", alpha=1.0, accumulate=False, rng=None, strided=False):
    rng = rng or np.random.default_rng(M * 1000003 + N * 1009 + K)
    if strided:  # rows of A, B and C inside wider arrays: lda > K, ldb > K, ldc > N
        A = rng.standard_normal((M, K + 5), dtype=np.float32)[:, 2 : 2 + K]
        B = rng.standard_normal((N, K + 3), dtype=np.float32)[:, :K]
        out_full = rng.standard_normal((M, N + 7), dtype=np.float32)
        out = out_full[:, 4 : 4 + N]
    else:
        A = rng.standard_normal((M, K), dtype=np.float32)
        B = rng.standard_normal((N, K), dtype=np.float32)
        out = rng.standard_normal((M, N), dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32) if bias else None
    c_old = out.astype(np.float64) if accumulate else None
    ref, tol = _reference(A, B, b, act, alpha, c_old)
    if accumulate:
        got = _C._gemm_nt(A, B, b, act=act, alpha=alpha, out=out)
        assert got is out
    else:
        got = _C._gemm_nt(A, B, b, act=act, alpha=alpha)
    assert got.shape == (M, N) and got.dtype == np.float32
    err = np.abs(got.astype(np.float64) - ref)
    bad = err > tol
    assert not bad.any(), (
        f"M={M} N={N} K={K} act={act} alpha={alpha} acc={accumulate}: {bad.sum()} elements off, "
        f"worst err {err.max():.3g} (tol there {tol.flat[np.argmax(err - tol)]:.3g})"
    )


@pytest.fixture(params=[(k, t) for k in KERNELS for t in THREADS], ids=lambda p: f"{p[0]}-t{p[1]}")
def kernel_threads(request):
    kernel, threads = request.param
    prev_kernel, prev_threads = _C._gemm_kernel(), _C.get_num_threads()
    _C._gemm_kernel(kernel)
    _C.set_num_threads(threads)
    yield kernel, threads
    _C._gemm_kernel(prev_kernel)
    _C.set_num_threads(prev_threads)


SIZES = [
    (1, 1, 1), (1, 1, 0), (3, 4, 0), (0, 5, 3), (5, 0, 3), (0, 0, 0), (2, 3, 1),
    (7, 13, 17), (13, 31, 29), (14, 32, 64), (15, 33, 65), (6, 16, 8), (4, 8, 3),
    (29, 97, 383), (31, 65, 385), (77, 130, 127), (1, 300, 257), (300, 1, 257),
    (517, 100, 64), (300, 517, 1031),
]


@pytest.mark.parametrize("M,N,K", SIZES, ids=lambda v: str(v))
def test_sizes(kernel_threads, M, N, K):
    _check(M, N, K)


@pytest.mark.parametrize("act", ["none", "gelu", "silu", "quick_gelu"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("alpha", [1.0, -0.75])
@pytest.mark.parametrize("accumulate", [False, True])
def test_epilogues(kernel_threads, act, bias, alpha, accumulate):
    # K = 2100 spans several K blocks of every kernel (the longest block is 2048); M*N*K is
    # large enough for 2 threads.
    _check(30, 41, 2100, bias=bias, act=act, alpha=alpha, accumulate=accumulate)
    _check(9, 35, 0, bias=bias, act=act, alpha=alpha, accumulate=accumulate)


@pytest.mark.parametrize("act", ["none", "gelu"])
def test_strided_rows(kernel_threads, act):
    _check(45, 67, 391, act=act, accumulate=True, strided=True)
    _check(45, 67, 391, act=act, accumulate=False, strided=True)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("act", ["gelu", "silu", "quick_gelu"])
def test_vector_activations(kernel, act):
    """The fused GELU/SiLU/quick GELU of every kernel's store (the ops' own activation code,
    cpu_vmath.h) over [-13, 13] and special values, as C[0, j] = act(1 * x_j): within 1e-6 of
    float64 relatively, the negative tails included (GELU is erfc-based: nothing cancels)."""
    x = np.concatenate([
        np.linspace(-13, 13, 52001),
        [0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 2.1213, -2.1213, 5.6568, -5.6568, 30, -30, 87, -87, 88.5, 100],
    ]).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = _act64(x64, act)
    prev = _C._gemm_kernel()
    try:
        _C._gemm_kernel(kernel)
        got = _C._gemm_nt(np.ones((1, 1), np.float32), x[:, None], act=act)[0].astype(np.float64)
    finally:
        _C._gemm_kernel(prev)
    err = np.abs(got - ref)
    big = np.abs(ref) > 1e-30
    assert (err[big] <= 1e-6 * np.abs(ref[big])).all(), x[big][np.argmax(err[big] / np.abs(ref[big]))]
    assert (err[~big] <= 1e-30).all()
    assert np.isnan(_C._gemm_nt(np.ones((1, 1), np.float32), np.full((20, 1), np.nan, np.float32), act=act)).all()


def test_strided_output_leaves_neighbours_alone():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((20, 30), dtype=np.float32)
    B = rng.standard_normal((40, 30), dtype=np.float32)
    big = rng.standard_normal((20, 50), dtype=np.float32)
    before = big.copy()
    _C._gemm_nt(A, B, out=big[:, 5:45])
    np.testing.assert_array_equal(big[:, :5], before[:, :5])
    np.testing.assert_array_equal(big[:, 45:], before[:, 45:])
    ref = before[:, 5:45].astype(np.float64) + A.astype(np.float64) @ B.T.astype(np.float64)
    np.testing.assert_allclose(big[:, 5:45], ref, rtol=1e-5, atol=1e-4)
    # accumulate=False writes over the window instead
    _C._gemm_nt(A, B, out=big[:, 5:45], accumulate=False)
    np.testing.assert_allclose(big[:, 5:45], A.astype(np.float64) @ B.T.astype(np.float64), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(big[:, 45:], before[:, 45:])


def test_non_contiguous_inputs_are_copied():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((30, 20), dtype=np.float32).T  # column-major view
    B = rng.standard_normal((40, 70), dtype=np.float32)[::2, ::-2][:, :30]
    ref = A.astype(np.float64) @ B.T.astype(np.float64)
    np.testing.assert_allclose(_C._gemm_nt(A, B), ref, rtol=1e-5, atol=1e-4)


def test_concurrent_calls_from_python_threads():
    """The GIL is released and each thread has its own packing buffers."""
    rng = np.random.default_rng(7)
    problems = [(rng.standard_normal((150 + 7 * i, 203), dtype=np.float32),
                 rng.standard_normal((131 + 3 * i, 203), dtype=np.float32)) for i in range(4)]
    results = [None] * len(problems)

    def work(i):
        for _ in range(3):
            results[i] = _C._gemm_nt(*problems[i], act="silu")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (A, B), got in zip(problems, results):
        ref, tol = _reference(A, B, None, "silu", 1.0, None)
        assert (np.abs(got - ref) <= tol).all()


def test_errors():
    A = np.zeros((3, 4), np.float32)
    B = np.zeros((5, 4), np.float32)
    with pytest.raises(ValueError, match="K columns"):
        _C._gemm_nt(A, np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="bias has 4 entries"):
        _C._gemm_nt(A, B, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="act must be"):
        _C._gemm_nt(A, B, act="relu")
    with pytest.raises(TypeError, match="A must be a 2-D float32 array"):
        _C._gemm_nt(A.astype(np.float64), B)
    with pytest.raises(TypeError, match="B must be a 2-D float32 array"):
        _C._gemm_nt(A, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="out has shape"):
        _C._gemm_nt(A, B, out=np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match="out must be a 2-D float32"):
        _C._gemm_nt(A, B, out=np.zeros((3, 5), np.float64))
    with pytest.raises(ValueError, match="out must be writeable"):
        _C._gemm_nt(A, B, out=np.zeros((5, 3), np.float32).T)
    shared = np.zeros((3, 5), np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _C._gemm_nt(shared[:, :4], B, out=shared)
    with pytest.raises(ValueError, match="accumulate=True needs out"):
        _C._gemm_nt(A, B, accumulate=True)
    with pytest.raises(ValueError, match="unknown or not supported"):
        _C._gemm_kernel("sse9")


def test_first_call_of_a_process_with_k0():
    """K == 0 packs nothing: the very first GEMM of a process must not mistake that for OOM."""
    code = (
        "import numpy as np; from stable_cascade_c import _C; "
        "c = _C._gemm_nt(np.zeros((300, 0), np.float32), np.zeros((200, 0), np.float32), "
        "np.arange(200, dtype=np.float32), act='silu'); "
        "ref = np.arange(200) / (1 + np.exp(-np.arange(200.0))); "
        "assert np.allclose(c, ref[None, :], rtol=1e-6), c"
    )
    for kernel in KERNELS:
        done = _run_fresh(code, {"SC_GEMM_KERNEL": kernel})
        assert done.returncode == 0, done.stderr


def _run_fresh(code: str, env_extra: dict) -> subprocess.CompletedProcess:
    return run_python(code, env_extra)


def test_env_var_selects_kernel_at_first_use():
    code = "from stable_cascade_c import _C; print(_C._gemm_kernel())"
    done = _run_fresh(code, {"SC_GEMM_KERNEL": "scalar"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "scalar"
    done = _run_fresh(code, {"SC_GEMM_KERNEL": "nonsense"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == KERNELS[-1]
    assert "SC_GEMM_KERNEL=nonsense" in done.stderr
