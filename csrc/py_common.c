#include "py_common.h"

#include <string.h>

#include "sc_cuda_backend.h"

PyObject *sc_py_raise(sc_status s)
{
    PyObject *type;
    switch (s) {
    case SC_ERR_VALUE: type = PyExc_ValueError; break;
    case SC_ERR_IO: type = PyExc_OSError; break;
    case SC_ERR_NOT_FOUND: type = PyExc_FileNotFoundError; break;
    case SC_ERR_NOMEM: type = PyExc_MemoryError; break;
    case SC_ERR_INTERRUPTED:
        if (PyErr_Occurred()) /* the callback's own exception (KeyboardInterrupt) wins */
            return NULL;
        type = PyExc_KeyboardInterrupt;
        break;
    default: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, sc_last_error());
    return NULL;
}

sc_backend *sc_py_backend(const char *device)
{
    sc_device dev;
    if (!strcmp(device, "cpu"))
        dev = SC_CPU;
    else if (!strcmp(device, "cuda"))
        dev = SC_CUDA;
    else {
        PyErr_Format(PyExc_ValueError, "device must be 'cpu' or 'cuda', got '%s'", device);
        return NULL;
    }
    sc_backend *be = NULL;
    sc_status s = sc_backend_for_device(dev, &be);
    if (s != SC_OK) {
        sc_py_raise(s);
        return NULL;
    }
    return be;
}

float *sc_py_out_f32(PyObject *obj, int ndim, const int64_t *shape)
{
    if (!PyArray_Check(obj) || PyArray_TYPE((PyArrayObject *)obj) != NPY_FLOAT32) {
        PyErr_SetString(PyExc_TypeError, "out must be a float32 numpy array");
        return NULL;
    }
    PyArrayObject *out = (PyArrayObject *)obj;
    int same = PyArray_NDIM(out) == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = PyArray_DIM(out, d) == shape[d];
    if (!same) {
        PyObject *want = sc_py_shape_tuple(ndim, shape);
        if (want)
            PyErr_Format(PyExc_ValueError, "out must have shape %R", want);
        Py_XDECREF(want);
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(out) || !PyArray_ISWRITEABLE(out) || !PyArray_ISALIGNED(out)) {
        PyErr_SetString(PyExc_ValueError, "out must be a writeable, aligned, C-contiguous array");
        return NULL;
    }
    return PyArray_DATA(out);
}

int sc_py_overlaps(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    const char *x = a, *y = b;
    return a_bytes && b_bytes && x < y + b_bytes && y < x + a_bytes;
}

int sc_py_weight_storage(const char *name, sc_weight_storage *out)
{
    if (!strcmp(name, "auto"))
        *out = SC_WEIGHTS_AS_STORED;
    else if (!strcmp(name, "float32"))
        *out = SC_WEIGHTS_COMPUTE;
    else if (!strcmp(name, "bfloat16"))
        *out = SC_WEIGHTS_COMPACT;
    else {
        PyErr_Format(PyExc_ValueError, "weights must be 'auto', 'float32' or 'bfloat16', got '%s'", name);
        return -1;
    }
    return 0;
}

#define SC_MAX_RUN_OUTPUTS 8

sc_status sc_py_run_to_host(const sc_backend *be, sc_tensor **host_outs, int n, sc_tensor **caches,
                            sc_status (*forward)(void *ctx, sc_tensor **outs), void *ctx)
{
    if (n < 0 || n > SC_MAX_RUN_OUTPUTS)
        return sc_set_error(SC_ERR_VALUE, "a forward pass may return at most %d outputs", SC_MAX_RUN_OUTPUTS);
    sc_tensor *outs[SC_MAX_RUN_OUTPUTS] = {NULL};
    sc_status s = SC_OK;
    for (int i = 0; i < n && s == SC_OK; i++)
        s = caches ? sc_tensor_for_backend_cached(be, host_outs[i], 0, &caches[i], &outs[i])
                   : sc_tensor_for_backend(be, host_outs[i], 0, &outs[i]);
    if (s == SC_OK)
        s = forward(ctx, outs);
    for (int i = 0; i < n && s == SC_OK; i++)
        if (outs[i] != host_outs[i])
            s = sc_tensor_copy(host_outs[i], outs[i]);
    for (int i = 0; i < n; i++)
        sc_tensor_release(outs[i]);
    return s;
}

int sc_py_npy_type(sc_dtype dt)
{
    switch (dt) {
    case SC_F32: return NPY_FLOAT32;
    case SC_F16: return NPY_FLOAT16;
    case SC_I64: return NPY_INT64;
    case SC_I32: return NPY_INT32;
    case SC_U8: return NPY_UINT8;
    default: return -1;
    }
}

PyObject *sc_py_shape_tuple(int ndim, const int64_t *shape)
{
    PyObject *t = PyTuple_New(ndim);
    for (int d = 0; t && d < ndim; d++) {
        PyObject *dim = PyLong_FromLongLong((long long)shape[d]);
        if (!dim) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, d, dim);
    }
    return t;
}

static void decref_array(void *ctx)
{
    Py_DECREF((PyObject *)ctx);
}

sc_tensor *sc_py_tensor_from_array(PyObject *obj, sc_dtype dt, const char *what)
{
    int npy = dt == SC_BF16 ? NPY_UINT16 : sc_py_npy_type(dt);
    if (npy < 0) {
        PyErr_Format(PyExc_TypeError, "%s: dtype %s has no NumPy equivalent", what, sc_dtype_name(dt));
        return NULL;
    }
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY(obj, npy, 0, SC_MAX_DIMS,
                                                            NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED |
                                                                NPY_ARRAY_FORCECAST);
    if (!arr) {
        if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyObject *et, *ev, *tb;
            PyErr_Fetch(&et, &ev, &tb);
            PyErr_Format(PyExc_TypeError, "%s must be a numeric array with at most %d dimensions (%S)", what,
                         SC_MAX_DIMS, ev ? ev : Py_None);
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(tb);
        }
        return NULL;
    }
    int64_t shape[SC_MAX_DIMS];
    int nd = PyArray_NDIM(arr);
    for (int i = 0; i < nd; i++)
        shape[i] = (int64_t)PyArray_DIM(arr, i);
    sc_tensor *t = NULL;
    sc_status s = sc_tensor_wrap(SC_CPU, dt, nd, shape, PyArray_DATA(arr), decref_array, arr, &t);
    if (s != SC_OK) {
        Py_DECREF(arr);
        sc_py_raise(s);
        return NULL;
    }
    return t;
}

static void capsule_release_tensor(PyObject *cap)
{
    sc_tensor_release((sc_tensor *)PyCapsule_GetPointer(cap, "sc_tensor"));
}

PyObject *sc_py_array_from_tensor(sc_tensor *t)
{
    int npy = sc_py_npy_type(t->dtype);
    if (t->device != SC_CPU || npy < 0) {
        PyErr_Format(PyExc_TypeError, "only CPU tensors of NumPy dtypes convert to arrays (got %s %s)",
                     sc_device_name(t->device), sc_dtype_name(t->dtype));
        return NULL;
    }
    npy_intp dims[SC_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        dims[i] = (npy_intp)t->shape[i];
    PyObject *arr = PyArray_SimpleNewFromData(t->ndim, dims, npy, t->data);
    if (!arr)
        return NULL;
    PyObject *cap = PyCapsule_New(sc_tensor_retain(t), "sc_tensor", capsule_release_tensor);
    if (!cap) {
        sc_tensor_release(t);
        Py_DECREF(arr);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) {
        Py_DECREF(arr); /* SetBaseObject stole cap even on failure */
        return NULL;
    }
    return arr;
}
