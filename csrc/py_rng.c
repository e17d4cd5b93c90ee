/* _C.Generator (torch CPU generator semantics) and _C.randn_tensor. The Python class
 * stable_cascade_c.Generator subclasses the type and adds shape handling. */
#include "py_rng.h"

#include <pythread.h>

typedef struct {
    PyObject_HEAD
    sc_generator gen;
} PyGenerator;

static PyThread_type_lock g_rng_lock;

void sc_py_rng_lock(void)
{
    if (!PyThread_acquire_lock(g_rng_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(g_rng_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

void sc_py_rng_unlock(void)
{
    PyThread_release_lock(g_rng_lock);
}

/* torch accepts seeds in [-2**63, 2**64 - 1] and keeps negative ones as their two's complement. */
static int parse_seed(PyObject *obj, uint64_t *seed)
{
    PyObject *idx = PyNumber_Index(obj);
    if (!idx)
        return -1;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    if (overflow > 0)
        *seed = (uint64_t)PyLong_AsUnsignedLongLong(idx);
    else
        *seed = (uint64_t)v;
    Py_DECREF(idx);
    if (overflow < 0 || PyErr_Occurred()) {
        if (overflow < 0 || PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "seed must be an integer in [-2**63, 2**64 - 1]");
        }
        return -1;
    }
    return 0;
}

/* A generator is always seeded, even if a subclass never calls __init__. */
static PyObject *Generator_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyGenerator *self = (PyGenerator *)PyType_GenericNew(type, args, kwds);
    if (self)
        sc_generator_manual_seed(&self->gen, SC_TORCH_DEFAULT_SEED);
    return (PyObject *)self;
}

static int Generator_init(PyGenerator *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"seed", NULL};
    PyObject *seed_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Generator", kwlist, &seed_obj))
        return -1;
    uint64_t seed = SC_TORCH_DEFAULT_SEED;
    if (seed_obj && parse_seed(seed_obj, &seed) < 0)
        return -1;
    sc_py_rng_lock();
    sc_generator_manual_seed(&self->gen, seed);
    sc_py_rng_unlock();
    return 0;
}

static PyObject *Generator_manual_seed(PyGenerator *self, PyObject *seed_obj)
{
    uint64_t seed;
    if (parse_seed(seed_obj, &seed) < 0)
        return NULL;
    sc_py_rng_lock();
    sc_generator_manual_seed(&self->gen, seed);
    sc_py_rng_unlock();
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *Generator_initial_seed(PyGenerator *self, PyObject *unused)
{
    (void)unused;
    sc_py_rng_lock();
    uint64_t seed = self->gen.initial_seed;
    sc_py_rng_unlock();
    return PyLong_FromUnsignedLongLong(seed);
}

static PyObject *Generator_get_state(PyGenerator *self, PyObject *unused)
{
    (void)unused;
    PyObject *out = PyBytes_FromStringAndSize(NULL, SC_GENERATOR_STATE_BYTES);
    if (!out)
        return NULL;
    sc_py_rng_lock();
    sc_generator_get_state(&self->gen, (uint8_t *)PyBytes_AS_STRING(out));
    sc_py_rng_unlock();
    return out;
}

static PyObject *Generator_set_state(PyGenerator *self, PyObject *state)
{
    Py_buffer view;
    if (PyObject_GetBuffer(state, &view, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    sc_py_rng_lock();
    sc_status s = sc_generator_set_state(&self->gen, view.buf, (size_t)view.len);
    sc_py_rng_unlock();
    PyBuffer_Release(&view);
    if (s != SC_OK)
        return sc_py_raise(s);
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *new_f32_vector(size_t n, float **data)
{
    npy_intp dims[1] = {(npy_intp)n};
    if (n > (size_t)NPY_MAX_INTP / sizeof(float))
        return PyErr_Format(PyExc_ValueError, "%zu values is too many", n);
    PyObject *arr = PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (arr)
        *data = (float *)PyArray_DATA((PyArrayObject *)arr);
    return arr;
}

static PyTypeObject GeneratorType;

int sc_py_generators_parse(PyObject *obj, sc_py_generators *out)
{
    memset(out, 0, sizeof *out);
    if (PyObject_TypeCheck(obj, &GeneratorType)) {
        out->single = &((PyGenerator *)obj)->gen;
        out->gens = &out->single;
        out->n = 1;
        Py_INCREF(obj);
        out->keep = obj;
        return 0;
    }
    PyObject *seq = PySequence_Fast(obj, "generator must be a Generator or a sequence of Generators");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    sc_generator **gens = PyMem_Calloc(n ? (size_t)n : 1, sizeof *gens);
    if (!gens) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(item, &GeneratorType)) {
            PyErr_Format(PyExc_TypeError, "generator list item %zd is %.100s, not a Generator", i,
                         Py_TYPE(item)->tp_name);
            PyMem_Free(gens);
            Py_DECREF(seq);
            return -1;
        }
        gens[i] = &((PyGenerator *)item)->gen;
    }
    out->gens = gens;
    out->n = (size_t)n;
    out->keep = seq;
    return 0;
}

void sc_py_generators_release(sc_py_generators *g)
{
    if (g->gens && g->gens != &g->single)
        PyMem_Free(g->gens);
    Py_CLEAR(g->keep);
    g->gens = NULL;
    g->n = 0;
}

static PyObject *Generator_randn(PyGenerator *self, PyObject *arg)
{
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0)
        return PyErr_Format(PyExc_ValueError, "randn: the number of values must be >= 0, got %zd", n);
    float *data = NULL;
    PyObject *arr = new_f32_vector((size_t)n, &data);
    if (!arr)
        return NULL;
    sc_py_rng_lock();
    Py_BEGIN_ALLOW_THREADS
    sc_randn_f32(&self->gen, data, (size_t)n);
    Py_END_ALLOW_THREADS
    sc_py_rng_unlock();
    return arr;
}

/* randn_tensor(generator, batch, per_item) -> flat float32 array of batch*per_item values */
static PyObject *py_randn_tensor(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *gen_obj;
    Py_ssize_t batch, per_item;
    if (!PyArg_ParseTuple(args, "Onn:randn_tensor", &gen_obj, &batch, &per_item))
        return NULL;
    if (batch < 0 || per_item < 0)
        return PyErr_Format(PyExc_ValueError, "randn_tensor: sizes must be >= 0");
    if (per_item != 0 && batch > PY_SSIZE_T_MAX / per_item)
        return PyErr_Format(PyExc_ValueError, "randn_tensor: %zd x %zd values is too many", batch, per_item);
    sc_py_generators gens;
    if (sc_py_generators_parse(gen_obj, &gens) < 0)
        return NULL;
    float *data = NULL;
    PyObject *arr = new_f32_vector((size_t)batch * (size_t)per_item, &data);
    if (!arr) {
        sc_py_generators_release(&gens);
        return NULL;
    }
    sc_status s;
    sc_py_rng_lock();
    Py_BEGIN_ALLOW_THREADS
    s = sc_randn_tensor_f32(gens.gens, gens.n, (size_t)batch, (size_t)per_item, data);
    Py_END_ALLOW_THREADS
    sc_py_rng_unlock();
    sc_py_generators_release(&gens);
    if (s != SC_OK) {
        Py_DECREF(arr);
        return sc_py_raise(s);
    }
    return arr;
}

static PyMethodDef Generator_methods[] = {
    {"manual_seed", (PyCFunction)Generator_manual_seed, METH_O,
     "manual_seed(seed) -> self: reseed as torch does (MT19937 from the low 32 bits; clears cached normals)."},
    {"initial_seed", (PyCFunction)Generator_initial_seed, METH_NOARGS, "The seed last given (as uint64)."},
    {"get_state", (PyCFunction)Generator_get_state, METH_NOARGS,
     "The generator state as bytes, in torch's CPU generator layout (5056 bytes)."},
    {"set_state", (PyCFunction)Generator_set_state, METH_O,
     "set_state(state) -> self: restore bytes from get_state() (ours or torch's)."},
    {"_randn", (PyCFunction)Generator_randn, METH_O, "_randn(n) -> float32 array of n standard normals."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GeneratorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.Generator",
    .tp_basicsize = sizeof(PyGenerator),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Random generator with torch.Generator('cpu') semantics.",
    .tp_methods = Generator_methods,
    .tp_init = (initproc)Generator_init,
    .tp_new = Generator_new,
};

static PyMethodDef rng_functions[] = {
    {"randn_tensor", py_randn_tensor, METH_VARARGS,
     "randn_tensor(generator, batch, per_item) -> flat float32 array (diffusers' randn_tensor)."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_rng(PyObject *m)
{
    g_rng_lock = PyThread_allocate_lock();
    if (!g_rng_lock) {
        PyErr_NoMemory();
        return -1;
    }
    if (PyType_Ready(&GeneratorType) < 0)
        return -1;
    Py_INCREF(&GeneratorType);
    if (PyModule_AddObject(m, "Generator", (PyObject *)&GeneratorType) < 0) {
        Py_DECREF(&GeneratorType);
        return -1;
    }
    PyObject *seed = PyLong_FromUnsignedLongLong(SC_TORCH_DEFAULT_SEED);
    if (!seed || PyModule_AddObject(m, "TORCH_DEFAULT_SEED", seed) < 0) {
        Py_XDECREF(seed);
        return -1;
    }
    return PyModule_AddFunctions(m, rng_functions);
}
