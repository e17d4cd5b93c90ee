/* Declarations of the CPU implementations behind the op table (see sc_ops.h for semantics)
 * and the helpers they share. */
#ifndef SC_CPU_KERNELS_H
#define SC_CPU_KERNELS_H

#include "sc_ops.h"

int sc_cpu_has_avx2_fma(void);
int sc_cpu_has_avx512f(void);
/* AMX-BF16 tiles usable: the CPU has them and the OS granted this process the tile state. */
int sc_cpu_has_amx_bf16(void);
/* The GEMMs' math (linear and the convolutions): "float32" (the default), or "bfloat16": both
 * operands rounded to bfloat16 (nearest even), products accumulated in float32 on AMX tiles,
 * epilogues in float32 -- several times faster and about 3 significant digits. Process-wide;
 * fails with SC_ERR_VALUE for another name or "bfloat16" without AMX-BF16. */
sc_status sc_cpu_set_math(const char *name);
const char *sc_cpu_math(void);

/* Plain float32 GEMM used by linear/conv: C[M,N] = A[M,K] (row stride lda) * B^T where B is
 * [N,K] (row stride ldb) of float32 or bfloat16 (b_dtype SC_F32 / SC_BF16; bfloat16 is
 * widened exactly while packed, so both give the same bits for the same values), then the
 * epilogue with per-column bias (may be NULL):
 * C = (accumulate ? C : 0) + alpha * act(A B^T + bias). Multi-threaded (sc_cpu_threads()).
 * Any M, N, K >= 0 (K == 0: the epilogue of bias alone). C must not overlap A, B or bias.
 * Fails with SC_ERR_VALUE on negative sizes or a leading dimension shorter than its row, and
 * SC_ERR_NOMEM when a thread's packing buffer cannot be allocated (C is then partly written).
 * Design, blocking and the scratch policy: cpu_gemm.c and docs/cpu_gemm.md. */
sc_status sc_cpu_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B, sc_dtype b_dtype,
                         int64_t ldb, float *C, int64_t ldc, const float *bias, sc_epilogue ep);
/* The GEMM microkernel in use: "avx512", "avx2" or "scalar". The default is the best one this
 * CPU has, or SC_GEMM_KERNEL=<name> read at the first GEMM. set_kernel also takes "auto" and
 * fails with SC_ERR_VALUE for a name that is unknown or not supported by this CPU. */
const char *sc_cpu_gemm_kernel(void);
sc_status sc_cpu_gemm_set_kernel(const char *name);
/* The ISA of the other multiversioned CPU op kernels: "avx512", "avx2" or "baseline", the best
 * the CPU has unless capped by sc_cpu_ops_set_isa ("auto" lifts the cap; SC_ERR_VALUE for an
 * unknown name or an ISA this CPU lacks). Tests use it to run every variant. */
const char *sc_cpu_ops_isa(void);
sc_status sc_cpu_ops_set_isa(const char *name);
/* Buffers the CPU ops' scratch pool has allocated or grown so far (tests use it to prove that
 * repeating a pass allocates nothing). */
size_t sc_cpu_scratch_allocations(void);

sc_status cpu_linear(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                     sc_epilogue ep);
sc_status cpu_conv2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                     int stride, int pad, sc_epilogue ep);
sc_status cpu_conv_transpose2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                               const sc_tensor *bias, int stride, int pad, sc_epilogue ep);
sc_status cpu_depthwise3x3(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                           const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep);
sc_status cpu_layernorm(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                        const sc_tensor *beta, float eps);
sc_status cpu_layernorm_scalar_affine(sc_backend *be, sc_tensor *out, const sc_tensor *x, float g, float b,
                                      float eps);
sc_status cpu_grn(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma, const sc_tensor *beta,
                  float eps);
sc_status cpu_activation(sc_backend *be, sc_tensor *out, const sc_tensor *x, sc_act act);
sc_status cpu_add(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b);
sc_status cpu_mul(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b);
sc_status cpu_lerp(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, float w);
sc_status cpu_scale_shift(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                          const sc_tensor *b);
sc_status cpu_add_channel_vector(sc_backend *be, sc_tensor *out, const sc_tensor *v);
sc_status cpu_attention(sc_backend *be, sc_tensor *out, const sc_tensor *q, const sc_tensor *k, const sc_tensor *v,
                        int heads, float scale, int causal, const sc_tensor *key_mask);
sc_status cpu_resize_bilinear(sc_backend *be, sc_tensor *out, const sc_tensor *x);
sc_status cpu_pixel_unshuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r);
sc_status cpu_pixel_shuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r);
sc_status cpu_concat(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, int axis);
sc_status cpu_nchw_to_nhwc(sc_backend *be, sc_tensor *out, const sc_tensor *x);
sc_status cpu_nhwc_to_nchw(sc_backend *be, sc_tensor *out, const sc_tensor *x);
sc_status cpu_embedding(sc_backend *be, sc_tensor *out, const sc_tensor *table, const sc_tensor *ids);

#endif
