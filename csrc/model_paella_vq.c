/* Stage A decoder (PaellaVQModel): parameter walk, loading, and the decode pass. */
#include "model_paella_vq.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_arena.h"

#define LN_EPS 1e-6f
#define NAME_MAX_LEN 128

/* MixingResidualBlock(c): LayerNorms without affine, six scalar gammas (spec §3.3). */
typedef struct {
    float gammas[6];
    sc_tensor *dw_w, *dw_b;   /* depthwise 3x3 after ReplicationPad2d(1): [3, 3, c], [c] */
    sc_tensor *fc1_w, *fc1_b; /* Linear c -> 4c: [4c, c], [4c] */
    sc_tensor *fc2_w, *fc2_b; /* Linear 4c -> c: [c, 4c], [c] */
} paella_mrb;

/* One entry of up_blocks.1..: a residual block, or the ConvTranspose2d(k4, s2, p1) that
 * doubles the resolution and halves the channels on the way to the next level. */
typedef struct {
    int is_upsample;
    paella_mrb mrb;
    sc_tensor *up_w, *up_b; /* [4, 4, c_out, c_in], [c_out] */
} paella_up_block;

struct sc_paella_vq {
    sc_paella_vq_config cfg;
    sc_backend *be;
    sc_arena *arena;
    sc_tensor *in_w, *in_b; /* up_blocks.0.0: 1x1 conv latent -> deepest level, as linear */
    int n_up;
    paella_up_block *up;     /* up_blocks.1 .. up_blocks.n_up */
    sc_tensor *out_w, *out_b; /* out_block.0: 1x1 conv -> out_channels * s^2, as linear */
    int64_t mlp_tile;         /* values of the MLP hidden processed at once */
    size_t param_bytes;
};

/* Channels of level i (0 = full resolution): diffusers' embed_dim // 2**(levels-1-i). */
static int level_channels(const sc_paella_vq_config *cfg, int i) { return cfg->embed_dim >> (cfg->levels - 1 - i); }

sc_status sc_paella_vq_check_config(const sc_paella_vq_config *cfg)
{
    struct {
        const char *name;
        int value, min, max;
    } fields[] = {
        {"in_channels", cfg->in_channels, 1, 4096},
        {"out_channels", cfg->out_channels, 1, 4096},
        {"up_down_scale_factor", cfg->up_down_scale_factor, 1, 16},
        {"levels", cfg->levels, 1, 16},
        {"bottleneck_blocks", cfg->bottleneck_blocks, 0, 1024},
        {"embed_dim", cfg->embed_dim, 1, 1 << 16},
        {"latent_channels", cfg->latent_channels, 1, 4096},
        {"num_vq_embeddings", cfg->num_vq_embeddings, 1, 1 << 24},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value < fields[i].min || fields[i].value > fields[i].max)
            return sc_set_error(SC_ERR_VALUE, "PaellaVQModel config: %s must be in [%d, %d], got %d", fields[i].name,
                                fields[i].min, fields[i].max, fields[i].value);
    if (level_channels(cfg, 0) < 1)
        return sc_set_error(SC_ERR_VALUE, "PaellaVQModel config: embed_dim %d is too small for %d levels (needs >= %d)",
                            cfg->embed_dim, cfg->levels, 1 << (cfg->levels - 1));
    if (!(cfg->scale_factor > 0.0f) || !isfinite(cfg->scale_factor))
        return sc_set_error(SC_ERR_VALUE, "PaellaVQModel config: scale_factor must be a positive finite number, got %g",
                            (double)cfg->scale_factor);
    return SC_OK;
}

int sc_paella_vq_upscale(const sc_paella_vq_config *cfg) { return cfg->up_down_scale_factor << (cfg->levels - 1); }

/* ------------------------------------------------------------------------------------------
 * The parameter walk: one description of the checkpoint, used both to list the expected
 * tensors and to load them, so the two can never disagree. */

typedef struct {
    sc_paella_vq_naming naming;
    /* listing */
    sc_paella_vq_key_fn list;
    void *list_ctx;
    /* loading (list == NULL) */
    sc_loader *loader;
} walker;

typedef enum { PARAM_EXPECT, PARAM_LOAD, PARAM_HOST } param_use;

/* Visit one tensor. PARAM_LOAD uploads it in `layout` into *dst, PARAM_HOST reads it to
 * host floats at `host`, PARAM_EXPECT only checks it is there with this shape. */
static sc_status visit(walker *w, param_use use, sc_dtype dtype, int ndim, const int64_t *shape,
                       sc_weight_layout layout, sc_tensor **dst, float *host, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

static sc_status visit(walker *w, param_use use, sc_dtype dtype, int ndim, const int64_t *shape,
                       sc_weight_layout layout, sc_tensor **dst, float *host, const char *fmt, ...)
{
    char name[NAME_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (w->list)
        return w->list(w->list_ctx, name, ndim, shape, dtype);
    switch (use) { /* a missing tensor is an error naming the weight file */
    case PARAM_LOAD:
        return sc_loader_get(w->loader, name, ndim, shape, layout, dst);
    case PARAM_HOST:
        return sc_loader_get_host_f32(w->loader, name, ndim, shape, host);
    default:
        return sc_loader_expect(w->loader, name, ndim, shape);
    }
}

#define DIMS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* Tensors that are validated but not used by decode. */
#define EXPECT(w, dims, ...) visit(w, PARAM_EXPECT, SC_F32, dims, SC_LAYOUT_AS_IS, NULL, NULL, __VA_ARGS__)

/* A field of a block being loaded, or NULL when only checking/listing. */
#define FIELD(b, f) ((b) ? &(b)->f : NULL)

/* MixingResidualBlock `prefix.index` with c channels; `b` NULL for an encoder block. */
static sc_status walk_mrb(walker *w, paella_mrb *b, int64_t c, const char *prefix, int index)
{
    const param_use use = b ? PARAM_LOAD : PARAM_EXPECT;
    SC_TRY(visit(w, b ? PARAM_HOST : PARAM_EXPECT, SC_F32, DIMS(6), SC_LAYOUT_AS_IS, NULL, b ? b->gammas : NULL,
                 "%s.%d.gammas", prefix, index));
    SC_TRY(visit(w, use, SC_F32, DIMS(c, 1, 3, 3), SC_LAYOUT_DEPTHWISE, FIELD(b, dw_w), NULL,
                 "%s.%d.depthwise.1.weight", prefix, index));
    SC_TRY(visit(w, use, SC_F32, DIMS(c), SC_LAYOUT_AS_IS, FIELD(b, dw_b), NULL, "%s.%d.depthwise.1.bias", prefix,
                 index));
    SC_TRY(visit(w, use, SC_F32, DIMS(4 * c, c), SC_LAYOUT_MATRIX, FIELD(b, fc1_w), NULL, "%s.%d.channelwise.0.weight",
                 prefix, index));
    SC_TRY(visit(w, use, SC_F32, DIMS(4 * c), SC_LAYOUT_AS_IS, FIELD(b, fc1_b), NULL, "%s.%d.channelwise.0.bias",
                 prefix, index));
    SC_TRY(visit(w, use, SC_F32, DIMS(c, 4 * c), SC_LAYOUT_MATRIX, FIELD(b, fc2_w), NULL, "%s.%d.channelwise.2.weight",
                 prefix, index));
    return visit(w, use, SC_F32, DIMS(c), SC_LAYOUT_AS_IS, FIELD(b, fc2_b), NULL, "%s.%d.channelwise.2.bias", prefix,
                 index);
}

/* in_block, down_blocks (with the final BatchNorm's buffers) and the codebook. */
static sc_status walk_encoder(walker *w, const sc_paella_vq_config *cfg)
{
    const int64_t s2 = (int64_t)cfg->up_down_scale_factor * cfg->up_down_scale_factor;
    const int64_t lat = cfg->latent_channels, c0 = level_channels(cfg, 0);
    SC_TRY(EXPECT(w, DIMS(c0, cfg->in_channels * s2, 1, 1), "in_block.1.weight"));
    SC_TRY(EXPECT(w, DIMS(c0), "in_block.1.bias"));
    int idx = 0;
    for (int i = 0; i < cfg->levels; i++) {
        int64_t c = level_channels(cfg, i);
        if (i > 0) {
            SC_TRY(EXPECT(w, DIMS(c, level_channels(cfg, i - 1), 4, 4), "down_blocks.%d.weight", idx));
            SC_TRY(EXPECT(w, DIMS(c), "down_blocks.%d.bias", idx));
            idx++;
        }
        SC_TRY(walk_mrb(w, NULL, c, "down_blocks", idx++));
    }
    SC_TRY(EXPECT(w, DIMS(lat, level_channels(cfg, cfg->levels - 1), 1, 1), "down_blocks.%d.0.weight", idx));
    static const char *const bn[] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++)
        SC_TRY(EXPECT(w, DIMS(lat), "down_blocks.%d.1.%s", idx, bn[k]));
    SC_TRY(visit(w, PARAM_EXPECT, SC_I64, 0, NULL, SC_LAYOUT_AS_IS, NULL, NULL, "down_blocks.%d.1.num_batches_tracked",
                 idx));
    return EXPECT(w, DIMS(cfg->num_vq_embeddings, lat), "vquantizer.%s.weight",
                  w->naming == SC_PAELLA_NAMING_ORIGINAL ? "codebook" : "embedding");
}

/* Number of up_blocks after up_blocks.0: the residual blocks and the upsamplers. */
static int count_up_blocks(const sc_paella_vq_config *cfg) { return cfg->bottleneck_blocks + 2 * (cfg->levels - 1); }

/* up_blocks and out_block; `m` NULL when listing. */
static sc_status walk_decoder(walker *w, const sc_paella_vq_config *cfg, sc_paella_vq *m)
{
    const int64_t s2 = (int64_t)cfg->up_down_scale_factor * cfg->up_down_scale_factor;
    const int L = cfg->levels;
    const param_use use = m ? PARAM_LOAD : PARAM_EXPECT;
    SC_TRY(visit(w, use, SC_F32, DIMS(level_channels(cfg, L - 1), cfg->latent_channels, 1, 1), SC_LAYOUT_CONV1X1,
                 FIELD(m, in_w), NULL, "up_blocks.0.0.weight"));
    SC_TRY(visit(w, use, SC_F32, DIMS(level_channels(cfg, L - 1)), SC_LAYOUT_AS_IS, FIELD(m, in_b), NULL,
                 "up_blocks.0.0.bias"));
    int idx = 1;
    for (int i = 0; i < L; i++) {
        int64_t c = level_channels(cfg, L - 1 - i);
        for (int j = 0; j < (i == 0 ? cfg->bottleneck_blocks : 1); j++, idx++)
            SC_TRY(walk_mrb(w, m ? &m->up[idx - 1].mrb : NULL, c, "up_blocks", idx));
        if (i < L - 1) {
            paella_up_block *b = m ? &m->up[idx - 1] : NULL;
            int64_t c_next = level_channels(cfg, L - 2 - i);
            if (b)
                b->is_upsample = 1;
            SC_TRY(visit(w, use, SC_F32, DIMS(c, c_next, 4, 4), SC_LAYOUT_CONV_T, FIELD(b, up_w), NULL,
                         "up_blocks.%d.weight", idx));
            SC_TRY(visit(w, use, SC_F32, DIMS(c_next), SC_LAYOUT_AS_IS, FIELD(b, up_b), NULL, "up_blocks.%d.bias",
                         idx));
            idx++;
        }
    }
    SC_TRY(visit(w, use, SC_F32, DIMS(cfg->out_channels * s2, level_channels(cfg, 0), 1, 1), SC_LAYOUT_CONV1X1,
                 FIELD(m, out_w), NULL, "out_block.0.weight"));
    return visit(w, use, SC_F32, DIMS(cfg->out_channels * s2), SC_LAYOUT_AS_IS, FIELD(m, out_b), NULL,
                 "out_block.0.bias");
}

sc_status sc_paella_vq_list_keys(const sc_paella_vq_config *cfg, sc_paella_vq_naming naming, sc_paella_vq_key_fn fn,
                                 void *ctx)
{
    SC_TRY(sc_paella_vq_check_config(cfg));
    walker w = {.naming = naming, .list = fn, .list_ctx = ctx};
    SC_TRY(walk_encoder(&w, cfg));
    return walk_decoder(&w, cfg, NULL);
}

/* ------------------------------------------------------------------------------------------
 * Loading */

static void free_mrb(paella_mrb *b)
{
    sc_tensor_release(b->dw_w);
    sc_tensor_release(b->dw_b);
    sc_tensor_release(b->fc1_w);
    sc_tensor_release(b->fc1_b);
    sc_tensor_release(b->fc2_w);
    sc_tensor_release(b->fc2_b);
}

void sc_paella_vq_free(sc_paella_vq *m)
{
    if (!m)
        return;
    sc_tensor_release(m->in_w);
    sc_tensor_release(m->in_b);
    for (int i = 0; m->up && i < m->n_up; i++) {
        free_mrb(&m->up[i].mrb);
        sc_tensor_release(m->up[i].up_w);
        sc_tensor_release(m->up[i].up_b);
    }
    free(m->up);
    sc_tensor_release(m->out_w);
    sc_tensor_release(m->out_b);
    sc_arena_destroy(m->arena);
    free(m);
}

static sc_status load_all(sc_paella_vq *m, sc_loader *l)
{
    /* The original stage_a.safetensors names the codebook differently; accept either. */
    walker wk = {
        .naming = sc_loader_has(l, "vquantizer.codebook.weight") && !sc_loader_has(l, "vquantizer.embedding.weight")
                      ? SC_PAELLA_NAMING_ORIGINAL
                      : SC_PAELLA_NAMING_DIFFUSERS,
        .loader = l,
    };
    SC_TRY(walk_encoder(&wk, &m->cfg));
    SC_TRY(walk_decoder(&wk, &m->cfg, m));
    return sc_loader_finish(l);
}

sc_status sc_paella_vq_load(const sc_paella_vq_config *cfg, const sc_weights *w, sc_backend *be,
                            sc_weight_storage storage, sc_paella_vq **out)
{
    SC_TRY(sc_paella_vq_check_config(cfg));
    sc_paella_vq *m = calloc(1, sizeof *m);
    if (!m)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for a PaellaVQModel");
    m->cfg = *cfg;
    m->be = be;
    m->mlp_tile = SC_PAELLA_MLP_TILE;
    m->n_up = count_up_blocks(cfg);
    m->up = calloc((size_t)m->n_up + 1, sizeof *m->up);
    sc_loader *l = NULL;
    sc_status s = m->up ? SC_OK : sc_set_error(SC_ERR_NOMEM, "out of host memory for a PaellaVQModel");
    if (s == SC_OK)
        s = sc_arena_create(be->device, 0, &m->arena);
    if (s == SC_OK)
        s = sc_loader_create(w, be, storage, &l);
    if (s == SC_OK)
        s = load_all(m, l);
    if (l)
        m->param_bytes = sc_loader_bytes(l);
    sc_loader_free(l);
    if (s != SC_OK) {
        sc_paella_vq_free(m);
        return s;
    }
    *out = m;
    return SC_OK;
}

const sc_paella_vq_config *sc_paella_vq_get_config(const sc_paella_vq *m) { return &m->cfg; }
size_t sc_paella_vq_param_bytes(const sc_paella_vq *m) { return m->param_bytes; }
size_t sc_paella_vq_arena_alloc_count(const sc_paella_vq *m) { return sc_arena_alloc_count(m->arena); }
size_t sc_paella_vq_arena_bytes(const sc_paella_vq *m) { return sc_arena_capacity(m->arena); }
void sc_paella_vq_free_workspace(sc_paella_vq *m) { sc_arena_free_memory(m->arena); }

sc_status sc_paella_vq_set_mlp_tile(sc_paella_vq *m, int64_t values)
{
    if (values < 1)
        return sc_set_error(SC_ERR_VALUE, "PaellaVQModel: the MLP tile must hold at least 1 value, got %lld",
                            (long long)values);
    m->mlp_tile = values;
    return SC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Decode */

/* A descriptor over `rows` rows of width `cols` starting at row `row0` of a row-major buffer. */
static sc_tensor row_slice(const sc_backend *be, void *data, int64_t row0, int64_t rows, int64_t cols)
{
    char *p = (char *)data + (size_t)(row0 * cols) * sc_dtype_size(be->dtype);
    return sc_tensor_desc(be->device, be->dtype, p, 2, (int64_t[]){rows, cols});
}

/* x <- MRB(x) in place; `t` is a scratch of x's shape, `hidden` holds `tile_rows` x 4c. */
static sc_status mrb_forward(sc_backend *be, const paella_mrb *b, sc_tensor *x, sc_tensor *t, void *hidden,
                             int64_t tile_rows)
{
    const float *g = b->gammas;
    SC_TRY(be->layernorm_scalar_affine(be, t, x, g[0], g[1], LN_EPS));
    SC_TRY(be->depthwise3x3(be, x, t, b->dw_w, b->dw_b, SC_PAD_REPLICATE, (sc_epilogue){SC_ACT_NONE, g[2], 1}));
    SC_TRY(be->layernorm_scalar_affine(be, t, x, g[3], g[4], LN_EPS));
    /* x += g5 * (W2 gelu(W1 t + b1) + b2), one row tile at a time so the 4c-wide hidden of the
     * whole image never exists. */
    const int64_t rows = sc_tensor_rows(x), c = sc_tensor_dim(x, -1), hid = sc_tensor_dim(b->fc1_w, 0);
    for (int64_t r0 = 0; r0 < rows; r0 += tile_rows) {
        int64_t n = rows - r0 < tile_rows ? rows - r0 : tile_rows;
        sc_tensor ti = row_slice(be, t->data, r0, n, c);
        sc_tensor xi = row_slice(be, x->data, r0, n, c);
        sc_tensor hi = row_slice(be, hidden, 0, n, hid);
        SC_TRY(be->linear(be, &hi, &ti, b->fc1_w, b->fc1_b, (sc_epilogue){SC_ACT_GELU, 1.0f, 0}));
        SC_TRY(be->linear(be, &xi, &hi, b->fc2_w, b->fc2_b, (sc_epilogue){SC_ACT_NONE, g[5], 1}));
    }
    return SC_OK;
}

/* Pixels per MLP tile at c channels: as many as `tile` hidden values hold, at least one. */
static int64_t mlp_tile_rows(int64_t tile, int64_t rows, int64_t c)
{
    int64_t t = tile / (4 * c);
    if (t < 1)
        t = 1;
    return t < rows ? t : rows;
}

static sc_status decode_pass(sc_paella_vq *m, const sc_tensor *latents, sc_tensor *image)
{
    sc_backend *be = m->be;
    sc_arena *a = m->arena;
    const sc_paella_vq_config *cfg = &m->cfg;
    const int L = cfg->levels, s = cfg->up_down_scale_factor;
    const int64_t B = latents->shape[0], h = latents->shape[2], w = latents->shape[3];
    const size_t esize = sc_dtype_size(be->dtype);

    sc_tensor lat_nchw, lat;
    SC_TRY(sc_arena_tensor(a, be->dtype, 4, latents->shape, &lat_nchw));
    SC_TRY(sc_tensor_copy(&lat_nchw, latents));
    SC_TRY(sc_arena_tensor(a, be->dtype, 4, (int64_t[]){B, h, w, cfg->latent_channels}, &lat));
    SC_TRY(be->nchw_to_nhwc(be, &lat, &lat_nchw));

    /* Level activations ping-pong between two buffers sized for the largest one (resolution
     * doubles while channels halve, so usually the last); the other buffer is the MRB scratch
     * and then the upsampler's output. */
    int64_t max_numel = 0, max_hidden = 0;
    for (int l = 0; l < L; l++) {
        int64_t c = level_channels(cfg, L - 1 - l), rows = B * (h << l) * (w << l);
        if (rows * c > max_numel)
            max_numel = rows * c;
        if (mlp_tile_rows(m->mlp_tile, rows, c) * 4 * c > max_hidden)
            max_hidden = mlp_tile_rows(m->mlp_tile, rows, c) * 4 * c;
    }
    void *buf[2], *hidden;
    SC_TRY(sc_arena_alloc(a, (size_t)max_numel * esize, &buf[0]));
    SC_TRY(sc_arena_alloc(a, (size_t)max_numel * esize, &buf[1]));
    SC_TRY(sc_arena_alloc(a, (size_t)max_hidden * esize, &hidden));

    int cur = 0;
    int64_t H = h, W = w, c = level_channels(cfg, L - 1);
    sc_tensor x = sc_tensor_desc(be->device, be->dtype, buf[cur], 4, (int64_t[]){B, H, W, c});
    SC_TRY(be->linear(be, &x, &lat, m->in_w, m->in_b, SC_EPILOGUE_PLAIN));
    for (int i = 0; i < m->n_up; i++) {
        const paella_up_block *b = &m->up[i];
        if (b->is_upsample) {
            int64_t c_next = sc_tensor_dim(b->up_w, 2);
            sc_tensor y = sc_tensor_desc(be->device, be->dtype, buf[1 - cur], 4, (int64_t[]){B, 2 * H, 2 * W, c_next});
            SC_TRY(be->conv_transpose2d(be, &y, &x, b->up_w, b->up_b, 2, 1, SC_EPILOGUE_PLAIN));
            cur = 1 - cur, H *= 2, W *= 2, c = c_next;
            x = y;
        } else {
            sc_tensor t = sc_tensor_desc(be->device, be->dtype, buf[1 - cur], 4, x.shape);
            SC_TRY(mrb_forward(be, &b->mrb, &x, &t, hidden, mlp_tile_rows(m->mlp_tile, sc_tensor_rows(&x), c)));
        }
    }

    const int64_t co = cfg->out_channels;
    sc_tensor packed, shuffled, out_nchw;
    SC_TRY(sc_arena_tensor(a, be->dtype, 4, (int64_t[]){B, H, W, co * s * s}, &packed));
    SC_TRY(be->linear(be, &packed, &x, m->out_w, m->out_b, SC_EPILOGUE_PLAIN));
    SC_TRY(sc_arena_tensor(a, be->dtype, 4, (int64_t[]){B, H * s, W * s, co}, &shuffled));
    SC_TRY(be->pixel_shuffle(be, &shuffled, &packed, s));
    SC_TRY(sc_arena_tensor(a, be->dtype, 4, image->shape, &out_nchw));
    SC_TRY(be->nhwc_to_nchw(be, &out_nchw, &shuffled));
    return sc_tensor_copy(image, &out_nchw);
}

sc_status sc_paella_vq_image_shape(const sc_paella_vq_config *cfg, const sc_tensor *latents, int64_t shape[4])
{
    if (latents->ndim != 4 || latents->shape[1] != cfg->latent_channels || latents->shape[0] < 1 ||
        latents->shape[2] < 1 || latents->shape[3] < 1) {
        char got[128];
        sc_format_shape(latents, got, sizeof got);
        return sc_set_error(SC_ERR_VALUE,
                            "PaellaVQModel.decode: latents must have shape [B, %d, h, w] with B, h, w >= 1, got %s",
                            cfg->latent_channels, got);
    }
    /* Every activation holds at most embed_dim values per output pixel: refuse sizes no memory
     * holds before any size arithmetic could overflow. */
    const double f = sc_paella_vq_upscale(cfg);
    const double values = (double)latents->shape[0] * (double)latents->shape[2] * (double)latents->shape[3] * f * f *
                          (cfg->embed_dim + cfg->out_channels);
    if (values > 0x1p46)
        return sc_set_error(SC_ERR_NOMEM, "PaellaVQModel.decode: latents of shape [%lld, %d, %lld, %lld] are too large",
                            (long long)latents->shape[0], cfg->latent_channels, (long long)latents->shape[2],
                            (long long)latents->shape[3]);
    shape[0] = latents->shape[0];
    shape[1] = cfg->out_channels;
    shape[2] = latents->shape[2] * (int64_t)f;
    shape[3] = latents->shape[3] * (int64_t)f;
    return SC_OK;
}

sc_status sc_paella_vq_decode(sc_paella_vq *m, const sc_tensor *latents, sc_tensor *image)
{
    int64_t want[4];
    SC_TRY(sc_paella_vq_image_shape(&m->cfg, latents, want));
    SC_TRY(sc_check_shape(image, "PaellaVQModel.decode output", 4, want));
    sc_status s = decode_pass(m, latents, image);
    sc_status r = sc_arena_reset(m->arena);
    return s != SC_OK ? s : r;
}
