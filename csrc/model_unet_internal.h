/* StableCascadeUNet internals shared by model_unet*.c: the parameter structs, the parameter
 * walk that both loading and key listing use, and the block forwards. */
#ifndef SC_MODEL_UNET_INTERNAL_H
#define SC_MODEL_UNET_INTERNAL_H

#include "model_unet.h"
#include "sc_arena.h"
#include "sc_loader.h"

/* LayerNorm eps of every norm in the UNet, and the GRN eps (spec §3). */
#define UNET_LN_EPS 1e-6f
#define UNET_GRN_EPS 1e-6f

typedef struct {
    sc_tensor *dw_w, *dw_b;     /* depthwise [3,3,c], [c] */
    sc_tensor *fc1_w, *fc1_b;   /* channelwise.0 [4c, c + c_skip] */
    sc_tensor *grn_g, *grn_b;   /* channelwise.2 gamma/beta, flattened to [4c] */
    sc_tensor *fc2_w, *fc2_b;   /* channelwise.4 [c, 4c] */
    int c_skip;
} unet_resblock;

/* mapper (and each mapper_<cond>) is Linear(c_r -> 2c) whose output halves are a and b; they are
 * loaded as two row blocks so a and b come out as separate [B, c] tensors. The conditionings
 * sca/crp/... are always zero, so mapper_<cond>(emb(0)) is a constant computed at load time. */
typedef struct {
    sc_tensor *wa, *ba, *wb, *bb;
    sc_tensor *cond_wa[SC_UNET_MAX_CONDS], *cond_ba[SC_UNET_MAX_CONDS]; /* only during loading */
    sc_tensor *cond_wb[SC_UNET_MAX_CONDS], *cond_bb[SC_UNET_MAX_CONDS];
    sc_tensor *extra_a[SC_UNET_MAX_CONDS], *extra_b[SC_UNET_MAX_CONDS];   /* [c] each */
} unet_timestep_block;

typedef struct {
    sc_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    sc_tensor *kv_w, *kv_b; /* kv_mapper.1 [c, c_cond] */
    int heads, inner;       /* inner = heads * (c / heads) */
    int self_attn;
    int index;              /* position among the network's attention blocks (prepared K/V slot) */
} unet_attn_block;

typedef struct {
    sc_unet_block_kind kind;
    union {
        unet_resblock res;
        unet_timestep_block ts;
        unet_attn_block attn;
    } u;
} unet_block;

/* One level of the down or the up path. `scaler` is the down-scaler into this level (down path,
 * level > 0) or the up-scaler out of it (up path, level > 0); `resample` tells whether a
 * switch_level scaler also resizes by 2. */
typedef struct {
    int level, c;
    int n_blocks;
    unet_block *blocks;
    int n_repeat_mappers;
    sc_tensor **rep_w, **rep_b; /* 1x1 convs [c, c] */
    int has_scaler, scaler_is_conv, resample;
    sc_tensor *scale_w, *scale_b;
} unet_path_level;

struct sc_unet {
    sc_unet_config cfg;
    sc_backend *be;
    sc_arena *arena;
    sc_tensor *pooled_w, *pooled_b, *txt_w, *txt_b, *img_w, *img_b;
    sc_tensor *eff_w1, *eff_b1, *eff_w2, *eff_b2;
    sc_tensor *pix_w1, *pix_b1, *pix_w2, *pix_b2;
    sc_tensor *embed_w, *embed_b, *clf_w, *clf_b;
    unet_path_level down[SC_UNET_MAX_LEVELS];
    unet_path_level up[SC_UNET_MAX_LEVELS]; /* up[j] is level levels-1-j */
    int n_attn;
    size_t param_bytes; /* of the loaded parameters */
};

struct sc_unet_cond {
    const sc_unet *owner; /* the model it was prepared for */
    int64_t batch;
    int n_attn;
    sc_tensor **k, **v;          /* per attention block: [B, N_cond, inner] */
    sc_tensor *effnet;           /* [B, He, We, effnet_in] copy, or NULL */
    sc_tensor *pixels_mapped;    /* pixels_mapper(pixels) [B, Hp, Wp, c0], or NULL */
    /* Both terms resized to the stem's size, cached for the size they were made for. */
    sc_tensor *effnet_term, *pixels_term;
};

/* Build the block/level structure (no tensors yet) from a validated config. */
sc_status unet_alloc_structure(const sc_unet_config *cfg, sc_unet **out);
void unet_free_structure(sc_unet *u);

/* Working context of one forward or preparation pass. */
typedef struct {
    sc_backend *be;
    sc_arena *arena;
} unet_ctx;

sc_status unet_tmp(const unet_ctx *ctx, int ndim, const int64_t *shape, sc_tensor *out);

/* Blocks update x [B, h, w, c] in place; temporaries come from the arena and are released. */
sc_status unet_resblock_forward(const unet_ctx *ctx, const unet_resblock *rb, sc_tensor *x, const sc_tensor *skip);
sc_status unet_timestep_forward(const unet_ctx *ctx, const unet_timestep_block *tb, int n_conds, sc_tensor *x,
                                const sc_tensor *t_emb);
sc_status unet_attn_forward(const unet_ctx *ctx, const unet_attn_block *ab, sc_tensor *x, const sc_tensor *k_cond,
                            const sc_tensor *v_cond);
/* mapper_<cond>(emb(0)) for every conditioning of a timestep block (load time). */
sc_status unet_timestep_precompute(const unet_ctx *ctx, unet_timestep_block *tb, int n_conds, int c_r);

/* Sinusoidal embedding of diffusers' get_timestep_ratio_embedding for one ratio: c_r floats. */
void unet_timestep_embedding(float ratio, int c_r, float *out);

#endif
