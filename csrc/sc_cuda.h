/* The C-callable surface of the CUDA objects in cuda/ (compiled only when nvcc is used).
 * Without a CUDA build these are not linked; sc_tensor.c answers SC_CUDA requests
 * with a RuntimeError instead. */
#ifndef SC_CUDA_H
#define SC_CUDA_H

#include <stddef.h>

#include "sc_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when a CUDA device is usable now (driver present, at least one device). */
int sc_cuda_available(void);
/* Writes the device name and compute capability; fails when no device is usable. */
sc_status sc_cuda_device_info(char *name, size_t name_len, int *major, int *minor, size_t *total_mem);
sc_status sc_cuda_malloc(size_t bytes, void **out);
/* Successful sc_cuda_malloc calls so far (tests prove steady-state loops allocate nothing). */
size_t sc_cuda_malloc_count(void);
void sc_cuda_free(void *ptr);
/* kind: 0 host->device, 1 device->host, 2 device->device */
sc_status sc_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind);
sc_status sc_cuda_memset_zero(void *dst, size_t bytes);
/* Wait until the device has finished all work queued so far. */
sc_status sc_cuda_synchronize(void);
/* Free and total memory of the current device (cudaMemGetInfo). */
sc_status sc_cuda_mem_info(size_t *free_bytes, size_t *total_bytes);
/* The cuBLASLt version the extension was linked against, or 0. */
size_t sc_cublaslt_version(void);

#ifdef __cplusplus
}
#endif

#endif
