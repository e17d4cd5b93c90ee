// bf16 GEMMs through cuBLASLt (fp32 compute) with the sc_ops.h epilogue, and linear on top.
//
// cuBLASLt is column-major. A row-major [R, C] matrix with row stride ld is the column-major
// [C, R] matrix with leading dimension ld, so the row-major D[M, N] = A[M, K] B[N, K]^T is the
// column-major D'[N, M] = B'^T A' with B' = [K, N] (transposed: op T) and A' = [K, M] (op N):
// the "TN" GEMM tensor cores like best. The bias epilogue adds a vector over D' rows, i.e. one
// value per output channel, as wanted.
#include <cstring>

#include "cuda_gemm.cuh"

namespace {

uint32_t alignment_of(const void *p)
{
    const uintptr_t a = (uintptr_t)p;
    const uintptr_t low = a & (~a + 1); // lowest set bit
    return a == 0 || low >= 256 ? 256u : (uint32_t)low;
}

gemm_key gemm_key_of(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldd, bool d_f32,
                     cublasLtEpilogue_t epi, float beta, const void *A, const void *B, const void *D, const void *bias)
{
    gemm_key k;
    k.m = M, k.n = N, k.k = K, k.lda = lda, k.ldb = ldb, k.ldd = ldd;
    k.d_f32 = d_f32, k.epilogue = (int64_t)epi, k.beta_nonzero = beta != 0.0f;
    k.align_a = alignment_of(A), k.align_b = alignment_of(B), k.align_d = alignment_of(D);
    k.align_bias = bias ? alignment_of(bias) : 0;
    return k;
}

uint64_t gemm_key_hash(const gemm_key &k)
{
    int64_t v[sizeof k / sizeof(int64_t)];
    memcpy(v, &k, sizeof k);
    uint64_t h = 1469598103934665603ull; // FNV-1a over the fields
    for (int64_t x : v) {
        h ^= (uint64_t)x;
        h *= 1099511628211ull;
    }
    return h;
}

// The descriptors of one matmul, destroyed with the object.
struct matmul_descs {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    ~matmul_descs()
    {
        if (pref)
            cublasLtMatmulPreferenceDestroy(pref);
        if (d)
            cublasLtMatrixLayoutDestroy(d);
        if (b)
            cublasLtMatrixLayoutDestroy(b);
        if (a)
            cublasLtMatrixLayoutDestroy(a);
        if (op)
            cublasLtMatmulDescDestroy(op);
    }
};

#define LT_TRY(call, what)                         \
    do {                                           \
        cublasStatus_t lt_st_ = (call);            \
        if (lt_st_ != CUBLAS_STATUS_SUCCESS)       \
            return sc_cublas_fail(lt_st_, (what)); \
    } while (0)

// Looks up (or asks cuBLASLt's heuristic for) the algorithm of this GEMM.
sc_status find_algo(sc_cuda_ctx *ctx, const gemm_key &key, matmul_descs &m, const gemm_cache_entry **out)
{
    gemm_cache_entry &e = ctx->cache[gemm_key_hash(key) % GEMM_CACHE_SIZE];
    if (e.valid && memcmp(&e.key, &key, sizeof key) == 0) {
        *out = &e;
        return SC_OK;
    }
    const uint64_t ws = CUBLASLT_WORKSPACE_BYTES;
    LT_TRY(cublasLtMatmulPreferenceCreate(&m.pref), "cublasLtMatmulPreferenceCreate");
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(m.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
           "setting the workspace size");
    // Views into larger tensors are not 256-byte aligned: tell the heuristic what we have.
    // cuBLASLt's A is our B and its B our A (see the file comment); C is D.
    const cublasLtMatmulPreferenceAttributes_t attrs[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    const uint32_t values[4] = {(uint32_t)key.align_b, (uint32_t)key.align_a, (uint32_t)key.align_d,
                                (uint32_t)key.align_d};
    for (int i = 0; i < 4; i++)
        LT_TRY(cublasLtMatmulPreferenceSetAttribute(m.pref, attrs[i], &values[i], sizeof values[i]),
               "setting an alignment preference");
    cublasLtMatmulHeuristicResult_t res;
    memset(&res, 0, sizeof res);
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx->lt, m.op, m.a, m.b, m.d, m.d, m.pref, 1, &res, &found);
    if (st != CUBLAS_STATUS_SUCCESS || found < 1 || res.state != CUBLAS_STATUS_SUCCESS)
        return sc_set_error(SC_ERR_RUNTIME,
                            "cuBLASLt has no algorithm for the bf16 GEMM M=%lld N=%lld K=%lld (leading dims %lld, "
                            "%lld, %lld; alignments %lld, %lld, %lld; %s output): %s",
                            (long long)key.m, (long long)key.n, (long long)key.k, (long long)key.lda,
                            (long long)key.ldb, (long long)key.ldd, (long long)key.align_a, (long long)key.align_b,
                            (long long)key.align_d, key.d_f32 ? "float32" : "bf16",
                            st != CUBLAS_STATUS_SUCCESS ? cublasLtGetStatusString(st) : "none found");
    e.key = key;
    e.algo = res.algo;
    e.workspace = res.workspaceSize;
    e.valid = true;
    *out = &e;
    return SC_OK;
}

// out[i] = epilogue((t ? t[i] : 0) + bias[i % N]) over n = rows * N elements.
__global__ void epilogue_kernel(int64_t n, int64_t N, const float *t, const bf16 *bias, bf16 *out, sc_epilogue ep)
{
    GRID_STRIDE_LOOP(i, n)
    {
        float v = t ? t[i] : 0.0f;
        if (bias)
            v += ld(bias, i % N);
        epilogue_store(out, i, v, ep);
    }
}

sc_status launch_epilogue(int64_t rows, int64_t N, const float *t, const bf16 *bias, bf16 *out, sc_epilogue ep)
{
    const int64_t n = rows * N;
    epilogue_kernel<<<grid_for(n, 256), 256>>>(n, N, t, bias, out, ep);
    return sc_cuda_launched("the GEMM epilogue kernel");
}

} // namespace

sc_status gemm_nt(sc_cuda_ctx *ctx, int64_t M, int64_t N, int64_t K, const bf16 *A, int64_t lda, const bf16 *B,
                  int64_t ldb, void *D, int64_t ldd, bool d_f32, float alpha, float beta, const bf16 *bias)
{
    const cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    const cudaDataType_t d_type = d_f32 ? CUDA_R_32F : CUDA_R_16BF;
    matmul_descs m;
    LT_TRY(cublasLtMatmulDescCreate(&m.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
    LT_TRY(cublasLtMatmulDescSetAttribute(m.op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
           "setting TRANSA");
    LT_TRY(cublasLtMatmulDescSetAttribute(m.op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
           "setting TRANSB");
    LT_TRY(cublasLtMatmulDescSetAttribute(m.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
           "setting the epilogue");
    if (bias)
        LT_TRY(cublasLtMatmulDescSetAttribute(m.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
               "setting the bias pointer");
    // cuBLASLt's A is our B (stored [K, N] column-major), its B is our A ([K, M]), D is [N, M].
    LT_TRY(cublasLtMatrixLayoutCreate(&m.a, CUDA_R_16BF, (uint64_t)K, (uint64_t)N, ldb), "creating layout A");
    LT_TRY(cublasLtMatrixLayoutCreate(&m.b, CUDA_R_16BF, (uint64_t)K, (uint64_t)M, lda), "creating layout B");
    LT_TRY(cublasLtMatrixLayoutCreate(&m.d, d_type, (uint64_t)N, (uint64_t)M, ldd), "creating layout D");

    const gemm_key key = gemm_key_of(M, N, K, lda, ldb, ldd, d_f32, epi, beta, A, B, D, bias);
    const gemm_cache_entry *algo = nullptr;
    SC_TRY(find_algo(ctx, key, m, &algo));
    LT_TRY(cublasLtMatmul(ctx->lt, m.op, &alpha, B, m.a, A, m.b, &beta, D, m.d, D, m.d, &algo->algo, ctx->workspace,
                          algo->workspace, 0),
           "cublasLtMatmul");
    return SC_OK;
}

sc_status gemm_nt_epilogue(sc_cuda_ctx *ctx, int64_t M, int64_t N, int64_t K, const bf16 *A, int64_t lda,
                           const bf16 *B, int64_t ldb, const bf16 *bias, bf16 *out, sc_epilogue ep)
{
    if (M == 0 || N == 0)
        return SC_OK;
    if (K == 0) // an empty sum: the epilogue of the bias alone
        return launch_epilogue(M, N, nullptr, bias, out, ep);
    // cuBLASLt computes alpha * AB + beta * C + bias, with any activation applied after all of it.
    if (ep.act == SC_ACT_NONE && (!bias || ep.alpha == 1.0f))
        return gemm_nt(ctx, M, N, K, A, lda, B, ldb, out, N, false, ep.alpha, ep.accumulate ? 1.0f : 0.0f, bias);
    int64_t band = (int64_t)(SCRATCH_BAND_BYTES / ((size_t)N * sizeof(float)));
    band = band < 1 ? 1 : band > M ? M : band;
    void *scratch = nullptr;
    SC_TRY(ctx_scratch(ctx, SCRATCH_GEMM_F32, (size_t)band * (size_t)N * sizeof(float), &scratch));
    float *t = static_cast<float *>(scratch);
    for (int64_t r0 = 0; r0 < M; r0 += band) {
        const int64_t rows = M - r0 < band ? M - r0 : band;
        SC_TRY(gemm_nt(ctx, rows, N, K, A + r0 * lda, lda, B, ldb, t, N, true, 1.0f, 0.0f, nullptr));
        SC_TRY(launch_epilogue(rows, N, t, bias, out + r0 * N, ep));
    }
    return SC_OK;
}

extern "C" sc_status sc_cu_linear(sc_cuda_ctx *ctx, int64_t M, int64_t N, int64_t K, const sc_bf16 *a,
                                  const sc_bf16 *w, const sc_bf16 *bias, sc_bf16 *out, sc_epilogue ep)
{
    std::lock_guard<std::mutex> guard(ctx->lock);
    return gemm_nt_epilogue(ctx, M, N, K, as_bf16(a), K, as_bf16(w), K, bias ? as_bf16(bias) : nullptr, as_bf16(out),
                            ep);
}
