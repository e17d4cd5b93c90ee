/* Helpers shared by the AMX kernels (cpu_gemm_amx.c, cpu_attention_amx.c): the target
 * attribute, bfloat16 conversion of a row, a 16 x 16 transpose of 32-bit values (the VNNI pair
 * layout of B tiles) and the tile configuration every kernel loads. x86-64 Linux only. */
#ifndef SC_CPU_AMX_H
#define SC_CPU_AMX_H

#include <immintrin.h>
#include <stdint.h>

#define AMX_ATTR __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,avx2,fma")))

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) sc_amx_tile_config;

/* Load the tile configuration every AMX kernel here uses (8 tiles of 16 rows x 64 bytes). Call it
 * at the start of each kernel, with no call between it and the tile instructions: the psABI makes
 * the tile state caller-saved (the dynamic linker's lazy-binding trampoline resets it). */
static inline __attribute__((always_inline)) AMX_ATTR void sc_amx_load_config(void)
{
    static const sc_amx_tile_config cfg = {
        .palette = 1,
        .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
        .rows = {16, 16, 16, 16, 16, 16, 16, 16},
    };
    _tile_loadconfig(&cfg);
}

/* 32 values of a row from k (fewer than 32 valid: the rest are zeros) as bfloat16 (RNE). */
static inline __attribute__((always_inline)) AMX_ATTR __m512i sc_amx_row32_bf16(const void *src, int bf16, int64_t k,
                                                                          int64_t valid)
{
    const __mmask32 m32 = valid >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << valid) - 1);
    if (bf16)
        return _mm512_maskz_loadu_epi16(m32, (const uint16_t *)src + k);
    const float *f = (const float *)src + k;
    const __mmask16 lo = (__mmask16)m32, hi = (__mmask16)(m32 >> 16);
    const __m512 v0 = _mm512_maskz_loadu_ps(lo, f), v1 = _mm512_maskz_loadu_ps(hi, f + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(v1, v0); /* element j < 16 from v0 */
}

/* r[i] = row i of a 16 x 16 matrix of 32-bit values -> r[j] = its column j. */
static inline __attribute__((always_inline)) AMX_ATTR void sc_amx_transpose16x16_epi32(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4i + j], 128-bit lane L = rows 4i..4i+3 of column 4L + j */
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* column 4L + j = lanes L of u[j], u[4 + j], u[8 + j], u[12 + j] */
#define SC_LANES(L)                                                                          \
    for (int j = 0; j < 4; j++) {                                                            \
        __m512i x = _mm512_shuffle_i32x4(u[j], u[4 + j], (L) * 0x55);                        \
        __m512i y = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], (L) * 0x55);                   \
        r[4 * (L) + j] = _mm512_shuffle_i32x4(x, y, 0x88); /* lanes 0 and 2 of each */       \
    }
    SC_LANES(0)
    SC_LANES(1)
    SC_LANES(2)
    SC_LANES(3)
#undef SC_LANES
}

#endif
