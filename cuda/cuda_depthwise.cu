// 3x3 depthwise convolution, stride 1, one pixel of zero or replicate padding, channels-last:
//     out[b,y,x,c] = epilogue(bias[c] + sum_{ky,kx} w[ky,kx,c] * x[b, y+ky-1, x+kx-1, c])
// One thread per output element; consecutive threads take consecutive channels (coalesced).
#include "cuda_common.cuh"

namespace {

__global__ void depthwise3x3_kernel(int64_t B, int64_t H, int64_t W, int64_t C, const bf16 *x, const bf16 *w,
                                    const bf16 *bias, int replicate, bf16 *out, sc_epilogue ep)
{
    GRID_STRIDE_LOOP(i, B * H * W * C)
    {
        const int64_t c = i % C, px = i / C % W, py = i / (C * W) % H, b = i / (C * W * H);
        float acc = bias ? ld(bias, c) : 0.0f;
        for (int ky = 0; ky < 3; ky++) {
            int64_t yy = py + ky - 1;
            if (yy < 0 || yy >= H) {
                if (!replicate)
                    continue;
                yy = yy < 0 ? 0 : H - 1;
            }
            for (int kx = 0; kx < 3; kx++) {
                int64_t xx = px + kx - 1;
                if (xx < 0 || xx >= W) {
                    if (!replicate)
                        continue;
                    xx = xx < 0 ? 0 : W - 1;
                }
                acc += ld(w, (ky * 3 + kx) * C + c) * ld(x, ((b * H + yy) * W + xx) * C + c);
            }
        }
        epilogue_store(out, i, acc, ep);
    }
}

} // namespace

extern "C" sc_status sc_cu_depthwise3x3(int64_t B, int64_t H, int64_t W, int64_t C, const sc_bf16 *x,
                                        const sc_bf16 *w, const sc_bf16 *bias, int replicate, sc_bf16 *out,
                                        sc_epilogue ep)
{
    const int64_t n = B * H * W * C;
    if (n == 0)
        return SC_OK;
    depthwise3x3_kernel<<<grid_for(n, 256), 256>>>(B, H, W, C, as_bf16(x), as_bf16(w), bias ? as_bf16(bias) : nullptr,
                                                   replicate, as_bf16(out), ep);
    return sc_cuda_launched("depthwise3x3_kernel");
}
