/* Test bindings of the JSON parser: the DOM converted to Python objects so tests can compare
 * it with Python's json module. Not part of the public API (leading underscore). */
#include "py_common.h"

#include "sc_json.h"

/* A number node as Python: int when it is written as an integer (exact, any size; through
 * sc_json_as_u64 when it fits), float otherwise. */
static PyObject *number_to_py(const sc_json *n)
{
    uint64_t u;
    if (sc_json_as_u64(n, &u) == 0)
        return PyLong_FromUnsignedLongLong(u);
    if (!strpbrk(n->str, ".eE"))
        return PyLong_FromString(n->str, NULL, 10);
    double d;
    sc_json_as_double(n, &d);
    return PyFloat_FromDouble(d);
}

static PyObject *json_to_py(const sc_json *n)
{
    switch (n->type) {
    case SC_JSON_NULL: Py_RETURN_NONE;
    case SC_JSON_BOOL: return PyBool_FromLong(n->boolean);
    case SC_JSON_NUMBER: return number_to_py(n);
    case SC_JSON_STRING: return PyUnicode_DecodeUTF8(n->str, (Py_ssize_t)n->len, "strict");
    case SC_JSON_ARRAY: {
        PyObject *list = PyList_New((Py_ssize_t)n->len);
        for (size_t i = 0; list && i < n->len; i++) {
            PyObject *item = json_to_py(n->items[i]);
            if (!item) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, item);
        }
        return list;
    }
    case SC_JSON_OBJECT: {
        PyObject *dict = PyDict_New();
        for (size_t i = 0; dict && i < n->len; i++) {
            PyObject *key = PyUnicode_DecodeUTF8(n->keys[i], (Py_ssize_t)n->key_lens[i], "strict");
            PyObject *value = key ? json_to_py(n->items[i]) : NULL;
            if (!value || PyDict_SetItem(dict, key, value) < 0)
                Py_CLEAR(dict);
            Py_XDECREF(key);
            Py_XDECREF(value);
        }
        return dict;
    }
    }
    PyErr_SetString(PyExc_SystemError, "corrupt JSON node");
    return NULL;
}

static sc_json_doc *parse_buffer(PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    sc_json_doc *doc = NULL;
    sc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = sc_json_parse(view.buf, (size_t)view.len, "<bytes>", &doc);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (s != SC_OK)
        sc_py_raise(s);
    return doc;
}

static PyObject *py_json_parse(PyObject *self, PyObject *arg)
{
    (void)self;
    sc_json_doc *doc = parse_buffer(arg);
    if (!doc)
        return NULL;
    PyObject *result = json_to_py(sc_json_root(doc));
    sc_json_free(doc);
    return result;
}

/* The first repeated key of the top-level object, or None. */
static PyObject *py_json_duplicate_key(PyObject *self, PyObject *arg)
{
    (void)self;
    sc_json_doc *doc = parse_buffer(arg);
    if (!doc)
        return NULL;
    const char *dup = sc_json_duplicate_key(sc_json_root(doc));
    PyObject *result = dup ? PyUnicode_DecodeUTF8(dup, (Py_ssize_t)strlen(dup), "strict") : Py_NewRef(Py_None);
    sc_json_free(doc);
    return result;
}

/* A top-level number as (text, exact u64 or None, double). */
static PyObject *py_json_number(PyObject *self, PyObject *arg)
{
    (void)self;
    sc_json_doc *doc = parse_buffer(arg);
    if (!doc)
        return NULL;
    const sc_json *n = sc_json_root(doc);
    PyObject *result = NULL;
    uint64_t u;
    double d;
    if (n->type != SC_JSON_NUMBER || sc_json_as_double(n, &d) != 0)
        PyErr_SetString(PyExc_TypeError, "the document is not a number");
    else if (sc_json_as_u64(n, &u) == 0)
        result = Py_BuildValue("(sKd)", n->str, (unsigned long long)u, d);
    else
        result = Py_BuildValue("(sOd)", n->str, Py_None, d);
    sc_json_free(doc);
    return result;
}

static PyObject *py_utf8_check(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    size_t n = sc_utf8_check(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromSize_t(n);
}

static PyMethodDef json_methods[] = {
    {"_json_parse", py_json_parse, METH_O, "Parse JSON bytes with the C parser; returns Python objects."},
    {"_json_duplicate_key", py_json_duplicate_key, METH_O, "First repeated key of a top-level JSON object."},
    {"_json_number", py_json_number, METH_O, "A JSON number document as (text, u64 or None, float)."},
    {"_utf8_check", py_utf8_check, METH_O, "Length of the longest well-formed UTF-8 prefix."},
    {NULL, NULL, 0, NULL},
};

int sc_py_init_json(PyObject *m)
{
    return PyModule_AddFunctions(m, json_methods);
}
