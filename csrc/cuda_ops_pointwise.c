/* CUDA backend: normalizations and elementwise ops (argument checks, then the kernels). All of
 * them may run in place: out is either an input itself or disjoint from it. */
#include "sc_cuda_backend.h"

#ifdef SC_WITH_CUDA

#include "cuda_ops.h"

static sc_status layernorm_rows(sc_backend *be, const char *op, sc_tensor *out, const sc_tensor *x,
                                const sc_tensor *gamma, const sc_tensor *beta, float gs, float bs, float eps)
{
    SC_TRY(sc_opcheck_act(be, x, op, "x", -1));
    SC_TRY(sc_opcheck_act(be, out, op, "out", -1));
    SC_TRY(sc_opcheck_shape(out, op, "out", x->ndim, x->shape));
    const int64_t C = x->shape[x->ndim - 1];
    SC_TRY(sc_opcheck_vector(be, gamma, op, "gamma", C));
    SC_TRY(sc_opcheck_vector(be, beta, op, "beta", C));
    if (!(eps >= 0.0f) || C == 0)
        return sc_set_error(SC_ERR_VALUE, "%s: needs eps >= 0 and a non-empty last dim (eps %g, C %lld)", op,
                            (double)eps, (long long)C);
    SC_TRY(sc_opcheck_same_or_disjoint(out, x, op, "x"));
    return sc_cu_layernorm(sc_tensor_rows(x), C, CU_BF16(x), CU_BF16_OR_NULL(gamma), CU_BF16_OR_NULL(beta), gs, bs,
                           eps, CU_BF16(out));
}

sc_status cuda_layernorm(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma,
                         const sc_tensor *beta, float eps)
{
    return layernorm_rows(be, "layernorm", out, x, gamma, beta, 1.0f, 0.0f, eps);
}

sc_status cuda_layernorm_scalar_affine(sc_backend *be, sc_tensor *out, const sc_tensor *x, float g, float b,
                                       float eps)
{
    /* (1 + g) is rounded to float first, as torch evaluates LN(x) * (1 + g) + b. */
    return layernorm_rows(be, "layernorm_scalar_affine", out, x, NULL, NULL, 1.0f + g, b, eps);
}

sc_status cuda_grn(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *gamma, const sc_tensor *beta,
                   float eps)
{
    const char *op = "grn";
    SC_TRY(sc_opcheck_act(be, x, op, "x", 4));
    SC_TRY(sc_opcheck_act(be, out, op, "out", 4));
    SC_TRY(sc_opcheck_shape(out, op, "out", 4, x->shape));
    const int64_t B = x->shape[0], HW = x->shape[1] * x->shape[2], C = x->shape[3];
    SC_TRY(sc_opcheck_act(be, gamma, op, "gamma", 1));
    SC_TRY(sc_opcheck_vector(be, gamma, op, "gamma", C));
    SC_TRY(sc_opcheck_act(be, beta, op, "beta", 1));
    SC_TRY(sc_opcheck_vector(be, beta, op, "beta", C));
    if (!(eps >= 0.0f))
        return sc_set_error(SC_ERR_VALUE, "%s: eps must be >= 0, got %g", op, (double)eps);
    SC_TRY(sc_opcheck_same_or_disjoint(out, x, op, "x"));
    return sc_cu_grn(CU_CTX(be), B, HW, C, CU_BF16(x), CU_BF16(gamma), CU_BF16(beta), eps, CU_BF16(out));
}

/* out and the inputs share out's shape; each input is out itself or disjoint from it. */
static sc_status check_same(const sc_backend *be, const char *op, const sc_tensor *out, const sc_tensor *a,
                            const char *a_name, const sc_tensor *b, const char *b_name)
{
    SC_TRY(sc_opcheck_act(be, out, op, "out", -1));
    SC_TRY(sc_opcheck_act(be, a, op, a_name, -1));
    SC_TRY(sc_opcheck_shape(a, op, a_name, out->ndim, out->shape));
    SC_TRY(sc_opcheck_same_or_disjoint(out, a, op, a_name));
    if (b) {
        SC_TRY(sc_opcheck_act(be, b, op, b_name, -1));
        SC_TRY(sc_opcheck_shape(b, op, b_name, out->ndim, out->shape));
        SC_TRY(sc_opcheck_same_or_disjoint(out, b, op, b_name));
    }
    return SC_OK;
}

sc_status cuda_activation(sc_backend *be, sc_tensor *out, const sc_tensor *x, sc_act act)
{
    SC_TRY(check_same(be, "activation", out, x, "x", NULL, NULL));
    const sc_epilogue ep = {act, 1.0f, 0};
    SC_TRY(sc_opcheck_epilogue(ep, "activation"));
    return sc_cu_activation(sc_tensor_numel(out), CU_BF16(x), act, CU_BF16(out));
}

sc_status cuda_add(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b)
{
    SC_TRY(check_same(be, "add", out, a, "a", b, "b"));
    return sc_cu_add(sc_tensor_numel(out), CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

sc_status cuda_mul(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b)
{
    SC_TRY(check_same(be, "mul", out, a, "a", b, "b"));
    return sc_cu_mul(sc_tensor_numel(out), CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

sc_status cuda_lerp(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, float w)
{
    SC_TRY(check_same(be, "lerp", out, a, "a", b, "b"));
    return sc_cu_lerp(sc_tensor_numel(out), CU_BF16(a), CU_BF16(b), w, CU_BF16(out));
}

sc_status cuda_scale_shift(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                           const sc_tensor *b)
{
    const char *op = "scale_shift";
    SC_TRY(check_same(be, op, out, x, "x", NULL, NULL));
    if (x->ndim < 2)
        return sc_set_error(SC_ERR_VALUE, "%s: x must be [B, ..., C], got %d dims", op, x->ndim);
    const int64_t B = x->shape[0], C = x->shape[x->ndim - 1];
    const int64_t bc[2] = {B, C};
    SC_TRY(sc_opcheck_act(be, a, op, "a", 2));
    SC_TRY(sc_opcheck_shape(a, op, "a", 2, bc));
    SC_TRY(sc_opcheck_act(be, b, op, "b", 2));
    SC_TRY(sc_opcheck_shape(b, op, "b", 2, bc));
    SC_TRY(sc_opcheck_no_alias(out, a, op, "a"));
    SC_TRY(sc_opcheck_no_alias(out, b, op, "b"));
    const int64_t rows_per_batch = B ? sc_tensor_rows(x) / B : 0;
    return sc_cu_scale_shift(B, rows_per_batch, C, CU_BF16(x), CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

sc_status cuda_add_channel_vector(sc_backend *be, sc_tensor *out, const sc_tensor *v)
{
    const char *op = "add_channel_vector";
    SC_TRY(sc_opcheck_act(be, out, op, "out", -1));
    const int64_t C = out->shape[out->ndim - 1];
    SC_TRY(sc_opcheck_act(be, v, op, "v", 1));
    SC_TRY(sc_opcheck_shape(v, op, "v", 1, &C));
    SC_TRY(sc_opcheck_no_alias(out, v, op, "v"));
    return sc_cu_add_channel_vector(sc_tensor_rows(out), C, CU_BF16(v), CU_BF16(out));
}

#endif
