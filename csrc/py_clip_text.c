/* Binding of the CLIP text encoder: _C.ClipTextModel(folder, variant, config, device="cpu") with
 * forward(input_ids, attention_mask) -> (hidden_states, last_hidden_state, text_embeds), and
 * _C.clip_text_expected_keys(config). `config` is a dict with the config.json field names
 * (defaults already applied by stable_cascade_c/text_encoder.py). */
#include "py_common.h"

#include <string.h>

#include "model_clip_text.h"

static int config_int(PyObject *config, const char *key, int64_t *out)
{
    PyObject *v = PyDict_GetItemString(config, key); /* borrowed */
    if (!v || !PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_ValueError, "CLIP text config: '%s' must be an integer", key);
        return -1;
    }
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) {
        PyErr_Format(PyExc_ValueError, "CLIP text config: '%s' is out of range: %R", key, v);
        return -1;
    }
    if (x == -1 && PyErr_Occurred())
        return -1;
    *out = (int64_t)x;
    return 0;
}

static int config_from_dict(PyObject *config, sc_clip_text_config *c)
{
    if (!PyDict_Check(config)) {
        PyErr_SetString(PyExc_TypeError, "CLIP text config must be a dict");
        return -1;
    }
    memset(c, 0, sizeof *c);
    if (config_int(config, "vocab_size", &c->vocab_size) < 0 || config_int(config, "hidden_size", &c->hidden_size) < 0 ||
        config_int(config, "intermediate_size", &c->intermediate_size) < 0 ||
        config_int(config, "num_hidden_layers", &c->layers) < 0 ||
        config_int(config, "num_attention_heads", &c->heads) < 0 ||
        config_int(config, "max_position_embeddings", &c->max_positions) < 0 ||
        config_int(config, "projection_dim", &c->projection_dim) < 0 ||
        config_int(config, "eos_token_id", &c->eos_token_id) < 0)
        return -1;
    PyObject *eps = PyDict_GetItemString(config, "layer_norm_eps");
    double e = eps && (PyFloat_Check(eps) || PyLong_Check(eps)) ? PyFloat_AsDouble(eps) : -1.0;
    if (e == -1.0 && PyErr_Occurred())
        return -1;
    c->layer_norm_eps = (float)e;
    PyObject *act = PyDict_GetItemString(config, "hidden_act");
    const char *name = act && PyUnicode_Check(act) ? PyUnicode_AsUTF8(act) : NULL;
    if (act && PyUnicode_Check(act) && !name)
        return -1;
    if (name && strcmp(name, "gelu") == 0) {
        c->hidden_act = SC_ACT_GELU;
    } else if (name && strcmp(name, "quick_gelu") == 0) {
        c->hidden_act = SC_ACT_QUICK_GELU;
    } else {
        PyErr_Format(PyExc_ValueError, "CLIP text config: hidden_act %R is not supported (gelu, quick_gelu)",
                     act ? act : Py_None);
        return -1;
    }
    sc_status s = sc_clip_text_config_check(c);
    if (s != SC_OK) {
        sc_py_raise(s);
        return -1;
    }
    return 0;
}

static PyObject *py_expected_keys(PyObject *self, PyObject *config)
{
    (void)self;
    sc_clip_text_config c;
    if (config_from_dict(config, &c) < 0)
        return NULL;
    size_t n = sc_clip_text_param_count(&c);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        char name[128];
        int ndim;
        int64_t shape[2];
        sc_status s = sc_clip_text_param_info(&c, i, name, sizeof name, &ndim, shape);
        PyObject *item = NULL;
        if (s != SC_OK)
            sc_py_raise(s);
        else if (ndim == 1)
            item = Py_BuildValue("(s(L))", name, (long long)shape[0]);
        else
            item = Py_BuildValue("(s(LL))", name, (long long)shape[0], (long long)shape[1]);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

typedef struct {
    PyObject_HEAD
    sc_clip_text *model;
    sc_backend *be; /* where the model's weights live and it computes */
    int busy;       /* a forward pass is running with the GIL released */
} ClipTextObject;

static void clip_text_dealloc(ClipTextObject *self)
{
    sc_clip_text_free(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int clip_text_init(ClipTextObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"folder", "variant", "config", "device", "weights", NULL};
    const char *folder, *variant, *device = "cpu", *weights = "auto";
    PyObject *config;
    sc_weight_storage storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "szO|ss", kwlist, &folder, &variant, &config, &device, &weights) ||
        sc_py_weight_storage(weights, &storage) < 0)
        return -1;
    if (self->model) {
        PyErr_SetString(PyExc_RuntimeError, "ClipTextModel is already initialized");
        return -1;
    }
    sc_clip_text_config c;
    if (config_from_dict(config, &c) < 0)
        return -1;
    sc_backend *be = sc_py_backend(device);
    if (!be)
        return -1;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    sc_weights *w = NULL;
    s = sc_weights_open_dir(folder, "model", variant, &w);
    if (s == SC_OK)
        s = sc_clip_text_load(&c, w, be, storage, &self->model);
    sc_weights_close(w);
    Py_END_ALLOW_THREADS
    if (s != SC_OK) {
        sc_py_raise(s);
        return -1;
    }
    self->be = be;
    return 0;
}

typedef struct {
    sc_clip_text *model;
    const sc_tensor *ids, *mask;
} forward_args;

static sc_status forward_into(void *ctx, sc_tensor **outs)
{
    const forward_args *a = ctx;
    return sc_clip_text_forward(a->model, a->ids, a->mask, outs[0], outs[1], outs[2]);
}

/* Run the model on converted inputs; returns the (hidden_states, last_hidden_state, text_embeds) tuple. */
static PyObject *run_forward(ClipTextObject *self, sc_tensor *ids, sc_tensor *mask)
{
    const sc_clip_text_config *c = sc_clip_text_get_config(self->model);
    if (ids->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "input_ids must have 2 dimensions [batch, tokens], got %d", ids->ndim);
        return NULL;
    }
    const int64_t seq[3] = {ids->shape[0], ids->shape[1], c->hidden_size}, emb[2] = {ids->shape[0], c->projection_dim};
    sc_tensor *out[3] = {NULL, NULL, NULL};
    sc_status s = sc_tensor_empty(SC_CPU, SC_F32, 3, seq, &out[0]);
    if (s == SC_OK)
        s = sc_tensor_empty(SC_CPU, SC_F32, 3, seq, &out[1]);
    if (s == SC_OK)
        s = sc_tensor_empty(SC_CPU, SC_F32, 2, emb, &out[2]);
    if (s == SC_OK) {
        forward_args fa = {self->model, ids, mask};
        self->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        s = sc_py_run_to_host(self->be, out, 3, NULL, forward_into, &fa);
        Py_END_ALLOW_THREADS
        self->busy = 0;
    }
    PyObject *arrays[3] = {NULL, NULL, NULL}, *result = NULL;
    if (s != SC_OK) {
        sc_py_raise(s);
    } else {
        for (int i = 0; i < 3; i++)
            arrays[i] = sc_py_array_from_tensor(out[i]);
        if (arrays[0] && arrays[1] && arrays[2])
            result = PyTuple_Pack(3, arrays[0], arrays[1], arrays[2]);
    }
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(arrays[i]);
        sc_tensor_release(out[i]);
    }
    return result;
}

static PyObject *clip_text_forward(ClipTextObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"input_ids", "attention_mask", NULL};
    PyObject *ids_obj, *mask_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O", kwlist, &ids_obj, &mask_obj))
        return NULL;
    if (!self->model) {
        PyErr_SetString(PyExc_RuntimeError, "ClipTextModel is not initialized");
        return NULL;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this CLIP text model is already running a forward pass in another thread");
        return NULL;
    }
    sc_tensor *ids = sc_py_tensor_from_array(ids_obj, SC_I64, "input_ids");
    if (!ids)
        return NULL;
    sc_tensor *mask = NULL;
    if (mask_obj != Py_None && !(mask = sc_py_tensor_from_array(mask_obj, SC_I64, "attention_mask"))) {
        sc_tensor_release(ids);
        return NULL;
    }
    PyObject *result = run_forward(self, ids, mask);
    sc_tensor_release(mask);
    sc_tensor_release(ids);
    return result;
}

static PyObject *clip_text_arena_alloc_count(ClipTextObject *self, PyObject *args)
{
    (void)args;
    if (!self->model) {
        PyErr_SetString(PyExc_RuntimeError, "ClipTextModel is not initialized");
        return NULL;
    }
    return PyLong_FromSize_t(sc_clip_text_arena_alloc_count(self->model));
}

static PyObject *clip_text_param_bytes(ClipTextObject *self, PyObject *args)
{
    (void)args;
    if (!self->model) {
        PyErr_SetString(PyExc_RuntimeError, "ClipTextModel is not initialized");
        return NULL;
    }
    return PyLong_FromSize_t(sc_clip_text_param_bytes(self->model));
}

static PyObject *clip_text_free_workspace(ClipTextObject *self, PyObject *args)
{
    (void)args;
    if (!self->model) {
        PyErr_SetString(PyExc_RuntimeError, "ClipTextModel is not initialized");
        return NULL;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this CLIP text model is running a forward pass in another thread");
        return NULL;
    }
    sc_clip_text_free_workspace(self->model);
    Py_RETURN_NONE;
}

static PyMethodDef clip_text_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))clip_text_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(input_ids, attention_mask=None) -> (hidden_states, last_hidden_state, text_embeds), float32 arrays."},
    {"arena_alloc_count", (PyCFunction)clip_text_arena_alloc_count, METH_NOARGS,
     "Device allocations made by the activation arena so far."},
    {"param_bytes", (PyCFunction)clip_text_param_bytes, METH_NOARGS, "Bytes the loaded weights take on the device."},
    {"free_workspace", (PyCFunction)clip_text_free_workspace, METH_NOARGS,
     "Free the activation arena (the next forward allocates it again)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ClipTextType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stable_cascade_c._C.ClipTextModel",
    .tp_basicsize = sizeof(ClipTextObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ClipTextModel(folder, variant, config, device='cpu'): CLIP text encoder weights loaded on the "
              "backend of device ('cpu' or 'cuda'); forward returns float32 arrays either way.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)clip_text_init,
    .tp_dealloc = (destructor)clip_text_dealloc,
    .tp_methods = clip_text_methods,
};

static PyMethodDef clip_text_functions[] = {
    {"clip_text_expected_keys", py_expected_keys, METH_O,
     "clip_text_expected_keys(config) -> [(name, shape)]: the tensors the loader requests, in order."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_clip_text(PyObject *m)
{
    if (PyType_Ready(&ClipTextType) < 0)
        return -1;
    Py_INCREF(&ClipTextType);
    if (PyModule_AddObject(m, "ClipTextModel", (PyObject *)&ClipTextType) < 0) {
        Py_DECREF(&ClipTextType);
        return -1;
    }
    return PyModule_AddFunctions(m, clip_text_functions);
}
