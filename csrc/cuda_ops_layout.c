/* CUDA backend: resampling and data movement (argument checks, then the kernels). None of these
 * may run in place. */
#include "sc_cuda_backend.h"

#ifdef SC_WITH_CUDA

#include "cuda_ops.h"

sc_status cuda_resize_bilinear(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    SC_TRY(sc_opcheck_resize_bilinear(be, out, x));
    return sc_cu_resize_bilinear(x->shape[0], x->shape[1], x->shape[2], out->shape[1], out->shape[2], x->shape[3],
                                 CU_BF16(x), CU_BF16(out));
}

sc_status cuda_pixel_unshuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r)
{
    SC_TRY(sc_opcheck_pixel_unshuffle(be, out, x, r));
    return sc_cu_pixel_shuffle(x->shape[0], out->shape[1], out->shape[2], x->shape[3], r, 1, CU_BF16(x),
                               CU_BF16(out));
}

sc_status cuda_pixel_shuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r)
{
    SC_TRY(sc_opcheck_pixel_shuffle(be, out, x, r));
    return sc_cu_pixel_shuffle(x->shape[0], x->shape[1], x->shape[2], out->shape[3], r, 0, CU_BF16(x),
                               CU_BF16(out));
}

sc_status cuda_concat(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, int axis)
{
    SC_TRY(sc_opcheck_concat(be, out, a, b, &axis));
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= a->shape[i];
    for (int i = axis + 1; i < a->ndim; i++)
        inner *= a->shape[i];
    return sc_cu_concat(outer, a->shape[axis] * inner, b->shape[axis] * inner, CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

static sc_status layout_change(sc_backend *be, const char *op, sc_tensor *out, const sc_tensor *x, int to_nhwc)
{
    SC_TRY(sc_opcheck_layout_change(be, op, out, x, to_nhwc));
    const int64_t *s = x->shape;
    if (to_nhwc)
        return sc_cu_transpose(s[0], s[1], s[2] * s[3], CU_BF16(x), CU_BF16(out));
    return sc_cu_transpose(s[0], s[1] * s[2], s[3], CU_BF16(x), CU_BF16(out));
}

sc_status cuda_nchw_to_nhwc(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    return layout_change(be, "nchw_to_nhwc", out, x, 1);
}

sc_status cuda_nhwc_to_nchw(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    return layout_change(be, "nhwc_to_nchw", out, x, 0);
}

sc_status cuda_embedding(sc_backend *be, sc_tensor *out, const sc_tensor *table, const sc_tensor *ids)
{
    SC_TRY(sc_opcheck_embedding(be, out, table, ids));
    return sc_cu_embedding(CU_CTX(be), sc_tensor_numel(ids), table->shape[1], table->shape[0], CU_BF16(table),
                           ids->data, CU_BF16(out));
}

#endif
