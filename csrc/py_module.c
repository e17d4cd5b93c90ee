/* Module entry point of stable_cascade_c._C: imports NumPy's C API once and lets each
 * binding file register its part. */
#define SC_PY_MODULE_MAIN
#include "py_common.h"

static struct PyModuleDef sc_module = {
    PyModuleDef_HEAD_INIT, "stable_cascade_c._C",
    "C/CUDA core of stable_cascade_c (tensors, ops, loaders, networks).", -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__C(void)
{
    import_array();
    PyObject *m = PyModule_Create(&sc_module);
    if (!m)
        return NULL;
    if (sc_py_init_core(m) < 0 || sc_py_init_ops(m) < 0 || sc_py_init_unet(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
