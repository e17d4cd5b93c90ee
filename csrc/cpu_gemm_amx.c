/* AMX bfloat16 GEMM microkernel for the CPU's "bfloat16" math (sc_cpu_set_math): A and B are
 * rounded to bfloat16 (to nearest even) while packed and multiplied with AMX tile instructions
 * accumulating in float32; the store and epilogue are the float32 path's. A 32 x 32 tile of C is
 * four 16 x 16 float32 AMX tiles fed by two A tiles (16 rows x 32 k) and two B tiles (16 columns
 * x 32 k in the VNNI pair layout) per 32 values of k.
 *
 * Packed layouts (in the float-sized slots the driver reserves: a micro-panel of w rows and kc
 * values takes w * kc floats, of which this kernel uses w * round_up(kc, 32) bfloat16, which fits
 * for kc >= 16; the driver uses this kernel only when K >= 32, whose K blocks are all longer):
 *   A micro-panel: for each k block q of 32: two tiles [16 rows][32 k] (rows 0-15, then 16-31);
 *   B micro-panel: for each k block q: two tiles [16 k pairs][16 columns][2] (columns 0-15, then
 *                  16-31), i.e. the column's k pair (2p, 2p + 1) at 32-bit slot p * 16 + column.
 * Values past the valid rows, columns or k are zeros.
 *
 * AMX needs the kernel's permission for the tile data state (arch_prctl, once per process) and a
 * tile configuration, loaded at the start of every kernel call: the x86-64 psABI makes the tile
 * state caller-saved, and the dynamic linker's lazy-binding trampoline does reset it. */
#include "cpu_gemm_impl.h"
#include "cpu_kernels.h"

#if defined(SC_GEMM_HAVE_X86) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_amx.h"
#include "cpu_gemm_store.h"

#define MR 32
#define NR 32
#define KB 32 /* k values per tile step */

/* ---- availability ---- */

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int g_amx_ok;
static pthread_once_t g_amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    const int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1, avx512bw = (b >> 30) & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d))
        return;
    const int avx512bf16 = (a >> 5) & 1;
    if (!(amx_bf16 && amx_tile && avx512bw && avx512bf16 && sc_cpu_has_avx512f()))
        return;
    /* the OS must save the tile state (XCR0 bits 17 and 18) and let this process use it */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17))
        return;
    g_amx_ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int sc_cpu_has_amx_bf16(void)
{
    pthread_once(&g_amx_once, amx_probe);
    return g_amx_ok;
}

/* ---- packing ---- */

/* rows x kc of A (float32) -> ceil(rows / 32) micro-panels of two [16][32] tiles per k block. */
static AMX_ATTR void pack_a_amx(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    const int64_t blocks = (kc + KB - 1) / KB;
    for (int64_t p0 = 0; p0 < rows; p0 += w, dst += (int64_t)w * kc) {
        uint16_t *panel = (uint16_t *)dst;
        for (int64_t q = 0; q < blocks; q++)
            for (int r = 0; r < MR; r++) {
                __m512i v = _mm512_setzero_si512();
                if (p0 + r < rows)
                    v = sc_amx_row32_bf16(src + (p0 + r) * ld, 0, q * KB, kc - q * KB);
                _mm512_storeu_si512(panel + (q * 2 + r / 16) * 512 + (r % 16) * KB, v);
            }
    }
}

/* rows (= columns of C) x kc of B -> micro-panels of two VNNI tiles per k block: each tile is
 * the transpose of 16 columns' 16 k pairs (32-bit values). */
static inline __attribute__((always_inline)) AMX_ATTR void pack_b_amx_body(const void *src, int bf16, int64_t ld,
                                                                             int64_t rows, int64_t kc, int w,
                                                                             float *dst)
{
    const size_t esize = bf16 ? sizeof(uint16_t) : sizeof(float);
    const int64_t blocks = (kc + KB - 1) / KB;
    for (int64_t p0 = 0; p0 < rows; p0 += w, dst += (int64_t)w * kc) {
        __m512i *panel = (__m512i *)dst; /* 64-byte aligned: the driver's buffers and panel strides are */
        for (int64_t q = 0; q < blocks; q++)
            for (int half = 0; half < 2; half++) {
                __m512i r[16];
                for (int c = 0; c < 16; c++) {
                    const int64_t col = p0 + half * 16 + c;
                    r[c] = col < rows ? sc_amx_row32_bf16((const char *)src + (size_t)(col * ld) * esize, bf16, q * KB,
                                                   kc - q * KB)
                                      : _mm512_setzero_si512();
                }
                sc_amx_transpose16x16_epi32(r);
                __m512i *tile = panel + (q * 2 + half) * 16;
                for (int p = 0; p < 16; p++)
                    _mm512_store_si512(tile + p, r[p]);
            }
    }
}

static AMX_ATTR void pack_b_amx(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    pack_b_amx_body(src, 0, ld, rows, kc, w, dst);
}

static AMX_ATTR void pack_b_bf16_amx(const uint16_t *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    pack_b_amx_body(src, 1, ld, rows, kc, w, dst);
}

/* ---- the kernel ---- */

static AMX_ATTR void kernel_amx(int64_t kc, const float *ap, const float *bp, float *tile)
{
    sc_amx_load_config();
    const uint16_t *a = (const uint16_t *)ap, *b = (const uint16_t *)bp;
    const int64_t blocks = (kc + KB - 1) / KB;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t q = 0; q < blocks; q++) {
        _tile_loadd(4, a + q * 1024, 64);
        _tile_loadd(5, a + q * 1024 + 512, 64);
        _tile_loadd(6, b + q * 1024, 64);
        _tile_loadd(7, b + q * 1024 + 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, tile, NR * sizeof(float));
    _tile_stored(1, tile + 16, NR * sizeof(float));
    _tile_stored(2, tile + 16 * NR, NR * sizeof(float));
    _tile_stored(3, tile + 16 * NR + 16, NR * sizeof(float));
}

static CPU_AVX512_ATTR void store_amx(float *tile, int ld_tile, int mr, int nr, float *c, int64_t ldc,
                                      const sc_gemm_store *st)
{
    sc_gemm_store_body(tile, ld_tile, mr, nr, c, ldc, st);
}

const sc_gemm_impl sc_gemm_impl_amx = {
    .name = "amx", .mr = MR, .nr = NR, .kc = 2048, .packed_bytes = 2,
    .available = sc_cpu_has_amx_bf16,
    .pack_a = pack_a_amx,
    .pack_b = pack_b_amx,
    .pack_b_bf16 = pack_b_bf16_amx,
    .kernel = kernel_amx,
    .store = store_amx,
};

#else
int sc_cpu_has_amx_bf16(void) { return 0; }
#endif
