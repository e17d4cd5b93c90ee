/* Test hooks for device memory and the CUDA backend: host <-> device round trips in every
 * storage dtype, raw allocations (error paths), and the backend's memory figures. Present in
 * every build; without CUDA support or a GPU they raise RuntimeError. */
#include "py_common.h"

#include "sc_cuda_backend.h"
#ifdef SC_WITH_CUDA
#include "sc_cuda.h"
#endif

static int parse_dtype(const char *name, sc_dtype *out)
{
    static const sc_dtype choices[] = {SC_F32, SC_BF16, SC_F16, SC_I64, SC_I32, SC_U8};
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (!strcmp(name, sc_dtype_name(choices[i]))) {
            *out = choices[i];
            return 0;
        }
    PyErr_Format(PyExc_ValueError, "unknown dtype '%s'", name);
    return -1;
}

/* Host array -> device tensor of `dtype` -> host array of the input's kind. */
static PyObject *py_cuda_roundtrip(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *obj;
    const char *dtype_name;
    sc_dtype dt;
    if (!PyArg_ParseTuple(args, "Os:_cuda_roundtrip", &obj, &dtype_name) || parse_dtype(dtype_name, &dt) < 0)
        return NULL;
    const sc_dtype host_dt = sc_dtype_is_float(dt) ? SC_F32 : dt;
    sc_tensor *host = sc_py_tensor_from_array(obj, host_dt, "array");
    if (!host)
        return NULL;
    sc_tensor *dev = NULL, *back = NULL;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = sc_tensor_empty(SC_CUDA, dt, host->ndim, host->shape, &dev);
    if (s == SC_OK)
        s = sc_tensor_copy(dev, host);
    if (s == SC_OK)
        s = sc_tensor_empty(SC_CPU, host_dt, host->ndim, host->shape, &back);
    if (s == SC_OK)
        s = sc_tensor_copy(back, dev);
    Py_END_ALLOW_THREADS
    PyObject *result = s == SC_OK ? sc_py_array_from_tensor(back) : sc_py_raise(s);
    sc_tensor_release(back);
    sc_tensor_release(dev);
    sc_tensor_release(host);
    return result;
}

/* Allocate and free `nbytes` of device memory. */
static PyObject *py_cuda_alloc(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long long n = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    void *p = NULL;
    sc_status s = sc_device_malloc(SC_CUDA, (size_t)n, &p);
    if (s != SC_OK)
        return sc_py_raise(s);
    sc_device_free(SC_CUDA, p);
    Py_RETURN_NONE;
}

/* {"name", "dtype", "scratch_bytes", "allocations", "free_bytes", "total_bytes"} of the CUDA backend. */
static PyObject *py_cuda_backend_info(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    sc_backend *be = NULL;
    sc_status s = sc_backend_for_device(SC_CUDA, &be);
    size_t free_bytes = 0, total_bytes = 0, allocations = 0;
#ifdef SC_WITH_CUDA
    if (s == SC_OK)
        s = sc_cuda_mem_info(&free_bytes, &total_bytes);
    allocations = sc_cuda_malloc_count();
#endif
    if (s != SC_OK)
        return sc_py_raise(s);
    return Py_BuildValue("{s:s,s:s,s:K,s:K,s:K,s:K}", "name", be->name, "dtype", sc_dtype_name(be->dtype),
                         "scratch_bytes", (unsigned long long)sc_cuda_backend_scratch_bytes(), "allocations",
                         (unsigned long long)allocations, "free_bytes", (unsigned long long)free_bytes,
                         "total_bytes", (unsigned long long)total_bytes);
}

static PyMethodDef cuda_methods[] = {
    {"_cuda_roundtrip", py_cuda_roundtrip, METH_VARARGS,
     "_cuda_roundtrip(array, dtype) -> array\n\nUpload to a device tensor of dtype ('float32', 'bfloat16', "
     "'float16', 'int64', 'int32', 'uint8') and download again."},
    {"_cuda_alloc", py_cuda_alloc, METH_O, "_cuda_alloc(nbytes)\n\nAllocate and free that much device memory."},
    {"_cuda_backend_info", py_cuda_backend_info, METH_NOARGS,
     "_cuda_backend_info() -> dict\n\nThe CUDA backend's name, dtype, own scratch bytes, device allocations made "
     "so far (tensors and arenas) and the device's free/total memory (creates the backend)."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_cuda(PyObject *m)
{
    return PyModule_AddFunctions(m, cuda_methods);
}
