"""The CUDA op table against the CPU backend, and device memory round trips (GPU only).

Inputs are rounded to bfloat16 first, so both backends see the same values and the comparison
measures the CUDA arithmetic (fp32 accumulation, bf16 output rounding): max |cuda - cpu| must be
within 1e-2 of the CPU result's largest magnitude. Pure data movement must match exactly.
"""
import functools
import types

import numpy as np
import pytest

import test_ops
from stable_cascade_c import _C

pytestmark = pytest.mark.cuda

TOL = 1e-2


@pytest.fixture
def rng():
    return np.random.default_rng(4321)


def bf16(a):
    """float32 values rounded to the nearest bfloat16."""
    return _C.bf16_bits_to_f32(_C.f32_to_bf16_bits(np.ascontiguousarray(a, dtype=np.float32)))


def rand(rng, *shape, scale=1.0):
    return bf16(rng.standard_normal(shape) * scale)


def assert_close(got, want, tol=TOL):
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.isfinite(got).all()
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-6)
    err = float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale
    assert err <= tol, f"max error {err:.3g} of the reference's scale"


def both(op, *args, out=None, **kwargs):
    """(cpu, cuda) results of _C.<op>; out= arrays are copied so each backend gets its own."""
    fn = getattr(_C, op)
    if out is None:
        return fn(*args, device="cpu", **kwargs), fn(*args, device="cuda", **kwargs)
    return fn(*args, out=out.copy(), device="cpu", **kwargs), fn(*args, out=out.copy(), device="cuda", **kwargs)


def check(op, *args, tol=TOL, **kwargs):
    cpu, gpu = both(op, *args, **kwargs)
    assert_close(gpu, cpu, tol)


# ---- dense ops ----


@pytest.mark.parametrize("shape,n", [((1, 1), 1), ((7, 13), 5), ((2, 3, 64), 96), ((300, 256), 320)])
@pytest.mark.parametrize("act", ["none", "gelu", "silu", "quick_gelu"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear(rng, shape, n, act, with_bias):
    x, w = rand(rng, *shape), rand(rng, n, shape[-1])
    check("op_linear", x, w, rand(rng, n) if with_bias else None, act=act)


@pytest.mark.parametrize("act", ["none", "gelu"])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_alpha_accumulate(rng, act, alpha, with_bias):
    """Every branch of the epilogue: fused in cuBLASLt (beta = 1, bias) or through f32 scratch."""
    x, w, out = rand(rng, 37, 24), rand(rng, 19, 24), rand(rng, 37, 19)
    bias = rand(rng, 19) if with_bias else None
    for accumulate in (False, True):
        cpu, gpu = both("op_linear", x, w, bias, act=act, alpha=alpha, accumulate=accumulate, out=out)
        assert_close(gpu, cpu)


def test_linear_banded_epilogue(rng):
    """An unfused epilogue over more rows than one scratch band holds (64 MiB of float32)."""
    x, w, b = rand(rng, 270000, 16), rand(rng, 64, 16), rand(rng, 64)
    check("op_linear", x, w, b, act="gelu")


@pytest.mark.parametrize(
    "B,H,W,Ci,Co,k,stride,pad",
    [(2, 9, 7, 5, 6, 3, 1, 1), (1, 8, 8, 4, 8, 3, 2, 1), (1, 5, 6, 3, 4, 1, 1, 0), (2, 10, 10, 3, 5, 4, 2, 1),
     (1, 6, 6, 8, 3, 1, 2, 0), (1, 4, 4, 64, 32, 2, 2, 0)],
)
def test_conv2d(rng, B, H, W, Ci, Co, k, stride, pad):
    x, w, b = rand(rng, B, H, W, Ci), rand(rng, Co, k, k, Ci), rand(rng, Co)
    check("op_conv2d", x, w, b, stride, pad)


def test_conv2d_epilogue_and_bands(rng):
    """Residual + GELU epilogue over patches that take two scratch bands (64 MiB of bf16)."""
    x, w, b = rand(rng, 1, 256, 256, 64), rand(rng, 16, 3, 3, 64, scale=0.1), rand(rng, 16)
    out = rand(rng, 1, 256, 256, 16)
    cpu, gpu = both("op_conv2d", x, w, b, 1, 1, act="gelu", alpha=0.5, accumulate=True, out=out)
    assert_close(gpu, cpu)


@pytest.mark.parametrize(
    "B,H,W,Ci,Co,k,stride,pad",
    [(1, 5, 4, 6, 3, 4, 2, 1), (2, 3, 3, 2, 5, 2, 2, 0), (1, 4, 5, 3, 3, 3, 1, 1), (1, 3, 3, 4, 2, 3, 3, 0),
     (1, 2, 3, 3, 4, 5, 2, 2)],
)
def test_conv_transpose2d(rng, B, H, W, Ci, Co, k, stride, pad):
    x, w, b = rand(rng, B, H, W, Ci), rand(rng, k, k, Co, Ci), rand(rng, Co)
    check("op_conv_transpose2d", x, w, b, stride, pad)


def test_conv_transpose2d_epilogue_and_bands(rng):
    """Stage A's upsampler shape (k 4, stride 2, pad 1) on an image whose columns take three bands."""
    x, w, b = rand(rng, 2, 32, 512, 8), rand(rng, 4, 4, 128, 8), rand(rng, 128)
    out = rand(rng, 2, 64, 1024, 128)
    cpu, gpu = both("op_conv_transpose2d", x, w, b, 2, 1, act="silu", accumulate=True, out=out)
    assert_close(gpu, cpu)


@pytest.mark.parametrize("mode", ["zeros", "replicate"])
@pytest.mark.parametrize("B,H,W,C", [(2, 5, 7, 3), (1, 1, 1, 4), (1, 2, 1, 300), (2, 16, 16, 320)])
def test_depthwise(rng, mode, B, H, W, C):
    x, w, b = rand(rng, B, H, W, C), rand(rng, 3, 3, C), rand(rng, C)
    check("op_depthwise3x3", x, w, b, mode)


def test_depthwise_epilogue(rng):
    x, w, out = rand(rng, 2, 6, 5, 7), rand(rng, 3, 3, 7), rand(rng, 2, 6, 5, 7)
    cpu, gpu = both("op_depthwise3x3", x, w, None, "replicate", act="gelu", alpha=2.0, accumulate=True, out=out)
    assert_close(gpu, cpu)


# ---- attention ----


@pytest.mark.parametrize(
    "B,Tq,Tk,heads,d",
    [(2, 77, 77, 4, 64), (1, 100, 130, 2, 64), (2, 5, 9, 3, 8), (1, 33, 40, 1, 48), (1, 17, 20, 2, 128),
     (1, 9, 12, 1, 256), (1, 50, 50, 5, 20), (1, 1, 1, 1, 1)],
)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_attention(rng, B, Tq, Tk, heads, d, causal, masked):
    q, k, v = rand(rng, B, Tq, heads * d), rand(rng, B, Tk, heads * d), rand(rng, B, Tk, heads * d)
    mask = None
    if masked:
        mask = (rng.random((B, Tk)) > 0.3).astype(np.int64)
        mask[:, 0] = 1
    check("op_attention", q, k, v, heads, d**-0.5, causal=causal, key_mask=mask)


def test_attention_fully_masked_rows_are_zero(rng):
    q, k, v = rand(rng, 2, 6, 16), rand(rng, 2, 5, 16), rand(rng, 2, 5, 16)
    mask = np.ones((2, 5), np.int64)
    mask[1] = 0
    cpu, gpu = both("op_attention", q, k, v, 2, 0.25, key_mask=mask)
    assert (gpu[1] == 0).all()
    assert_close(gpu, cpu)


def test_attention_large_scores_stay_finite(rng):
    q, k, v = rand(rng, 1, 40, 64, scale=30.0), rand(rng, 1, 70, 64, scale=30.0), rand(rng, 1, 70, 64)
    check("op_attention", q, k, v, 1, 1.0)


def test_attention_stage_c_size(rng):
    """Stage C's self-attention with text tokens appended to the keys: 24x24 queries, 64-wide heads."""
    q = rand(rng, 2, 576, 2048, scale=0.5)
    kv = rand(rng, 2, 653, 2048, scale=0.5)
    check("op_attention", q, kv, kv, 32, 0.125)


def test_attention_head_size_limit(rng):
    x = rand(rng, 1, 2, 300)
    with pytest.raises(ValueError, match="head size"):
        _C.op_attention(x, x, x, 1, 1.0, device="cuda")


# ---- normalizations and elementwise ----


@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 1), (4, 2048), (2, 3, 1), (1000, 320)])
@pytest.mark.parametrize("affine", ["none", "gamma", "beta", "both"])
def test_layernorm(rng, shape, affine):
    x = rand(rng, *shape) + 3.0
    c = shape[-1]
    gamma = rand(rng, c) if affine in ("gamma", "both") else None
    beta = rand(rng, c) if affine in ("beta", "both") else None
    check("op_layernorm", x, gamma, beta, 1e-6)


def test_layernorm_in_place_and_scalar_affine(rng):
    x = rand(rng, 4, 9, 33)
    cpu = _C.op_layernorm_scalar_affine(x, 0.3, -0.2, 1e-6)
    y = x.copy()
    assert _C.op_layernorm_scalar_affine(y, 0.3, -0.2, 1e-6, out=y, device="cuda") is y
    assert_close(y, cpu)
    y = x.copy()
    _C.op_layernorm(y, None, None, 1e-5, out=y, device="cuda")
    assert_close(y, _C.op_layernorm(x, None, None, 1e-5))


@pytest.mark.parametrize("shape", [(2, 5, 7, 6), (1, 1, 1, 3), (1, 9, 11, 1), (2, 64, 64, 320)])
def test_grn(rng, shape):
    x, g, b = rand(rng, *shape), rand(rng, shape[-1]), rand(rng, shape[-1])
    check("op_grn", x, g, b, 1e-6)
    y = x.copy()
    _C.op_grn(y, g, b, 1e-6, out=y, device="cuda")
    assert_close(y, _C.op_grn(x, g, b, 1e-6))


@pytest.mark.parametrize("act", ["none", "gelu", "silu", "quick_gelu"])
def test_activation(rng, act):
    x = rand(rng, 3, 1000, scale=4.0)
    x[0, :8] = [-30.0, -12.0, -5.0, 0.0, 5.0, 12.0, 30.0, -0.0]
    check("op_activation", x, act)
    y = x.copy()
    _C.op_activation(y, act, out=y, device="cuda")
    assert_close(y, _C.op_activation(x, act))


def test_add_mul_lerp(rng):
    a, b = rand(rng, 5, 6, 7), rand(rng, 5, 6, 7)
    check("op_add", a, b)
    check("op_mul", a, b)
    for w in (0.0, 0.3, 0.7, 1.0, 4.0):
        check("op_lerp", a, b, w)
    y = a.copy()
    _C.op_add(y, b, out=y, device="cuda")
    assert_close(y, a + b)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7, 1), (1, 6)])
def test_scale_shift(rng, shape):
    x, a, b = rand(rng, *shape), rand(rng, shape[0], shape[-1]), rand(rng, shape[0], shape[-1])
    check("op_scale_shift", x, a, b)


def test_add_channel_vector(rng):
    x, v = rand(rng, 3, 4, 5, 6), rand(rng, 6)
    cpu, gpu = x.copy(), x.copy()
    _C.op_add_channel_vector(cpu, v)
    assert _C.op_add_channel_vector(gpu, v, device="cuda") is gpu
    assert_close(gpu, cpu)


# ---- resampling and data movement ----


@pytest.mark.parametrize("src,dst", [((5, 7), (11, 3)), ((4, 4), (8, 8)), ((9, 6), (9, 6)), ((3, 5), (1, 1)),
                                     ((24, 24), (256, 256))])
def test_resize_bilinear(rng, src, dst):
    check("op_resize_bilinear", rand(rng, 2, *src, 3), dst)


@pytest.mark.parametrize("r", [1, 2, 4])
def test_pixel_shuffle_exact(rng, r):
    x = rand(rng, 2, 4 * r, 3 * r, 5)
    cpu, gpu = both("op_pixel_unshuffle", x, r)
    assert np.array_equal(cpu, gpu)
    cpu2, gpu2 = both("op_pixel_shuffle", cpu, r)
    assert np.array_equal(cpu2, gpu2) and np.array_equal(gpu2, x)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -4])
def test_concat_exact(rng, axis):
    a = rand(rng, 2, 3, 4, 5)
    shape = list(a.shape)
    shape[axis] = 2
    cpu, gpu = both("op_concat", a, rand(rng, *shape), axis)
    assert np.array_equal(cpu, gpu)


def test_layout_changes_exact(rng):
    x = rand(rng, 2, 5, 7, 3)
    cpu, gpu = both("op_nchw_to_nhwc", x)
    assert np.array_equal(cpu, gpu)
    cpu, gpu = both("op_nhwc_to_nchw", x)
    assert np.array_equal(cpu, gpu)


def test_embedding_exact(rng):
    table = rand(rng, 11, 9)
    ids = rng.integers(0, 11, size=(3, 7)).astype(np.int64)
    cpu, gpu = both("op_embedding", table, ids)
    assert np.array_equal(cpu, gpu)


# ---- errors: the CPU suite's bad calls, on the GPU ----


def _on_cuda():
    """A stand-in for the _C module whose op_* functions run on the CUDA backend."""
    names = {n: functools.partial(getattr(_C, n), device="cuda") for n in dir(_C) if n.startswith("op_")}
    return types.SimpleNamespace(**names)


@pytest.mark.parametrize("name", sorted(test_ops.BAD_CALLS))
def test_bad_arguments_raise_value_error(monkeypatch, name):
    monkeypatch.setattr(test_ops, "_C", _on_cuda())
    with pytest.raises(ValueError):
        test_ops.BAD_CALLS[name]()


def test_embedding_error_leaves_out_untouched(monkeypatch):
    monkeypatch.setattr(test_ops, "_C", _on_cuda())
    test_ops.test_embedding_error_leaves_out_untouched()


def test_errors_leave_the_backend_usable(rng):
    x = rand(rng, 4, 8)
    with pytest.raises(ValueError):
        _C.op_embedding(x, np.array([[99]], np.int64), device="cuda")
    check("op_linear", x, rand(rng, 3, 8))


# ---- device memory ----


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "int64", "int32", "uint8"])
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 1000, 7)])
def test_device_round_trip(rng, dtype, shape):
    if dtype in ("int64", "int32", "uint8"):
        x = rng.integers(0, 200, size=shape).astype(dtype)
        assert np.array_equal(_C._cuda_roundtrip(x, dtype), x)
        return
    x = rng.standard_normal(shape).astype(np.float32)
    want = {"float32": x, "bfloat16": bf16(x), "float16": x.astype(np.float16).astype(np.float32)}[dtype]
    assert np.array_equal(_C._cuda_roundtrip(x, dtype), want)


def test_device_allocation_errors():
    _C._cuda_alloc(0)
    _C._cuda_alloc(1 << 20)
    with pytest.raises(MemoryError):
        _C._cuda_alloc(1 << 50)  # a petabyte
    _C._cuda_alloc(1 << 20)  # still usable afterwards


def test_backend_info():
    info = _C._cuda_backend_info()
    assert info["name"] == "cuda" and info["dtype"] == "bfloat16"
    assert 0 < info["free_bytes"] <= info["total_bytes"]
    _C._cuda_alloc(16)
    assert _C._cuda_backend_info()["allocations"] == info["allocations"] + 1


def test_scratch_steady_state(rng):
    """A second identical pass over the ops that use backend scratch grows nothing."""
    ops = test_ops._all_ops(rng)
    names = ["linear", "conv2d", "conv_t", "grn"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(test_ops, "_C", _on_cuda())
        for name in names:
            ops[name]()
        before = _C._cuda_backend_info()["scratch_bytes"]
        for name in names:
            ops[name]()
    assert before > 0
    assert _C._cuda_backend_info()["scratch_bytes"] == before
