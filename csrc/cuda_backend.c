/* Choosing a backend by device, and the CUDA backend's op table (created on first use). */
#include "sc_cuda_backend.h"

#include <string.h>

#ifdef SC_WITH_CUDA

#include <pthread.h>

#include "cuda_ops.h"
#include "sc_cuda.h"

static sc_backend cuda_backend = {
    .name = "cuda",
    .device = SC_CUDA,
    .dtype = SC_BF16,
    .compact_weight_dtype = SC_BF16,
    .linear = cuda_linear,
    .conv2d = cuda_conv2d,
    .conv_transpose2d = cuda_conv_transpose2d,
    .depthwise3x3 = cuda_depthwise3x3,
    .layernorm = cuda_layernorm,
    .layernorm_scalar_affine = cuda_layernorm_scalar_affine,
    .grn = cuda_grn,
    .activation = cuda_activation,
    .add = cuda_add,
    .mul = cuda_mul,
    .lerp = cuda_lerp,
    .scale_shift = cuda_scale_shift,
    .add_channel_vector = cuda_add_channel_vector,
    .attention = cuda_attention,
    .resize_bilinear = cuda_resize_bilinear,
    .pixel_unshuffle = cuda_pixel_unshuffle,
    .pixel_shuffle = cuda_pixel_shuffle,
    .concat = cuda_concat,
    .nchw_to_nhwc = cuda_nchw_to_nhwc,
    .nhwc_to_nchw = cuda_nhwc_to_nchw,
    .embedding = cuda_embedding,
    .impl = NULL, /* the sc_cuda_ctx, set once by sc_cuda_backend() */
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static sc_status cuda_backend_get(sc_backend **out)
{
    pthread_mutex_lock(&init_lock);
    sc_status s = SC_OK;
    if (!cuda_backend.impl) {
        sc_cuda_ctx *ctx = NULL;
        if (!sc_cuda_available())
            s = sc_set_error(SC_ERR_RUNTIME, "CUDA backend: no usable CUDA GPU was found (no device, or no driver)");
        else if ((s = sc_cu_ctx_create(&ctx)) == SC_OK)
            cuda_backend.impl = ctx;
    }
    pthread_mutex_unlock(&init_lock);
    if (s == SC_OK)
        *out = &cuda_backend;
    return s;
}

size_t sc_cuda_backend_scratch_bytes(void)
{
    pthread_mutex_lock(&init_lock);
    size_t n = cuda_backend.impl ? sc_cu_ctx_bytes(cuda_backend.impl) : 0;
    pthread_mutex_unlock(&init_lock);
    return n;
}

#else

static sc_status cuda_backend_get(sc_backend **out)
{
    (void)out;
    return sc_set_error(SC_ERR_RUNTIME, "this build of stable_cascade_c has no CUDA support "
                                        "(rebuild with nvcc on PATH or SC_CUDA=1)");
}

size_t sc_cuda_backend_scratch_bytes(void) { return 0; }

#endif

sc_backend *sc_cuda_backend(void)
{
    sc_backend *be = NULL;
    return cuda_backend_get(&be) == SC_OK ? be : NULL;
}

sc_status sc_tensor_for_backend_cached(const sc_backend *be, sc_tensor *t, int copy_data, sc_tensor **cache,
                                       sc_tensor **out)
{
    const sc_dtype dt = sc_dtype_is_float(t->dtype) ? be->dtype : t->dtype;
    if (t->device == be->device && t->dtype == dt) {
        *out = sc_tensor_retain(t);
        return SC_OK;
    }
    sc_tensor *c = *cache;
    if (!c || c->dtype != dt || c->ndim != t->ndim ||
        memcmp(c->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]) != 0) {
        sc_tensor *fresh = NULL;
        SC_TRY(sc_tensor_empty(be->device, dt, t->ndim, t->shape, &fresh));
        sc_tensor_release(*cache);
        *cache = c = fresh;
    }
    if (copy_data)
        SC_TRY(sc_tensor_copy(c, t));
    *out = sc_tensor_retain(c);
    return SC_OK;
}

sc_status sc_tensor_for_backend(const sc_backend *be, sc_tensor *t, int copy_data, sc_tensor **out)
{
    sc_tensor *cache = NULL;
    sc_status s = sc_tensor_for_backend_cached(be, t, copy_data, &cache, out);
    sc_tensor_release(cache); /* *out keeps its own reference */
    return s;
}

sc_status sc_backend_synchronize(const sc_backend *be)
{
#ifdef SC_WITH_CUDA
    if (be->device == SC_CUDA)
        return sc_cuda_synchronize();
#endif
    (void)be;
    return SC_OK;
}

sc_status sc_backend_for_device(sc_device dev, sc_backend **out)
{
    if (dev == SC_CPU) {
        *out = sc_cpu_backend();
        return SC_OK;
    }
    return cuda_backend_get(out);
}
