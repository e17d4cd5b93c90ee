// Data movement without arithmetic: concat, batched transpose (NCHW <-> NHWC) and embedding
// lookup. One thread per output element; writes are coalesced.
#include <climits>

#include "cuda_context.cuh"

namespace {

constexpr int LAYOUT_THREADS = 256;

__global__ void concat_kernel(int64_t outer, int64_t na, int64_t nb, const bf16 *a, const bf16 *b, bf16 *out)
{
    const int64_t n = na + nb;
    GRID_STRIDE_LOOP(i, outer * n)
    {
        const int64_t o = i / n, j = i % n;
        out[i] = j < na ? a[o * na + j] : b[o * nb + j - na];
    }
}

// dst[m, s, r] = src[m, r, s] for mats matrices [R, S].
__global__ void transpose_kernel(int64_t mats, int64_t R, int64_t S, const bf16 *src, bf16 *dst)
{
    GRID_STRIDE_LOOP(i, mats * R * S)
    {
        const int64_t r = i % R, s = i / R % S, m = i / (R * S);
        dst[i] = src[(m * R + r) * S + s];
    }
}

// out[t, c] = table[ids[t], c]; an id outside [0, V) writes zeros and records the smallest such
// position t in *bad (which starts at ULLONG_MAX).
__global__ void embedding_kernel(int64_t n, int64_t C, int64_t V, const bf16 *table, const int64_t *ids, bf16 *out,
                                 unsigned long long *bad)
{
    GRID_STRIDE_LOOP(i, n * C)
    {
        const int64_t t = i / C, id = ids[t];
        if (id < 0 || id >= V) {
            atomicMin(bad, (unsigned long long)t);
            out[i] = __float2bfloat16_rn(0.0f);
        } else {
            out[i] = table[id * C + i % C];
        }
    }
}

} // namespace

extern "C" sc_status sc_cu_concat(int64_t outer, int64_t na, int64_t nb, const sc_bf16 *a, const sc_bf16 *b,
                                  sc_bf16 *out)
{
    const int64_t n = outer * (na + nb);
    if (n == 0)
        return SC_OK;
    concat_kernel<<<grid_for(n, LAYOUT_THREADS), LAYOUT_THREADS>>>(outer, na, nb, as_bf16(a), as_bf16(b),
                                                                   as_bf16(out));
    return sc_cuda_launched("concat_kernel");
}

extern "C" sc_status sc_cu_transpose(int64_t mats, int64_t R, int64_t S, const sc_bf16 *src, sc_bf16 *dst)
{
    const int64_t n = mats * R * S;
    if (n == 0)
        return SC_OK;
    transpose_kernel<<<grid_for(n, LAYOUT_THREADS), LAYOUT_THREADS>>>(mats, R, S, as_bf16(src), as_bf16(dst));
    return sc_cuda_launched("transpose_kernel");
}

extern "C" sc_status sc_cu_embedding(sc_cuda_ctx *ctx, int64_t n, int64_t C, int64_t V, const sc_bf16 *table,
                                     const int64_t *ids, sc_bf16 *out)
{
    if (n == 0)
        return SC_OK;
    std::lock_guard<std::mutex> guard(ctx->lock);
    void *scratch = nullptr;
    SC_TRY(ctx_scratch(ctx, SCRATCH_FLAG, sizeof(unsigned long long), &scratch));
    unsigned long long *bad = static_cast<unsigned long long *>(scratch);
    cudaError_t err = cudaMemsetAsync(bad, 0xff, sizeof *bad, 0);
    if (err != cudaSuccess)
        return sc_cuda_fail(err, "cudaMemsetAsync");
    if (C > 0) {
        embedding_kernel<<<grid_for(n * C, LAYOUT_THREADS), LAYOUT_THREADS>>>(n, C, V, as_bf16(table), ids,
                                                                              as_bf16(out), bad);
        SC_TRY(sc_cuda_launched("embedding_kernel"));
    }
    // The ids live on the device: checking them costs one synchronizing copy per lookup.
    unsigned long long pos = ULLONG_MAX;
    err = cudaMemcpy(&pos, bad, sizeof pos, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess)
        return sc_cuda_fail(err, "reading the embedding id check");
    if (pos == ULLONG_MAX)
        return SC_OK;
    int64_t id = 0;
    err = cudaMemcpy(&id, ids + pos, sizeof id, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess)
        return sc_cuda_fail(err, "reading a bad embedding id");
    return sc_set_error(SC_ERR_VALUE, "embedding: id %lld at position %llu is outside the table of %lld rows",
                        (long long)id, pos, (long long)V);
}
