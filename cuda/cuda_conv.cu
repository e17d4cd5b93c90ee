// Dense convolutions as GEMMs:
//   conv2d            patches (im2col, bf16) [pixels, kh*kw*Ci] x w[Co, kh*kw*Ci]^T, epilogue fused
//                     in the GEMM (a 1x1 stride-1 conv uses the input rows directly);
//   conv_transpose2d  columns [in pixels, kh*kw*Co] = x[in pixels, Ci] w[kh*kw*Co, Ci]^T (f32),
//                     then col2im gathers for each output pixel the taps that land on it, adds
//                     the bias and applies the epilogue (no atomics, each output written once).
// Both work in bands of rows so scratch stays below SCRATCH_BAND_BYTES (plus one row of slack).
#include "cuda_gemm.cuh"

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); } // b > 0
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// cols[r, (ky, kx, ci)] = x[b, oy*stride - pad + ky, ox*stride - pad + kx, ci] (0 outside) for
// the output pixels g = r0 + r, g = (b, oy, ox) in [B, Ho, Wo] order.
__global__ void im2col_kernel(sc_cu_conv_shape s, int64_t r0, int64_t rows, const bf16 *x, bf16 *cols)
{
    const int64_t K = s.kh * s.kw * s.Ci;
    GRID_STRIDE_LOOP(i, rows * K)
    {
        const int64_t g = r0 + i / K, k = i % K;
        const int64_t ox = g % s.Wo, oy = g / s.Wo % s.Ho, b = g / (s.Wo * s.Ho);
        const int64_t ci = k % s.Ci, kx = k / s.Ci % s.kw, ky = k / (s.Ci * s.kw);
        const int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
        const bool inside = iy >= 0 && iy < s.H && ix >= 0 && ix < s.W;
        cols[i] = inside ? x[((b * s.H + iy) * s.W + ix) * s.Ci + ci] : __float2bfloat16_rn(0.0f);
    }
}

// Output rows [oy0, oy0 + nrows) of image b. cols holds input rows [iy0, iy1) of that image as
// [(iy - iy0) * W + ix, (ky, kx, co)], or is NULL when Ci == 0 (no taps contribute).
// Input pixel (iy, ix) tap (ky, kx) lands on output (iy*stride - pad + ky, ix*stride - pad + kx).
__global__ void col2im_kernel(sc_cu_conv_shape s, int64_t b, int64_t oy0, int64_t nrows, int64_t iy0, int64_t iy1,
                              const float *cols, const bf16 *bias, bf16 *out, sc_epilogue ep)
{
    const int64_t Kc = s.kh * s.kw * s.Co;
    GRID_STRIDE_LOOP(i, nrows * s.Wo * s.Co)
    {
        const int64_t co = i % s.Co, ox = i / s.Co % s.Wo, oy = oy0 + i / (s.Co * s.Wo);
        float sum = bias ? ld(bias, co) : 0.0f;
        for (int64_t ky = 0; cols && ky < s.kh; ky++) {
            const int64_t ty = oy + s.pad - ky;
            if (ty < 0 || ty % s.stride != 0 || ty / s.stride < iy0 || ty / s.stride >= iy1)
                continue;
            const float *row = cols + (ty / s.stride - iy0) * s.W * Kc;
            for (int64_t kx = 0; kx < s.kw; kx++) {
                const int64_t tx = ox + s.pad - kx;
                if (tx < 0 || tx % s.stride != 0 || tx / s.stride >= s.W)
                    continue;
                sum += row[(tx / s.stride) * Kc + (ky * s.kw + kx) * s.Co + co];
            }
        }
        epilogue_store(out, ((b * s.Ho + oy) * s.Wo + ox) * s.Co + co, sum, ep);
    }
}

} // namespace

extern "C" sc_status sc_cu_conv2d(sc_cuda_ctx *ctx, const sc_cu_conv_shape *s, const sc_bf16 *x, const sc_bf16 *w,
                                  const sc_bf16 *bias, sc_bf16 *out, sc_epilogue ep)
{
    std::lock_guard<std::mutex> guard(ctx->lock);
    const int64_t K = s->kh * s->kw * s->Ci, G = s->B * s->Ho * s->Wo;
    const bf16 *xb = as_bf16(x), *wb = as_bf16(w), *bb = bias ? as_bf16(bias) : nullptr;
    bf16 *ob = as_bf16(out);
    if (G == 0 || s->Co == 0)
        return SC_OK;
    if (K == 0 || (s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0)) // the input rows are the patches
        return gemm_nt_epilogue(ctx, G, s->Co, K, xb, K, wb, K, bb, ob, ep);
    const int64_t band = clamp64((int64_t)(SCRATCH_BAND_BYTES / ((size_t)K * sizeof(bf16))), 1, G);
    void *scratch = nullptr;
    SC_TRY(ctx_scratch(ctx, SCRATCH_COLS, (size_t)(band * K) * sizeof(bf16), &scratch));
    bf16 *cols = static_cast<bf16 *>(scratch);
    for (int64_t r0 = 0; r0 < G; r0 += band) {
        const int64_t rows = G - r0 < band ? G - r0 : band;
        im2col_kernel<<<grid_for(rows * K, 256), 256>>>(*s, r0, rows, xb, cols);
        SC_TRY(sc_cuda_launched("im2col_kernel"));
        SC_TRY(gemm_nt_epilogue(ctx, rows, s->Co, K, cols, K, wb, K, bb, ob + r0 * s->Co, ep));
    }
    return SC_OK;
}

extern "C" sc_status sc_cu_conv_transpose2d(sc_cuda_ctx *ctx, const sc_cu_conv_shape *s, const sc_bf16 *x,
                                            const sc_bf16 *w, const sc_bf16 *bias, sc_bf16 *out, sc_epilogue ep)
{
    std::lock_guard<std::mutex> guard(ctx->lock);
    const bf16 *xb = as_bf16(x), *wb = as_bf16(w), *bb = bias ? as_bf16(bias) : nullptr;
    bf16 *ob = as_bf16(out);
    const int64_t Kc = s->kh * s->kw * s->Co, st = s->stride;
    if (s->B * s->Ho * s->Wo * s->Co == 0)
        return SC_OK;
    // Output rows per band R: a band reads at most (R + kh - 2) / stride + 2 input rows.
    const size_t in_row_bytes = (size_t)(s->W * Kc) * sizeof(float);
    const int64_t budget_rows = clamp64((int64_t)(SCRATCH_BAND_BYTES / in_row_bytes), 1, s->H + 2);
    const int64_t R = clamp64((budget_rows - 2) * st - s->kh + 2, 1, s->Ho);
    const int64_t max_in_rows = clamp64((R + s->kh - 2) / st + 2, 1, s->H);
    float *cols = nullptr;
    if (s->Ci > 0) {
        void *scratch = nullptr;
        SC_TRY(ctx_scratch(ctx, SCRATCH_COLS, (size_t)max_in_rows * in_row_bytes, &scratch));
        cols = static_cast<float *>(scratch);
    }
    for (int64_t b = 0; b < s->B; b++) {
        for (int64_t oy0 = 0; oy0 < s->Ho; oy0 += R) {
            const int64_t nrows = s->Ho - oy0 < R ? s->Ho - oy0 : R;
            // Input rows whose taps reach output rows [oy0, oy0 + nrows).
            const int64_t iy0 = clamp64(ceil_div(oy0 + s->pad - s->kh + 1, st), 0, s->H);
            const int64_t iy1 = clamp64(floor_div(oy0 + nrows - 1 + s->pad, st) + 1, 0, s->H);
            if (cols && iy1 > iy0)
                SC_TRY(gemm_nt(ctx, (iy1 - iy0) * s->W, Kc, s->Ci, xb + (b * s->H + iy0) * s->W * s->Ci, s->Ci, wb,
                               s->Ci, cols, Kc, true, 1.0f, 0.0f, nullptr));
            const int64_t n = nrows * s->Wo * s->Co;
            col2im_kernel<<<grid_for(n, 256), 256>>>(*s, b, oy0, nrows, iy0, iy1, cols, bb, ob, ep);
            SC_TRY(sc_cuda_launched("col2im_kernel"));
        }
    }
    return SC_OK;
}
