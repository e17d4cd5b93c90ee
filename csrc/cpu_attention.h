/* Internal interface of the CPU attention (cpu_attention.c): a task's arguments, the block
 * sizes, the online-softmax step shared by the float32 kernels and the AMX one
 * (cpu_attention_amx.c). Not part of the op interface. */
#ifndef SC_CPU_ATTENTION_H
#define SC_CPU_ATTENTION_H

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
