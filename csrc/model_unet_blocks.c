/* The three StableCascadeUNet blocks (spec §2.6), channels-last, written against the op table.
 * Each updates x [B, h, w, c] in place; its temporaries are released before it returns. */
#include <math.h>
#include <stdlib.h>

#include "model_unet_internal.h"

#define CHECK(expr)            \
    do {                       \
        s = (expr);            \
        if (s != SC_OK)        \
            goto done;         \
    } while (0)

static const sc_epilogue EP_GELU = {SC_ACT_GELU, 1.0f, 0};
static const sc_epilogue EP_RESIDUAL = {SC_ACT_NONE, 1.0f, 1};

sc_status unet_tmp(const unet_ctx *ctx, int ndim, const int64_t *shape, sc_tensor *out)
{
    return sc_arena_tensor(ctx->arena, ctx->be->dtype, ndim, shape, out);
}

/* x + Linear(4c->c)(GRN(GELU(Linear(c+c_skip->4c)(cat(LN(dwconv(x)), skip))))) */
sc_status unet_resblock_forward(const unet_ctx *ctx, const unet_resblock *rb, sc_tensor *x, const sc_tensor *skip)
{
    sc_backend *be = ctx->be;
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor y, cat, hidden;
    const sc_tensor *in = &y;
    sc_status s;
    CHECK(unet_tmp(ctx, 4, (int64_t[]){B, H, W, C}, &y));
    CHECK(be->depthwise3x3(be, &y, x, rb->dw_w, rb->dw_b, SC_PAD_ZERO, SC_EPILOGUE_PLAIN));
    CHECK(be->layernorm(be, &y, &y, NULL, NULL, UNET_LN_EPS));
    if (rb->c_skip) { /* the skip joins raw, after the normalised features */
        CHECK(unet_tmp(ctx, 4, (int64_t[]){B, H, W, C + rb->c_skip}, &cat));
        CHECK(be->concat(be, &cat, &y, skip, 3));
        in = &cat;
    }
    CHECK(unet_tmp(ctx, 4, (int64_t[]){B, H, W, 4 * C}, &hidden));
    CHECK(be->linear(be, &hidden, in, rb->fc1_w, rb->fc1_b, EP_GELU));
    CHECK(be->grn(be, &hidden, &hidden, rb->grn_g, rb->grn_b, UNET_GRN_EPS));
    CHECK(be->linear(be, x, &hidden, rb->fc2_w, rb->fc2_b, EP_RESIDUAL));
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

/* x * (1 + a) + b with [a | b] = mapper(t) + mapper_<cond>(emb(0)) for each cond, in order. */
sc_status unet_timestep_forward(const unet_ctx *ctx, const unet_timestep_block *tb, int n_conds, sc_tensor *x,
                                const sc_tensor *t_emb)
{
    sc_backend *be = ctx->be;
    const int64_t B = x->shape[0], C = x->shape[3];
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor a, b;
    sc_status s;
    CHECK(unet_tmp(ctx, 2, (int64_t[]){B, C}, &a));
    CHECK(unet_tmp(ctx, 2, (int64_t[]){B, C}, &b));
    CHECK(be->linear(be, &a, t_emb, tb->wa, tb->ba, SC_EPILOGUE_PLAIN));
    CHECK(be->linear(be, &b, t_emb, tb->wb, tb->bb, SC_EPILOGUE_PLAIN));
    for (int n = 0; n < n_conds; n++) {
        CHECK(be->add_channel_vector(be, &a, tb->extra_a[n]));
        CHECK(be->add_channel_vector(be, &b, tb->extra_b[n]));
    }
    CHECK(be->scale_shift(be, x, x, &a, &b));
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

sc_status unet_timestep_precompute(const unet_ctx *ctx, unet_timestep_block *tb, int n_conds, int c_r)
{
    sc_backend *be = ctx->be;
    if (n_conds == 0)
        return SC_OK;
    size_t mark = sc_arena_mark(ctx->arena);
    sc_status s;
    float *emb0 = malloc((size_t)c_r * sizeof *emb0);
    sc_tensor e;
    if (!emb0)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a timestep embedding");
    /* the conditionings are never given, so each is embedded from zeros_like(r) */
    unet_timestep_embedding(0.0f, c_r, emb0);
    CHECK(unet_tmp(ctx, 2, (int64_t[]){1, c_r}, &e));
    const sc_tensor emb0_host = sc_tensor_desc(SC_CPU, SC_F32, emb0, 2, e.shape);
    CHECK(sc_tensor_copy(&e, &emb0_host)); /* converted to the backend's dtype */
    for (int n = 0; n < n_conds; n++) {
        const int64_t c = tb->cond_wa[n]->shape[0];
        sc_tensor **halves[2] = {&tb->extra_a[n], &tb->extra_b[n]};
        const sc_tensor *w[2] = {tb->cond_wa[n], tb->cond_wb[n]}, *bias[2] = {tb->cond_ba[n], tb->cond_bb[n]};
        for (int h = 0; h < 2; h++) {
            CHECK(sc_tensor_empty(be->device, be->dtype, 1, &c, halves[h]));
            sc_tensor row = sc_tensor_reshaped(*halves[h], 2, (int64_t[]){1, c});
            CHECK(be->linear(be, &row, &e, w[h], bias[h], SC_EPILOGUE_PLAIN));
        }
        sc_tensor_release(tb->cond_wa[n]);
        sc_tensor_release(tb->cond_ba[n]);
        sc_tensor_release(tb->cond_wb[n]);
        sc_tensor_release(tb->cond_bb[n]);
        tb->cond_wa[n] = tb->cond_ba[n] = tb->cond_wb[n] = tb->cond_bb[n] = NULL;
    }
done:
    free(emb0);
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

/* x + to_out(SDPA(to_q(n), to_k(kv), to_v(kv))) with n = LN(x) as tokens and kv = [n; cond tokens]
 * (or the cond tokens alone without self-attention). The cond tokens' keys and values are
 * prepared once per run (k_cond, v_cond [B, N, inner]). */
sc_status unet_attn_forward(const unet_ctx *ctx, const unet_attn_block *ab, sc_tensor *x, const sc_tensor *k_cond,
                            const sc_tensor *v_cond)
{
    sc_backend *be = ctx->be;
    const int64_t B = x->shape[0], T = x->shape[1] * x->shape[2], C = x->shape[3], N = k_cond->shape[1];
    const int64_t inner = ab->inner;
    const float scale = (float)(1.0 / sqrt((double)(inner / ab->heads)));
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor tokens = sc_tensor_reshaped(x, 3, (int64_t[]){B, T, C});
    sc_tensor norm, q, kx, vx, k, v, o;
    const sc_tensor *keys = k_cond, *values = v_cond;
    sc_status s;
    CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T, C}, &norm));
    CHECK(be->layernorm(be, &norm, &tokens, NULL, NULL, UNET_LN_EPS));
    CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T, inner}, &q));
    CHECK(be->linear(be, &q, &norm, ab->q_w, ab->q_b, SC_EPILOGUE_PLAIN));
    if (ab->self_attn) { /* image tokens first, then the conditioning tokens */
        CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T, inner}, &kx));
        CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T, inner}, &vx));
        CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T + N, inner}, &k));
        CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T + N, inner}, &v));
        CHECK(be->linear(be, &kx, &norm, ab->k_w, ab->k_b, SC_EPILOGUE_PLAIN));
        CHECK(be->linear(be, &vx, &norm, ab->v_w, ab->v_b, SC_EPILOGUE_PLAIN));
        CHECK(be->concat(be, &k, &kx, k_cond, 1));
        CHECK(be->concat(be, &v, &vx, v_cond, 1));
        keys = &k;
        values = &v;
    }
    CHECK(unet_tmp(ctx, 3, (int64_t[]){B, T, inner}, &o));
    CHECK(be->attention(be, &o, &q, keys, values, ab->heads, scale, 0, NULL));
    CHECK(be->linear(be, &tokens, &o, ab->o_w, ab->o_b, EP_RESIDUAL));
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}
