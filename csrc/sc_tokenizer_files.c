/* Reading a Hugging Face tokenizer folder into an sc_tokenizer_spec, resolving the special and
 * added tokens the way transformers 5 does for CLIPTokenizer:
 *
 * - vocabulary and merges from tokenizer.json when the folder has one (as transformers
 *   prefers it), else from vocab.json + merges.txt; only `model.vocab` and `model.merges` are
 *   taken from tokenizer.json: the normaliser, pre-tokeniser and post-processor are CLIP's;
 * - added tokens from tokenizer_config.json's `added_tokens_decoder`; without it (older
 *   folders) special_tokens_map.json overrides the named tokens of tokenizer_config.json and
 *   tokenizer.json's `added_tokens` are the added tokens;
 * - bos/eos/unk/pad named in the configs (defaults: CLIP's) that are not added tokens yet are
 *   added (a plain string as a special, non-normalised token; an object with its flags);
 * - model_max_length from tokenizer_config.json (77 when absent or not an integer, e.g. the
 *   1e30 "unset" marker), padding_side / truncation_side likewise (default right). */
#include "sc_tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_file.h"
#include "sc_json.h"

#define DEFAULT_MAX_LENGTH 77

typedef struct {
    char path[4096];
    sc_file_map map;
    const char *data; /* the mapped bytes ("" for an empty file) */
    size_t len;
} file_buf;

/* Map folder/name whole. *present = 0 (and SC_OK) when the file does not exist. */
static sc_status read_file(const char *folder, const char *name, file_buf *f, int *present)
{
    *present = 0;
    f->data = "";
    f->len = 0;
    int n = snprintf(f->path, sizeof f->path, "%s/%s", folder, name);
    if (n < 0 || (size_t)n >= sizeof f->path)
        return sc_set_error(SC_ERR_VALUE, "path too long: %s/%s", folder, name);
    if (!sc_file_exists(f->path))
        return SC_OK;
    SC_TRY(sc_file_map_open(f->path, &f->map));
    if (f->map.data)
        f->data = (const char *)f->map.data;
    f->len = f->map.size;
    *present = 1;
    return SC_OK;
}

/* ---- everything one load owns -------------------------------------------------------------- */

typedef struct {
    const char *folder;
    file_buf vocab_file, merges_file, json_file, config_file, map_file;
    sc_json_doc *vocab_doc, *json_doc, *config_doc, *map_doc;
    sc_bpe_token *vocab;
    size_t n_vocab;
    sc_bpe_merge *merges;
    size_t n_merges;
    sc_added_token *added;
    size_t n_added, cap_added;
    sc_bpe_source source;
    /* named tokens: content, and the object describing them (NULL for a plain string) */
    const char *named[4];
    const sc_json *named_obj[4];
    const char *named_from[4]; /* the file that named it (for messages); NULL: CLIP's default */
    int named_special_default[4]; /* "special" assumed when an object does not say */
    size_t model_max_length;
    int pad_left, truncate_left;
} loader;

enum { BOS, EOS, UNK, PAD };
static const char *const NAMED_KEYS[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
static const char *const NAMED_DEFAULTS[4] = {"<|startoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>"};

static void loader_free(loader *L)
{
    sc_json_free(L->vocab_doc);
    sc_json_free(L->json_doc);
    sc_json_free(L->config_doc);
    sc_json_free(L->map_doc);
    sc_file_map_close(&L->vocab_file.map);
    sc_file_map_close(&L->merges_file.map);
    sc_file_map_close(&L->json_file.map);
    sc_file_map_close(&L->config_file.map);
    sc_file_map_close(&L->map_file.map);
    free(L->vocab);
    free(L->merges);
    free(L->added);
}

static sc_status parse_json(file_buf *f, sc_json_doc **doc, sc_json_type want)
{
    SC_TRY(sc_json_parse(f->data, f->len, f->path, doc));
    const sc_json *root = sc_json_root(*doc);
    if (root->type != want)
        return sc_set_error(SC_ERR_VALUE, "%s: the top level must be a JSON %s", f->path,
                            want == SC_JSON_OBJECT ? "object" : "array");
    const char *dup = sc_json_duplicate_key(root);
    if (dup)
        return sc_set_error(SC_ERR_VALUE, "%s: key '%s' appears twice", f->path, dup);
    return SC_OK;
}

/* ---- vocabulary and merges ----------------------------------------------------------------- */

static sc_status read_vocab_object(loader *L, const sc_json *obj, const char *what)
{
    if (!obj || obj->type != SC_JSON_OBJECT)
        return sc_set_error(SC_ERR_VALUE, "%s: the vocabulary must be a JSON object of token -> id", what);
    const char *dup = sc_json_duplicate_key(obj);
    if (dup)
        return sc_set_error(SC_ERR_VALUE, "%s: token '%s' appears twice", what, dup);
    L->vocab = malloc((obj->len + 1) * sizeof *L->vocab);
    if (!L->vocab)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < obj->len; i++) {
        uint64_t id;
        if (obj->items[i]->type != SC_JSON_NUMBER || sc_json_as_u64(obj->items[i], &id) != 0 || id > UINT32_MAX)
            return sc_set_error(SC_ERR_VALUE, "%s: the id of token '%s' is not a non-negative 32-bit integer", what,
                                obj->keys[i]);
        L->vocab[i] = (sc_bpe_token){{obj->keys[i], obj->key_lens[i]}, (uint32_t)id};
    }
    L->n_vocab = obj->len;
    L->source.vocab = what;
    return SC_OK;
}

/* "left right" with exactly one space, as tokenizers requires of merges.txt lines. */
static int split_merge(const char *s, size_t len, sc_bpe_merge *m)
{
    const char *space = memchr(s, ' ', len);
    if (!space || memchr(space + 1, ' ', len - (size_t)(space + 1 - s)))
        return 0;
    m->left = (sc_str){s, (size_t)(space - s)};
    m->right = (sc_str){space + 1, len - (size_t)(space + 1 - s)};
    return 1;
}

static sc_status read_merges_txt(loader *L)
{
    file_buf *f = &L->merges_file;
    size_t valid = sc_utf8_check(f->data, f->len);
    if (valid != f->len)
        return sc_set_error(SC_ERR_VALUE, "%s: invalid UTF-8 at byte %zu", f->path, valid);
    size_t lines = 1;
    for (size_t i = 0; i < f->len; i++)
        lines += f->data[i] == '\n';
    L->merges = malloc(lines * sizeof *L->merges);
    if (!L->merges)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", f->path);
    const char *p = f->data, *end = f->data + f->len;
    for (size_t line = 1; p < end; line++) { /* like Rust's lines(): "\n" or "\r\n" ends a line */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t len = (size_t)(stop - p);
        if (nl && len && p[len - 1] == '\r')
            len--;
        if (!(len >= 8 && memcmp(p, "#version", 8) == 0)) {
            sc_bpe_merge *m = &L->merges[L->n_merges];
            if (!split_merge(p, len, m))
                return sc_set_error(SC_ERR_VALUE, "%s: line %zu is not two tokens separated by one space: '%.*s'",
                                    f->path, line, (int)(len < 60 ? len : 60), p);
            m->where = line;
            L->n_merges++;
        }
        p = nl ? nl + 1 : end;
    }
    L->source.merges = f->path;
    L->source.merge_where = "line";
    return SC_OK;
}

static sc_status read_tokenizer_json(loader *L)
{
    const char *what = L->json_file.path;
    SC_TRY(parse_json(&L->json_file, &L->json_doc, SC_JSON_OBJECT));
    const sc_json *model = sc_json_get(sc_json_root(L->json_doc), "model");
    if (!model || model->type != SC_JSON_OBJECT)
        return sc_set_error(SC_ERR_VALUE, "%s: no \"model\" object", what);
    const sc_json *type = sc_json_get(model, "type");
    if (type && (type->type != SC_JSON_STRING || strcmp(type->str, "BPE") != 0))
        return sc_set_error(SC_ERR_VALUE, "%s: model type must be \"BPE\" for CLIP", what);
    SC_TRY(read_vocab_object(L, sc_json_get(model, "vocab"), what));
    const sc_json *merges = sc_json_get(model, "merges");
    if (!merges || merges->type != SC_JSON_ARRAY)
        return sc_set_error(SC_ERR_VALUE, "%s: model.merges must be an array", what);
    L->merges = malloc((merges->len + 1) * sizeof *L->merges);
    if (!L->merges)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < merges->len; i++) {
        const sc_json *m = merges->items[i];
        sc_bpe_merge *dst = &L->merges[i];
        int ok;
        if (m->type == SC_JSON_STRING) /* older files: "left right" */
            ok = split_merge(m->str, m->len, dst);
        else /* newer files: ["left", "right"] */
            ok = m->type == SC_JSON_ARRAY && m->len == 2 && m->items[0]->type == SC_JSON_STRING &&
                 m->items[1]->type == SC_JSON_STRING;
        if (!ok)
            return sc_set_error(SC_ERR_VALUE, "%s: model.merges[%zu] is neither \"left right\" nor [\"left\", \"right\"]",
                                what, i);
        if (m->type == SC_JSON_ARRAY) {
            dst->left = (sc_str){m->items[0]->str, m->items[0]->len};
            dst->right = (sc_str){m->items[1]->str, m->items[1]->len};
        }
        dst->where = i;
    }
    L->n_merges = merges->len;
    L->source.merges = what;
    L->source.merge_where = "model.merges index";
    return SC_OK;
}

/* ---- added and special tokens -------------------------------------------------------------- */

static sc_status get_flag(const sc_json *obj, const char *key, int dflt, const char *what, int *out)
{
    const sc_json *v = sc_json_get(obj, key);
    if (!v || v->type == SC_JSON_NULL) {
        *out = dflt;
        return SC_OK;
    }
    if (v->type != SC_JSON_BOOL)
        return sc_set_error(SC_ERR_VALUE, "%s: \"%s\" must be true or false", what, key);
    *out = v->boolean;
    return SC_OK;
}

/* Append an added token described by a JSON object (AddedToken fields) or a plain string. */
static sc_status add_token(loader *L, const char *content, size_t len, const sc_json *obj, int special_default,
                           int64_t id, const char *what)
{
    if (L->n_added == L->cap_added) {
        size_t cap = L->cap_added ? 2 * L->cap_added : 8;
        sc_added_token *grown = realloc(L->added, cap * sizeof *grown);
        if (!grown)
            return sc_set_error(SC_ERR_NOMEM, "out of memory for added tokens");
        L->added = grown;
        L->cap_added = cap;
    }
    sc_added_token a = {{content, len}, id, 0, 0, !special_default};
    if (obj) {
        int special = special_default, single_word = 0;
        SC_TRY(get_flag(obj, "special", special_default, what, &special));
        SC_TRY(get_flag(obj, "lstrip", 0, what, &a.lstrip));
        SC_TRY(get_flag(obj, "rstrip", 0, what, &a.rstrip));
        SC_TRY(get_flag(obj, "normalized", !special, what, &a.normalized));
        SC_TRY(get_flag(obj, "single_word", 0, what, &single_word));
        if (single_word)
            return sc_set_error(SC_ERR_VALUE, "%s: added token '%s' has single_word=true, which is not supported", what,
                                content);
    }
    if (!len)
        return sc_set_error(SC_ERR_VALUE, "%s: an added token is empty", what);
    L->added[L->n_added++] = a;
    return SC_OK;
}

static sc_status token_content(const sc_json *v, const char *what, const char *key, const char **content,
                               size_t *len, const sc_json **obj)
{
    *obj = NULL;
    if (v->type == SC_JSON_STRING) {
        *content = v->str;
        *len = v->len;
        return SC_OK;
    }
    const sc_json *c = v->type == SC_JSON_OBJECT ? sc_json_get(v, "content") : NULL;
    if (!c || c->type != SC_JSON_STRING)
        return sc_set_error(SC_ERR_VALUE, "%s: %s must be a string or an object with a \"content\" string", what, key);
    *content = c->str;
    *len = c->len;
    *obj = v;
    return SC_OK;
}

/* Named tokens of one config object: a string, an AddedToken object, or null (no such token). */
static sc_status read_named(loader *L, const sc_json *cfg, const char *what, int special_default)
{
    for (int k = 0; k < 4; k++) {
        const sc_json *v = sc_json_get(cfg, NAMED_KEYS[k]);
        if (!v)
            continue;
        L->named_from[k] = what;
        if (v->type == SC_JSON_NULL) {
            L->named[k] = NULL;
            continue;
        }
        size_t len;
        SC_TRY(token_content(v, what, NAMED_KEYS[k], &L->named[k], &len, &L->named_obj[k]));
        L->named_special_default[k] = special_default;
    }
    return SC_OK;
}

static sc_status read_added_tokens_decoder(loader *L, const sc_json *dec, const char *what)
{
    if (dec->type != SC_JSON_OBJECT)
        return sc_set_error(SC_ERR_VALUE, "%s: added_tokens_decoder must be an object", what);
    for (size_t i = 0; i < dec->len; i++) {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(dec->keys[i], &end, 10);
        if (errno || *end || !*dec->keys[i] || dec->keys[i][0] == '-' || id > UINT32_MAX)
            return sc_set_error(SC_ERR_VALUE, "%s: added_tokens_decoder key '%s' is not a token id", what, dec->keys[i]);
        const char *content = NULL;
        size_t len = 0;
        const sc_json *obj;
        SC_TRY(token_content(dec->items[i], what, "an added_tokens_decoder entry", &content, &len, &obj));
        SC_TRY(add_token(L, content, len, obj, 0, (int64_t)id, what));
    }
    return SC_OK;
}

static sc_status read_json_added_tokens(loader *L)
{
    const char *what = L->json_file.path;
    const sc_json *list = sc_json_get(sc_json_root(L->json_doc), "added_tokens");
    if (!list || list->type == SC_JSON_NULL)
        return SC_OK;
    if (list->type != SC_JSON_ARRAY)
        return sc_set_error(SC_ERR_VALUE, "%s: added_tokens must be an array", what);
    for (size_t i = 0; i < list->len; i++) {
        const sc_json *t = list->items[i];
        const sc_json *c = t->type == SC_JSON_OBJECT ? sc_json_get(t, "content") : NULL;
        const sc_json *idv = c ? sc_json_get(t, "id") : NULL;
        uint64_t id;
        if (!c || c->type != SC_JSON_STRING || !idv || sc_json_as_u64(idv, &id) != 0 || id > UINT32_MAX)
            return sc_set_error(SC_ERR_VALUE, "%s: added_tokens[%zu] needs a \"content\" string and an \"id\"", what, i);
        SC_TRY(add_token(L, c->str, c->len, t, 0, (int64_t)id, what));
    }
    return SC_OK;
}

static sc_status read_side(const sc_json *cfg, const char *key, const char *what, int *left)
{
    const sc_json *v = sc_json_get(cfg, key);
    if (!v || v->type == SC_JSON_NULL)
        return SC_OK;
    if (v->type == SC_JSON_STRING && (strcmp(v->str, "left") == 0 || strcmp(v->str, "right") == 0)) {
        *left = strcmp(v->str, "left") == 0;
        return SC_OK;
    }
    return sc_set_error(SC_ERR_VALUE, "%s: %s must be \"left\" or \"right\"", what, key);
}

static sc_status read_configs(loader *L)
{
    int present;
    const sc_json *cfg = NULL;
    SC_TRY(read_file(L->folder, "tokenizer_config.json", &L->config_file, &present));
    if (present) {
        SC_TRY(parse_json(&L->config_file, &L->config_doc, SC_JSON_OBJECT));
        cfg = sc_json_root(L->config_doc);
        const char *what = L->config_file.path;
        const sc_json *mml = sc_json_get(cfg, "model_max_length");
        uint64_t v;
        if (mml && mml->type == SC_JSON_NUMBER && sc_json_as_u64(mml, &v) == 0 && v > 0 && v <= SIZE_MAX / 16)
            L->model_max_length = (size_t)v;
        SC_TRY(read_side(cfg, "padding_side", what, &L->pad_left));
        SC_TRY(read_side(cfg, "truncation_side", what, &L->truncate_left));
        SC_TRY(read_named(L, cfg, what, 0));
    }
    const sc_json *dec = cfg ? sc_json_get(cfg, "added_tokens_decoder") : NULL;
    if (dec)
        return read_added_tokens_decoder(L, dec, L->config_file.path);
    /* Older folders: special_tokens_map.json has the last word on the named tokens. */
    SC_TRY(read_file(L->folder, "special_tokens_map.json", &L->map_file, &present));
    if (present) {
        SC_TRY(parse_json(&L->map_file, &L->map_doc, SC_JSON_OBJECT));
        SC_TRY(read_named(L, sc_json_root(L->map_doc), L->map_file.path, 1));
    }
    return L->json_doc ? read_json_added_tokens(L) : SC_OK;
}

/* Named tokens that are not listed added tokens become added tokens, in the order bos, eos,
 * unk, pad; one named twice with different flags takes the later flags (transformers adds
 * them one by one). */
static sc_status add_named(loader *L)
{
    size_t listed = L->n_added;
    for (int k = 0; k < 4; k++) {
        char what[sizeof L->config_file.path + 32];
        snprintf(what, sizeof what, "%s: %s", L->named_from[k] ? L->named_from[k] : L->folder, NAMED_KEYS[k]);
        if (!L->named[k]) {
            if (k != UNK)
                return sc_set_error(SC_ERR_VALUE, "%s is null, but CLIP needs it", what);
            continue;
        }
        size_t len = strlen(L->named[k]);
        int known = 0;
        for (size_t i = 0; i < listed && !known; i++)
            known = L->added[i].content.len == len && memcmp(L->added[i].content.s, L->named[k], len) == 0;
        if (!known)
            SC_TRY(add_token(L, L->named[k], len, L->named_obj[k], L->named_obj[k] ? L->named_special_default[k] : 1, -1,
                             what));
    }
    return SC_OK;
}

static sc_status read_folder(loader *L)
{
    int has_json, has_vocab, has_merges;
    SC_TRY(read_file(L->folder, "tokenizer.json", &L->json_file, &has_json));
    if (has_json) {
        SC_TRY(read_tokenizer_json(L));
    } else {
        SC_TRY(read_file(L->folder, "vocab.json", &L->vocab_file, &has_vocab));
        SC_TRY(read_file(L->folder, "merges.txt", &L->merges_file, &has_merges));
        if (!has_vocab && !has_merges)
            return sc_set_error(SC_ERR_NOT_FOUND, "%s: no tokenizer.json, and no vocab.json + merges.txt", L->folder);
        if (!has_vocab || !has_merges)
            return sc_set_error(SC_ERR_NOT_FOUND, "%s: missing", has_vocab ? L->merges_file.path : L->vocab_file.path);
        SC_TRY(parse_json(&L->vocab_file, &L->vocab_doc, SC_JSON_OBJECT));
        SC_TRY(read_vocab_object(L, sc_json_root(L->vocab_doc), L->vocab_file.path));
        SC_TRY(read_merges_txt(L));
    }
    SC_TRY(read_configs(L));
    return add_named(L);
}

sc_status sc_tokenizer_load(const char *folder, sc_tokenizer **out)
{
    loader L;
    memset(&L, 0, sizeof L);
    L.folder = folder;
    L.model_max_length = DEFAULT_MAX_LENGTH;
    for (int k = 0; k < 4; k++)
        L.named[k] = NAMED_DEFAULTS[k];
    sc_status s = read_folder(&L);
    if (s == SC_OK) {
        sc_tokenizer_spec spec = {
            L.vocab, L.n_vocab, L.merges, L.n_merges, L.source, L.added, L.n_added,
            L.named[BOS], L.named[EOS], L.named[UNK], L.named[PAD], L.model_max_length, L.pad_left, L.truncate_left,
        };
        s = sc_tokenizer_create(&spec, out);
        /* an inconsistency between the files: name the folder unless a file of it is named */
        if (s != SC_OK && s != SC_ERR_NOMEM && !strstr(sc_last_error(), folder))
            sc_add_context(s, "%s", folder);
    }
    loader_free(&L);
    return s;
}
