/* AVX2+FMA GEMM microkernel: a 6 x 16 tile in 12 ymm accumulators (two B vectors and one
 * broadcast A value per step leave the 16 registers just enough room). Compiled with
 * target attributes so the rest of the build keeps the baseline ISA. */
#include "cpu_gemm_impl.h"
#include "cpu_kernels.h"

#if defined(SC_GEMM_HAVE_X86)
#include <immintrin.h>

#include "cpu_gemm_store.h"

#define MR 6
#define NR 16

/* r[i] = row i of an 8 x 8 block -> r[j] = column j */
static inline CPU_AVX2_ATTR void transpose8x8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

/* 8 values of row `s` from index k as float32: plain loads, or bfloat16 bits widened (<< 16). */
static inline __attribute__((always_inline)) CPU_AVX2_ATTR __m256 load8(const void *s, int64_t k, int bf16)
{
    if (bf16) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)s + k));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    return _mm256_loadu_ps((const float *)s + k);
}

static inline __attribute__((always_inline)) CPU_AVX2_ATTR float load1(const void *s, int64_t k, int bf16)
{
    return bf16 ? sc_bf16_to_f32(((const uint16_t *)s)[k]) : ((const float *)s)[k];
}

/* The packing of sc_gemm_pack_panels (any w) with 8 x 8 transposes, for float32 or bfloat16
 * sources (`bf16` is a constant in each caller, so each gets its own straight-line code). */
static inline __attribute__((always_inline)) CPU_AVX2_ATTR void pack_panels_avx2(const void *src, int bf16,
                                                                                 int64_t ld, int64_t rows,
                                                                                 int64_t kc, int w, float *dst)
{
    const size_t esize = bf16 ? sizeof(uint16_t) : sizeof(float);
    const int64_t k8 = kc / 8 * 8;
    for (int64_t p0 = 0; p0 < rows; p0 += w, dst += w * kc) {
        /* groups of up to 8 rows: load them (zeros past `rows`), transpose 8 x 8 blocks, store
         * the group's h floats of each k (masked when h < 8) */
        for (int c0 = 0; c0 < w; c0 += 8) {
            const int h = w - c0 < 8 ? w - c0 : 8;
            const int64_t valid = rows - p0 - c0 < h ? rows - p0 - c0 : h; /* may be <= 0 */
            const char *s = (const char *)src + (size_t)((p0 + c0) * ld) * esize;
            const size_t row_bytes = (size_t)ld * esize;
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(h), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            for (int64_t k = 0; k < k8; k += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = i < valid ? load8(s + i * row_bytes, k, bf16) : _mm256_setzero_ps();
                transpose8x8(r);
                for (int j = 0; j < 8; j++) {
                    if (h == 8)
                        _mm256_storeu_ps(dst + (k + j) * w + c0, r[j]);
                    else
                        _mm256_maskstore_ps(dst + (k + j) * w + c0, mask, r[j]);
                }
            }
            for (int64_t k = k8; k < kc; k++)
                for (int i = 0; i < h; i++)
                    dst[k * w + c0 + i] = i < valid ? load1(s + i * row_bytes, k, bf16) : 0.0f;
        }
    }
}

CPU_AVX2_ATTR void sc_gemm_pack_panels_avx2(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    pack_panels_avx2(src, 0, ld, rows, kc, w, dst);
}

CPU_AVX2_ATTR void sc_gemm_pack_panels_bf16_avx2(const uint16_t *src, int64_t ld, int64_t rows, int64_t kc, int w,
                                                 float *dst)
{
    pack_panels_avx2(src, 1, ld, rows, kc, w, dst);
}

static CPU_AVX2_ATTR void kernel_avx2(int64_t kc, const float *ap, const float *bp, float *tile)
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

static CPU_AVX2_ATTR void store_avx2(float *tile, int ld_tile, int mr, int nr, float *c, int64_t ldc,
                                       const sc_gemm_store *st)
{
    sc_gemm_store_body(tile, ld_tile, mr, nr, c, ldc, st);
}

const sc_gemm_impl sc_gemm_impl_avx2 = {
    .name = "avx2", .mr = MR, .nr = NR, .kc = 1024, .packed_bytes = 4,
    .available = sc_cpu_has_avx2_fma,
    .pack_a = sc_gemm_pack_panels_avx2,
    .pack_b = sc_gemm_pack_panels_avx2,
    .pack_b_bf16 = sc_gemm_pack_panels_bf16_avx2,
    .kernel = kernel_avx2,
    .store = store_avx2,
};
#endif
