/* The C-callable entry points of the CUDA kernels in cuda/ (built only with SC_WITH_CUDA).
 *
 * The C side (cuda_ops_*.c) validates sc_tensor arguments and passes plain device pointers and
 * sizes here; nothing below checks shapes again. bfloat16 data is passed as sc_bf16 (its 16 bits);
 * masks and ids are int64. Everything runs on the legacy default stream, in call order, so host
 * copies (cudaMemcpy) see finished results. Launch failures and CUDA/cuBLASLt errors come back as
 * SC_ERR_RUNTIME with CUDA's text, failed allocations as SC_ERR_NOMEM. Sizes are element counts. */
#ifndef SC_CUDA_KERNELS_H
#define SC_CUDA_KERNELS_H

#include <stdint.h>

#include "sc_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t sc_bf16;

/* Backend state: the cuBLASLt handle, its workspace, the GEMM algorithm cache and the grow-only
 * scratch buffers. Ops that use any of it hold the context's lock while they enqueue work. */
typedef struct sc_cuda_ctx sc_cuda_ctx;
sc_status sc_cu_ctx_create(sc_cuda_ctx **out);
void sc_cu_ctx_destroy(sc_cuda_ctx *ctx);
/* Device bytes the context holds (workspace + scratch): tests check that it stops growing. */
size_t sc_cu_ctx_bytes(sc_cuda_ctx *ctx);

/* out[M, N] = epilogue(a[M, K] w[N, K]^T + bias[N]); all rows contiguous; bias may be NULL. */
sc_status sc_cu_linear(sc_cuda_ctx *ctx, int64_t M, int64_t N, int64_t K, const sc_bf16 *a, const sc_bf16 *w,
                       const sc_bf16 *bias, sc_bf16 *out, sc_epilogue ep);

/* Shapes of a dense convolution, in the sc_ops.h layouts (x [B,H,W,Ci], out [B,Ho,Wo,Co]). */
typedef struct {
    int64_t B, H, W, Ci, Co, kh, kw, Ho, Wo;
    int64_t stride, pad;
} sc_cu_conv_shape;

/* conv2d: w [Co, kh, kw, Ci]. conv_transpose2d: w [kh, kw, Co, Ci]. */
sc_status sc_cu_conv2d(sc_cuda_ctx *ctx, const sc_cu_conv_shape *s, const sc_bf16 *x, const sc_bf16 *w,
                       const sc_bf16 *bias, sc_bf16 *out, sc_epilogue ep);
sc_status sc_cu_conv_transpose2d(sc_cuda_ctx *ctx, const sc_cu_conv_shape *s, const sc_bf16 *x, const sc_bf16 *w,
                                 const sc_bf16 *bias, sc_bf16 *out, sc_epilogue ep);

/* x [B,H,W,C], w [3,3,C]; replicate: edge padding instead of zeros. */
sc_status sc_cu_depthwise3x3(int64_t B, int64_t H, int64_t W, int64_t C, const sc_bf16 *x, const sc_bf16 *w,
                             const sc_bf16 *bias, int replicate, sc_bf16 *out, sc_epilogue ep);

/* Rows of C: y = (x - mean) rstd * (gamma ? gamma[c] : gs) + (beta ? beta[c] : bs). out may equal x. */
sc_status sc_cu_layernorm(int64_t rows, int64_t C, const sc_bf16 *x, const sc_bf16 *gamma, const sc_bf16 *beta,
                          float gs, float bs, float eps, sc_bf16 *out);
/* GlobalResponseNorm over x [B, HW, C]. out may equal x. */
sc_status sc_cu_grn(sc_cuda_ctx *ctx, int64_t B, int64_t HW, int64_t C, const sc_bf16 *x, const sc_bf16 *gamma,
                    const sc_bf16 *beta, float eps, sc_bf16 *out);

/* Elementwise over n elements; out may equal any input. */
sc_status sc_cu_activation(int64_t n, const sc_bf16 *x, sc_act act, sc_bf16 *out);
sc_status sc_cu_add(int64_t n, const sc_bf16 *a, const sc_bf16 *b, sc_bf16 *out);
sc_status sc_cu_mul(int64_t n, const sc_bf16 *a, const sc_bf16 *b, sc_bf16 *out);
sc_status sc_cu_lerp(int64_t n, const sc_bf16 *a, const sc_bf16 *b, float w, sc_bf16 *out);
/* x [B, rows_per_batch, C], a/b [B, C]: out = x (1 + a) + b. */
sc_status sc_cu_scale_shift(int64_t B, int64_t rows_per_batch, int64_t C, const sc_bf16 *x, const sc_bf16 *a,
                            const sc_bf16 *b, sc_bf16 *out);
/* out[rows, C] += v[C]. */
sc_status sc_cu_add_channel_vector(int64_t rows, int64_t C, const sc_bf16 *v, sc_bf16 *out);

/* q [B,Tq,heads*d], k/v [B,Tk,heads*d], out like q; key_mask int64 [B,Tk] or NULL. */
sc_status sc_cu_attention(int64_t B, int64_t Tq, int64_t Tk, int64_t heads, int64_t d, const sc_bf16 *q,
                          const sc_bf16 *k, const sc_bf16 *v, float scale, int causal, const int64_t *key_mask,
                          sc_bf16 *out);
/* The largest head size sc_cu_attention supports. */
#define SC_CU_ATTENTION_MAX_HEAD_DIM 256

/* x [B,Hi,Wi,C] -> out [B,Ho,Wo,C], bilinear, align_corners=True. */
sc_status sc_cu_resize_bilinear(int64_t B, int64_t Hi, int64_t Wi, int64_t Ho, int64_t Wo, int64_t C,
                                const sc_bf16 *x, sc_bf16 *out);
/* big [B, h*r, w*r, C] <-> small [B, h, w, C*r*r]; to_small: unshuffle (big -> small). */
sc_status sc_cu_pixel_shuffle(int64_t B, int64_t h, int64_t w, int64_t C, int64_t r, int to_small, const sc_bf16 *src,
                              sc_bf16 *dst);
/* out[o, :] = [a[o, 0:na], b[o, 0:nb]] for o < outer. */
sc_status sc_cu_concat(int64_t outer, int64_t na, int64_t nb, const sc_bf16 *a, const sc_bf16 *b, sc_bf16 *out);
/* `mats` row-major [R, S] matrices -> [S, R] (NCHW <-> NHWC). */
sc_status sc_cu_transpose(int64_t mats, int64_t R, int64_t S, const sc_bf16 *src, sc_bf16 *dst);
/* out[i, :] = table[ids[i], :] for i < n; an id outside [0, V) fails with SC_ERR_VALUE (a host sync). */
sc_status sc_cu_embedding(sc_cuda_ctx *ctx, int64_t n, int64_t C, int64_t V, const sc_bf16 *table, const int64_t *ids,
                          sc_bf16 *out);

#ifdef __cplusplus
}
#endif

#endif
