/* Elementwise CPU ops: activation, add, mul, lerp, scale_shift, add_channel_vector.
 * Every op here may write in place (out aliasing an input): each output element depends only
 * on input elements at the same index (or on small broadcast vectors read before writing). */
#include "cpu_util.h"

/* Elements per parallel chunk of the activation op. */
#define ACT_CHUNK 4096

CPU_INLINE void act_chunk_body(float *dst, const float *x, int64_t n, sc_epilogue ep)
{
    cpu_epilogue_body(dst, x, n, ep);
}
CPU_MULTIVERSION(act_chunk, (float *dst, const float *x, int64_t n, sc_epilogue ep), (dst, x, n, ep))

sc_status cpu_activation(sc_backend *be, sc_tensor *out, const sc_tensor *x, sc_act act)
{
    (void)be;
    SC_TRY(sc_opcheck_activation(sc_cpu_backend(), out, x, act));
    const sc_epilogue ep = {act, 1.0f, 0};
    const float *xp = x->data;
    float *o = out->data;
    const int64_t n = sc_tensor_numel(out), chunks = (n + ACT_CHUNK - 1) / ACT_CHUNK;
    __typeof__(&act_chunk_generic) run = CPU_PICK(act_chunk);
#pragma omp parallel for num_threads(cpu_threads_for(chunks, ACT_CHUNK * 16)) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * ACT_CHUNK, len = n - i0 < ACT_CHUNK ? n - i0 : ACT_CHUNK;
        run(o + i0, xp + i0, len, ep);
    }
    return SC_OK;
}

sc_status cpu_add(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b)
{
    (void)be;
    SC_TRY(sc_opcheck_elementwise(sc_cpu_backend(), "add", out, a, "a", b, "b"));
    const float *ap = a->data, *bp = b->data;
    float *o = out->data;
    int64_t n = sc_tensor_numel(out);
#pragma omp parallel for simd num_threads(cpu_threads_for(n, 1)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        o[i] = ap[i] + bp[i];
    return SC_OK;
}

sc_status cpu_mul(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b)
{
    (void)be;
    SC_TRY(sc_opcheck_elementwise(sc_cpu_backend(), "mul", out, a, "a", b, "b"));
    const float *ap = a->data, *bp = b->data;
    float *o = out->data;
    int64_t n = sc_tensor_numel(out);
#pragma omp parallel for simd num_threads(cpu_threads_for(n, 1)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        o[i] = ap[i] * bp[i];
    return SC_OK;
}

sc_status cpu_lerp(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, float w)
{
    (void)be;
    SC_TRY(sc_opcheck_elementwise(sc_cpu_backend(), "lerp", out, a, "a", b, "b"));
    const float *ap = a->data, *bp = b->data;
    float *o = out->data;
    int64_t n = sc_tensor_numel(out);
    const int nt = cpu_threads_for(n, 2);
    /* torch.lerp's two-sided formula: exact at w = 0 and w = 1, same rounding as torch. */
    if (fabsf(w) < 0.5f) {
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (int64_t i = 0; i < n; i++)
            o[i] = ap[i] + w * (bp[i] - ap[i]);
    } else {
        const float wc = 1.0f - w;
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (int64_t i = 0; i < n; i++)
            o[i] = bp[i] - (bp[i] - ap[i]) * wc;
    }
    return SC_OK;
}

sc_status cpu_scale_shift(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                          const sc_tensor *b)
{
    (void)be;
    SC_TRY(sc_opcheck_scale_shift(sc_cpu_backend(), out, x, a, b));
    const int64_t B = x->shape[0], C = x->shape[x->ndim - 1];
    const int64_t rows_per_batch = B ? sc_tensor_rows(x) / B : 0;
    const int64_t rows = B * rows_per_batch;
    const float *xp = x->data, *ap = a->data, *bp = b->data;
    float *o = out->data;
#pragma omp parallel for num_threads(cpu_threads_for(rows, 2 * C)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t bi = r / rows_per_batch;
        const float *ar = ap + bi * C, *br = bp + bi * C, *xr = xp + r * C;
        float *orow = o + r * C;
        /* (1 + a) rounded first, as torch evaluates x * (1 + a) + b. */
        for (int64_t c = 0; c < C; c++)
            orow[c] = xr[c] * (1.0f + ar[c]) + br[c];
    }
    return SC_OK;
}

sc_status cpu_add_channel_vector(sc_backend *be, sc_tensor *out, const sc_tensor *v)
{
    (void)be;
    SC_TRY(sc_opcheck_add_channel_vector(sc_cpu_backend(), out, v));
    const int64_t C = out->shape[out->ndim - 1];
    const int64_t rows = sc_tensor_rows(out);
    const float *vp = v->data;
    float *o = out->data;
#pragma omp parallel for num_threads(cpu_threads_for(rows, C)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *orow = o + r * C;
        for (int64_t c = 0; c < C; c++)
            orow[c] += vp[c];
    }
    return SC_OK;
}
