/* Bit-exact scalar emulations of the float32 math of torch's AVX2 normal sampler (see sc_torch_math.h).
 *
 * The constants are the float32 literals of the originals. fmaf() marks exactly the multiply-add
 * pairs that are fused in torch's build; every other operation is a separately rounded float op. */
#include "sc_bits.h"
#include "sc_torch_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* fmaf() is exact either way; on CPUs with FMA the clone inlines it instead of calling libm. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SC_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define SC_FMA_CLONES
#endif

static float flip_sign(float f, int flip)
{
    return flip ? sc_bits_f32(sc_f32_bits(f) ^ 0x80000000u) : f;
}

SC_FMA_CLONES float sc_tm_log_avx2(float x)
{
    static const float p[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                               -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
                               2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};
    const float min_norm = sc_bits_f32(0x00800000u);
    if (x < min_norm) /* _mm256_max_ps(x, min_norm): cut off denormals (x > 0 here) */
        x = min_norm;
    uint32_t bits = sc_f32_bits(x);
    float e = (float)((int32_t)(bits >> 23) - 0x7f) + 1.0f;
    x = sc_bits_f32((bits & ~0x7f800000u) | sc_f32_bits(0.5f)); /* mantissa in [0.5, 1) */
    if (x < 0.707106781186547524f) {
        e = e - 1.0f;
        x = (x - 1.0f) + x;
    } else {
        x = x - 1.0f;
    }
    float z = x * x;
    float y = p[0];
    for (int i = 1; i < 9; i++)
        y = fmaf(y, x, p[i]);
    y = y * x;
    y = fmaf(y, z, e * -2.12194440e-4f); /* y*z fused, e*q1 rounded on its own */
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    return fmaf(e, 0.693359375f, x);
}

SC_FMA_CLONES void sc_tm_sincos_avx2(float x, float *sin_out, float *cos_out)
{
    int sign_sin = (sc_f32_bits(x) >> 31) != 0;
    x = fabsf(x);
    int32_t j = (int32_t)(x * 1.27323954473516f); /* cvttps: truncation */
    j = (j + 1) & ~1;
    float y = (float)j;
    int swap_sin = (j & 4) != 0;
    int poly_is_sin = (j & 2) == 0; /* which polynomial yields the sine */
    x = fmaf(y, -0.78515625f, x);
    x = fmaf(y, -2.4187564849853515625e-4f, x);
    x = fmaf(y, -3.77489497744594108e-8f, x);
    int sign_cos = ((~(j - 2)) & 4) != 0;
    sign_sin ^= swap_sin;

    float z = x * x;
    float pc = 2.443315711809948E-5f;
    pc = fmaf(pc, z, -1.388731625493765E-3f);
    pc = fmaf(pc, z, 4.166664568298827E-2f);
    pc = pc * z;
    pc = fmaf(pc, z, -(z * 0.5f));
    pc = pc + 1.0f;

    float ps = -1.9515295891E-4f;
    ps = fmaf(ps, z, 8.3321608736E-3f);
    ps = fmaf(ps, z, -1.6666654611E-1f);
    ps = ps * z;
    ps = fmaf(ps, x, x);

    /* The original blends with and/andnot and adds the masked-out lane as +0.0f. */
    float s = poly_is_sin ? 0.0f + ps : pc + 0.0f;
    float c = poly_is_sin ? pc + 0.0f : 0.0f + ps;
    *sin_out = flip_sign(s, sign_sin);
    *cos_out = flip_sign(c, sign_cos);
}
