/* CUDA backend: normalizations and elementwise ops (argument checks, then the kernels). All of
 * them may run in place: out is either an input itself or disjoint from it. */
#include "sc_cuda_backend.h"

#ifdef SC_WITH_CUDA

#include "cuda_ops.h"

static sc_status layernorm_rows(sc_backend *be, const char *op, sc_tensor *out, const sc_tensor *x,
                                const sc_tensor *gamma, const sc_tensor *beta, float gs, float bs, float eps)
{
    SC_TRY(sc_opcheck_layernorm(be, op, out, x, gamma, beta, eps));
    return sc_cu_layernorm(sc_tensor_rows(x), x->shape[x->ndim - 1], CU_BF16(x), CU_BF16_OR_NULL(gamma),
                           CU_BF16_OR_NULL(beta), gs, bs, eps, CU_BF16(out));
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
    SC_TRY(sc_opcheck_grn(be, out, x, gamma, beta, eps));
    return sc_cu_grn(CU_CTX(be), x->shape[0], x->shape[1] * x->shape[2], x->shape[3], CU_BF16(x), CU_BF16(gamma),
                     CU_BF16(beta), eps, CU_BF16(out));
}

sc_status cuda_activation(sc_backend *be, sc_tensor *out, const sc_tensor *x, sc_act act)
{
    SC_TRY(sc_opcheck_activation(be, out, x, act));
    return sc_cu_activation(sc_tensor_numel(out), CU_BF16(x), act, CU_BF16(out));
}

sc_status cuda_add(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b)
{
    SC_TRY(sc_opcheck_elementwise(be, "add", out, a, "a", b, "b"));
    return sc_cu_add(sc_tensor_numel(out), CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

sc_status cuda_mul(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b)
{
    SC_TRY(sc_opcheck_elementwise(be, "mul", out, a, "a", b, "b"));
    return sc_cu_mul(sc_tensor_numel(out), CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

sc_status cuda_lerp(sc_backend *be, sc_tensor *out, const sc_tensor *a, const sc_tensor *b, float w)
{
    SC_TRY(sc_opcheck_elementwise(be, "lerp", out, a, "a", b, "b"));
    return sc_cu_lerp(sc_tensor_numel(out), CU_BF16(a), CU_BF16(b), w, CU_BF16(out));
}

sc_status cuda_scale_shift(sc_backend *be, sc_tensor *out, const sc_tensor *x, const sc_tensor *a,
                           const sc_tensor *b)
{
    SC_TRY(sc_opcheck_scale_shift(be, out, x, a, b));
    const int64_t B = x->shape[0], C = x->shape[x->ndim - 1];
    const int64_t rows_per_batch = B ? sc_tensor_rows(x) / B : 0;
    return sc_cu_scale_shift(B, rows_per_batch, C, CU_BF16(x), CU_BF16(a), CU_BF16(b), CU_BF16(out));
}

sc_status cuda_add_channel_vector(sc_backend *be, sc_tensor *out, const sc_tensor *v)
{
    SC_TRY(sc_opcheck_add_channel_vector(be, out, v));
    return sc_cu_add_channel_vector(sc_tensor_rows(out), out->shape[out->ndim - 1], CU_BF16(v), CU_BF16(out));
}

#endif
