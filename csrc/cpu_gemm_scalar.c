/* Portable GEMM microkernel and store (plain C; the compiler may vectorize both for the baseline
 * ISA; the activations are the ops' own, cpu_vmath.h). Used on CPUs without AVX2+FMA, and
 * selectable with SC_GEMM_KERNEL=scalar as the reference the vector paths are tested against. */
#include "cpu_gemm_impl.h"
#include "cpu_gemm_store.h"
#include "cpu_kernels.h"

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

static void store_scalar(float *tile, int ld_tile, int mr, int nr, float *c, int64_t ldc, const sc_gemm_store *st)
{
    sc_gemm_store_body(tile, ld_tile, mr, nr, c, ldc, st);
}

const sc_gemm_impl sc_gemm_impl_scalar = {
    .name = "scalar", .mr = MR, .nr = NR, .kc = 512, .packed_bytes = 4,
    .available = scalar_available,
    .pack_a = sc_gemm_pack_panels,
    .pack_b = sc_gemm_pack_panels,
    .pack_b_bf16 = sc_gemm_pack_panels_bf16,
    .kernel = kernel_scalar,
    .store = store_scalar,
};
