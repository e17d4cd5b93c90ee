/* Multi-head attention on the CPU with a streaming ("online") softmax: for each
 * (batch, head, block of queries) the keys are visited in blocks, keeping per query the running
 * maximum m, the running sum l of exp(s - m) and the unnormalized output, rescaled whenever m
 * grows. The [Tq, Tk] score matrix is never materialized; each task touches only a
 * [query block x key block] tile. Tasks are independent, so results do not depend on the thread
 * count. A query whose keys are all masked gets a zero output. */
#include "cpu_attention.h"

#include <omp.h>
#include <string.h>

/* Floats of per-thread workspace: Q block, transposed K block, scores, output accumulators, then
 * per row m, l, corr, shift and per key the mask bias. */
static int64_t att_workspace_floats(int64_t d)
{
    int64_t n = ATT_QB * d + d * ATT_KB + ATT_QB * ATT_KB + ATT_QB * d + 4 * ATT_QB + ATT_KB;
    return (n + 15) & ~(int64_t)15; /* keep each thread's slice on its own cache lines */
}

/* s[0..ATT_KB) = q . Kt[:, j] over d dims (Kt is [d, ATT_KB], zero-padded past the block). */
CPU_INLINE void att_scores(float *restrict s, const float *restrict q, const float *restrict Kt, int64_t d)
{
    float acc[ATT_KB];
    for (int64_t j = 0; j < ATT_KB; j++)
        acc[j] = 0.0f;
    for (int64_t t = 0; t < d; t++) {
        const float qt = q[t];
        const float *kt = Kt + t * ATT_KB;
        for (int64_t j = 0; j < ATT_KB; j++)
            acc[j] += qt * kt[j];
    }
    for (int64_t j = 0; j < ATT_KB; j++)
        s[j] = acc[j];
}

/* o[0..d) = o * corr + sum_j p[j] v_j, v_j = vbase + j*C. */
CPU_INLINE void att_accumulate(float *restrict o, const float *restrict p, int64_t nk, const float *restrict vbase,
                               int64_t C, int64_t d, float corr)
{
    for (int64_t t = 0; t < d; t++)
        o[t] *= corr;
    for (int64_t j = 0; j < nk; j++) {
        const float pj = p[j];
        const float *vr = vbase + j * C;
        for (int64_t t = 0; t < d; t++)
            o[t] += pj * vr[t];
    }
}

/* Register-tiled forms of att_scores and att_accumulate, for the AVX2 (8-lane) and AVX-512
 * (16-lane) task variants: 4 query rows x 2 vectors of keys (or head channels) of accumulators
 * stay in registers while the loop runs over the head channels (or keys), so every loaded K (V)
 * vector feeds four FMAs. Written with GCC's generic vectors of the variant's own width (wider
 * ones would be split into slow code on the narrower ISA); W2 = 2 lanes-widths must divide the
 * head size. Loads and stores go through memcpy (any alignment). */
#define ATT_TILED_KERNELS(suffix, W)                                                                             \
    typedef float att_vec_##suffix __attribute__((vector_size((W) * sizeof(float))));                            \
                                                                                                                 \
    /* S[i][0..ATT_KB) = Q[i] . Kt[:, j] for rows i < nr (a multiple of 4). */                                   \
    CPU_INLINE void att_scores_##suffix(float *restrict S, const float *restrict Q, const float *restrict Kt,    \
                                        int64_t d, int64_t nr)                                                   \
    {                                                                                                            \
        for (int64_t i0 = 0; i0 < nr; i0 += 4)                                                                   \
            for (int64_t j0 = 0; j0 < ATT_KB; j0 += 2 * (W)) {                                                   \
                att_vec_##suffix acc[4][2] = {{{0}}}, k0, k1;                                                    \
                const float *q = Q + i0 * d;                                                                     \
                for (int64_t t = 0; t < d; t++) {                                                                \
                    memcpy(&k0, Kt + t * ATT_KB + j0, sizeof k0);                                                \
                    memcpy(&k1, Kt + t * ATT_KB + j0 + (W), sizeof k1);                                          \
                    for (int r = 0; r < 4; r++) {                                                                \
                        const float qr = q[r * d + t];                                                           \
                        acc[r][0] += qr * k0;                                                                    \
                        acc[r][1] += qr * k1;                                                                    \
                    }                                                                                            \
                }                                                                                                \
                for (int r = 0; r < 4; r++) {                                                                    \
                    memcpy(S + (i0 + r) * ATT_KB + j0, &acc[r][0], sizeof acc[r][0]);                            \
                    memcpy(S + (i0 + r) * ATT_KB + j0 + (W), &acc[r][1], sizeof acc[r][1]);                      \
                }                                                                                                \
            }                                                                                                    \
    }                                                                                                            \
                                                                                                                 \
    /* O[i] = O[i] corr[i] + sum_{j < nk} P[i][j] v_j for rows i < nr (a multiple of 4); a key that a row       \
     * must not see has P = 0 there. */                                                                          \
    CPU_INLINE void att_accumulate_##suffix(float *restrict O, const float *restrict P, int64_t nk,             \
                                            const float *restrict vbase, int64_t C, int64_t d,                   \
                                            const float *restrict corr, int64_t nr)                              \
    {                                                                                                            \
        for (int64_t i0 = 0; i0 < nr; i0 += 4)                                                                   \
            for (int64_t c0 = 0; c0 < d; c0 += 2 * (W)) {                                                       \
                att_vec_##suffix acc[4][2], v0, v1;                                                              \
                for (int r = 0; r < 4; r++) {                                                                    \
                    memcpy(&acc[r][0], O + (i0 + r) * d + c0, sizeof acc[r][0]);                                 \
                    memcpy(&acc[r][1], O + (i0 + r) * d + c0 + (W), sizeof acc[r][1]);                           \
                    acc[r][0] *= corr[i0 + r];                                                                   \
                    acc[r][1] *= corr[i0 + r];                                                                   \
                }                                                                                                \
                for (int64_t j = 0; j < nk; j++) {                                                               \
                    memcpy(&v0, vbase + j * C + c0, sizeof v0);                                                  \
                    memcpy(&v1, vbase + j * C + c0 + (W), sizeof v1);                                            \
                    for (int r = 0; r < 4; r++) {                                                                \
                        const float pr = P[(i0 + r) * ATT_KB + j];                                               \
                        acc[r][0] += pr * v0;                                                                    \
                        acc[r][1] += pr * v1;                                                                    \
                    }                                                                                            \
                }                                                                                                \
                for (int r = 0; r < 4; r++) {                                                                    \
                    memcpy(O + (i0 + r) * d + c0, &acc[r][0], sizeof acc[r][0]);                                 \
                    memcpy(O + (i0 + r) * d + c0 + (W), &acc[r][1], sizeof acc[r][1]);                           \
                }                                                                                                \
            }                                                                                                    \
    }

ATT_TILED_KERNELS(v8, 8)
ATT_TILED_KERNELS(v16, 16)

/* Which tiled kernels a task variant uses (a constant in each variant, so the others vanish). */
typedef enum { ATT_TILE_NONE = 0, ATT_TILE_V8 = 8, ATT_TILE_V16 = 16 } att_tile;

/* One task: queries [q0, q0+nq) of head h in batch b. `d` is a compile-time constant in the
 * specialised instance below (the common head size 64), a variable otherwise.
 * Per key block: scores of every query row (masked to -inf), then, vectorized across rows,
 * the new running maxima and the rescale factors, then p = exp(s - m) over the whole tile,
 * then the rescaled output rows accumulate p V. With a tile (the AVX2 and AVX-512 variants) and
 * a head size that is a multiple of two vectors, the register-tiled kernels run over nr = nq
 * rounded up to 4 rows (the padding rows have zero queries and are never written out). */
CPU_INLINE void att_task_d(const att_args *a, int64_t task, float *ws, int64_t d, att_tile tile)
{
    const int64_t C = a->C;
    const att_place at = att_task_place(a, task);
    const int64_t b = at.b, h = at.h, q0 = at.q0, nq = at.nq, kend = at.kend;
    const int64_t *mask = at.mask;
    const float *kbase = at.kbase, *vbase = at.vbase;
    float *Q = ws, *Kt = Q + ATT_QB * d, *S = Kt + d * ATT_KB, *O = S + ATT_QB * ATT_KB;
    float *m = O + ATT_QB * d, *l = m + ATT_QB, *kbias = l + ATT_QB, *corr = kbias + ATT_KB;
    float *shift = corr + ATT_QB;
    const int tiled = tile != ATT_TILE_NONE && d % (2 * tile) == 0;
    const int64_t nr = tiled ? (nq + 3) / 4 * 4 : nq;

    for (int64_t i = 0; i < nr; i++) {
        if (i < nq)
            memcpy(Q + i * d, a->q + (b * a->Tq + q0 + i) * C + h * d, (size_t)d * sizeof *Q);
        else
            memset(Q + i * d, 0, (size_t)d * sizeof *Q);
    }
    att_rows_init(O, m, l, nr, d);

    for (int64_t k0 = 0; k0 < kend; k0 += ATT_KB) {
        const int64_t nk = kend - k0 < ATT_KB ? kend - k0 : ATT_KB;
        /* the key bias and the K block transposed to [d, ATT_KB] */
        att_key_bias(kbias, mask, k0, nk);
        for (int64_t t = 0; t < d; t++)
            for (int64_t j = nk; j < ATT_KB; j++)
                Kt[t * ATT_KB + j] = 0.0f;
        for (int64_t j = 0; j < nk; j++) {
            const float *kr = kbase + (k0 + j) * C;
            for (int64_t t = 0; t < d; t++)
                Kt[t * ATT_KB + j] = kr[t];
        }
        if (tiled && tile == ATT_TILE_V16)
            att_scores_v16(S, Q, Kt, d, nr);
        else if (tiled)
            att_scores_v8(S, Q, Kt, d, nr);
        else
            for (int64_t i = 0; i < nr; i++)
                att_scores(S + i * ATT_KB, Q + i * d, Kt, d);
        att_softmax_block(S, nr, kbias, a->scale, a->causal, q0, k0, m, l, corr, shift);
        if (tiled && tile == ATT_TILE_V16)
            att_accumulate_v16(O, S, nk, vbase + k0 * C, C, d, corr, nr);
        else if (tiled)
            att_accumulate_v8(O, S, nk, vbase + k0 * C, C, d, corr, nr);
        else
            for (int64_t i = 0; i < nq; i++) {
                const int64_t visible = a->causal && q0 + i - k0 + 1 < nk ? q0 + i - k0 + 1 : nk;
                att_accumulate(O + i * d, S + i * ATT_KB, visible, vbase + k0 * C, C, d, corr[i]);
            }
    }
    for (int64_t i = 0; i < nq; i++) {
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        float *dst = a->out + (b * a->Tq + q0 + i) * C + h * d;
        for (int64_t t = 0; t < d; t++)
            dst[t] = O[i * d + t] * inv;
    }
}

CPU_INLINE void att_task_body(const att_args *a, int64_t task, float *ws, att_tile tile)
{
    if (a->d == 64)
        att_task_d(a, task, ws, 64, tile);
    else
        att_task_d(a, task, ws, a->d, tile);
}

/* The variants by hand rather than with CPU_MULTIVERSION: each passes its own tile. */
static void att_task_generic(const att_args *a, int64_t task, float *ws) { att_task_body(a, task, ws, ATT_TILE_NONE); }
#if defined(__x86_64__) && defined(__GNUC__)
CPU_AVX2_ATTR static void att_task_avx2(const att_args *a, int64_t task, float *ws)
{
    att_task_body(a, task, ws, ATT_TILE_V8);
}
CPU_AVX512_ATTR static void att_task_avx512(const att_args *a, int64_t task, float *ws)
{
    att_task_body(a, task, ws, ATT_TILE_V16);
}
#endif

sc_status cpu_attention(sc_backend *be, sc_tensor *out, const sc_tensor *q, const sc_tensor *k, const sc_tensor *v,
                        int heads, float scale, int causal, const sc_tensor *key_mask)
{
    (void)be;
    SC_TRY(sc_opcheck_attention(sc_cpu_backend(), out, q, k, v, heads, scale, key_mask));
    const int64_t B = q->shape[0], Tq = q->shape[1], C = q->shape[2], Tk = k->shape[1];

    const int64_t d = C / heads;
    const int64_t tasks = B * heads * ((Tq + ATT_QB - 1) / ATT_QB);
    if (tasks == 0 || d == 0)
        return SC_OK;
    const int nt = cpu_threads_for(tasks, ATT_QB * Tk * d * 4);
    const int amx = cpu_attention_amx_usable(d); /* the bfloat16 math on AMX */
    const int64_t per_thread = amx ? cpu_attention_amx_workspace_floats(d) : att_workspace_floats(d);
    cpu_scratch *s;
    SC_TRY(cpu_scratch_acquire((size_t)(nt * per_thread) * sizeof(float), &s));
    const att_args args = {
        .q = q->data, .k = k->data, .v = v->data, .key_mask = key_mask ? key_mask->data : NULL,
        .out = out->data, .Tq = Tq, .Tk = Tk, .C = C, .d = d, .heads = heads, .scale = scale, .causal = causal,
    };
    __typeof__(&att_task_generic) run_task = amx ? cpu_attention_amx_task : CPU_PICK(att_task);
    float *ws = s->data;
#pragma omp parallel num_threads(nt)
    {
        float *mine = ws + omp_get_thread_num() * per_thread;
#pragma omp for schedule(dynamic)
        for (int64_t t = 0; t < tasks; t++)
            run_task(&args, t, mine);
    }
    cpu_scratch_release(s);
    return SC_OK;
}
