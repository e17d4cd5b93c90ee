/* StableCascadeUNet config checks, the block/level structure built from a config, and the
 * timestep-ratio embedding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_unet_internal.h"

static int level_has(const sc_unet_config *cfg, int level, sc_unet_block_kind kind)
{
    for (int t = 0; t < cfg->n_types[level]; t++)
        if (cfg->types[level][t] == kind)
            return 1;
    return 0;
}

sc_status sc_unet_config_validate(const sc_unet_config *cfg)
{
    if (cfg->levels < 1 || cfg->levels > SC_UNET_MAX_LEVELS)
        return sc_set_error(SC_ERR_VALUE, "UNet config: block_out_channels must have 1 to %d entries, got %d",
                            SC_UNET_MAX_LEVELS, cfg->levels);
    /* Upper bounds far above the published configs (2048 channels, 28 layers, 3 repeats) keep the
     * structure's size arithmetic in range and refuse configs no weight file could match before
     * they allocate gigabytes of bookkeeping. */
    enum { MAX_CHANNELS = 1 << 16, MAX_LAYERS = 1024, MAX_REPEATS = 64 };
    const struct {
        const char *name;
        int value, min, max;
    } scalars[] = {
        {"in_channels", cfg->in_channels, 1, MAX_CHANNELS},
        {"out_channels", cfg->out_channels, 1, MAX_CHANNELS},
        {"timestep_ratio_embedding_dim", cfg->c_r, 1, MAX_CHANNELS},
        {"patch_size", cfg->patch_size, 1, 64},
        {"conditioning_dim", cfg->c_cond, 1, MAX_CHANNELS},
        {"clip_text_pooled_in_channels", cfg->clip_text_pooled_in, 1, MAX_CHANNELS},
        {"clip_seq", cfg->clip_seq, 1, 1024},
        {"kernel_size", cfg->kernel_size, 1, 63},
        {"clip_text_in_channels", cfg->clip_text_in, 0, MAX_CHANNELS},
        {"clip_image_in_channels", cfg->clip_image_in, 0, MAX_CHANNELS},
        {"effnet_in_channels", cfg->effnet_in, 0, MAX_CHANNELS},
        {"pixel_mapper_in_channels", cfg->pixel_in, 0, MAX_CHANNELS},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (scalars[i].value < scalars[i].min || scalars[i].value > scalars[i].max)
            return sc_set_error(SC_ERR_VALUE, "UNet config: %s must be between %d and %d, got %d", scalars[i].name,
                                scalars[i].min, scalars[i].max, scalars[i].value);
    /* diffusers divides by (c_r / 2 - 1) */
    if (cfg->c_r / 2 == 1)
        return sc_set_error(SC_ERR_VALUE, "UNet config: timestep_ratio_embedding_dim %d gives a zero division "
                            "in the sinusoidal embedding (use 1 or >= 4)", cfg->c_r);
    /* An even kernel makes the depthwise conv's output one pixel larger than its input, so the
     * residual add fails in diffusers too. */
    if (cfg->kernel_size % 2 == 0)
        return sc_set_error(SC_ERR_VALUE, "UNet config: kernel_size must be odd, got %d", cfg->kernel_size);
    for (int i = 0; i < cfg->levels; i++) {
        int c = cfg->channels[i];
        if (c < 1 || c > MAX_CHANNELS)
            return sc_set_error(SC_ERR_VALUE, "UNet config: block_out_channels[%d] must be between 1 and %d, got %d",
                                i, MAX_CHANNELS, c);
        if (cfg->down_layers[i] < 0 || cfg->down_layers[i] > MAX_LAYERS)
            return sc_set_error(SC_ERR_VALUE, "UNet config: down_num_layers_per_block[%d] must be between 0 and %d, "
                                "got %d", i, MAX_LAYERS, cfg->down_layers[i]);
        if (cfg->up_layers[i] < 0 || cfg->up_layers[i] > MAX_LAYERS)
            return sc_set_error(SC_ERR_VALUE, "UNet config: up_num_layers_per_block[%d] must be between 0 and %d, "
                                "got %d", i, MAX_LAYERS, cfg->up_layers[i]);
        if (cfg->down_repeats[i] > MAX_REPEATS)
            return sc_set_error(SC_ERR_VALUE, "UNet config: down_blocks_repeat_mappers[%d] must be at most %d, got %d",
                                i, MAX_REPEATS, cfg->down_repeats[i]);
        if (cfg->up_repeats[i] > MAX_REPEATS)
            return sc_set_error(SC_ERR_VALUE, "UNet config: up_blocks_repeat_mappers[%d] must be at most %d, got %d",
                                i, MAX_REPEATS, cfg->up_repeats[i]);
        if (cfg->n_types[i] < 0 || cfg->n_types[i] > SC_UNET_MAX_BLOCK_TYPES)
            return sc_set_error(SC_ERR_VALUE, "UNet config: block_types_per_layer[%d] must have at most %d entries",
                                i, SC_UNET_MAX_BLOCK_TYPES);
        for (int t = 0; t < cfg->n_types[i]; t++)
            if (cfg->types[i][t] < SC_UNET_RESBLOCK || cfg->types[i][t] > SC_UNET_ATTNBLOCK)
                return sc_set_error(SC_ERR_VALUE, "UNet config: block_types_per_layer[%d][%d] is not a block type",
                                    i, t);
        if (level_has(cfg, i, SC_UNET_ATTNBLOCK) && (cfg->heads[i] < 1 || cfg->heads[i] > c))
            return sc_set_error(SC_ERR_VALUE,
                                "UNet config: num_attention_heads[%d] must be between 1 and the level's %d "
                                "channels for a level with attention, got %d", i, c, cfg->heads[i]);
    }
    if (cfg->has_switch_level && cfg->n_switch < cfg->levels - 1)
        return sc_set_error(SC_ERR_VALUE, "UNet config: switch_level needs at least %d entries, got %d",
                            cfg->levels - 1, cfg->n_switch);
    if (cfg->n_conds < 0 || cfg->n_conds > SC_UNET_MAX_CONDS)
        return sc_set_error(SC_ERR_VALUE, "UNet config: at most %d timestep_conditioning_type entries",
                            SC_UNET_MAX_CONDS);
    for (int n = 0; n < cfg->n_conds; n++) {
        const char *name = cfg->conds[n];
        size_t len = strnlen(name, SC_UNET_COND_NAME_MAX);
        if (len == 0 || len == SC_UNET_COND_NAME_MAX || strchr(name, '.'))
            return sc_set_error(SC_ERR_VALUE,
                                "UNet config: timestep_conditioning_type[%d] must be a non-empty name of at most "
                                "%d characters without '.'", n, SC_UNET_COND_NAME_MAX - 1);
        for (int m = 0; m < n; m++)
            if (!strcmp(cfg->conds[m], name))
                return sc_set_error(SC_ERR_VALUE, "UNet config: timestep_conditioning_type lists '%s' twice", name);
    }
    return SC_OK;
}

static sc_status alloc_level(const sc_unet_config *cfg, int level, int layers, int repeats, int skip_level,
                             int *n_attn, unet_path_level *p)
{
    p->level = level;
    p->c = cfg->channels[level];
    p->n_blocks = layers * cfg->n_types[level];
    p->n_repeat_mappers = repeats > 1 ? repeats - 1 : 0;
    p->blocks = calloc((size_t)p->n_blocks + 1, sizeof *p->blocks);
    p->rep_w = calloc((size_t)p->n_repeat_mappers + 1, sizeof *p->rep_w);
    p->rep_b = calloc((size_t)p->n_repeat_mappers + 1, sizeof *p->rep_b);
    if (!p->blocks || !p->rep_w || !p->rep_b)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for the UNet structure");
    for (int n = 0; n < p->n_blocks; n++) {
        unet_block *b = &p->blocks[n];
        b->kind = cfg->types[level][n % cfg->n_types[level]];
        if (b->kind == SC_UNET_RESBLOCK && n == 0 && skip_level)
            b->u.res.c_skip = p->c;
        if (b->kind == SC_UNET_ATTNBLOCK) {
            b->u.attn.heads = cfg->heads[level];
            b->u.attn.inner = cfg->heads[level] * (p->c / cfg->heads[level]);
            b->u.attn.self_attn = cfg->self_attn[level];
            b->u.attn.index = (*n_attn)++;
        }
    }
    if (level > 0) {
        p->has_scaler = 1;
        p->scaler_is_conv = !cfg->has_switch_level;
        p->resample = cfg->has_switch_level && cfg->switch_level[level - 1];
    }
    return SC_OK;
}

sc_status unet_alloc_structure(const sc_unet_config *cfg, sc_unet **out)
{
    SC_TRY(sc_unet_config_validate(cfg));
    sc_unet *u = calloc(1, sizeof *u);
    if (!u)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for the UNet");
    u->cfg = *cfg;
    int L = cfg->levels;
    sc_status s = SC_OK;
    for (int i = 0; i < L && s == SC_OK; i++)
        s = alloc_level(cfg, i, cfg->down_layers[i], cfg->down_repeats[i], 0, &u->n_attn, &u->down[i]);
    for (int j = 0; j < L && s == SC_OK; j++) {
        int i = L - 1 - j;
        /* diffusers gives the first block of every up level but the deepest a skip input */
        s = alloc_level(cfg, i, cfg->up_layers[j], cfg->up_repeats[j], i < L - 1, &u->n_attn, &u->up[j]);
    }
    if (s != SC_OK) {
        unet_free_structure(u);
        return s;
    }
    *out = u;
    return SC_OK;
}

static void free_level(unet_path_level *p)
{
    free(p->blocks);
    free(p->rep_w);
    free(p->rep_b);
}

void unet_free_structure(sc_unet *u)
{
    if (!u)
        return;
    for (int i = 0; i < SC_UNET_MAX_LEVELS; i++) {
        free_level(&u->down[i]);
        free_level(&u->up[i]);
    }
    free(u);
}

void unet_timestep_embedding(float ratio, int c_r, float *out)
{
    /* diffusers: r * 10000 in fp32; f[j] = exp(j * -(ln(10000) / (half - 1))) in fp32 with the
     * factor rounded to fp32 first; sin(r f) then cos(r f); a zero column when c_r is odd. */
    const int half = c_r / 2;
    const float r = ratio * 10000.0f;
    const float step = half > 1 ? (float)(-log(10000.0) / (half - 1)) : 0.0f;
    for (int j = 0; j < half; j++) {
        float arg = r * expf((float)j * step);
        out[j] = sinf(arg);
        out[half + j] = cosf(arg);
    }
    if (c_r % 2)
        out[c_r - 1] = 0.0f;
}
