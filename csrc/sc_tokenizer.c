#include "sc_tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "sc_unicode.h"

/* An added token ready for matching: its content as code points (normalised when the token is
 * matched in normalised text). */
typedef struct {
    uint32_t *cps;
    size_t len;
    uint32_t id;
    int lstrip, rstrip;
} added;

/* The added tokens matched at one stage, with a quick filter on their first code point. */
typedef struct {
    added *tokens;
    size_t n;
    uint8_t first_ascii[128]; /* some token starts with this ASCII code point */
    int first_non_ascii;      /* some token starts above ASCII */
} added_set;

struct sc_tokenizer {
    sc_bpe *bpe;
    added_set raw;        /* normalized == false: matched in the text as given */
    added_set normalised; /* normalized == true: matched after normalisation */
    char *bos, *eos, *pad, *unk;
    uint32_t bos_id, eos_id, pad_id;
    int64_t unk_id;
    size_t vocab_size, model_max_length;
    int pad_left, truncate_left;
};

/* Reusable buffers of one encoding thread. */
typedef struct {
    uint32_t *cps, *nfc, *lower;
    size_t cps_cap, nfc_cap, lower_cap;
    unsigned char *word;
    size_t word_cap;
} workspace;

static sc_status fit(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return SC_OK;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *p = realloc(*buf, n * elem);
    if (!p)
        return sc_set_error(SC_ERR_NOMEM, "out of memory for a text of %zu code points", need);
    *buf = p;
    *cap = n;
    return SC_OK;
}

#define FIT(ws, field, need) fit((void **)&(ws)->field, &(ws)->field##_cap, (need), sizeof *(ws)->field)

static void workspace_free(workspace *ws)
{
    free(ws->cps);
    free(ws->nfc);
    free(ws->lower);
    free(ws->word);
}

/* ---- normaliser: NFC, \s+ -> ' ', lowercase ------------------------------------------------ */

/* Normalise in[0..n) into ws->lower; returns the length through *out_n. `in` must not be one of
 * ws->nfc / ws->lower. */
static sc_status normalise(workspace *ws, const uint32_t *in, size_t n, size_t *out_n)
{
    SC_TRY(FIT(ws, nfc, SC_UNI_NFD_MAX * n + 1));
    size_t m = sc_uni_nfc(in, n, ws->nfc);
    size_t k = 0;
    int in_space = 0;
    for (size_t i = 0; i < m; i++) {
        int space = sc_uni_class_of(ws->nfc[i]) == SC_UNI_SPACE;
        if (!space)
            ws->nfc[k++] = ws->nfc[i];
        else if (!in_space)
            ws->nfc[k++] = ' ';
        in_space = space;
    }
    SC_TRY(FIT(ws, lower, SC_UNI_LOWER_MAX * k + 1));
    size_t len = 0;
    for (size_t i = 0; i < k; i++)
        len += (size_t)sc_uni_lower(ws->nfc[i], ws->lower + len);
    *out_n = len;
    return SC_OK;
}

/* ---- added tokens -------------------------------------------------------------------------- */

static int is_space(uint32_t cp) { return sc_uni_class_of(cp) == SC_UNI_SPACE; }

/* The next added token in s[from..n): leftmost start, longest content there. */
static const added *next_added(const added_set *set, const uint32_t *s, size_t n, size_t from, size_t *at)
{
    if (!set->n)
        return NULL;
    for (size_t i = from; i < n; i++) {
        uint32_t c = s[i];
        if (c < 128 ? !set->first_ascii[c] : !set->first_non_ascii)
            continue;
        const added *best = NULL;
        for (size_t k = 0; k < set->n; k++) {
            const added *a = &set->tokens[k];
            if (a->len <= n - i && (!best || a->len > best->len) && memcmp(a->cps, s + i, a->len * sizeof *s) == 0)
                best = a;
        }
        if (best) {
            *at = i;
            return best;
        }
    }
    return NULL;
}

/* Calls `piece` for every stretch of s[0..n) between added tokens and pushes each token's id,
 * in order (tokenizers' AddedVocabulary::find_matches, lstrip/rstrip eating the whitespace
 * next to a token). */
typedef struct encoder encoder;
typedef sc_status (*piece_fn)(encoder *e, const uint32_t *s, size_t n);

struct encoder {
    sc_tokenizer *t;
    workspace *ws;
    sc_ids *out;
    size_t stop_at; /* stop once out->n reaches this */
};

static int full(const encoder *e) { return e->out->n >= e->stop_at; }

static sc_status split_added(encoder *e, const added_set *set, const uint32_t *s, size_t n, piece_fn piece)
{
    size_t done = 0, from = 0, at;
    const added *a;
    while (!full(e) && (a = next_added(set, s, n, from, &at)) != NULL) {
        size_t start = at, stop = at + a->len;
        if (a->lstrip)
            while (start > done && is_space(s[start - 1]))
                start--;
        if (a->rstrip)
            while (stop < n && is_space(s[stop]))
                stop++;
        if (start > done)
            SC_TRY(piece(e, s + done, start - done));
        if (full(e))
            return SC_OK;
        SC_TRY(sc_ids_push(e->out, a->id));
        done = from = stop;
    }
    if (done < n && !full(e))
        SC_TRY(piece(e, s + done, n - done));
    return SC_OK;
}

/* ---- pre-tokeniser and BPE ----------------------------------------------------------------- */

static sc_status emit_word(encoder *e, const uint32_t *w, size_t n)
{
    workspace *ws = e->ws;
    SC_TRY(FIT(ws, word, 4 * n));
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += sc_utf8_encode(w[i], ws->word + len);
    return sc_bpe_encode_word(e->t->bpe, ws->word, len, e->out);
}

static int starts_with(const uint32_t *s, size_t n, const char *ascii)
{
    size_t k = strlen(ascii);
    if (k > n)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (s[i] != (unsigned char)ascii[i])
            return 0;
    return 1;
}

/* Length of the contraction ('s 't 're 've 'm 'll 'd) at s, or 0. */
static size_t contraction(const uint32_t *s, size_t n)
{
    if (n < 2 || s[0] != '\'')
        return 0;
    if (s[1] == 's' || s[1] == 't' || s[1] == 'm' || s[1] == 'd')
        return 2;
    if (n >= 3 && ((s[1] == 'r' && s[2] == 'e') || (s[1] == 'v' && s[2] == 'e') || (s[1] == 'l' && s[2] == 'l')))
        return 3;
    return 0;
}

/* The CLIP regex over normalised text, whitespace dropped. The two special strings are words of
 * the CLIP regex, but ByteLevel's regex then cuts them into "<|", letters, "|>". */
static sc_status pretokenise(encoder *e, const uint32_t *s, size_t n)
{
    static const char *const specials[] = {"<|startoftext|>", "<|endoftext|>"};
    size_t i = 0;
    while (i < n && !full(e)) {
        size_t special = 0;
        for (size_t k = 0; k < 2 && !special; k++)
            if (s[i] == '<' && starts_with(s + i, n - i, specials[k]))
                special = strlen(specials[k]);
        if (special) {
            SC_TRY(emit_word(e, s + i, 2));
            SC_TRY(emit_word(e, s + i + 2, special - 4));
            SC_TRY(emit_word(e, s + i + special - 2, 2));
            i += special;
            continue;
        }
        size_t len = contraction(s + i, n - i);
        sc_uni_class c = sc_uni_class_of(s[i]);
        if (!len && c == SC_UNI_NUMBER)
            len = 1;
        else if (!len && c != SC_UNI_SPACE) /* a run of letters, or of anything but L, N, \s */
            for (len = 1; i + len < n && sc_uni_class_of(s[i + len]) == c; len++) {
            }
        if (len)
            SC_TRY(emit_word(e, s + i, len));
        i += len ? len : 1;
    }
    return SC_OK;
}

static sc_status normalised_piece(encoder *e, const uint32_t *s, size_t n)
{
    return split_added(e, &e->t->normalised, s, n, pretokenise);
}

static sc_status raw_piece(encoder *e, const uint32_t *s, size_t n)
{
    size_t len;
    SC_TRY(normalise(e->ws, s, n, &len));
    return normalised_piece(e, e->ws->lower, len);
}

static sc_status encode_with(sc_tokenizer *t, workspace *ws, const char *text, size_t len, size_t limit, sc_ids *out)
{
    SC_TRY(FIT(ws, cps, len + 1));
    size_t n;
    SC_TRY(sc_utf8_decode(text, len, "text", ws->cps, &n));
    encoder e = {t, ws, out, limit > SIZE_MAX - out->n ? SIZE_MAX : out->n + limit};
    return split_added(&e, &t->raw, ws->cps, n, raw_piece);
}

sc_status sc_tokenizer_encode(sc_tokenizer *t, const char *text, size_t len, size_t limit, sc_ids *out)
{
    workspace ws = {0};
    sc_status s = encode_with(t, &ws, text, len, limit, out);
    workspace_free(&ws);
    return s;
}

sc_status sc_tokenizer_encode_batch(sc_tokenizer *t, const sc_str *texts, size_t n, size_t max_length, int64_t *ids,
                                    int64_t *mask)
{
    if (max_length < 2)
        return sc_set_error(SC_ERR_VALUE, "max_length must be at least 2 (room for the start and end tokens), got %zu",
                            max_length);
    size_t room = max_length - 2;
    workspace ws = {0};
    sc_ids content = {0};
    sc_status s = SC_OK;
    for (size_t i = 0; i < n && s == SC_OK; i++) {
        content.n = 0;
        s = encode_with(t, &ws, texts[i].s, texts[i].len, t->truncate_left ? SIZE_MAX : room, &content);
        if (s != SC_OK) {
            sc_add_context(s, "text %zu", i);
            break;
        }
        size_t kept = content.n < room ? content.n : room;
        /* an offset, not a pointer: content.v is NULL while nothing was encoded */
        size_t first = t->truncate_left ? content.n - kept : 0;
        size_t pad = room - kept, at = t->pad_left ? pad : 0;
        int64_t *row = ids + i * max_length, *row_mask = mask + i * max_length;
        for (size_t k = 0; k < max_length; k++) {
            row[k] = t->pad_id;
            row_mask[k] = 0;
        }
        row[at] = t->bos_id;
        for (size_t k = 0; k < kept; k++)
            row[at + 1 + k] = content.v[first + k];
        row[at + 1 + kept] = t->eos_id;
        for (size_t k = 0; k < kept + 2; k++)
            row_mask[at + k] = 1;
    }
    sc_ids_free(&content);
    workspace_free(&ws);
    return s;
}

/* ---- construction -------------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void free_set(added_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->tokens[i].cps);
    free(set->tokens);
}

/* Id of a token string: an added token's, else the vocabulary's; -1 when neither has it. */
static int64_t find_id(const sc_tokenizer *t, const sc_tokenizer_spec *spec, const int64_t *added_ids, const char *tok)
{
    size_t len = strlen(tok);
    for (size_t i = 0; i < spec->n_added; i++)
        if (spec->added[i].content.len == len && memcmp(spec->added[i].content.s, tok, len) == 0)
            return added_ids[i];
    uint32_t id;
    return sc_bpe_token_id(t->bpe, tok, len, &id) ? (int64_t)id : -1;
}

/* Ids of the added tokens: the vocabulary's when it has the content, else the requested one,
 * else the next id after everything so far (as tokenizers' AddedVocabulary assigns them). */
static void assign_added_ids(const sc_tokenizer *t, const sc_tokenizer_spec *spec, int64_t *ids, size_t *vocab_size)
{
    size_t end = sc_bpe_id_end(t->bpe);
    for (size_t i = 0; i < spec->n_added; i++) {
        const sc_added_token *a = &spec->added[i];
        uint32_t id;
        ids[i] = -1;
        for (size_t k = 0; k < i && ids[i] < 0; k++)
            if (spec->added[k].content.len == a->content.len && memcmp(spec->added[k].content.s, a->content.s, a->content.len) == 0)
                ids[i] = ids[k];
        if (ids[i] >= 0)
            continue;
        if (sc_bpe_token_id(t->bpe, a->content.s, a->content.len, &id))
            ids[i] = id;
        else
            ids[i] = a->id >= 0 ? a->id : (int64_t)end;
        if ((size_t)ids[i] >= end)
            end = (size_t)ids[i] + 1;
    }
    *vocab_size = end;
}

/* Is added token i listed again later? Adding a token twice keeps the id and takes the later
 * flags, as tokenizers' AddedVocabulary does. */
static int listed_again(const sc_tokenizer_spec *spec, size_t i)
{
    const sc_str *c = &spec->added[i].content;
    for (size_t k = i + 1; k < spec->n_added; k++)
        if (spec->added[k].content.len == c->len && memcmp(spec->added[k].content.s, c->s, c->len) == 0)
            return 1;
    return 0;
}

/* Add a token to the set it is matched in (of two with the same matched text, the first wins,
 * like the reference's Aho-Corasick automaton). */
static sc_status add_to_set(sc_tokenizer *t, const sc_added_token *a, uint32_t id, workspace *ws)
{
    added_set *set = a->normalized ? &t->normalised : &t->raw;
    SC_TRY(FIT(ws, cps, a->content.len + 1));
    size_t n;
    SC_TRY(sc_utf8_decode(a->content.s, a->content.len, "added token", ws->cps, &n));
    const uint32_t *cps = ws->cps;
    if (a->normalized) {
        SC_TRY(normalise(ws, ws->cps, n, &n));
        cps = ws->lower;
    }
    if (!n)
        return sc_set_error(SC_ERR_VALUE, "added token '%.*s' is empty after normalisation", (int)a->content.len, a->content.s);
    for (size_t k = 0; k < set->n; k++)
        if (set->tokens[k].len == n && memcmp(set->tokens[k].cps, cps, n * sizeof *cps) == 0)
            return SC_OK;
    added *grown = realloc(set->tokens, (set->n + 1) * sizeof *grown);
    if (!grown)
        return sc_set_error(SC_ERR_NOMEM, "out of memory for added tokens");
    set->tokens = grown;
    added *dst = &set->tokens[set->n];
    dst->cps = malloc(n * sizeof *cps);
    if (!dst->cps)
        return sc_set_error(SC_ERR_NOMEM, "out of memory for added tokens");
    memcpy(dst->cps, cps, n * sizeof *cps);
    dst->len = n;
    dst->id = id;
    dst->lstrip = a->lstrip;
    dst->rstrip = a->rstrip;
    set->n++;
    if (cps[0] < 128)
        set->first_ascii[cps[0]] = 1;
    else
        set->first_non_ascii = 1;
    return SC_OK;
}

static sc_status named_id(const sc_tokenizer *t, const sc_tokenizer_spec *spec, const int64_t *added_ids,
                          const char *role, const char *tok, uint32_t *id)
{
    int64_t v = find_id(t, spec, added_ids, tok);
    if (v < 0)
        return sc_set_error(SC_ERR_VALUE, "%s token '%s' is neither in %s nor an added token", role, tok, spec->source.vocab);
    *id = (uint32_t)v;
    return SC_OK;
}

static sc_status build(sc_tokenizer *t, const sc_tokenizer_spec *spec, int64_t *added_ids, workspace *ws)
{
    SC_TRY(sc_bpe_create(spec->vocab, spec->n_vocab, spec->merges, spec->n_merges, &spec->source, spec->unk, &t->bpe));
    assign_added_ids(t, spec, added_ids, &t->vocab_size);
    for (size_t i = 0; i < spec->n_added; i++)
        if (!listed_again(spec, i))
            SC_TRY(add_to_set(t, &spec->added[i], (uint32_t)added_ids[i], ws));
    SC_TRY(named_id(t, spec, added_ids, "bos", spec->bos, &t->bos_id));
    SC_TRY(named_id(t, spec, added_ids, "eos", spec->eos, &t->eos_id));
    SC_TRY(named_id(t, spec, added_ids, "pad", spec->pad, &t->pad_id));
    t->unk_id = spec->unk ? find_id(t, spec, added_ids, spec->unk) : -1;
    t->bos = dup_str(spec->bos);
    t->eos = dup_str(spec->eos);
    t->pad = dup_str(spec->pad);
    t->unk = dup_str(spec->unk);
    if (!t->bos || !t->eos || !t->pad || (spec->unk && !t->unk))
        return sc_set_error(SC_ERR_NOMEM, "out of memory for token names");
    t->model_max_length = spec->model_max_length;
    t->pad_left = spec->pad_left;
    t->truncate_left = spec->truncate_left;
    return SC_OK;
}

sc_status sc_tokenizer_create(const sc_tokenizer_spec *spec, sc_tokenizer **out)
{
    sc_tokenizer *t = calloc(1, sizeof *t);
    int64_t *added_ids = malloc((spec->n_added + 1) * sizeof *added_ids);
    if (!t || !added_ids) {
        free(t);
        free(added_ids);
        return sc_set_error(SC_ERR_NOMEM, "out of memory for a tokenizer");
    }
    workspace ws = {0};
    sc_status s = build(t, spec, added_ids, &ws);
    workspace_free(&ws);
    free(added_ids);
    if (s != SC_OK) {
        sc_tokenizer_free(t);
        return s;
    }
    *out = t;
    return SC_OK;
}

void sc_tokenizer_free(sc_tokenizer *t)
{
    if (!t)
        return;
    sc_bpe_free(t->bpe);
    free_set(&t->raw);
    free_set(&t->normalised);
    free(t->bos);
    free(t->eos);
    free(t->pad);
    free(t->unk);
    free(t);
}

void sc_tokenizer_get_info(const sc_tokenizer *t, sc_tokenizer_info *info)
{
    info->vocab_size = t->vocab_size;
    info->model_max_length = t->model_max_length;
    info->bos_id = t->bos_id;
    info->eos_id = t->eos_id;
    info->pad_id = t->pad_id;
    info->unk_id = t->unk_id;
    info->bos = t->bos;
    info->eos = t->eos;
    info->pad = t->pad;
    info->unk = t->unk;
}
