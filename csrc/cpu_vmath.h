/* Vectorized exp, erf, GELU (exact, erf-based), SiLU and quick GELU, written once with GCC vector types
 * for any lane count. The including file defines, before including it:
 *   SC_VW             lanes (8 for AVX2, 16 for AVX-512);
 *   SC_VTARGET        the target attribute of its ISA, put on every function here so that
 *                     they compile for that ISA only (GCC and clang alike);
 *   SC_VFMA(a, b, c)  a * b + c as one fused instruction (its ISA's intrinsic).
 *
 * Accuracy (tests/test_gemm.py::test_vector_activations measures it against float64):
 *   exp: Cephes expf reduction and polynomial, a couple of ulps on [-87, 88]; inputs are
 *        clamped to that range (exp(-87) ~ 1.6e-38 is still normal);
 *   erf: |x| < 1.5: x P(x^2); 1.5 <= |x| <= 4: 1 - exp(-x^2) Q(|x| - 2.75); beyond: +-1.
 *        The fits (weighted least squares, refined to near-minimax) are accurate to 1e-9, so
 *        the float evaluation leaves an absolute error of about 1e-7 -- what erff's own
 *        rounding near +-1 leaves. No division;
 *   GELU/SiLU/quick GELU: the formulas of sc_gelu_exact / sc_silu / sc_quick_gelu on top of these.
 * NaN propagates; +-inf give what the scalar formulas give except silu(-inf) and quick_gelu(-inf)
 * (here -inf). */
#ifndef SC_CPU_VMATH_H
#define SC_CPU_VMATH_H

#include <stdint.h>

#if !defined(SC_VW) || !defined(SC_VTARGET) || !defined(SC_VFMA)
#error "define SC_VW, SC_VTARGET and SC_VFMA before including cpu_vmath.h"
#endif

typedef float sc_vf __attribute__((vector_size(SC_VW * sizeof(float))));
typedef int32_t sc_vi __attribute__((vector_size(SC_VW * sizeof(float))));

static inline SC_VTARGET sc_vf sc_vsplat(float x) { return (sc_vf){0} + x; }

/* mask lanes (all ones) take a, the others b */
static inline SC_VTARGET sc_vf sc_vselect(sc_vi mask, sc_vf a, sc_vf b)
{
    return (sc_vf)(((sc_vi)a & mask) | ((sc_vi)b & ~mask));
}

/* c[0] x^(n-1) + ... + c[n-1] (Horner, fused) */
static inline SC_VTARGET sc_vf sc_vhorner(sc_vf x, const float *c, int n)
{
    sc_vf p = sc_vsplat(c[0]);
    for (int i = 1; i < n; i++)
        p = SC_VFMA(p, x, sc_vsplat(c[i]));
    return p;
}

static inline SC_VTARGET sc_vf sc_vexp(sc_vf x)
{
    static const float poly[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    x = sc_vselect(x > 88.0f, sc_vsplat(88.0f), x);
    x = sc_vselect(x < -87.0f, sc_vsplat(-87.0f), x);
    /* x = n ln2 + r with n = round(x / ln2) (adding 1.5 * 2^23 rounds to an integer) and a
     * two-part ln2 so that r is exact; then Cephes expf's polynomial for e^r. */
    sc_vf n = SC_VFMA(x, sc_vsplat(1.44269504088896341f), sc_vsplat(12582912.0f)) - 12582912.0f;
    sc_vf r = SC_VFMA(n, sc_vsplat(-0.693359375f), x);
    r = SC_VFMA(n, sc_vsplat(2.12194440e-4f), r);
    sc_vf p = SC_VFMA(sc_vhorner(r, poly, 6), r * r, r) + 1.0f;
    sc_vi scale = (__builtin_convertvector(n, sc_vi) + 127) << 23;
    return p * (sc_vf)scale;
}

static inline SC_VTARGET sc_vf sc_verf(sc_vf x)
{
    /* |x| < 1.5: erf(x) / x as a polynomial in x^2 (degree 8) */
    static const float small_poly[] = {6.144894655e-07f,  -1.127315682e-05f, 1.128894437e-04f,
                                       -8.450598107e-04f, 5.216483958e-03f,  -2.686289139e-02f,
                                       1.128371879e-01f,  -3.761263192e-01f, 1.128379226e+00f};
    /* 1.5 <= |x| <= 4: exp(x^2) erfc(x) as a polynomial in |x| - 2.75 (degree 6) */
    static const float large_poly[] = {5.114740343e-04f,  3.327614395e-04f,  2.407941967e-03f, -5.760363303e-03f,
                                       1.969083957e-02f,  -6.327592582e-02f, 1.936584562e-01f};
    const sc_vi sign = (sc_vi)x & (int32_t)0x80000000;
    sc_vf a = (sc_vf)((sc_vi)x ^ sign);
    a = sc_vselect(a > 4.0f, sc_vsplat(4.0f), a);
    sc_vf z = a * a;
    sc_vf small = a * sc_vhorner(z, small_poly, 9);
    sc_vf large = 1.0f - sc_vexp(-z) * sc_vhorner(a - 2.75f, large_poly, 7);
    sc_vf r = sc_vselect(a < 1.5f, small, large);
    return (sc_vf)((sc_vi)r | sign);
}

static inline SC_VTARGET sc_vf sc_vgelu(sc_vf x)
{
    return 0.5f * x * (1.0f + sc_verf(x * 0.70710678118654752440f));
}

static inline SC_VTARGET sc_vf sc_vsilu(sc_vf x) { return x / (1.0f + sc_vexp(-x)); }

static inline SC_VTARGET sc_vf sc_vquick_gelu(sc_vf x) { return x / (1.0f + sc_vexp(-1.702f * x)); }

#endif
