"""The CPU op table (csrc/sc_ops.h) against NumPy references written from the torch semantics.

References run in float64 on torch-layout weights ([Co, Ci, kh, kw] conv, [Ci, Co, kh, kw]
transposed conv, [C, 1, 3, 3] depthwise, NCHW pixel shuffle) and are compared with the float32
ops, which take the permuted channels-last layouts documented in sc_ops.h.
"""
import math

import numpy as np
import pytest

from stable_cascade_c import _C

RTOL = 1e-5


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def restore_threads():
    n = _C.get_num_threads()
    yield
    _C.set_num_threads(n)


def _supported_isas():
    isas = []
    for name in ("baseline", "avx2", "avx512"):
        try:
            _C._ops_isa(name)
            isas.append(name)
        except ValueError:
            pass
    _C._ops_isa("auto")
    return isas


@pytest.fixture(params=_supported_isas())
def isa(request):
    """Runs a test once per kernel variant (baseline / AVX2 / AVX-512) this CPU supports."""
    _C._ops_isa(request.param)
    yield request.param
    _C._ops_isa("auto")


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def assert_close(got, ref, rtol=RTOL):
    """Max error within rtol of the reference's scale (elementwise rtol alone is ill-posed
    where sums cancel)."""
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert got.dtype == np.float32
    scale = max(np.abs(ref).max(initial=0.0), 1e-30)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale)


# ---- references ----

_erfc = np.vectorize(math.erfc)


def gelu(x):
    """0.5 x (1 + erf(x/sqrt2)), written with erfc so the negative tail keeps its digits."""
    return 0.5 * x * _erfc(-x / math.sqrt(2.0))


def silu(x):
    return x / (1.0 + np.exp(-x))


def quick_gelu(x):
    """x sigmoid(1.702 x) with the product 1.702 x rounded to float32, as torch computes it: in the
    negative tail exp amplifies that rounding beyond 1e-6 relative, for torch and us alike."""
    z = (np.float32(1.702) * np.asarray(x, np.float32)).astype(np.float64)
    return x / (1.0 + np.exp(-z))


ACTS = {"none": lambda x: x, "gelu": gelu, "silu": silu, "quick_gelu": quick_gelu}


def epilogue(y, act="none", alpha=1.0, acc=None):
    y = alpha * ACTS[act](y)
    return y if acc is None else acc + y


def conv2d_ref(x, w_t, b, stride, pad):
    """torch Conv2d: x [B,H,W,Ci] (channels-last view), w_t [Co,Ci,kh,kw]."""
    x, w_t = x.astype(np.float64), w_t.astype(np.float64)
    B, H, W, _ = x.shape
    Co, _, kh, kw = w_t.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    out = np.zeros((B, Ho, Wo, Co))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, ky : ky + stride * (Ho - 1) + 1 : stride, kx : kx + stride * (Wo - 1) + 1 : stride]
            out += patch @ w_t[:, :, ky, kx].T
    return out + (0 if b is None else b)


def conv_transpose2d_ref(x, w_t, b, stride, pad):
    """torch ConvTranspose2d (scatter form): x [B,H,W,Ci], w_t [Ci,Co,kh,kw]."""
    x, w_t = x.astype(np.float64), w_t.astype(np.float64)
    B, H, W, _ = x.shape
    _, Co, kh, kw = w_t.shape
    full = np.zeros((B, (H - 1) * stride + kh, (W - 1) * stride + kw, Co))
    for ky in range(kh):
        for kx in range(kw):
            full[:, ky : ky + stride * (H - 1) + 1 : stride, kx : kx + stride * (W - 1) + 1 : stride] += (
                x @ w_t[:, :, ky, kx]
            )
    Ho, Wo = (H - 1) * stride - 2 * pad + kh, (W - 1) * stride - 2 * pad + kw
    return full[:, pad : pad + Ho, pad : pad + Wo] + (0 if b is None else b)


def depthwise_ref(x, w_t, b, mode):
    """Conv2d(C, C, 3, padding=1, groups=C) with zero or replicate padding; w_t [C,1,3,3]."""
    x = x.astype(np.float64)
    _, H, W, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="constant" if mode == "zeros" else "edge")
    out = np.zeros_like(x)
    for ky in range(3):
        for kx in range(3):
            out += xp[:, ky : ky + H, kx : kx + W] * w_t[:, 0, ky, kx]
    return out + (0 if b is None else b)


def layernorm_ref(x, eps, gamma=None, beta=None):
    x = x.astype(np.float64)
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def grn_ref(x, gamma, beta, eps):
    x = x.astype(np.float64)
    g = np.sqrt((x * x).sum(axis=(1, 2), keepdims=True))
    n = g / (g.mean(axis=-1, keepdims=True) + eps)
    return gamma * (x * n) + beta + x


def attention_ref(q, k, v, heads, scale, causal=False, key_mask=None):
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    B, Tq, C = q.shape
    Tk, d = k.shape[1], C // heads
    out = np.zeros((B, Tq, C))
    allowed = np.ones((B, Tq, Tk), dtype=bool)
    if causal:
        allowed &= np.tril(np.ones((Tq, Tk), dtype=bool))
    if key_mask is not None:
        allowed &= (key_mask != 0)[:, None, :]
    for b in range(B):
        for h in range(heads):
            sl = slice(h * d, (h + 1) * d)
            s = q[b, :, sl] @ k[b, :, sl].T * scale
            s = np.where(allowed[b], s, -np.inf)
            m = s.max(-1, keepdims=True)
            p = np.where(allowed[b], np.exp(s - np.where(np.isfinite(m), m, 0)), 0.0)
            den = p.sum(-1, keepdims=True)
            out[b, :, sl] = np.where(den > 0, (p @ v[b, :, sl]) / np.where(den > 0, den, 1), 0.0)
    return out


def _bilinear_taps(n_out, n_in):
    """torch upsample_bilinear2d(align_corners=True) indices; scale and source in float32."""
    scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0)
    taps = []
    for o in range(n_out):
        src = np.float32(scale * np.float32(o))
        i0 = min(int(np.floor(src)), n_in - 1)
        l1 = min(max(float(src) - i0, 0.0), 1.0)
        taps.append((i0, i0 + (1 if i0 < n_in - 1 else 0), 1.0 - l1, l1))
    return taps


def bilinear_ref(x, size):
    x = x.astype(np.float64)
    B, _, _, C = x.shape
    out = np.zeros((B, size[0], size[1], C))
    for oy, (y0, y1, a0, a1) in enumerate(_bilinear_taps(size[0], x.shape[1])):
        for ox, (x0, x1, b0, b1) in enumerate(_bilinear_taps(size[1], x.shape[2])):
            out[:, oy, ox] = a0 * (b0 * x[:, y0, x0] + b1 * x[:, y0, x1]) + a1 * (b0 * x[:, y1, x0] + b1 * x[:, y1, x1])
    return out


def nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def pixel_unshuffle_ref(x, r):
    """torch PixelUnshuffle on the NCHW view of channels-last x."""
    t = nchw(x)
    B, C, H, W = t.shape
    t = t.reshape(B, C, H // r, r, W // r, r).transpose(0, 1, 3, 5, 2, 4).reshape(B, C * r * r, H // r, W // r)
    return nhwc(t)


def pixel_shuffle_ref(x, r):
    t = nchw(x)
    B, Crr, h, w = t.shape
    C = Crr // (r * r)
    t = t.reshape(B, C, r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(B, C, h * r, w * r)
    return nhwc(t)


# ---- linear ----


@pytest.mark.parametrize("shape,n", [((3, 5, 7), 11), ((1, 1), 1), ((13, 64), 17), ((2, 3, 4, 33), 8)])
@pytest.mark.parametrize("act", ["none", "gelu", "silu", "quick_gelu"])
def test_linear(rng, shape, n, act):
    x = f32(rng.standard_normal(shape))
    w = f32(rng.standard_normal((n, shape[-1])))
    b = f32(rng.standard_normal(n))
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
    assert_close(_C.op_linear(x, w, b, act=act), epilogue(ref, act))
    assert_close(_C.op_linear(x, w), x.astype(np.float64) @ w.T.astype(np.float64))


def test_linear_alpha_accumulate(rng):
    x, w = f32(rng.standard_normal((7, 9))), f32(rng.standard_normal((5, 9)))
    b, acc = f32(rng.standard_normal(5)), f32(rng.standard_normal((7, 5)))
    out = acc.copy()
    got = _C.op_linear(x, w, b, act="gelu", alpha=-0.75, accumulate=True, out=out)
    assert got is out
    assert_close(out, epilogue(x.astype(np.float64) @ w.T + b, "gelu", -0.75, acc))


# ---- conv2d ----


@pytest.mark.parametrize(
    "B,H,W,Ci,Co,k,stride,pad",
    [
        (2, 7, 9, 5, 6, 2, 2, 0),  # down-scaler on odd sizes: floor, last row/col dropped
        (1, 8, 6, 3, 4, 4, 2, 1),  # Stage A encoder k4s2p1
        (2, 5, 3, 7, 3, 1, 1, 0),  # 1x1 (direct GEMM)
        (1, 6, 7, 3, 2, 1, 2, 0),  # 1x1 strided
        (1, 5, 5, 2, 3, 3, 1, 1),
        (1, 1, 1, 1, 1, 1, 1, 0),
        (1, 3, 4, 2, 5, 3, 2, 2),  # padding larger than a stride step
    ],
)
def test_conv2d(rng, B, H, W, Ci, Co, k, stride, pad):
    x = f32(rng.standard_normal((B, H, W, Ci)))
    w_t = f32(rng.standard_normal((Co, Ci, k, k)))
    b = f32(rng.standard_normal(Co))
    w = f32(w_t.transpose(0, 2, 3, 1))
    ref = conv2d_ref(x, w_t, b, stride, pad)
    assert_close(_C.op_conv2d(x, w, b, stride=stride, pad=pad), ref)
    assert_close(_C.op_conv2d(x, w, stride=stride, pad=pad), ref - b)


def test_conv2d_epilogue(rng):
    x = f32(rng.standard_normal((2, 6, 5, 4)))
    w_t = f32(rng.standard_normal((3, 4, 3, 3)))
    b, acc = f32(rng.standard_normal(3)), f32(rng.standard_normal((2, 6, 5, 3)))
    out = acc.copy()
    _C.op_conv2d(x, f32(w_t.transpose(0, 2, 3, 1)), b, 1, 1, act="silu", alpha=0.5, accumulate=True, out=out)
    assert_close(out, epilogue(conv2d_ref(x, w_t, b, 1, 1), "silu", 0.5, acc))


def test_conv2d_large_band(rng):
    """More patch rows than one scratch band holds."""
    x = f32(rng.standard_normal((1, 70, 66, 40)))
    w_t = f32(rng.standard_normal((3, 40, 3, 3)))
    got = _C.op_conv2d(x, f32(w_t.transpose(0, 2, 3, 1)), None, 1, 1)
    assert_close(got, conv2d_ref(x, w_t, None, 1, 1))


# ---- conv_transpose2d ----


@pytest.mark.parametrize(
    "B,H,W,Ci,Co,k,stride,pad",
    [
        (2, 3, 5, 6, 4, 2, 2, 0),  # up-scaler
        (1, 4, 3, 5, 3, 4, 2, 1),  # Stage A k4s2p1
        (1, 1, 1, 2, 3, 4, 2, 1),
        (1, 3, 2, 3, 2, 3, 1, 1),  # stride 1: a single phase with contiguous output
        (1, 3, 4, 2, 3, 1, 2, 0),  # kernel smaller than the stride: bias-only phases
        (2, 2, 3, 3, 2, 5, 3, 2),
        (1, 5, 5, 1, 1, 3, 2, 0),
    ],
)
def test_conv_transpose2d(rng, B, H, W, Ci, Co, k, stride, pad):
    x = f32(rng.standard_normal((B, H, W, Ci)))
    w_t = f32(rng.standard_normal((Ci, Co, k, k)))
    b = f32(rng.standard_normal(Co))
    w = f32(w_t.transpose(2, 3, 1, 0))
    ref = conv_transpose2d_ref(x, w_t, b, stride, pad)
    assert_close(_C.op_conv_transpose2d(x, w, b, stride=stride, pad=pad), ref)
    assert_close(_C.op_conv_transpose2d(x, w, stride=stride, pad=pad), ref - b)


@pytest.mark.parametrize("k,stride,pad", [(2, 2, 0), (4, 2, 1), (3, 1, 1)])
def test_conv_transpose2d_epilogue(rng, k, stride, pad):
    x = f32(rng.standard_normal((1, 3, 4, 5)))
    w_t = f32(rng.standard_normal((5, 2, k, k)))
    b = f32(rng.standard_normal(2))
    ref = conv_transpose2d_ref(x, w_t, b, stride, pad)
    acc = f32(rng.standard_normal(ref.shape))
    out = acc.copy()
    _C.op_conv_transpose2d(x, f32(w_t.transpose(2, 3, 1, 0)), b, stride, pad, act="gelu", alpha=2.0,
                           accumulate=True, out=out)
    assert_close(out, epilogue(ref, "gelu", 2.0, acc))


# ---- depthwise ----


@pytest.mark.parametrize("mode", ["zeros", "replicate"])
@pytest.mark.parametrize("B,H,W,C", [(2, 5, 7, 3), (1, 1, 1, 4), (1, 2, 1, 300), (1, 4, 3, 1)])
def test_depthwise(rng, mode, B, H, W, C, isa):
    x = f32(rng.standard_normal((B, H, W, C)))
    w_t = f32(rng.standard_normal((C, 1, 3, 3)))
    b = f32(rng.standard_normal(C))
    w = f32(w_t[:, 0].transpose(1, 2, 0))
    assert_close(_C.op_depthwise3x3(x, w, b, pad_mode=mode), depthwise_ref(x, w_t, b, mode))
    assert_close(_C.op_depthwise3x3(x, w, None, mode), depthwise_ref(x, w_t, None, mode))


def test_depthwise_zero_and_replicate_differ(rng):
    x = f32(rng.standard_normal((1, 4, 4, 2)) + 3.0)
    w = f32(np.ones((3, 3, 2)))
    z, r = _C.op_depthwise3x3(x, w), _C.op_depthwise3x3(x, w, pad_mode="replicate")
    assert np.array_equal(z[:, 1:3, 1:3], r[:, 1:3, 1:3])
    assert not np.allclose(z[:, 0], r[:, 0])


def test_depthwise_epilogue(rng, isa):
    x = f32(rng.standard_normal((1, 3, 5, 6)))
    w_t = f32(rng.standard_normal((6, 1, 3, 3)))
    acc = f32(rng.standard_normal(x.shape))
    out = acc.copy()
    _C.op_depthwise3x3(x, f32(w_t[:, 0].transpose(1, 2, 0)), None, "replicate", act="gelu", alpha=0.3,
                       accumulate=True, out=out)
    assert_close(out, epilogue(depthwise_ref(x, w_t, None, "replicate"), "gelu", 0.3, acc))


# ---- norms ----


@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 1), (4, 2048), (2, 3, 1)])
@pytest.mark.parametrize("eps", [1e-6, 1e-5, 0.1])
def test_layernorm(rng, shape, eps, isa):
    x = f32(rng.standard_normal(shape) * 3 + 10)  # an offset mean tests the variance's precision
    g, b = f32(rng.standard_normal(shape[-1])), f32(rng.standard_normal(shape[-1]))
    assert_close(_C.op_layernorm(x, eps=eps), layernorm_ref(x, eps))
    assert_close(_C.op_layernorm(x, g, b, eps), layernorm_ref(x, eps, g, b))
    assert_close(_C.op_layernorm(x, g, None, eps), layernorm_ref(x, eps, g))
    assert_close(_C.op_layernorm(x, None, b, eps), layernorm_ref(x, eps, None, b))


def test_layernorm_in_place(rng):
    x = f32(rng.standard_normal((5, 33)))
    ref = layernorm_ref(x, 1e-6)
    assert _C.op_layernorm(x, out=x) is x
    assert_close(x, ref)


def test_layernorm_scalar_affine(rng, isa):
    x = f32(rng.standard_normal((2, 3, 4, 17)))
    g, b = np.float32(0.37), np.float32(-1.25)
    ref = layernorm_ref(x, 1e-6) * (1 + np.float64(g)) + np.float64(b)
    assert_close(_C.op_layernorm_scalar_affine(x, float(g), float(b)), ref)
    assert_close(_C.op_layernorm_scalar_affine(x, float(g), float(b), eps=0.5), layernorm_ref(x, 0.5) * (1 + g) + b)


@pytest.mark.parametrize("shape", [(2, 5, 7, 6), (1, 1, 1, 3), (1, 9, 11, 1), (3, 13, 10, 65)])
def test_grn(rng, shape):
    x = f32(rng.standard_normal(shape))
    g, b = f32(rng.standard_normal(shape[-1])), f32(rng.standard_normal(shape[-1]))
    assert_close(_C.op_grn(x, g, b), grn_ref(x, g, b, 1e-6))
    assert_close(_C.op_grn(x, g, b, eps=0.25), grn_ref(x, g, b, 0.25))
    ref = grn_ref(x, g, b, 1e-6)
    assert _C.op_grn(x, g, b, out=x) is x
    assert_close(x, ref)


# ---- elementwise ----


@pytest.mark.parametrize("act", ["none", "gelu", "silu", "quick_gelu"])
def test_activation(rng, act, isa):
    x = f32(rng.standard_normal((3, 1001)) * 4)
    assert_close(_C.op_activation(x, act), ACTS[act](x.astype(np.float64)))
    ref = ACTS[act](x.astype(np.float64))
    _C.op_activation(x, act, out=x)
    assert_close(x, ref)


@pytest.mark.parametrize("act", ["gelu", "silu", "quick_gelu"])
def test_activation_relative_accuracy(act, isa):
    """Every element within a few ulp of the exact value, tails included."""
    x = f32(np.concatenate([np.linspace(-13, 13, 20001), [0.0, -0.0, 1e-30, -1e-30, 30.0, 100.0]]))
    ref = ACTS[act](x.astype(np.float64))
    got = _C.op_activation(x, act).astype(np.float64)
    big = np.abs(ref) > 1e-30
    assert (np.abs(got - ref)[big] <= 1e-6 * np.abs(ref)[big]).all()
    assert (np.abs(got - ref)[~big] <= 1e-30).all()


def test_add_mul_lerp(rng):
    a, b = f32(rng.standard_normal((7, 3, 5))), f32(rng.standard_normal((7, 3, 5)))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert_close(_C.op_add(a, b), a64 + b64)
    assert_close(_C.op_mul(a, b), a64 * b64)
    for w in (0.0, 0.3, 0.5, 1.0, 4.0, -2.0):
        got = _C.op_lerp(a, b, w)
        assert_close(got, a64 + w * (b64 - a64))
    assert np.array_equal(_C.op_lerp(a, b, 0.0), a) and np.array_equal(_C.op_lerp(a, b, 1.0), b)
    out = a.copy()
    _C.op_add(out, b, out=out)
    assert_close(out, a64 + b64)
    out = b.copy()
    _C.op_mul(a, out, out=out)
    assert_close(out, a64 * b64)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7, 1), (1, 6)])
def test_scale_shift(rng, shape):
    x = f32(rng.standard_normal(shape))
    a, b = f32(rng.standard_normal((shape[0], shape[-1]))), f32(rng.standard_normal((shape[0], shape[-1])))
    bc = (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)
    ref = x.astype(np.float64) * (1 + a.reshape(bc)) + b.reshape(bc)
    assert_close(_C.op_scale_shift(x, a, b), ref)
    _C.op_scale_shift(x, a, b, out=x)
    assert_close(x, ref)


def test_add_channel_vector(rng):
    x = f32(rng.standard_normal((2, 3, 4, 9)))
    v = f32(rng.standard_normal(9))
    ref = x.astype(np.float64) + v
    assert _C.op_add_channel_vector(x, v) is x
    assert_close(x, ref)


# ---- attention ----


@pytest.mark.parametrize(
    "B,Tq,Tk,heads,d",
    [(1, 5, 5, 1, 7), (2, 37, 70, 3, 64), (2, 9, 4, 4, 1), (1, 1, 1, 2, 3), (1, 70, 131, 2, 16), (3, 4, 65, 1, 5),
     (1, 130, 67, 2, 32)],
)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_attention(rng, B, Tq, Tk, heads, d, causal, masked, isa):
    C = heads * d
    q, k, v = (f32(rng.standard_normal((B, T, C))) for T in (Tq, Tk, Tk))
    q *= 2.0  # peaky softmax rows exercise the running-max rescaling
    key_mask = None
    if masked:
        key_mask = (rng.random((B, Tk)) > 0.3).astype(np.int64)
        key_mask[:, 0] = 1  # keep every causal row non-empty
    scale = 1.0 / math.sqrt(d)
    got = _C.op_attention(q, k, v, heads, scale, causal=causal, key_mask=key_mask)
    assert_close(got, attention_ref(q, k, v, heads, scale, causal, key_mask))


def test_attention_fully_masked_rows_are_zero(rng, isa):
    q, k, v = (f32(rng.standard_normal((2, 3, 4))) for _ in range(3))
    key_mask = np.array([[0, 0, 0], [1, 0, 1]], dtype=np.int64)
    got = _C.op_attention(q, k, v, 2, 0.5, key_mask=key_mask)
    assert np.array_equal(got[0], np.zeros((3, 4), np.float32))
    assert_close(got, attention_ref(q, k, v, 2, 0.5, key_mask=key_mask))


def test_attention_large_scores_stay_finite(rng, isa):
    q, k, v = (f32(rng.standard_normal((1, 40, 8))) for _ in range(3))
    got = _C.op_attention(q, k, v, 1, 30.0)
    assert np.isfinite(got).all()
    assert_close(got, attention_ref(q, k, v, 1, 30.0))


# ---- resampling / layout ----


@pytest.mark.parametrize(
    "src,dst", [((4, 5), (8, 10)), ((8, 10), (3, 5)), ((5, 5), (5, 5)), ((1, 1), (4, 3)), ((6, 4), (1, 1)),
                ((3, 7), (7, 3)), ((24, 24), (64, 64)), ((1, 5), (1, 9))]
)
def test_resize_bilinear(rng, src, dst):
    x = f32(rng.standard_normal((2,) + src + (3,)))
    got = _C.op_resize_bilinear(x, dst)
    assert_close(got, bilinear_ref(x, dst))
    if src == dst:
        assert np.array_equal(got, x)


def test_resize_bilinear_is_exact_at_corners(rng):
    x = f32(rng.standard_normal((1, 7, 5, 2)))
    got = _C.op_resize_bilinear(x, (13, 9))
    for (a, b), (c, d) in [((0, 0), (0, 0)), ((-1, -1), (-1, -1)), ((0, -1), (0, -1))]:
        assert np.array_equal(got[0, a, b], x[0, c, d])


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle(rng, r):
    x = f32(rng.standard_normal((2, 2 * r, 3 * r, 5)))
    small = _C.op_pixel_unshuffle(x, r)
    assert np.array_equal(small, pixel_unshuffle_ref(x, r))
    assert np.array_equal(_C.op_pixel_shuffle(small, r), x)
    y = f32(rng.standard_normal((1, 3, 2, 4 * r * r)))
    assert np.array_equal(_C.op_pixel_shuffle(y, r), pixel_shuffle_ref(y, r))


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -4])
def test_concat(rng, axis):
    base = [2, 3, 4, 5]
    sa, sb = list(base), list(base)
    sb[axis] = 1
    a, b = f32(rng.standard_normal(sa)), f32(rng.standard_normal(sb))
    assert np.array_equal(_C.op_concat(a, b, axis), np.concatenate([a, b], axis=axis))


def test_layout_changes(rng):
    x = f32(rng.standard_normal((2, 5, 37, 33)))
    assert np.array_equal(_C.op_nchw_to_nhwc(x), x.transpose(0, 2, 3, 1))
    assert np.array_equal(_C.op_nhwc_to_nchw(x), x.transpose(0, 3, 1, 2))
    assert np.array_equal(_C.op_nhwc_to_nchw(_C.op_nchw_to_nhwc(x)), x)


def test_embedding(rng):
    table = f32(rng.standard_normal((11, 6)))
    ids = rng.integers(0, 11, size=(3, 7)).astype(np.int64)
    assert np.array_equal(_C.op_embedding(table, ids), table[ids])


# ---- determinism across thread counts ----


def _all_ops(rng):
    """One call per op at sizes large enough to split across threads."""
    x = f32(rng.standard_normal((2, 23, 29, 40)))
    t = f32(rng.standard_normal((2, 97, 96)))
    c = f32(rng.standard_normal(40))
    return {
        "linear": lambda: _C.op_linear(x, f32(rng.standard_normal((24, 40))), act="gelu"),
        "conv2d": lambda: _C.op_conv2d(x, f32(rng.standard_normal((8, 2, 2, 40))), None, 2, 0),
        "conv_t": lambda: _C.op_conv_transpose2d(x, f32(rng.standard_normal((4, 4, 8, 40))), None, 2, 1),
        "depthwise": lambda: _C.op_depthwise3x3(x, f32(rng.standard_normal((3, 3, 40))), c, "replicate"),
        "layernorm": lambda: _C.op_layernorm(x, c, c),
        "grn": lambda: _C.op_grn(x, c, c),
        "gelu": lambda: _C.op_activation(x, "gelu"),
        "lerp": lambda: _C.op_lerp(x, x * 2, 4.0),
        "scale_shift": lambda: _C.op_scale_shift(x, x[:, 0, 0], x[:, 1, 1]),
        "attention": lambda: _C.op_attention(t, t * 0.5, t, 3, 0.2, causal=True),
        "resize": lambda: _C.op_resize_bilinear(x, (41, 17)),
        "unshuffle": lambda: _C.op_pixel_unshuffle(x[:, :22, :28], 2),
        "concat": lambda: _C.op_concat(x, x, 2),
        "nhwc": lambda: _C.op_nchw_to_nhwc(x),
    }


def test_thread_count_does_not_change_results(rng):
    ops = _all_ops(rng)
    results = {}
    for threads in (1, 2):
        _C.set_num_threads(threads)
        state = np.random.default_rng(7)
        results[threads] = {}
        for name, fn in ops.items():
            rng.bit_generator.state = state.bit_generator.state  # same random weights per run
            results[threads][name] = fn()
    for name in ops:
        assert np.array_equal(results[1][name], results[2][name]), name


def test_scratch_steady_state_allocates_nothing(rng):
    """A second identical pass over the ops that use scratch memory allocates no buffer."""
    ops = _all_ops(rng)
    names = ["conv2d", "conv_t", "depthwise", "grn", "attention"]
    for name in names:
        ops[name]()
    before = _C._ops_scratch_allocations()
    assert before > 0  # the counter sees the pool grow
    for name in names:
        ops[name]()
    assert _C._ops_scratch_allocations() == before


# ---- argument validation ----

_x4 = np.zeros((1, 4, 4, 3), np.float32)

BAD_CALLS = {
    "linear K mismatch": lambda: _C.op_linear(np.zeros((2, 5), np.float32), np.zeros((3, 4), np.float32)),
    "linear bias size": lambda: _C.op_linear(np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32),
                                             np.zeros(2, np.float32)),
    "linear out shape": lambda: _C.op_linear(np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32),
                                             out=np.zeros((2, 4), np.float32)),
    "linear x rank 0": lambda: _C.op_linear(np.float32(1.0), np.zeros((3, 4), np.float32)),
    "conv2d Ci mismatch": lambda: _C.op_conv2d(_x4, np.zeros((2, 3, 3, 5), np.float32)),
    "conv2d rank": lambda: _C.op_conv2d(np.zeros((4, 4, 3), np.float32), np.zeros((2, 1, 1, 3), np.float32)),
    "conv2d kernel too big": lambda: _C.op_conv2d(_x4, np.zeros((2, 5, 5, 3), np.float32)),
    "conv2d stride 0": lambda: _C.op_conv2d(_x4, np.zeros((2, 1, 1, 3), np.float32), stride=0),
    "conv2d out aliases x": lambda: _C.op_conv2d(_x4, np.zeros((3, 3, 3, 3), np.float32), None, 1, 1, out=_x4),
    "conv_t Ci mismatch": lambda: _C.op_conv_transpose2d(_x4, np.zeros((2, 2, 4, 5), np.float32), stride=2),
    "conv_t no output": lambda: _C.op_conv_transpose2d(_x4[:, :1, :1], np.zeros((1, 1, 2, 3), np.float32), None,
                                                       1, 1),
    "depthwise w shape": lambda: _C.op_depthwise3x3(_x4, np.zeros((3, 3, 4), np.float32)),
    "depthwise pad mode": lambda: _C.op_depthwise3x3(_x4, np.zeros((3, 3, 3), np.float32), pad_mode="reflect"),
    "layernorm gamma": lambda: _C.op_layernorm(_x4, np.zeros(4, np.float32)),
    "layernorm eps": lambda: _C.op_layernorm(_x4, eps=-1.0),
    "grn rank": lambda: _C.op_grn(_x4[0], np.zeros(3, np.float32), np.zeros(3, np.float32)),
    "grn beta": lambda: _C.op_grn(_x4, np.zeros(3, np.float32), np.zeros(2, np.float32)),
    "add shapes": lambda: _C.op_add(_x4, _x4[:, :3]),
    "lerp shapes": lambda: _C.op_lerp(_x4, _x4[0], 0.5),
    "scale_shift a": lambda: _C.op_scale_shift(_x4, np.zeros((1, 4), np.float32), np.zeros((1, 3), np.float32)),
    "channel vector": lambda: _C.op_add_channel_vector(_x4.copy(), np.zeros(4, np.float32)),
    "activation name": lambda: _C.op_activation(_x4, "relu"),
    "attention heads": lambda: _C.op_attention(_x4[0], _x4[0], _x4[0], 2, 1.0),
    "attention k shape": lambda: _C.op_attention(_x4[0], _x4[0, :, :, :2], _x4[0], 1, 1.0),
    "attention mask shape": lambda: _C.op_attention(_x4[0], _x4[0], _x4[0], 1, 1.0,
                                                    key_mask=np.ones((4, 3), np.int64)),
    "resize empty input": lambda: _C.op_resize_bilinear(_x4[:, :0], (2, 2)),
    "unshuffle divisibility": lambda: _C.op_pixel_unshuffle(_x4[:, :3], 2),
    "unshuffle r 0": lambda: _C.op_pixel_unshuffle(_x4, 0),
    "shuffle channels": lambda: _C.op_pixel_shuffle(_x4, 2),
    "concat axis": lambda: _C.op_concat(_x4, _x4, 4),
    "concat shapes": lambda: _C.op_concat(_x4, _x4[:, :2], 2),
    "nhwc rank": lambda: _C.op_nchw_to_nhwc(_x4[0]),
    "embedding id range": lambda: _C.op_embedding(np.zeros((5, 2), np.float32), np.array([[0, 5]], np.int64)),
    "embedding negative id": lambda: _C.op_embedding(np.zeros((5, 2), np.float32), np.array([[-1]], np.int64)),
    "accumulate without out": lambda: _C.op_linear(np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32),
                                                   accumulate=True),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_arguments_raise_value_error(name):
    with pytest.raises(ValueError):
        BAD_CALLS[name]()


def test_embedding_error_leaves_out_untouched():
    out = np.full((1, 2, 2), 7.0, np.float32)
    with pytest.raises(ValueError, match="outside the table"):
        _C.op_embedding(np.zeros((5, 2), np.float32), np.array([[0, 5]], np.int64), out=out)
    assert (out == 7.0).all()


def test_ops_isa_switch():
    assert _C._ops_isa() in _supported_isas()
    with pytest.raises(ValueError):
        _C._ops_isa("neon")
    _C._ops_isa("baseline")
    assert _C._ops_isa() == "baseline"
    _C._ops_isa("auto")
    assert _C._ops_isa() == _supported_isas()[-1]


def test_binding_argument_errors():
    with pytest.raises(TypeError):
        _C.op_add(_x4)
    with pytest.raises(TypeError):
        _C.op_add(_x4, _x4, bogus=1)
    with pytest.raises(TypeError):
        _C.op_add(_x4, _x4, out=np.zeros((1, 4, 4, 3), np.float64))


def test_repeat_returns_the_output_and_the_time_per_call(rng):
    x, w = f32(rng.standard_normal((8, 5))), f32(rng.standard_normal((3, 5)))
    y, seconds = _C.op_linear(x, w, repeat=3)
    assert np.array_equal(y, _C.op_linear(x, w)) and seconds > 0
    with pytest.raises(ValueError, match="repeat"):
        _C.op_linear(x, w, repeat=0)
