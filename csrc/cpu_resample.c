/* Spatial resampling of channels-last images: bilinear resize (align_corners=True) and pixel
 * (un)shuffle. All are pure gathers, parallel over output rows. */
#include "cpu_util.h"

/* Source index and weights of one output coordinate, as torch's CPU upsample_bilinear2d computes
 * them with align_corners=True: the scale and the source position are float32. */
typedef struct {
    int64_t i0, i1;
    float l0, l1;
} bilinear_tap;

static bilinear_tap bilinear_source(int64_t o, int64_t in_size, int64_t out_size)
{
    const float scale = out_size > 1 ? (float)(in_size - 1) / (float)(out_size - 1) : 0.0f;
    const float src = scale * (float)o;
    bilinear_tap t;
    t.i0 = (int64_t)floorf(src);
    t.i0 = t.i0 < in_size - 1 ? t.i0 : in_size - 1;
    float l1 = src - (float)t.i0;
    t.l1 = l1 < 0.0f ? 0.0f : l1 > 1.0f ? 1.0f : l1;
    t.l0 = 1.0f - t.l1;
    t.i1 = t.i0 + (t.i0 < in_size - 1 ? 1 : 0);
    return t;
}

sc_status cpu_resize_bilinear(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    (void)be;
    SC_TRY(sc_opcheck_resize_bilinear(sc_cpu_backend(), out, x));
    const int64_t B = x->shape[0], Hi = x->shape[1], Wi = x->shape[2], C = x->shape[3];
    const int64_t Ho = out->shape[1], Wo = out->shape[2];
    if (sc_tensor_numel(out) == 0)
        return SC_OK;
    const float *xp = x->data;
    float *o = out->data;
    if (Hi == Ho && Wi == Wo) {
        memcpy(o, xp, sc_tensor_nbytes(x));
        return SC_OK;
    }
#pragma omp parallel for num_threads(cpu_threads_for(B * Ho, Wo * C * 6)) schedule(static)
    for (int64_t r = 0; r < B * Ho; r++) {
        const int64_t b = r / Ho;
        const bilinear_tap ty = bilinear_source(r % Ho, Hi, Ho);
        const float *row0 = xp + (b * Hi + ty.i0) * Wi * C, *row1 = xp + (b * Hi + ty.i1) * Wi * C;
        float *dst = o + r * Wo * C;
        for (int64_t ox = 0; ox < Wo; ox++, dst += C) {
            const bilinear_tap tx = bilinear_source(ox, Wi, Wo);
            const float *a = row0 + tx.i0 * C, *bq = row0 + tx.i1 * C;
            const float *c = row1 + tx.i0 * C, *dq = row1 + tx.i1 * C;
            for (int64_t ch = 0; ch < C; ch++)
                dst[ch] = ty.l0 * (tx.l0 * a[ch] + tx.l1 * bq[ch]) + ty.l1 * (tx.l0 * c[ch] + tx.l1 * dq[ch]);
        }
    }
    return SC_OK;
}

/* The shared index map of both directions: big [B, h*r, w*r, C] pixel (r*y+dy, r*x+dx) channel c
 * <-> small [B, h, w, C*r*r] pixel (y, x) channel c*r*r + dy*r + dx. */
static void shuffle_map(float *big, float *small, int64_t B, int64_t h, int64_t w, int64_t C, int64_t r,
                        int to_small)
{
    const int64_t rr = r * r;
#pragma omp parallel for num_threads(cpu_threads_for(B * h, w * C * rr)) schedule(static)
    for (int64_t row = 0; row < B * h; row++) {
        const int64_t b = row / h, y = row % h;
        for (int64_t x = 0; x < w; x++) {
            float *s = small + (row * w + x) * C * rr;
            for (int64_t dy = 0; dy < r; dy++)
                for (int64_t dx = 0; dx < r; dx++) {
                    float *g = big + ((b * h * r + y * r + dy) * w * r + x * r + dx) * C;
                    float *sc = s + dy * r + dx;
                    if (to_small)
                        for (int64_t c = 0; c < C; c++)
                            sc[c * rr] = g[c];
                    else
                        for (int64_t c = 0; c < C; c++)
                            g[c] = sc[c * rr];
                }
        }
    }
}

sc_status cpu_pixel_unshuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r)
{
    (void)be;
    SC_TRY(sc_opcheck_pixel_unshuffle(sc_cpu_backend(), out, x, r));
    shuffle_map(x->data, out->data, x->shape[0], out->shape[1], out->shape[2], x->shape[3], r, 1);
    return SC_OK;
}

sc_status cpu_pixel_shuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r)
{
    (void)be;
    SC_TRY(sc_opcheck_pixel_shuffle(sc_cpu_backend(), out, x, r));
    shuffle_map(out->data, x->data, x->shape[0], x->shape[1], x->shape[2], out->shape[3], r, 0);
    return SC_OK;
}
