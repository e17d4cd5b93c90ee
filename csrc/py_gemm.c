/* Test and benchmark entry points of the CPU GEMM: _C._gemm_nt and _C._gemm_kernel. */
#include "py_common.h"

#include "cpu_kernels.h"

/* A 2-D array of `type` (float32, or uint16 holding bfloat16 bits) whose rows are contiguous,
 * as a new reference: the array itself when its row stride is a whole number of elements not
 * shorter than a row (so strided views such as big[:, :k] reach the GEMM as they are), else a
 * C-contiguous copy. *ld gets the row stride in elements. */
static PyArrayObject *as_matrix(PyObject *obj, const char *what, int type, int64_t *ld)
{
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY(obj, type, 2, 2, NPY_ARRAY_ALIGNED);
    if (!arr) {
        if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s must be a 2-D float32 array", what);
        }
        return NULL;
    }
    const npy_intp esize = PyArray_ITEMSIZE(arr);
    npy_intp rows = PyArray_DIM(arr, 0), cols = PyArray_DIM(arr, 1);
    npy_intp s0 = PyArray_STRIDE(arr, 0), s1 = PyArray_STRIDE(arr, 1);
    int cols_ok = cols <= 1 || s1 == esize;
    int rows_ok = rows <= 1 || (s0 % esize == 0 && s0 / esize >= cols);
    if (!cols_ok || !rows_ok) {
        PyArrayObject *copy = (PyArrayObject *)PyArray_NewCopy(arr, NPY_CORDER);
        Py_DECREF(arr);
        if (!copy)
            return NULL;
        arr = copy;
    }
    *ld = rows <= 1 ? (int64_t)cols : (int64_t)(PyArray_STRIDE(arr, 0) / esize);
    return arr;
}

/* Byte range [lo, hi) spanned by a 2-D or 1-D array with non-negative strides (empty: lo == hi). */
static void byte_range(PyArrayObject *a, char **lo, char **hi)
{
    char *p = PyArray_BYTES(a);
    *lo = *hi = p;
    if (PyArray_SIZE(a) == 0)
        return;
    npy_intp end = PyArray_ITEMSIZE(a);
    for (int d = 0; d < PyArray_NDIM(a); d++)
        end += (PyArray_DIM(a, d) - 1) * PyArray_STRIDE(a, d);
    *hi = p + end;
}

static int overlaps(PyArrayObject *a, PyArrayObject *b)
{
    if (!b)
        return 0;
    char *alo, *ahi, *blo, *bhi;
    byte_range(a, &alo, &ahi);
    byte_range(b, &blo, &bhi);
    return sc_py_overlaps(alo, (size_t)(ahi - alo), blo, (size_t)(bhi - blo));
}

static int parse_act(const char *name, sc_act *act)
{
    if (!strcmp(name, "none"))
        *act = SC_ACT_NONE;
    else if (!strcmp(name, "gelu"))
        *act = SC_ACT_GELU;
    else if (!strcmp(name, "silu"))
        *act = SC_ACT_SILU;
    else if (!strcmp(name, "quick_gelu"))
        *act = SC_ACT_QUICK_GELU;
    else {
        PyErr_Format(PyExc_ValueError, "act must be 'none', 'gelu', 'silu' or 'quick_gelu', got '%s'", name);
        return -1;
    }
    return 0;
}

/* `out` given by the caller: float32 [M, N], writeable, rows contiguous, disjoint from the inputs. */
static int check_out(PyObject *obj, npy_intp M, npy_intp N, PyArrayObject *a, PyArrayObject *b,
                     PyArrayObject *bias, int64_t *ldc)
{
    if (!PyArray_Check(obj) || PyArray_TYPE((PyArrayObject *)obj) != NPY_FLOAT32 ||
        PyArray_NDIM((PyArrayObject *)obj) != 2) {
        PyErr_SetString(PyExc_TypeError, "out must be a 2-D float32 numpy array");
        return -1;
    }
    PyArrayObject *out = (PyArrayObject *)obj;
    if (PyArray_DIM(out, 0) != M || PyArray_DIM(out, 1) != N) {
        PyErr_Format(PyExc_ValueError, "out has shape (%zd, %zd), expected (%zd, %zd)", (Py_ssize_t)PyArray_DIM(out, 0),
                     (Py_ssize_t)PyArray_DIM(out, 1), (Py_ssize_t)M, (Py_ssize_t)N);
        return -1;
    }
    npy_intp s0 = PyArray_STRIDE(out, 0), s1 = PyArray_STRIDE(out, 1);
    if (!PyArray_ISWRITEABLE(out) || !PyArray_ISALIGNED(out) || (N > 1 && s1 != (npy_intp)sizeof(float)) ||
        (M > 1 && (s0 % (npy_intp)sizeof(float) != 0 || s0 / (npy_intp)sizeof(float) < N))) {
        PyErr_SetString(PyExc_ValueError,
                        "out must be writeable and aligned, with contiguous rows that do not overlap");
        return -1;
    }
    if (overlaps(out, a) || overlaps(out, b) || overlaps(out, bias)) {
        PyErr_SetString(PyExc_ValueError, "out must not share memory with A, B or bias");
        return -1;
    }
    *ldc = M <= 1 ? (int64_t)N : (int64_t)(s0 / (npy_intp)sizeof(float));
    return 0;
}

static PyObject *py_gemm_nt(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"A", "B", "bias", "act", "alpha", "out", "accumulate", NULL};
    PyObject *a_obj, *b_obj, *bias_obj = Py_None, *out_obj = Py_None, *acc_obj = Py_None;
    const char *act_name = "none";
    double alpha = 1.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OsdOO:_gemm_nt", kwlist, &a_obj, &b_obj, &bias_obj, &act_name,
                                     &alpha, &out_obj, &acc_obj))
        return NULL;
    int accumulate = out_obj != Py_None;
    if (acc_obj != Py_None && (accumulate = PyObject_IsTrue(acc_obj)) < 0)
        return NULL;
    if (accumulate && out_obj == Py_None) {
        PyErr_SetString(PyExc_ValueError, "accumulate=True needs out");
        return NULL;
    }
    sc_epilogue ep = {SC_ACT_NONE, (float)alpha, accumulate};
    if (parse_act(act_name, &ep.act) < 0)
        return NULL;

    PyArrayObject *a = NULL, *b = NULL, *bias = NULL;
    PyObject *out = NULL, *result = NULL;
    int64_t lda, ldb, ldc;
    /* B given as uint16 is taken as bfloat16 bits (the compact weights of the CPU backend) */
    const int b_bf16 = PyArray_Check(b_obj) && PyArray_TYPE((PyArrayObject *)b_obj) == NPY_UINT16;
    if (!(a = as_matrix(a_obj, "A", NPY_FLOAT32, &lda)) ||
        !(b = as_matrix(b_obj, "B", b_bf16 ? NPY_UINT16 : NPY_FLOAT32, &ldb)))
        goto done;
    npy_intp M = PyArray_DIM(a, 0), K = PyArray_DIM(a, 1), N = PyArray_DIM(b, 0);
    if (PyArray_DIM(b, 1) != K) {
        PyErr_Format(PyExc_ValueError, "A is (%zd, %zd) but B is (%zd, %zd): both need K columns", (Py_ssize_t)M,
                     (Py_ssize_t)K, (Py_ssize_t)N, (Py_ssize_t)PyArray_DIM(b, 1));
        goto done;
    }
    if (bias_obj != Py_None) {
        bias = (PyArrayObject *)PyArray_FROMANY(bias_obj, NPY_FLOAT32, 1, 1,
                                                NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
        if (!bias)
            goto done;
        if (PyArray_DIM(bias, 0) != N) {
            PyErr_Format(PyExc_ValueError, "bias has %zd entries, expected N = %zd", (Py_ssize_t)PyArray_DIM(bias, 0),
                         (Py_ssize_t)N);
            goto done;
        }
    }
    if (out_obj != Py_None) {
        if (check_out(out_obj, M, N, a, b, bias, &ldc) < 0)
            goto done;
        out = out_obj;
        Py_INCREF(out);
    } else {
        npy_intp dims[2] = {M, N};
        if (!(out = PyArray_SimpleNew(2, dims, NPY_FLOAT32)))
            goto done;
        ldc = N;
    }

    sc_status s;
    const float *bias_data = bias ? (const float *)PyArray_DATA(bias) : NULL;
    Py_BEGIN_ALLOW_THREADS
    s = sc_cpu_gemm_nt(M, N, K, PyArray_DATA(a), lda, PyArray_DATA(b), b_bf16 ? SC_BF16 : SC_F32, ldb,
                       PyArray_DATA((PyArrayObject *)out), ldc, bias_data, ep);
    Py_END_ALLOW_THREADS
    if (s != SC_OK) {
        sc_py_raise(s);
        goto done;
    }
    result = out;
    out = NULL;
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(bias);
    Py_XDECREF(out);
    return result;
}

static PyObject *py_gemm_kernel(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "|z:_gemm_kernel", &name))
        return NULL;
    if (name) {
        sc_status s = sc_cpu_gemm_set_kernel(name);
        if (s != SC_OK)
            return sc_py_raise(s);
    }
    return PyUnicode_FromString(sc_cpu_gemm_kernel());
}

static PyMethodDef gemm_methods[] = {
    {"_gemm_nt", (PyCFunction)(void (*)(void))py_gemm_nt, METH_VARARGS | METH_KEYWORDS,
     "_gemm_nt(A, B, bias=None, act='none', alpha=1.0, out=None, accumulate=None) -> out\n\n"
     "float32 C = alpha * act(A @ B.T + bias), A [M,K], B [N,K]. With `out` given the result is\n"
     "added into it (C = out + ...), or written over it with accumulate=False. Rows may be\n"
     "strided. B may be uint16 holding bfloat16 bits (widened while packed). Runs the CPU GEMM\n"
     "without the GIL."},
    {"_gemm_kernel", py_gemm_kernel, METH_VARARGS,
     "_gemm_kernel(name=None) -> str\n\nThe GEMM microkernel in use; with a name ('auto', 'scalar', "
     "'avx2', 'avx512') switch to it first (ValueError if this CPU lacks it)."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_gemm(PyObject *m)
{
    return PyModule_AddFunctions(m, gemm_methods);
}
