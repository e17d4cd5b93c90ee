/* The one implementation of the CPU's vectorizable math: exp, exact GELU, SiLU and quick GELU,
 * and the linear/conv epilogue built on them. Used by the op kernels (through cpu_util.h) and by
 * the GEMM tile stores (cpu_gemm_vstore.h, cpu_gemm_scalar.c).
 *
 * Each function is written for one float, branch-free (selects between computed values) and
 * always inlined, so a loop calling it vectorizes for the ISA of the function it is inlined
 * into (a target attribute or CPU_MULTIVERSION in cpu_util.h): one source for the baseline,
 * AVX2 and AVX-512 code. Inputs are clamped first so that no lane, not even one a select
 * discards, computes a subnormal: those cost a microcode assist of ~100 cycles per instruction
 * on x86.
 *
 * Accuracy (tests/test_ops.py::test_activation_relative_accuracy and
 * tests/test_gemm.py::test_vector_activations measure it against float64): exp within ~2e-7
 * relative; GELU, SiLU and quick GELU within ~5e-7 relative everywhere, the negative tails
 * included (GELU uses erfc, not 1 + erf, so nothing cancels). */
#ifndef SC_CPU_VMATH_H
#define SC_CPU_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sc_ops.h"

/* The CPU kernels never read floating-point exception flags. Without -ftrapping-math GCC may
 * if-convert float compares and selects, which the vectorizable math below relies on (clang
 * already defaults to this). Applies to the rest of each file including this header. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define CPU_INLINE static inline __attribute__((always_inline))

/* The attributes of the AVX2 and AVX-512 variants of vectorized code (the op kernels through
 * CPU_MULTIVERSION in cpu_util.h, the GEMM microkernel files): the ISA, 512-bit vectors for
 * the auto-vectorizer, and a * b + c contracted into fused multiply-adds (so their results may
 * differ from the baseline's by rounding). */
#if defined(__clang__)
#define CPU_AVX2_ATTR __attribute__((target("avx2,fma")))
#define CPU_AVX512_ATTR __attribute__((target("avx512f,avx2,fma")))
#else
#define CPU_AVX2_ATTR __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#define CPU_AVX512_ATTR \
    __attribute__((target("avx512f,avx2,fma,prefer-vector-width=512"), optimize("fp-contract=fast")))
#endif

/* e^(hi + lo) for hi + lo in [-87, 88], relative error ~2e-7, where lo carries the low part of
 * an argument hi + lo that one float would round (cpu_gelu's -x^2/2). */
CPU_INLINE float cpu_exp_split(float hi, float lo)
{
    /* hi + lo = n ln2 + r, |r| <= ln2/2. Adding `magic` (1.5 * 2^23) rounds (hi + lo) log2(e)
     * to the integer n, held in the low mantissa bits of t; ln2 is split (Cody-Waite) so that
     * hi - n ln2_hi is exact. */
    const float magic = 12582912.0f;
    const float t = (hi + lo) * 1.44269504088896341f + magic;
    const float n = t - magic;
    uint32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    float r = hi - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    r = r + lo;
    /* minimax polynomial for e^r (Cephes expf) */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const uint32_t sbits = (tbits - 0x4B400000u + 127u) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &sbits, sizeof scale);
    return p * scale;
}

/* e^x with relative error ~2e-7 for x in [-87, 88]; 0 below -87, e^88 above 88. */
CPU_INLINE float cpu_exp(float x)
{
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    const float y = cpu_exp_split(xc, 0.0f);
    return x < -87.0f ? 0.0f : y;
}

/* Exact-form GELU, 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2), relative error below 5e-7
 * (no cancellation for negative x); 0 below x = -12.5 where |GELU| < 1e-34. erfc(z) =
 * t exp(-z^2 + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, fractional error < 1.2e-7);
 * z^2 = x^2/2 is split so that its large part reaches exp's argument reduction exactly. The
 * exponent stays above -80 (z^2 <= 78.2, P(t) > -1.3). */
CPU_INLINE float cpu_gelu(float x)
{
    float ax = fabsf(x);
    ax = ax < 12.5f ? ax : 12.5f; /* NaN also maps here; x keeps it */
    const float t = 1.0f / (1.0f + 0.35355339059327376f * ax);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    uint32_t abits;
    memcpy(&abits, &ax, sizeof abits);
    abits &= 0xFFFFF000u; /* ah keeps 12 significant bits, so ah * ah is exact */
    float ah;
    memcpy(&ah, &abits, sizeof ah);
    const float al = ax - ah;
    const float erfc = t * cpu_exp_split(-0.5f * (ah * ah), p - 0.5f * al * (ax + ah));
    const float h = 0.5f * x;
    const float neg = x < -12.5f ? 0.0f : h * erfc;
    return x >= 0.0f ? h * (2.0f - erfc) : neg;
}

/* SiLU x / (1 + e^-x); 0 below x = -80 where |SiLU| < 2e-33. */
CPU_INLINE float cpu_silu(float x)
{
    const float xs = x < -80.0f ? -80.0f : x;
    const float y = xs / (1.0f + cpu_exp(-xs));
    return x < -80.0f ? 0.0f : y;
}

/* Quick GELU x / (1 + e^(-1.702 x)) (transformers' QuickGELUActivation); 0 below x = -47 where
 * |y| < 1e-33. */
CPU_INLINE float cpu_quick_gelu(float x)
{
    const float xs = x < -47.0f ? -47.0f : x;
    const float y = xs / (1.0f + cpu_exp(-1.702f * xs));
    return x < -47.0f ? 0.0f : y;
}

/* The epilogue of sc_ops.h with the bias already in acc:
 *     dst = (ep.accumulate ? dst : 0) + ep.alpha * act(acc)      (dst may equal acc)
 * one loop per case, so each is a plain vectorizable loop. */
#define CPU_EPILOGUE_LOOP(f)                              \
    do {                                                  \
        if (ep.accumulate)                                \
            for (int64_t i = 0; i < n; i++)               \
                dst[i] += ep.alpha * f(acc[i]);           \
        else if (ep.alpha != 1.0f)                        \
            for (int64_t i = 0; i < n; i++)               \
                dst[i] = ep.alpha * f(acc[i]);            \
        else                                              \
            for (int64_t i = 0; i < n; i++)               \
                dst[i] = f(acc[i]);                       \
    } while (0)
#define CPU_IDENTITY(v) (v)

CPU_INLINE void cpu_epilogue_body(float *dst, const float *acc, int64_t n, sc_epilogue ep)
{
    if (ep.act == SC_ACT_GELU)
        CPU_EPILOGUE_LOOP(cpu_gelu);
    else if (ep.act == SC_ACT_SILU)
        CPU_EPILOGUE_LOOP(cpu_silu);
    else if (ep.act == SC_ACT_QUICK_GELU)
        CPU_EPILOGUE_LOOP(cpu_quick_gelu);
    else if (ep.accumulate || ep.alpha != 1.0f)
        CPU_EPILOGUE_LOOP(CPU_IDENTITY);
    else if (dst != acc)
        memmove(dst, acc, (size_t)n * sizeof *dst);
}

#endif
