/* CUDA backend: resampling and data movement (argument checks, then the kernels). None of these
 * may run in place. */
#include "sc_cuda_backend.h"

#ifdef SC_WITH_CUDA

#include "cuda_ops.h"

sc_status cuda_resize_bilinear(sc_backend *be, sc_tensor *out, const sc_tensor *x)
{
    const char *op = "resize_bilinear";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t B = x->shape[0], Hi = x->shape[1], Wi = x->shape[2], C = x->shape[3];
    const int64_t Ho = out->shape[1], Wo = out->shape[2];
    const int64_t oshape[4] = {B, -1, -1, C};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    if ((Hi == 0 || Wi == 0) && Ho * Wo > 0)
        return sc_set_error(SC_ERR_VALUE, "%s: cannot resize an empty %lldx%lld image to %lldx%lld", op,
                            (long long)Hi, (long long)Wi, (long long)Ho, (long long)Wo);
    SC_TRY(sc_opcheck_no_alias(out, x, op, "x"));
    return sc_cu_resize_bilinear(B, Hi, Wi, Ho, Wo, C, CU_BF16(x), CU_BF16(out));
}

sc_status cuda_pixel_unshuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r)
{
    const char *op = "pixel_unshuffle";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    if (r < 1 || H % r != 0 || W % r != 0)
        return sc_set_error(SC_ERR_VALUE, "%s: factor %d must be >= 1 and divide the image size %lldx%lld", op, r,
                            (long long)H, (long long)W);
    const int64_t oshape[4] = {B, H / r, W / r, C * r * r};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    SC_TRY(sc_opcheck_no_alias(out, x, op, "x"));
    return sc_cu_pixel_shuffle(B, H / r, W / r, C, r, 1, CU_BF16(x), CU_BF16(out));
}

sc_status cuda_pixel_shuffle(sc_backend *be, sc_tensor *out, const sc_tensor *x, int r)
{
    const char *op = "pixel_shuffle";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t B = x->shape[0], h = x->shape[1], w = x->shape[2], Cs = x->shape[3];
    if (r < 1 || Cs % ((int64_t)r * r) != 0)
        return sc_set_error(SC_ERR_VALUE, "%s: factor %d must be >= 1 with r*r dividing the %lld channels", op, r,
                            (long long)Cs);
    const int64_t C = Cs / ((int64_t)r * r);
    const int64_t oshape[4] = {B, h * r, w * r, C};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    SC_TRY(sc_opcheck_no_alias(out, x, op, "x"));
    return sc_cu_pixel_shuffle(B, h, w, C, r, 0, CU_BF16(x), CU_BF16(out));
}

sc_status cuda_concat(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, int axis)
{
    const char *op = "concat";
    SC_TRY(sc_opcheck_act(be, a, op, "a", -1));
    SC_TRY(sc_opcheck_act(be, b, op, "b", a->ndim));
    SC_TRY(sc_opcheck_act(be, out, op, "out", a->ndim));
    const int nd = a->ndim;
    if (axis < -nd || axis >= nd)
        return sc_set_error(SC_ERR_VALUE, "%s: axis %d is out of range for %d dims", op, axis, nd);
    if (axis < 0)
        axis += nd;
    int64_t bshape[SC_MAX_DIMS], oshape[SC_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        bshape[i] = i == axis ? -1 : a->shape[i];
        oshape[i] = i == axis ? a->shape[i] + b->shape[i] : a->shape[i];
    }
    SC_TRY(sc_opcheck_shape(b, op, "b", nd, bshape));
    SC_TRY(sc_opcheck_shape(out, op, "out", nd, oshape));
    SC_TRY(sc_opcheck_no_alias(out, a, op, "a"));
    SC_TRY(sc_opcheck_no_alias(out, b, op, "b"));
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= a->shape[i];
    for (int i = axis + 1; i < nd; i++)
        inner *= a->shape[i];
    return sc_cu_concat(outer, a->shape[axis] * inner, b->shape[axis] * inner, CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

static sc_status layout_change(sc_backend *be, const char *op, sc_tensor *out, const sc_tensor *x, int to_nhwc)
{
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    const int64_t *s = x->shape;
    /* NCHW [B, C, H, W] -> NHWC [B, H, W, C], or back */
    const int64_t oshape[4] = {s[0], to_nhwc ? s[2] : s[3], to_nhwc ? s[3] : s[1], to_nhwc ? s[1] : s[2]};
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, oshape));
    SC_TRY(sc_opcheck_no_alias(out, x, op, "x"));
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
    const char *op = "embedding";
    SC_TRY(sc_opcheck_act(be, table, op, "table", 2));
    SC_TRY(sc_opcheck_tensor(be, ids, SC_I64, op, "ids", 2));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 3));
    const int64_t V = table->shape[0], C = table->shape[1];
    const int64_t oshape[3] = {ids->shape[0], ids->shape[1], C};
    SC_TRY(sc_opcheck_shape(out, op, "out", 3, oshape));
    SC_TRY(sc_opcheck_no_alias(out, table, op, "table"));
    return sc_cu_embedding(CU_CTX(be), sc_tensor_numel(ids), C, V, CU_BF16(table), ids->data, CU_BF16(out));
}

#endif
