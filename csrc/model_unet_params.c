/* StableCascadeUNet parameters: one walk over the config lists every tensor in diffusers'
 * state_dict order (name, torch shape, op layout, destination); loading, key listing and freeing
 * all run that walk, so they cannot disagree. The original single-file naming is a mapping of
 * each diffusers name (spec §4.3, the inverse of diffusers'
 * convert_stable_cascade_unet_single_file_to_diffusers). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_unet_internal.h"

#define NAME_MAX_LEN 256

typedef struct {
    char name[NAME_MAX_LEN]; /* diffusers naming */
    int ndim;
    int64_t shape[4];        /* torch shape of the whole tensor */
    sc_weight_layout layout;
    int64_t row0, rows;      /* a row block of the tensor; rows == 0: all of it */
    sc_tensor **dst;
} unet_param;

typedef sc_status (*param_fn)(void *ctx, const unet_param *p);

typedef struct {
    const sc_unet_config *cfg;
    param_fn fn;
    void *ctx;
} walker;

static sc_status emit(walker *w, sc_tensor **dst, sc_weight_layout layout, int ndim, const int64_t *shape,
                      int64_t row0, int64_t rows, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static sc_status emit(walker *w, sc_tensor **dst, sc_weight_layout layout, int ndim, const int64_t *shape,
                      int64_t row0, int64_t rows, const char *fmt, ...)
{
    unet_param p = {.ndim = ndim, .layout = layout, .row0 = row0, .rows = rows, .dst = dst};
    memcpy(p.shape, shape, (size_t)ndim * sizeof shape[0]);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p.name, sizeof p.name, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof p.name)
        return sc_set_error(SC_ERR_VALUE, "UNet parameter name too long");
    return w->fn(w->ctx, &p);
}

/* Format a tensor-name prefix; fails on names longer than the buffer. */
static sc_status vprefix(char *dst, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, NAME_MAX_LEN, fmt, ap);
    if (n < 0 || n >= NAME_MAX_LEN)
        return sc_set_error(SC_ERR_VALUE, "UNet parameter name too long");
    return SC_OK;
}

/* weight + bias of a Linear [out, in] or a 1x1 Conv2d [out, in, 1, 1] named by `fmt`. */
static sc_status linear(walker *w, sc_tensor **wt, sc_tensor **b, int64_t out, int64_t in, int conv1x1,
                        const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static sc_status linear(walker *w, sc_tensor **wt, sc_tensor **b, int64_t out, int64_t in, int conv1x1,
                        const char *fmt, ...)
{
    char prefix[NAME_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    sc_status s = vprefix(prefix, fmt, ap);
    va_end(ap);
    SC_TRY(s);
    int64_t ws[4] = {out, in, 1, 1};
    SC_TRY(emit(w, wt, conv1x1 ? SC_LAYOUT_CONV1X1 : SC_LAYOUT_MATRIX, conv1x1 ? 4 : 2, ws, 0, 0, "%s.weight",
                prefix));
    return emit(w, b, SC_LAYOUT_AS_IS, 1, &out, 0, 0, "%s.bias", prefix);
}

/* A Linear(in -> 2c) split into its first and second c output rows (a and b of a timestep block). */
static sc_status linear_halves(walker *w, sc_tensor **wa, sc_tensor **ba, sc_tensor **wb, sc_tensor **bb, int64_t c,
                               int64_t in, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static sc_status linear_halves(walker *w, sc_tensor **wa, sc_tensor **ba, sc_tensor **wb, sc_tensor **bb, int64_t c,
                               int64_t in, const char *fmt, ...)
{
    char prefix[NAME_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    sc_status s = vprefix(prefix, fmt, ap);
    va_end(ap);
    SC_TRY(s);
    int64_t ws[2] = {2 * c, in}, bs = 2 * c;
    SC_TRY(emit(w, wa, SC_LAYOUT_MATRIX, 2, ws, 0, c, "%s.weight", prefix));
    SC_TRY(emit(w, wb, SC_LAYOUT_MATRIX, 2, ws, c, c, "%s.weight", prefix));
    SC_TRY(emit(w, ba, SC_LAYOUT_AS_IS, 1, &bs, 0, c, "%s.bias", prefix));
    return emit(w, bb, SC_LAYOUT_AS_IS, 1, &bs, c, c, "%s.bias", prefix);
}

static sc_status block_params(walker *w, unet_block *b, int c, const char *prefix)
{
    const sc_unet_config *cfg = w->cfg;
    if (b->kind == SC_UNET_RESBLOCK) {
        unet_resblock *r = &b->u.res;
        int64_t k = cfg->kernel_size;
        int64_t dws[4] = {c, 1, k, k}, gs[4] = {1, 1, 1, 4 * (int64_t)c}, cc = c;
        SC_TRY(emit(w, &r->dw_w, SC_LAYOUT_DEPTHWISE, 4, dws, 0, 0, "%s.depthwise.weight", prefix));
        SC_TRY(emit(w, &r->dw_b, SC_LAYOUT_AS_IS, 1, &cc, 0, 0, "%s.depthwise.bias", prefix));
        SC_TRY(linear(w, &r->fc1_w, &r->fc1_b, 4 * c, c + r->c_skip, 0, "%s.channelwise.0", prefix));
        SC_TRY(emit(w, &r->grn_g, SC_LAYOUT_AS_IS, 4, gs, 0, 0, "%s.channelwise.2.gamma", prefix));
        SC_TRY(emit(w, &r->grn_b, SC_LAYOUT_AS_IS, 4, gs, 0, 0, "%s.channelwise.2.beta", prefix));
        return linear(w, &r->fc2_w, &r->fc2_b, c, 4 * c, 0, "%s.channelwise.4", prefix);
    }
    if (b->kind == SC_UNET_TIMESTEPBLOCK) {
        unet_timestep_block *t = &b->u.ts;
        SC_TRY(linear_halves(w, &t->wa, &t->ba, &t->wb, &t->bb, c, cfg->c_r, "%s.mapper", prefix));
        for (int n = 0; n < cfg->n_conds; n++)
            SC_TRY(linear_halves(w, &t->cond_wa[n], &t->cond_ba[n], &t->cond_wb[n], &t->cond_bb[n], c, cfg->c_r,
                                 "%s.mapper_%s", prefix, cfg->conds[n]));
        return SC_OK;
    }
    unet_attn_block *a = &b->u.attn;
    SC_TRY(linear(w, &a->q_w, &a->q_b, a->inner, c, 0, "%s.attention.to_q", prefix));
    SC_TRY(linear(w, &a->k_w, &a->k_b, a->inner, c, 0, "%s.attention.to_k", prefix));
    SC_TRY(linear(w, &a->v_w, &a->v_b, a->inner, c, 0, "%s.attention.to_v", prefix));
    SC_TRY(linear(w, &a->o_w, &a->o_b, c, a->inner, 0, "%s.attention.to_out.0", prefix));
    return linear(w, &a->kv_w, &a->kv_b, c, cfg->c_cond, 0, "%s.kv_mapper.1", prefix);
}

static sc_status path_blocks(walker *w, unet_path_level *p, const char *path, int index)
{
    char prefix[NAME_MAX_LEN];
    for (int n = 0; n < p->n_blocks; n++) {
        snprintf(prefix, sizeof prefix, "%s.%d.%d", path, index, n);
        SC_TRY(block_params(w, &p->blocks[n], p->c, prefix));
    }
    return SC_OK;
}

static sc_status repeat_mappers(walker *w, unet_path_level *p, const char *path, int index)
{
    for (int m = 0; m < p->n_repeat_mappers; m++)
        SC_TRY(linear(w, &p->rep_w[m], &p->rep_b[m], p->c, p->c, 1, "%s.%d.%d", path, index, m));
    return SC_OK;
}

/* down_downscalers.{i}.1 maps c_{i-1} -> c_i; up_upscalers.{j}.1 maps c_i -> c_{i-1}. */
static sc_status scaler(walker *w, unet_path_level *p, int c_in, int c_out, int up, int index)
{
    const char *path = up ? "up_upscalers" : "down_downscalers";
    if (!p->scaler_is_conv)
        return linear(w, &p->scale_w, &p->scale_b, c_out, c_in, 1, "%s.%d.1.blocks.%d", path, index, up ? 1 : 0);
    /* Conv2d [out, in, 2, 2]; ConvTranspose2d [in, out, 2, 2] */
    int64_t ws[4] = {up ? c_in : c_out, up ? c_out : c_in, 2, 2}, bs = c_out;
    SC_TRY(emit(w, &p->scale_w, up ? SC_LAYOUT_CONV_T : SC_LAYOUT_CONV, 4, ws, 0, 0, "%s.%d.1.weight", path, index));
    return emit(w, &p->scale_b, SC_LAYOUT_AS_IS, 1, &bs, 0, 0, "%s.%d.1.bias", path, index);
}

/* Registration order of diffusers' module tree = the state_dict order. */
static sc_status walk(sc_unet *u, param_fn fn, void *ctx)
{
    const sc_unet_config *cfg = &u->cfg;
    walker w = {cfg, fn, ctx};
    const int L = cfg->levels, c0 = cfg->channels[0];
    if (cfg->effnet_in) {
        SC_TRY(linear(&w, &u->eff_w1, &u->eff_b1, 4 * c0, cfg->effnet_in, 1, "effnet_mapper.0"));
        SC_TRY(linear(&w, &u->eff_w2, &u->eff_b2, c0, 4 * c0, 1, "effnet_mapper.2"));
    }
    if (cfg->pixel_in) {
        SC_TRY(linear(&w, &u->pix_w1, &u->pix_b1, 4 * c0, cfg->pixel_in, 1, "pixels_mapper.0"));
        SC_TRY(linear(&w, &u->pix_w2, &u->pix_b2, c0, 4 * c0, 1, "pixels_mapper.2"));
    }
    SC_TRY(linear(&w, &u->pooled_w, &u->pooled_b, (int64_t)cfg->c_cond * cfg->clip_seq, cfg->clip_text_pooled_in, 0,
                  "clip_txt_pooled_mapper"));
    if (cfg->clip_text_in)
        SC_TRY(linear(&w, &u->txt_w, &u->txt_b, cfg->c_cond, cfg->clip_text_in, 0, "clip_txt_mapper"));
    if (cfg->clip_image_in)
        SC_TRY(linear(&w, &u->img_w, &u->img_b, (int64_t)cfg->c_cond * cfg->clip_seq, cfg->clip_image_in, 0,
                      "clip_img_mapper"));
    SC_TRY(linear(&w, &u->embed_w, &u->embed_b, c0, (int64_t)cfg->in_channels * cfg->patch_size * cfg->patch_size, 1,
                  "embedding.1"));
    for (int i = 0; i < L; i++)
        SC_TRY(path_blocks(&w, &u->down[i], "down_blocks", i));
    for (int i = 1; i < L; i++)
        SC_TRY(scaler(&w, &u->down[i], cfg->channels[i - 1], cfg->channels[i], 0, i));
    for (int i = 0; i < L; i++)
        SC_TRY(repeat_mappers(&w, &u->down[i], "down_repeat_mappers", i));
    for (int j = 0; j < L; j++)
        SC_TRY(path_blocks(&w, &u->up[j], "up_blocks", j));
    for (int j = 0; j < L - 1; j++)
        SC_TRY(scaler(&w, &u->up[j], cfg->channels[L - 1 - j], cfg->channels[L - 2 - j], 1, j));
    for (int j = 0; j < L; j++)
        SC_TRY(repeat_mappers(&w, &u->up[j], "up_repeat_mappers", j));
    return linear(&w, &u->clf_w, &u->clf_b, (int64_t)cfg->out_channels * cfg->patch_size * cfg->patch_size, c0, 1,
                  "clf.1");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Rewrite `p` (diffusers naming) into the original single-file naming, in place. */
static sc_status to_original(const sc_unet_config *cfg, unet_param *p)
{
    static const char *const qkv[3] = {"attention.to_q.", "attention.to_k.", "attention.to_v."};
    for (int k = 0; k < 3; k++) {
        char *at = strstr(p->name, qkv[k]);
        if (!at)
            continue;
        int is_weight = ends_with(p->name, ".weight");
        int64_t inner = p->shape[0];
        strcpy(at, is_weight ? "attention.attn.in_proj_weight" : "attention.attn.in_proj_bias");
        p->shape[0] = 3 * inner;
        /* a row block of the fused tensor: q rows first, then k, then v */
        if (p->rows == 0)
            p->rows = inner;
        p->row0 += k * inner;
        return SC_OK;
    }
    char *at = strstr(p->name, "attention.to_out.0.");
    if (at) {
        char tail[NAME_MAX_LEN];
        snprintf(tail, sizeof tail, "%s", at + strlen("attention.to_out.0."));
        snprintf(at, NAME_MAX_LEN - (size_t)(at - p->name), "attention.attn.out_proj.%s", tail);
        return SC_OK;
    }
    /* Stage B calls the pooled-text mapper clip_mapper; diffusers tells the stages apart by
     * clip_txt_mapper, which only Stage C has. */
    if (!cfg->clip_text_in && !strncmp(p->name, "clip_txt_pooled_mapper.", 23)) {
        const int is_weight = ends_with(p->name, ".weight");
        snprintf(p->name, sizeof p->name, "clip_mapper.%s", is_weight ? "weight" : "bias");
    }
    return SC_OK;
}

/* ---- key listing ---- */

typedef struct {
    const sc_unet_config *cfg;
    sc_unet_naming naming;
    sc_unet_key_fn fn;
    void *ctx;
} list_ctx;

static sc_status list_one(void *ctx, const unet_param *param)
{
    list_ctx *l = ctx;
    unet_param p = *param;
    if (l->naming == SC_UNET_NAMING_ORIGINAL)
        SC_TRY(to_original(l->cfg, &p));
    /* A tensor split into row blocks is listed once, at its first block. */
    if (p.row0 != 0)
        return SC_OK;
    return l->fn(l->ctx, p.name, p.ndim, p.shape);
}

sc_status sc_unet_list_keys(const sc_unet_config *cfg, sc_unet_naming naming, sc_unet_key_fn fn, void *ctx)
{
    if (naming != SC_UNET_NAMING_DIFFUSERS && naming != SC_UNET_NAMING_ORIGINAL)
        return sc_set_error(SC_ERR_VALUE, "UNet key listing: naming must be diffusers or original");
    sc_unet *u = NULL;
    SC_TRY(unet_alloc_structure(cfg, &u));
    list_ctx l = {cfg, naming, fn, ctx};
    sc_status s = walk(u, list_one, &l);
    unet_free_structure(u);
    return s;
}

/* ---- loading ---- */

typedef struct {
    const sc_unet_config *cfg;
    sc_unet_naming naming;
    sc_loader *loader;
} load_ctx;

static sc_status load_one(void *ctx, const unet_param *param)
{
    load_ctx *l = ctx;
    unet_param p = *param;
    if (l->naming == SC_UNET_NAMING_ORIGINAL)
        SC_TRY(to_original(l->cfg, &p));
    if (p.rows)
        SC_TRY(sc_loader_get_rows(l->loader, p.name, p.ndim, p.shape, p.row0, p.rows, p.layout, p.dst));
    else
        SC_TRY(sc_loader_get(l->loader, p.name, p.ndim, p.shape, p.layout, p.dst));
    /* The only 4-D tensors loaded as they are: GRN gamma/beta [1,1,1,D], which the op takes as [D]. */
    if (param->layout == SC_LAYOUT_AS_IS && p.ndim == 4) {
        sc_tensor *t = *p.dst;
        t->shape[0] = sc_tensor_numel(t);
        t->ndim = 1;
    }
    return SC_OK;
}

static sc_status release_one(void *ctx, const unet_param *p)
{
    (void)ctx;
    sc_tensor_release(*p->dst);
    *p->dst = NULL;
    return SC_OK;
}

static void release_timestep_extras(sc_unet *u)
{
    for (int j = 0; j < 2 * SC_UNET_MAX_LEVELS; j++) {
        unet_path_level *p = j < SC_UNET_MAX_LEVELS ? &u->down[j] : &u->up[j - SC_UNET_MAX_LEVELS];
        for (int n = 0; n < p->n_blocks; n++) {
            if (p->blocks[n].kind != SC_UNET_TIMESTEPBLOCK)
                continue;
            for (int k = 0; k < SC_UNET_MAX_CONDS; k++) {
                unet_timestep_block *t = &p->blocks[n].u.ts;
                sc_tensor_release(t->extra_a[k]);
                sc_tensor_release(t->extra_b[k]);
                t->extra_a[k] = t->extra_b[k] = NULL;
            }
        }
    }
}

void sc_unet_free(sc_unet *u)
{
    if (!u)
        return;
    walk(u, release_one, NULL);
    release_timestep_extras(u);
    sc_arena_destroy(u->arena);
    unet_free_structure(u);
}

/* AUTO naming: the original files are recognised by their fused attention projections or
 * (Stage B) by clip_mapper. */
static sc_unet_naming detect_naming(const sc_weights *w)
{
    if (sc_weights_find(w, "clip_mapper.weight"))
        return SC_UNET_NAMING_ORIGINAL;
    size_t n = sc_weights_count(w);
    for (size_t i = 0; i < n; i++)
        if (ends_with(sc_weights_entry(w, i)->name, ".attention.attn.in_proj_weight"))
            return SC_UNET_NAMING_ORIGINAL;
    return SC_UNET_NAMING_DIFFUSERS;
}

/* mapper_<cond>(emb(0)) of every timestep block, then drop the cond mapper weights. */
static sc_status precompute_timestep_extras(sc_unet *u)
{
    unet_ctx ctx = {u->be, u->arena};
    for (int j = 0; j < 2 * u->cfg.levels; j++) {
        unet_path_level *p = j < u->cfg.levels ? &u->down[j] : &u->up[j - u->cfg.levels];
        for (int n = 0; n < p->n_blocks; n++)
            if (p->blocks[n].kind == SC_UNET_TIMESTEPBLOCK)
                SC_TRY(unet_timestep_precompute(&ctx, &p->blocks[n].u.ts, u->cfg.n_conds, u->cfg.c_r));
    }
    return sc_arena_reset(u->arena);
}

sc_status sc_unet_load(const sc_unet_config *cfg, const sc_weights *w, sc_unet_naming naming, sc_backend *be,
                       sc_weight_storage storage, sc_unet **out)
{
    if (cfg->kernel_size != 3)
        return sc_set_error(SC_ERR_VALUE,
                            "UNet config: kernel_size %d is not supported (the op table has a 3x3 depthwise conv "
                            "only)", cfg->kernel_size);
    sc_unet *u = NULL;
    SC_TRY(unet_alloc_structure(cfg, &u));
    u->be = be;
    load_ctx l = {&u->cfg, naming == SC_UNET_NAMING_AUTO ? detect_naming(w) : naming, NULL};
    sc_status s = sc_arena_create(be->device, 0, &u->arena);
    if (s == SC_OK)
        s = sc_loader_create(w, be, storage, &l.loader);
    if (s == SC_OK)
        s = walk(u, load_one, &l);
    if (s == SC_OK)
        s = sc_loader_finish(l.loader);
    if (l.loader)
        u->param_bytes = sc_loader_bytes(l.loader);
    sc_loader_free(l.loader);
    if (s == SC_OK)
        s = precompute_timestep_extras(u);
    if (s != SC_OK) {
        sc_unet_free(u);
        return s;
    }
    *out = u;
    return SC_OK;
}

const sc_unet_config *sc_unet_config_of(const sc_unet *u) { return &u->cfg; }

size_t sc_unet_param_bytes(const sc_unet *u) { return u->param_bytes; }
size_t sc_unet_arena_alloc_count(const sc_unet *u) { return sc_arena_alloc_count(u->arena); }
void sc_unet_free_workspace(sc_unet *u) { sc_arena_free_memory(u->arena); }
