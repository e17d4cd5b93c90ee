/* Linear, conv2d and conv_transpose2d on the CPU, all as GEMMs (sc_cpu_gemm_nt) with the
 * epilogue fused where the sums are complete.
 *
 * Both convolutions are instances of one "gathered convolution": output pixels on a grid
 * (b, i, j) whose value is a dense product of a gathered input patch and a weight matrix:
 *     out[b, i*os + py, j*os + px, :] = W_taps [Co, ty*tx*Ci] . patch(b, i, j) + bias
 *     patch(b, i, j)[a, c, :]         = x[b, i*is + y0 + a*ys, j*is + x0 + c*xs, :]  (0 outside)
 * conv2d is the grid of all outputs (os = 1) with taps (ky, kx) = (a, c). conv_transpose2d
 * splits the output into s*s phases (py, px); the output pixels of one phase see the kernel taps
 * ky = (py + pad) mod s + a*s, at input row i + (py + pad - ky_0)/s - a, so each phase is an
 * ordinary correlation with a sub-kernel and needs no col2im overlap-add: every output pixel
 * is finished inside one GEMM row, and the epilogue (activation, residual) applies there. The
 * patches are gathered in bands of grid rows so scratch memory stays bounded. */
#include "cpu_util.h"

/* One axis of the gathered convolution: tap a reads input index i*in_step + first + a*tap_step. */
typedef struct {
    int64_t in_step, first, tap_step, taps;
    int64_t grid;        /* number of output positions along this axis (of the grid) */
    int64_t out_step, out_first; /* output index = i*out_step + out_first */
} conv_axis;

typedef struct {
    const float *x;
    int64_t B, H, W, Ci, Co;
    conv_axis ay, ax;
    const void *w; /* [Co, ay.taps, ax.taps, Ci] of w_dtype (float32 or bfloat16) */
    sc_dtype w_dtype;
    const float *bias;
    float *out; /* [B, Ho, Wo, Co] */
    int64_t Ho, Wo;
    sc_epilogue ep;
} conv_job;

#define CONV_BAND_FLOATS ((int64_t)1 << 21)

static int64_t conv_taps_k(const conv_job *j) { return j->ay.taps * j->ax.taps * j->Ci; }
static int64_t conv_grid_rows(const conv_job *j) { return j->B * j->ay.grid * j->ax.grid; }

/* Grid rows per band: a band's patches and (strided) outputs take about CONV_BAND_FLOATS. */
static int64_t conv_band_rows(const conv_job *j)
{
    const int64_t G = conv_grid_rows(j);
    int64_t band = CONV_BAND_FLOATS / (conv_taps_k(j) + j->Co);
    band = band < 64 ? 64 : band;
    return band < G ? band : G;
}

/* Output rows of the grid are the rows of out, in order (no scatter needed). */
static int conv_out_is_contiguous(const conv_job *j)
{
    return j->ay.out_step == 1 && j->ax.out_step == 1 && j->ay.grid == j->Ho && j->ax.grid == j->Wo;
}

static int gather_is_identity(const conv_job *j)
{
    return j->ay.taps == 1 && j->ax.taps == 1 && j->ay.in_step == 1 && j->ax.in_step == 1 && j->ay.first == 0 &&
           j->ax.first == 0 && j->ay.grid == j->H && j->ax.grid == j->W;
}

static void gather_patches(const conv_job *j, int64_t r0, int64_t rows, float *col)
{
    const int64_t Ci = j->Ci, K = conv_taps_k(j);
    const int64_t Gh = j->ay.grid, Gw = j->ax.grid;
#pragma omp parallel for num_threads(cpu_threads_for(rows, K)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t g = r0 + r, b = g / (Gh * Gw), i = g / Gw % Gh, jx = g % Gw;
        float *dst = col + r * K;
        for (int64_t a = 0; a < j->ay.taps; a++) {
            const int64_t iy = i * j->ay.in_step + j->ay.first + a * j->ay.tap_step;
            for (int64_t c = 0; c < j->ax.taps; c++, dst += Ci) {
                const int64_t ix = jx * j->ax.in_step + j->ax.first + c * j->ax.tap_step;
                if (iy < 0 || iy >= j->H || ix < 0 || ix >= j->W)
                    memset(dst, 0, (size_t)Ci * sizeof *dst);
                else
                    memcpy(dst, j->x + ((b * j->H + iy) * j->W + ix) * Ci, (size_t)Ci * sizeof *dst);
            }
        }
    }
}

/* out pixel of grid row g */
static float *grid_out(const conv_job *j, int64_t g)
{
    const int64_t Gh = j->ay.grid, Gw = j->ax.grid;
    const int64_t b = g / (Gh * Gw), i = g / Gw % Gh, jx = g % Gw;
    const int64_t oy = i * j->ay.out_step + j->ay.out_first, ox = jx * j->ax.out_step + j->ax.out_first;
    return j->out + ((b * j->Ho + oy) * j->Wo + ox) * j->Co;
}

/* Floats of scratch run_gathered_conv needs: a patch band unless the patches are the input
 * rows themselves, an output band unless the output rows are contiguous. */
static int64_t conv_scratch_floats(const conv_job *j)
{
    const int64_t band = conv_band_rows(j);
    return (gather_is_identity(j) ? 0 : band * conv_taps_k(j)) + (conv_out_is_contiguous(j) ? 0 : band * j->Co);
}

/* Runs one gathered convolution in `scratch` (conv_scratch_floats(j) floats). A phase that no
 * kernel tap reaches (K = 0) is the epilogue of the bias alone, which the GEMM handles. */
static sc_status run_gathered_conv(const conv_job *j, float *scratch)
{
    const int64_t Co = j->Co, K = conv_taps_k(j), G = conv_grid_rows(j);
    if (G == 0 || Co == 0)
        return SC_OK;
    const int identity = gather_is_identity(j), contiguous = conv_out_is_contiguous(j);
    const int64_t band = conv_band_rows(j);
    float *col = scratch;
    float *tmp = scratch + (identity ? 0 : band * K); /* [band, Co] for strided output rows */
    /* Strided output rows go through tmp without the residual add, which the scatter does. */
    sc_epilogue ep_tmp = j->ep;
    ep_tmp.accumulate = 0;
    const int acc = j->ep.accumulate;
    for (int64_t r0 = 0; r0 < G; r0 += band) {
        const int64_t rows = G - r0 < band ? G - r0 : band;
        const float *A = j->x + r0 * K;
        if (!identity) {
            gather_patches(j, r0, rows, col);
            A = col;
        }
        if (contiguous) {
            SC_TRY(sc_cpu_gemm_nt(rows, Co, K, A, K, j->w, j->w_dtype, K, j->out + r0 * Co, Co, j->bias, j->ep));
            continue;
        }
        SC_TRY(sc_cpu_gemm_nt(rows, Co, K, A, K, j->w, j->w_dtype, K, tmp, Co, j->bias, ep_tmp));
#pragma omp parallel for num_threads(cpu_threads_for(rows, Co)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            float *dst = grid_out(j, r0 + r);
            const float *src = tmp + r * Co;
            if (acc)
                for (int64_t c = 0; c < Co; c++)
                    dst[c] += src[c];
            else
                memcpy(dst, src, (size_t)Co * sizeof *dst);
        }
    }
    return SC_OK;
}

sc_status cpu_linear(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                     sc_epilogue ep)
{
    (void)be;
    SC_TRY(sc_opcheck_linear(sc_cpu_backend(), out, x, w, bias, ep));
    const int64_t K = x->shape[x->ndim - 1], N = w->shape[0];
    return sc_cpu_gemm_nt(sc_tensor_rows(x), N, K, x->data, K, w->data, w->dtype, K, out->data, N,
                          bias ? bias->data : NULL, ep);
}

static sc_status run_job(const conv_job *j)
{
    cpu_scratch *s;
    SC_TRY(cpu_scratch_acquire((size_t)conv_scratch_floats(j) * sizeof(float), &s));
    sc_status st = run_gathered_conv(j, s->data);
    cpu_scratch_release(s);
    return st;
}

sc_status cpu_conv2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w, const sc_tensor *bias,
                     int stride, int pad, sc_epilogue ep)
{
    (void)be;
    SC_TRY(sc_opcheck_conv2d(sc_cpu_backend(), out, x, w, bias, stride, pad, ep));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], Ci = x->shape[3];
    const int64_t Co = w->shape[0], kh = w->shape[1], kw = w->shape[2], Ho = out->shape[1], Wo = out->shape[2];
    conv_job j = {
        .x = x->data, .B = B, .H = H, .W = W, .Ci = Ci, .Co = Co,
        .ay = {stride, -pad, 1, kh, Ho, 1, 0},
        .ax = {stride, -pad, 1, kw, Wo, 1, 0},
        .w = w->data, .w_dtype = w->dtype, .bias = bias ? bias->data : NULL, .out = out->data, .Ho = Ho, .Wo = Wo,
        .ep = ep,
    };
    return run_job(&j);
}

/* Taps of one phase of a transposed conv along one axis (see the file comment). */
static conv_axis transposed_phase_axis(int64_t phase, int64_t k, int64_t stride, int64_t pad, int64_t out_size)
{
    const int64_t k0 = (phase + pad) % stride;
    conv_axis a = {
        .in_step = 1,
        .first = (phase + pad - k0) / stride,
        .tap_step = -1,
        .taps = k0 < k ? (k - 1 - k0) / stride + 1 : 0,
        .grid = phase < out_size ? (out_size - phase + stride - 1) / stride : 0,
        .out_step = stride,
        .out_first = phase,
    };
    return a;
}

sc_status cpu_conv_transpose2d(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *w,
                               const sc_tensor *bias, int stride, int pad, sc_epilogue ep)
{
    (void)be;
    SC_TRY(sc_opcheck_conv_transpose2d(sc_cpu_backend(), out, x, w, bias, stride, pad, ep));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], Ci = x->shape[3];
    const int64_t kh = w->shape[0], kw = w->shape[1], Co = w->shape[2], Ho = out->shape[1], Wo = out->shape[2];

    /* Scratch: the largest phase's job plus its gathered weights [Co, taps, Ci] (counted as
     * floats, enough for bfloat16 weights too). */
    int64_t need = 0;
    for (int64_t py = 0; py < stride; py++)
        for (int64_t px = 0; px < stride; px++) {
            conv_job j = {.B = B, .H = H, .W = W, .Ci = Ci, .Co = Co,
                          .ay = transposed_phase_axis(py, kh, stride, pad, Ho),
                          .ax = transposed_phase_axis(px, kw, stride, pad, Wo)};
            int64_t n = conv_scratch_floats(&j) + Co * j.ay.taps * j.ax.taps * Ci;
            need = n > need ? n : need;
        }
    cpu_scratch *s;
    SC_TRY(cpu_scratch_acquire((size_t)need * sizeof(float), &s));
    const char *wp = w->data;
    const size_t esize = sc_dtype_size(w->dtype);
    sc_status st = SC_OK;
    for (int64_t py = 0; py < stride && st == SC_OK; py++)
        for (int64_t px = 0; px < stride && st == SC_OK; px++) {
            conv_job j = {
                .x = x->data, .B = B, .H = H, .W = W, .Ci = Ci, .Co = Co,
                .ay = transposed_phase_axis(py, kh, stride, pad, Ho),
                .ax = transposed_phase_axis(px, kw, stride, pad, Wo),
                .w_dtype = w->dtype, .bias = bias ? bias->data : NULL, .out = out->data, .Ho = Ho, .Wo = Wo,
                .ep = ep,
            };
            /* W_taps[co, a, c, :] = w[ky0 + a*s, kx0 + c*s, co, :] */
            const int64_t ky0 = (py + pad) % stride, kx0 = (px + pad) % stride;
            const int64_t ty = j.ay.taps, tx = j.ax.taps;
            char *wt = (char *)((float *)s->data + conv_scratch_floats(&j));
            for (int64_t co = 0; co < Co; co++)
                for (int64_t a = 0; a < ty; a++)
                    for (int64_t c = 0; c < tx; c++)
                        memcpy(wt + (size_t)(((co * ty + a) * tx + c) * Ci) * esize,
                               wp + (size_t)((((ky0 + a * stride) * kw + kx0 + c * stride) * Co + co) * Ci) * esize,
                               (size_t)Ci * esize);
            j.w = wt;
            st = run_gathered_conv(&j, s->data);
        }
    cpu_scratch_release(s);
    return st;
}
