#include "sc_opcheck.h"

sc_status sc_opcheck_tensor(const sc_backend *be, const sc_tensor *t, sc_dtype dt, const char *op, const char *what,
                            int ndim)
{
    if (!t)
        return sc_set_error(SC_ERR_VALUE, "%s: %s is missing", op, what);
    if (t->device != be->device || t->dtype != dt)
        return sc_set_error(SC_ERR_VALUE, "%s: %s must be a %s %s tensor, got %s %s", op, what, sc_dtype_name(dt),
                            sc_device_name(be->device), sc_dtype_name(t->dtype), sc_device_name(t->device));
    if (ndim >= 0 ? t->ndim != ndim : t->ndim < 1) {
        char got[128];
        sc_format_shape(t, got, sizeof got);
        if (ndim >= 0)
            return sc_set_error(SC_ERR_VALUE, "%s: %s must have %d dims, got shape %s", op, what, ndim, got);
        return sc_set_error(SC_ERR_VALUE, "%s: %s must have at least 1 dim, got shape %s", op, what, got);
    }
    if (!t->data && sc_tensor_numel(t) > 0)
        return sc_set_error(SC_ERR_VALUE, "%s: %s has no data", op, what);
    return SC_OK;
}

sc_status sc_opcheck_act(const sc_backend *be, const sc_tensor *t, const char *op, const char *what, int ndim)
{
    return sc_opcheck_tensor(be, t, be->dtype, op, what, ndim);
}

sc_status sc_opcheck_shape(const sc_tensor *t, const char *op, const char *what, int ndim, const int64_t *shape)
{
    if (sc_check_shape(t, what, ndim, shape) != SC_OK)
        return sc_add_context(SC_ERR_VALUE, "%s", op);
    return SC_OK;
}

sc_status sc_opcheck_vector(const sc_backend *be, const sc_tensor *v, const char *op, const char *what, int64_t n)
{
    if (!v)
        return SC_OK;
    SC_TRY(sc_opcheck_act(be, v, op, what, 1));
    return sc_opcheck_shape(v, op, what, 1, &n);
}

static int overlaps(const sc_tensor *a, const sc_tensor *b)
{
    const char *a0 = a->data, *b0 = b->data;
    const char *a1 = a0 + sc_tensor_nbytes(a), *b1 = b0 + sc_tensor_nbytes(b);
    return a0 && b0 && a0 < b1 && b0 < a1;
}

sc_status sc_opcheck_no_alias(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what)
{
    if (overlaps(out, in))
        return sc_set_error(SC_ERR_VALUE, "%s: out must not overlap %s", op, what);
    return SC_OK;
}

sc_status sc_opcheck_same_or_disjoint(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what)
{
    if (overlaps(out, in) && (out->data != in->data || sc_tensor_nbytes(out) != sc_tensor_nbytes(in)))
        return sc_set_error(SC_ERR_VALUE, "%s: out must be %s itself or not overlap it", op, what);
    return SC_OK;
}

sc_status sc_opcheck_epilogue(sc_epilogue ep, const char *op)
{
    switch (ep.act) {
    case SC_ACT_NONE:
    case SC_ACT_GELU:
    case SC_ACT_SILU:
    case SC_ACT_QUICK_GELU: return SC_OK;
    }
    return sc_set_error(SC_ERR_VALUE, "%s: unknown activation %d", op, (int)ep.act);
}
