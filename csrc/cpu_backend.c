/* The CPU backend: thread count, feature detection and the op table (float32). */
#include "cpu_kernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int g_threads;

int sc_cpu_threads(void)
{
    int n = atomic_load(&g_threads);
    if (n > 0)
        return n;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    n = cores > 0 ? (int)cores : 1;
    atomic_store(&g_threads, n);
    return n;
}

void sc_cpu_set_threads(int n) { atomic_store(&g_threads, n > 0 ? n : 1); }

int sc_cpu_has_avx2_fma(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int sc_cpu_has_avx512f(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

const char *sc_cpu_features(void)
{
    static char buf[64];
    if (!buf[0])
        snprintf(buf, sizeof buf, "%s%s%s", sc_cpu_has_avx2_fma() ? "avx2,fma" : "scalar",
                 sc_cpu_has_avx512f() ? ",avx512f" : "", sc_cpu_has_amx_bf16() ? ",amx-bf16" : "");
    return buf;
}

static sc_backend cpu_backend = {
    .name = "cpu",
    .device = SC_CPU,
    .dtype = SC_F32,
    .compact_weight_dtype = SC_BF16,
    .linear = cpu_linear,
    .conv2d = cpu_conv2d,
    .conv_transpose2d = cpu_conv_transpose2d,
    .depthwise3x3 = cpu_depthwise3x3,
    .layernorm = cpu_layernorm,
    .layernorm_scalar_affine = cpu_layernorm_scalar_affine,
    .grn = cpu_grn,
    .activation = cpu_activation,
    .add = cpu_add,
    .mul = cpu_mul,
    .lerp = cpu_lerp,
    .scale_shift = cpu_scale_shift,
    .add_channel_vector = cpu_add_channel_vector,
    .attention = cpu_attention,
    .resize_bilinear = cpu_resize_bilinear,
    .pixel_unshuffle = cpu_pixel_unshuffle,
    .pixel_shuffle = cpu_pixel_shuffle,
    .concat = cpu_concat,
    .nchw_to_nhwc = cpu_nchw_to_nhwc,
    .nhwc_to_nchw = cpu_nhwc_to_nchw,
    .embedding = cpu_embedding,
    .impl = NULL,
};

sc_backend *sc_cpu_backend(void) { return &cpu_backend; }
