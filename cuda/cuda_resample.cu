// Spatial resampling of channels-last images: bilinear resize (align_corners=True) and pixel
// (un)shuffle. Pure gathers, one thread per output element.
#include "cuda_common.cuh"

namespace {

constexpr int RS_THREADS = 256;

struct bilinear_tap {
    int64_t i0, i1;
    float l0, l1;
};

// Source index and weights of output coordinate o, computed in float32 as torch's
// upsample_bilinear2d does with align_corners=True (and as the CPU backend does).
__device__ bilinear_tap bilinear_source(int64_t o, int64_t in_size, int64_t out_size)
{
    const float scale = out_size > 1 ? (float)(in_size - 1) / (float)(out_size - 1) : 0.0f;
    const float src = scale * (float)o;
    bilinear_tap t;
    t.i0 = (int64_t)floorf(src);
    t.i0 = t.i0 < in_size - 1 ? t.i0 : in_size - 1;
    t.l1 = fminf(fmaxf(src - (float)t.i0, 0.0f), 1.0f);
    t.l0 = 1.0f - t.l1;
    t.i1 = t.i0 + (t.i0 < in_size - 1 ? 1 : 0);
    return t;
}

__global__ void resize_bilinear_kernel(int64_t B, int64_t Hi, int64_t Wi, int64_t Ho, int64_t Wo, int64_t C,
                                       const bf16 *x, bf16 *out)
{
    GRID_STRIDE_LOOP(i, B * Ho * Wo * C)
    {
        const int64_t c = i % C, ox = i / C % Wo, oy = i / (C * Wo) % Ho, b = i / (C * Wo * Ho);
        const bilinear_tap ty = bilinear_source(oy, Hi, Ho), tx = bilinear_source(ox, Wi, Wo);
        const bf16 *row0 = x + (b * Hi + ty.i0) * Wi * C, *row1 = x + (b * Hi + ty.i1) * Wi * C;
        const float top = tx.l0 * ld(row0, tx.i0 * C + c) + tx.l1 * ld(row0, tx.i1 * C + c);
        const float bottom = tx.l0 * ld(row1, tx.i0 * C + c) + tx.l1 * ld(row1, tx.i1 * C + c);
        st(out, i, ty.l0 * top + ty.l1 * bottom);
    }
}

// i indexes the small tensor [B, h, w, C*r*r]: channel c*r*r + dy*r + dx of small pixel (y, x)
// is channel c of big pixel (r*y + dy, r*x + dx).
__global__ void pixel_shuffle_kernel(int64_t B, int64_t h, int64_t w, int64_t C, int64_t r, int to_small,
                                     const bf16 *src, bf16 *dst)
{
    const int64_t Cs = C * r * r;
    GRID_STRIDE_LOOP(i, B * h * w * Cs)
    {
        const int64_t cs = i % Cs, x = i / Cs % w, y = i / (Cs * w) % h, b = i / (Cs * w * h);
        const int64_t c = cs / (r * r), dy = cs / r % r, dx = cs % r;
        const int64_t big = ((b * h * r + y * r + dy) * w * r + x * r + dx) * C + c;
        if (to_small)
            dst[i] = src[big];
        else
            dst[big] = src[i];
    }
}

} // namespace

extern "C" sc_status sc_cu_resize_bilinear(int64_t B, int64_t Hi, int64_t Wi, int64_t Ho, int64_t Wo, int64_t C,
                                           const sc_bf16 *x, sc_bf16 *out)
{
    const int64_t n = B * Ho * Wo * C;
    if (n == 0)
        return SC_OK;
    resize_bilinear_kernel<<<grid_for(n, RS_THREADS), RS_THREADS>>>(B, Hi, Wi, Ho, Wo, C, as_bf16(x), as_bf16(out));
    return sc_cuda_launched("resize_bilinear_kernel");
}

extern "C" sc_status sc_cu_pixel_shuffle(int64_t B, int64_t h, int64_t w, int64_t C, int64_t r, int to_small,
                                         const sc_bf16 *src, sc_bf16 *dst)
{
    const int64_t n = B * h * w * C * r * r;
    if (n == 0)
        return SC_OK;
    pixel_shuffle_kernel<<<grid_for(n, RS_THREADS), RS_THREADS>>>(B, h, w, C, r, to_small, as_bf16(src), as_bf16(dst));
    return sc_cuda_launched("pixel_shuffle_kernel");
}
