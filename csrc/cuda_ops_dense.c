/* CUDA backend: linear, the convolutions and attention (argument checks, then the kernels). */
#include "sc_cuda_backend.h"

#ifdef SC_WITH_CUDA

#include "cuda_ops.h"

sc_status cuda_linear(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                      sc_epilogue ep)
{
    SC_TRY(sc_opcheck_linear(be, out, x, w, bias, ep));
    return sc_cu_linear(CU_CTX(be), sc_tensor_rows(x), w->shape[0], w->shape[1], CU_BF16(x), CU_BF16(w),
                        CU_BF16_OR_NULL(bias), CU_BF16(out), ep);
}

sc_status cuda_conv2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                      int stride, int pad, sc_epilogue ep)
{
    SC_TRY(sc_opcheck_conv2d(be, out, x, w, bias, stride, pad, ep));
    const sc_cu_conv_shape s = {.B = x->shape[0], .H = x->shape[1], .W = x->shape[2], .Ci = x->shape[3],
                                .Co = w->shape[0], .kh = w->shape[1], .kw = w->shape[2], .stride = stride,
                                .pad = pad, .Ho = out->shape[1], .Wo = out->shape[2]};
    return sc_cu_conv2d(CU_CTX(be), &s, CU_BF16(x), CU_BF16(w), CU_BF16_OR_NULL(bias), CU_BF16(out), ep);
}

sc_status cuda_conv_transpose2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                                const sc_tensor *bias, int stride, int pad, sc_epilogue ep)
{
    SC_TRY(sc_opcheck_conv_transpose2d(be, out, x, w, bias, stride, pad, ep));
    const sc_cu_conv_shape s = {.B = x->shape[0], .H = x->shape[1], .W = x->shape[2], .Ci = x->shape[3],
                                .kh = w->shape[0], .kw = w->shape[1], .Co = w->shape[2], .stride = stride,
                                .pad = pad, .Ho = out->shape[1], .Wo = out->shape[2]};
    return sc_cu_conv_transpose2d(CU_CTX(be), &s, CU_BF16(x), CU_BF16(w), CU_BF16_OR_NULL(bias), CU_BF16(out), ep);
}

sc_status cuda_depthwise3x3(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep)
{
    SC_TRY(sc_opcheck_depthwise3x3(be, out, x, w, bias, pad, ep));
    return sc_cu_depthwise3x3(x->shape[0], x->shape[1], x->shape[2], x->shape[3], CU_BF16(x), CU_BF16(w),
                              CU_BF16_OR_NULL(bias), pad == SC_PAD_REPLICATE, CU_BF16(out), ep);
}

sc_status cuda_attention(sc_backend *be, sc_tensor *out, const sc_tensor *q, const sc_tensor *k, const sc_tensor *v,
                         int heads, float scale, int causal, const sc_tensor *key_mask)
{
    SC_TRY(sc_opcheck_attention(be, out, q, k, v, heads, scale, key_mask));
    const int64_t C = q->shape[2];
    return sc_cu_attention(q->shape[0], q->shape[1], k->shape[1], heads, C / heads, CU_BF16(q), CU_BF16(k),
                           CU_BF16(v), scale, causal, key_mask ? (const int64_t *)key_mask->data : NULL,
                           CU_BF16(out));
}

#endif
