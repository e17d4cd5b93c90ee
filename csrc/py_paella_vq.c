/* CPython binding of the Stage A decoder: _C.PaellaVQ (load + decode) and
 * _C.paella_vq_expected_keys. Config parsing and file discovery live in stable_cascade_c/vqgan.py. */
#include "py_common.h"

#include <limits.h>
#include <string.h>
#include <pythread.h>

#include "model_paella_vq.h"

/* Fill `cfg` from a dict holding every PaellaVQModel config key (the Python layer merges
 * config.json with the defaults). */
static int parse_config(PyObject *dict, sc_paella_vq_config *cfg)
{
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "PaellaVQModel config must be a dict");
        return -1;
    }
    struct {
        const char *key;
        int *dst;
    } ints[] = {
        {"in_channels", &cfg->in_channels},
        {"out_channels", &cfg->out_channels},
        {"up_down_scale_factor", &cfg->up_down_scale_factor},
        {"levels", &cfg->levels},
        {"bottleneck_blocks", &cfg->bottleneck_blocks},
        {"embed_dim", &cfg->embed_dim},
        {"latent_channels", &cfg->latent_channels},
        {"num_vq_embeddings", &cfg->num_vq_embeddings},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        PyObject *v = PyDict_GetItemString(dict, ints[i].key);
        if (!v || !PyLong_Check(v) || PyBool_Check(v)) {
            PyErr_Format(PyExc_ValueError, "PaellaVQModel config: '%s' must be an integer", ints[i].key);
            return -1;
        }
        long x = PyLong_AsLong(v);
        if ((x == -1 && PyErr_Occurred()) || x < INT_MIN || x > INT_MAX) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "PaellaVQModel config: '%s' is out of range", ints[i].key);
            return -1;
        }
        *ints[i].dst = (int)x;
    }
    PyObject *sf = PyDict_GetItemString(dict, "scale_factor");
    double scale = sf && !PyBool_Check(sf) ? PyFloat_AsDouble(sf) : -1.0;
    if (scale == -1.0 && PyErr_Occurred())
        PyErr_Clear();
    cfg->scale_factor = (float)scale;
    sc_status s = sc_paella_vq_check_config(cfg);
    if (s != SC_OK) {
        sc_py_raise(s);
        return -1;
    }
    return 0;
}

/* ---- _C.paella_vq_expected_keys(config, naming) -> [(name, shape, dtype), ...] ---- */

static sc_status append_key(void *ctx, const char *name, int ndim, const int64_t *shape, sc_dtype dtype)
{
    PyObject *dims = sc_py_shape_tuple(ndim, shape);
    if (!dims)
        return sc_set_error(SC_ERR_NOMEM, "out of memory listing keys");
    PyObject *item = Py_BuildValue("(sNs)", name, dims, dtype == SC_I64 ? "int64" : "float32");
    int bad = !item || PyList_Append((PyObject *)ctx, item) < 0;
    Py_XDECREF(item);
    return bad ? sc_set_error(SC_ERR_NOMEM, "out of memory listing keys") : SC_OK;
}

static PyObject *py_expected_keys(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"config", "naming", NULL};
    PyObject *config;
    const char *naming = "diffusers";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|s:paella_vq_expected_keys", kwlist, &config, &naming))
        return NULL;
    sc_paella_vq_naming n;
    if (strcmp(naming, "diffusers") == 0)
        n = SC_PAELLA_NAMING_DIFFUSERS;
    else if (strcmp(naming, "original") == 0)
        n = SC_PAELLA_NAMING_ORIGINAL;
    else
        return PyErr_Format(PyExc_ValueError, "naming must be 'diffusers' or 'original', got '%s'", naming);
    sc_paella_vq_config cfg;
    if (parse_config(config, &cfg) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    sc_status s = sc_paella_vq_list_keys(&cfg, n, append_key, list);
    if (s != SC_OK) {
        Py_DECREF(list);
        return PyErr_Occurred() ? NULL : sc_py_raise(s);
    }
    return list;
}

/* ---- _C.PaellaVQ ---- */

typedef struct {
    PyObject_HEAD
    sc_paella_vq *model;
    PyThread_type_lock lock; /* one decode at a time: they share the model's arena */
} PaellaVQObject;

static void pvq_dealloc(PaellaVQObject *self)
{
    sc_paella_vq_free(self->model);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* PaellaVQ(config, path, variant=None, single_file=False, device="cpu"): `path` is a diffusers
 * vqgan/ folder (diffusion_pytorch_model[.variant].safetensors, sharded or not) or, with
 * single_file, one .safetensors file such as the original stage_a.safetensors. decode takes and
 * returns float32 arrays on every device (the model copies through its arena). */
static PyObject *pvq_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"config", "path", "variant", "single_file", "device", "weights", NULL};
    PyObject *config;
    const char *path, *variant = NULL, *device = "cpu", *weights = "auto";
    int single_file = 0;
    sc_weight_storage storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Os|zpss:PaellaVQ", kwlist, &config, &path, &variant,
                                     &single_file, &device, &weights) ||
        sc_py_weight_storage(weights, &storage) < 0)
        return NULL;
    sc_paella_vq_config cfg;
    if (parse_config(config, &cfg) < 0)
        return NULL;
    sc_backend *be = sc_py_backend(device);
    if (!be)
        return NULL;
    PaellaVQObject *self = (PaellaVQObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    sc_weights *w = NULL;
    s = single_file ? sc_weights_open_file(path, &w)
                    : sc_weights_open_dir(path, "diffusion_pytorch_model", variant, &w);
    if (s == SC_OK)
        s = sc_paella_vq_load(&cfg, w, be, storage, &self->model);
    sc_weights_close(w);
    Py_END_ALLOW_THREADS
    if (s != SC_OK) {
        Py_DECREF(self);
        return sc_py_raise(s);
    }
    return (PyObject *)self;
}

static PyObject *pvq_decode(PaellaVQObject *self, PyObject *arg)
{
    sc_tensor *latents = sc_py_tensor_from_array(arg, SC_F32, "latents");
    if (!latents)
        return NULL;
    int64_t shape[4];
    sc_status s = sc_paella_vq_image_shape(sc_paella_vq_get_config(self->model), latents, shape);
    if (s != SC_OK) {
        sc_tensor_release(latents);
        return sc_py_raise(s);
    }
    npy_intp dims[4] = {(npy_intp)shape[0], (npy_intp)shape[1], (npy_intp)shape[2], (npy_intp)shape[3]};
    PyObject *out = PyArray_SimpleNew(4, dims, NPY_FLOAT32);
    if (!out) {
        sc_tensor_release(latents);
        return NULL;
    }
    sc_tensor image = sc_tensor_desc(SC_CPU, SC_F32, PyArray_DATA((PyArrayObject *)out), 4, shape);
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    s = sc_paella_vq_decode(self->model, latents, &image);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    sc_tensor_release(latents);
    if (s != SC_OK) {
        Py_DECREF(out);
        return sc_py_raise(s);
    }
    return out;
}

static PyObject *pvq_arena_alloc_count(PaellaVQObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromSize_t(sc_paella_vq_arena_alloc_count(self->model));
}

static PyObject *pvq_arena_bytes(PaellaVQObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromSize_t(sc_paella_vq_arena_bytes(self->model));
}

static PyObject *pvq_param_bytes(PaellaVQObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromSize_t(sc_paella_vq_param_bytes(self->model));
}

static PyObject *pvq_free_workspace(PaellaVQObject *self, PyObject *noargs)
{
    (void)noargs;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    sc_paella_vq_free_workspace(self->model);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *pvq_set_mlp_tile(PaellaVQObject *self, PyObject *arg)
{
    long long values = PyLong_AsLongLong(arg);
    if (values == -1 && PyErr_Occurred())
        return NULL;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    s = sc_paella_vq_set_mlp_tile(self->model, values);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    return s == SC_OK ? Py_NewRef(Py_None) : sc_py_raise(s);
}

static PyMethodDef pvq_methods[] = {
    {"decode", (PyCFunction)pvq_decode, METH_O,
     "decode(latents: float32 [B, C, h, w]) -> float32 [B, out, h*f, w*f] (no scaling, no clamp)."},
    {"arena_alloc_count", (PyCFunction)pvq_arena_alloc_count, METH_NOARGS,
     "Allocations the activation arena has made so far."},
    {"arena_bytes", (PyCFunction)pvq_arena_bytes, METH_NOARGS, "Size of the activation arena in bytes."},
    {"param_bytes", (PyCFunction)pvq_param_bytes, METH_NOARGS, "Bytes the loaded weights take on the device."},
    {"free_workspace", (PyCFunction)pvq_free_workspace, METH_NOARGS,
     "Free the activation arena (the next decode allocates it again)."},
    {"set_mlp_tile", (PyCFunction)pvq_set_mlp_tile, METH_O,
     "Hidden values of one tile of the residual blocks' MLP (memory against GEMM size)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PaellaVQType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.PaellaVQ",
    .tp_basicsize = sizeof(PaellaVQObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Stage A (PaellaVQModel) decoder loaded from safetensors onto the backend of device ('cpu' or "
              "'cuda').",
    .tp_new = pvq_new,
    .tp_dealloc = (destructor)pvq_dealloc,
    .tp_methods = pvq_methods,
};

static PyMethodDef paella_vq_functions[] = {
    {"paella_vq_expected_keys", (PyCFunction)(void (*)(void))py_expected_keys, METH_VARARGS | METH_KEYWORDS,
     "paella_vq_expected_keys(config, naming='diffusers') -> [(name, shape, dtype)] a checkpoint must hold."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_paella_vq(PyObject *m)
{
    if (PyType_Ready(&PaellaVQType) < 0)
        return -1;
    Py_INCREF(&PaellaVQType);
    if (PyModule_AddObject(m, "PaellaVQ", (PyObject *)&PaellaVQType) < 0) {
        Py_DECREF(&PaellaVQType);
        return -1;
    }
    return PyModule_AddFunctions(m, paella_vq_functions);
}
