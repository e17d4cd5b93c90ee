/* Helpers shared by the CPU op implementations (cpu_*.c): the scratch
 * pool, thread-count choice, the AVX2+FMA dispatch macro, and vectorizable exp/GELU/SiLU/quick
 * GELU and the epilogue built on them. Not part of the op interface. */
#ifndef SC_CPU_UTIL_H
#define SC_CPU_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"
#include "sc_opcheck.h"

/* The CPU kernels never read floating-point exception flags. Without -ftrapping-math GCC may
 * if-convert float compares and selects, which the vectorizable math below relies on (clang
 * already defaults to this). Applies to the rest of each cpu_*.c file including this header. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* Argument checks: sc_opcheck.h (shared with the CUDA backend), with be = sc_cpu_backend(). */

/* ---- scratch memory ----
 * A process-wide pool of grow-only buffers: acquire one (it is yours alone until released),
 * release it when done. Buffers are never shrunk or freed, so once every call site has seen
 * its largest size the steady state allocates nothing. Thread-safe. */
typedef struct cpu_scratch cpu_scratch;
struct cpu_scratch {
    cpu_scratch *next;
    size_t capacity; /* bytes */
    void *data;      /* 64-byte aligned */
};
sc_status cpu_scratch_acquire(size_t bytes, cpu_scratch **out);
void cpu_scratch_release(cpu_scratch *s);

/* ---- threads ---- */

/* Threads for a parallel loop over `work` units of roughly `cost` flops each: 1 when the
 * whole job is too small to repay waking the team. */
int cpu_threads_for(int64_t work, int64_t cost);

/* ---- AVX2 / AVX-512 variants of hot kernels ----
 * CPU_MULTIVERSION(name, params, args) builds the always-inlined `void name##_body params`
 * for the baseline ISA (name##_generic) and, on x86-64, for avx2+fma (name##_avx2) and
 * avx512f (name##_avx512, 512-bit vectors). The x86 variants contract a*b+c into fused
 * multiply-adds, so their results may differ from the baseline's by rounding. CPU_PICK(name)
 * returns the variant of cpu_isa_in_use() (below). The bodies must not contain OpenMP regions (those are
 * outlined before inlining and would keep the baseline ISA): pick the kernel once, then call it
 * per row/tile inside the parallel loop. */
#define CPU_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define CPU_AVX2_ATTR __attribute__((target("avx2,fma")))
#define CPU_AVX512_ATTR __attribute__((target("avx512f,avx2,fma")))
#else
#define CPU_AVX2_ATTR __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#define CPU_AVX512_ATTR \
    __attribute__((target("avx512f,avx2,fma,prefer-vector-width=512"), optimize("fp-contract=fast")))
#endif
/* The variant CPU_PICK chooses (sc_cpu_ops_isa / sc_cpu_ops_set_isa in cpu_kernels.h). */
typedef enum { CPU_ISA_BASELINE = 0, CPU_ISA_AVX2, CPU_ISA_AVX512 } cpu_isa;
cpu_isa cpu_isa_in_use(void);

#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_MULTIVERSION(name, params, args)                         \
    static void name##_generic params { name##_body args; }         \
    CPU_AVX2_ATTR static void name##_avx2 params { name##_body args; } \
    CPU_AVX512_ATTR static void name##_avx512 params { name##_body args; }
#define CPU_PICK(name)                                   \
    (cpu_isa_in_use() == CPU_ISA_AVX512 ? name##_avx512 \
     : cpu_isa_in_use() == CPU_ISA_AVX2 ? name##_avx2   \
                                        : name##_generic)
#else
#define CPU_MULTIVERSION(name, params, args) \
    static void name##_generic params { name##_body args; }
#define CPU_PICK(name) (name##_generic)
#endif

/* ---- vectorizable math ----
 * Branch-free (selects between computed values), so loops calling these vectorize. Inputs are
 * clamped first so that no lane, not even one a select discards, computes a subnormal: those
 * cost a microcode assist of ~100 cycles per instruction on x86. */

/* e^x with relative error ~2e-7 for x in [-87, 88]; 0 below -87, e^88 above 88. */
CPU_INLINE float cpu_exp(float x)
{
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    /* x = n ln2 + r, |r| <= ln2/2. Adding `magic` (1.5 * 2^23) rounds x log2(e) to the integer
     * n, held in the low mantissa bits of t; ln2 is split (Cody-Waite) so r is exact. */
    const float magic = 12582912.0f;
    const float t = xc * 1.44269504088896341f + magic;
    const float n = t - magic;
    uint32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
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
    return x < -87.0f ? 0.0f : p * scale;
}

/* Exact-form GELU, 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2), relative error below 5e-7
 * (no cancellation for negative x); 0 below x = -12.5 where |GELU| < 1e-34. erfc(z) =
 * t exp(-z^2 + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, fractional error < 1.2e-7);
 * z^2 = x^2/2 is split so that its large part reaches exp exactly. */
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
    const float erfc = t * cpu_exp(-0.5f * (ah * ah)) * cpu_exp(p - 0.5f * al * (ax + ah));
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
