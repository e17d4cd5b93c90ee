/* _C.Tokenizer: the C CLIP tokenizer (sc_tokenizer.h) as a Python type. The public class is
 * stable_cascade_c.tokenizer.CLIPTokenizer; this layer only converts arguments and results and
 * releases the GIL while tokenizing. */
#include "py_common.h"

#include "sc_tokenizer.h"

typedef struct {
    PyObject_HEAD
    sc_tokenizer *tok;
} py_tokenizer;

static int tokenizer_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"folder", NULL};
    PyObject *path_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&", kwlist, PyUnicode_FSConverter, &path_obj))
        return -1;
    py_tokenizer *t = (py_tokenizer *)self;
    sc_tokenizer *tok = NULL;
    sc_status s;
    const char *folder = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS
    s = sc_tokenizer_load(folder, &tok);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (s != SC_OK) {
        sc_py_raise(s);
        return -1;
    }
    sc_tokenizer_free(t->tok);
    t->tok = tok;
    return 0;
}

static void tokenizer_dealloc(PyObject *self)
{
    sc_tokenizer_free(((py_tokenizer *)self)->tok);
    Py_TYPE(self)->tp_free(self);
}

static sc_tokenizer *get_tok(PyObject *self)
{
    sc_tokenizer *tok = ((py_tokenizer *)self)->tok;
    if (!tok)
        PyErr_SetString(PyExc_RuntimeError, "Tokenizer was not initialised");
    return tok;
}

static PyObject *tokenizer_encode(PyObject *self, PyObject *arg)
{
    sc_tokenizer *tok = get_tok(self);
    if (!tok)
        return NULL;
    if (!PyUnicode_Check(arg))
        return PyErr_Format(PyExc_TypeError, "text must be a str, not %.100s", Py_TYPE(arg)->tp_name);
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (!text)
        return NULL;
    sc_ids ids = {0};
    sc_status s;
    Py_INCREF(arg); /* keeps `text` alive while the GIL is released */
    Py_BEGIN_ALLOW_THREADS
    s = sc_tokenizer_encode(tok, text, (size_t)len, SIZE_MAX, &ids);
    Py_END_ALLOW_THREADS
    Py_DECREF(arg);
    PyObject *list = s == SC_OK ? PyList_New((Py_ssize_t)ids.n) : sc_py_raise(s);
    for (size_t i = 0; list && i < ids.n; i++) {
        PyObject *v = PyLong_FromUnsignedLong(ids.v[i]);
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    sc_ids_free(&ids);
    return list;
}

/* encode_batch(texts: sequence of str, max_length: int) -> (input_ids, attention_mask), both
 * int64 arrays of shape (len(texts), max_length). */
static PyObject *tokenizer_encode_batch(PyObject *self, PyObject *args)
{
    sc_tokenizer *tok = get_tok(self);
    PyObject *seq_obj;
    Py_ssize_t max_length;
    if (!tok || !PyArg_ParseTuple(args, "On", &seq_obj, &max_length))
        return NULL;
    if (max_length < 2)
        return PyErr_Format(PyExc_ValueError, "max_length must be at least 2, got %zd", max_length);
    /* A private tuple: other threads cannot change the strings while the GIL is released. */
    PyObject *seq = PySequence_Tuple(seq_obj);
    if (!seq)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    sc_str *texts = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *texts);
    PyObject *result = NULL, *ids = NULL, *mask = NULL;
    if (!texts) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "texts[%zd] must be a str, not %.100s", i, Py_TYPE(item)->tp_name);
            goto done;
        }
        Py_ssize_t len;
        texts[i].s = PyUnicode_AsUTF8AndSize(item, &len);
        if (!texts[i].s)
            goto done;
        texts[i].len = (size_t)len;
    }
    npy_intp dims[2] = {n, max_length};
    ids = PyArray_SimpleNew(2, dims, NPY_INT64);
    mask = ids ? PyArray_SimpleNew(2, dims, NPY_INT64) : NULL;
    if (!mask)
        goto done;
    int64_t *ids_data = PyArray_DATA((PyArrayObject *)ids), *mask_data = PyArray_DATA((PyArrayObject *)mask);
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = sc_tokenizer_encode_batch(tok, texts, (size_t)n, (size_t)max_length, ids_data, mask_data);
    Py_END_ALLOW_THREADS
    if (s != SC_OK)
        sc_py_raise(s);
    else
        result = PyTuple_Pack(2, ids, mask);
done:
    PyMem_Free(texts);
    Py_XDECREF(ids);
    Py_XDECREF(mask);
    Py_DECREF(seq);
    return result;
}

static PyObject *tokenizer_info(PyObject *self, PyObject *args)
{
    (void)args;
    sc_tokenizer *tok = get_tok(self);
    if (!tok)
        return NULL;
    sc_tokenizer_info in;
    sc_tokenizer_get_info(tok, &in);
    PyObject *unk = in.unk ? PyUnicode_FromString(in.unk) : Py_NewRef(Py_None);
    if (!unk)
        return NULL;
    return Py_BuildValue("{s:n,s:n,s:s,s:s,s:s,s:N,s:I,s:I,s:I,s:L}", "vocab_size", (Py_ssize_t)in.vocab_size,
                         "model_max_length", (Py_ssize_t)in.model_max_length, "bos_token", in.bos, "eos_token", in.eos,
                         "pad_token", in.pad, "unk_token", unk, "bos_token_id", in.bos_id, "eos_token_id", in.eos_id,
                         "pad_token_id", in.pad_id, "unk_token_id", (long long)in.unk_id);
}

static PyMethodDef tokenizer_methods[] = {
    {"encode", tokenizer_encode, METH_O, "encode(text) -> list of ids without start/end tokens, no truncation"},
    {"encode_batch", tokenizer_encode_batch, METH_VARARGS,
     "encode_batch(texts, max_length) -> (input_ids, attention_mask) int64 arrays [len(texts), max_length]"},
    {"info", tokenizer_info, METH_NOARGS, "info() -> dict of sizes, special tokens and their ids"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject tokenizer_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stable_cascade_c._C.Tokenizer",
    .tp_basicsize = sizeof(py_tokenizer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Tokenizer(folder): the CLIP BPE tokenizer of a Hugging Face tokenizer folder.",
    .tp_new = PyType_GenericNew,
    .tp_init = tokenizer_init,
    .tp_dealloc = tokenizer_dealloc,
    .tp_methods = tokenizer_methods,
};

int sc_py_init_tokenizer(PyObject *m)
{
    if (PyType_Ready(&tokenizer_type) < 0)
        return -1;
    Py_INCREF(&tokenizer_type);
    if (PyModule_AddObject(m, "Tokenizer", (PyObject *)&tokenizer_type) < 0) {
        Py_DECREF(&tokenizer_type);
        return -1;
    }
    return 0;
}
