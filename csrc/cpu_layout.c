/* Data movement without arithmetic: concat, NCHW <-> NHWC and embedding lookup. */
#include "cpu_util.h"

sc_status cpu_concat(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, int axis)
{
    (void)be;
    SC_TRY(sc_opcheck_concat(sc_cpu_backend(), out, a, b, &axis));
    const int nd = a->ndim;
    if (sc_tensor_numel(out) == 0)
        return SC_OK;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= a->shape[i];
    for (int i = axis + 1; i < nd; i++)
        inner *= a->shape[i];
    const int64_t na = a->shape[axis] * inner, nb = b->shape[axis] * inner;
    const float *ap = a->data, *bp = b->data;
    float *o = out->data;
#pragma omp parallel for num_threads(cpu_threads_for(outer, na + nb)) schedule(static)
    for (int64_t i = 0; i < outer; i++) {
        memcpy(o + i * (na + nb), ap + i * na, (size_t)na * sizeof *o);
        memcpy(o + i * (na + nb) + na, bp + i * nb, (size_t)nb * sizeof *o);
    }
    return SC_OK;
}

/* Tiled transpose of `mats` row-major [R, S] matrices into [S, R]. */
#define TRANSPOSE_TILE 32
static void transpose_batched(float *dst, const float *src, int64_t mats, int64_t R, int64_t S)
{
    const int64_t tr = (R + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, ts = (S + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
#pragma omp parallel for num_threads(cpu_threads_for(mats * tr * ts, TRANSPOSE_TILE * TRANSPOSE_TILE)) \
    schedule(static)
    for (int64_t t = 0; t < mats * tr * ts; t++) {
        const int64_t m = t / (tr * ts), r0 = t / ts % tr * TRANSPOSE_TILE, s0 = t % ts * TRANSPOSE_TILE;
        const int64_t r1 = r0 + TRANSPOSE_TILE < R ? r0 + TRANSPOSE_TILE : R;
        const int64_t s1 = s0 + TRANSPOSE_TILE < S ? s0 + TRANSPOSE_TILE : S;
        const float *sm = src + m * R * S;
        float *dm = dst + m * R * S;
        for (int64_t s = s0; s < s1; s++)
            for (int64_t r = r0; r < r1; r++)
                dm[s * R + r] = sm[r * S + s];
    }
}

static sc_status layout_change(const char *op, sc_tensor *out, const sc_tensor *x, int to_nhwc)
{
    SC_TRY(sc_opcheck_layout_change(sc_cpu_backend(), op, out, x, to_nhwc));
    const int64_t *s = x->shape;
    if (to_nhwc)
        transpose_batched(out->data, x->data, s[0], s[1], s[2] * s[3]);
    else
        transpose_batched(out->data, x->data, s[0], s[1] * s[2], s[3]);
    return SC_OK;
}

sc_status cpu_nchw_to_nhwc(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    (void)be;
    return layout_change("nchw_to_nhwc", out, x, 1);
}

sc_status cpu_nhwc_to_nchw(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    (void)be;
    return layout_change("nhwc_to_nchw", out, x, 0);
}

sc_status cpu_embedding(sc_backend *be, sc_tensor *out, const sc_tensor *table, const sc_tensor *ids)
{
    (void)be;
    const char *op = "embedding";
    SC_TRY(sc_opcheck_embedding(sc_cpu_backend(), out, table, ids));
    const int64_t V = table->shape[0], C = table->shape[1];
    const int64_t n = sc_tensor_numel(ids);
    const int64_t *id = ids->data;
    for (int64_t i = 0; i < n; i++)
        if (id[i] < 0 || id[i] >= V)
            return sc_set_error(SC_ERR_VALUE, "%s: id %lld at position %lld is outside the table of %lld rows", op,
                                (long long)id[i], (long long)i, (long long)V);
    float *o = out->data;
    if (table->dtype == SC_BF16) { /* a compact table: widen the rows (exact) */
        const uint16_t *tp = table->data;
#pragma omp parallel for num_threads(cpu_threads_for(n, C)) schedule(static)
        for (int64_t i = 0; i < n; i++)
            sc_convert(o + i * C, SC_F32, tp + id[i] * C, SC_BF16, (size_t)C);
        return SC_OK;
    }
    const float *tp = table->data;
#pragma omp parallel for num_threads(cpu_threads_for(n, C)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        memcpy(o + i * C, tp + id[i] * C, (size_t)C * sizeof *o);
    return SC_OK;
}
