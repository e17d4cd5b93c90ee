/* Shared pieces of the CPython binding: status -> exception, NumPy <-> sc_tensor.
 * Every py_*.c file includes this first (it pulls in Python.h and the NumPy C API). */
#ifndef SC_PY_COMMON_H
#define SC_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL sc_numpy_api
#ifndef SC_PY_MODULE_MAIN
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "sc_loader.h"
#include "sc_ops.h"
#include "sc_status.h"
#include "sc_tensor.h"

/* Raise the Python exception that matches `s` with the thread's error message; returns NULL. */
PyObject *sc_py_raise(sc_status s);

/* A CPU tensor over a C-contiguous copy (or the array itself, zero-copy, when it already is
 * contiguous with the right dtype) of `obj` converted to `dt` (SC_BF16: `obj` holds the bits,
 * as uint16). The tensor keeps the array
 * alive; release it with sc_tensor_release while holding the GIL. NULL + exception on error. */
sc_tensor *sc_py_tensor_from_array(PyObject *obj, sc_dtype dt, const char *what);

/* A caller's `out=` array: a writeable, aligned, C-contiguous float32 array of shape `shape`
 * (ndim dims). Returns its data, or NULL with TypeError (not such an array) or ValueError (shape,
 * layout). Aliasing rules are the caller's: see sc_py_overlaps. */
float *sc_py_out_f32(PyObject *obj, int ndim, const int64_t *shape);
/* The byte ranges [a, a + a_bytes) and [b, b + b_bytes) overlap. */
int sc_py_overlaps(const void *a, size_t a_bytes, const void *b, size_t b_bytes);

/* A NumPy array sharing the memory of CPU tensor `t` (zero-copy; the array holds a reference). */
PyObject *sc_py_array_from_tensor(sc_tensor *t);

/* The backend computing on `device` ("cpu" or "cuda"): NULL with ValueError for another name,
 * RuntimeError when CUDA is unavailable in this build or on this machine. */
sc_backend *sc_py_backend(const char *device);

/* The storage policy named by a `weights` argument: "auto" (AS_STORED: bf16 checkpoints stay
 * bf16 on the CPU), "float32" (COMPUTE) or "bfloat16" (COMPACT). -1 with ValueError otherwise. */
int sc_py_weight_storage(const char *name, sc_weight_storage *out);

/* Runs `forward(ctx, outs)` on backend `be` and leaves the results in the host tensors
 * host_outs[0..n): on a device backend the outputs are computed into device twins in be's dtype
 * and copied back (converted) afterwards. `caches` (NULL, or n slots owned by the caller, see
 * sc_tensor_for_backend_cached) keeps the twins for the next call. Call without the GIL. */
sc_status sc_py_run_to_host(const sc_backend *be, sc_tensor **host_outs, int n, sc_tensor **caches,
                            sc_status (*forward)(void *ctx, sc_tensor **outs), void *ctx);

/* A tuple of Python ints for a shape; NULL + exception on failure. */
PyObject *sc_py_shape_tuple(int ndim, const int64_t *shape);

/* A NumPy dtype number for an sc dtype (bfloat16 has none: returns -1). */
int sc_py_npy_type(sc_dtype dt);

/* Each binding file registers its functions/types on the module (listed in py_module.c). */
int sc_py_init_core(PyObject *m);
int sc_py_init_ops(PyObject *m);
int sc_py_init_json(PyObject *m);
int sc_py_init_safetensors(PyObject *m);
int sc_py_init_rng(PyObject *m);
int sc_py_init_scheduler(PyObject *m);
int sc_py_init_tokenizer(PyObject *m);
int sc_py_init_gemm(PyObject *m);
int sc_py_init_clip_text(PyObject *m);
int sc_py_init_paella_vq(PyObject *m);
int sc_py_init_unet(PyObject *m);
int sc_py_init_cuda(PyObject *m);

#endif
