#include "sc_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sc_loader {
    const sc_weights *weights;
    sc_backend *be;
    sc_weight_storage storage;
    unsigned char *taken; /* one flag per entry index */
    float *stage;         /* host staging: file values as float32 */
    float *permuted;      /* host staging: values in the op layout */
    size_t stage_cap;     /* elements in each staging buffer */
    size_t bytes;         /* of the tensors handed out */
};

sc_status sc_loader_create(const sc_weights *w, sc_backend *be, sc_weight_storage storage, sc_loader **out)
{
    if (storage != SC_WEIGHTS_COMPUTE && storage != SC_WEIGHTS_AS_STORED && storage != SC_WEIGHTS_COMPACT)
        return sc_set_error(SC_ERR_VALUE, "unknown weight storage policy %d", (int)storage);
    sc_loader *l = calloc(1, sizeof *l);
    if (!l)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a weight loader");
    l->weights = w;
    l->be = be;
    l->storage = storage;
    l->taken = calloc(sc_weights_count(w) + 1, 1);
    if (!l->taken) {
        free(l);
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a weight loader");
    }
    *out = l;
    return SC_OK;
}

void sc_loader_free(sc_loader *l)
{
    if (!l)
        return;
    free(l->taken);
    free(l->stage);
    free(l->permuted);
    free(l);
}

static void mark_taken(sc_loader *l, const sc_st_entry *e)
{
    l->taken[sc_weights_index_of(l->weights, e)] = 1;
}

int sc_loader_has(const sc_loader *l, const char *name) { return sc_weights_find(l->weights, name) != NULL; }

void sc_loader_skip(sc_loader *l, const char *name)
{
    const sc_st_entry *e = sc_weights_find(l->weights, name);
    if (e)
        mark_taken(l, e);
}

static void format_dims(char *buf, size_t n, int ndim, const int64_t *shape)
{
    sc_tensor d = sc_tensor_desc(SC_CPU, SC_F32, NULL, ndim, shape);
    sc_format_shape(&d, buf, n);
}

/* The dtype tensor `e`, loaded in `layout`, gets on the backend (see sc_weight_storage). */
static sc_dtype stored_dtype(const sc_loader *l, const sc_st_entry *e, sc_weight_layout layout)
{
    const sc_dtype compute = l->be->dtype, compact = l->be->compact_weight_dtype;
    const int dense = layout == SC_LAYOUT_MATRIX || layout == SC_LAYOUT_CONV || layout == SC_LAYOUT_CONV_T ||
                      layout == SC_LAYOUT_CONV1X1;
    if (!dense || compact == compute || l->storage == SC_WEIGHTS_COMPUTE)
        return compute;
    if (l->storage == SC_WEIGHTS_COMPACT)
        return compact;
    return compact == SC_BF16 && !strcmp(e->dtype, "BF16") ? compact : compute;
}

/* Find `name` and check its shape. */
static sc_status find_checked(sc_loader *l, const char *name, int ndim, const int64_t *shape,
                              const sc_st_entry **entry)
{
    const sc_st_entry *e = sc_weights_find(l->weights, name);
    if (!e) {
        /* name the weight file, or the first shard and how many more */
        const size_t files = sc_weights_file_count(l->weights);
        const char *file = files ? sc_safetensors_path(sc_weights_file(l->weights, 0)) : "the weights";
        if (files > 1)
            return sc_set_error(SC_ERR_VALUE, "%s and %zu more shard(s): missing tensor '%s'", file, files - 1, name);
        return sc_set_error(SC_ERR_VALUE, "%s: missing tensor '%s'", file, name);
    }
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = e->shape[i] == shape[i];
    if (!same) {
        char got[128], want[128];
        format_dims(got, sizeof got, e->ndim, e->shape);
        format_dims(want, sizeof want, ndim, shape);
        return sc_set_error(SC_ERR_VALUE, "%s: tensor '%s' has shape %s, the model config expects %s",
                            sc_weights_file_of(l->weights, e), name, got, want);
    }
    *entry = e;
    return SC_OK;
}

/* Find `name`, check its shape, and read it as float32 into the staging buffer. */
static sc_status read_checked(sc_loader *l, const char *name, int ndim, const int64_t *shape,
                              const sc_st_entry **entry, size_t *numel)
{
    const sc_st_entry *e;
    SC_TRY(find_checked(l, name, ndim, shape, &e));
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    if (n > l->stage_cap) {
        float *a = realloc(l->stage, n * sizeof(float));
        if (a)
            l->stage = a;
        float *b = a ? realloc(l->permuted, n * sizeof(float)) : NULL;
        if (b)
            l->permuted = b;
        if (!a || !b)
            return sc_set_error(SC_ERR_NOMEM, "out of host memory staging tensor '%s' (%zu values)", name, n);
        l->stage_cap = n;
    }
    SC_TRY(sc_st_read(l->weights, e, SC_F32, l->stage));
    mark_taken(l, e);
    *entry = e;
    *numel = n;
    return SC_OK;
}

/* Permute torch layouts into op layouts (see sc_ops.h). Returns the op-layout shape. */
static sc_status permute(sc_loader *l, const char *name, int ndim, const int64_t *s, sc_weight_layout layout,
                         const float **values, int *out_ndim, int64_t *out_shape)
{
    const float *src = l->stage;
    float *dst = l->permuted;
    if (layout == SC_LAYOUT_AS_IS || layout == SC_LAYOUT_MATRIX) {
        *values = src;
        *out_ndim = ndim;
        memcpy(out_shape, s, (size_t)ndim * sizeof s[0]);
        return SC_OK;
    }
    if (ndim != 4)
        return sc_set_error(SC_ERR_VALUE, "tensor '%s': a conv weight must have 4 dims", name);
    int64_t a = s[0], b = s[1], kh = s[2], kw = s[3];
    switch (layout) {
    case SC_LAYOUT_CONV1X1:
        if (kh != 1 || kw != 1)
            return sc_set_error(SC_ERR_VALUE, "tensor '%s' is not a 1x1 conv weight", name);
        *values = src;
        *out_ndim = 2;
        out_shape[0] = a;
        out_shape[1] = b;
        return SC_OK;
    case SC_LAYOUT_CONV: /* [Co, Ci, kh, kw] -> [Co, kh, kw, Ci] */
        for (int64_t co = 0; co < a; co++)
            for (int64_t ci = 0; ci < b; ci++)
                for (int64_t y = 0; y < kh; y++)
                    for (int64_t x = 0; x < kw; x++)
                        dst[((co * kh + y) * kw + x) * b + ci] = src[((co * b + ci) * kh + y) * kw + x];
        out_shape[0] = a, out_shape[1] = kh, out_shape[2] = kw, out_shape[3] = b;
        break;
    case SC_LAYOUT_CONV_T: /* [Ci, Co, kh, kw] -> [kh, kw, Co, Ci] */
        for (int64_t ci = 0; ci < a; ci++)
            for (int64_t co = 0; co < b; co++)
                for (int64_t y = 0; y < kh; y++)
                    for (int64_t x = 0; x < kw; x++)
                        dst[((y * kw + x) * b + co) * a + ci] = src[((ci * b + co) * kh + y) * kw + x];
        out_shape[0] = kh, out_shape[1] = kw, out_shape[2] = b, out_shape[3] = a;
        break;
    case SC_LAYOUT_DEPTHWISE: /* [C, 1, 3, 3] -> [3, 3, C] */
        if (b != 1)
            return sc_set_error(SC_ERR_VALUE, "tensor '%s' is not a depthwise conv weight", name);
        for (int64_t c = 0; c < a; c++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++)
                    dst[(y * kw + x) * a + c] = src[(c * kh + y) * kw + x];
        *values = dst;
        *out_ndim = 3;
        out_shape[0] = kh, out_shape[1] = kw, out_shape[2] = a;
        return SC_OK;
    default:
        return sc_set_error(SC_ERR_VALUE, "unknown weight layout %d", (int)layout);
    }
    *values = dst;
    *out_ndim = 4;
    return SC_OK;
}

/* Convert float32 host values to `dt` on the backend's device, as a new heap tensor. */
static sc_status upload(sc_loader *l, const float *values, sc_dtype dt, int ndim, const int64_t *shape,
                        sc_tensor **out)
{
    sc_tensor *t = NULL;
    SC_TRY(sc_tensor_empty(l->be->device, dt, ndim, shape, &t));
    sc_tensor src = sc_tensor_desc(SC_CPU, SC_F32, (void *)values, ndim, shape);
    sc_status s = sc_tensor_copy(t, &src);
    if (s != SC_OK) {
        sc_tensor_release(t);
        return s;
    }
    l->bytes += sc_tensor_nbytes(t);
    *out = t;
    return SC_OK;
}

/* A tensor that keeps its torch layout, read from the file straight into a new CPU tensor (no
 * staging copy, so loading never holds a tensor twice). */
static sc_status read_into_cpu_tensor(sc_loader *l, const char *name, int ndim, const int64_t *shape,
                                      sc_weight_layout layout, sc_tensor **out)
{
    const sc_st_entry *e;
    SC_TRY(find_checked(l, name, ndim, shape, &e));
    int64_t op_shape[SC_MAX_DIMS];
    memcpy(op_shape, shape, (size_t)ndim * sizeof shape[0]);
    if (layout == SC_LAYOUT_CONV1X1) {
        if (ndim != 4 || shape[2] != 1 || shape[3] != 1)
            return sc_set_error(SC_ERR_VALUE, "tensor '%s' is not a 1x1 conv weight", name);
        ndim = 2;
    }
    const sc_dtype dt = stored_dtype(l, e, layout);
    sc_tensor *t = NULL;
    SC_TRY(sc_tensor_empty(SC_CPU, dt, ndim, op_shape, &t));
    sc_status s = sc_st_read(l->weights, e, dt, t->data);
    if (s != SC_OK) {
        sc_tensor_release(t);
        return s;
    }
    mark_taken(l, e);
    l->bytes += sc_tensor_nbytes(t);
    *out = t;
    return SC_OK;
}

sc_status sc_loader_get(sc_loader *l, const char *name, int ndim, const int64_t *shape, sc_weight_layout layout,
                        sc_tensor **out)
{
    const sc_st_entry *e;
    size_t n;
    const float *values = NULL;
    int out_ndim = 0;
    int64_t out_shape[SC_MAX_DIMS];
    if (l->be->device == SC_CPU &&
        (layout == SC_LAYOUT_AS_IS || layout == SC_LAYOUT_MATRIX || layout == SC_LAYOUT_CONV1X1))
        return read_into_cpu_tensor(l, name, ndim, shape, layout, out);
    SC_TRY(read_checked(l, name, ndim, shape, &e, &n));
    SC_TRY(permute(l, name, ndim, shape, layout, &values, &out_ndim, out_shape));
    return upload(l, values, stored_dtype(l, e, layout), out_ndim, out_shape, out);
}

sc_status sc_loader_get_rows(sc_loader *l, const char *name, int ndim, const int64_t *shape, int64_t row0,
                             int64_t rows, sc_weight_layout layout, sc_tensor **out)
{
    const sc_st_entry *e;
    size_t n;
    if (layout != SC_LAYOUT_AS_IS && layout != SC_LAYOUT_MATRIX)
        return sc_set_error(SC_ERR_VALUE, "tensor '%s': rows can only be taken of an AS_IS or MATRIX tensor", name);
    if (ndim < 1 || row0 < 0 || rows < 0 || row0 + rows > shape[0])
        return sc_set_error(SC_ERR_VALUE, "tensor '%s': rows [%lld, %lld) out of range", name, (long long)row0,
                            (long long)(row0 + rows));
    SC_TRY(read_checked(l, name, ndim, shape, &e, &n));
    size_t row_elems = shape[0] ? n / (size_t)shape[0] : 0;
    int64_t sub[SC_MAX_DIMS];
    memcpy(sub, shape, (size_t)ndim * sizeof shape[0]);
    sub[0] = rows;
    return upload(l, l->stage + (size_t)row0 * row_elems, stored_dtype(l, e, layout), ndim, sub, out);
}

sc_status sc_loader_get_host_f32(sc_loader *l, const char *name, int ndim, const int64_t *shape, float *dst)
{
    const sc_st_entry *e;
    size_t n = 0;
    SC_TRY(read_checked(l, name, ndim, shape, &e, &n));
    memcpy(dst, l->stage, n * sizeof(float));
    return SC_OK;
}

sc_status sc_loader_expect(sc_loader *l, const char *name, int ndim, const int64_t *shape)
{
    const sc_st_entry *e;
    SC_TRY(find_checked(l, name, ndim, shape, &e));
    mark_taken(l, e);
    return SC_OK;
}

size_t sc_loader_bytes(const sc_loader *l) { return l->bytes; }

sc_status sc_loader_finish(sc_loader *l)
{
    size_t n = sc_weights_count(l->weights);
    char list[512] = "";
    size_t used = 0, extra = 0;
    const sc_st_entry *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (l->taken[i])
            continue;
        const sc_st_entry *e = sc_weights_entry(l->weights, i);
        if (!first)
            first = e;
        if (extra++ < 5 && used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s'%s'", extra > 1 ? ", " : "", e->name);
    }
    if (!extra)
        return SC_OK;
    return sc_set_error(SC_ERR_VALUE, "%s: %zu unexpected tensor(s) the model config does not have: %s%s",
                        sc_weights_file_of(l->weights, first), extra, list, extra > 5 ? ", ..." : "");
}
