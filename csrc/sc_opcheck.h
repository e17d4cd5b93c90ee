/* Argument checks for op implementations, parameterized by the backend's device and dtype.
 * Every check sets a ValueError that names the op and the argument ("linear: w must be ...").
 * Both backends (cpu_*.c, cuda_ops_*.c) validate their arguments with these. */
#ifndef SC_OPCHECK_H
#define SC_OPCHECK_H

#include "sc_ops.h"

/* `t` is a non-NULL tensor on `be`'s device of dtype `dt`, of rank `ndim` (ndim < 0: any rank >= 1). */
sc_status sc_opcheck_tensor(const sc_backend *be, const sc_tensor *t, sc_dtype dt, const char *op, const char *what,
                            int ndim);
/* Shorthand for a tensor in the backend's compute dtype. */
sc_status sc_opcheck_act(const sc_backend *be, const sc_tensor *t, const char *op, const char *what, int ndim);
/* `t` has exactly `shape` (entries < 0 match anything). */
sc_status sc_opcheck_shape(const sc_tensor *t, const char *op, const char *what, int ndim, const int64_t *shape);
/* A per-channel vector (bias, gamma, beta) in the compute dtype: NULL, or [n]. */
sc_status sc_opcheck_vector(const sc_backend *be, const sc_tensor *v, const char *op, const char *what, int64_t n);
/* The memory of `out` and `in` does not overlap (for ops that cannot work in place). */
sc_status sc_opcheck_no_alias(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what);
/* out and in either do not overlap or are exactly the same buffer of the same size (in-place ops). */
sc_status sc_opcheck_same_or_disjoint(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what);
sc_status sc_opcheck_epilogue(sc_epilogue ep, const char *op);

#endif
