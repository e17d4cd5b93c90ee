/* AVX-512 GEMM microkernel: a 14 x 32 tile in 28 zmm accumulators; each k step loads two B
 * vectors and broadcasts 14 A values (31 of the 32 registers live). Compiled with target
 * attributes so the rest of the build keeps the baseline ISA. */
#include "cpu_gemm_impl.h"
#include "cpu_kernels.h"

#if defined(SC_GEMM_HAVE_X86)
#include <immintrin.h>

#include "cpu_gemm_store.h"

#define MR 14
#define NR 32

static CPU_AVX512_ATTR void kernel_avx512(int64_t kc, const float *ap, const float *bp, float *tile)
{
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *a = ap + k * MR;
        __m512 b0 = _mm512_load_ps(bp + k * NR), b1 = _mm512_load_ps(bp + k * NR + 16);
#pragma GCC unroll 14
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        _mm512_store_ps(tile + r * NR, acc[r][0]);
        _mm512_store_ps(tile + r * NR + 16, acc[r][1]);
    }
}

/* the packing is the AVX2 one (every AVX-512 CPU has AVX2, but say so) */
static int avx512_available(void) { return sc_cpu_has_avx512f() && sc_cpu_has_avx2_fma(); }

static CPU_AVX512_ATTR void store_avx512(float *tile, int ld_tile, int mr, int nr, float *c, int64_t ldc,
                                         const sc_gemm_store *st)
{
    sc_gemm_store_body(tile, ld_tile, mr, nr, c, ldc, st);
}

const sc_gemm_impl sc_gemm_impl_avx512 = {
    .name = "avx512", .mr = MR, .nr = NR, .kc = 2048, .packed_bytes = 4,
    .available = avx512_available,
    .pack_a = sc_gemm_pack_panels_avx2,
    .pack_b = sc_gemm_pack_panels_avx2,
    .pack_b_bf16 = sc_gemm_pack_panels_bf16_avx2,
    .kernel = kernel_avx512,
    .store = store_avx512,
};
#endif
