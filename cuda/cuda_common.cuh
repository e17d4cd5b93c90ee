// Shared pieces of the CUDA sources: the C headers with C linkage, error conversion, launch
// sizing, bfloat16 loads/stores and the activation/epilogue math every kernel uses.
#ifndef SC_CUDA_COMMON_CUH
#define SC_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

// sc_tensor.h declares its refcount as C11 atomic_int, which C++17 spells std::atomic_int (same
// size and alignment; CUDA code never touches it).
using std::atomic_int;
static_assert(sizeof(std::atomic_int) == sizeof(int), "atomic_int layout differs between C and C++");

extern "C" {
#include "sc_cuda.h"
#include "sc_cuda_kernels.h"
#include "sc_ops.h"
}

typedef __nv_bfloat16 bf16;

// A failed CUDA call -> SC_ERR_NOMEM (allocation) or SC_ERR_RUNTIME with CUDA's text. Clears the
// non-sticky error state so the next call starts clean.
sc_status sc_cuda_fail(cudaError_t err, const char *what);

// The status of the kernel launch just made (configuration errors show up here; faults inside a
// kernel show up at the next synchronizing call).
inline sc_status sc_cuda_launched(const char *kernel)
{
    cudaError_t err = cudaGetLastError();
    return err == cudaSuccess ? SC_OK : sc_cuda_fail(err, kernel);
}

inline const bf16 *as_bf16(const sc_bf16 *p) { return reinterpret_cast<const bf16 *>(p); }
inline bf16 *as_bf16(sc_bf16 *p) { return reinterpret_cast<bf16 *>(p); }

// Grid size for a grid-stride loop over n items with `threads` per block; kernels loop, so the
// grid is capped and never zero.
inline unsigned grid_for(int64_t n, int threads)
{
    int64_t blocks = (n + threads - 1) / threads;
    const int64_t cap = 1 << 20;
    return (unsigned)(blocks < 1 ? 1 : blocks > cap ? cap : blocks);
}

#define GRID_STRIDE_LOOP(i, n)                                                                           \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

__device__ __forceinline__ float ld(const bf16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(bf16 *p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// Sum / maximum over the 32 lanes of a warp; every lane gets the result. All lanes must call it.
__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The activations of sc_ops.h in float32. GELU is the exact erf form, written with erfc so that
// it keeps its relative accuracy for large negative inputs.
__device__ __forceinline__ float act_apply(float v, sc_act act)
{
    switch (act) {
    case SC_ACT_GELU: return 0.5f * v * erfcf(-0.70710678118654752f * v);
    case SC_ACT_SILU: return v / (1.0f + expf(-v));
    case SC_ACT_QUICK_GELU: return v / (1.0f + expf(-1.702f * v));
    default: return v;
    }
}

// dst[i] = (accumulate ? dst[i] : 0) + alpha * act(v)
__device__ __forceinline__ void epilogue_store(bf16 *dst, int64_t i, float v, sc_epilogue ep)
{
    float r = ep.alpha * act_apply(v, ep.act);
    if (ep.accumulate)
        r += ld(dst, i);
    st(dst, i, r);
}

#endif
