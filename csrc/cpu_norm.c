/* Normalizations over channels-last tensors: LayerNorm (optional per-channel or scalar affine)
 * and GlobalResponseNorm. Statistics are accumulated in double so the result stays within a
 * few float32 ulps of the exact value whatever the row length. All may run in place. */
#include "cpu_util.h"

/* y = (x - mean) / sqrt(var + eps) * scale + shift, where scale/shift are per channel
 * (gamma/beta, either may be NULL) or, when gamma and beta are NULL, the scalars gs/bs. */
CPU_INLINE void ln_row_body(float *y, const float *x, int64_t C, float eps, const float *gamma, const float *beta,
                            float gs, float bs)
{
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; c++)
        sum += x[c];
    const double mean = sum / (double)C;
    double sq = 0.0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; c++) {
        double d = (double)x[c] - mean;
        sq += d * d;
    }
    const float rstd = (float)(1.0 / sqrt(sq / (double)C + (double)eps));
    const float m = (float)mean;
    if (gamma && beta) {
        for (int64_t c = 0; c < C; c++)
            y[c] = (x[c] - m) * rstd * gamma[c] + beta[c];
    } else if (gamma) {
        for (int64_t c = 0; c < C; c++)
            y[c] = (x[c] - m) * rstd * gamma[c];
    } else if (beta) {
        for (int64_t c = 0; c < C; c++)
            y[c] = (x[c] - m) * rstd + beta[c];
    } else {
        for (int64_t c = 0; c < C; c++)
            y[c] = (x[c] - m) * rstd * gs + bs;
    }
}
CPU_MULTIVERSION(ln_row,
                 (float *y, const float *x, int64_t C, float eps, const float *gamma, const float *beta, float gs,
                  float bs),
                 (y, x, C, eps, gamma, beta, gs, bs))

static sc_status layernorm_rows(const char *op, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                                const sc_tensor *beta, float gs, float bs, float eps)
{
    SC_TRY(sc_opcheck_layernorm(sc_cpu_backend(), op, out, x, gamma, beta, eps));
    const int64_t C = x->shape[x->ndim - 1];
    const int64_t rows = sc_tensor_rows(x);
    const float *xp = x->data;
    const float *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
    float *o = out->data;
    __typeof__(&ln_row_generic) row = CPU_PICK(ln_row);
#pragma omp parallel for num_threads(cpu_threads_for(rows, 8 * C)) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        row(o + r * C, xp + r * C, C, eps, g, b, gs, bs);
    return SC_OK;
}

sc_status cpu_layernorm(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                        const sc_tensor *beta, float eps)
{
    (void)be;
    return layernorm_rows("layernorm", out, x, gamma, beta, 1.0f, 0.0f, eps);
}

sc_status cpu_layernorm_scalar_affine(sc_backend *be, sc_tensor *out, const sc_tensor *x, float g, float b,
                                      float eps)
{
    (void)be;
    /* (1 + g) is rounded to float first, as torch evaluates LN(x) * (1 + g) + b. */
    return layernorm_rows("layernorm_scalar_affine", out, x, NULL, NULL, 1.0f + g, b, eps);
}

/* ---- GlobalResponseNorm ---- */

/* Spatial positions are summed in this many fixed slices (independent of the thread count, so
 * the result is too), then the slices are added in order. */
#define GRN_SLICES 64

sc_status cpu_grn(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma, const sc_tensor *beta,
                  float eps)
{
    (void)be;
    SC_TRY(sc_opcheck_grn(sc_cpu_backend(), out, x, gamma, beta, eps));
    const int64_t B = x->shape[0], HW = x->shape[1] * x->shape[2], C = x->shape[3];
    if (B * HW * C == 0)
        return SC_OK;

    const int64_t slices = HW < GRN_SLICES ? HW : GRN_SLICES;
    cpu_scratch *scratch;
    /* partial sums [B, slices, C] (double), then the factors N [B, C] (float) */
    SC_TRY(cpu_scratch_acquire((size_t)(B * slices * C) * sizeof(double) + (size_t)(B * C) * sizeof(float),
                               &scratch));
    double *part = scratch->data;
    float *nfac = (float *)(part + B * slices * C);
    const float *xp = x->data;

#pragma omp parallel for num_threads(cpu_threads_for(B * slices, HW / slices * C * 2)) schedule(static)
    for (int64_t task = 0; task < B * slices; task++) {
        const int64_t b = task / slices, s = task % slices;
        const int64_t p0 = HW * s / slices, p1 = HW * (s + 1) / slices;
        double *acc = part + task * C;
        for (int64_t c = 0; c < C; c++)
            acc[c] = 0.0;
        for (int64_t p = p0; p < p1; p++) {
            const float *xr = xp + (b * HW + p) * C;
            for (int64_t c = 0; c < C; c++)
                acc[c] += (double)xr[c] * xr[c];
        }
    }
    for (int64_t b = 0; b < B; b++) {
        double *g = part + b * slices * C; /* becomes G[b, :] */
        for (int64_t s = 1; s < slices; s++)
            for (int64_t c = 0; c < C; c++)
                g[c] += g[s * C + c];
        double mean = 0.0;
        for (int64_t c = 0; c < C; c++) {
            g[c] = sqrt(g[c]);
            mean += g[c];
        }
        mean /= (double)C;
        for (int64_t c = 0; c < C; c++)
            nfac[b * C + c] = (float)(g[c] / (mean + (double)eps));
    }

    const float *gp = gamma->data, *bp = beta->data;
    float *o = out->data;
#pragma omp parallel for num_threads(cpu_threads_for(B * HW, 4 * C)) schedule(static)
    for (int64_t r = 0; r < B * HW; r++) {
        const float *n = nfac + (r / HW) * C, *xr = xp + r * C;
        float *orow = o + r * C;
        for (int64_t c = 0; c < C; c++)
            orow[c] = gp[c] * (xr[c] * n[c]) + bp[c] + xr[c];
    }
    cpu_scratch_release(scratch);
    return SC_OK;
}
