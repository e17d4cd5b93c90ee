/* The op interface: the one table of operations that the networks are written against
 * and that every backend (CPU now, CUDA in cuda/) implements.
 *
 * Layout rules (DESIGN.md principle 2):
 *   - activations are channels-last and contiguous: images [B, H, W, C], tokens [B, T, C];
 *     "rows" means the product of every dim but the last;
 *   - weights are stored in the layout the op wants, produced once at load time:
 *       linear            w [N, K]            (torch Linear layout, y = x w^T + b)
 *       conv2d            w [Co, kh, kw, Ci]  (torch [Co, Ci, kh, kw] permuted)
 *       conv_transpose2d  w [kh, kw, Co, Ci]  (torch [Ci, Co, kh, kw] permuted)
 *       depthwise3x3      w [3, 3, C]         (torch [C, 1, 3, 3] permuted)
 *   - all tensors of one call live on the backend's device and share its compute dtype
 *     (float32 on the CPU), except masks/ids (int64) and dense weights, which may also have
 *     the backend's compact_weight_dtype.
 *
 * The epilogue shared by linear/conv ops:
 *     out = (accumulate ? out : 0) + alpha * act(op(x) + bias)
 * which covers residual adds (`x + f(x)`) and Stage A's gamma-scaled residuals.
 *
 * `out` may alias `x` only where an op says so (elementwise ops, layernorm, grn).
 * Every op validates shapes and returns SC_ERR_VALUE with a message on mismatch. */
#ifndef SC_OPS_H
#define SC_OPS_H

#include "sc_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GELU is the exact (erf) form; QUICK_GELU is x * sigmoid(1.702 x) (OpenAI CLIP, transformers "quick_gelu"). */
typedef enum { SC_ACT_NONE = 0, SC_ACT_GELU, SC_ACT_SILU, SC_ACT_QUICK_GELU } sc_act;
typedef enum { SC_PAD_ZERO = 0, SC_PAD_REPLICATE } sc_pad_mode;

typedef struct {
    sc_act act;
    float alpha;    /* 1 for a plain op */
    int accumulate; /* add into out instead of overwriting it */
} sc_epilogue;

#define SC_EPILOGUE_PLAIN ((sc_epilogue){SC_ACT_NONE, 1.0f, 0})

typedef struct sc_backend sc_backend;

struct sc_backend {
    const char *name;
    sc_device device;
    sc_dtype dtype; /* compute dtype of activations and weights */
    /* The other dtype dense weights may have: w of linear, conv2d and conv_transpose2d and the
     * embedding table (bfloat16 on the CPU, widened exactly as they are read, which halves the
     * memory of bf16 checkpoints); equal to dtype where there is no other. */
    sc_dtype compact_weight_dtype;

    /* out[rows, N] <- x[rows, K] w[N, K]^T + bias[N]   (bias may be NULL) */
    sc_status (*linear)(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                        const sc_tensor *bias, sc_epilogue ep);

    /* Dense conv, zero padding, no groups: x [B,H,W,Ci] -> out [B,Ho,Wo,Co],
     * Ho = (H + 2 pad - k) / stride + 1. */
    sc_status (*conv2d)(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                        const sc_tensor *bias, int stride, int pad, sc_epilogue ep);

    /* Transposed conv (torch ConvTranspose2d semantics): Ho = (H - 1) stride - 2 pad + k. */
    sc_status (*conv_transpose2d)(sc_backend *be, sc_tensor *out, const sc_tensor *x,
                                  const sc_tensor *w, const sc_tensor *bias, int stride, int pad,
                                  sc_epilogue ep);

    /* 3x3 depthwise conv, stride 1, padding 1 (zeros or replicate): [B,H,W,C] -> same. */
    sc_status (*depthwise3x3)(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                              const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep);

    /* LayerNorm over the last dim (biased variance): y = (x - mean) / sqrt(var + eps) * gamma + beta.
     * gamma/beta may be NULL (no affine). out may alias x. */
    sc_status (*layernorm)(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                           const sc_tensor *beta, float eps);

    /* LayerNorm with scalar affine as Stage A uses it: y = LN(x) * (1 + g) + b. out may alias x. */
    sc_status (*layernorm_scalar_affine)(sc_backend *be, sc_tensor *out, const sc_tensor *x, float g,
                                         float b, float eps);

    /* GlobalResponseNorm on [B,H,W,C]: G = ||x||_2 over H,W per (b,c); N = G / (mean_c G + eps);
     * y = gamma * (x * N) + beta + x. out may alias x. */
    sc_status (*grn)(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                     const sc_tensor *beta, float eps);

    /* Elementwise; out may alias any input. */
    sc_status (*activation)(sc_backend *be, sc_tensor *out, const sc_tensor *x, sc_act act);
    sc_status (*add)(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b);
    sc_status (*mul)(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b);
    /* out = a + w (b - a)   (torch.lerp, used by classifier-free guidance) */
    sc_status (*lerp)(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, float w);
    /* Timestep modulation: x [B, ..., C], a/b [B, C]: out = x * (1 + a) + b, broadcast over the middle dims. */
    sc_status (*scale_shift)(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                             const sc_tensor *b);
    /* out[..., C] += v[C] broadcast over rows (a per-channel constant). */
    sc_status (*add_channel_vector)(sc_backend *be, sc_tensor *out, const sc_tensor *v);

    /* Multi-head attention. q [B,Tq,H*d], k/v [B,Tk,H*d] -> out [B,Tq,H*d]; head h owns channels
     * [h*d, (h+1)*d). softmax(q k^T * scale) v, with key j of query i masked out when
     * causal && j > i, or key_mask (int64 [B,Tk], may be NULL) is 0. A query whose keys are all
     * masked gets a zero output. */
    sc_status (*attention)(sc_backend *be, sc_tensor *out, const sc_tensor *q, const sc_tensor *k,
                           const sc_tensor *v, int heads, float scale, int causal,
                           const sc_tensor *key_mask);

    /* Bilinear resize, align_corners=True, no antialias (F.interpolate semantics):
     * x [B,H,W,C] -> out [B,Ho,Wo,C]. */
    sc_status (*resize_bilinear)(sc_backend *be, sc_tensor *out, const sc_tensor *x);

    /* torch PixelUnshuffle/PixelShuffle in channels-last form: channel c*r*r + dy*r + dx of the
     * small image holds pixel (r*h+dy, r*w+dx) of channel c of the big one. */
    sc_status (*pixel_unshuffle)(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r);
    sc_status (*pixel_shuffle)(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r);

    /* Concatenate along `axis` (all other dims equal). */
    sc_status (*concat)(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, int axis);

    /* Layout changes at the API boundary: [B,C,H,W] <-> [B,H,W,C]. */
    sc_status (*nchw_to_nhwc)(sc_backend *be, sc_tensor *out, const sc_tensor *x);
    sc_status (*nhwc_to_nchw)(sc_backend *be, sc_tensor *out, const sc_tensor *x);

    /* out[b, t, :] = table[ids[b, t], :]; ids int64 [B, T], checked against the table size. */
    sc_status (*embedding)(sc_backend *be, sc_tensor *out, const sc_tensor *table, const sc_tensor *ids);

    /* Backend-private state (thread pool, scratch, cuBLASLt handle, ...). */
    void *impl;
};

/* The process-wide CPU backend (float32). Its thread count follows sc_cpu_set_threads. */
sc_backend *sc_cpu_backend(void);
int sc_cpu_threads(void);
void sc_cpu_set_threads(int n);
/* Comma-separated CPU features detected at run time and used by the kernels ("avx2,fma,..."). */
const char *sc_cpu_features(void);

#ifdef __cplusplus
}
#endif

#endif
