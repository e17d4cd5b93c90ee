/* build_info(), thread control and the dtype-conversion / zero-copy helpers. */
#include "py_common.h"

#include <math.h>

#include "cpu_kernels.h"
#include "sc_arena.h"
#include "sc_ops.h"
#ifdef SC_WITH_CUDA
#include "sc_cuda.h"
#endif

#ifndef SC_VERSION
#define SC_VERSION "0.0.0"
#endif
#ifndef SC_CUDA_ARCHS
#define SC_CUDA_ARCHS ""
#endif

static PyObject *py_build_info(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    int cuda_compiled = 0;
    int cuda_available = 0;
    PyObject *device = Py_None;
    Py_INCREF(device);
#ifdef SC_WITH_CUDA
    cuda_compiled = 1;
    cuda_available = sc_cuda_available();
    if (cuda_available) {
        char name[256];
        int major = 0, minor = 0;
        size_t mem = 0;
        if (sc_cuda_device_info(name, sizeof name, &major, &minor, &mem) == SC_OK) {
            Py_DECREF(device);
            device = Py_BuildValue("{s:s,s:(ii),s:K}", "name", name, "capability", major, minor, "memory_bytes",
                                   (unsigned long long)mem);
            if (!device)
                return NULL;
        }
    }
#endif
    PyObject *archs = PyUnicode_FromString(SC_CUDA_ARCHS);
    PyObject *split = archs ? PyUnicode_Split(archs, NULL, -1) : NULL;
    Py_XDECREF(archs);
    if (!split) {
        Py_DECREF(device);
        return NULL;
    }
    return Py_BuildValue("{s:s,s:O,s:N,s:O,s:N,s:s,s:i,s:s}", "version", SC_VERSION, "cuda_compiled",
                         cuda_compiled ? Py_True : Py_False, "cuda_archs", split, "cuda_runtime_available",
                         cuda_available ? Py_True : Py_False, "cuda_device", device, "cpu_features",
                         sc_cpu_features(), "threads", sc_cpu_threads(), "compiler",
#ifdef __clang__
                         "clang " __clang_version__
#else
                         "gcc " __VERSION__
#endif
    );
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg)
{
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 1 || n > 1024) {
        PyErr_Format(PyExc_ValueError, "threads must be between 1 and 1024, got %ld", n);
        return NULL;
    }
    sc_cpu_set_threads((int)n);
    Py_RETURN_NONE;
}

/* set_cpu_math(name): the GEMMs' math, "float32" or "bfloat16" (sc_cpu_set_math). */
static PyObject *py_set_cpu_math(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!name) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "math must be a string");
        return NULL;
    }
    sc_status s = sc_cpu_set_math(name);
    return s == SC_OK ? Py_NewRef(Py_None) : sc_py_raise(s);
}

static PyObject *py_get_cpu_math(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(sc_cpu_math());
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong(sc_cpu_threads());
}

/* Convert between float32 arrays and uint16 arrays holding bf16/f16 bit patterns. */
static PyObject *convert_array(PyObject *arg, int npy_in, sc_dtype from, int npy_out, sc_dtype to)
{
    PyArrayObject *src = (PyArrayObject *)PyArray_FROMANY(arg, npy_in, 0, SC_MAX_DIMS,
                                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (!src)
        return NULL;
    PyObject *dst = PyArray_SimpleNew(PyArray_NDIM(src), PyArray_DIMS(src), npy_out);
    if (dst)
        sc_convert(PyArray_DATA((PyArrayObject *)dst), to, PyArray_DATA(src), from, (size_t)PyArray_SIZE(src));
    Py_DECREF(src);
    return dst;
}

static PyObject *py_f32_to_bf16_bits(PyObject *self, PyObject *arg)
{
    (void)self;
    return convert_array(arg, NPY_FLOAT32, SC_F32, NPY_UINT16, SC_BF16);
}

static PyObject *py_f32_to_f16_bits(PyObject *self, PyObject *arg)
{
    (void)self;
    return convert_array(arg, NPY_FLOAT32, SC_F32, NPY_UINT16, SC_F16);
}

static PyObject *py_bf16_bits_to_f32(PyObject *self, PyObject *arg)
{
    (void)self;
    return convert_array(arg, NPY_UINT16, SC_BF16, NPY_FLOAT32, SC_F32);
}

static PyObject *py_f16_bits_to_f32(PyObject *self, PyObject *arg)
{
    (void)self;
    return convert_array(arg, NPY_UINT16, SC_F16, NPY_FLOAT32, SC_F32);
}

/* Wrap an array as a tensor and hand it back: proves the zero-copy path both ways. */
static PyObject *py_tensor_roundtrip(PyObject *self, PyObject *arg)
{
    (void)self;
    sc_tensor *t = sc_py_tensor_from_array(arg, SC_F32, "array");
    if (!t)
        return NULL;
    PyObject *out = sc_py_array_from_tensor(t);
    sc_tensor_release(t);
    return out;
}

/* _arena_scopes(n, bytes) -> (peak bytes held, capacity, allocations after a second pass): a
 * fresh arena runs a pass of n scopes that each take `bytes` and release them, is reset, and
 * runs the pass again. */
static PyObject *py_arena_scopes(PyObject *self, PyObject *args)
{
    (void)self;
    int n;
    Py_ssize_t bytes;
    if (!PyArg_ParseTuple(args, "in:_arena_scopes", &n, &bytes))
        return NULL;
    if (n < 0 || bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "_arena_scopes needs n >= 0 and bytes >= 0");
        return NULL;
    }
    sc_arena *a = NULL;
    sc_status s = sc_arena_create(SC_CPU, 0, &a);
    for (int pass = 0; pass < 2 && s == SC_OK; pass++) {
        for (int i = 0; i < n && s == SC_OK; i++) {
            size_t mark = sc_arena_mark(a);
            void *p = NULL;
            s = sc_arena_alloc(a, (size_t)bytes, &p);
            sc_arena_release_to(a, mark);
        }
        if (s == SC_OK)
            s = sc_arena_reset(a);
    }
    PyObject *out = s == SC_OK ? Py_BuildValue("nnn", (Py_ssize_t)sc_arena_peak_bytes(a),
                                               (Py_ssize_t)sc_arena_capacity(a), (Py_ssize_t)sc_arena_alloc_count(a))
                               : sc_py_raise(s);
    sc_arena_destroy(a);
    return out;
}

/* count_nonfinite(a) -> int: NaN/Inf values of a float32 array, counted in place (the
 * pipeline checks every step's latents with it without allocating a mask). */
static PyObject *py_count_nonfinite(PyObject *self, PyObject *arg)
{
    (void)self;
    sc_tensor *t = sc_py_tensor_from_array(arg, SC_F32, "array");
    if (!t)
        return NULL;
    const float *v = t->data;
    const int64_t n = sc_tensor_numel(t);
    long long bad = 0;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for reduction(+ : bad) num_threads(sc_cpu_threads()) if (n >= (1 << 20))
    for (int64_t i = 0; i < n; i++)
        bad += !isfinite(v[i]);
    Py_END_ALLOW_THREADS
    sc_tensor_release(t);
    return PyLong_FromLongLong(bad);
}

static PyObject *py_tensor_buffer_allocations(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromSize_t(sc_tensor_buffer_allocations());
}

static PyMethodDef core_methods[] = {
    {"build_info", py_build_info, METH_NOARGS, "Build and runtime facts (version, CUDA, CPU features, threads)."},
    {"set_num_threads", py_set_num_threads, METH_O, "Set the number of CPU threads the kernels use."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "Number of CPU threads the kernels use."},
    {"set_cpu_math", py_set_cpu_math, METH_O, "The CPU GEMMs' math: 'float32' or 'bfloat16' (AMX)."},
    {"get_cpu_math", py_get_cpu_math, METH_NOARGS, "The CPU GEMMs' math: 'float32' or 'bfloat16'."},
    {"f32_to_bf16_bits", py_f32_to_bf16_bits, METH_O, "float32 array -> uint16 bfloat16 bit patterns (RNE)."},
    {"bf16_bits_to_f32", py_bf16_bits_to_f32, METH_O, "uint16 bfloat16 bit patterns -> float32."},
    {"f32_to_f16_bits", py_f32_to_f16_bits, METH_O, "float32 array -> uint16 float16 bit patterns (RNE)."},
    {"f16_bits_to_f32", py_f16_bits_to_f32, METH_O, "uint16 float16 bit patterns -> float32."},
    {"_tensor_roundtrip", py_tensor_roundtrip, METH_O, "array -> tensor -> array without copying."},
    {"count_nonfinite", py_count_nonfinite, METH_O, "Number of NaN/Inf values in a float32 array (no copy)."},
    {"_tensor_buffer_allocations", py_tensor_buffer_allocations, METH_NOARGS,
     "Tensor data buffers the C library has allocated so far (tests)."},
    {"_arena_scopes", py_arena_scopes, METH_VARARGS,
     "_arena_scopes(n, bytes) -> (peak bytes held, capacity, allocations): an arena test."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_core(PyObject *m)
{
    return PyModule_AddFunctions(m, core_methods);
}
