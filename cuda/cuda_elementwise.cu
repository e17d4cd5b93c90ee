// Elementwise ops in float32 arithmetic on bf16 storage. Each output element depends only on
// input elements at the same index (or on small broadcast vectors), so all may run in place.
#include "cuda_common.cuh"

namespace {

constexpr int EW_THREADS = 256;

__global__ void activation_kernel(int64_t n, const bf16 *x, sc_act act, bf16 *out)
{
    GRID_STRIDE_LOOP(i, n) st(out, i, act_apply(ld(x, i), act));
}

__global__ void add_kernel(int64_t n, const bf16 *a, const bf16 *b, bf16 *out)
{
    GRID_STRIDE_LOOP(i, n) st(out, i, ld(a, i) + ld(b, i));
}

__global__ void mul_kernel(int64_t n, const bf16 *a, const bf16 *b, bf16 *out)
{
    GRID_STRIDE_LOOP(i, n) st(out, i, ld(a, i) * ld(b, i));
}

// torch.lerp's two-sided formula: exact at w = 0 and w = 1.
__global__ void lerp_kernel(int64_t n, const bf16 *a, const bf16 *b, float w, bf16 *out)
{
    GRID_STRIDE_LOOP(i, n)
    {
        const float av = ld(a, i), bv = ld(b, i);
        st(out, i, fabsf(w) < 0.5f ? av + w * (bv - av) : bv - (bv - av) * (1.0f - w));
    }
}

// x [B, rows_per_batch, C]; (1 + a) is rounded first, as torch evaluates x * (1 + a) + b.
__global__ void scale_shift_kernel(int64_t B, int64_t rows_per_batch, int64_t C, const bf16 *x, const bf16 *a,
                                   const bf16 *b, bf16 *out)
{
    GRID_STRIDE_LOOP(i, B * rows_per_batch * C)
    {
        const int64_t v = i / (rows_per_batch * C) * C + i % C; // index into a/b [B, C]
        st(out, i, ld(x, i) * (1.0f + ld(a, v)) + ld(b, v));
    }
}

__global__ void add_channel_vector_kernel(int64_t n, int64_t C, const bf16 *v, bf16 *out)
{
    GRID_STRIDE_LOOP(i, n) st(out, i, ld(out, i) + ld(v, i % C));
}

} // namespace

extern "C" sc_status sc_cu_activation(int64_t n, const sc_bf16 *x, sc_act act, sc_bf16 *out)
{
    if (n == 0)
        return SC_OK;
    activation_kernel<<<grid_for(n, EW_THREADS), EW_THREADS>>>(n, as_bf16(x), act, as_bf16(out));
    return sc_cuda_launched("activation_kernel");
}

extern "C" sc_status sc_cu_add(int64_t n, const sc_bf16 *a, const sc_bf16 *b, sc_bf16 *out)
{
    if (n == 0)
        return SC_OK;
    add_kernel<<<grid_for(n, EW_THREADS), EW_THREADS>>>(n, as_bf16(a), as_bf16(b), as_bf16(out));
    return sc_cuda_launched("add_kernel");
}

extern "C" sc_status sc_cu_mul(int64_t n, const sc_bf16 *a, const sc_bf16 *b, sc_bf16 *out)
{
    if (n == 0)
        return SC_OK;
    mul_kernel<<<grid_for(n, EW_THREADS), EW_THREADS>>>(n, as_bf16(a), as_bf16(b), as_bf16(out));
    return sc_cuda_launched("mul_kernel");
}

extern "C" sc_status sc_cu_lerp(int64_t n, const sc_bf16 *a, const sc_bf16 *b, float w, sc_bf16 *out)
{
    if (n == 0)
        return SC_OK;
    lerp_kernel<<<grid_for(n, EW_THREADS), EW_THREADS>>>(n, as_bf16(a), as_bf16(b), w, as_bf16(out));
    return sc_cuda_launched("lerp_kernel");
}

extern "C" sc_status sc_cu_scale_shift(int64_t B, int64_t rows_per_batch, int64_t C, const sc_bf16 *x,
                                       const sc_bf16 *a, const sc_bf16 *b, sc_bf16 *out)
{
    const int64_t n = B * rows_per_batch * C;
    if (n == 0)
        return SC_OK;
    scale_shift_kernel<<<grid_for(n, EW_THREADS), EW_THREADS>>>(B, rows_per_batch, C, as_bf16(x), as_bf16(a),
                                                                as_bf16(b), as_bf16(out));
    return sc_cuda_launched("scale_shift_kernel");
}

extern "C" sc_status sc_cu_add_channel_vector(int64_t rows, int64_t C, const sc_bf16 *v, sc_bf16 *out)
{
    const int64_t n = rows * C;
    if (n == 0)
        return SC_OK;
    add_channel_vector_kernel<<<grid_for(n, EW_THREADS), EW_THREADS>>>(n, C, as_bf16(v), as_bf16(out));
    return sc_cuda_launched("add_channel_vector_kernel");
}
