/* Tensor storage: dtype, device, shape and a contiguous (row-major) buffer.
 *
 * Two kinds of sc_tensor exist:
 *   - heap tensors (sc_tensor_empty / sc_tensor_wrap / sc_tensor_view) are refcounted;
 *     sc_tensor_release() frees them when the count drops to zero;
 *   - descriptors (sc_tensor_desc, arena tensors) live on the stack or inside a model
 *     struct, have refcount 0 and never own their data. Ops take `const sc_tensor *`
 *     and never care which kind they get.
 *
 * Inside the networks activations are channels-last: images are [B, H, W, C], token
 * sequences [B, T, C]; NCHW exists only at the Python API boundary. */
#ifndef SC_TENSOR_H
#define SC_TENSOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_MAX_DIMS 8

typedef enum { SC_F32 = 0, SC_BF16, SC_F16, SC_I64, SC_I32, SC_U8, SC_DTYPE_COUNT } sc_dtype;
typedef enum { SC_CPU = 0, SC_CUDA } sc_device;

typedef void (*sc_free_fn)(void *ctx);

typedef struct sc_tensor sc_tensor;
struct sc_tensor {
    atomic_int refcount; /* 0 for descriptors, >= 1 for live heap tensors */
    sc_dtype dtype;
    sc_device device;
    int ndim;
    int64_t shape[SC_MAX_DIMS];
    void *data;
    /* Ownership of `data` for heap tensors (exactly one applies):
     *   base != NULL   : a view; `base` is retained and released with this tensor;
     *   free_fn != NULL: external memory; free_fn(free_ctx) runs at the last release;
     *   owns_data      : allocated by sc_tensor_empty; freed with sc_device_free. */
    sc_tensor *base;
    sc_free_fn free_fn;
    void *free_ctx;
    int owns_data;
};

size_t sc_dtype_size(sc_dtype dt);
const char *sc_dtype_name(sc_dtype dt);
const char *sc_device_name(sc_device dev);

int64_t sc_tensor_numel(const sc_tensor *t);
size_t sc_tensor_nbytes(const sc_tensor *t);
/* Product of all dims but the last (the row count of a channels-last matrix view). */
int64_t sc_tensor_rows(const sc_tensor *t);
int64_t sc_tensor_dim(const sc_tensor *t, int i); /* negative i counts from the end */

/* Shape helpers used for argument checks; they set a ValueError naming `what`. */
sc_status sc_check_shape(const sc_tensor *t, const char *what, int ndim, const int64_t *shape);
sc_status sc_check_same_shape(const sc_tensor *a, const sc_tensor *b, const char *what);
void sc_format_shape(const sc_tensor *t, char *buf, size_t n);

/* Heap tensors. */
sc_status sc_tensor_empty(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape, sc_tensor **out);
/* Data buffers sc_tensor_empty (and so sc_tensor_zeros) has allocated in this process, on any
 * device (tests: a denoising loop must allocate none after its first step). */
size_t sc_tensor_buffer_allocations(void);
sc_status sc_tensor_zeros(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape, sc_tensor **out);
sc_status sc_tensor_wrap(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape, void *data,
                         sc_free_fn free_fn, void *free_ctx, sc_tensor **out);
/* A heap view of `base` starting `byte_offset` bytes in, with a new shape. */
sc_status sc_tensor_view(sc_tensor *base, size_t byte_offset, int ndim, const int64_t *shape,
                         sc_tensor **out);
sc_tensor *sc_tensor_retain(sc_tensor *t);
void sc_tensor_release(sc_tensor *t); /* NULL is fine; descriptors are ignored */

/* A non-owning descriptor over existing memory (refcount 0). */
sc_tensor sc_tensor_desc(sc_device dev, sc_dtype dt, void *data, int ndim, const int64_t *shape);
/* Same memory, new shape (element count must match; checked by the caller). */
sc_tensor sc_tensor_reshaped(const sc_tensor *t, int ndim, const int64_t *shape);

/* Device memory. Without a CUDA build, SC_CUDA requests fail with SC_ERR_RUNTIME. */
sc_status sc_device_malloc(sc_device dev, size_t bytes, void **out);
void sc_device_free(sc_device dev, void *ptr);
sc_status sc_memcpy(sc_device dst_dev, void *dst, sc_device src_dev, const void *src, size_t bytes);
sc_status sc_memset_zero(sc_device dev, void *dst, size_t bytes);

/* Copy between tensors of equal shape, converting dtype and moving across devices. */
sc_status sc_tensor_copy(sc_tensor *dst, const sc_tensor *src);

/* Exact conversions: round to nearest even, NaN/Inf preserved (NaN stays NaN, quiet). */
float sc_bf16_to_f32(uint16_t h);
uint16_t sc_f32_to_bf16(float f);
float sc_f16_to_f32(uint16_t h);
uint16_t sc_f32_to_f16(float f);
void sc_convert(void *dst, sc_dtype dst_dt, const void *src, sc_dtype src_dt, size_t n);
int sc_dtype_is_float(sc_dtype dt);

#ifdef __cplusplus
}
#endif

#endif
