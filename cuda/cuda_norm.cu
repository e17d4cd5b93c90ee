// Normalizations with float32 statistics: LayerNorm (per-channel or scalar affine) and
// GlobalResponseNorm. Both may run in place (out == x): every element is read before it is
// written, by the thread that writes it.
#include "cuda_context.cuh"

namespace {

constexpr int NORM_THREADS = 256;

// One warp per row of C: mean, then the (two-pass) biased variance, then the affine output.
__global__ void layernorm_kernel(int64_t rows, int64_t C, const bf16 *x, const bf16 *gamma, const bf16 *beta,
                                 float gs, float bs, float eps, bf16 *out)
{
    const int lane = threadIdx.x % 32;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t r = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
        const bf16 *xr = x + r * C;
        bf16 *yr = out + r * C;
        float sum = 0.0f;
        for (int64_t c = lane; c < C; c += 32)
            sum += ld(xr, c);
        const float mean = warp_sum(sum) / (float)C;
        float sq = 0.0f;
        for (int64_t c = lane; c < C; c += 32) {
            const float d = ld(xr, c) - mean;
            sq += d * d;
        }
        const float rstd = rsqrtf(warp_sum(sq) / (float)C + eps);
        for (int64_t c = lane; c < C; c += 32) {
            const float y = (ld(xr, c) - mean) * rstd;
            st(yr, c, y * (gamma ? ld(gamma, c) : gs) + (beta ? ld(beta, c) : bs));
        }
    }
}

// GRN step 1: part[b, s, c] = sum of x^2 over spatial slice s (of S) of image b.
__global__ void grn_sumsq_kernel(int64_t B, int64_t HW, int64_t C, int64_t S, const bf16 *x, float *part)
{
    GRID_STRIDE_LOOP(i, B * S * C)
    {
        const int64_t c = i % C, s = i / C % S, b = i / (C * S);
        const int64_t p0 = HW * s / S, p1 = HW * (s + 1) / S;
        float acc = 0.0f;
        for (int64_t p = p0; p < p1; p++) {
            const float v = ld(x, (b * HW + p) * C + c);
            acc += v * v;
        }
        part[i] = acc;
    }
}

// GRN step 2, one block per image b: G[c] = sqrt(sum_s part[b, s, c]); nfac[b, c] = G[c] / (mean_c G + eps).
__global__ void grn_factor_kernel(int64_t C, int64_t S, float eps, const float *part, float *nfac)
{
    __shared__ float warp_sums[NORM_THREADS / 32];
    const int64_t b = blockIdx.x;
    float local = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float g2 = 0.0f;
        for (int64_t s = 0; s < S; s++)
            g2 += part[(b * S + s) * C + c];
        const float g = sqrtf(g2);
        nfac[b * C + c] = g;
        local += g;
    }
    local = warp_sum(local);
    if (threadIdx.x % 32 == 0)
        warp_sums[threadIdx.x / 32] = local;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < NORM_THREADS / 32; w++)
        total += warp_sums[w];
    const float denom = total / (float)C + eps;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
        nfac[b * C + c] /= denom;
}

// GRN step 3: out = gamma * (x * N) + beta + x.
__global__ void grn_apply_kernel(int64_t B, int64_t HW, int64_t C, const bf16 *x, const float *nfac,
                                 const bf16 *gamma, const bf16 *beta, bf16 *out)
{
    GRID_STRIDE_LOOP(i, B * HW * C)
    {
        const int64_t c = i % C, b = i / (HW * C);
        const float v = ld(x, i);
        st(out, i, ld(gamma, c) * (v * nfac[b * C + c]) + ld(beta, c) + v);
    }
}

} // namespace

extern "C" sc_status sc_cu_layernorm(int64_t rows, int64_t C, const sc_bf16 *x, const sc_bf16 *gamma,
                                     const sc_bf16 *beta, float gs, float bs, float eps, sc_bf16 *out)
{
    if (rows == 0)
        return SC_OK;
    const int warps_per_block = NORM_THREADS / 32;
    layernorm_kernel<<<grid_for(rows, warps_per_block), NORM_THREADS>>>(
        rows, C, as_bf16(x), gamma ? as_bf16(gamma) : nullptr, beta ? as_bf16(beta) : nullptr, gs, bs, eps,
        as_bf16(out));
    return sc_cuda_launched("layernorm_kernel");
}

extern "C" sc_status sc_cu_grn(sc_cuda_ctx *ctx, int64_t B, int64_t HW, int64_t C, const sc_bf16 *x,
                               const sc_bf16 *gamma, const sc_bf16 *beta, float eps, sc_bf16 *out)
{
    if (B * HW * C == 0)
        return SC_OK;
    std::lock_guard<std::mutex> guard(ctx->lock);
    const int64_t S = HW < 64 ? HW : 64; // spatial slices summed in parallel, then in order
    void *scratch = nullptr;
    SC_TRY(ctx_scratch(ctx, SCRATCH_NORM, (size_t)(B * S * C + B * C) * sizeof(float), &scratch));
    float *part = static_cast<float *>(scratch), *nfac = part + B * S * C;
    grn_sumsq_kernel<<<grid_for(B * S * C, NORM_THREADS), NORM_THREADS>>>(B, HW, C, S, as_bf16(x), part);
    SC_TRY(sc_cuda_launched("grn_sumsq_kernel"));
    grn_factor_kernel<<<(unsigned)B, NORM_THREADS>>>(C, S, eps, part, nfac);
    SC_TRY(sc_cuda_launched("grn_factor_kernel"));
    grn_apply_kernel<<<grid_for(B * HW * C, NORM_THREADS), NORM_THREADS>>>(B, HW, C, as_bf16(x), nfac, as_bf16(gamma),
                                                                           as_bf16(beta), as_bf16(out));
    return sc_cuda_launched("grn_apply_kernel");
}
