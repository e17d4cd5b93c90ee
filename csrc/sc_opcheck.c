#include "sc_opcheck.h"

#include <math.h>
#include <string.h>

sc_status sc_opcheck_tensor(const sc_backend *be, const sc_tensor *t, sc_dtype dt, const char *op, const char *what,
                            int ndim)
{
    if (!t)
        return sc_set_error(SC_ERR_VALUE, "%s: %s is missing", op, what);
    if (t->device != be->device || t->dtype != dt)
        return sc_set_error(SC_ERR_VALUE, "%s: %s must be a %s %s tensor, got %s %s", op, what, sc_dtype_name(dt),
                            sc_device_name(be->device), sc_dtype_name(t->dtype), sc_device_name(t->device));
    if (ndim >= 0 ? t->ndim != ndim : t->ndim < 1) {
        char got[128];
        sc_format_shape(t, got, sizeof got);
        if (ndim >= 0)
            return sc_set_error(SC_ERR_VALUE, "%s: %s must have %d dims, got shape %s", op, what, ndim, got);
        return sc_set_error(SC_ERR_VALUE, "%s: %s must have at least 1 dim, got shape %s", op, what, got);
    }
    if (!t->data && sc_tensor_numel(t) > 0)
        return sc_set_error(SC_ERR_VALUE, "%s: %s has no data", op, what);
    return SC_OK;
}

sc_status sc_opcheck_act(const sc_backend *be, const sc_tensor *t, const char *op, const char *what, int ndim)
{
    return sc_opcheck_tensor(be, t, be->dtype, op, what, ndim);
}

sc_status sc_opcheck_weight(const sc_backend *be, const sc_tensor *t, const char *op, const char *what, int ndim)
{
    const sc_dtype compact = be->compact_weight_dtype;
    if (!t || t->dtype == be->dtype || compact == be->dtype)
        return sc_opcheck_act(be, t, op, what, ndim);
    if (t->dtype == compact)
        return sc_opcheck_tensor(be, t, compact, op, what, ndim);
    return sc_set_error(SC_ERR_VALUE, "%s: %s must be a %s or %s %s tensor, got %s %s", op, what,
                        sc_dtype_name(be->dtype), sc_dtype_name(compact), sc_device_name(be->device),
                        sc_dtype_name(t->dtype), sc_device_name(t->device));
}

sc_status sc_opcheck_shape(const sc_tensor *t, const char *op, const char *what, int ndim, const int64_t *shape)
{
    if (sc_check_shape(t, what, ndim, shape) != SC_OK)
        return sc_add_context(SC_ERR_VALUE, "%s", op);
    return SC_OK;
}

sc_status sc_opcheck_vector(const sc_backend *be, const sc_tensor *v, const char *op, const char *what, int64_t n)
{
    if (!v)
        return SC_OK;
    SC_TRY(sc_opcheck_act(be, v, op, what, 1));
    return sc_opcheck_shape(v, op, what, 1, &n);
}

static int overlaps(const sc_tensor *a, const sc_tensor *b)
{
    const char *a0 = a->data, *b0 = b->data;
    const char *a1 = a0 + sc_tensor_nbytes(a), *b1 = b0 + sc_tensor_nbytes(b);
    return a0 && b0 && a0 < b1 && b0 < a1;
}

sc_status sc_opcheck_no_alias(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what)
{
    if (overlaps(out, in))
        return sc_set_error(SC_ERR_VALUE, "%s: out must not overlap %s", op, what);
    return SC_OK;
}

sc_status sc_opcheck_same_or_disjoint(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what)
{
    if (overlaps(out, in) && (out->data != in->data || sc_tensor_nbytes(out) != sc_tensor_nbytes(in)))
        return sc_set_error(SC_ERR_VALUE, "%s: out must be %s itself or not overlap it", op, what);
    return SC_OK;
}

sc_status sc_opcheck_epilogue(sc_epilogue ep, const char *op)
{
    switch (ep.act) {
    case SC_ACT_NONE:
    case SC_ACT_GELU:
    case SC_ACT_SILU:
    case SC_ACT_QUICK_GELU: return SC_OK;
    }
    return sc_set_error(SC_ERR_VALUE, "%s: unknown activation %d", op, (int)ep.act);
}

/* ---- per-op validation ---- */

/* Checks shared by linear and the convolutions, once x and w are known to be valid. */
static sc_status check_dense(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *x,
                             const sc_tensor *w, const sc_tensor *bias, int64_t n_out, sc_epilogue ep)
{
    SC_TRY(sc_opcheck_act(be, out, op, "out", x->ndim));
    SC_TRY(sc_opcheck_vector(be, bias, op, "bias", n_out));
    SC_TRY(sc_opcheck_epilogue(ep, op));
    SC_TRY(sc_opcheck_no_alias(out, x, op, "x"));
    SC_TRY(sc_opcheck_no_alias(out, w, op, "w"));
    if (bias)
        SC_TRY(sc_opcheck_no_alias(out, bias, op, "bias"));
    return SC_OK;
}

sc_status sc_opcheck_linear(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, sc_epilogue ep)
{
    const char *op = "linear";
    SC_TRY(sc_opcheck_act(be, x, op, "x", -1));
    SC_TRY(sc_opcheck_weight(be, w, op, "w", 2));
    const int64_t K = x->shape[x->ndim - 1], N = w->shape[0];
    const int64_t wshape[2] = {N, K};
    SC_TRY(sc_opcheck_shape(w, op, "w", 2, wshape));
    int64_t oshape[SC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof oshape);
    oshape[x->ndim - 1] = N;
    SC_TRY(check_dense(be, op, out, x, w, bias, N, ep));
    return sc_opcheck_shape(out, op, "out", x->ndim, oshape);
}

static sc_status check_conv_args(const sc_backend *be, const char *op, const sc_tensor *x, const sc_tensor *w,
                                 int stride, int pad)
{
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_weight(be, w, op, "w", 4));
    if (stride < 1 || pad < 0)
        return sc_set_error(SC_ERR_VALUE, "%s: needs stride >= 1 and pad >= 0, got stride %d, pad %d", op, stride,
                            pad);
    return SC_OK;
}

sc_status sc_opcheck_conv2d(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, int stride, int pad, sc_epilogue ep)
{
    const char *op = "conv2d";
    SC_TRY(check_conv_args(be, op, x, w, stride, pad));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], Ci = x->shape[3];
    const int64_t Co = w->shape[0], kh = w->shape[1], kw = w->shape[2];
    const int64_t wshape[4] = {Co, kh, kw, Ci};
    SC_TRY(sc_opcheck_shape(w, op, "w (layout [Co, kh, kw, Ci])", 4, wshape));
    if (kh < 1 || kw < 1 || H + 2 * pad < kh || W + 2 * pad < kw)
        return sc_set_error(SC_ERR_VALUE, "%s: kernel %lldx%lld does not fit the padded input %lldx%lld", op,
                            (long long)kh, (long long)kw, (long long)(H + 2 * pad), (long long)(W + 2 * pad));
    const int64_t oshape[4] = {B, (H + 2 * pad - kh) / stride + 1, (W + 2 * pad - kw) / stride + 1, Co};
    SC_TRY(check_dense(be, op, out, x, w, bias, Co, ep));
    return sc_opcheck_shape(out, op, "out", 4, oshape);
}

sc_status sc_opcheck_conv_transpose2d(const sc_backend *be, const sc_tensor *out, const sc_tensor *x,
                                      const sc_tensor *w, const sc_tensor *bias, int stride, int pad, sc_epilogue ep)
{
    const char *op = "conv_transpose2d";
    SC_TRY(check_conv_args(be, op, x, w, stride, pad));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], Ci = x->shape[3];
    const int64_t kh = w->shape[0], kw = w->shape[1], Co = w->shape[2];
    const int64_t wshape[4] = {kh, kw, Co, Ci};
    SC_TRY(sc_opcheck_shape(w, op, "w (layout [kh, kw, Co, Ci])", 4, wshape));
    const int64_t Ho = (H - 1) * stride - 2 * pad + kh, Wo = (W - 1) * stride - 2 * pad + kw;
    if (kh < 1 || kw < 1 || H < 1 || W < 1 || Ho < 1 || Wo < 1)
        return sc_set_error(SC_ERR_VALUE, "%s: input %lldx%lld, kernel %lldx%lld, stride %d, pad %d give no output",
                            op, (long long)H, (long long)W, (long long)kh, (long long)kw, stride, pad);
    const int64_t oshape[4] = {B, Ho, Wo, Co};
    SC_TRY(check_dense(be, op, out, x, w, bias, Co, ep));
    return sc_opcheck_shape(out, op, "out", 4, oshape);
}

sc_status sc_opcheck_depthwise3x3(const sc_backend *be, const sc_tensor *out, const sc_tensor *x,
                                  const sc_tensor *w, const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep)
{
    const char *op = "depthwise3x3";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, x->shape));
    const int64_t C = x->shape[3];
    const int64_t wshape[3] = {3, 3, C};
    SC_TRY(sc_opcheck_act(be, w, op, "w", 3));
    SC_TRY(sc_opcheck_shape(w, op, "w (layout [3, 3, C])", 3, wshape));
    SC_TRY(sc_opcheck_vector(be, bias, op, "bias", C));
    SC_TRY(sc_opcheck_epilogue(ep, op));
    if (pad != SC_PAD_ZERO && pad != SC_PAD_REPLICATE)
        return sc_set_error(SC_ERR_VALUE, "%s: unknown padding mode %d", op, (int)pad);
    return sc_opcheck_no_alias(out, x, op, "x");
}

sc_status sc_opcheck_attention(const sc_backend *be, const sc_tensor *out, const sc_tensor *q, const sc_tensor *k,
                               const sc_tensor *v, int heads, float scale, const sc_tensor *key_mask)
{
    const char *op = "attention";
    SC_TRY(sc_opcheck_act(be, q, op, "q", 3));
    SC_TRY(sc_opcheck_act(be, k, op, "k", 3));
    const int64_t B = q->shape[0], C = q->shape[2], Tk = k->shape[1];
    const int64_t kshape[3] = {B, Tk, C};
    SC_TRY(sc_opcheck_shape(k, op, "k", 3, kshape));
    SC_TRY(sc_opcheck_act(be, v, op, "v", 3));
    SC_TRY(sc_opcheck_shape(v, op, "v", 3, kshape));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 3));
    SC_TRY(sc_opcheck_shape(out, op, "out", 3, q->shape));
    if (key_mask) {
        const int64_t mshape[2] = {B, Tk};
        SC_TRY(sc_opcheck_tensor(be, key_mask, SC_I64, op, "key_mask", 2));
        SC_TRY(sc_opcheck_shape(key_mask, op, "key_mask", 2, mshape));
    }
    if (heads < 1 || C % heads != 0)
        return sc_set_error(SC_ERR_VALUE, "%s: %lld channels do not split into %d heads", op, (long long)C, heads);
    if (!isfinite(scale))
        return sc_set_error(SC_ERR_VALUE, "%s: scale must be finite, got %g", op, (double)scale);
    SC_TRY(sc_opcheck_no_alias(out, q, op, "q"));
    SC_TRY(sc_opcheck_no_alias(out, k, op, "k"));
    return sc_opcheck_no_alias(out, v, op, "v");
}

sc_status sc_opcheck_layernorm(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *x,
                               const sc_tensor *gamma, const sc_tensor *beta, float eps)
{
    SC_TRY(sc_opcheck_act(be, x, op, "x", -1));
    SC_TRY(sc_opcheck_act(be, out, op, "out", -1));
    SC_TRY(sc_opcheck_shape(out, op, "out", x->ndim, x->shape));
    const int64_t C = x->shape[x->ndim - 1];
    SC_TRY(sc_opcheck_vector(be, gamma, op, "gamma", C));
    SC_TRY(sc_opcheck_vector(be, beta, op, "beta", C));
    if (!(eps >= 0.0f) || C == 0)
        return sc_set_error(SC_ERR_VALUE, "%s: needs eps >= 0 and a non-empty last dim (eps %g, C %lld)", op,
                            (double)eps, (long long)C);
    return sc_opcheck_same_or_disjoint(out, x, op, "x");
}

sc_status sc_opcheck_grn(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                         const sc_tensor *beta, float eps)
{
    const char *op = "grn";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, x->shape));
    const int64_t C = x->shape[3];
    SC_TRY(sc_opcheck_act(be, gamma, op, "gamma", 1));
    SC_TRY(sc_opcheck_vector(be, gamma, op, "gamma", C));
    SC_TRY(sc_opcheck_act(be, beta, op, "beta", 1));
    SC_TRY(sc_opcheck_vector(be, beta, op, "beta", C));
    if (!(eps >= 0.0f))
        return sc_set_error(SC_ERR_VALUE, "%s: eps must be >= 0, got %g", op, (double)eps);
    return sc_opcheck_same_or_disjoint(out, x, op, "x");
}

sc_status sc_opcheck_elementwise(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *a,
                                 const char *a_name, const sc_tensor *b, const char *b_name)
{
    SC_TRY(sc_opcheck_act(be, out, op, "out", -1));
    SC_TRY(sc_opcheck_act(be, a, op, a_name, -1));
    SC_TRY(sc_opcheck_shape(a, op, a_name, out->ndim, out->shape));
    SC_TRY(sc_opcheck_same_or_disjoint(out, a, op, a_name));
    if (b) {
        SC_TRY(sc_opcheck_act(be, b, op, b_name, -1));
        SC_TRY(sc_opcheck_shape(b, op, b_name, out->ndim, out->shape));
        SC_TRY(sc_opcheck_same_or_disjoint(out, b, op, b_name));
    }
    return SC_OK;
}

sc_status sc_opcheck_activation(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, sc_act act)
{
    SC_TRY(sc_opcheck_elementwise(be, "activation", out, x, "x", NULL, NULL));
    const sc_epilogue ep = {act, 1.0f, 0};
    return sc_opcheck_epilogue(ep, "activation");
}

sc_status sc_opcheck_scale_shift(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                                 const sc_tensor *b)
{
    const char *op = "scale_shift";
    SC_TRY(sc_opcheck_elementwise(be, op, out, x, "x", NULL, NULL));
    if (x->ndim < 2)
        return sc_set_error(SC_ERR_VALUE, "%s: x must be [B, ..., C], got %d dims", op, x->ndim);
    const int64_t bc[2] = {x->shape[0], x->shape[x->ndim - 1]};
    SC_TRY(sc_opcheck_act(be, a, op, "a", 2));
    SC_TRY(sc_opcheck_shape(a, op, "a", 2, bc));
    SC_TRY(sc_opcheck_act(be, b, op, "b", 2));
    SC_TRY(sc_opcheck_shape(b, op, "b", 2, bc));
    SC_TRY(sc_opcheck_no_alias(out, a, op, "a"));
    return sc_opcheck_no_alias(out, b, op, "b");
}

sc_status sc_opcheck_add_channel_vector(const sc_backend *be, const sc_tensor *out, const sc_tensor *v)
{
    const char *op = "add_channel_vector";
    SC_TRY(sc_opcheck_act(be, out, op, "out", -1));
    const int64_t C = out->shape[out->ndim - 1];
    SC_TRY(sc_opcheck_act(be, v, op, "v", 1));
    SC_TRY(sc_opcheck_shape(v, op, "v", 1, &C));
    return sc_opcheck_no_alias(out, v, op, "v");
}

sc_status sc_opcheck_resize_bilinear(const sc_backend *be, const sc_tensor *out, const sc_tensor *x)
{
    const char *op = "resize_bilinear";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t Hi = x->shape[1], Wi = x->shape[2], Ho = out->shape[1], Wo = out->shape[2];
    const int64_t oshape[4] = {x->shape[0], -1, -1, x->shape[3]};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    if ((Hi == 0 || Wi == 0) && Ho * Wo > 0)
        return sc_set_error(SC_ERR_VALUE, "%s: cannot resize an empty %lldx%lld image to %lldx%lld", op,
                            (long long)Hi, (long long)Wi, (long long)Ho, (long long)Wo);
    return sc_opcheck_no_alias(out, x, op, "x");
}

sc_status sc_opcheck_pixel_unshuffle(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, int r)
{
    const char *op = "pixel_unshuffle";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t H = x->shape[1], W = x->shape[2];
    if (r < 1 || H % r != 0 || W % r != 0)
        return sc_set_error(SC_ERR_VALUE, "%s: factor %d must be >= 1 and divide the image size %lldx%lld", op, r,
                            (long long)H, (long long)W);
    const int64_t oshape[4] = {x->shape[0], H / r, W / r, x->shape[3] * r * r};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    return sc_opcheck_no_alias(out, x, op, "x");
}

sc_status sc_opcheck_pixel_shuffle(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, int r)
{
    const char *op = "pixel_shuffle";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t Cs = x->shape[3];
    if (r < 1 || Cs % ((int64_t)r * r) != 0)
        return sc_set_error(SC_ERR_VALUE, "%s: factor %d must be >= 1 with r*r dividing the %lld channels", op, r,
                            (long long)Cs);
    const int64_t oshape[4] = {x->shape[0], x->shape[1] * r, x->shape[2] * r, Cs / ((int64_t)r * r)};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    return sc_opcheck_no_alias(out, x, op, "x");
}

sc_status sc_opcheck_concat(const sc_backend *be, const sc_tensor *out, const sc_tensor *a, const sc_tensor *b,
                            int *axis)
{
    const char *op = "concat";
    SC_TRY(sc_opcheck_act(be, a, op, "a", -1));
    SC_TRY(sc_opcheck_act(be, b, op, "b", a->ndim));
    SC_TRY(sc_opcheck_act(be, out, op, "out", a->ndim));
    const int nd = a->ndim;
    if (*axis < -nd || *axis >= nd)
        return sc_set_error(SC_ERR_VALUE, "%s: axis %d is out of range for %d dims", op, *axis, nd);
    if (*axis < 0)
        *axis += nd;
    int64_t bshape[SC_MAX_DIMS], oshape[SC_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        bshape[i] = i == *axis ? -1 : a->shape[i];
        oshape[i] = i == *axis ? a->shape[i] + b->shape[i] : a->shape[i];
    }
    SC_TRY(sc_opcheck_shape(b, op, "b", nd, bshape));
    SC_TRY(sc_opcheck_shape(out, op, "out", nd, oshape));
    SC_TRY(sc_opcheck_no_alias(out, a, op, "a"));
    return sc_opcheck_no_alias(out, b, op, "b");
}

sc_status sc_opcheck_layout_change(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *x,
                                   int to_nhwc)
{
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t *s = x->shape;
    /* NCHW [B, C, H, W] -> NHWC [B, H, W, C], or back */
    const int64_t oshape[4] = {s[0], to_nhwc ? s[2] : s[3], to_nhwc ? s[3] : s[1], to_nhwc ? s[1] : s[2]};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    return sc_opcheck_no_alias(out, x, op, "x");
}

sc_status sc_opcheck_embedding(const sc_backend *be, const sc_tensor *out, const sc_tensor *table,
                               const sc_tensor *ids)
{
    const char *op = "embedding";
    SC_TRY(sc_opcheck_weight(be, table, op, "table", 2));
    SC_TRY(sc_opcheck_tensor(be, ids, SC_I64, op, "ids", 2));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 3));
    const int64_t oshape[3] = {ids->shape[0], ids->shape[1], table->shape[1]};
    SC_TRY(sc_opcheck_shape(out, op, "out", 3, oshape));
    return sc_opcheck_no_alias(out, table, op, "table");
}
