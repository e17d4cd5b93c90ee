/* The CUDA backend's op table entries (cuda_ops_*.c): argument validation against sc_ops.h, then
 * one call into the kernels of cuda/ (sc_cuda_kernels.h). Built only with SC_WITH_CUDA. */
#ifndef SC_CUDA_OPS_H
#define SC_CUDA_OPS_H

#include "sc_cuda_kernels.h"
#include "sc_opcheck.h"

/* The kernels' view of a tensor's memory. */
#define CU_BF16(t) ((sc_bf16 *)(t)->data)
#define CU_BF16_OR_NULL(t) ((t) ? CU_BF16(t) : NULL)
#define CU_CTX(be) ((sc_cuda_ctx *)(be)->impl)

sc_status cuda_linear(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                      sc_epilogue ep);
sc_status cuda_conv2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                      int stride, int pad, sc_epilogue ep);
sc_status cuda_conv_transpose2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                                const sc_tensor *bias, int stride, int pad, sc_epilogue ep);
sc_status cuda_depthwise3x3(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep);
sc_status cuda_attention(sc_backend *be, sc_tensor *out, const sc_tensor *q, const sc_tensor *k, const sc_tensor *v,
                         int heads, float scale, int causal, const sc_tensor *key_mask);

sc_status cuda_layernorm(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                         const sc_tensor *beta, float eps);
sc_status cuda_layernorm_scalar_affine(sc_backend *be, sc_tensor *out, const sc_tensor *x, float g, float b,
                                       float eps);
sc_status cuda_grn(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma, const sc_tensor *beta,
                   float eps);
sc_status cuda_activation(sc_backend *be, sc_tensor *out, const sc_tensor *x, sc_act act);
sc_status cuda_add(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b);
sc_status cuda_mul(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b);
sc_status cuda_lerp(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, float w);
sc_status cuda_scale_shift(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                           const sc_tensor *b);
sc_status cuda_add_channel_vector(sc_backend *be, sc_tensor *out, const sc_tensor *v);

sc_status cuda_resize_bilinear(sc_backend *be, sc_tensor *out, const sc_tensor *x);
sc_status cuda_pixel_unshuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r);
sc_status cuda_pixel_shuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r);
sc_status cuda_concat(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, int axis);
sc_status cuda_nchw_to_nhwc(sc_backend *be, sc_tensor *out, const sc_tensor *x);
sc_status cuda_nhwc_to_nchw(sc_backend *be, sc_tensor *out, const sc_tensor *x);
sc_status cuda_embedding(sc_backend *be, sc_tensor *out, const sc_tensor *table, const sc_tensor *ids);

#endif
