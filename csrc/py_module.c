/* Module entry point of stable_cascade_c._C: imports NumPy's C API once and lets each
 * binding file register its part (one line per component below). */
#define SC_PY_MODULE_MAIN
#include "py_common.h"

static struct PyModuleDef sc_module = {
    PyModuleDef_HEAD_INIT, "stable_cascade_c._C",
    "C/CUDA core of stable_cascade_c (tensors, ops, loaders, networks).", -1, NULL, NULL, NULL, NULL, NULL,
};

static int (*const sc_py_parts[])(PyObject *) = {
    sc_py_init_core,
    sc_py_init_ops,
    sc_py_init_json,
    sc_py_init_safetensors,
    sc_py_init_rng,
    sc_py_init_scheduler,
    sc_py_init_tokenizer,
    sc_py_init_gemm,
    sc_py_init_clip_text,
    sc_py_init_paella_vq,
    sc_py_init_unet,
    sc_py_init_cuda,
};

PyMODINIT_FUNC PyInit__C(void)
{
    import_array();
    PyObject *m = PyModule_Create(&sc_module);
    if (!m)
        return NULL;
    for (size_t i = 0; i < sizeof sc_py_parts / sizeof sc_py_parts[0]; i++) {
        if (sc_py_parts[i](m) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
