/* Portable GEMM microkernel (plain C; the compiler may vectorize it for the baseline ISA).
 * Used on CPUs without AVX2+FMA and selectable with SC_GEMM_KERNEL=scalar for testing. */
#include "cpu_gemm_impl.h"

#define MR 4
#define NR 8

static int scalar_available(void) { return 1; }

static void kernel_scalar(int64_t kc, const float *ap, const float *bp, float *tile)
{
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        const float *a = ap + k * MR, *b = bp + k * NR;
        for (int r = 0; r < MR; r++)
            for (int c = 0; c < NR; c++)
                acc[r][c] += a[r] * b[c];
    }
    for (int r = 0; r < MR; r++)
        for (int c = 0; c < NR; c++)
            tile[r * NR + c] = acc[r][c];
}

const sc_gemm_impl sc_gemm_impl_scalar = {
    .name = "scalar", .mr = MR, .nr = NR, .kc = 256, .mc = 256, .nc = 512,
    .available = scalar_available, .kernel = kernel_scalar,
};
