/* _C.DDPMWuerstchenScheduler: the C scheduler with array in/out. The Python class
 * stable_cascade_c.DDPMWuerstchenScheduler subclasses it (config files, argument forms). */
#include "py_rng.h"
#include "sc_scheduler.h"

typedef struct {
    PyObject_HEAD
    sc_ddpm_wuerstchen sch;
    float *noise;      /* a step's noise, grow-only, so a denoising loop allocates it once; used
                        * under the RNG lock, which every step holds */
    size_t noise_cap;  /* floats */
} PyScheduler;

static int Scheduler_init(PyScheduler *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"scaler", "s", NULL};
    double scaler = 1.0, s = 0.008;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|dd:DDPMWuerstchenScheduler", kwlist, &scaler, &s))
        return -1;
    sc_py_rng_lock();
    sc_ddpm_wuerstchen_free(&self->sch);
    sc_status st = sc_ddpm_wuerstchen_init(&self->sch, scaler, s);
    sc_py_rng_unlock();
    if (st != SC_OK) {
        sc_py_raise(st);
        return -1;
    }
    return 0;
}

/* Default config even if a subclass never calls __init__. */
static PyObject *Scheduler_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyScheduler *self = (PyScheduler *)PyType_GenericNew(type, args, kwds);
    if (self && sc_ddpm_wuerstchen_init(&self->sch, 1.0, 0.008) != SC_OK) {
        Py_DECREF(self);
        return sc_py_raise(SC_ERR_RUNTIME);
    }
    return (PyObject *)self;
}

static void Scheduler_dealloc(PyScheduler *self)
{
    sc_ddpm_wuerstchen_free(&self->sch);
    PyMem_Free(self->noise);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A new float32 array shaped like `like` (or 1-D of n when like is NULL) and its tensor. */
static PyObject *new_f32_array(const sc_tensor *like, int64_t n, sc_tensor **t)
{
    sc_status s = like ? sc_tensor_empty(SC_CPU, SC_F32, like->ndim, like->shape, t)
                       : sc_tensor_empty(SC_CPU, SC_F32, 1, &n, t);
    if (s != SC_OK)
        return sc_py_raise(s);
    PyObject *arr = sc_py_array_from_tensor(*t);
    if (!arr) {
        sc_tensor_release(*t);
        *t = NULL;
    }
    return arr;
}

static PyObject *Scheduler_set_timesteps(PyScheduler *self, PyObject *arg)
{
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0)
        return PyErr_Format(PyExc_ValueError, "num_inference_steps must be >= 0, got %zd", n);
    sc_py_rng_lock();
    sc_status s = sc_ddpm_wuerstchen_set_timesteps(&self->sch, (size_t)n);
    sc_py_rng_unlock();
    if (s != SC_OK)
        return sc_py_raise(s);
    Py_RETURN_NONE;
}

static PyObject *Scheduler_set_custom_timesteps(PyScheduler *self, PyObject *arg)
{
    sc_tensor *ts = sc_py_tensor_from_array(arg, SC_F32, "timesteps");
    if (!ts)
        return NULL;
    sc_py_rng_lock();
    sc_status s = sc_ddpm_wuerstchen_set_custom_timesteps(&self->sch, ts->data, (size_t)sc_tensor_numel(ts));
    sc_py_rng_unlock();
    sc_tensor_release(ts);
    if (s != SC_OK)
        return sc_py_raise(s);
    Py_RETURN_NONE;
}

static PyObject *Scheduler_timesteps(PyScheduler *self, PyObject *unused)
{
    (void)unused;
    sc_py_rng_lock();
    if (!self->sch.timesteps) {
        sc_py_rng_unlock();
        Py_RETURN_NONE;
    }
    sc_tensor *t = NULL;
    PyObject *arr = new_f32_array(NULL, (int64_t)self->sch.n_timesteps, &t);
    if (arr) {
        memcpy(t->data, self->sch.timesteps, self->sch.n_timesteps * sizeof(float));
        sc_tensor_release(t);
    }
    sc_py_rng_unlock();
    return arr;
}

static PyObject *Scheduler_alpha_cumprod(PyScheduler *self, PyObject *arg)
{
    sc_tensor *t = sc_py_tensor_from_array(arg, SC_F32, "t");
    if (!t)
        return NULL;
    sc_tensor *out = NULL;
    PyObject *arr = new_f32_array(t, 0, &out);
    if (arr) {
        const float *in = t->data;
        float *o = out->data;
        int64_t n = sc_tensor_numel(t);
        sc_py_rng_lock();
        for (int64_t i = 0; i < n; i++)
            o[i] = sc_ddpm_wuerstchen_alpha_cumprod(&self->sch, in[i]);
        sc_py_rng_unlock();
        sc_tensor_release(out);
    }
    sc_tensor_release(t);
    return arr;
}

static PyObject *Scheduler_previous_timestep(PyScheduler *self, PyObject *arg)
{
    double t = PyFloat_AsDouble(arg);
    if (t == -1.0 && PyErr_Occurred())
        return NULL;
    float prev;
    sc_py_rng_lock();
    sc_status s = sc_ddpm_wuerstchen_previous_timestep(&self->sch, (float)t, &prev);
    sc_py_rng_unlock();
    if (s != SC_OK)
        return sc_py_raise(s);
    return PyFloat_FromDouble(prev);
}

/* Shared argument checks of step/add_noise: a (batch, ...) tensor pair and 1 or batch timesteps. */
static int batch_layout(const sc_tensor *a, const sc_tensor *b, const sc_tensor *t, const char *what,
                        size_t *batch, size_t *per_item, size_t *n_t)
{
    sc_status s = sc_check_same_shape(a, b, what);
    if (s != SC_OK) {
        sc_py_raise(s);
        return -1;
    }
    if (a->ndim < 1) {
        PyErr_Format(PyExc_ValueError, "%s: tensors need a batch dimension", what);
        return -1;
    }
    *batch = (size_t)a->shape[0];
    *per_item = 1;
    for (int i = 1; i < a->ndim; i++)
        *per_item *= (size_t)a->shape[i];
    *n_t = (size_t)sc_tensor_numel(t);
    if (*n_t != 1 && *n_t != *batch) {
        PyErr_Format(PyExc_ValueError, "%s: %zu timesteps for a batch of %zu (need 1 or %zu)", what, *n_t, *batch,
                     *batch);
        return -1;
    }
    return 0;
}

/* The caller's `out=` for a step on sample `x` (sc_py_out_f32): x itself, or sharing no memory
 * with x and eps. Its data, or NULL with an exception. */
static float *step_out(PyObject *obj, const sc_tensor *x, const sc_tensor *eps)
{
    float *o = sc_py_out_f32(obj, x->ndim, x->shape);
    if (!o)
        return NULL;
    const size_t bytes = sc_tensor_nbytes(x); /* out has x's shape */
    if ((sc_py_overlaps(o, bytes, x->data, bytes) && (void *)o != x->data) ||
        sc_py_overlaps(o, bytes, eps->data, sc_tensor_nbytes(eps))) {
        PyErr_SetString(PyExc_ValueError, "out must be sample itself or share no memory with sample and model_output");
        return NULL;
    }
    return o;
}

static PyObject *Scheduler_step(PyScheduler *self, PyObject *args)
{
    PyObject *eps_obj, *t_obj, *x_obj, *gen_obj, *out_obj = Py_None;
    if (!PyArg_ParseTuple(args, "OOOO|O:_step", &eps_obj, &t_obj, &x_obj, &gen_obj, &out_obj))
        return NULL;
    PyObject *result = NULL;
    sc_tensor *eps = NULL, *t = NULL, *x = NULL, *out = NULL;
    sc_py_generators gens = {0};
    size_t batch, per_item, n_t;
    eps = sc_py_tensor_from_array(eps_obj, SC_F32, "model_output");
    t = eps ? sc_py_tensor_from_array(t_obj, SC_F32, "timestep") : NULL;
    x = t ? sc_py_tensor_from_array(x_obj, SC_F32, "sample") : NULL;
    if (!x || batch_layout(eps, x, t, "step", &batch, &per_item, &n_t) < 0 ||
        sc_py_generators_parse(gen_obj, &gens) < 0)
        goto done;
    float *out_data;
    PyObject *arr;
    if (out_obj != Py_None) {
        if (!(out_data = step_out(out_obj, x, eps)))
            goto done;
        arr = Py_NewRef(out_obj);
    } else {
        if (!(arr = new_f32_array(x, 0, &out)))
            goto done;
        out_data = out->data;
    }
    const size_t n = batch * per_item;
    sc_status s;
    sc_py_rng_lock(); /* also guards self->noise: another thread may be stepping this scheduler */
    if (n > self->noise_cap) {
        float *grown = PyMem_Realloc(self->noise, n * sizeof(float));
        if (!grown) {
            sc_py_rng_unlock();
            Py_DECREF(arr);
            PyErr_NoMemory();
            goto done;
        }
        self->noise = grown;
        self->noise_cap = n;
    }
    float prev_t;
    /* diffusers finds the previous timestep before it draws: fail without touching the generator */
    s = batch ? sc_ddpm_wuerstchen_previous_timestep(&self->sch, ((const float *)t->data)[0], &prev_t) : SC_OK;
    if (s == SC_OK) {
        Py_BEGIN_ALLOW_THREADS
        s = sc_randn_tensor_f32(gens.gens, gens.n, batch, per_item, self->noise);
        if (s == SC_OK) /* element i of out is written after x[i] and noise[i] are read: out may be x */
            s = sc_ddpm_wuerstchen_step(&self->sch, t->data, n_t, batch, per_item, eps->data, x->data, self->noise,
                                        out_data);
        Py_END_ALLOW_THREADS
    }
    sc_py_rng_unlock();
    if (s != SC_OK) {
        Py_DECREF(arr);
        sc_py_raise(s);
        goto done;
    }
    result = arr;
done:
    sc_py_generators_release(&gens);
    sc_tensor_release(out);
    sc_tensor_release(x);
    sc_tensor_release(t);
    sc_tensor_release(eps);
    return result;
}

static PyObject *Scheduler_add_noise(PyScheduler *self, PyObject *args)
{
    PyObject *x0_obj, *noise_obj, *t_obj;
    if (!PyArg_ParseTuple(args, "OOO:_add_noise", &x0_obj, &noise_obj, &t_obj))
        return NULL;
    PyObject *result = NULL;
    sc_tensor *x0 = NULL, *noise = NULL, *t = NULL, *out = NULL;
    size_t batch, per_item, n_t;
    x0 = sc_py_tensor_from_array(x0_obj, SC_F32, "original_samples");
    noise = x0 ? sc_py_tensor_from_array(noise_obj, SC_F32, "noise") : NULL;
    t = noise ? sc_py_tensor_from_array(t_obj, SC_F32, "timesteps") : NULL;
    if (!t || batch_layout(x0, noise, t, "add_noise", &batch, &per_item, &n_t) < 0)
        goto done;
    PyObject *arr = new_f32_array(x0, 0, &out);
    if (!arr)
        goto done;
    sc_status s;
    sc_py_rng_lock();
    Py_BEGIN_ALLOW_THREADS
    s = sc_ddpm_wuerstchen_add_noise(&self->sch, t->data, n_t, batch, per_item, x0->data, noise->data, out->data);
    Py_END_ALLOW_THREADS
    sc_py_rng_unlock();
    if (s != SC_OK) {
        Py_DECREF(arr);
        sc_py_raise(s);
        goto done;
    }
    result = arr;
done:
    sc_tensor_release(out);
    sc_tensor_release(t);
    sc_tensor_release(noise);
    sc_tensor_release(x0);
    return result;
}

static PyObject *Scheduler_get_scaler(PyScheduler *self, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(self->sch.scaler);
}

static PyObject *Scheduler_get_s(PyScheduler *self, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(self->sch.s);
}

static PyGetSetDef Scheduler_getset[] = {
    {"scaler", (getter)Scheduler_get_scaler, NULL, "config scaler", NULL},
    {"s", (getter)Scheduler_get_s, NULL, "config s as the float32 value used", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Scheduler_methods[] = {
    {"_set_timesteps", (PyCFunction)Scheduler_set_timesteps, METH_O, "linspace(1, 0, n + 1) in float32"},
    {"_set_custom_timesteps", (PyCFunction)Scheduler_set_custom_timesteps, METH_O, "use the given timesteps"},
    {"_timesteps", (PyCFunction)Scheduler_timesteps, METH_NOARGS, "copy of the timesteps, or None"},
    {"_alpha_cumprod", (PyCFunction)Scheduler_alpha_cumprod, METH_O, "alpha_cumprod of a float32 array"},
    {"_previous_timestep", (PyCFunction)Scheduler_previous_timestep, METH_O, "timestep after the nearest one"},
    {"_step", (PyCFunction)Scheduler_step, METH_VARARGS,
     "_step(model_output, t, sample, generator, out=None): `out` may be sample itself (in place)"},
    {"_add_noise", (PyCFunction)Scheduler_add_noise, METH_VARARGS, "_add_noise(x0, noise, t)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SchedulerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.DDPMWuerstchenScheduler",
    .tp_basicsize = sizeof(PyScheduler),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "diffusers' DDPMWuerstchenScheduler in C (float32).",
    .tp_methods = Scheduler_methods,
    .tp_getset = Scheduler_getset,
    .tp_init = (initproc)Scheduler_init,
    .tp_new = Scheduler_new,
    .tp_dealloc = (destructor)Scheduler_dealloc,
};

int sc_py_init_scheduler(PyObject *m)
{
    if (PyType_Ready(&SchedulerType) < 0)
        return -1;
    Py_INCREF(&SchedulerType);
    if (PyModule_AddObject(m, "DDPMWuerstchenScheduler", (PyObject *)&SchedulerType) < 0) {
        Py_DECREF(&SchedulerType);
        return -1;
    }
    return 0;
}
