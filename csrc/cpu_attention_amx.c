/* The attention task of the CPU's bfloat16 math: the same online softmax over blocks of 64
 * queries x 64 keys as the float32 tasks (cpu_attention.c), with both products on AMX tiles --
 * scores S = Q K^T from bfloat16 Q and K, and the block's output P V from bfloat16 P and V, each
 * summed in float32. The softmax, the rescaling and the normalization stay float32.
 *
 * Tiles (16 rows x 64 bytes, cpu_amx.h), for a head size d (a multiple of 32):
 *   Q:  [query group g][d block e] -> 16 queries x 32 channels                  (A operand)
 *   K:  [key group kg][d block e]  -> 16 channel pairs x 16 keys x 2 (VNNI)      (B operand)
 *   P:  [query group g][key block kb] -> 16 queries x 32 keys                   (A operand)
 *   V:  [channel group cg][key block kb] -> 16 key pairs x 16 channels x 2      (B operand)
 * Rows past the queries, keys past the block and channels are zeros. */
#include "cpu_attention.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#include <string.h>

#include "cpu_amx.h"

#define TILE_BF16 512 /* bfloat16 values of one tile */

int cpu_attention_amx_usable(int64_t d)
{
    return d > 0 && d % 32 == 0 && !strcmp(sc_cpu_math(), "bfloat16") && sc_cpu_has_amx_bf16();
}

/* Q, K, V and P tiles (bfloat16, counted in floats), S, the output and the block's product, then
 * per row m, l, corr, shift and per key the mask bias. */
int64_t cpu_attention_amx_workspace_floats(int64_t d)
{
    int64_t n = 3 * (ATT_QB * d / 2) + ATT_QB * ATT_KB + ATT_QB * ATT_KB / 2 + 2 * ATT_QB * d + 4 * ATT_QB + ATT_KB;
    return (n + 15) & ~(int64_t)15;
}

/* 16 rows of 32 channels -> one VNNI B tile: the 16 rows' channel pairs become the tile's
 * columns. `row(c)` is the start of row c's 32 channels, or NULL for a zero row. */
static inline __attribute__((always_inline)) AMX_ATTR void pack_pairs_by_row(uint16_t *tile, const float *const *rows)
{
    __m512i r[16];
    for (int c = 0; c < 16; c++)
        r[c] = rows[c] ? sc_amx_row32_bf16(rows[c], 0, 0, 32) : _mm512_setzero_si512();
    sc_amx_transpose16x16_epi32(r);
    for (int p = 0; p < 16; p++)
        _mm512_storeu_si512(tile + p * 32, r[p]);
}

AMX_ATTR void cpu_attention_amx_task(const att_args *a, int64_t task, float *ws)
{
    const int64_t C = a->C, d = a->d, nd = d / 32, ncg = d / 16;
    const att_place at = att_task_place(a, task);
    const int64_t b = at.b, h = at.h, q0 = at.q0, nq = at.nq, kend = at.kend;
    const int64_t *mask = at.mask;
    const float *kbase = at.kbase, *vbase = at.vbase;
    const int64_t nr = (nq + 15) / 16 * 16, groups = nr / 16;
    uint16_t *Qp = (uint16_t *)ws, *Kp = Qp + ATT_QB * d, *Vp = Kp + ATT_KB * d;
    float *S = (float *)(Vp + ATT_KB * d);
    uint16_t *Pp = (uint16_t *)(S + ATT_QB * ATT_KB);
    float *O = (float *)(Pp + ATT_QB * ATT_KB), *On = O + ATT_QB * d;
    float *m = On + ATT_QB * d, *l = m + ATT_QB, *corr = l + ATT_QB, *shift = corr + ATT_QB, *kbias = shift + ATT_QB;

    const float *qbase = a->q + (b * a->Tq + q0) * C + h * d;
    for (int64_t g = 0; g < groups; g++)
        for (int64_t e = 0; e < nd; e++)
            for (int r = 0; r < 16; r++) {
                const int64_t i = g * 16 + r;
                const __m512i v = i < nq ? sc_amx_row32_bf16(qbase + i * C, 0, e * 32, 32) : _mm512_setzero_si512();
                _mm512_storeu_si512(Qp + (g * nd + e) * TILE_BF16 + r * 32, v);
            }
    att_rows_init(O, m, l, nr, d);

    for (int64_t k0 = 0; k0 < kend; k0 += ATT_KB) {
        const int64_t nk = kend - k0 < ATT_KB ? kend - k0 : ATT_KB;
        att_key_bias(kbias, mask, k0, nk);
        for (int64_t kg = 0; kg < ATT_KB / 16; kg++)
            for (int64_t e = 0; e < nd; e++) {
                const float *rows[16];
                for (int c = 0; c < 16; c++) {
                    const int64_t j = kg * 16 + c;
                    rows[c] = j < nk ? kbase + (k0 + j) * C + e * 32 : NULL;
                }
                pack_pairs_by_row(Kp + (kg * nd + e) * TILE_BF16, rows);
            }
        /* V tiles: pair p of key block kb is keys 2p and 2p + 1, interleaved channel by channel */
        const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23,
                                                    7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        for (int64_t cg = 0; cg < ncg; cg++)
            for (int64_t kb = 0; kb < ATT_KB / 32; kb++)
                for (int p = 0; p < 16; p++) {
                    const int64_t j = kb * 32 + 2 * p;
                    const __m512 v0 = j < nk ? _mm512_loadu_ps(vbase + (k0 + j) * C + cg * 16) : _mm512_setzero_ps();
                    const __m512 v1 =
                        j + 1 < nk ? _mm512_loadu_ps(vbase + (k0 + j + 1) * C + cg * 16) : _mm512_setzero_ps();
                    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(v1, v0); /* v0 in the low half */
                    _mm512_storeu_si512(Vp + (cg * (ATT_KB / 32) + kb) * TILE_BF16 + p * 32,
                                        _mm512_permutexvar_epi16(interleave, both));
                }

        sc_amx_load_config();
        for (int64_t g = 0; g < groups; g++)
            for (int64_t kg = 0; kg < ATT_KB / 16; kg++) {
                _tile_zero(0);
                for (int64_t e = 0; e < nd; e++) {
                    _tile_loadd(1, Qp + (g * nd + e) * TILE_BF16, 64);
                    _tile_loadd(2, Kp + (kg * nd + e) * TILE_BF16, 64);
                    _tile_dpbf16ps(0, 1, 2);
                }
                _tile_stored(0, S + g * 16 * ATT_KB + kg * 16, ATT_KB * sizeof(float));
            }
        att_softmax_block(S, nr, kbias, a->scale, a->causal, q0, k0, m, l, corr, shift);
        for (int64_t g = 0; g < groups; g++)
            for (int64_t kb = 0; kb < ATT_KB / 32; kb++)
                for (int r = 0; r < 16; r++)
                    _mm512_storeu_si512(Pp + (g * (ATT_KB / 32) + kb) * TILE_BF16 + r * 32,
                                        sc_amx_row32_bf16(S + (g * 16 + r) * ATT_KB, 0, kb * 32, 32));
        sc_amx_load_config();
        for (int64_t g = 0; g < groups; g++)
            for (int64_t cg = 0; cg < ncg; cg++) {
                _tile_zero(0);
                for (int64_t kb = 0; kb < ATT_KB / 32; kb++) {
                    _tile_loadd(1, Pp + (g * (ATT_KB / 32) + kb) * TILE_BF16, 64);
                    _tile_loadd(2, Vp + (cg * (ATT_KB / 32) + kb) * TILE_BF16, 64);
                    _tile_dpbf16ps(0, 1, 2);
                }
                _tile_stored(0, On + g * 16 * d + cg * 16, d * (int64_t)sizeof(float));
            }
        for (int64_t i = 0; i < nr; i++) {
            const __m512 c = _mm512_set1_ps(corr[i]);
            for (int64_t t = 0; t < d; t += 16)
                _mm512_storeu_ps(O + i * d + t,
                                 _mm512_fmadd_ps(_mm512_loadu_ps(O + i * d + t), c, _mm512_loadu_ps(On + i * d + t)));
        }
    }
    for (int64_t i = 0; i < nq; i++) {
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        float *dst = a->out + (b * a->Tq + q0 + i) * C + h * d;
        for (int64_t t = 0; t < d; t++)
            dst[t] = O[i * d + t] * inv;
    }
}

#else
int cpu_attention_amx_usable(int64_t d)
{
    (void)d;
    return 0;
}

int64_t cpu_attention_amx_workspace_floats(int64_t d) { return d; }

void cpu_attention_amx_task(const att_args *a, int64_t task, float *ws)
{
    (void)a;
    (void)task;
    (void)ws;
}
#endif
