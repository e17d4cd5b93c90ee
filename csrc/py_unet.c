/* CPython binding of the StableCascadeUNet: _C.UNet (load, forward, prepare, forward_prepared),
 * _C.UNetConditioning and _C.unet_expected_keys. The config arrives as the normalised diffusers
 * config dict built by stable_cascade_c/unet.py. */
#include "py_common.h"

#include <pythread.h>
#include <string.h>

#include "model_unet.h"
#include "sc_cuda_backend.h"

/* ---- config dict -> sc_unet_config ---- */

static PyObject *config_item(PyObject *cfg, const char *key)
{
    PyObject *v = PyDict_GetItemString(cfg, key); /* borrowed */
    if (!v)
        PyErr_Format(PyExc_ValueError, "UNet config: missing '%s'", key);
    return v;
}

static int as_int(PyObject *v, const char *key, int *out)
{
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_ValueError, "UNet config: '%s' must be an integer, got %R", key, v);
        return -1;
    }
    long x = PyLong_AsLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (x < -(1L << 30) || x > (1L << 30)) {
        PyErr_Format(PyExc_ValueError, "UNet config: '%s' is out of range: %ld", key, x);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int get_int(PyObject *cfg, const char *key, int *out)
{
    PyObject *v = config_item(cfg, key);
    return v ? as_int(v, key, out) : -1;
}

/* None -> 0 ("absent"); an integer must be >= 1. */
static int get_optional_width(PyObject *cfg, const char *key, int *out)
{
    PyObject *v = config_item(cfg, key);
    if (!v)
        return -1;
    if (v == Py_None) {
        *out = 0;
        return 0;
    }
    if (as_int(v, key, out) < 0)
        return -1;
    if (*out < 1) {
        PyErr_Format(PyExc_ValueError, "UNet config: '%s' must be None or >= 1, got %d", key, *out);
        return -1;
    }
    return 0;
}

/* A list of exactly `n` items (or any length <= max when n < 0; the length goes to *len). */
static PyObject *get_list(PyObject *cfg, const char *key, int n, int max, int *len)
{
    PyObject *v = config_item(cfg, key);
    if (!v)
        return NULL;
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        PyErr_Format(PyExc_ValueError, "UNet config: '%s' must be a list, got %R", key, v);
        return NULL;
    }
    Py_ssize_t size = PySequence_Fast_GET_SIZE(v);
    if ((n >= 0 && size != n) || size > max) {
        if (n >= 0)
            PyErr_Format(PyExc_ValueError, "UNet config: '%s' must have %d entries (one per level), got %zd", key,
                         n, size);
        else
            PyErr_Format(PyExc_ValueError, "UNet config: '%s' may have at most %d entries, got %zd", key, max, size);
        return NULL;
    }
    if (len)
        *len = (int)size;
    return v;
}

static int get_int_list(PyObject *cfg, const char *key, int n, int *out)
{
    PyObject *v = get_list(cfg, key, n, SC_UNET_MAX_LEVELS, NULL);
    if (!v)
        return -1;
    for (int i = 0; i < n; i++)
        if (as_int(PySequence_Fast_GET_ITEM(v, i), key, &out[i]) < 0)
            return -1;
    return 0;
}

static int get_bool_list(PyObject *cfg, const char *key, int n, int *out, int *len)
{
    PyObject *v = get_list(cfg, key, n, SC_UNET_MAX_LEVELS, len);
    if (!v)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(v); i++) {
        PyObject *b = PySequence_Fast_GET_ITEM(v, i);
        if (!PyBool_Check(b)) {
            PyErr_Format(PyExc_ValueError, "UNet config: '%s' must hold booleans, got %R", key, b);
            return -1;
        }
        out[i] = b == Py_True;
    }
    return 0;
}

static int parse_block_types(PyObject *cfg, sc_unet_config *c)
{
    static const char *const names[] = {"SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"};
    PyObject *levels = get_list(cfg, "block_types_per_layer", c->levels, SC_UNET_MAX_LEVELS, NULL);
    if (!levels)
        return -1;
    for (int i = 0; i < c->levels; i++) {
        PyObject *types = PySequence_Fast_GET_ITEM(levels, i);
        if ((!PyList_Check(types) && !PyTuple_Check(types)) ||
            PySequence_Fast_GET_SIZE(types) > SC_UNET_MAX_BLOCK_TYPES) {
            PyErr_Format(PyExc_ValueError,
                         "UNet config: block_types_per_layer[%d] must be a list of at most %d block names", i,
                         SC_UNET_MAX_BLOCK_TYPES);
            return -1;
        }
        c->n_types[i] = (int)PySequence_Fast_GET_SIZE(types);
        for (int t = 0; t < c->n_types[i]; t++) {
            const char *s = PyUnicode_Check(PySequence_Fast_GET_ITEM(types, t))
                                ? PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(types, t))
                                : NULL;
            int kind = -1;
            for (int k = 0; s && k < 3; k++)
                if (!strcmp(s, names[k]))
                    kind = k;
            if (kind < 0) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "UNet config: block type %R not supported",
                             PySequence_Fast_GET_ITEM(types, t));
                return -1;
            }
            c->types[i][t] = (sc_unet_block_kind)kind;
        }
    }
    return 0;
}

static int parse_conds(PyObject *cfg, sc_unet_config *c)
{
    PyObject *v = get_list(cfg, "timestep_conditioning_type", -1, SC_UNET_MAX_CONDS, &c->n_conds);
    if (!v)
        return -1;
    for (int n = 0; n < c->n_conds; n++) {
        PyObject *item = PySequence_Fast_GET_ITEM(v, n);
        Py_ssize_t len = 0;
        const char *s = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, &len) : NULL;
        if (!s || len >= SC_UNET_COND_NAME_MAX) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError,
                         "UNet config: timestep_conditioning_type entries must be names of at most %d characters, "
                         "got %R", SC_UNET_COND_NAME_MAX - 1, item);
            return -1;
        }
        memcpy(c->conds[n], s, (size_t)len + 1);
    }
    return 0;
}

static int parse_config(PyObject *cfg, sc_unet_config *c)
{
    memset(c, 0, sizeof *c);
    if (!PyDict_Check(cfg)) {
        PyErr_SetString(PyExc_TypeError, "UNet config must be a dict");
        return -1;
    }
    if (!get_list(cfg, "block_out_channels", -1, SC_UNET_MAX_LEVELS, &c->levels))
        return -1;
    const int L = c->levels;
    PyObject *switch_level = config_item(cfg, "switch_level");
    if (get_int(cfg, "in_channels", &c->in_channels) < 0 || get_int(cfg, "out_channels", &c->out_channels) < 0 ||
        get_int(cfg, "timestep_ratio_embedding_dim", &c->c_r) < 0 || get_int(cfg, "patch_size", &c->patch_size) < 0 ||
        get_int(cfg, "conditioning_dim", &c->c_cond) < 0 || get_int_list(cfg, "block_out_channels", L, c->channels) < 0 ||
        get_int_list(cfg, "num_attention_heads", L, c->heads) < 0 ||
        get_int_list(cfg, "down_num_layers_per_block", L, c->down_layers) < 0 ||
        get_int_list(cfg, "up_num_layers_per_block", L, c->up_layers) < 0 ||
        get_int_list(cfg, "down_blocks_repeat_mappers", L, c->down_repeats) < 0 ||
        get_int_list(cfg, "up_blocks_repeat_mappers", L, c->up_repeats) < 0 || parse_block_types(cfg, c) < 0 ||
        get_optional_width(cfg, "clip_text_in_channels", &c->clip_text_in) < 0 ||
        get_int(cfg, "clip_text_pooled_in_channels", &c->clip_text_pooled_in) < 0 ||
        get_optional_width(cfg, "clip_image_in_channels", &c->clip_image_in) < 0 ||
        get_int(cfg, "clip_seq", &c->clip_seq) < 0 || get_optional_width(cfg, "effnet_in_channels", &c->effnet_in) < 0 ||
        get_optional_width(cfg, "pixel_mapper_in_channels", &c->pixel_in) < 0 ||
        get_int(cfg, "kernel_size", &c->kernel_size) < 0 || get_bool_list(cfg, "self_attn", L, c->self_attn, NULL) < 0 ||
        parse_conds(cfg, c) < 0 || !switch_level)
        return -1;
    if (switch_level != Py_None) {
        c->has_switch_level = 1;
        if (get_bool_list(cfg, "switch_level", -1, c->switch_level, &c->n_switch) < 0)
            return -1;
    }
    if (sc_unet_config_validate(c) != SC_OK) {
        sc_py_raise(SC_ERR_VALUE);
        return -1;
    }
    return 0;
}

static int parse_naming(const char *s, sc_unet_naming *out, int allow_auto)
{
    if (!strcmp(s, "diffusers"))
        *out = SC_UNET_NAMING_DIFFUSERS;
    else if (!strcmp(s, "original"))
        *out = SC_UNET_NAMING_ORIGINAL;
    else if (allow_auto && !strcmp(s, "auto"))
        *out = SC_UNET_NAMING_AUTO;
    else {
        PyErr_Format(PyExc_ValueError, "naming must be %s'diffusers' or 'original', got '%s'",
                     allow_auto ? "'auto', " : "", s);
        return -1;
    }
    return 0;
}

/* ---- _C.unet_expected_keys ---- */

static sc_status append_key(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    PyObject *dims = sc_py_shape_tuple(ndim, shape);
    if (!dims)
        return sc_set_error(SC_ERR_NOMEM, "out of memory listing keys");
    PyObject *item = Py_BuildValue("(sN)", name, dims);
    int bad = !item || PyList_Append((PyObject *)ctx, item) < 0;
    Py_XDECREF(item);
    return bad ? sc_set_error(SC_ERR_NOMEM, "out of memory listing keys") : SC_OK;
}

static PyObject *py_expected_keys(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"config", "naming", NULL};
    PyObject *cfg;
    const char *naming_s = "diffusers";
    sc_unet_config c;
    sc_unet_naming naming;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|s", kwlist, &cfg, &naming_s) || parse_config(cfg, &c) < 0 ||
        parse_naming(naming_s, &naming, 0) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    sc_status s = sc_unet_list_keys(&c, naming, append_key, list);
    if (s != SC_OK) {
        Py_DECREF(list);
        if (!PyErr_Occurred())
            sc_py_raise(s);
        return NULL;
    }
    return list;
}

/* ---- _C.UNet ---- */

typedef struct {
    PyObject_HEAD
    sc_unet *unet;
    sc_backend *be;          /* where the weights live and the model computes */
    sc_tensor *staged[2];    /* device twins of the last sample and output, reused by same-shaped steps */
    PyThread_type_lock lock; /* one forward at a time: the arena, cached terms and staged are shared */
} UNetObject;

typedef struct {
    PyObject_HEAD
    UNetObject *owner;
    sc_unet_cond *cond;
} UNetCondObject;

static PyTypeObject UNetCondType;

static PyObject *unet_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"config", "path", "variant", "single_file", "naming", "device", "weights", NULL};
    PyObject *cfg;
    const char *path, *variant = NULL, *naming_s = "auto", *device = "cpu", *weights = "auto";
    int single_file = 0;
    sc_unet_config c;
    sc_unet_naming naming;
    sc_weight_storage storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Os|zpsss", kwlist, &cfg, &path, &variant, &single_file,
                                     &naming_s, &device, &weights) ||
        parse_config(cfg, &c) < 0 || parse_naming(naming_s, &naming, 1) < 0 ||
        sc_py_weight_storage(weights, &storage) < 0)
        return NULL;
    sc_backend *be = sc_py_backend(device);
    if (!be)
        return NULL;
    UNetObject *self = (UNetObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->be = be;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    sc_weights *w = NULL;
    s = single_file ? sc_weights_open_file(path, &w) : sc_weights_open_dir(path, "diffusion_pytorch_model", variant, &w);
    if (s == SC_OK)
        s = sc_unet_load(&c, w, naming, be, storage, &self->unet);
    sc_weights_close(w);
    Py_END_ALLOW_THREADS
    if (s != SC_OK) {
        Py_DECREF(self);
        if (!strstr(sc_last_error(), path)) /* name the weights unless the message already does */
            sc_add_context(s, "loading UNet weights from %s", path);
        return sc_py_raise(s);
    }
    return (PyObject *)self;
}

static void unet_dealloc(UNetObject *self)
{
    sc_unet_free(self->unet);
    sc_tensor_release(self->staged[0]);
    sc_tensor_release(self->staged[1]);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Optional float32 array argument -> tensor (NULL for None); *ok = 0 on error. */
static sc_tensor *optional_tensor(PyObject *obj, const char *what, int *ok)
{
    if (!obj || obj == Py_None)
        return NULL;
    sc_tensor *t = sc_py_tensor_from_array(obj, SC_F32, what);
    if (!t)
        *ok = 0;
    return t;
}

typedef struct {
    sc_tensor *pooled, *text, *img, *effnet, *pixels;
} cond_inputs;

static void release_cond_inputs(cond_inputs *in)
{
    sc_tensor_release(in->pooled);
    sc_tensor_release(in->text);
    sc_tensor_release(in->img);
    sc_tensor_release(in->effnet);
    sc_tensor_release(in->pixels);
}

static int convert_cond_inputs(PyObject *pooled, PyObject *text, PyObject *img, PyObject *effnet, PyObject *pixels,
                               cond_inputs *in)
{
    int ok = 1;
    memset(in, 0, sizeof *in);
    if (pooled == Py_None) {
        PyErr_SetString(PyExc_ValueError, "clip_text_pooled is required");
        return -1;
    }
    in->pooled = optional_tensor(pooled, "clip_text_pooled", &ok);
    if (ok)
        in->text = optional_tensor(text, "clip_text", &ok);
    if (ok)
        in->img = optional_tensor(img, "clip_img", &ok);
    if (ok)
        in->effnet = optional_tensor(effnet, "effnet", &ok);
    if (ok)
        in->pixels = optional_tensor(pixels, "pixels", &ok);
    if (!ok) {
        release_cond_inputs(in);
        return -1;
    }
    return 0;
}

/* `in`'s tensors where backend `be` computes (the host tensors themselves on the CPU backend). */
static sc_status cond_inputs_for_backend(const sc_backend *be, const cond_inputs *in, cond_inputs *dev)
{
    sc_tensor *const src[5] = {in->pooled, in->text, in->img, in->effnet, in->pixels};
    sc_tensor **const dst[5] = {&dev->pooled, &dev->text, &dev->img, &dev->effnet, &dev->pixels};
    memset(dev, 0, sizeof *dev);
    for (int i = 0; i < 5; i++) {
        sc_status s = src[i] ? sc_tensor_for_backend(be, src[i], 1, dst[i]) : SC_OK;
        if (s != SC_OK) {
            release_cond_inputs(dev);
            return s;
        }
    }
    return SC_OK;
}

static UNetCondObject *new_cond_object(UNetObject *owner, sc_unet_cond *cond)
{
    UNetCondObject *obj = PyObject_New(UNetCondObject, &UNetCondType);
    if (!obj) {
        sc_unet_cond_free(cond);
        return NULL;
    }
    Py_INCREF(owner);
    obj->owner = owner;
    obj->cond = cond;
    return obj;
}

static PyObject *unet_prepare(UNetObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"clip_text_pooled", "clip_text", "clip_img", "effnet", "pixels", NULL};
    PyObject *pooled, *text = Py_None, *img = Py_None, *effnet = Py_None, *pixels = Py_None;
    cond_inputs in;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOOO", kwlist, &pooled, &text, &img, &effnet, &pixels) ||
        convert_cond_inputs(pooled, text, img, effnet, pixels, &in) < 0)
        return NULL;
    sc_unet_cond *cond = NULL;
    cond_inputs dev;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    s = cond_inputs_for_backend(self->be, &in, &dev);
    if (s == SC_OK)
        s = sc_unet_prepare_conditioning(self->unet, dev.pooled, dev.text, dev.img, dev.effnet, dev.pixels, &cond);
    release_cond_inputs(&dev);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    release_cond_inputs(&in);
    if (s != SC_OK)
        return sc_py_raise(s);
    return (PyObject *)new_cond_object(self, cond);
}

/* sample array + timestep ratios (a scalar or one per sample) + a fresh float32 output array. */
/* The caller's `out=` for a forward output of shape `dims` (sc_py_out_f32) that does not overlap
 * the sample. A new reference, or NULL with an exception. */
static PyArrayObject *caller_out(PyObject *obj, const npy_intp dims[4], const sc_tensor *sample)
{
    const int64_t shape[4] = {dims[0], dims[1], dims[2], dims[3]};
    float *data = sc_py_out_f32(obj, 4, shape);
    if (!data)
        return NULL;
    if (sc_py_overlaps(data, (size_t)PyArray_NBYTES((PyArrayObject *)obj), sample->data, sc_tensor_nbytes(sample))) {
        PyErr_SetString(PyExc_ValueError, "out must not share memory with sample");
        return NULL;
    }
    Py_INCREF(obj);
    return (PyArrayObject *)obj;
}

/* Converts the inputs of a forward and provides its output: a new array, or `out_obj` (may be
 * NULL or None) checked by caller_out. */
static int forward_io(UNetObject *self, PyObject *sample_obj, PyObject *ratio_obj, PyObject *out_obj,
                      sc_tensor **sample, PyArrayObject **ratio, PyArrayObject **out)
{
    const sc_unet_config *cfg = sc_unet_config_of(self->unet);
    *sample = sc_py_tensor_from_array(sample_obj, SC_F32, "sample");
    if (!*sample)
        return -1;
    if ((*sample)->ndim != 4) {
        PyErr_Format(PyExc_ValueError, "sample must be a 4-D NCHW array, got %d dimensions", (*sample)->ndim);
        goto fail;
    }
    const int64_t B = (*sample)->shape[0];
    PyArrayObject *r = (PyArrayObject *)PyArray_FROMANY(ratio_obj, NPY_FLOAT32, 0, 1,
                                                         NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    if (!r)
        goto fail;
    if (PyArray_NDIM(r) == 0 || (PyArray_DIM(r, 0) == 1 && B != 1)) { /* broadcast one ratio */
        npy_intp n = (npy_intp)B;
        PyArrayObject *full = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT32);
        if (!full) {
            Py_DECREF(r);
            goto fail;
        }
        for (npy_intp i = 0; i < n; i++)
            ((float *)PyArray_DATA(full))[i] = *(const float *)PyArray_DATA(r);
        Py_DECREF(r);
        r = full;
    }
    if (PyArray_DIM(r, 0) != B) {
        PyErr_Format(PyExc_ValueError, "timestep_ratio must have one value per sample (%lld), got %lld",
                     (long long)B, (long long)PyArray_DIM(r, 0));
        Py_DECREF(r);
        goto fail;
    }
    npy_intp dims[4] = {(npy_intp)B, cfg->out_channels, (npy_intp)(*sample)->shape[2], (npy_intp)(*sample)->shape[3]};
    *out = out_obj && out_obj != Py_None ? caller_out(out_obj, dims, *sample)
                                         : (PyArrayObject *)PyArray_SimpleNew(4, dims, NPY_FLOAT32);
    if (!*out) {
        Py_DECREF(r);
        goto fail;
    }
    *ratio = r;
    return 0;
fail:
    sc_tensor_release(*sample);
    *sample = NULL;
    return -1;
}

typedef struct {
    UNetObject *self;
    sc_unet_cond *cond; /* prepared conditioning, or NULL: prepare from `in` */
    sc_tensor *sample;  /* host */
    const float *ratio;
    const cond_inputs *in; /* host */
} forward_job;

/* One forward into `outs[0]` (on the backend): inputs are moved there first. */
static sc_status forward_into(void *ctx, sc_tensor **outs)
{
    const forward_job *j = ctx;
    const sc_backend *be = j->self->be;
    sc_tensor *sample = NULL;
    cond_inputs dev;
    memset(&dev, 0, sizeof dev);
    sc_status s = sc_tensor_for_backend_cached(be, j->sample, 1, &j->self->staged[0], &sample);
    if (s == SC_OK && j->cond)
        s = sc_unet_forward_prepared(j->self->unet, j->cond, sample, j->ratio, outs[0]);
    else if (s == SC_OK && (s = cond_inputs_for_backend(be, j->in, &dev)) == SC_OK)
        s = sc_unet_forward(j->self->unet, sample, j->ratio, dev.pooled, dev.text, dev.img, dev.effnet, dev.pixels,
                            outs[0]);
    release_cond_inputs(&dev);
    sc_tensor_release(sample);
    return s;
}

static PyObject *run_forward(UNetObject *self, UNetCondObject *cond_obj, sc_tensor *sample, PyArrayObject *ratio,
                             PyArrayObject *out, const cond_inputs *in)
{
    sc_tensor out_t = sc_tensor_desc(SC_CPU, SC_F32, PyArray_DATA(out), 4,
                                     (int64_t[]){PyArray_DIM(out, 0), PyArray_DIM(out, 1), PyArray_DIM(out, 2),
                                                 PyArray_DIM(out, 3)});
    sc_tensor *outs[1] = {&out_t};
    forward_job job = {self, cond_obj ? cond_obj->cond : NULL, sample, PyArray_DATA(ratio), in};
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    s = sc_py_run_to_host(self->be, outs, 1, &self->staged[1], forward_into, &job);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    sc_tensor_release(sample);
    Py_DECREF(ratio);
    if (s != SC_OK) {
        Py_DECREF(out);
        return sc_py_raise(s);
    }
    return (PyObject *)out;
}

static PyObject *unet_call(UNetObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"sample", "timestep_ratio", "clip_text_pooled", "clip_text", "clip_img",
                             "effnet", "pixels", NULL};
    PyObject *sample_obj, *ratio_obj, *pooled, *text = Py_None, *img = Py_None, *effnet = Py_None, *pixels = Py_None;
    cond_inputs in;
    sc_tensor *sample;
    PyArrayObject *ratio, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|OOOO", kwlist, &sample_obj, &ratio_obj, &pooled, &text, &img,
                                     &effnet, &pixels) ||
        convert_cond_inputs(pooled, text, img, effnet, pixels, &in) < 0)
        return NULL;
    if (forward_io(self, sample_obj, ratio_obj, NULL, &sample, &ratio, &out) < 0) {
        release_cond_inputs(&in);
        return NULL;
    }
    PyObject *result = run_forward(self, NULL, sample, ratio, out, &in);
    release_cond_inputs(&in);
    return result;
}

static PyObject *unet_forward_prepared(UNetObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"cond", "sample", "timestep_ratio", "out", NULL};
    UNetCondObject *cond;
    PyObject *sample_obj, *ratio_obj, *out_obj = Py_None;
    sc_tensor *sample;
    PyArrayObject *ratio, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OO|O", kwlist, &UNetCondType, &cond, &sample_obj, &ratio_obj,
                                     &out_obj))
        return NULL;
    if (forward_io(self, sample_obj, ratio_obj, out_obj, &sample, &ratio, &out) < 0)
        return NULL;
    return run_forward(self, cond, sample, ratio, out, NULL);
}

static PyObject *unet_get_alloc_count(UNetObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(sc_unet_arena_alloc_count(self->unet));
}

static PyObject *unet_get_param_bytes(UNetObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(sc_unet_param_bytes(self->unet));
}

static PyObject *unet_free_workspace(UNetObject *self, PyObject *noargs)
{
    (void)noargs;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    sc_unet_free_workspace(self->unet);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef unet_methods[] = {
    {"prepare", (PyCFunction)(void (*)(void))unet_prepare, METH_VARARGS | METH_KEYWORDS,
     "prepare(clip_text_pooled, clip_text=None, clip_img=None, effnet=None, pixels=None) -> UNetConditioning"},
    {"forward_prepared", (PyCFunction)(void (*)(void))unet_forward_prepared, METH_VARARGS | METH_KEYWORDS,
     "forward_prepared(cond, sample, timestep_ratio, out=None) -> float32 NCHW array (`out` when given)"},
    {"free_workspace", (PyCFunction)unet_free_workspace, METH_NOARGS,
     "Free the activation arena (the next forward allocates it again)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef unet_getset[] = {
    {"arena_alloc_count", (getter)unet_get_alloc_count, NULL, "Device allocations made by the activation arena.",
     NULL},
    {"param_bytes", (getter)unet_get_param_bytes, NULL, "Bytes the loaded weights take on the device.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject UNetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.UNet",
    .tp_basicsize = sizeof(UNetObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "UNet(config, path, variant=None, single_file=False, naming='auto', device='cpu'): a loaded "
              "StableCascadeUNet on the backend of device ('cpu' or 'cuda'); float32 arrays in and out.",
    .tp_new = unet_new,
    .tp_dealloc = (destructor)unet_dealloc,
    .tp_call = (ternaryfunc)unet_call,
    .tp_methods = unet_methods,
    .tp_getset = unet_getset,
};

static void cond_dealloc(UNetCondObject *self)
{
    sc_unet_cond_free(self->cond);
    Py_XDECREF(self->owner);
    PyObject_Free(self);
}

static PyObject *cond_get_batch(UNetCondObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(sc_unet_cond_batch(self->cond));
}

static PyGetSetDef cond_getset[] = {
    {"batch", (getter)cond_get_batch, NULL, "Batch size the conditioning was prepared for.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject UNetCondType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.UNetConditioning",
    .tp_basicsize = sizeof(UNetCondObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Per-run UNet conditioning made by UNet.prepare (CLIP tokens' keys/values, effnet/pixels terms).",
    .tp_dealloc = (destructor)cond_dealloc,
    .tp_getset = cond_getset,
};

static PyMethodDef unet_module_methods[] = {
    {"unet_expected_keys", (PyCFunction)(void (*)(void))py_expected_keys, METH_VARARGS | METH_KEYWORDS,
     "unet_expected_keys(config, naming='diffusers') -> [(name, shape)] in state_dict order."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_unet(PyObject *m)
{
    if (PyType_Ready(&UNetType) < 0 || PyType_Ready(&UNetCondType) < 0)
        return -1;
    Py_INCREF(&UNetType);
    if (PyModule_AddObject(m, "UNet", (PyObject *)&UNetType) < 0) {
        Py_DECREF(&UNetType);
        return -1;
    }
    Py_INCREF(&UNetCondType);
    if (PyModule_AddObject(m, "UNetConditioning", (PyObject *)&UNetCondType) < 0) {
        Py_DECREF(&UNetCondType);
        return -1;
    }
    return PyModule_AddFunctions(m, unet_module_methods);
}
