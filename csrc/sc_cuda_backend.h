/* The CUDA op backend: bfloat16 activations and weights, float32 accumulation and statistics,
 * GEMMs through cuBLASLt (docs/cuda.md). Declared in every build: without CUDA support, or
 * without a usable GPU, asking for it fails with a RuntimeError-class status. */
#ifndef SC_CUDA_BACKEND_H
#define SC_CUDA_BACKEND_H

#include "sc_ops.h"

/* The process-wide CUDA backend (current device), created on first use; NULL with the error set
 * (SC_ERR_RUNTIME, or SC_ERR_NOMEM when its buffers cannot be allocated) when it is unavailable. */
sc_backend *sc_cuda_backend(void);

/* The backend that computes on `dev`: sc_cpu_backend() or sc_cuda_backend(). */
sc_status sc_backend_for_device(sc_device dev, sc_backend **out);

/* `t` where `be` computes: `t` itself (retained) when it is on be's device with be's dtype (or is
 * not floating-point data, like ids and masks), else a new tensor there, float data converted to
 * be's dtype, holding t's values when copy_data (uninitialized otherwise). Release *out after use;
 * results go back to the host with sc_tensor_copy. */
sc_status sc_tensor_for_backend(const sc_backend *be, sc_tensor *t, int copy_data, sc_tensor **out);
/* The same, keeping a new tensor in *cache (which holds its own reference; release it when done)
 * and reusing it on later calls with the same shape and dtype: a loop that moves same-shaped
 * tensors to the device (the denoising loop's latents) then allocates nothing. */
sc_status sc_tensor_for_backend_cached(const sc_backend *be, sc_tensor *t, int copy_data, sc_tensor **cache,
                                       sc_tensor **out);

/* Wait until `be` has finished the work its ops queued (a no-op on the CPU, whose ops return
 * finished). Errors of earlier asynchronous work surface here. */
sc_status sc_backend_synchronize(const sc_backend *be);

/* Device bytes the CUDA backend holds for itself (cuBLASLt workspace and scratch); 0 when it has
 * not been created. Steady-state work must not make it grow. */
size_t sc_cuda_backend_scratch_bytes(void);

#endif
