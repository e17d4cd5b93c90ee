// The GEMMs behind linear and the convolutions (cuda_gemm.cu). Callers hold the context lock.
#ifndef SC_CUDA_GEMM_CUH
#define SC_CUDA_GEMM_CUH

#include "cuda_context.cuh"

// One cuBLASLt call, row-major view:
//     D[M, N] = alpha * A[M, K] B[N, K]^T + beta * D + bias[N]
// A, B bf16 with row strides lda, ldb; D bf16 or (d_f32) float32 with row stride ldd; bias bf16
// or NULL (only with a bf16 D). fp32 accumulation.
sc_status gemm_nt(sc_cuda_ctx *ctx, int64_t M, int64_t N, int64_t K, const bf16 *A, int64_t lda, const bf16 *B,
                  int64_t ldb, void *D, int64_t ldd, bool d_f32, float alpha, float beta, const bf16 *bias);

// out[M, N] (contiguous bf16) = (accumulate ? out : 0) + alpha * act(A B^T + bias): one fused
// cuBLASLt call where its epilogue computes exactly that, else the product goes through float32
// scratch in row bands and a separate epilogue kernel (activations, alpha with bias).
sc_status gemm_nt_epilogue(sc_cuda_ctx *ctx, int64_t M, int64_t N, int64_t K, const bf16 *A, int64_t lda,
                           const bf16 *B, int64_t ldb, const bf16 *bias, bf16 *out, sc_epilogue ep);

#endif
