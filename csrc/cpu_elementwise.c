/* Elementwise CPU ops: activation, add, mul, lerp, scale_shift, add_channel_vector.
 * Every op here may write in place (out aliasing an input): each output element depends only
 * on input elements at the same index (or on small broadcast vectors read before writing). */
#include "cpu_util.h"

/* out and every input are float32 with out's shape. */
static sc_status check_same(const char *op, const sc_tensor *out, const sc_tensor *a, const char *a_name,
                            const sc_tensor *b, const char *b_name)
{
    SC_TRY(sc_opcheck_act(sc_cpu_backend(), out, op, "out", -1));
    SC_TRY(sc_opcheck_act(sc_cpu_backend(), a, op, a_name, -1));
    SC_TRY(sc_opcheck_shape(a, op, a_name, out->ndim, out->shape));
    if (b) {
        SC_TRY(sc_opcheck_act(sc_cpu_backend(), b, op, b_name, -1));
        SC_TRY(sc_opcheck_shape(b, op, b_name, out->ndim, out->shape));
    }
    return SC_OK;
}

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
    SC_TRY(check_same("activation", out, x, "x", NULL, NULL));
    const sc_epilogue ep = {act, 1.0f, 0};
    SC_TRY(sc_opcheck_epilogue(ep, "activation"));
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
    SC_TRY(check_same("add", out, a, "a", b, "b"));
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
    SC_TRY(check_same("mul", out, a, "a", b, "b"));
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
    SC_TRY(check_same("lerp", out, a, "a", b, "b"));
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
    const char *op = "scale_shift";
    SC_TRY(check_same(op, out, x, "x", NULL, NULL));
    if (x->ndim < 2)
        return sc_set_error(SC_ERR_VALUE, "%s: x must be [B, ..., C], got %d dims", op, x->ndim);
    const int64_t B = x->shape[0], C = x->shape[x->ndim - 1];
    const int64_t bc[2] = {B, C};
    SC_TRY(sc_opcheck_act(sc_cpu_backend(), a, op, "a", 2));
    SC_TRY(sc_opcheck_shape(a, op, "a", 2, bc));
    SC_TRY(sc_opcheck_act(sc_cpu_backend(), b, op, "b", 2));
    SC_TRY(sc_opcheck_shape(b, op, "b", 2, bc));
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
    const char *op = "add_channel_vector";
    SC_TRY(sc_opcheck_act(sc_cpu_backend(), out, op, "out", -1));
    const int64_t C = out->shape[out->ndim - 1];
    SC_TRY(sc_opcheck_act(sc_cpu_backend(), v, op, "v", 1));
    SC_TRY(sc_opcheck_shape(v, op, "v", 1, &C));
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
