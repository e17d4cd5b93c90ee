/* Internal interface of the CPU attention (cpu_attention.c): a task's arguments, the block
 * sizes, the online-softmax step shared by the float32 kernels and the AMX one
 * (cpu_attention_amx.c). Not part of the op interface. */
#ifndef SC_CPU_ATTENTION_H
#define SC_CPU_ATTENTION_H

#include <string.h>

#include "cpu_util.h"

#define ATT_QB 64 /* queries per task */
#define ATT_KB 64 /* keys per block */

typedef struct {
    const float *q, *k, *v;
    const int64_t *key_mask; /* [B, Tk] or NULL */
    float *out;
    int64_t Tq, Tk, C, d, heads;
    float scale;
    int causal;
} att_args;

/* What task `task` covers: queries [q0, q0 + nq) of head h in batch b, the keys [0, kend) they
 * may see (with the causal mask none past the block's last query), that batch's key mask row
 * (or NULL) and the head's first key and value. */
typedef struct {
    int64_t b, h, q0, nq, kend;
    const int64_t *mask;
    const float *kbase, *vbase;
} att_place;

CPU_INLINE att_place att_task_place(const att_args *a, int64_t task)
{
    const int64_t nqb = (a->Tq + ATT_QB - 1) / ATT_QB;
    att_place p = {task / (a->heads * nqb), task / nqb % a->heads, task % nqb * ATT_QB, 0, a->Tk, NULL, NULL, NULL};
    p.nq = a->Tq - p.q0 < ATT_QB ? a->Tq - p.q0 : ATT_QB;
    if (a->causal && p.q0 + p.nq < p.kend)
        p.kend = p.q0 + p.nq;
    p.mask = a->key_mask ? a->key_mask + p.b * a->Tk : NULL;
    p.kbase = a->k + p.b * a->Tk * a->C + p.h * a->d;
    p.vbase = a->v + p.b * a->Tk * a->C + p.h * a->d;
    return p;
}

/* Rows i < nr start with a zero output, no maximum yet and a zero sum. */
CPU_INLINE void att_rows_init(float *O, float *m, float *l, int64_t nr, int64_t d)
{
    for (int64_t i = 0; i < nr; i++) {
        memset(O + i * d, 0, (size_t)d * sizeof *O);
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
}

/* kbias[j] for the key block starting at k0 with nk keys: 0 for a visible key, -inf for a
 * masked (key_mask row `mask`, may be NULL) or missing one. */
CPU_INLINE void att_key_bias(float *kbias, const int64_t *mask, int64_t k0, int64_t nk)
{
    for (int64_t j = 0; j < ATT_KB; j++)
        kbias[j] = j < nk && !(mask && mask[k0 + j] == 0) ? 0.0f : -INFINITY;
}

/* The online softmax of one key block for query rows i < nr. S[i][0..ATT_KB) holds the raw
 * scores q . k; they become p = exp(s * scale + bias - shift) (0 for a masked, future or missing
 * key: kbias is -inf there); the running maxima m and sums l are updated, and corr[i] is what
 * row i's output accumulated so far must be multiplied by before p V is added. */
CPU_INLINE void att_softmax_block(float *S, int64_t nr, const float *kbias, float scale, int causal, int64_t q0,
                                  int64_t k0, float *m, float *l, float *corr, float *shift)
{
    for (int64_t i = 0; i < nr; i++) {
        float *s = S + i * ATT_KB;
        const int64_t last = causal ? q0 + i - k0 : ATT_KB; /* keys past it are in the future */
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < ATT_KB; j++) {
            const float v = s[j] * scale + kbias[j];
            s[j] = j > last ? -INFINITY : v;
            mx = s[j] > mx ? s[j] : mx;
        }
        corr[i] = mx; /* the block's row maximum, turned into the rescale factor below */
    }
#pragma omp simd
    for (int64_t i = 0; i < nr; i++) {
        const float m_new = corr[i] > m[i] ? corr[i] : m[i];
        shift[i] = m_new == -INFINITY ? 0.0f : m_new; /* row fully masked so far: p = 0 */
        corr[i] = cpu_exp(m[i] - shift[i]);
        m[i] = m_new;
    }
    for (int64_t i = 0; i < nr; i++) {
        float *s = S + i * ATT_KB;
        float psum = 0.0f;
#pragma omp simd reduction(+ : psum)
        for (int64_t j = 0; j < ATT_KB; j++) {
            s[j] = cpu_exp(s[j] - shift[i]);
            psum += s[j];
        }
        l[i] = l[i] * corr[i] + psum;
    }
}

/* The AMX task (cpu_attention_amx.c): used when the CPU math is bfloat16, AMX is usable and the
 * head size is a multiple of 32. */
int cpu_attention_amx_usable(int64_t d);
int64_t cpu_attention_amx_workspace_floats(int64_t d);
void cpu_attention_amx_task(const att_args *a, int64_t task, float *ws);

#endif
