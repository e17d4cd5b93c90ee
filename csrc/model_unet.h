/* StableCascadeUNet: the Stage C prior and the Stage B decoder (spec/stage_b_c_unet.md §1-4),
 * numerically the forward of diffusers' class of that name.
 *
 * The network is written once against the op table (sc_ops.h); activations are channels-last
 * and come from the model's arena. The API takes and returns NCHW tensors on the backend's
 * device, like diffusers' forward.
 *
 * Conditioning that does not change across denoising steps (the CLIP token mappers, the
 * key/value projections of the conditioning tokens in every attention block, the effnet and
 * pixels mapper terms) is computed once by sc_unet_prepare_conditioning; each step then runs
 * sc_unet_forward_prepared. sc_unet_forward does both and gives the same result.
 *
 * A model (and the conditionings prepared for it) is used by one call at a time. */
#ifndef SC_MODEL_UNET_H
#define SC_MODEL_UNET_H

#include "sc_loader.h"

#define SC_UNET_MAX_LEVELS 8
#define SC_UNET_MAX_BLOCK_TYPES 8
#define SC_UNET_MAX_CONDS 8
#define SC_UNET_COND_NAME_MAX 32

typedef enum { SC_UNET_RESBLOCK = 0, SC_UNET_TIMESTEPBLOCK, SC_UNET_ATTNBLOCK } sc_unet_block_kind;

/* diffusers' StableCascadeUNet config (field names in comments); dropout is inference-irrelevant.
 * Per-level arrays are indexed shallow to deep, except the two up_* arrays, which are in up-path
 * order as in the config (entry j belongs to level levels-1-j). 0 means "absent" for the
 * optional input widths. */
typedef struct {
    int in_channels;
    int out_channels;
    int c_r;        /* timestep_ratio_embedding_dim */
    int patch_size;
    int c_cond;     /* conditioning_dim */
    int levels;     /* len(block_out_channels) */
    int channels[SC_UNET_MAX_LEVELS];       /* block_out_channels */
    int heads[SC_UNET_MAX_LEVELS];          /* num_attention_heads (only read where a level has attention) */
    int down_layers[SC_UNET_MAX_LEVELS];    /* down_num_layers_per_block */
    int up_layers[SC_UNET_MAX_LEVELS];      /* up_num_layers_per_block (up-path order) */
    int down_repeats[SC_UNET_MAX_LEVELS];   /* down_blocks_repeat_mappers */
    int up_repeats[SC_UNET_MAX_LEVELS];     /* up_blocks_repeat_mappers (up-path order) */
    int n_types[SC_UNET_MAX_LEVELS];        /* block_types_per_layer */
    sc_unet_block_kind types[SC_UNET_MAX_LEVELS][SC_UNET_MAX_BLOCK_TYPES];
    int clip_text_in;        /* clip_text_in_channels, 0: no clip_txt_mapper */
    int clip_text_pooled_in; /* clip_text_pooled_in_channels */
    int clip_image_in;       /* clip_image_in_channels, 0: no clip_img_mapper */
    int clip_seq;
    int effnet_in;           /* effnet_in_channels, 0: no effnet_mapper */
    int pixel_in;            /* pixel_mapper_in_channels, 0: no pixels_mapper */
    int kernel_size;
    int self_attn[SC_UNET_MAX_LEVELS];
    int n_conds;             /* timestep_conditioning_type */
    char conds[SC_UNET_MAX_CONDS][SC_UNET_COND_NAME_MAX];
    int has_switch_level;    /* switch_level is a list (else None) */
    int n_switch;
    int switch_level[SC_UNET_MAX_LEVELS];
} sc_unet_config;

/* Checks what diffusers' constructor would reject or fail on (ValueError naming the field). */
sc_status sc_unet_config_validate(const sc_unet_config *cfg);

/* Tensor naming of a weight file: diffusers' (save_pretrained), the original Stability-AI
 * single files (stage_b*.safetensors, stage_c*.safetensors: fused attention in_proj, out_proj,
 * Stage B's clip_mapper), or AUTO: original when the file has a fused in_proj or clip_mapper. */
typedef enum { SC_UNET_NAMING_DIFFUSERS = 0, SC_UNET_NAMING_ORIGINAL, SC_UNET_NAMING_AUTO } sc_unet_naming;

/* Every tensor a checkpoint of this config holds, in state_dict order, with its torch shape.
 * `naming` is DIFFUSERS or ORIGINAL. Stops at the first non-OK return of `fn`. */
typedef sc_status (*sc_unet_key_fn)(void *ctx, const char *name, int ndim, const int64_t *shape);
sc_status sc_unet_list_keys(const sc_unet_config *cfg, sc_unet_naming naming, sc_unet_key_fn fn, void *ctx);

typedef struct sc_unet sc_unet;

/* Load every parameter (shape-checked, converted, permuted into op layouts; dense weights stored
 * as `storage` says, sc_loader.h) and reject weights with tensors the config does not have. */
sc_status sc_unet_load(const sc_unet_config *cfg, const sc_weights *w, sc_unet_naming naming, sc_backend *be,
                       sc_weight_storage storage, sc_unet **out);
void sc_unet_free(sc_unet *u);
const sc_unet_config *sc_unet_config_of(const sc_unet *u);
/* Bytes the loaded parameters take on the backend's device. */
size_t sc_unet_param_bytes(const sc_unet *u);
/* Device allocations made by the activation arena so far (constant after the first forward). */
size_t sc_unet_arena_alloc_count(const sc_unet *u);
/* Free the activation arena between forwards (the next forward allocates it again). */
void sc_unet_free_workspace(sc_unet *u);

typedef struct sc_unet_cond sc_unet_cond;

/* Per-run conditioning, NCHW/token tensors on the backend's device:
 *   clip_text_pooled [B, S, clip_text_pooled_in] (or [B, clip_text_pooled_in]: one token);
 *   clip_text [B, T, clip_text_in] and clip_img [B, S_i, clip_image_in] (or [B, clip_image_in]):
 *     used only when both are given, as in diffusers (clip_text alone is ignored);
 *   effnet [B, effnet_in, He, We] or NULL; pixels [B, pixel_in, Hp, Wp] or NULL (zeros 8x8).
 * The result holds copies; the inputs may be freed afterwards. */
sc_status sc_unet_prepare_conditioning(sc_unet *u, const sc_tensor *clip_text_pooled, const sc_tensor *clip_text,
                                       const sc_tensor *clip_img, const sc_tensor *effnet, const sc_tensor *pixels,
                                       sc_unet_cond **out);
void sc_unet_cond_free(sc_unet_cond *c);
int64_t sc_unet_cond_batch(const sc_unet_cond *c);

/* out [B, out_channels, H, W] <- UNet(sample [B, in_channels, H, W], timestep_ratio[B] on the
 * host, cond). H and W must be multiples of patch_size. */
sc_status sc_unet_forward_prepared(sc_unet *u, sc_unet_cond *cond, const sc_tensor *sample,
                                   const float *timestep_ratio, sc_tensor *out);
sc_status sc_unet_forward(sc_unet *u, const sc_tensor *sample, const float *timestep_ratio,
                          const sc_tensor *clip_text_pooled, const sc_tensor *clip_text, const sc_tensor *clip_img,
                          const sc_tensor *effnet, const sc_tensor *pixels, sc_tensor *out);

#endif
