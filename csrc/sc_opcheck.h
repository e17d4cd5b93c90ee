/* Argument checks for op implementations, parameterized by the backend's device and dtype.
 * Every check sets a ValueError that names the op and the argument ("linear: w must be ...").
 * Both backends (cpu_*.c, cuda_ops_*.c) validate their arguments with these. */
#ifndef SC_OPCHECK_H
#define SC_OPCHECK_H

#include "sc_ops.h"

/* `t` is a non-NULL tensor on `be`'s device of dtype `dt`, of rank `ndim` (ndim < 0: any rank >= 1). */
sc_status sc_opcheck_tensor(const sc_backend *be, const sc_tensor *t, sc_dtype dt, const char *op, const char *what,
                            int ndim);
/* Shorthand for a tensor in the backend's compute dtype. */
sc_status sc_opcheck_act(const sc_backend *be, const sc_tensor *t, const char *op, const char *what, int ndim);
/* A dense weight (linear/conv w, embedding table): like sc_opcheck_act, but the backend's
 * compact_weight_dtype is accepted as well. */
sc_status sc_opcheck_weight(const sc_backend *be, const sc_tensor *t, const char *op, const char *what, int ndim);
/* `t` has exactly `shape` (entries < 0 match anything). */
sc_status sc_opcheck_shape(const sc_tensor *t, const char *op, const char *what, int ndim, const int64_t *shape);
/* A per-channel vector (bias, gamma, beta) in the compute dtype: NULL, or [n]. */
sc_status sc_opcheck_vector(const sc_backend *be, const sc_tensor *v, const char *op, const char *what, int64_t n);
/* The memory of `out` and `in` does not overlap (for ops that cannot work in place). */
sc_status sc_opcheck_no_alias(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what);
/* out and in either do not overlap or are exactly the same buffer of the same size (in-place ops). */
sc_status sc_opcheck_same_or_disjoint(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what);
sc_status sc_opcheck_epilogue(sc_epilogue ep, const char *op);

/* ---- complete argument validation of each op in sc_ops.h ----
 * One function per op (or per family sharing checks, named by `op`), called first by every
 * backend's implementation; on success the kernel may rely on every shape relation the op
 * documents (e.g. out->shape holds the output size). Values the kernels need beyond the
 * shapes are returned through pointers. */
sc_status sc_opcheck_linear(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, sc_epilogue ep);
sc_status sc_opcheck_conv2d(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                            const sc_tensor *bias, int stride, int pad, sc_epilogue ep);
sc_status sc_opcheck_conv_transpose2d(const sc_backend *be, const sc_tensor *out, const sc_tensor *x,
                                      const sc_tensor *w, const sc_tensor *bias, int stride, int pad,
                                      sc_epilogue ep);
sc_status sc_opcheck_depthwise3x3(const sc_backend *be, const sc_tensor *out, const sc_tensor *x,
                                  const sc_tensor *w, const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep);
sc_status sc_opcheck_attention(const sc_backend *be, const sc_tensor *out, const sc_tensor *q, const sc_tensor *k,
                               const sc_tensor *v, int heads, float scale, const sc_tensor *key_mask);
/* layernorm and layernorm_scalar_affine (gamma = beta = NULL), named by `op`. */
sc_status sc_opcheck_layernorm(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *x,
                               const sc_tensor *gamma, const sc_tensor *beta, float eps);
sc_status sc_opcheck_grn(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                         const sc_tensor *beta, float eps);
/* Elementwise ops (add, mul, lerp: b given; activation-like: b NULL): out and the inputs share
 * out's shape, each input is out itself or disjoint from it. */
sc_status sc_opcheck_elementwise(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *a,
                                 const char *a_name, const sc_tensor *b, const char *b_name);
sc_status sc_opcheck_activation(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, sc_act act);
sc_status sc_opcheck_scale_shift(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                                 const sc_tensor *b);
sc_status sc_opcheck_add_channel_vector(const sc_backend *be, const sc_tensor *out, const sc_tensor *v);
sc_status sc_opcheck_resize_bilinear(const sc_backend *be, const sc_tensor *out, const sc_tensor *x);
sc_status sc_opcheck_pixel_unshuffle(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, int r);
sc_status sc_opcheck_pixel_shuffle(const sc_backend *be, const sc_tensor *out, const sc_tensor *x, int r);
/* *axis is normalized in place to [0, ndim). */
sc_status sc_opcheck_concat(const sc_backend *be, const sc_tensor *out, const sc_tensor *a, const sc_tensor *b,
                            int *axis);
/* nchw_to_nhwc (to_nhwc = 1) and nhwc_to_nchw (to_nhwc = 0), named by `op`. */
sc_status sc_opcheck_layout_change(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *x,
                                   int to_nhwc);
/* Shapes only: the ids' range is checked where they can be read (the CPU kernel). */
sc_status sc_opcheck_embedding(const sc_backend *be, const sc_tensor *out, const sc_tensor *table,
                               const sc_tensor *ids);

#endif
