/* Test bindings for the CPU op table: `_C.op_<name>(...)` for every op in sc_ops.h.
 *
 * Table-driven: each op is described by its parameters (tensors, scalars, strings), a function
 * giving the output shape from the inputs, and a one-line call into the backend. One generic
 * entry point parses arguments by that description, allocates the output (or uses `out=`, a
 * writable C-contiguous float32 array, which is also how in-place and accumulate are tested),
 * runs the op with the GIL released and returns the output array. Dense weights (w of linear and
 * the convolutions, the embedding table) may also be uint16 arrays of bfloat16 bits: the CPU
 * backend's compact weights. Shape functions never fail:
 * they compute a best-effort shape and leave argument validation to the op itself.
 * device="cuda" runs the same op on the CUDA backend: the arrays are mirrored on the GPU in its
 * dtype (bfloat16; int64 stays int64), and the output comes back as float32. An `out=` that is
 * also an input stays the same tensor there, so in-place use is tested on the GPU too.
 * repeat=n (benchmarks) runs the op n times on the same arguments and returns (output, seconds
 * per call), the device's queued work included. */
#include "py_common.h"

#include <time.h>

#include "cpu_kernels.h"
#include "sc_cuda_backend.h"

typedef enum {
    P_TENSOR,     /* float32 array */
    P_TENSOR_OPT, /* float32 array or None */
    P_WEIGHT,     /* float32 array, or uint16 array of bfloat16 bits (a compact dense weight) */
    P_IDS,        /* int64 array */
    P_IDS_OPT,    /* int64 array or None */
    P_INOUT,      /* writable float32 array updated in place and returned */
    P_INT,
    P_FLOAT,
    P_BOOL,
    P_ACT,  /* "none" | "gelu" | "silu" | "quick_gelu" */
    P_PAD,  /* "zeros" | "replicate" */
    P_SIZE, /* (h, w): two scalar slots */
} param_kind;

typedef struct {
    const char *name;
    param_kind kind;
    int required; /* scalars only: tensors are required unless *_OPT */
    double def;
} param_spec;

#define MAX_PARAMS 10
#define MAX_TENSORS 5
#define MAX_SCALARS 6

typedef struct {
    sc_tensor *t[MAX_TENSORS]; /* in parameter order; NULL for an absent optional */
    double s[MAX_SCALARS];     /* in parameter order */
    sc_device device;          /* device= keyword: where the op runs */
    int repeat;                /* repeat= keyword: calls to time, 0 when not timing */
} op_args;

typedef struct {
    const char *name;
    const char *doc;
    param_spec params[MAX_PARAMS]; /* ends at name == NULL */
    int epilogue_slot;             /* scalar slot of act (then alpha, accumulate), or -1 */
    void (*shape)(const op_args *a, int *ndim, int64_t *shape); /* NULL for in/out ops */
    sc_status (*call)(sc_backend *be, sc_tensor *out, const op_args *a);
} op_def;

#define AT(i) (a->t[i])
#define AS(i) (a->s[i])
#define AI(i) ((int)a->s[i])

static sc_epilogue epilogue(const op_args *a, int slot)
{
    sc_epilogue ep = {(sc_act)AI(slot), (float)AS(slot + 1), AI(slot + 2)};
    return ep;
}

static int64_t dim(const sc_tensor *t, int i) { return t && i >= 0 && i < t->ndim ? t->shape[i] : 0; }
static int64_t pos(int64_t v) { return v > 1 ? v : 1; }

static void same_shape(const sc_tensor *t, int *nd, int64_t *s)
{
    *nd = t->ndim;
    memcpy(s, t->shape, sizeof t->shape);
}

/* ---- shapes ---- */

static void shape_first(const op_args *a, int *nd, int64_t *s) { same_shape(AT(0), nd, s); }

static void shape_linear(const op_args *a, int *nd, int64_t *s)
{
    same_shape(AT(0), nd, s);
    if (*nd > 0)
        s[*nd - 1] = dim(AT(1), 0);
}

static void shape_conv2d(const op_args *a, int *nd, int64_t *s)
{
    const int64_t st = pos(AI(0)), p = AI(1);
    *nd = 4;
    s[0] = dim(AT(0), 0);
    s[1] = (dim(AT(0), 1) + 2 * p - dim(AT(1), 1)) / st + 1;
    s[2] = (dim(AT(0), 2) + 2 * p - dim(AT(1), 2)) / st + 1;
    s[3] = dim(AT(1), 0);
}

static void shape_conv_transpose2d(const op_args *a, int *nd, int64_t *s)
{
    const int64_t st = AI(0), p = AI(1);
    *nd = 4;
    s[0] = dim(AT(0), 0);
    s[1] = (dim(AT(0), 1) - 1) * st - 2 * p + dim(AT(1), 0);
    s[2] = (dim(AT(0), 2) - 1) * st - 2 * p + dim(AT(1), 1);
    s[3] = dim(AT(1), 2);
}

static void shape_resize(const op_args *a, int *nd, int64_t *s)
{
    *nd = 4;
    s[0] = dim(AT(0), 0);
    s[1] = (int64_t)AS(0);
    s[2] = (int64_t)AS(1);
    s[3] = dim(AT(0), 3);
}

static void shape_unshuffle(const op_args *a, int *nd, int64_t *s)
{
    const int64_t r = pos(AI(0));
    *nd = 4;
    s[0] = dim(AT(0), 0);
    s[1] = dim(AT(0), 1) / r;
    s[2] = dim(AT(0), 2) / r;
    s[3] = dim(AT(0), 3) * r * r;
}

static void shape_shuffle(const op_args *a, int *nd, int64_t *s)
{
    const int64_t r = pos(AI(0));
    *nd = 4;
    s[0] = dim(AT(0), 0);
    s[1] = dim(AT(0), 1) * r;
    s[2] = dim(AT(0), 2) * r;
    s[3] = dim(AT(0), 3) / (r * r);
}

static void shape_concat(const op_args *a, int *nd, int64_t *s)
{
    same_shape(AT(0), nd, s);
    const int axis = AI(0) < 0 ? AI(0) + *nd : AI(0);
    if (axis >= 0 && axis < *nd)
        s[axis] += dim(AT(1), axis);
}

static void shape_to_nhwc(const op_args *a, int *nd, int64_t *s)
{
    *nd = 4;
    const int64_t b = dim(AT(0), 0), c = dim(AT(0), 1), h = dim(AT(0), 2), w = dim(AT(0), 3);
    s[0] = b, s[1] = h, s[2] = w, s[3] = c;
}

static void shape_to_nchw(const op_args *a, int *nd, int64_t *s)
{
    *nd = 4;
    const int64_t b = dim(AT(0), 0), h = dim(AT(0), 1), w = dim(AT(0), 2), c = dim(AT(0), 3);
    s[0] = b, s[1] = c, s[2] = h, s[3] = w;
}

static void shape_embedding(const op_args *a, int *nd, int64_t *s)
{
    *nd = 3;
    s[0] = dim(AT(1), 0);
    s[1] = dim(AT(1), 1);
    s[2] = dim(AT(0), 1);
}

/* ---- calls ---- */

static sc_status call_linear(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->linear(be, o, AT(0), AT(1), AT(2), epilogue(a, 0));
}
static sc_status call_conv2d(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->conv2d(be, o, AT(0), AT(1), AT(2), AI(0), AI(1), epilogue(a, 2));
}
static sc_status call_conv_transpose2d(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->conv_transpose2d(be, o, AT(0), AT(1), AT(2), AI(0), AI(1), epilogue(a, 2));
}
static sc_status call_depthwise3x3(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->depthwise3x3(be, o, AT(0), AT(1), AT(2), (sc_pad_mode)AI(0), epilogue(a, 1));
}
static sc_status call_layernorm(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->layernorm(be, o, AT(0), AT(1), AT(2), (float)AS(0));
}
static sc_status call_layernorm_scalar_affine(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->layernorm_scalar_affine(be, o, AT(0), (float)AS(0), (float)AS(1), (float)AS(2));
}
static sc_status call_grn(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->grn(be, o, AT(0), AT(1), AT(2), (float)AS(0));
}
static sc_status call_activation(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->activation(be, o, AT(0), (sc_act)AI(0));
}
static sc_status call_add(sc_backend *be, sc_tensor *o, const op_args *a) { return be->add(be, o, AT(0), AT(1)); }
static sc_status call_mul(sc_backend *be, sc_tensor *o, const op_args *a) { return be->mul(be, o, AT(0), AT(1)); }
static sc_status call_lerp(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->lerp(be, o, AT(0), AT(1), (float)AS(0));
}
static sc_status call_scale_shift(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->scale_shift(be, o, AT(0), AT(1), AT(2));
}
static sc_status call_add_channel_vector(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->add_channel_vector(be, o, AT(1));
}
static sc_status call_attention(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->attention(be, o, AT(0), AT(1), AT(2), AI(0), (float)AS(1), AI(2), AT(3));
}
static sc_status call_resize_bilinear(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->resize_bilinear(be, o, AT(0));
}
static sc_status call_pixel_unshuffle(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->pixel_unshuffle(be, o, AT(0), AI(0));
}
static sc_status call_pixel_shuffle(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->pixel_shuffle(be, o, AT(0), AI(0));
}
static sc_status call_concat(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->concat(be, o, AT(0), AT(1), AI(0));
}
static sc_status call_nchw_to_nhwc(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->nchw_to_nhwc(be, o, AT(0));
}
static sc_status call_nhwc_to_nchw(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->nhwc_to_nchw(be, o, AT(0));
}
static sc_status call_embedding(sc_backend *be, sc_tensor *o, const op_args *a)
{
    return be->embedding(be, o, AT(0), AT(1));
}

/* ---- the table ---- */

#define REQ(n, k) {n, k, 1, 0}
#define OPT(n, k, d) {n, k, 0, d}
#define EPILOGUE_PARAMS OPT("act", P_ACT, SC_ACT_NONE), OPT("alpha", P_FLOAT, 1), OPT("accumulate", P_BOOL, 0)
#define EPILOGUE_DOC                                                                                           \
    " act ('none'|'gelu'|'silu'|'quick_gelu'), alpha and accumulate give the epilogue "                        \
    "out = (accumulate ? out : 0) + alpha * act(op + bias); accumulate needs out=."

static const op_def ops[] = {
    {"op_linear", "op_linear(x, w, bias=None, act='none', alpha=1.0, accumulate=False, out=None)\n--\n\n"
                  "x [..., K] @ w[N, K]^T + bias." EPILOGUE_DOC,
     {REQ("x", P_TENSOR), REQ("w", P_WEIGHT), OPT("bias", P_TENSOR_OPT, 0), EPILOGUE_PARAMS}, 0, shape_linear,
     call_linear},
    {"op_conv2d", "op_conv2d(x, w, bias=None, stride=1, pad=0, act='none', alpha=1.0, accumulate=False, "
                  "out=None)\n--\n\nx [B,H,W,Ci], w [Co,kh,kw,Ci] -> [B,Ho,Wo,Co], zero padding." EPILOGUE_DOC,
     {REQ("x", P_TENSOR), REQ("w", P_WEIGHT), OPT("bias", P_TENSOR_OPT, 0), OPT("stride", P_INT, 1),
      OPT("pad", P_INT, 0), EPILOGUE_PARAMS},
     2, shape_conv2d, call_conv2d},
    {"op_conv_transpose2d",
     "op_conv_transpose2d(x, w, bias=None, stride=1, pad=0, act='none', alpha=1.0, accumulate=False, "
     "out=None)\n--\n\nx [B,H,W,Ci], w [kh,kw,Co,Ci] -> [B,(H-1)s-2p+kh,(W-1)s-2p+kw,Co]." EPILOGUE_DOC,
     {REQ("x", P_TENSOR), REQ("w", P_WEIGHT), OPT("bias", P_TENSOR_OPT, 0), OPT("stride", P_INT, 1),
      OPT("pad", P_INT, 0), EPILOGUE_PARAMS},
     2, shape_conv_transpose2d, call_conv_transpose2d},
    {"op_depthwise3x3", "op_depthwise3x3(x, w, bias=None, pad_mode='zeros', act='none', alpha=1.0, "
                        "accumulate=False, out=None)\n--\n\nx [B,H,W,C], w [3,3,C]; pad_mode 'zeros' or "
                        "'replicate'." EPILOGUE_DOC,
     {REQ("x", P_TENSOR), REQ("w", P_TENSOR), OPT("bias", P_TENSOR_OPT, 0), OPT("pad_mode", P_PAD, SC_PAD_ZERO),
      EPILOGUE_PARAMS},
     1, shape_first, call_depthwise3x3},
    {"op_layernorm", "op_layernorm(x, gamma=None, beta=None, eps=1e-6, out=None)\n--\n\nLayerNorm over the last dim.",
     {REQ("x", P_TENSOR), OPT("gamma", P_TENSOR_OPT, 0), OPT("beta", P_TENSOR_OPT, 0), OPT("eps", P_FLOAT, 1e-6)},
     -1, shape_first, call_layernorm},
    {"op_layernorm_scalar_affine",
     "op_layernorm_scalar_affine(x, g, b, eps=1e-6, out=None)\n--\n\nLN(x) * (1 + g) + b over the last dim.",
     {REQ("x", P_TENSOR), REQ("g", P_FLOAT), REQ("b", P_FLOAT), OPT("eps", P_FLOAT, 1e-6)}, -1, shape_first,
     call_layernorm_scalar_affine},
    {"op_grn", "op_grn(x, gamma, beta, eps=1e-6, out=None)\n--\n\nGlobalResponseNorm on x [B,H,W,C].",
     {REQ("x", P_TENSOR), REQ("gamma", P_TENSOR), REQ("beta", P_TENSOR), OPT("eps", P_FLOAT, 1e-6)}, -1,
     shape_first, call_grn},
    {"op_activation", "op_activation(x, act, out=None)\n--\n\nact: 'none', 'gelu' (exact), 'silu' or 'quick_gelu'.",
     {REQ("x", P_TENSOR), REQ("act", P_ACT)}, -1, shape_first, call_activation},
    {"op_add", "op_add(a, b, out=None)\n--\n\na + b (same shapes).", {REQ("a", P_TENSOR), REQ("b", P_TENSOR)}, -1,
     shape_first, call_add},
    {"op_mul", "op_mul(a, b, out=None)\n--\n\na * b (same shapes).", {REQ("a", P_TENSOR), REQ("b", P_TENSOR)}, -1,
     shape_first, call_mul},
    {"op_lerp", "op_lerp(a, b, w, out=None)\n--\n\ntorch.lerp(a, b, w).",
     {REQ("a", P_TENSOR), REQ("b", P_TENSOR), REQ("w", P_FLOAT)}, -1, shape_first, call_lerp},
    {"op_scale_shift", "op_scale_shift(x, a, b, out=None)\n--\n\nx [B,...,C] * (1 + a[B,C]) + b[B,C].",
     {REQ("x", P_TENSOR), REQ("a", P_TENSOR), REQ("b", P_TENSOR)}, -1, shape_first, call_scale_shift},
    {"op_add_channel_vector", "op_add_channel_vector(out, v)\n--\n\nout[..., C] += v[C] in place; returns out.",
     {REQ("out", P_INOUT), REQ("v", P_TENSOR)}, -1, NULL, call_add_channel_vector},
    {"op_attention", "op_attention(q, k, v, heads, scale, causal=False, key_mask=None, out=None)\n--\n\n"
                     "softmax(q k^T scale) v per head; key_mask int64 [B,Tk], 0 = masked.",
     {REQ("q", P_TENSOR), REQ("k", P_TENSOR), REQ("v", P_TENSOR), REQ("heads", P_INT), REQ("scale", P_FLOAT),
      OPT("causal", P_BOOL, 0), OPT("key_mask", P_IDS_OPT, 0)},
     -1, shape_first, call_attention},
    {"op_resize_bilinear", "op_resize_bilinear(x, size, out=None)\n--\n\nx [B,H,W,C] -> [B,size[0],size[1],C], "
                           "bilinear, align_corners=True.",
     {REQ("x", P_TENSOR), REQ("size", P_SIZE)}, -1, shape_resize, call_resize_bilinear},
    {"op_pixel_unshuffle", "op_pixel_unshuffle(x, r, out=None)\n--\n\n[B,H,W,C] -> [B,H/r,W/r,C*r*r].",
     {REQ("x", P_TENSOR), REQ("r", P_INT)}, -1, shape_unshuffle, call_pixel_unshuffle},
    {"op_pixel_shuffle", "op_pixel_shuffle(x, r, out=None)\n--\n\n[B,h,w,C*r*r] -> [B,h*r,w*r,C].",
     {REQ("x", P_TENSOR), REQ("r", P_INT)}, -1, shape_shuffle, call_pixel_shuffle},
    {"op_concat", "op_concat(a, b, axis, out=None)\n--\n\nConcatenate along axis.",
     {REQ("a", P_TENSOR), REQ("b", P_TENSOR), REQ("axis", P_INT)}, -1, shape_concat, call_concat},
    {"op_nchw_to_nhwc", "op_nchw_to_nhwc(x, out=None)\n--\n\n[B,C,H,W] -> [B,H,W,C].", {REQ("x", P_TENSOR)}, -1,
     shape_to_nhwc, call_nchw_to_nhwc},
    {"op_nhwc_to_nchw", "op_nhwc_to_nchw(x, out=None)\n--\n\n[B,H,W,C] -> [B,C,H,W].", {REQ("x", P_TENSOR)}, -1,
     shape_to_nchw, call_nhwc_to_nchw},
    {"op_embedding", "op_embedding(table, ids, out=None)\n--\n\ntable [V,C], ids int64 [B,T] -> [B,T,C].",
     {REQ("table", P_WEIGHT), REQ("ids", P_IDS)}, -1, shape_embedding, call_embedding},
};
#define N_OPS (sizeof ops / sizeof ops[0])

/* ---- the generic entry point ---- */

static int parse_choice(PyObject *v, const char *what, const char *const *names, double *dst)
{
    const char *s = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    if (!s) {
        PyErr_Format(PyExc_TypeError, "%s must be a string", what);
        return -1;
    }
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) {
            *dst = i;
            return 0;
        }
    PyErr_Format(PyExc_ValueError, "unknown %s '%s'", what, s);
    return -1;
}

/* A writable, aligned, C-contiguous float32 array wrapped without copying (the caller keeps
 * the array alive for the tensor's lifetime). */
static sc_tensor *wrap_out_array(PyObject *obj, const char *what)
{
    if (!PyArray_Check(obj) || PyArray_TYPE((PyArrayObject *)obj) != NPY_FLOAT32 ||
        !PyArray_ISCARRAY((PyArrayObject *)obj) || PyArray_NDIM((PyArrayObject *)obj) > SC_MAX_DIMS) {
        PyErr_Format(PyExc_TypeError, "%s must be a writable C-contiguous float32 array", what);
        return NULL;
    }
    PyArrayObject *arr = (PyArrayObject *)obj;
    int64_t shape[SC_MAX_DIMS];
    for (int i = 0; i < PyArray_NDIM(arr); i++)
        shape[i] = PyArray_DIM(arr, i);
    sc_tensor *t = NULL;
    sc_status s = sc_tensor_wrap(SC_CPU, SC_F32, PyArray_NDIM(arr), shape, PyArray_DATA(arr), NULL, NULL, &t);
    if (s != SC_OK)
        sc_py_raise(s);
    return t;
}

/* Fill `a` from the Python arguments; returns the out= object (borrowed, may be NULL) via *out_obj. */
static int parse_args(const op_def *op, PyObject *args, PyObject *kwargs, op_args *a, PyObject **out_obj)
{
    static const char *const acts[] = {"none", "gelu", "silu", "quick_gelu", NULL}; /* sc_act order */
    static const char *const pads[] = {"zeros", "replicate", NULL};
    const Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    Py_ssize_t used_kw = 0, i = 0;
    int nt = 0, ns = 0;
    *out_obj = NULL;
    for (const param_spec *p = op->params; p->name; p++, i++) {
        PyObject *v = i < nargs ? PyTuple_GET_ITEM(args, i) : NULL;
        PyObject *kw = kwargs ? PyDict_GetItemString(kwargs, p->name) : NULL;
        if (v && kw) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for '%s'", op->name, p->name);
            return -1;
        }
        used_kw += kw != NULL;
        v = v ? v : kw;
        const int is_tensor = p->kind <= P_INOUT;
        if (v == Py_None && (p->kind == P_TENSOR_OPT || p->kind == P_IDS_OPT))
            v = NULL;
        if (!v && (p->required || p->kind == P_TENSOR || p->kind == P_WEIGHT || p->kind == P_IDS ||
                   p->kind == P_INOUT)) {
            PyErr_Format(PyExc_TypeError, "%s() missing argument '%s'", op->name, p->name);
            return -1;
        }
        if (is_tensor) {
            if (v && p->kind == P_INOUT) {
                a->t[nt] = wrap_out_array(v, p->name);
                *out_obj = v;
            } else if (v) {
                const int ids = p->kind == P_IDS || p->kind == P_IDS_OPT;
                const int bits = p->kind == P_WEIGHT && PyArray_Check(v) &&
                                 PyArray_TYPE((PyArrayObject *)v) == NPY_UINT16;
                a->t[nt] = sc_py_tensor_from_array(v, ids ? SC_I64 : bits ? SC_BF16 : SC_F32, p->name);
            }
            if (v && !a->t[nt])
                return -1;
            nt++;
            continue;
        }
        double *dst = &a->s[ns];
        ns += p->kind == P_SIZE ? 2 : 1;
        if (!v) {
            *dst = p->def;
            continue;
        }
        switch (p->kind) {
        case P_INT: {
            long x = PyLong_AsLong(v);
            if (x == -1 && PyErr_Occurred())
                return -1;
            if (x < -(1L << 30) || x > (1L << 30)) {
                PyErr_Format(PyExc_ValueError, "%s is out of range", p->name);
                return -1;
            }
            *dst = (double)x;
            break;
        }
        case P_FLOAT:
            *dst = PyFloat_AsDouble(v);
            if (*dst == -1.0 && PyErr_Occurred())
                return -1;
            break;
        case P_BOOL: {
            int b = PyObject_IsTrue(v);
            if (b < 0)
                return -1;
            *dst = b;
            break;
        }
        case P_ACT:
            if (parse_choice(v, p->name, acts, dst) < 0)
                return -1;
            break;
        case P_PAD:
            if (parse_choice(v, p->name, pads, dst) < 0)
                return -1;
            break;
        default: { /* P_SIZE */
            PyObject *seq = PySequence_Fast(v, "size must be a (height, width) pair");
            if (!seq)
                return -1;
            long hw[2] = {-1, -1};
            for (Py_ssize_t k = 0; k < 2 && PySequence_Fast_GET_SIZE(seq) == 2; k++)
                hw[k] = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, k));
            Py_DECREF(seq);
            if (PyErr_Occurred())
                return -1;
            if (hw[0] < 0 || hw[1] < 0 || hw[0] > (1L << 30) || hw[1] > (1L << 30)) {
                PyErr_Format(PyExc_ValueError, "%s must be a pair of sizes >= 0", p->name);
                return -1;
            }
            dst[0] = (double)hw[0];
            dst[1] = (double)hw[1];
            break;
        }
        }
    }
    if (nargs > i) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional arguments", op->name, i);
        return -1;
    }
    if (op->shape) { /* every op with an allocated output also accepts out= */
        PyObject *o = kwargs ? PyDict_GetItemString(kwargs, "out") : NULL;
        if (o && o != Py_None) {
            used_kw++;
            *out_obj = o;
        } else if (o) {
            used_kw++;
        }
    }
    static const char *const devices[] = {"cpu", "cuda", NULL}; /* sc_device order */
    PyObject *dev = kwargs ? PyDict_GetItemString(kwargs, "device") : NULL;
    double device = SC_CPU;
    if (dev && parse_choice(dev, "device", devices, &device) < 0)
        return -1;
    used_kw += dev != NULL;
    a->device = (sc_device)device;
    PyObject *rep = kwargs ? PyDict_GetItemString(kwargs, "repeat") : NULL;
    if (rep) {
        long n = PyLong_AsLong(rep);
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (n < 1 || n > 1000000) {
            PyErr_Format(PyExc_ValueError, "repeat must be between 1 and 1000000, got %ld", n);
            return -1;
        }
        a->repeat = (int)n;
        used_kw++;
    }
    if (kwargs && used_kw != PyDict_GET_SIZE(kwargs)) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument", op->name);
        return -1;
    }
    if (op->epilogue_slot >= 0 && a->s[op->epilogue_slot + 2] != 0 && !*out_obj) {
        PyErr_Format(PyExc_ValueError, "%s(): accumulate=True needs out=", op->name);
        return -1;
    }
    return 0;
}

/* Runs the op max(repeat, 1) times; *seconds gets the time per call, queued device work included. */
static sc_status run_repeated(sc_backend *be, const op_def *op, sc_tensor *out, const op_args *a, double *seconds)
{
    const int n = a->repeat > 0 ? a->repeat : 1;
    struct timespec t0, t1;
    SC_TRY(sc_backend_synchronize(be));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++)
        SC_TRY(op->call(be, out, a));
    SC_TRY(sc_backend_synchronize(be));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *seconds = ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    return SC_OK;
}

/* Runs `op` on a backend whose device is not the host's: mirrors the inputs there (an input that
 * is `out` itself on the host stays `out` there), uploads out's contents when they matter
 * (out_has_data: out=, accumulate, in-place ops), runs, and copies the output back to host_out. */
static sc_status run_on_device(sc_backend *be, const op_def *op, const op_args *host, sc_tensor *host_out,
                               int out_has_data, double *seconds)
{
    op_args dev;
    memcpy(&dev, host, sizeof dev);
    memset(dev.t, 0, sizeof dev.t);
    sc_tensor *dev_out = NULL;
    sc_status s = SC_OK;
    for (int i = 0; i < MAX_TENSORS && s == SC_OK; i++) {
        if (!host->t[i])
            continue;
        s = sc_tensor_for_backend(be, host->t[i], 1, &dev.t[i]);
        if (s == SC_OK && !dev_out && host->t[i]->data == host_out->data && host->t[i]->ndim == host_out->ndim &&
            sc_tensor_nbytes(host->t[i]) == sc_tensor_nbytes(host_out))
            dev_out = sc_tensor_retain(dev.t[i]);
    }
    if (s == SC_OK && !dev_out)
        s = sc_tensor_for_backend(be, host_out, out_has_data, &dev_out);
    if (s == SC_OK)
        s = run_repeated(be, op, dev_out, &dev, seconds);
    if (s == SC_OK)
        s = sc_tensor_copy(host_out, dev_out);
    sc_tensor_release(dev_out);
    for (int i = 0; i < MAX_TENSORS; i++)
        sc_tensor_release(dev.t[i]);
    return s;
}

static PyObject *py_op(PyObject *self, PyObject *args, PyObject *kwargs)
{
    const op_def *op = &ops[PyLong_AsSsize_t(self)];
    op_args a;
    memset(&a, 0, sizeof a);
    PyObject *out_obj = NULL, *result = NULL;
    sc_tensor *out = NULL;
    if (parse_args(op, args, kwargs, &a, &out_obj) < 0)
        goto done;
    if (!op->shape) { /* in/out op: the out tensor is parameter 0 */
        out = sc_tensor_retain(a.t[0]);
    } else if (out_obj) {
        if (!(out = wrap_out_array(out_obj, "out")))
            goto done;
    } else {
        int nd = 0;
        int64_t shape[SC_MAX_DIMS] = {0};
        op->shape(&a, &nd, shape);
        for (int i = 0; i < nd; i++)
            shape[i] = shape[i] > 0 ? shape[i] : 0;
        sc_status s = sc_tensor_empty(SC_CPU, SC_F32, nd, shape, &out);
        if (s != SC_OK) {
            sc_py_raise(s);
            goto done;
        }
    }
    sc_backend *be = NULL;
    sc_status s = sc_backend_for_device(a.device, &be);
    const int out_has_data = out_obj != NULL || !op->shape;
    double seconds = 0.0;
    Py_BEGIN_ALLOW_THREADS
    if (s == SC_OK && be->device == SC_CPU)
        s = run_repeated(be, op, out, &a, &seconds);
    else if (s == SC_OK)
        s = run_on_device(be, op, &a, out, out_has_data, &seconds);
    Py_END_ALLOW_THREADS
    if (s != SC_OK)
        sc_py_raise(s);
    else if (out_obj) {
        Py_INCREF(out_obj);
        result = out_obj;
    } else
        result = sc_py_array_from_tensor(out);
    if (result && a.repeat > 0)
        result = Py_BuildValue("(Nd)", result, seconds);
done:
    sc_tensor_release(out);
    for (int i = 0; i < MAX_TENSORS; i++)
        sc_tensor_release(a.t[i]);
    return result;
}

static PyObject *py_ops_isa(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "|z:_ops_isa", &name))
        return NULL;
    if (name) {
        sc_status s = sc_cpu_ops_set_isa(name);
        if (s != SC_OK)
            return sc_py_raise(s);
    }
    return PyUnicode_FromString(sc_cpu_ops_isa());
}

static PyObject *py_scratch_allocations(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromSize_t(sc_cpu_scratch_allocations());
}

static PyMethodDef extra_methods[] = {
    {"_ops_isa", py_ops_isa, METH_VARARGS,
     "_ops_isa(name=None) -> str\n\nISA of the multiversioned CPU op kernels in use; with a name "
     "('auto', 'baseline', 'avx2', 'avx512') cap it first (ValueError if this CPU lacks it). The GEMM "
     "has its own switch, _gemm_kernel."},
    {"_ops_scratch_allocations", py_scratch_allocations, METH_NOARGS,
     "Buffers the CPU ops' scratch pool has allocated or grown so far."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef op_methods[N_OPS];

int sc_py_init_ops(PyObject *m)
{
    if (PyModule_AddFunctions(m, extra_methods) < 0)
        return -1;
    PyObject *modname = PyModule_GetNameObject(m);
    if (!modname)
        return -1;
    for (size_t i = 0; i < N_OPS; i++) {
        op_methods[i] = (PyMethodDef){ops[i].name, (PyCFunction)(void (*)(void))py_op, METH_VARARGS | METH_KEYWORDS,
                                      ops[i].doc};
        PyObject *index = PyLong_FromSize_t(i);
        PyObject *fn = index ? PyCFunction_NewEx(&op_methods[i], index, modname) : NULL;
        Py_XDECREF(index);
        if (!fn || PyModule_AddObject(m, ops[i].name, fn) < 0) {
            Py_XDECREF(fn);
            Py_DECREF(modname);
            return -1;
        }
    }
    Py_DECREF(modname);
    return 0;
}
