// Fused multi-head attention with a streaming ("online") softmax: the [Tq, Tk] scores never
// leave the chip.
//
// A block of 8 warps handles 32 queries of one (batch, head); warp w owns queries 4w..4w+3.
// Keys are visited in tiles of 32 staged in shared memory (with V) as float32:
//   scores   lane j computes q_r . k_j for its warp's 4 rows (q read as a shared-memory broadcast);
//   softmax  per row, a warp reduction gives the tile maximum; the running maximum m, the sum l
//            of exp(s - m) and the output accumulators are rescaled when m grows;
//   P V      lane owns head dims lane + 32c; p_rj comes from lane j by shuffle.
// Masked keys (causal j > i, key_mask == 0, past Tk) score -inf and weigh exactly 0; a query
// whose keys are all masked gets a zero output, like the CPU backend. The head size 64 of the
// real models is a compile-time constant in its own instance; other sizes up to 256 run the
// same code with a runtime size.
#include "cuda_common.cuh"

namespace {

constexpr int ATT_WARPS = 8;
constexpr int ATT_ROWS = 4;                     // queries per warp
constexpr int ATT_BQ = ATT_WARPS * ATT_ROWS;    // queries per block
constexpr int ATT_BK = 32;                      // keys per tile: one per lane
constexpr int ATT_THREADS = ATT_WARPS * 32;

struct att_params {
    int64_t Tq, Tk, C, d; // C = heads * d: the row stride of q, k, v and out
    float scale;
    int causal;
    const bf16 *q, *k, *v;
    const int64_t *mask; // [B, Tk] or NULL
    bf16 *out;
};

size_t att_smem_bytes(int64_t d) { return (size_t)(ATT_BQ * d + ATT_BK * (d + 1) + ATT_BK * d) * sizeof(float); }

// DCH: chunks of 32 head dims each lane accumulates (d <= 32 DCH); D: the head size when fixed at
// compile time (then D == 32 DCH), 0 to use p.d.
template <int DCH, int D>
__global__ void __launch_bounds__(ATT_THREADS, 2) attention_kernel(att_params p)
{
    static_assert(D == 0 || D == 32 * DCH, "a fixed head size must fill its chunks");
    extern __shared__ float smem[];
    const int64_t d = D > 0 ? D : p.d;
    const int64_t kstride = d + 1; // padded: lanes reading different K rows hit different banks
    float *Qs = smem;                 // [ATT_BQ][d]
    float *Ks = Qs + ATT_BQ * d;      // [ATT_BK][d + 1]
    float *Vs = Ks + ATT_BK * kstride; // [ATT_BK][d]

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int64_t b = blockIdx.z, head_off = (int64_t)blockIdx.y * d, q0 = (int64_t)blockIdx.x * ATT_BQ;

    for (int64_t i = threadIdx.x; i < ATT_BQ * d; i += ATT_THREADS) {
        const int64_t r = i / d, t = i % d;
        Qs[i] = q0 + r < p.Tq ? ld(p.q, (b * p.Tq + q0 + r) * p.C + head_off + t) : 0.0f;
    }

    float m[ATT_ROWS], l[ATT_ROWS], acc[ATT_ROWS][DCH];
#pragma unroll
    for (int r = 0; r < ATT_ROWS; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < DCH; c++)
            acc[r][c] = 0.0f;
    }

    // With the causal mask no query of this block sees a key past its last query.
    const int64_t kend = p.causal && q0 + ATT_BQ < p.Tk ? q0 + ATT_BQ : p.Tk;
    for (int64_t k0 = 0; k0 < kend; k0 += ATT_BK) {
        __syncthreads(); // Q is loaded; nobody still reads the previous K/V tile
        for (int64_t i = threadIdx.x; i < ATT_BK * d; i += ATT_THREADS) {
            const int64_t j = i / d, t = i % d;
            const bool in = k0 + j < p.Tk;
            const int64_t g = (b * p.Tk + k0 + j) * p.C + head_off + t;
            Ks[j * kstride + t] = in ? ld(p.k, g) : 0.0f;
            Vs[j * d + t] = in ? ld(p.v, g) : 0.0f;
        }
        __syncthreads();

        const int64_t key = k0 + lane;
        const bool key_ok = key < p.Tk && (!p.mask || p.mask[b * p.Tk + key] != 0);
        float s[ATT_ROWS];
#pragma unroll
        for (int r = 0; r < ATT_ROWS; r++)
            s[r] = 0.0f;
#pragma unroll 8
        for (int64_t t = 0; t < d; t++) {
            const float kv = Ks[lane * kstride + t];
#pragma unroll
            for (int r = 0; r < ATT_ROWS; r++)
                s[r] += Qs[(warp * ATT_ROWS + r) * d + t] * kv;
        }

#pragma unroll
        for (int r = 0; r < ATT_ROWS; r++) {
            const int64_t qi = q0 + warp * ATT_ROWS + r;
            const bool visible = key_ok && !(p.causal && key > qi);
            const float sc = visible ? s[r] * p.scale : -INFINITY;
            const float m_new = fmaxf(m[r], warp_max(sc));
            const float shift = m_new == -INFINITY ? 0.0f : m_new; // nothing visible yet: p = 0
            const float pr = expf(sc - shift);
            const float corr = expf(m[r] - shift);
            l[r] = l[r] * corr + warp_sum(pr);
            m[r] = m_new;
#pragma unroll
            for (int c = 0; c < DCH; c++)
                acc[r][c] *= corr;
            s[r] = pr;
        }

#pragma unroll 4
        for (int j = 0; j < ATT_BK; j++) {
            float vj[DCH];
#pragma unroll
            for (int c = 0; c < DCH; c++) {
                const int64_t dim = lane + 32 * c;
                vj[c] = (D > 0 || dim < d) ? Vs[j * d + dim] : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < ATT_ROWS; r++) {
                const float pj = __shfl_sync(0xffffffffu, s[r], j);
#pragma unroll
                for (int c = 0; c < DCH; c++)
                    acc[r][c] += pj * vj[c];
            }
        }
    }

#pragma unroll
    for (int r = 0; r < ATT_ROWS; r++) {
        const int64_t qi = q0 + warp * ATT_ROWS + r;
        if (qi >= p.Tq)
            continue;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
#pragma unroll
        for (int c = 0; c < DCH; c++) {
            const int64_t dim = lane + 32 * c;
            if (D > 0 || dim < d)
                st(p.out, (b * p.Tq + qi) * p.C + head_off + dim, acc[r][c] * inv);
        }
    }
}

template <int DCH, int D>
sc_status launch(const att_params &p, int64_t B, int64_t heads)
{
    const size_t smem = att_smem_bytes(p.d);
    if (smem > 48 * 1024) { // above the default limit the kernel must opt in
        cudaError_t err = cudaFuncSetAttribute(attention_kernel<DCH, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               (int)smem);
        if (err != cudaSuccess)
            return sc_cuda_fail(err, "raising the attention kernel's shared memory limit");
    }
    const dim3 grid((unsigned)((p.Tq + ATT_BQ - 1) / ATT_BQ), (unsigned)heads, (unsigned)B);
    attention_kernel<DCH, D><<<grid, ATT_THREADS, smem>>>(p);
    return sc_cuda_launched("attention_kernel");
}

} // namespace

extern "C" sc_status sc_cu_attention(int64_t B, int64_t Tq, int64_t Tk, int64_t heads, int64_t d, const sc_bf16 *q,
                                     const sc_bf16 *k, const sc_bf16 *v, float scale, int causal,
                                     const int64_t *key_mask, sc_bf16 *out)
{
    if (B == 0 || Tq == 0 || heads == 0 || d == 0)
        return SC_OK;
    if (d > SC_CU_ATTENTION_MAX_HEAD_DIM || B > 65535 || heads > 65535 || (Tq + ATT_BQ - 1) / ATT_BQ > INT32_MAX)
        return sc_set_error(SC_ERR_VALUE,
                            "attention: CUDA supports head size <= %d, batch and heads <= 65535 "
                            "(got head size %lld, batch %lld, %lld heads, %lld queries)",
                            SC_CU_ATTENTION_MAX_HEAD_DIM, (long long)d, (long long)B, (long long)heads, (long long)Tq);
    const att_params p = {Tq, Tk, heads * d, d, scale, causal, as_bf16(q), as_bf16(k), as_bf16(v), key_mask,
                          as_bf16(out)};
    if (d == 64)
        return launch<2, 64>(p, B, heads);
    if (d <= 32)
        return launch<1, 0>(p, B, heads);
    if (d <= 64)
        return launch<2, 0>(p, B, heads);
    if (d <= 128)
        return launch<4, 0>(p, B, heads);
    return launch<8, 0>(p, B, heads);
}
