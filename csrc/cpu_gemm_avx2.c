/* AVX2+FMA GEMM microkernel: a 6 x 16 tile in 12 ymm accumulators (two B vectors and one
 * broadcast A value per step leave the 16 registers just enough room). Compiled with a
 * target attribute so the rest of the build keeps the baseline ISA. */
#include "cpu_gemm_impl.h"
#include "cpu_kernels.h"

#if defined(SC_GEMM_HAVE_X86)
#include <immintrin.h>

#define MR 6
#define NR 16

__attribute__((target("avx2,fma"))) static void kernel_avx2(int64_t kc, const float *ap, const float *bp,
                                                             float *tile)
{
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *a = ap + k * MR;
        __m256 b0 = _mm256_load_ps(bp + k * NR), b1 = _mm256_load_ps(bp + k * NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm256_store_ps(tile + r * NR, acc[r][0]);
        _mm256_store_ps(tile + r * NR + 8, acc[r][1]);
    }
}

const sc_gemm_impl sc_gemm_impl_avx2 = {
    .name = "avx2", .mr = MR, .nr = NR, .kc = 384, .mc = 768, .nc = 1024,
    .available = sc_cpu_has_avx2_fma, .kernel = kernel_avx2,
};
#endif
