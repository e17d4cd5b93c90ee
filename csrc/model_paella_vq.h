/* Stage A: the decoder of diffusers' PaellaVQModel (spec/clip_stage_a_weights.md §3).
 *
 * decode(latents) = out_block(up_blocks(latents)), exactly `PaellaVQModel.decode(h).sample`:
 * no quantization (force_not_quantize), no scale_factor multiplication, no clamp; the
 * pipeline does those. The encoder and the codebook are in every checkpoint; they are
 * validated (names and shapes) but never read. */
#ifndef SC_MODEL_PAELLA_VQ_H
#define SC_MODEL_PAELLA_VQ_H

#include "sc_loader.h"

/* diffusers' PaellaVQModel constructor arguments (config.json). */
typedef struct {
    int in_channels;
    int out_channels;
    int up_down_scale_factor; /* PixelUnshuffle/PixelShuffle factor */
    int levels;               /* channel levels embed_dim / 2^(levels-1-i), i < levels */
    int bottleneck_blocks;    /* residual blocks at the deepest level of the decoder */
    int embed_dim;
    int latent_channels;
    int num_vq_embeddings;    /* codebook rows (validated, unused by decode) */
    float scale_factor;       /* latent scaling the PIPELINE applies before decode */
} sc_paella_vq_config;

/* ValueError naming the first field that is out of range. */
sc_status sc_paella_vq_check_config(const sc_paella_vq_config *cfg);

/* How the codebook tensor is named: diffusers `vquantizer.embedding.weight`, the original
 * stage_a.safetensors `vquantizer.codebook.weight`. All other names are shared. */
typedef enum { SC_PAELLA_NAMING_DIFFUSERS = 0, SC_PAELLA_NAMING_ORIGINAL } sc_paella_vq_naming;

/* Called once per tensor of a checkpoint, in state-dict order, with its torch shape. */
typedef sc_status (*sc_paella_vq_key_fn)(void *ctx, const char *name, int ndim, const int64_t *shape,
                                         sc_dtype dtype);

/* The tensors a checkpoint of this config holds: exactly what sc_paella_vq_load requires. */
sc_status sc_paella_vq_list_keys(const sc_paella_vq_config *cfg, sc_paella_vq_naming naming,
                                 sc_paella_vq_key_fn fn, void *ctx);

typedef struct sc_paella_vq sc_paella_vq;

/* Load the decoder from `w` onto `be` (dense weights stored as `storage` says, sc_loader.h),
 * validating every tensor of the checkpoint (either codebook naming is accepted). Missing,
 * misshapen or unexpected tensors are ValueErrors naming file and tensor. */
sc_status sc_paella_vq_load(const sc_paella_vq_config *cfg, const sc_weights *w, sc_backend *be,
                            sc_weight_storage storage, sc_paella_vq **out);
void sc_paella_vq_free(sc_paella_vq *m);

const sc_paella_vq_config *sc_paella_vq_get_config(const sc_paella_vq *m);
/* Image pixels per latent pixel along each axis: up_down_scale_factor * 2^(levels-1). */
int sc_paella_vq_upscale(const sc_paella_vq_config *cfg);

/* The image shape decode produces for `latents` [B, latent_channels, h, w]: ValueError for a
 * wrong shape, MemoryError for a size no memory holds. */
sc_status sc_paella_vq_image_shape(const sc_paella_vq_config *cfg, const sc_tensor *latents, int64_t shape[4]);

/* latents [B, latent_channels, h, w] -> image [B, out_channels, h*f, w*f] (f = upscale), both
 * NCHW float tensors on any device (copied through the backend's arena).
 *
 * Activation memory (backend dtype, from the model's arena; nothing is allocated from the
 * second call of a size on): two ping-pong buffers of the largest level activation
 * (B*h*w*f^2/s^2 * embed_dim/2^(levels-1) values each), the MLP hidden of one row tile
 * (at most the MLP tile, SC_PAELLA_MLP_TILE values by default; the full B*H*W*4C hidden is never materialised), the
 * output in three layouts and the input in two. At 1024^2 (256^2 latents, B=1, default
 * config, float32): 2 x 201 MB + 50 MB + 38 MB ~ 490 MB. */
sc_status sc_paella_vq_decode(sc_paella_vq *m, const sc_tensor *latents, sc_tensor *image);

/* Default values of the MLP's hidden row tile (8192 pixels at 384 channels: 50 MB in float32). */
#define SC_PAELLA_MLP_TILE (8192 * 1536)

/* Set how many hidden values one MLP tile holds (rounded down to whole pixels, at least one
 * pixel): a backend's GEMM efficiency against memory; tests use a tiny one to run many tiles. */
sc_status sc_paella_vq_set_mlp_tile(sc_paella_vq *m, int64_t values);

/* Bytes the loaded parameters take on the backend's device. */
size_t sc_paella_vq_param_bytes(const sc_paella_vq *m);
/* Allocations the model's arena has made so far (steady-state decodes add none). */
size_t sc_paella_vq_arena_alloc_count(const sc_paella_vq *m);
size_t sc_paella_vq_arena_bytes(const sc_paella_vq *m);
/* Free the activation arena between decodes (the next decode allocates it again). */
void sc_paella_vq_free_workspace(sc_paella_vq *m);

#endif
