/* CUDA backend: linear, the convolutions and attention (argument checks, then the kernels). */
#include "sc_cuda_backend.h"

#ifdef SC_WITH_CUDA

#include <math.h>
#include <string.h>

#include "cuda_ops.h"

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

sc_status cuda_linear(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                      sc_epilogue ep)
{
    const char *op = "linear";
    SC_TRY(sc_opcheck_act(be, x, op, "x", -1));
    SC_TRY(sc_opcheck_act(be, w, op, "w", 2));
    const int64_t K = x->shape[x->ndim - 1], N = w->shape[0];
    const int64_t wshape[2] = {N, K};
    SC_TRY(sc_opcheck_shape(w, op, "w", 2, wshape));
    int64_t oshape[SC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof oshape);
    oshape[x->ndim - 1] = N;
    SC_TRY(check_dense(be, op, out, x, w, bias, N, ep));
    SC_TRY(sc_opcheck_shape(out, op, "out", x->ndim, oshape));
    return sc_cu_linear(CU_CTX(be), sc_tensor_rows(x), N, K, CU_BF16(x), CU_BF16(w), CU_BF16_OR_NULL(bias),
                        CU_BF16(out), ep);
}

static sc_status check_conv_args(const sc_backend *be, const char *op, const sc_tensor *x, const sc_tensor *w,
                                 int stride, int pad)
{
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, w, op, "w", 4));
    if (stride < 1 || pad < 0)
        return sc_set_error(SC_ERR_VALUE, "%s: needs stride >= 1 and pad >= 0, got stride %d, pad %d", op, stride,
                            pad);
    return SC_OK;
}

sc_status cuda_conv2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                      int stride, int pad, sc_epilogue ep)
{
    const char *op = "conv2d";
    SC_TRY(check_conv_args(be, op, x, w, stride, pad));
    sc_cu_conv_shape s = {.B = x->shape[0], .H = x->shape[1], .W = x->shape[2], .Ci = x->shape[3],
                          .Co = w->shape[0], .kh = w->shape[1], .kw = w->shape[2], .stride = stride, .pad = pad};
    const int64_t wshape[4] = {s.Co, s.kh, s.kw, s.Ci};
    SC_TRY(sc_opcheck_shape(w, op, "w (layout [Co, kh, kw, Ci])", 4, wshape));
    if (s.kh < 1 || s.kw < 1 || s.H + 2 * pad < s.kh || s.W + 2 * pad < s.kw)
        return sc_set_error(SC_ERR_VALUE, "%s: kernel %lldx%lld does not fit the padded input %lldx%lld", op,
                            (long long)s.kh, (long long)s.kw, (long long)(s.H + 2 * pad), (long long)(s.W + 2 * pad));
    s.Ho = (s.H + 2 * pad - s.kh) / stride + 1;
    s.Wo = (s.W + 2 * pad - s.kw) / stride + 1;
    const int64_t oshape[4] = {s.B, s.Ho, s.Wo, s.Co};
    SC_TRY(check_dense(be, op, out, x, w, bias, s.Co, ep));
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    return sc_cu_conv2d(CU_CTX(be), &s, CU_BF16(x), CU_BF16(w), CU_BF16_OR_NULL(bias), CU_BF16(out), ep);
}

sc_status cuda_conv_transpose2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                                const sc_tensor *bias, int stride, int pad, sc_epilogue ep)
{
    const char *op = "conv_transpose2d";
    SC_TRY(check_conv_args(be, op, x, w, stride, pad));
    sc_cu_conv_shape s = {.B = x->shape[0], .H = x->shape[1], .W = x->shape[2], .Ci = x->shape[3],
                          .kh = w->shape[0], .kw = w->shape[1], .Co = w->shape[2], .stride = stride, .pad = pad};
    const int64_t wshape[4] = {s.kh, s.kw, s.Co, s.Ci};
    SC_TRY(sc_opcheck_shape(w, op, "w (layout [kh, kw, Co, Ci])", 4, wshape));
    s.Ho = (s.H - 1) * stride - 2 * pad + s.kh;
    s.Wo = (s.W - 1) * stride - 2 * pad + s.kw;
    if (s.kh < 1 || s.kw < 1 || s.H < 1 || s.W < 1 || s.Ho < 1 || s.Wo < 1)
        return sc_set_error(SC_ERR_VALUE, "%s: input %lldx%lld, kernel %lldx%lld, stride %d, pad %d give no output",
                            op, (long long)s.H, (long long)s.W, (long long)s.kh, (long long)s.kw, stride, pad);
    const int64_t oshape[4] = {s.B, s.Ho, s.Wo, s.Co};
    SC_TRY(check_dense(be, op, out, x, w, bias, s.Co, ep));
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    return sc_cu_conv_transpose2d(CU_CTX(be), &s, CU_BF16(x), CU_BF16(w), CU_BF16_OR_NULL(bias), CU_BF16(out), ep);
}

sc_status cuda_depthwise3x3(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep)
{
    const char *op = "depthwise3x3";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, x->shape));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    const int64_t wshape[3] = {3, 3, C};
    SC_TRY(sc_opcheck_act(be, w, op, "w", 3));
    SC_TRY(sc_opcheck_shape(w, op, "w (layout [3, 3, C])", 3, wshape));
    SC_TRY(sc_opcheck_vector(be, bias, op, "bias", C));
    SC_TRY(sc_opcheck_epilogue(ep, op));
    if (pad != SC_PAD_ZERO && pad != SC_PAD_REPLICATE)
        return sc_set_error(SC_ERR_VALUE, "%s: unknown padding mode %d", op, (int)pad);
    SC_TRY(sc_opcheck_no_alias(out, x, op, "x"));
    return sc_cu_depthwise3x3(B, H, W, C, CU_BF16(x), CU_BF16(w), CU_BF16_OR_NULL(bias), pad == SC_PAD_REPLICATE,
                              CU_BF16(out), ep);
}

sc_status cuda_attention(sc_backend *be, sc_tensor *out, const sc_tensor *q, const sc_tensor *k, const sc_tensor *v,
                         int heads, float scale, int causal, const sc_tensor *key_mask)
{
    const char *op = "attention";
    SC_TRY(sc_opcheck_act(be, q, op, "q", 3));
    SC_TRY(sc_opcheck_act(be, k, op, "k", 3));
    const int64_t B = q->shape[0], Tq = q->shape[1], C = q->shape[2], Tk = k->shape[1];
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
    SC_TRY(sc_opcheck_no_alias(out, v, op, "v"));
    return sc_cu_attention(B, Tq, Tk, heads, C / heads, CU_BF16(q), CU_BF16(k), CU_BF16(v), scale, causal,
                           key_mask ? (const int64_t *)key_mask->data : NULL, CU_BF16(out));
}

#endif
