#include "sc_tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_bits.h"
#ifdef SC_WITH_CUDA
#include "sc_cuda.h"
#endif

/* Host buffers are 64-byte aligned so SIMD loads never straddle a cache line start. */
#define SC_HOST_ALIGN 64

static const size_t dtype_sizes[SC_DTYPE_COUNT] = {4, 2, 2, 8, 4, 1};
static const char *const dtype_names[SC_DTYPE_COUNT] = {"float32", "bfloat16", "float16",
                                                        "int64",   "int32",    "uint8"};

size_t sc_dtype_size(sc_dtype dt) { return (unsigned)dt < SC_DTYPE_COUNT ? dtype_sizes[dt] : 0; }
const char *sc_dtype_name(sc_dtype dt) { return (unsigned)dt < SC_DTYPE_COUNT ? dtype_names[dt] : "?"; }
const char *sc_device_name(sc_device dev) { return dev == SC_CUDA ? "cuda" : "cpu"; }
int sc_dtype_is_float(sc_dtype dt) { return dt == SC_F32 || dt == SC_BF16 || dt == SC_F16; }

int64_t sc_tensor_numel(const sc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t sc_tensor_nbytes(const sc_tensor *t) { return (size_t)sc_tensor_numel(t) * sc_dtype_size(t->dtype); }

int64_t sc_tensor_rows(const sc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i + 1 < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

int64_t sc_tensor_dim(const sc_tensor *t, int i) { return t->shape[i < 0 ? t->ndim + i : i]; }

void sc_format_shape(const sc_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

sc_status sc_check_shape(const sc_tensor *t, const char *what, int ndim, const int64_t *shape)
{
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || t->shape[i] == shape[i]; /* -1 = any */
    if (ok)
        return SC_OK;
    char got[128];
    char want[128];
    sc_tensor w = sc_tensor_desc(SC_CPU, SC_F32, NULL, ndim, shape);
    sc_format_shape(t, got, sizeof got);
    sc_format_shape(&w, want, sizeof want);
    return sc_set_error(SC_ERR_VALUE, "%s has shape %s, expected %s", what, got, want);
}

sc_status sc_check_same_shape(const sc_tensor *a, const sc_tensor *b, const char *what)
{
    return sc_check_shape(a, what, b->ndim, b->shape);
}

static sc_status check_shape_args(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > SC_MAX_DIMS)
        return sc_set_error(SC_ERR_VALUE, "tensor rank %d is outside 0..%d", ndim, SC_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return sc_set_error(SC_ERR_VALUE, "negative tensor dimension %lld", (long long)shape[i]);
        if (shape[i] && n > INT64_MAX / 8 / shape[i])
            return sc_set_error(SC_ERR_VALUE, "tensor of that shape is too large");
        n *= shape[i];
    }
    return SC_OK;
}

static sc_tensor *tensor_alloc_header(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape)
{
    sc_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    atomic_init(&t->refcount, 1);
    t->dtype = dt;
    t->device = dev;
    t->ndim = ndim;
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof shape[0]);
    return t;
}

/* Buffers sc_tensor_empty has allocated (tests prove loops allocate nothing with it). */
static atomic_size_t g_buffer_allocations;

size_t sc_tensor_buffer_allocations(void) { return atomic_load(&g_buffer_allocations); }

sc_status sc_tensor_empty(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape, sc_tensor **out)
{
    SC_TRY(check_shape_args(ndim, shape));
    sc_tensor *t = tensor_alloc_header(dev, dt, ndim, shape);
    if (!t)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a tensor header");
    sc_status s = sc_device_malloc(dev, sc_tensor_nbytes(t), &t->data);
    if (s != SC_OK) {
        free(t);
        return s;
    }
    t->owns_data = 1;
    atomic_fetch_add(&g_buffer_allocations, 1);
    *out = t;
    return SC_OK;
}

sc_status sc_tensor_zeros(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape, sc_tensor **out)
{
    SC_TRY(sc_tensor_empty(dev, dt, ndim, shape, out));
    sc_status s = sc_memset_zero(dev, (*out)->data, sc_tensor_nbytes(*out));
    if (s != SC_OK) {
        sc_tensor_release(*out);
        *out = NULL;
    }
    return s;
}

sc_status sc_tensor_wrap(sc_device dev, sc_dtype dt, int ndim, const int64_t *shape, void *data,
                         sc_free_fn free_fn, void *free_ctx, sc_tensor **out)
{
    SC_TRY(check_shape_args(ndim, shape));
    sc_tensor *t = tensor_alloc_header(dev, dt, ndim, shape);
    if (!t)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a tensor header");
    t->data = data;
    t->free_fn = free_fn;
    t->free_ctx = free_ctx;
    *out = t;
    return SC_OK;
}

sc_status sc_tensor_view(sc_tensor *base, size_t byte_offset, int ndim, const int64_t *shape, sc_tensor **out)
{
    SC_TRY(check_shape_args(ndim, shape));
    sc_tensor *t = tensor_alloc_header(base->device, base->dtype, ndim, shape);
    if (!t)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a tensor header");
    if (byte_offset + sc_tensor_nbytes(t) > sc_tensor_nbytes(base)) {
        free(t);
        return sc_set_error(SC_ERR_VALUE, "tensor view reaches past the end of its base");
    }
    t->data = (char *)base->data + byte_offset;
    t->base = sc_tensor_retain(base);
    *out = t;
    return SC_OK;
}

sc_tensor *sc_tensor_retain(sc_tensor *t)
{
    if (t && atomic_load(&t->refcount) > 0)
        atomic_fetch_add(&t->refcount, 1);
    return t;
}

void sc_tensor_release(sc_tensor *t)
{
    if (!t || atomic_load(&t->refcount) <= 0)
        return;
    if (atomic_fetch_sub(&t->refcount, 1) != 1)
        return;
    if (t->base)
        sc_tensor_release(t->base);
    else if (t->free_fn)
        t->free_fn(t->free_ctx);
    else if (t->owns_data)
        sc_device_free(t->device, t->data);
    free(t);
}

sc_tensor sc_tensor_desc(sc_device dev, sc_dtype dt, void *data, int ndim, const int64_t *shape)
{
    sc_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.device = dev;
    t.ndim = ndim;
    t.data = data;
    if (ndim > 0)
        memcpy(t.shape, shape, (size_t)ndim * sizeof shape[0]);
    return t;
}

sc_tensor sc_tensor_reshaped(const sc_tensor *t, int ndim, const int64_t *shape)
{
    return sc_tensor_desc(t->device, t->dtype, t->data, ndim, shape);
}

/* ---- device memory ---------------------------------------------------------------- */

sc_status sc_device_malloc(sc_device dev, size_t bytes, void **out)
{
    if (dev == SC_CUDA) {
#ifdef SC_WITH_CUDA
        return sc_cuda_malloc(bytes, out);
#else
        return sc_set_error(SC_ERR_RUNTIME, "this build of stable_cascade_c has no CUDA support");
#endif
    }
    size_t rounded = (bytes + SC_HOST_ALIGN - 1) / SC_HOST_ALIGN * SC_HOST_ALIGN;
    void *p = aligned_alloc(SC_HOST_ALIGN, rounded ? rounded : SC_HOST_ALIGN);
    if (!p)
        return sc_set_error(SC_ERR_NOMEM, "could not allocate %zu bytes of host memory (%.2f GiB)", bytes,
                            (double)bytes / (1u << 30));
    *out = p;
    return SC_OK;
}

void sc_device_free(sc_device dev, void *ptr)
{
    if (!ptr)
        return;
    if (dev == SC_CUDA) {
#ifdef SC_WITH_CUDA
        sc_cuda_free(ptr);
#endif
        return;
    }
    free(ptr);
}

sc_status sc_memcpy(sc_device dst_dev, void *dst, sc_device src_dev, const void *src, size_t bytes)
{
    if (!bytes)
        return SC_OK;
    if (dst_dev == SC_CPU && src_dev == SC_CPU) {
        memmove(dst, src, bytes);
        return SC_OK;
    }
#ifdef SC_WITH_CUDA
    int kind = src_dev == SC_CPU ? 0 : dst_dev == SC_CPU ? 1 : 2;
    return sc_cuda_memcpy(dst, src, bytes, kind);
#else
    return sc_set_error(SC_ERR_RUNTIME, "this build of stable_cascade_c has no CUDA support");
#endif
}

sc_status sc_memset_zero(sc_device dev, void *dst, size_t bytes)
{
    if (!bytes)
        return SC_OK;
    if (dev == SC_CPU) {
        memset(dst, 0, bytes);
        return SC_OK;
    }
#ifdef SC_WITH_CUDA
    return sc_cuda_memset_zero(dst, bytes);
#else
    return sc_set_error(SC_ERR_RUNTIME, "this build of stable_cascade_c has no CUDA support");
#endif
}

sc_status sc_tensor_copy(sc_tensor *dst, const sc_tensor *src)
{
    SC_TRY(sc_check_same_shape(dst, src, "copy destination"));
    size_t n = (size_t)sc_tensor_numel(src);
    if (dst->dtype == src->dtype)
        return sc_memcpy(dst->device, dst->data, src->device, src->data, sc_tensor_nbytes(src));
    if (!sc_dtype_is_float(dst->dtype) || !sc_dtype_is_float(src->dtype))
        return sc_set_error(SC_ERR_VALUE, "cannot convert %s to %s", sc_dtype_name(src->dtype),
                            sc_dtype_name(dst->dtype));
    if (dst->device == SC_CPU && src->device == SC_CPU) {
        sc_convert(dst->data, dst->dtype, src->data, src->dtype, n);
        return SC_OK;
    }
    /* Cross-device with conversion: convert on the host through a staging buffer. */
    sc_tensor *stage = NULL;
    if (src->device == SC_CPU) {
        SC_TRY(sc_tensor_empty(SC_CPU, dst->dtype, src->ndim, src->shape, &stage));
        sc_convert(stage->data, dst->dtype, src->data, src->dtype, n);
        sc_status s = sc_memcpy(dst->device, dst->data, SC_CPU, stage->data, sc_tensor_nbytes(stage));
        sc_tensor_release(stage);
        return s;
    }
    SC_TRY(sc_tensor_empty(SC_CPU, src->dtype, src->ndim, src->shape, &stage));
    sc_status s = sc_memcpy(SC_CPU, stage->data, src->device, src->data, sc_tensor_nbytes(stage));
    if (s == SC_OK && dst->device == SC_CPU)
        sc_convert(dst->data, dst->dtype, stage->data, src->dtype, n);
    else if (s == SC_OK)
        s = sc_set_error(SC_ERR_VALUE, "device-to-device copies must keep the dtype");
    sc_tensor_release(stage);
    return s;
}

/* ---- exact float conversions -------------------------------------------------------- */

float sc_bf16_to_f32(uint16_t h) { return sc_bits_f32((uint32_t)h << 16); }

uint16_t sc_f32_to_bf16(float f)
{
    uint32_t u = sc_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign and payload top, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even; Inf stays Inf */
    return (uint16_t)(u >> 16);
}

float sc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f)
        return sc_bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in float32 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return sc_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t sc_f32_to_f16(float f)
{
    uint32_t u = sc_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
    if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to Inf (also Inf itself) */
        return (uint16_t)(sign | 0x7c00u);
    if (abs < 0x38800000u) {
        /* result is subnormal or zero: value / 2^-24, rounded to nearest even */
        float a = sc_bits_f32(abs);
        float scaled = a * 0x1p24f; /* exact: power-of-two scaling of a normal/subnormal f32 */
        float r = nearbyintf(scaled); /* default rounding mode is nearest-even */
        return (uint16_t)(sign | (uint16_t)r);
    }
    /* normal: rebias exponent, round the 13 dropped mantissa bits to nearest even */
    uint32_t v = abs - (112u << 23);
    v += 0xfffu + ((v >> 13) & 1u);
    return (uint16_t)(sign | (v >> 13));
}

static float load_float(const void *p, sc_dtype dt, size_t i)
{
    switch (dt) {
    case SC_F32: return ((const float *)p)[i];
    case SC_BF16: return sc_bf16_to_f32(((const uint16_t *)p)[i]);
    case SC_F16: return sc_f16_to_f32(((const uint16_t *)p)[i]);
    case SC_I64: return (float)((const int64_t *)p)[i];
    case SC_I32: return (float)((const int32_t *)p)[i];
    default: return (float)((const uint8_t *)p)[i];
    }
}

void sc_convert(void *dst, sc_dtype dst_dt, const void *src, sc_dtype src_dt, size_t n)
{
    if (dst_dt == src_dt) {
        memmove(dst, src, n * sc_dtype_size(dst_dt));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = load_float(src, src_dt, i);
        switch (dst_dt) {
        case SC_F32: ((float *)dst)[i] = v; break;
        case SC_BF16: ((uint16_t *)dst)[i] = sc_f32_to_bf16(v); break;
        case SC_F16: ((uint16_t *)dst)[i] = sc_f32_to_f16(v); break;
        case SC_I64: ((int64_t *)dst)[i] = (int64_t)v; break;
        case SC_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
        default: ((uint8_t *)dst)[i] = (uint8_t)v; break;
        }
    }
}
