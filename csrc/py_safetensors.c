/* _C.Weights (a safetensors file or a sharded / variant weight set, read-only, mmap-based) and
 * _C.safetensors_validate_bytes (the in-memory validation entry used by the fuzz tests). */
#include "py_common.h"

#include "sc_safetensors.h"

typedef struct {
    PyObject_HEAD
    sc_weights *w;
    int readers; /* get() calls running with the GIL released; close() waits for none */
} WeightsObject;

static PyTypeObject WeightsType;

static int check_open(WeightsObject *self)
{
    if (self->w)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the weights are closed");
    return -1;
}

static PyObject *wrap_weights(PyTypeObject *type, sc_weights *w)
{
    WeightsObject *obj = (WeightsObject *)type->tp_alloc(type, 0);
    if (!obj) {
        sc_weights_close(w);
        return NULL;
    }
    obj->w = w;
    return (PyObject *)obj;
}

static PyObject *weights_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *path = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:Weights", kwlist, PyUnicode_FSConverter, &path))
        return NULL;
    sc_weights *w = NULL;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = sc_weights_open_file(PyBytes_AS_STRING(path), &w);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (s != SC_OK)
        return sc_py_raise(s);
    return wrap_weights(type, w);
}

static PyObject *weights_open_dir(PyObject *cls, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"folder", "stem", "variant", NULL};
    PyObject *folder = NULL;
    const char *stem, *variant = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&s|z:open_dir", kwlist, PyUnicode_FSConverter, &folder, &stem,
                                     &variant))
        return NULL;
    sc_weights *w = NULL;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = sc_weights_open_dir(PyBytes_AS_STRING(folder), stem, variant, &w);
    Py_END_ALLOW_THREADS
    Py_DECREF(folder);
    if (s != SC_OK)
        return sc_py_raise(s);
    return wrap_weights((PyTypeObject *)cls, w);
}

static void weights_dealloc(WeightsObject *self)
{
    sc_weights_close(self->w);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *weights_close(WeightsObject *self, PyObject *unused)
{
    (void)unused;
    if (self->readers) {
        PyErr_SetString(PyExc_RuntimeError, "cannot close the weights while another thread is reading them");
        return NULL;
    }
    sc_weights_close(self->w);
    self->w = NULL;
    Py_RETURN_NONE;
}

static PyObject *weights_enter(WeightsObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    return Py_NewRef(self);
}

static PyObject *weights_exit(WeightsObject *self, PyObject *args)
{
    (void)args;
    return weights_close(self, NULL);
}

/* The entry named by a str, or NULL with KeyError. */
static const sc_st_entry *lookup(WeightsObject *self, PyObject *name)
{
    if (check_open(self) < 0)
        return NULL;
    Py_ssize_t len;
    const char *utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
    if (!utf8) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "tensor names are str, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    const sc_st_entry *e = (size_t)len == strlen(utf8) ? sc_weights_find(self->w, utf8) : NULL;
    if (!e)
        PyErr_SetObject(PyExc_KeyError, name);
    return e;
}

static PyObject *weights_keys(WeightsObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    size_t n = sc_weights_count(self->w);
    PyObject *keys = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; keys && i < n; i++) {
        PyObject *k = PyUnicode_FromString(sc_weights_entry(self->w, i)->name);
        if (!k) {
            Py_CLEAR(keys);
            break;
        }
        PyList_SET_ITEM(keys, (Py_ssize_t)i, k);
    }
    return keys;
}

static PyObject *weights_info(WeightsObject *self, PyObject *name)
{
    const sc_st_entry *e = lookup(self, name);
    return e ? Py_BuildValue("(sN)", e->dtype, sc_py_shape_tuple(e->ndim, e->shape)) : NULL;
}

static PyObject *weights_file_of(WeightsObject *self, PyObject *name)
{
    const sc_st_entry *e = lookup(self, name);
    return e ? PyUnicode_DecodeFSDefault(sc_weights_file_of(self->w, e)) : NULL;
}

/* dtype=None keeps the file's type (BF16, which NumPy lacks, widens to float32);
 * "bfloat16" returns the bit patterns as uint16. */
static int parse_target(PyObject *arg, const sc_st_entry *e, sc_dtype *dt, int *npy)
{
    static const struct {
        const char *name;
        sc_dtype dt;
        int npy;
    } targets[] = {{"float32", SC_F32, NPY_FLOAT32}, {"float16", SC_F16, NPY_FLOAT16},
                   {"bfloat16", SC_BF16, NPY_UINT16}, {"int64", SC_I64, NPY_INT64}};
    const char *want;
    if (arg == Py_None)
        want = strcmp(e->dtype, "F16") == 0 ? "float16" : strcmp(e->dtype, "I64") == 0 ? "int64" : "float32";
    else if (!(want = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "dtype must be None or a str");
        return -1;
    }
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        if (strcmp(want, targets[i].name) == 0) {
            *dt = targets[i].dt;
            *npy = targets[i].npy;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "dtype must be None, 'float32', 'float16', 'bfloat16' or 'int64', not '%s'", want);
    return -1;
}

static PyObject *weights_get(WeightsObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", "dtype", NULL};
    PyObject *name, *dtype_arg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:get", kwlist, &name, &dtype_arg))
        return NULL;
    const sc_st_entry *e = lookup(self, name);
    sc_dtype dt;
    int npy;
    if (!e || parse_target(dtype_arg, e, &dt, &npy) < 0)
        return NULL;
    npy_intp dims[SC_MAX_DIMS];
    for (int d = 0; d < e->ndim; d++)
        dims[d] = (npy_intp)e->shape[d];
    PyObject *arr = PyArray_SimpleNew(e->ndim, dims, npy);
    if (!arr) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) { /* "array is too big" (zero-size included) */
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s: tensor '%s': shape too large for a NumPy array",
                         sc_weights_file_of(self->w, e), e->name);
        }
        return NULL;
    }
    sc_status s;
    self->readers++;
    Py_BEGIN_ALLOW_THREADS
    s = sc_st_read(self->w, e, dt, PyArray_DATA((PyArrayObject *)arr));
    Py_END_ALLOW_THREADS
    self->readers--;
    if (s != SC_OK) {
        Py_DECREF(arr);
        return sc_py_raise(s);
    }
    return arr;
}

static Py_ssize_t weights_len(WeightsObject *self)
{
    return check_open(self) < 0 ? -1 : (Py_ssize_t)sc_weights_count(self->w);
}

static int weights_contains(WeightsObject *self, PyObject *name)
{
    if (check_open(self) < 0)
        return -1;
    Py_ssize_t len;
    const char *utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
    if (!utf8) {
        PyErr_Clear();
        return 0;
    }
    return (size_t)len == strlen(utf8) && sc_weights_find(self->w, utf8) != NULL;
}

static PyObject *metadata_dict(const sc_safetensors *st, PyObject *into)
{
    for (size_t i = 0; i < sc_safetensors_metadata_count(st); i++) {
        PyObject *k = PyUnicode_FromString(sc_safetensors_metadata_key(st, i));
        PyObject *v = k ? PyUnicode_FromString(sc_safetensors_metadata_value(st, i)) : NULL;
        PyObject *r = v ? PyDict_SetDefault(into, k, v) : NULL; /* borrowed */
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (!r)
            return NULL;
    }
    return into;
}

static PyObject *weights_get_metadata(WeightsObject *self, void *closure)
{
    (void)closure;
    if (check_open(self) < 0)
        return NULL;
    PyObject *dict = PyDict_New();
    for (size_t f = 0; dict && f < sc_weights_file_count(self->w); f++)
        if (!metadata_dict(sc_weights_file(self->w, f), dict))
            Py_CLEAR(dict);
    return dict;
}

static PyObject *weights_get_files(WeightsObject *self, void *closure)
{
    (void)closure;
    if (check_open(self) < 0)
        return NULL;
    size_t n = sc_weights_file_count(self->w);
    PyObject *files = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; files && i < n; i++) {
        PyObject *p = PyUnicode_DecodeFSDefault(sc_safetensors_path(sc_weights_file(self->w, i)));
        if (!p) {
            Py_CLEAR(files);
            break;
        }
        PyTuple_SET_ITEM(files, (Py_ssize_t)i, p);
    }
    return files;
}

static PyObject *weights_get_closed(WeightsObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->w == NULL);
}

static PyMethodDef weights_methods[] = {
    {"open_dir", (PyCFunction)(void (*)(void))weights_open_dir, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "open_dir(folder, stem, variant=None): <stem>[.<variant>].safetensors or its sharded index in folder."},
    {"keys", (PyCFunction)weights_keys, METH_NOARGS, "Tensor names, file by file in data order."},
    {"info", (PyCFunction)weights_info, METH_O, "info(name) -> (dtype, shape) as written in the file."},
    {"get", (PyCFunction)(void (*)(void))weights_get, METH_VARARGS | METH_KEYWORDS,
     "get(name, dtype=None) -> numpy array (a copy). dtype: None (file type; BF16 -> float32), 'float32', "
     "'float16', 'bfloat16' (uint16 bit patterns) or 'int64' (I64 tensors only)."},
    {"file_of", (PyCFunction)weights_file_of, METH_O, "file_of(name) -> path of the file holding the tensor."},
    {"close", (PyCFunction)weights_close, METH_NOARGS, "Unmap the files (also done when the object dies)."},
    {"__enter__", (PyCFunction)weights_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)weights_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef weights_getset[] = {
    {"metadata", (getter)weights_get_metadata, NULL,
     "__metadata__ of the file(s) as a dict (for shards: the union; the first file wins on conflicts).", NULL},
    {"files", (getter)weights_get_files, NULL, "Paths of the files, in entry order.", NULL},
    {"closed", (getter)weights_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods weights_as_sequence = {
    .sq_length = (lenfunc)weights_len,
    .sq_contains = (objobjproc)weights_contains,
};

static PyTypeObject WeightsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.Weights",
    .tp_basicsize = sizeof(WeightsObject),
    .tp_dealloc = (destructor)weights_dealloc,
    .tp_as_sequence = &weights_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Weights(path): a validated, memory-mapped safetensors file (or, via Weights.open_dir, a "
              "sharded/variant weight set). Every malformed file raises ValueError naming the file and problem.",
    .tp_methods = weights_methods,
    .tp_getset = weights_getset,
    .tp_new = weights_new,
};

/* ---- validate_bytes ---------------------------------------------------------------------- */

static PyObject *describe_file(const sc_safetensors *st)
{
    PyObject *tensors = PyDict_New();
    for (size_t i = 0; tensors && i < sc_safetensors_count(st); i++) {
        const sc_st_entry *e = sc_safetensors_entry(st, i);
        PyObject *v = Py_BuildValue("(sN(KK))", e->dtype, sc_py_shape_tuple(e->ndim, e->shape), (unsigned long long)e->begin,
                                    (unsigned long long)e->end);
        if (!v || PyDict_SetItemString(tensors, e->name, v) < 0)
            Py_CLEAR(tensors);
        Py_XDECREF(v);
    }
    PyObject *meta = tensors ? PyDict_New() : NULL;
    if (meta && !metadata_dict(st, meta))
        Py_CLEAR(meta);
    if (!meta) {
        Py_XDECREF(tensors);
        return NULL;
    }
    return Py_BuildValue("(NN)", tensors, meta);
}

static PyObject *py_validate_bytes(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    sc_safetensors *st = NULL;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = sc_safetensors_parse_buffer(view.buf, (size_t)view.len, "<bytes>", &st);
    Py_END_ALLOW_THREADS
    PyObject *result = s == SC_OK ? describe_file(st) : sc_py_raise(s);
    sc_safetensors_close(st);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef safetensors_methods[] = {
    {"safetensors_validate_bytes", py_validate_bytes, METH_O,
     "Validate an in-memory safetensors file; returns ({name: (dtype, shape, (begin, end))}, metadata)."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_safetensors(PyObject *m)
{
    if (PyType_Ready(&WeightsType) < 0)
        return -1;
    Py_INCREF(&WeightsType);
    if (PyModule_AddObject(m, "Weights", (PyObject *)&WeightsType) < 0) {
        Py_DECREF(&WeightsType);
        return -1;
    }
    return PyModule_AddFunctions(m, safetensors_methods);
}
