/* StableCascadeUNet forward (spec §2.9): per-run conditioning, the stem, the down and up paths
 * with skips and repeat mappers, and the output head. Activations are channels-last arena
 * tensors; the arena is reset at the end of every pass. */
#include <stdlib.h>
#include <string.h>

#include "model_unet_internal.h"

#define CHECK(expr)            \
    do {                       \
        s = (expr);            \
        if (s != SC_OK)        \
            goto done;         \
    } while (0)

/* ---- argument checks ---- */

static sc_status check_input(const sc_backend *be, const sc_tensor *t, const char *what, int min_ndim, int max_ndim)
{
    if (t->device != be->device || t->dtype != be->dtype)
        return sc_set_error(SC_ERR_VALUE, "%s must be a %s %s tensor, got %s %s", what, sc_device_name(be->device),
                            sc_dtype_name(be->dtype), sc_device_name(t->device), sc_dtype_name(t->dtype));
    if (t->ndim < min_ndim || t->ndim > max_ndim) {
        if (min_ndim == max_ndim)
            return sc_set_error(SC_ERR_VALUE, "%s must have %d dimensions, got %d", what, min_ndim, t->ndim);
        return sc_set_error(SC_ERR_VALUE, "%s must have %d or %d dimensions, got %d", what, min_ndim, max_ndim,
                            t->ndim);
    }
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 1)
            return sc_set_error(SC_ERR_VALUE, "%s has an empty dimension %d", what, i);
    return SC_OK;
}

static sc_status check_dim(const sc_tensor *t, const char *what, int dim, int64_t want, const char *meaning)
{
    if (t->shape[dim] != want)
        return sc_set_error(SC_ERR_VALUE, "%s: dimension %d is %lld, expected %lld (%s)", what, dim,
                            (long long)t->shape[dim], (long long)want, meaning);
    return SC_OK;
}

/* Token inputs [B, S, C] (or [B, C] as one token when `allow_2d`) viewed as [B, S, C]. */
static sc_status token_view(const sc_backend *be, const sc_tensor *t, const char *what, int allow_2d, int64_t batch,
                            int64_t channels, const char *field, sc_tensor *view)
{
    SC_TRY(check_input(be, t, what, allow_2d ? 2 : 3, 3));
    SC_TRY(check_dim(t, what, 0, batch, "the batch of clip_text_pooled"));
    SC_TRY(check_dim(t, what, t->ndim - 1, channels, field));
    *view = t->ndim == 3 ? sc_tensor_reshaped(t, 3, t->shape)
                         : sc_tensor_reshaped(t, 3, (int64_t[]){t->shape[0], 1, t->shape[1]});
    return SC_OK;
}

/* ---- conditioning ---- */

void sc_unet_cond_free(sc_unet_cond *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_attn; i++) {
        sc_tensor_release(c->k[i]);
        sc_tensor_release(c->v[i]);
    }
    free(c->k);
    free(c->v);
    sc_tensor_release(c->effnet);
    sc_tensor_release(c->pixels_mapped);
    sc_tensor_release(c->effnet_term);
    sc_tensor_release(c->pixels_term);
    free(c);
}

int64_t sc_unet_cond_batch(const sc_unet_cond *c) { return c->batch; }

static sc_status heap_tensor(const sc_backend *be, int ndim, const int64_t *shape, sc_tensor **out)
{
    return sc_tensor_empty(be->device, be->dtype, ndim, shape, out);
}

/* LN(concat(clip_txt_mapper(txt), pooled tokens, image tokens)) or LN(pooled tokens) (spec §2.4). */
static sc_status clip_tokens(const unet_ctx *ctx, const sc_unet *u, const sc_tensor *pooled, const sc_tensor *txt,
                             const sc_tensor *img, sc_tensor *clip)
{
    sc_backend *be = ctx->be;
    const sc_unet_config *cfg = &u->cfg;
    const int64_t B = pooled->shape[0], S = pooled->shape[1], seq = cfg->clip_seq, cc = cfg->c_cond;
    sc_tensor p;
    SC_TRY(unet_tmp(ctx, 3, (int64_t[]){B, S, seq * cc}, &p));
    SC_TRY(be->linear(be, &p, pooled, u->pooled_w, u->pooled_b, SC_EPILOGUE_PLAIN));
    /* each input token's features [j*c_cond, (j+1)*c_cond) become token s*clip_seq + j */
    p = sc_tensor_reshaped(&p, 3, (int64_t[]){B, S * seq, cc});
    if (!txt) {
        *clip = p;
    } else {
        const int64_t Tt = txt->shape[1], Si = img->shape[1];
        sc_tensor t, i, tp;
        SC_TRY(unet_tmp(ctx, 3, (int64_t[]){B, Tt, cc}, &t));
        SC_TRY(unet_tmp(ctx, 3, (int64_t[]){B, Si, seq * cc}, &i));
        SC_TRY(unet_tmp(ctx, 3, (int64_t[]){B, Tt + S * seq, cc}, &tp));
        SC_TRY(unet_tmp(ctx, 3, (int64_t[]){B, Tt + (S + Si) * seq, cc}, clip));
        SC_TRY(be->linear(be, &t, txt, u->txt_w, u->txt_b, SC_EPILOGUE_PLAIN));
        SC_TRY(be->linear(be, &i, img, u->img_w, u->img_b, SC_EPILOGUE_PLAIN));
        i = sc_tensor_reshaped(&i, 3, (int64_t[]){B, Si * seq, cc});
        SC_TRY(be->concat(be, &tp, &t, &p, 1));
        SC_TRY(be->concat(be, clip, &tp, &i, 1));
    }
    return be->layernorm(be, clip, clip, NULL, NULL, UNET_LN_EPS);
}

/* The keys and values of the conditioning tokens in every attention block:
 * to_k(kv_mapper(clip)) and to_v(kv_mapper(clip)), kv_mapper = [SiLU, Linear]. */
static sc_status attention_kv(const unet_ctx *ctx, const sc_unet *u, sc_tensor *clip, sc_unet_cond *cond)
{
    sc_backend *be = ctx->be;
    const int64_t B = clip->shape[0], N = clip->shape[1];
    SC_TRY(be->activation(be, clip, clip, SC_ACT_SILU));
    for (int j = 0; j < 2 * u->cfg.levels; j++) {
        const unet_path_level *p = j < u->cfg.levels ? &u->down[j] : &u->up[j - u->cfg.levels];
        for (int n = 0; n < p->n_blocks; n++) {
            if (p->blocks[n].kind != SC_UNET_ATTNBLOCK)
                continue;
            const unet_attn_block *ab = &p->blocks[n].u.attn;
            const int64_t kv_shape[3] = {B, N, ab->inner};
            size_t mark = sc_arena_mark(ctx->arena);
            sc_tensor mapped;
            sc_status s;
            CHECK(unet_tmp(ctx, 3, (int64_t[]){B, N, p->c}, &mapped));
            CHECK(be->linear(be, &mapped, clip, ab->kv_w, ab->kv_b, SC_EPILOGUE_PLAIN));
            CHECK(heap_tensor(be, 3, kv_shape, &cond->k[ab->index]));
            CHECK(heap_tensor(be, 3, kv_shape, &cond->v[ab->index]));
            CHECK(be->linear(be, cond->k[ab->index], &mapped, ab->k_w, ab->k_b, SC_EPILOGUE_PLAIN));
            CHECK(be->linear(be, cond->v[ab->index], &mapped, ab->v_w, ab->v_b, SC_EPILOGUE_PLAIN));
        done:
            sc_arena_release_to(ctx->arena, mark);
            SC_TRY(s);
        }
    }
    return SC_OK;
}

/* LN(Linear(4c0->c0)(GELU(Linear(in->4c0)(x)))): the effnet and pixels mappers (1x1 convs). */
static sc_status mapper_1x1(const unet_ctx *ctx, const sc_tensor *x, const sc_tensor *w1, const sc_tensor *b1,
                            const sc_tensor *w2, const sc_tensor *b2, sc_tensor *out)
{
    sc_backend *be = ctx->be;
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor hidden;
    sc_status s;
    CHECK(unet_tmp(ctx, 4, (int64_t[]){x->shape[0], x->shape[1], x->shape[2], w1->shape[0]}, &hidden));
    CHECK(be->linear(be, &hidden, x, w1, b1, (sc_epilogue){SC_ACT_GELU, 1.0f, 0}));
    CHECK(be->linear(be, out, &hidden, w2, b2, SC_EPILOGUE_PLAIN));
    CHECK(be->layernorm(be, out, out, NULL, NULL, UNET_LN_EPS));
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

static sc_status prepare(const unet_ctx *ctx, const sc_unet *u, const sc_tensor *pooled, const sc_tensor *txt,
                         const sc_tensor *img, const sc_tensor *effnet, const sc_tensor *pixels, sc_unet_cond *cond)
{
    sc_backend *be = ctx->be;
    const sc_unet_config *cfg = &u->cfg;
    const int64_t B = cond->batch, c0 = cfg->channels[0];
    sc_tensor clip;
    SC_TRY(clip_tokens(ctx, u, pooled, txt, img, &clip));
    SC_TRY(attention_kv(ctx, u, &clip, cond));
    if (effnet) {
        const int64_t shape[4] = {B, effnet->shape[2], effnet->shape[3], effnet->shape[1]};
        SC_TRY(heap_tensor(be, 4, shape, &cond->effnet));
        SC_TRY(be->nchw_to_nhwc(be, cond->effnet, effnet));
    }
    if (cfg->pixel_in) { /* diffusers' default: zeros of 8x8 */
        const int64_t Hp = pixels ? pixels->shape[2] : 8, Wp = pixels ? pixels->shape[3] : 8;
        sc_tensor px;
        SC_TRY(unet_tmp(ctx, 4, (int64_t[]){B, Hp, Wp, cfg->pixel_in}, &px));
        if (pixels)
            SC_TRY(be->nchw_to_nhwc(be, &px, pixels));
        else
            SC_TRY(sc_memset_zero(be->device, px.data, sc_tensor_nbytes(&px)));
        SC_TRY(heap_tensor(be, 4, (int64_t[]){B, Hp, Wp, c0}, &cond->pixels_mapped));
        SC_TRY(mapper_1x1(ctx, &px, u->pix_w1, u->pix_b1, u->pix_w2, u->pix_b2, cond->pixels_mapped));
    }
    return SC_OK;
}

sc_status sc_unet_prepare_conditioning(sc_unet *u, const sc_tensor *clip_text_pooled, const sc_tensor *clip_text,
                                       const sc_tensor *clip_img, const sc_tensor *effnet, const sc_tensor *pixels,
                                       sc_unet_cond **out)
{
    const sc_unet_config *cfg = &u->cfg;
    sc_backend *be = u->be;
    sc_tensor pooled, txt, img;
    if (!clip_text_pooled)
        return sc_set_error(SC_ERR_VALUE, "clip_text_pooled is required");
    SC_TRY(check_input(be, clip_text_pooled, "clip_text_pooled", 2, 3));
    const int64_t B = clip_text_pooled->shape[0];
    SC_TRY(token_view(be, clip_text_pooled, "clip_text_pooled", 1, B, cfg->clip_text_pooled_in,
                      "clip_text_pooled_in_channels", &pooled));
    /* diffusers uses the text tokens only together with the image tokens */
    const int use_txt_img = clip_text && clip_img;
    if (use_txt_img) {
        if (!cfg->clip_text_in || !cfg->clip_image_in)
            return sc_set_error(SC_ERR_VALUE, "clip_text and clip_img were given but the model has no %s",
                                cfg->clip_text_in ? "clip_img_mapper" : "clip_txt_mapper");
        SC_TRY(token_view(be, clip_text, "clip_text", 0, B, cfg->clip_text_in, "clip_text_in_channels", &txt));
        SC_TRY(token_view(be, clip_img, "clip_img", 1, B, cfg->clip_image_in, "clip_image_in_channels", &img));
    }
    /* as in diffusers, effnet and pixels are ignored by a model without their mappers */
    if (!cfg->effnet_in)
        effnet = NULL;
    if (!cfg->pixel_in)
        pixels = NULL;
    if (effnet) {
        SC_TRY(check_input(be, effnet, "effnet", 4, 4));
        SC_TRY(check_dim(effnet, "effnet", 0, B, "the batch of clip_text_pooled"));
        SC_TRY(check_dim(effnet, "effnet", 1, cfg->effnet_in, "effnet_in_channels"));
    }
    if (pixels) {
        SC_TRY(check_input(be, pixels, "pixels", 4, 4));
        SC_TRY(check_dim(pixels, "pixels", 0, B, "the batch of clip_text_pooled"));
        SC_TRY(check_dim(pixels, "pixels", 1, cfg->pixel_in, "pixel_mapper_in_channels"));
    }
    sc_unet_cond *cond = calloc(1, sizeof *cond);
    if (!cond)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a UNet conditioning");
    cond->owner = u;
    cond->batch = B;
    cond->n_attn = u->n_attn;
    cond->k = calloc((size_t)u->n_attn + 1, sizeof *cond->k);
    cond->v = calloc((size_t)u->n_attn + 1, sizeof *cond->v);
    sc_status s = SC_OK;
    if (!cond->k || !cond->v)
        s = sc_set_error(SC_ERR_NOMEM, "out of host memory for a UNet conditioning");
    unet_ctx ctx = {be, u->arena};
    if (s == SC_OK)
        s = prepare(&ctx, u, &pooled, use_txt_img ? &txt : NULL, use_txt_img ? &img : NULL, effnet, pixels, cond);
    sc_status r = sc_arena_reset(u->arena);
    if (s == SC_OK)
        s = r;
    if (s != SC_OK) {
        sc_unet_cond_free(cond);
        return s;
    }
    *out = cond;
    return SC_OK;
}

/* ---- forward ---- */

/* The effnet and pixels terms at the stem's size h x w, made once per size and kept in `cond`:
 * effnet is resized before its mapper, the pixels mapper output after it (diffusers' order). */
static sc_status stem_terms(const unet_ctx *ctx, const sc_unet *u, sc_unet_cond *cond, int64_t h, int64_t w)
{
    sc_backend *be = ctx->be;
    const int64_t B = cond->batch, c0 = u->cfg.channels[0];
    const int64_t shape[4] = {B, h, w, c0};
    if (cond->effnet && !(cond->effnet_term && cond->effnet_term->shape[1] == h && cond->effnet_term->shape[2] == w)) {
        sc_tensor_release(cond->effnet_term);
        cond->effnet_term = NULL;
        size_t mark = sc_arena_mark(ctx->arena);
        sc_tensor resized;
        sc_status s;
        CHECK(heap_tensor(be, 4, shape, &cond->effnet_term));
        CHECK(unet_tmp(ctx, 4, (int64_t[]){B, h, w, cond->effnet->shape[3]}, &resized));
        CHECK(be->resize_bilinear(be, &resized, cond->effnet));
        CHECK(mapper_1x1(ctx, &resized, u->eff_w1, u->eff_b1, u->eff_w2, u->eff_b2, cond->effnet_term));
    done:
        sc_arena_release_to(ctx->arena, mark);
        SC_TRY(s);
    }
    if (cond->pixels_mapped &&
        !(cond->pixels_term && cond->pixels_term->shape[1] == h && cond->pixels_term->shape[2] == w)) {
        sc_tensor_release(cond->pixels_term);
        cond->pixels_term = NULL;
        SC_TRY(heap_tensor(be, 4, shape, &cond->pixels_term));
        SC_TRY(be->resize_bilinear(be, cond->pixels_term, cond->pixels_mapped));
    }
    return SC_OK;
}

/* PixelUnshuffle -> 1x1 conv -> LN, plus the effnet and pixels terms. */
static sc_status stem(const unet_ctx *ctx, const sc_unet *u, sc_unet_cond *cond, const sc_tensor *sample, sc_tensor *x)
{
    sc_backend *be = ctx->be;
    const sc_unet_config *cfg = &u->cfg;
    const int64_t B = sample->shape[0], H = sample->shape[2], W = sample->shape[3], p = cfg->patch_size;
    const int64_t h = H / p, w = W / p;
    SC_TRY(stem_terms(ctx, u, cond, h, w));
    SC_TRY(unet_tmp(ctx, 4, (int64_t[]){B, h, w, cfg->channels[0]}, x));
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor in, patches;
    sc_status s;
    CHECK(unet_tmp(ctx, 4, (int64_t[]){B, H, W, cfg->in_channels}, &in));
    CHECK(be->nchw_to_nhwc(be, &in, sample));
    patches = in;
    if (p > 1) {
        CHECK(unet_tmp(ctx, 4, (int64_t[]){B, h, w, cfg->in_channels * p * p}, &patches));
        CHECK(be->pixel_unshuffle(be, &patches, &in, (int)p));
    }
    CHECK(be->linear(be, x, &patches, u->embed_w, u->embed_b, SC_EPILOGUE_PLAIN));
    CHECK(be->layernorm(be, x, x, NULL, NULL, UNET_LN_EPS));
    if (cond->effnet_term)
        CHECK(be->add(be, x, x, cond->effnet_term));
    if (cond->pixels_term)
        CHECK(be->add(be, x, x, cond->pixels_term));
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

/* Spatial size after a down-scaler: a k=2 s=2 conv or a x0.5 resize both floor. */
static int64_t down_size(int64_t n, const unet_path_level *p) { return p->scaler_is_conv || p->resample ? n / 2 : n; }

/* LN then Conv2d(k=2, s=2), or LN then 1x1 conv (then x0.5 resize when switched on); the level
 * output `x` stays intact because it is also a skip. */
static sc_status downscale(const unet_ctx *ctx, const unet_path_level *p, const sc_tensor *x, sc_tensor *out)
{
    sc_backend *be = ctx->be;
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2];
    SC_TRY(unet_tmp(ctx, 4, (int64_t[]){B, down_size(H, p), down_size(W, p), p->c}, out));
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor norm, mapped;
    sc_status s;
    CHECK(unet_tmp(ctx, 4, x->shape, &norm));
    CHECK(be->layernorm(be, &norm, x, NULL, NULL, UNET_LN_EPS));
    if (p->scaler_is_conv) {
        CHECK(be->conv2d(be, out, &norm, p->scale_w, p->scale_b, 2, 0, SC_EPILOGUE_PLAIN));
    } else if (p->resample) {
        CHECK(unet_tmp(ctx, 4, (int64_t[]){B, H, W, p->c}, &mapped));
        CHECK(be->linear(be, &mapped, &norm, p->scale_w, p->scale_b, SC_EPILOGUE_PLAIN));
        CHECK(be->resize_bilinear(be, out, &mapped));
    } else {
        CHECK(be->linear(be, out, &norm, p->scale_w, p->scale_b, SC_EPILOGUE_PLAIN));
    }
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

/* LN then ConvTranspose2d(k=2, s=2), or LN then (x2 resize when switched on) a 1x1 conv.
 * `x` is dead afterwards, so the LN runs in place. */
static sc_status upscale(const unet_ctx *ctx, const unet_path_level *p, int c_out, sc_tensor *x, sc_tensor *out)
{
    sc_backend *be = ctx->be;
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], f = p->scaler_is_conv || p->resample ? 2 : 1;
    SC_TRY(unet_tmp(ctx, 4, (int64_t[]){B, f * H, f * W, c_out}, out));
    size_t mark = sc_arena_mark(ctx->arena);
    sc_tensor resized;
    sc_status s;
    CHECK(be->layernorm(be, x, x, NULL, NULL, UNET_LN_EPS));
    if (p->scaler_is_conv) {
        CHECK(be->conv_transpose2d(be, out, x, p->scale_w, p->scale_b, 2, 0, SC_EPILOGUE_PLAIN));
    } else if (p->resample) {
        CHECK(unet_tmp(ctx, 4, (int64_t[]){B, 2 * H, 2 * W, p->c}, &resized));
        CHECK(be->resize_bilinear(be, &resized, x));
        CHECK(be->linear(be, out, &resized, p->scale_w, p->scale_b, SC_EPILOGUE_PLAIN));
    } else {
        CHECK(be->linear(be, out, x, p->scale_w, p->scale_b, SC_EPILOGUE_PLAIN));
    }
done:
    sc_arena_release_to(ctx->arena, mark);
    return s;
}

/* One level's block list, run 1 + n_repeat_mappers times with a 1x1 conv between runs. The first
 * ResBlock of an up level takes the skip on every run, resizing x to the skip's size first when a
 * stride-2 round trip lost an odd row or column. */
static sc_status run_level(const unet_ctx *ctx, const sc_unet *u, sc_unet_cond *cond, const unet_path_level *p,
                           const sc_tensor *t_emb, const sc_tensor *skip, sc_tensor *x)
{
    sc_backend *be = ctx->be;
    for (int rep = 0; rep <= p->n_repeat_mappers; rep++) {
        for (int n = 0; n < p->n_blocks; n++) {
            const unet_block *b = &p->blocks[n];
            if (b->kind == SC_UNET_RESBLOCK) {
                const sc_tensor *sk = b->u.res.c_skip ? skip : NULL;
                if (sk && (x->shape[1] != sk->shape[1] || x->shape[2] != sk->shape[2])) {
                    sc_tensor resized;
                    SC_TRY(unet_tmp(ctx, 4, (int64_t[]){x->shape[0], sk->shape[1], sk->shape[2], p->c}, &resized));
                    SC_TRY(be->resize_bilinear(be, &resized, x));
                    *x = resized;
                }
                SC_TRY(unet_resblock_forward(ctx, &b->u.res, x, sk));
            } else if (b->kind == SC_UNET_TIMESTEPBLOCK) {
                SC_TRY(unet_timestep_forward(ctx, &b->u.ts, u->cfg.n_conds, x, t_emb));
            } else {
                const unet_attn_block *ab = &b->u.attn;
                SC_TRY(unet_attn_forward(ctx, ab, x, cond->k[ab->index], cond->v[ab->index]));
            }
        }
        if (rep < p->n_repeat_mappers) {
            sc_tensor mapped;
            SC_TRY(unet_tmp(ctx, 4, x->shape, &mapped));
            SC_TRY(be->linear(be, &mapped, x, p->rep_w[rep], p->rep_b[rep], SC_EPILOGUE_PLAIN));
            *x = mapped;
        }
    }
    return SC_OK;
}

/* r_embed chunk 0 for every sample (the conditioning chunks are folded into the blocks). */
static sc_status timestep_input(const unet_ctx *ctx, int c_r, int64_t B, const float *ratio, sc_tensor *t_emb)
{
    SC_TRY(unet_tmp(ctx, 2, (int64_t[]){B, c_r}, t_emb));
    float *host = malloc((size_t)(B * c_r) * sizeof *host);
    if (!host)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for the timestep embedding");
    for (int64_t b = 0; b < B; b++)
        unet_timestep_embedding(ratio[b], c_r, host + b * c_r);
    /* float32 on the host -> the backend's dtype on its device */
    const sc_tensor src = sc_tensor_desc(SC_CPU, SC_F32, host, 2, t_emb->shape);
    sc_status s = sc_tensor_copy(t_emb, &src);
    free(host);
    return s;
}

static sc_status forward_pass(const unet_ctx *ctx, const sc_unet *u, sc_unet_cond *cond, const sc_tensor *sample,
                              const float *ratio, sc_tensor *out)
{
    sc_backend *be = ctx->be;
    const sc_unet_config *cfg = &u->cfg;
    const int L = cfg->levels, p = cfg->patch_size;
    const int64_t B = sample->shape[0];
    sc_tensor t_emb, x, level_out[SC_UNET_MAX_LEVELS];
    SC_TRY(timestep_input(ctx, cfg->c_r, B, ratio, &t_emb));
    SC_TRY(stem(ctx, u, cond, sample, &x));
    for (int i = 0; i < L; i++) {
        if (i > 0) {
            sc_tensor down;
            SC_TRY(downscale(ctx, &u->down[i], &x, &down));
            x = down;
        }
        SC_TRY(run_level(ctx, u, cond, &u->down[i], &t_emb, NULL, &x));
        level_out[i] = x;
    }
    /* x is the deepest level's output: never a skip, so it is updated in place */
    for (int j = 0; j < L; j++) {
        const int i = L - 1 - j;
        SC_TRY(run_level(ctx, u, cond, &u->up[j], &t_emb, j > 0 ? &level_out[i] : NULL, &x));
        if (i > 0) {
            sc_tensor up;
            SC_TRY(upscale(ctx, &u->up[j], cfg->channels[i - 1], &x, &up));
            x = up;
        }
    }
    /* head: LN -> 1x1 conv -> PixelShuffle -> NCHW */
    const int64_t h = x.shape[1], w = x.shape[2], co = cfg->out_channels;
    sc_tensor y, img;
    SC_TRY(be->layernorm(be, &x, &x, NULL, NULL, UNET_LN_EPS));
    SC_TRY(unet_tmp(ctx, 4, (int64_t[]){B, h, w, co * p * p}, &y));
    SC_TRY(be->linear(be, &y, &x, u->clf_w, u->clf_b, SC_EPILOGUE_PLAIN));
    img = y;
    if (p > 1) {
        SC_TRY(unet_tmp(ctx, 4, (int64_t[]){B, h * p, w * p, co}, &img));
        SC_TRY(be->pixel_shuffle(be, &img, &y, p));
    }
    return be->nhwc_to_nchw(be, out, &img);
}

/* Every level must keep at least one pixel, and a stride-2 conv needs two. */
static sc_status check_levels(const sc_unet_config *cfg, const sc_unet *u, int64_t h, int64_t w)
{
    for (int i = 1; i < cfg->levels; i++) {
        const unet_path_level *p = &u->down[i];
        int need = p->scaler_is_conv || p->resample ? 2 : 1;
        if (h < need || w < need)
            return sc_set_error(SC_ERR_VALUE,
                                "sample is too small: level %d is %lldx%lld, the down-scaler into level %d needs at "
                                "least %dx%d", i - 1, (long long)h, (long long)w, i, need, need);
        h = down_size(h, p);
        w = down_size(w, p);
    }
    return SC_OK;
}

sc_status sc_unet_forward_prepared(sc_unet *u, sc_unet_cond *cond, const sc_tensor *sample,
                                   const float *timestep_ratio, sc_tensor *out)
{
    const sc_unet_config *cfg = &u->cfg;
    sc_backend *be = u->be;
    const int p = cfg->patch_size;
    if (cond->owner != u)
        return sc_set_error(SC_ERR_VALUE, "this conditioning was prepared by another UNet");
    if (!timestep_ratio)
        return sc_set_error(SC_ERR_VALUE, "timestep_ratio is required");
    SC_TRY(check_input(be, sample, "sample", 4, 4));
    SC_TRY(check_dim(sample, "sample", 0, cond->batch, "the batch of the conditioning"));
    SC_TRY(check_dim(sample, "sample", 1, cfg->in_channels, "in_channels"));
    const int64_t B = sample->shape[0], H = sample->shape[2], W = sample->shape[3];
    if (H % p || W % p)
        return sc_set_error(SC_ERR_VALUE, "sample height and width (%lldx%lld) must be multiples of patch_size %d",
                            (long long)H, (long long)W, p);
    SC_TRY(check_levels(cfg, u, H / p, W / p));
    SC_TRY(check_input(be, out, "out", 4, 4));
    const int64_t want[4] = {B, cfg->out_channels, H, W};
    SC_TRY(sc_check_shape(out, "UNet output", 4, want));
    unet_ctx ctx = {be, u->arena};
    sc_status s = forward_pass(&ctx, u, cond, sample, timestep_ratio, out);
    sc_status r = sc_arena_reset(u->arena);
    return s != SC_OK ? s : r;
}

sc_status sc_unet_forward(sc_unet *u, const sc_tensor *sample, const float *timestep_ratio,
                          const sc_tensor *clip_text_pooled, const sc_tensor *clip_text, const sc_tensor *clip_img,
                          const sc_tensor *effnet, const sc_tensor *pixels, sc_tensor *out)
{
    sc_unet_cond *cond = NULL;
    SC_TRY(sc_unet_prepare_conditioning(u, clip_text_pooled, clip_text, clip_img, effnet, pixels, &cond));
    sc_status s = sc_unet_forward_prepared(u, cond, sample, timestep_ratio, out);
    sc_unet_cond_free(cond);
    return s;
}
