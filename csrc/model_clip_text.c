#include "model_clip_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sc_loader.h"

/* Parameters live in one array, in state-dict order (= keys_text_encoder.tsv):
 *   [0] token embedding, [1] position embedding,
 *   [2 + 16 l + k] tensor k of layer l (enum layer_param),
 *   then the final LayerNorm weight/bias and the projection. */
enum layer_param {
    P_K_W, P_K_B, P_V_W, P_V_B, P_Q_W, P_Q_B, P_O_W, P_O_B,
    P_LN1_W, P_LN1_B, P_FC1_W, P_FC1_B, P_FC2_W, P_FC2_B, P_LN2_W, P_LN2_B,
    LAYER_PARAMS
};
enum { P_TOKEN = 0, P_POSITION = 1, GLOBAL_HEAD = 2 };
enum { P_FINAL_W = 0, P_FINAL_B = 1, P_PROJ = 2, GLOBAL_TAIL = 3 };

typedef enum { DIM_NONE = 0, DIM_HIDDEN, DIM_INTER, DIM_VOCAB, DIM_POS, DIM_PROJ } dim_kind;

typedef struct {
    const char *name;
    dim_kind d0, d1; /* d1 == DIM_NONE for 1-D tensors */
} param_spec;

static const param_spec head_specs[GLOBAL_HEAD] = {
    {"text_model.embeddings.token_embedding.weight", DIM_VOCAB, DIM_HIDDEN},
    {"text_model.embeddings.position_embedding.weight", DIM_POS, DIM_HIDDEN},
};
static const param_spec layer_specs[LAYER_PARAMS] = {
    {"self_attn.k_proj.weight", DIM_HIDDEN, DIM_HIDDEN}, {"self_attn.k_proj.bias", DIM_HIDDEN, DIM_NONE},
    {"self_attn.v_proj.weight", DIM_HIDDEN, DIM_HIDDEN}, {"self_attn.v_proj.bias", DIM_HIDDEN, DIM_NONE},
    {"self_attn.q_proj.weight", DIM_HIDDEN, DIM_HIDDEN}, {"self_attn.q_proj.bias", DIM_HIDDEN, DIM_NONE},
    {"self_attn.out_proj.weight", DIM_HIDDEN, DIM_HIDDEN}, {"self_attn.out_proj.bias", DIM_HIDDEN, DIM_NONE},
    {"layer_norm1.weight", DIM_HIDDEN, DIM_NONE}, {"layer_norm1.bias", DIM_HIDDEN, DIM_NONE},
    {"mlp.fc1.weight", DIM_INTER, DIM_HIDDEN}, {"mlp.fc1.bias", DIM_INTER, DIM_NONE},
    {"mlp.fc2.weight", DIM_HIDDEN, DIM_INTER}, {"mlp.fc2.bias", DIM_HIDDEN, DIM_NONE},
    {"layer_norm2.weight", DIM_HIDDEN, DIM_NONE}, {"layer_norm2.bias", DIM_HIDDEN, DIM_NONE},
};
static const param_spec tail_specs[GLOBAL_TAIL] = {
    {"text_model.final_layer_norm.weight", DIM_HIDDEN, DIM_NONE},
    {"text_model.final_layer_norm.bias", DIM_HIDDEN, DIM_NONE},
    {"text_projection.weight", DIM_PROJ, DIM_HIDDEN},
};

/* A buffer transformers registers on the embeddings; checkpoints of old versions contain it. */
static const char *const POSITION_IDS_BUFFER = "text_model.embeddings.position_ids";

struct sc_clip_text {
    sc_clip_text_config config;
    sc_backend *be;
    sc_arena *arena;
    size_t param_count;
    sc_tensor **params;
    size_t param_bytes;
};

#define MAX_DIM ((int64_t)1 << 31)

sc_status sc_clip_text_config_check(const sc_clip_text_config *c)
{
    const struct {
        const char *name;
        int64_t value;
    } sizes[] = {
        {"vocab_size", c->vocab_size},         {"hidden_size", c->hidden_size},
        {"intermediate_size", c->intermediate_size}, {"num_hidden_layers", c->layers},
        {"num_attention_heads", c->heads},     {"max_position_embeddings", c->max_positions},
        {"projection_dim", c->projection_dim},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < 1 || sizes[i].value >= MAX_DIM)
            return sc_set_error(SC_ERR_VALUE, "CLIP text config: %s must be between 1 and %lld, got %lld",
                                sizes[i].name, (long long)MAX_DIM - 1, (long long)sizes[i].value);
    if (c->hidden_size % c->heads)
        return sc_set_error(SC_ERR_VALUE,
                            "CLIP text config: hidden_size (%lld) must be divisible by num_attention_heads (%lld)",
                            (long long)c->hidden_size, (long long)c->heads);
    if (c->hidden_act != SC_ACT_GELU && c->hidden_act != SC_ACT_QUICK_GELU)
        return sc_set_error(SC_ERR_VALUE, "CLIP text config: hidden_act must be gelu or quick_gelu");
    if (!(c->layer_norm_eps > 0.0f) || !isfinite(c->layer_norm_eps))
        return sc_set_error(SC_ERR_VALUE, "CLIP text config: layer_norm_eps must be a positive number, got %g",
                            (double)c->layer_norm_eps);
    return SC_OK;
}

size_t sc_clip_text_param_count(const sc_clip_text_config *c)
{
    return GLOBAL_HEAD + (size_t)c->layers * LAYER_PARAMS + GLOBAL_TAIL;
}

static int64_t dim_value(const sc_clip_text_config *c, dim_kind d)
{
    switch (d) {
    case DIM_HIDDEN: return c->hidden_size;
    case DIM_INTER: return c->intermediate_size;
    case DIM_VOCAB: return c->vocab_size;
    case DIM_POS: return c->max_positions;
    case DIM_PROJ: return c->projection_dim;
    default: return 0;
    }
}

sc_status sc_clip_text_param_info(const sc_clip_text_config *c, size_t i, char *name, size_t name_size, int *ndim,
                                  int64_t shape[2])
{
    size_t count = sc_clip_text_param_count(c);
    if (i >= count)
        return sc_set_error(SC_ERR_VALUE, "CLIP text parameter index %zu out of range (%zu parameters)", i, count);
    const param_spec *spec;
    int written;
    if (i < GLOBAL_HEAD) {
        spec = &head_specs[i];
        written = snprintf(name, name_size, "%s", spec->name);
    } else if (i >= count - GLOBAL_TAIL) {
        spec = &tail_specs[i - (count - GLOBAL_TAIL)];
        written = snprintf(name, name_size, "%s", spec->name);
    } else {
        size_t j = i - GLOBAL_HEAD;
        spec = &layer_specs[j % LAYER_PARAMS];
        written = snprintf(name, name_size, "text_model.encoder.layers.%zu.%s", j / LAYER_PARAMS, spec->name);
    }
    if (written < 0 || (size_t)written >= name_size)
        return sc_set_error(SC_ERR_VALUE, "CLIP text parameter name buffer too small (%zu bytes)", name_size);
    shape[0] = dim_value(c, spec->d0);
    shape[1] = dim_value(c, spec->d1);
    *ndim = spec->d1 == DIM_NONE ? 1 : 2;
    return SC_OK;
}

void sc_clip_text_free(sc_clip_text *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->params && i < m->param_count; i++)
        sc_tensor_release(m->params[i]);
    free(m->params);
    sc_arena_destroy(m->arena);
    free(m);
}

static sc_status load_params(sc_clip_text *m, const sc_weights *w, sc_weight_storage storage)
{
    sc_loader *l = NULL;
    SC_TRY(sc_loader_create(w, m->be, storage, &l));
    sc_status s = SC_OK;
    for (size_t i = 0; s == SC_OK && i < m->param_count; i++) {
        char name[128];
        int ndim;
        int64_t shape[2];
        s = sc_clip_text_param_info(&m->config, i, name, sizeof name, &ndim, shape);
        /* the 2-D tensors are dense weights (projections, the token table) except the position
         * embedding, which is added to activations */
        sc_weight_layout layout = ndim == 2 && i != P_POSITION ? SC_LAYOUT_MATRIX : SC_LAYOUT_AS_IS;
        if (s == SC_OK)
            s = sc_loader_get(l, name, ndim, shape, layout, &m->params[i]);
    }
    if (s == SC_OK) {
        sc_loader_skip(l, POSITION_IDS_BUFFER);
        s = sc_loader_finish(l);
    }
    m->param_bytes = sc_loader_bytes(l);
    sc_loader_free(l);
    return s;
}

sc_status sc_clip_text_load(const sc_clip_text_config *c, const sc_weights *w, sc_backend *be,
                            sc_weight_storage storage, sc_clip_text **out)
{
    SC_TRY(sc_clip_text_config_check(c));
    sc_clip_text *m = calloc(1, sizeof *m);
    if (!m)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for the CLIP text model");
    m->config = *c;
    m->be = be;
    m->param_count = sc_clip_text_param_count(c);
    m->params = calloc(m->param_count, sizeof *m->params);
    sc_status s = m->params ? SC_OK : sc_set_error(SC_ERR_NOMEM, "out of host memory for the CLIP text model");
    if (s == SC_OK)
        s = sc_arena_create(be->device, 0, &m->arena);
    if (s == SC_OK)
        s = load_params(m, w, storage);
    if (s != SC_OK) {
        sc_clip_text_free(m);
        return s;
    }
    *out = m;
    return SC_OK;
}

const sc_clip_text_config *sc_clip_text_get_config(const sc_clip_text *m) { return &m->config; }

size_t sc_clip_text_param_bytes(const sc_clip_text *m) { return m->param_bytes; }
size_t sc_clip_text_arena_alloc_count(const sc_clip_text *m) { return sc_arena_alloc_count(m->arena); }
void sc_clip_text_free_workspace(sc_clip_text *m) { sc_arena_free_memory(m->arena); }

static const sc_tensor *layer_param(const sc_clip_text *m, int64_t layer, enum layer_param p)
{
    return m->params[GLOBAL_HEAD + (size_t)layer * LAYER_PARAMS + p];
}

static const sc_tensor *tail_param(const sc_clip_text *m, int p)
{
    return m->params[m->param_count - GLOBAL_TAIL + (size_t)p];
}

/* The position of one sequence whose final state is pooled, by transformers' rule (see the config). */
static int64_t pooled_index(const sc_clip_text_config *c, const int64_t *ids, int64_t T)
{
    int64_t best = 0;
    for (int64_t t = 0; t < T; t++) {
        if (c->eos_token_id == 2) {
            if (ids[t] > ids[best])
                best = t;
        } else if (ids[t] == c->eos_token_id) {
            return t;
        }
    }
    return best;
}

/* `t` (host int64) where the backend can read it: itself on the CPU, else an arena copy. */
static sc_status on_device(sc_clip_text *m, const sc_tensor *t, sc_tensor *out)
{
    if (m->be->device == SC_CPU) {
        *out = sc_tensor_desc(SC_CPU, t->dtype, t->data, t->ndim, t->shape);
        return SC_OK;
    }
    SC_TRY(sc_arena_tensor(m->arena, t->dtype, t->ndim, t->shape, out));
    return sc_memcpy(m->be->device, out->data, SC_CPU, t->data, sc_tensor_nbytes(t));
}

static sc_status check_inputs(const sc_clip_text *m, const sc_tensor *ids, const sc_tensor *mask,
                              const sc_tensor *hidden, const sc_tensor *last, const sc_tensor *embeds)
{
    const sc_clip_text_config *c = &m->config;
    if (ids->dtype != SC_I64 || ids->device != SC_CPU || ids->ndim != 2)
        return sc_set_error(SC_ERR_VALUE, "input_ids must be a host int64 tensor [batch, tokens]");
    int64_t B = ids->shape[0], T = ids->shape[1];
    if (B < 1 || T < 1 || T > c->max_positions)
        return sc_set_error(SC_ERR_VALUE,
                            "input_ids has shape [%lld, %lld]: need at least one sequence of 1 to %lld tokens "
                            "(max_position_embeddings)",
                            (long long)B, (long long)T, (long long)c->max_positions);
    const int64_t *v = ids->data;
    for (int64_t i = 0; i < B * T; i++)
        if (v[i] < 0 || v[i] >= c->vocab_size)
            return sc_set_error(SC_ERR_VALUE, "input_ids[%lld][%lld] = %lld is outside the vocabulary [0, %lld)",
                                (long long)(i / T), (long long)(i % T), (long long)v[i], (long long)c->vocab_size);
    if (mask) {
        if (mask->dtype != SC_I64 || mask->device != SC_CPU)
            return sc_set_error(SC_ERR_VALUE, "attention_mask must be a host int64 tensor");
        SC_TRY(sc_check_same_shape(mask, ids, "attention_mask"));
    }
    const int64_t seq_shape[3] = {B, T, c->hidden_size}, emb_shape[2] = {B, c->projection_dim};
    const sc_tensor *outs[3] = {hidden, last, embeds};
    for (int i = 0; i < 3; i++)
        if (outs[i]->device != m->be->device || outs[i]->dtype != m->be->dtype)
            return sc_set_error(SC_ERR_VALUE, "CLIP text outputs must be %s %s tensors",
                                sc_device_name(m->be->device), sc_dtype_name(m->be->dtype));
    SC_TRY(sc_check_shape(hidden, "hidden_states", 3, seq_shape));
    SC_TRY(sc_check_shape(last, "last_hidden_state", 3, seq_shape));
    return sc_check_shape(embeds, "text_embeds", 2, emb_shape);
}

/* x += layer(x): pre-LN self-attention (causal + key mask), then the pre-LN MLP. */
static sc_status encoder_layer(sc_clip_text *m, int64_t l, sc_tensor *x, const sc_tensor *mask, sc_tensor *h,
                               sc_tensor *q, sc_tensor *k, sc_tensor *v, sc_tensor *f)
{
    sc_backend *be = m->be;
    const sc_clip_text_config *c = &m->config;
    const sc_epilogue residual = {SC_ACT_NONE, 1.0f, 1};
    const sc_epilogue activated = {c->hidden_act, 1.0f, 0};
    const float scale = 1.0f / sqrtf((float)(c->hidden_size / c->heads));

    SC_TRY(be->layernorm(be, h, x, layer_param(m, l, P_LN1_W), layer_param(m, l, P_LN1_B), c->layer_norm_eps));
    SC_TRY(be->linear(be, q, h, layer_param(m, l, P_Q_W), layer_param(m, l, P_Q_B), SC_EPILOGUE_PLAIN));
    SC_TRY(be->linear(be, k, h, layer_param(m, l, P_K_W), layer_param(m, l, P_K_B), SC_EPILOGUE_PLAIN));
    SC_TRY(be->linear(be, v, h, layer_param(m, l, P_V_W), layer_param(m, l, P_V_B), SC_EPILOGUE_PLAIN));
    /* h is free again: it takes the attention output. */
    SC_TRY(be->attention(be, h, q, k, v, (int)c->heads, scale, 1, mask));
    SC_TRY(be->linear(be, x, h, layer_param(m, l, P_O_W), layer_param(m, l, P_O_B), residual));

    SC_TRY(be->layernorm(be, h, x, layer_param(m, l, P_LN2_W), layer_param(m, l, P_LN2_B), c->layer_norm_eps));
    SC_TRY(be->linear(be, f, h, layer_param(m, l, P_FC1_W), layer_param(m, l, P_FC1_B), activated));
    return be->linear(be, x, f, layer_param(m, l, P_FC2_W), layer_param(m, l, P_FC2_B), residual);
}

static sc_status forward_pass(sc_clip_text *m, const sc_tensor *ids, const sc_tensor *mask, sc_tensor *x,
                              sc_tensor *last, sc_tensor *embeds)
{
    sc_backend *be = m->be;
    const sc_clip_text_config *c = &m->config;
    const int64_t B = ids->shape[0], T = ids->shape[1], D = c->hidden_size;
    const size_t elem = sc_dtype_size(be->dtype);

    sc_tensor ids_dev, mask_dev;
    SC_TRY(on_device(m, ids, &ids_dev));
    if (mask)
        SC_TRY(on_device(m, mask, &mask_dev));

    /* Embeddings: token rows, plus position rows 0..T-1 added to every sequence. */
    SC_TRY(be->embedding(be, x, m->params[P_TOKEN], &ids_dev));
    const int64_t td[2] = {T, D};
    sc_tensor positions = sc_tensor_desc(be->device, be->dtype, m->params[P_POSITION]->data, 2, td);
    for (int64_t b = 0; b < B; b++) {
        sc_tensor xb = sc_tensor_desc(be->device, be->dtype, (char *)x->data + (size_t)(b * T * D) * elem, 2, td);
        SC_TRY(be->add(be, &xb, &xb, &positions));
    }

    const int64_t btd[3] = {B, T, D}, bti[3] = {B, T, c->intermediate_size}, bd[2] = {B, D};
    sc_tensor h, q, k, v, f, pooled;
    SC_TRY(sc_arena_tensor(m->arena, be->dtype, 3, btd, &h));
    SC_TRY(sc_arena_tensor(m->arena, be->dtype, 3, btd, &q));
    SC_TRY(sc_arena_tensor(m->arena, be->dtype, 3, btd, &k));
    SC_TRY(sc_arena_tensor(m->arena, be->dtype, 3, btd, &v));
    SC_TRY(sc_arena_tensor(m->arena, be->dtype, 3, bti, &f));
    SC_TRY(sc_arena_tensor(m->arena, be->dtype, 2, bd, &pooled));

    for (int64_t l = 0; l < c->layers; l++)
        SC_TRY(encoder_layer(m, l, x, mask ? &mask_dev : NULL, &h, &q, &k, &v, &f));

    SC_TRY(be->layernorm(be, last, x, tail_param(m, P_FINAL_W), tail_param(m, P_FINAL_B), c->layer_norm_eps));

    const int64_t *id_rows = ids->data;
    for (int64_t b = 0; b < B; b++) {
        int64_t t = pooled_index(c, id_rows + b * T, T);
        SC_TRY(sc_memcpy(be->device, (char *)pooled.data + (size_t)(b * D) * elem, be->device,
                         (const char *)last->data + (size_t)((b * T + t) * D) * elem, (size_t)D * elem));
    }
    return be->linear(be, embeds, &pooled, tail_param(m, P_PROJ), NULL, SC_EPILOGUE_PLAIN);
}

sc_status sc_clip_text_forward(sc_clip_text *m, const sc_tensor *ids, const sc_tensor *mask, sc_tensor *hidden_states,
                               sc_tensor *last_hidden_state, sc_tensor *text_embeds)
{
    SC_TRY(check_inputs(m, ids, mask, hidden_states, last_hidden_state, text_embeds));
    sc_status s = forward_pass(m, ids, mask, hidden_states, last_hidden_state, text_embeds);
    /* The arena is free again whatever happened; a failure there only matters if the pass worked. */
    sc_status r = sc_arena_reset(m->arena);
    return s != SC_OK ? s : r;
}
