// Creation of the backend context and its grow-only scratch buffers.
#include <new>

#include "cuda_context.cuh"

sc_status sc_cublas_fail(cublasStatus_t st, const char *what)
{
    if (st == CUBLAS_STATUS_ALLOC_FAILED)
        return sc_set_error(SC_ERR_NOMEM, "cuBLASLt out of memory during %s", what);
    return sc_set_error(SC_ERR_RUNTIME, "cuBLASLt error during %s: %s (%s)", what, cublasLtGetStatusString(st),
                        cublasLtGetStatusName(st));
}

extern "C" sc_status sc_cu_ctx_create(sc_cuda_ctx **out)
{
    sc_cuda_ctx *ctx = new (std::nothrow) sc_cuda_ctx();
    if (!ctx)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for the CUDA backend context");
    cublasStatus_t st = cublasLtCreate(&ctx->lt);
    if (st != CUBLAS_STATUS_SUCCESS) {
        ctx->lt = nullptr;
        sc_cu_ctx_destroy(ctx);
        return sc_cublas_fail(st, "cublasLtCreate");
    }
    cudaError_t err = cudaMalloc(&ctx->workspace, CUBLASLT_WORKSPACE_BYTES);
    if (err != cudaSuccess) {
        ctx->workspace = nullptr;
        sc_cu_ctx_destroy(ctx);
        return sc_cuda_fail(err, "allocating the cuBLASLt workspace");
    }
    *out = ctx;
    return SC_OK;
}

extern "C" void sc_cu_ctx_destroy(sc_cuda_ctx *ctx)
{
    if (!ctx)
        return;
    cudaDeviceSynchronize(); // nothing may still use the buffers
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        cudaFree(ctx->scratch[i]);
    cudaFree(ctx->workspace);
    if (ctx->lt)
        cublasLtDestroy(ctx->lt);
    delete ctx;
}

extern "C" size_t sc_cu_ctx_bytes(sc_cuda_ctx *ctx)
{
    std::lock_guard<std::mutex> guard(ctx->lock);
    size_t n = ctx->workspace ? CUBLASLT_WORKSPACE_BYTES : 0;
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        n += ctx->scratch_bytes[i];
    return n;
}

sc_status ctx_scratch(sc_cuda_ctx *ctx, scratch_slot slot, size_t bytes, void **out)
{
    if (bytes <= ctx->scratch_bytes[slot] && ctx->scratch[slot]) {
        *out = ctx->scratch[slot];
        return SC_OK;
    }
    // Kernels already enqueued may still read or write the old buffer.
    cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess)
        return sc_cuda_fail(err, "waiting for the device before growing a scratch buffer");
    cudaFree(ctx->scratch[slot]);
    ctx->scratch[slot] = nullptr;
    ctx->scratch_bytes[slot] = 0;
    const size_t granule = (size_t)2 << 20;
    const size_t size = (bytes / granule + 1) * granule; // never 0, at least `bytes`
    err = cudaMalloc(&ctx->scratch[slot], size);
    if (err != cudaSuccess) {
        ctx->scratch[slot] = nullptr;
        return sc_cuda_fail(err, "allocating CUDA scratch memory");
    }
    ctx->scratch_bytes[slot] = size;
    *out = ctx->scratch[slot];
    return SC_OK;
}
