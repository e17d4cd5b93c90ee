// The backend context (sc_cuda_ctx): cuBLASLt handle and workspace, GEMM algorithm cache and
// grow-only scratch buffers, behind one lock. Shared by the .cu files that need any of it.
#ifndef SC_CUDA_CONTEXT_CUH
#define SC_CUDA_CONTEXT_CUH

#include <cublasLt.h>

#include <mutex>

#include "cuda_common.cuh"

// Scratch buffers, one per purpose, so an op can hold several at once (conv2d's patches while
// its GEMM uses the float32 product buffer).
enum scratch_slot {
    SCRATCH_GEMM_F32 = 0, // GEMM products before an epilogue cuBLASLt cannot fuse
    SCRATCH_COLS,         // conv patches (bf16) / transposed-conv columns (f32)
    SCRATCH_NORM,         // GRN partial sums and factors
    SCRATCH_FLAG,         // a device word for errors found by kernels (embedding ids)
    SCRATCH_SLOTS
};

// Bytes a banded op (GEMM epilogue, im2col, col2im) keeps in scratch at most per band.
constexpr size_t SCRATCH_BAND_BYTES = (size_t)64 << 20;
constexpr size_t CUBLASLT_WORKSPACE_BYTES = (size_t)32 << 20;

// Everything cuBLASLt's algorithm choice depends on for one GEMM (see cuda_gemm.cu). All fields
// are int64_t, so the struct has no padding and keys compare with memcmp.
struct gemm_key {
    int64_t m, n, k, lda, ldb, ldd;
    int64_t d_f32, epilogue, beta_nonzero;
    int64_t align_a, align_b, align_d, align_bias; // our A, B, D and bias pointers
};
static_assert(sizeof(gemm_key) == 13 * sizeof(int64_t), "gemm_key must not have padding");

struct gemm_cache_entry {
    gemm_key key;
    cublasLtMatmulAlgo_t algo;
    size_t workspace;
    bool valid;
};

constexpr int GEMM_CACHE_SIZE = 512; // direct-mapped on a hash of the key

struct sc_cuda_ctx {
    std::mutex lock;
    cublasLtHandle_t lt = nullptr;
    void *workspace = nullptr;
    void *scratch[SCRATCH_SLOTS] = {};
    size_t scratch_bytes[SCRATCH_SLOTS] = {};
    gemm_cache_entry cache[GEMM_CACHE_SIZE] = {};
};

// A scratch buffer of at least `bytes` (the lock must be held). Growing waits for the device to
// finish with the old buffer first; contents are not preserved.
sc_status ctx_scratch(sc_cuda_ctx *ctx, scratch_slot slot, size_t bytes, void **out);

// A failed cuBLASLt call -> SC_ERR_NOMEM (allocation) or SC_ERR_RUNTIME with cuBLASLt's text.
sc_status sc_cublas_fail(cublasStatus_t st, const char *what);

#endif
