/* 3x3 depthwise convolution, stride 1, one pixel of zero or replicate padding, channels-last:
 *     out[b,y,x,c] = bias[c] + sum_{ky,kx} w[ky,kx,c] * x[b, y+ky-1, x+kx-1, c]
 * where an outside pixel is 0 (SC_PAD_ZERO) or the nearest edge pixel (SC_PAD_REPLICATE).
 * Vectorized over channels; parallel over output rows. */
#include "cpu_util.h"

/* Channels per block: a block's accumulators stay in L1 while the 9 taps add into them. */
#define DW_BLOCK 64

/* acc[0..n) = bias + sum over the 9 taps of w[tap] * src[tap]. */
CPU_INLINE void dw_block(float *restrict acc, const float *const *src, const float *restrict w, int64_t C,
                         const float *restrict bias, int64_t n)
{
    for (int64_t c = 0; c < n; c++)
        acc[c] = bias ? bias[c] : 0.0f;
    for (int tap = 0; tap < 9; tap++) {
        const float *restrict s = src[tap], *restrict wt = w + tap * C;
        for (int64_t c = 0; c < n; c++)
            acc[c] += wt[c] * s[c];
    }
}

/* One output row. rows[ky] is input row y+ky-1, or NULL for a zero-padding row; `zeros` holds
 * C zeros and stands in for every zero-padded pixel. */
CPU_INLINE void dw_row_body(float *out, const float *const *rows, const float *zeros, int64_t W, int64_t C,
                            const float *w, const float *bias, int replicate, sc_epilogue ep)
{
    float acc[DW_BLOCK];
    const float *src[9];
    for (int64_t x = 0; x < W; x++) {
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                int64_t xx = x + kx - 1;
                const int outside = xx < 0 || xx >= W;
                xx = xx < 0 ? 0 : xx >= W ? W - 1 : xx;
                src[ky * 3 + kx] = !rows[ky] || (outside && !replicate) ? zeros : rows[ky] + xx * C;
            }
        for (int64_t c0 = 0; c0 < C; c0 += DW_BLOCK) {
            const float *blk[9];
            for (int tap = 0; tap < 9; tap++)
                blk[tap] = src[tap] + c0;
            const int64_t n = C - c0 < DW_BLOCK ? C - c0 : DW_BLOCK;
            dw_block(acc, blk, w + c0, C, bias ? bias + c0 : NULL, n);
            cpu_epilogue_body(out + x * C + c0, acc, n, ep);
        }
    }
}
CPU_MULTIVERSION(dw_row,
                 (float *out, const float *const *rows, const float *zeros, int64_t W, int64_t C, const float *w,
                  const float *bias, int replicate, sc_epilogue ep),
                 (out, rows, zeros, W, C, w, bias, replicate, ep))

sc_status cpu_depthwise3x3(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                           const sc_tensor *bias, sc_pad_mode pad, sc_epilogue ep)
{
    (void)be;
    SC_TRY(sc_opcheck_depthwise3x3(sc_cpu_backend(), out, x, w, bias, pad, ep));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];

    cpu_scratch *zs;
    SC_TRY(cpu_scratch_acquire((size_t)C * sizeof(float), &zs));
    float *zeros = zs->data;
    memset(zeros, 0, (size_t)C * sizeof *zeros);
    const float *xp = x->data, *wp = w->data, *bp = bias ? bias->data : NULL;
    float *o = out->data;
    const int replicate = pad == SC_PAD_REPLICATE;
    __typeof__(&dw_row_generic) row = CPU_PICK(dw_row);
#pragma omp parallel for num_threads(cpu_threads_for(B * H, W * C * 18)) schedule(static)
    for (int64_t r = 0; r < B * H; r++) {
        const int64_t b = r / H, y = r % H;
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++) {
            int64_t yy = y + ky - 1;
            if (yy < 0 || yy >= H)
                yy = replicate ? (yy < 0 ? 0 : H - 1) : -1;
            rows[ky] = yy < 0 ? NULL : xp + (b * H + yy) * W * C;
        }
        row(o + r * W * C, rows, zeros, W, C, wp, bp, replicate, ep);
    }
    cpu_scratch_release(zs);
    return SC_OK;
}
