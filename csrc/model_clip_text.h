/* The CLIP text encoder with projection (transformers CLIPTextModelWithProjection; Stable
 * Cascade uses the OpenCLIP ViT-bigG-14 text tower), written once against the op table.
 *
 * Forward (spec/clip_stage_a_weights.md §2.3): token + position embeddings, `layers` pre-LN
 * transformer layers whose self-attention is causal AND masked by the padding mask, the final
 * LayerNorm, pooling of one row per sequence (rule set by eos_token_id) and a bias-free
 * projection. Parameters are kept in torch's layout (Linear [out, in]), as sc_ops.h wants. */
#ifndef SC_MODEL_CLIP_TEXT_H
#define SC_MODEL_CLIP_TEXT_H

#include "sc_arena.h"
#include "sc_loader.h"

typedef struct {
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t intermediate_size;
    int64_t layers;
    int64_t heads;
    int64_t max_positions; /* max_position_embeddings: the longest sequence accepted */
    int64_t projection_dim;
    sc_act hidden_act;     /* SC_ACT_GELU (exact) or SC_ACT_QUICK_GELU */
    float layer_norm_eps;
    /* 2 (legacy configs): pool at argmax(ids) (the first highest id);
     * otherwise: pool at the first position holding eos_token_id (position 0 if none). */
    int64_t eos_token_id;
} sc_clip_text_config;

/* ValueError naming the offending field when the config cannot describe a model. */
sc_status sc_clip_text_config_check(const sc_clip_text_config *c);

/* The tensors a checkpoint must hold for `c`, in a fixed order: count, then (name, shape) of
 * entry i (torch shapes; ndim is 1 or 2). The loader requests exactly these. */
size_t sc_clip_text_param_count(const sc_clip_text_config *c);
sc_status sc_clip_text_param_info(const sc_clip_text_config *c, size_t i, char *name, size_t name_size, int *ndim,
                                  int64_t shape[2]);

typedef struct sc_clip_text sc_clip_text;

/* Load the parameters from `w` onto backend `be`, dense weights stored as `storage` says
 * (sc_loader.h). Missing, mis-shaped or unexpected tensors are a ValueError naming file and
 * tensor (`text_model.embeddings.position_ids`, a buffer old checkpoints carry, is accepted and
 * ignored). */
sc_status sc_clip_text_load(const sc_clip_text_config *c, const sc_weights *w, sc_backend *be,
                            sc_weight_storage storage, sc_clip_text **out);
void sc_clip_text_free(sc_clip_text *m);
const sc_clip_text_config *sc_clip_text_get_config(const sc_clip_text *m);

/* One forward pass. ids: host int64 [B, T] with 1 <= T <= max_positions and every id < vocab_size;
 * mask: host int64 [B, T] (nonzero = real token) or NULL for none. Outputs, on the backend's
 * device in its dtype, shaped by the caller:
 *   hidden_states     [B, T, hidden]: output of the last layer before the final LayerNorm
 *                                    (transformers' hidden_states[-1], what the prior consumes)
 *   last_hidden_state [B, T, hidden]: after the final LayerNorm
 *   text_embeds       [B, projection_dim]: pooled row of last_hidden_state, projected
 * Activations come from the model's arena; after the first pass of a given shape, passes of
 * that shape or smaller allocate nothing. Not reentrant: one pass at a time per model. */
sc_status sc_clip_text_forward(sc_clip_text *m, const sc_tensor *ids, const sc_tensor *mask, sc_tensor *hidden_states,
                               sc_tensor *last_hidden_state, sc_tensor *text_embeds);

/* Bytes the loaded parameters take on the backend's device. */
size_t sc_clip_text_param_bytes(const sc_clip_text *m);
/* Device allocations made by the model's activation arena so far (tests). */
size_t sc_clip_text_arena_alloc_count(const sc_clip_text *m);
/* Free the activation arena between passes (the next pass allocates it again). */
void sc_clip_text_free_workspace(sc_clip_text *m);

#endif
