/* What py_rng.c shares with the other binding files that draw random numbers (py_scheduler.c). */
#ifndef SC_PY_RNG_H
#define SC_PY_RNG_H

#include "py_common.h"
#include "sc_rng.h"

/* One lock serialises every use of generator and scheduler state whose compute runs with the GIL
 * released. Take it with the GIL held (it waits without the GIL); release it with the GIL held. */
void sc_py_rng_lock(void);
void sc_py_rng_unlock(void);

/* diffusers' `generator` argument: a Generator or a sequence of them (a list of one counts as one). */
typedef struct {
    sc_generator **gens; /* n entries */
    size_t n;
    sc_generator *single;
    PyObject *keep; /* keeps the sequence (and so its items) alive */
} sc_py_generators;

/* Parse `obj`; 0 on success, -1 with a TypeError set. Release with sc_py_generators_release. */
int sc_py_generators_parse(PyObject *obj, sc_py_generators *out);
void sc_py_generators_release(sc_py_generators *g);

#endif
