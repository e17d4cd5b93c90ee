// Device discovery and raw device memory for the C side (sc_cuda.h).
#include <cublasLt.h>

#include <string.h>

#include "cuda_common.cuh"

sc_status sc_cuda_fail(cudaError_t err, const char *what)
{
    cudaGetLastError(); // clear the non-sticky error so the next call starts clean
    if (err == cudaErrorMemoryAllocation)
        return sc_set_error(SC_ERR_NOMEM, "CUDA out of memory during %s: %s", what, cudaGetErrorString(err));
    return sc_set_error(SC_ERR_RUNTIME, "CUDA error during %s: %s (%s)", what, cudaGetErrorString(err),
                        cudaGetErrorName(err));
}

extern "C" int sc_cuda_available(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n > 0;
}

extern "C" sc_status sc_cuda_device_info(char *name, size_t name_len, int *major, int *minor, size_t *total_mem)
{
    cudaDeviceProp prop;
    int dev = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess)
        err = cudaGetDeviceProperties(&prop, dev);
    if (err != cudaSuccess)
        return sc_cuda_fail(err, "device query");
    strncpy(name, prop.name, name_len - 1);
    name[name_len - 1] = '\0';
    *major = prop.major;
    *minor = prop.minor;
    *total_mem = prop.totalGlobalMem;
    return SC_OK;
}

static std::atomic<size_t> malloc_count;

extern "C" sc_status sc_cuda_malloc(size_t bytes, void **out)
{
    cudaError_t err = cudaMalloc(out, bytes ? bytes : 1);
    if (err != cudaSuccess)
        return sc_cuda_fail(err, "cudaMalloc");
    malloc_count++;
    return SC_OK;
}

extern "C" size_t sc_cuda_malloc_count(void) { return malloc_count.load(); }

extern "C" void sc_cuda_free(void *ptr)
{
    cudaFree(ptr);
}

extern "C" sc_status sc_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind)
{
    static const cudaMemcpyKind kinds[3] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
                                            cudaMemcpyDeviceToDevice};
    cudaError_t err = cudaMemcpy(dst, src, bytes, kinds[kind]);
    return err == cudaSuccess ? SC_OK : sc_cuda_fail(err, "cudaMemcpy");
}

extern "C" sc_status sc_cuda_memset_zero(void *dst, size_t bytes)
{
    cudaError_t err = cudaMemset(dst, 0, bytes);
    return err == cudaSuccess ? SC_OK : sc_cuda_fail(err, "cudaMemset");
}

extern "C" sc_status sc_cuda_synchronize(void)
{
    cudaError_t err = cudaDeviceSynchronize();
    return err == cudaSuccess ? SC_OK : sc_cuda_fail(err, "cudaDeviceSynchronize");
}

extern "C" sc_status sc_cuda_mem_info(size_t *free_bytes, size_t *total_bytes)
{
    cudaError_t err = cudaMemGetInfo(free_bytes, total_bytes);
    return err == cudaSuccess ? SC_OK : sc_cuda_fail(err, "cudaMemGetInfo");
}

extern "C" size_t sc_cublaslt_version(void)
{
    return cublasLtGetVersion();
}
