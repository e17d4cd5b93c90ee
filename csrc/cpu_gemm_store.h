/* The GEMM tile store (sc_gemm_store semantics) on top of the ops' epilogue (cpu_vmath.h), for
 * the microkernel files: each wraps sc_gemm_store_body in a function compiled for its ISA, so
 * the loops vectorize for it and the activations are the same code as the ops'. */
#ifndef SC_CPU_GEMM_STORE_H
#define SC_CPU_GEMM_STORE_H

#include "cpu_gemm_impl.h"
#include "cpu_vmath.h"

/* The valid mr x nr corner of `tile` (the caller's scratch: it is overwritten) into C. */
CPU_INLINE void sc_gemm_store_body(float *tile, int ld_tile, int mr, int nr, float *C, int64_t ldc,
                                   const sc_gemm_store *st)
{
    const sc_epilogue ep = {st->act, st->alpha, st->c_after};
    for (int r = 0; r < mr; r++) {
        float *t = tile + r * ld_tile, *c = C + r * ldc;
        if (st->bias)
            for (int j = 0; j < nr; j++)
                t[j] += st->bias[j];
        if (st->c_before)
            for (int j = 0; j < nr; j++)
                t[j] += c[j];
        cpu_epilogue_body(c, t, nr, ep);
    }
}

#endif
