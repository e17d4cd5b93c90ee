/* Scalar, bit-exact emulations of the float32 vector math that torch's CPU normal sampler uses
 * (normal_fill_16_AVX2 with ATen/native/cpu/avx_mathfun.h), so that the random numbers match torch
 * on x86 CPUs with AVX2 (and AVX-512, which runs the same kernel). See docs/rng.md and
 * spec/torch_rng.md §5.3.
 *
 * These must be compiled without floating-point contraction (GCC's default under -std=c11; clang
 * is told by a pragma in the .c file): the FMAs that torch's build performs are written out as
 * fmaf() calls, and any other fusion would change the last bit. */
#ifndef SC_TORCH_MATH_H
#define SC_TORCH_MATH_H

/* One lane of log256_ps as GCC contracts it with -mfma. Valid for x in (0, 1], the only inputs
 * the normal sampler gives it. */
float sc_tm_log_avx2(float x);

/* One lane of sincos256_ps as GCC contracts it with -mfma. Valid for x >= 0. */
void sc_tm_sincos_avx2(float x, float *sin_out, float *cos_out);

#endif
