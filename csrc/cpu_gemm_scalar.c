/* Portable GEMM microkernel and epilogue (plain C; the compiler may vectorize the kernel for the
 * baseline ISA; activations through libm via sc_gelu_exact / sc_silu / sc_quick_gelu). Used on
 * CPUs without AVX2+FMA, and selectable with SC_GEMM_KERNEL=scalar as the reference the vector
 * paths are tested against. */
#include "cpu_gemm_impl.h"
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

static float apply_act(sc_act act, float v)
{
    switch (act) {
    case SC_ACT_GELU: return sc_gelu_exact(v);
    case SC_ACT_SILU: return sc_silu(v);
    case SC_ACT_QUICK_GELU: return sc_quick_gelu(v);
    default: return v;
    }
}

static void store_scalar(const float *tile, int ld_tile, int mr, int nr, float *C, int64_t ldc, const sc_gemm_store *st)
{
    for (int r = 0; r < mr; r++) {
        const float *t = tile + r * ld_tile;
        float *c = C + r * ldc;
        for (int j = 0; j < nr; j++) {
            float v = t[j];
            if (st->bias)
                v += st->bias[j];
            if (st->c_before)
                v += c[j];
            v = st->alpha * apply_act(st->act, v);
            if (st->c_after)
                v += c[j];
            c[j] = v;
        }
    }
}

const sc_gemm_impl sc_gemm_impl_scalar = {
    .name = "scalar", .mr = MR, .nr = NR, .kc = 512,
    .available = scalar_available,
    .pack_a = sc_gemm_pack_panels,
    .pack_b = sc_gemm_pack_panels,
    .kernel = kernel_scalar,
    .store = store_scalar,
};
