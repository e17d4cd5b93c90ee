/* The GEMM tile epilogue (sc_gemm_store semantics) on vectors of SC_VW floats, for the AVX2 and
 * AVX-512 microkernel files: they define SC_VW, SC_VTARGET and SC_VFMA (see cpu_vmath.h). */
#ifndef SC_CPU_GEMM_VSTORE_H
#define SC_CPU_GEMM_VSTORE_H

#include <string.h>

#include "cpu_gemm_impl.h"
#include "cpu_vmath.h"

/* n < SC_VW floats; lanes past n read as 0 / are not written */
static inline SC_VTARGET sc_vf sc_vload_part(const float *p, int n)
{
    sc_vf v = {0};
    for (int i = 0; i < n; i++)
        v[i] = p[i];
    return v;
}

static inline SC_VTARGET void sc_vstore_part(float *p, sc_vf v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = v[i];
}

static inline SC_VTARGET sc_vf sc_vstore_apply(sc_vf v, const sc_gemm_store *st)
{
    if (st->act == SC_ACT_GELU)
        v = sc_vgelu(v);
    else if (st->act == SC_ACT_SILU)
        v = sc_vsilu(v);
    else if (st->act == SC_ACT_QUICK_GELU)
        v = sc_vquick_gelu(v);
    return v * st->alpha;
}

static SC_VTARGET void sc_gemm_vstore(const float *tile, int ld_tile, int mr, int nr, float *C, int64_t ldc,
                           const sc_gemm_store *st)
{
    const int full = nr / SC_VW * SC_VW;
    for (int r = 0; r < mr; r++) {
        const float *t = tile + r * ld_tile;
        float *c = C + r * ldc;
        for (int j = 0; j < full; j += SC_VW) {
            sc_vf v, cv = {0};
            memcpy(&v, t + j, sizeof v);
            if (st->c_before || st->c_after)
                memcpy(&cv, c + j, sizeof cv);
            if (st->bias) {
                sc_vf b;
                memcpy(&b, st->bias + j, sizeof b);
                v += b;
            }
            if (st->c_before)
                v += cv;
            v = sc_vstore_apply(v, st);
            if (st->c_after)
                v += cv;
            memcpy(c + j, &v, sizeof v);
        }
        if (full < nr) { /* the tile's last columns at the right edge of C */
            int n = nr - full;
            sc_vf v, cv = st->c_before || st->c_after ? sc_vload_part(c + full, n) : (sc_vf){0};
            memcpy(&v, t + full, sizeof v); /* tile rows are whole vectors */
            if (st->bias)
                v += sc_vload_part(st->bias + full, n);
            if (st->c_before)
                v += cv;
            v = sc_vstore_apply(v, st);
            if (st->c_after)
                v += cv;
            sc_vstore_part(c + full, v, n);
        }
    }
}

#endif
