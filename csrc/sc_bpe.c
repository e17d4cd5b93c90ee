#include "sc_bpe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_strmap.h"
#include "sc_unicode.h"

#define CACHE_MAX_WORD 64          /* longer words are encoded every time (and are rare) */
#define CACHE_MAX_ENTRIES 50000    /* then the memo stops growing (about 6 MB at most) */
#define CACHE_BLOCK_BYTES (1u << 16)
#define MAX_ID 0x7fffffffu
#define NO_MERGE UINT64_MAX        /* empty slot; no pair of ids <= MAX_ID packs to this */
#define UNK_NONE (-1)              /* no unknown token: unmapped bytes are dropped */
#define UNK_MISSING (-2)           /* named but not in the vocabulary: unmapped bytes are an error */

/* ---- id arrays ----------------------------------------------------------------------------- */

sc_status sc_ids_reserve(sc_ids *a, size_t extra)
{
    if (a->cap - a->n >= extra)
        return SC_OK;
    size_t cap = a->cap ? a->cap : 64;
    while (cap - a->n < extra)
        cap *= 2;
    uint32_t *v = realloc(a->v, cap * sizeof *v);
    if (!v)
        return sc_set_error(SC_ERR_NOMEM, "out of memory for %zu token ids", cap);
    a->v = v;
    a->cap = cap;
    return SC_OK;
}

sc_status sc_ids_push(sc_ids *a, uint32_t id)
{
    SC_TRY(sc_ids_reserve(a, 1));
    a->v[a->n++] = id;
    return SC_OK;
}

void sc_ids_free(sc_ids *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* ---- model --------------------------------------------------------------------------------- */

typedef struct {
    uint64_t pair; /* left id << 32 | right id, or NO_MERGE */
    uint32_t rank, new_id;
} merge_slot;

/* Memo storage: entries never move, so the map can point into the blocks. */
typedef struct cache_block {
    struct cache_block *next;
    size_t used, cap;
    unsigned char data[];
} cache_block;

struct sc_bpe {
    char *strings; /* every token string, back to back (the vocab map points into it) */
    sc_strmap vocab;
    uint32_t id_end;
    merge_slot *merges;
    size_t merge_mask;
    int64_t byte_id[256];     /* symbol id of each byte inside a word, -1 when not a token */
    int64_t byte_eow_id[256]; /* ... as the word's last byte (with "</w>") */
    int64_t unk_id;           /* >= 0, UNK_NONE or UNK_MISSING */
    char unk_name[64];
    pthread_mutex_t lock; /* guards the memo */
    sc_strmap cache;      /* word bytes -> cache entry (uint32 count, then the ids) */
    cache_block *blocks;
};

static uint64_t pair_key(uint32_t left, uint32_t right) { return (uint64_t)left << 32 | right; }

static size_t pair_slot(const sc_bpe *b, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & b->merge_mask;
}

static const merge_slot *find_merge(const sc_bpe *b, uint32_t left, uint32_t right)
{
    uint64_t key = pair_key(left, right);
    for (size_t i = pair_slot(b, key);; i = (i + 1) & b->merge_mask) {
        if (b->merges[i].pair == key)
            return &b->merges[i];
        if (b->merges[i].pair == NO_MERGE)
            return NULL;
    }
}

/* GPT-2's byte -> printable character table: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes map to U+0100.. in increasing byte order. */
static int byte_is_printable(unsigned b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

static uint32_t byte_char(unsigned b)
{
    if (byte_is_printable(b))
        return b;
    uint32_t k = 0;
    for (unsigned x = 0; x < b; x++)
        k += !byte_is_printable(x);
    return 256 + k;
}

static int64_t lookup(const sc_bpe *b, const char *s, size_t len)
{
    size_t id;
    return sc_strmap_find(&b->vocab, s, len, &id) ? (int64_t)id : -1;
}

static sc_status load_vocab(sc_bpe *b, const sc_bpe_token *vocab, size_t n, const char *what)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += vocab[i].token.len;
    b->strings = malloc(total ? total : 1);
    if (!b->strings)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory for %zu bytes of tokens", what, total);
    SC_TRY(sc_strmap_init(&b->vocab, n));
    char *p = b->strings;
    for (size_t i = 0; i < n; i++) {
        const sc_bpe_token *t = &vocab[i];
        if (t->id > MAX_ID)
            return sc_set_error(SC_ERR_VALUE, "%s: id %u of token '%.*s' is too large", what, (unsigned)t->id,
                                (int)(t->token.len < 60 ? t->token.len : 60), t->token.s);
        memcpy(p, t->token.s, t->token.len);
        size_t existing;
        SC_TRY(sc_strmap_insert(&b->vocab, p, t->token.len, t->id, &existing));
        if (existing != SC_STRMAP_NEW)
            return sc_set_error(SC_ERR_VALUE, "%s: token '%.*s' appears twice", what,
                                (int)(t->token.len < 60 ? t->token.len : 60), t->token.s);
        p += t->token.len;
        if (t->id >= b->id_end)
            b->id_end = t->id + 1;
    }
    return SC_OK;
}

static sc_status merge_error(const sc_bpe_merge *m, const sc_bpe_source *src, const char *problem, sc_str tok)
{
    return sc_set_error(SC_ERR_VALUE, "%s: %s %zu ('%.*s %.*s'): %s '%.*s' is not in the vocabulary", src->merges,
                        src->merge_where, m->where, (int)(m->left.len < 60 ? m->left.len : 60), m->left.s,
                        (int)(m->right.len < 60 ? m->right.len : 60), m->right.s, problem,
                        (int)(tok.len < 60 ? tok.len : 60), tok.s);
}

static sc_status load_merges(sc_bpe *b, const sc_bpe_merge *merges, size_t n, const sc_bpe_source *src)
{
    const char *what = src->merges;
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    b->merges = malloc(cap * sizeof *b->merges);
    if (!b->merges)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory for %zu merges", what, n);
    for (size_t i = 0; i < cap; i++)
        b->merges[i].pair = NO_MERGE;
    b->merge_mask = cap - 1;
    char joined[512];
    for (size_t r = 0; r < n; r++) {
        const sc_bpe_merge *m = &merges[r];
        int64_t left = lookup(b, m->left.s, m->left.len), right = lookup(b, m->right.s, m->right.len);
        if (left < 0)
            return merge_error(m, src, "left part", m->left);
        if (right < 0)
            return merge_error(m, src, "right part", m->right);
        size_t jl = m->left.len + m->right.len;
        char *buf = jl <= sizeof joined ? joined : malloc(jl);
        if (!buf)
            return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", what);
        memcpy(buf, m->left.s, m->left.len);
        memcpy(buf + m->left.len, m->right.s, m->right.len);
        int64_t merged = lookup(b, buf, jl);
        sc_status s = merged < 0 ? merge_error(m, src, "merged token", (sc_str){buf, jl}) : SC_OK;
        if (buf != joined)
            free(buf);
        SC_TRY(s);
        uint64_t key = pair_key((uint32_t)left, (uint32_t)right);
        size_t i = pair_slot(b, key);
        while (b->merges[i].pair != NO_MERGE && b->merges[i].pair != key)
            i = (i + 1) & b->merge_mask;
        b->merges[i] = (merge_slot){key, (uint32_t)r, (uint32_t)merged};
    }
    return SC_OK;
}

static void map_bytes(sc_bpe *b)
{
    for (unsigned x = 0; x < 256; x++) {
        unsigned char s[4 + sizeof SC_BPE_EOW];
        size_t n = sc_utf8_encode(byte_char(x), s);
        b->byte_id[x] = lookup(b, (const char *)s, n);
        memcpy(s + n, SC_BPE_EOW, sizeof SC_BPE_EOW - 1);
        b->byte_eow_id[x] = lookup(b, (const char *)s, n + sizeof SC_BPE_EOW - 1);
    }
}

sc_status sc_bpe_create(const sc_bpe_token *vocab, size_t n_vocab, const sc_bpe_merge *merges, size_t n_merges,
                        const sc_bpe_source *src, const char *unk, sc_bpe **out)
{
    sc_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return sc_set_error(SC_ERR_NOMEM, "out of memory for a BPE model");
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b);
        return sc_set_error(SC_ERR_NOMEM, "cannot create a mutex for the BPE memo");
    }
    sc_status s = load_vocab(b, vocab, n_vocab, src->vocab);
    if (s == SC_OK)
        s = load_merges(b, merges, n_merges, src);
    if (s == SC_OK)
        s = sc_strmap_init(&b->cache, 1024);
    if (s != SC_OK) {
        sc_bpe_free(b);
        return s;
    }
    map_bytes(b);
    b->unk_id = UNK_NONE;
    if (unk) {
        snprintf(b->unk_name, sizeof b->unk_name, "%s", unk);
        int64_t id = lookup(b, unk, strlen(unk));
        b->unk_id = id >= 0 ? id : UNK_MISSING;
    }
    *out = b;
    return SC_OK;
}

void sc_bpe_free(sc_bpe *b)
{
    if (!b)
        return;
    sc_strmap_free(&b->vocab);
    sc_strmap_free(&b->cache);
    while (b->blocks) {
        cache_block *next = b->blocks->next;
        free(b->blocks);
        b->blocks = next;
    }
    pthread_mutex_destroy(&b->lock);
    free(b->merges);
    free(b->strings);
    free(b);
}

int sc_bpe_token_id(const sc_bpe *b, const char *token, size_t len, uint32_t *id)
{
    int64_t v = lookup(b, token, len);
    if (v < 0)
        return 0;
    *id = (uint32_t)v;
    return 1;
}

uint32_t sc_bpe_id_end(const sc_bpe *b) { return b->id_end; }

/* ---- merging ------------------------------------------------------------------------------- */

typedef struct {
    uint32_t id;
    int32_t prev, next; /* linked list of live symbols; -1 at the ends */
    uint8_t alive;
} symbol;

typedef struct {
    uint32_t rank, pos, new_id;
} candidate;

static int before(const candidate *a, const candidate *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(candidate *h, size_t *n, candidate c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&c, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
}

static candidate heap_pop(candidate *h, size_t *n)
{
    candidate top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && before(&h[child + 1], &h[child]))
            child++;
        if (!before(&h[child], &last))
            break;
        h[i] = h[child];
        i = child;
    }
    if (*n)
        h[i] = last;
    return top;
}

static void push_pair(const sc_bpe *b, const symbol *sym, int32_t pos, candidate *heap, size_t *n_heap)
{
    const merge_slot *m = find_merge(b, sym[pos].id, sym[sym[pos].next].id);
    if (m)
        heap_push(heap, n_heap, (candidate){m->rank, (uint32_t)pos, m->new_id});
}

/* Lowest rank first, leftmost on ties; an entry whose pair has changed since it was queued is
 * skipped (the reference's rule: the pair must still produce the queued token). */
static void merge_all(const sc_bpe *b, symbol *sym, size_t n, candidate *heap)
{
    size_t n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(b, sym, (int32_t)i, heap, &n_heap);
    while (n_heap) {
        candidate c = heap_pop(heap, &n_heap);
        symbol *s = &sym[c.pos];
        if (!s->alive || s->next < 0)
            continue;
        const merge_slot *m = find_merge(b, s->id, sym[s->next].id);
        if (!m || m->new_id != c.new_id)
            continue;
        symbol *right = &sym[s->next];
        s->id = c.new_id;
        s->next = right->next;
        right->alive = 0;
        if (s->next >= 0)
            sym[s->next].prev = (int32_t)c.pos;
        if (s->prev >= 0)
            push_pair(b, sym, s->prev, heap, &n_heap);
        if (s->next >= 0)
            push_pair(b, sym, (int32_t)c.pos, heap, &n_heap);
    }
}

/* ---- memo ---------------------------------------------------------------------------------- */

/* Append the memoised ids of `word` to out; 1 when found. Caller holds the lock. */
static int cache_get(sc_bpe *b, const unsigned char *word, size_t len, sc_ids *out, sc_status *st)
{
    size_t value;
    if (!sc_strmap_find(&b->cache, (const char *)word, len, &value))
        return 0;
    const uint32_t *entry = (const uint32_t *)value;
    *st = sc_ids_reserve(out, entry[0]);
    if (*st == SC_OK) {
        memcpy(out->v + out->n, entry + 1, entry[0] * sizeof(uint32_t));
        out->n += entry[0];
    }
    return 1;
}

/* Memoise ids[0..n) for `word` (best effort: a full memo or no memory just skips it). Caller
 * holds the lock. */
static void cache_put(sc_bpe *b, const unsigned char *word, size_t len, const uint32_t *ids, size_t n)
{
    if (b->cache.count >= CACHE_MAX_ENTRIES)
        return;
    size_t need = (1 + n) * sizeof(uint32_t) + len;
    need = (need + 3) & ~(size_t)3;
    cache_block *blk = b->blocks;
    if (!blk || blk->cap - blk->used < need) {
        blk = malloc(sizeof *blk + CACHE_BLOCK_BYTES);
        if (!blk)
            return;
        blk->used = 0;
        blk->cap = CACHE_BLOCK_BYTES;
        blk->next = b->blocks;
        b->blocks = blk;
    }
    uint32_t *entry = (uint32_t *)(blk->data + blk->used);
    entry[0] = (uint32_t)n;
    memcpy(entry + 1, ids, n * sizeof(uint32_t));
    char *key = (char *)(entry + 1 + n);
    memcpy(key, word, len);
    size_t existing;
    if (sc_strmap_insert(&b->cache, key, len, (size_t)entry, &existing) == SC_OK && existing == SC_STRMAP_NEW)
        blk->used += need;
    else
        sc_clear_error(); /* memo not grown (raced with another thread, or no memory): no harm */
}

/* ---- words --------------------------------------------------------------------------------- */

sc_status sc_bpe_encode_word(sc_bpe *b, const unsigned char *word, size_t len, sc_ids *out)
{
    int cacheable = len <= CACHE_MAX_WORD;
    if (cacheable) {
        sc_status st = SC_OK;
        pthread_mutex_lock(&b->lock);
        int hit = cache_get(b, word, len, out, &st);
        pthread_mutex_unlock(&b->lock);
        if (hit)
            return st;
    }
    symbol stack_sym[CACHE_MAX_WORD];
    candidate stack_heap[3 * CACHE_MAX_WORD];
    symbol *sym = stack_sym;
    candidate *heap = stack_heap;
    if (!cacheable) {
        sym = malloc(len * sizeof *sym);
        heap = malloc(3 * len * sizeof *heap);
        if (!sym || !heap) {
            free(sym);
            free(heap);
            return sc_set_error(SC_ERR_NOMEM, "out of memory for a word of %zu bytes", len);
        }
    }
    sc_status st = SC_OK;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int64_t id = i + 1 == len ? b->byte_eow_id[word[i]] : b->byte_id[word[i]];
        if (id < 0) {
            if (b->unk_id == UNK_NONE)
                continue;
            if (b->unk_id == UNK_MISSING) {
                st = sc_set_error(SC_ERR_VALUE, "byte 0x%02x has no token and the unknown token '%s' is not in the vocabulary",
                                  word[i], b->unk_name);
                break;
            }
            id = b->unk_id;
        }
        sym[n] = (symbol){(uint32_t)id, (int32_t)n - 1, (int32_t)n + 1, 1};
        n++;
    }
    if (st == SC_OK && n) {
        sym[n - 1].next = -1;
        merge_all(b, sym, n, heap);
        size_t start = out->n;
        for (int32_t i = 0; i >= 0 && st == SC_OK; i = sym[i].next)
            st = sc_ids_push(out, sym[i].id);
        if (st == SC_OK && cacheable) {
            pthread_mutex_lock(&b->lock);
            cache_put(b, word, len, out->v + start, out->n - start);
            pthread_mutex_unlock(&b->lock);
        }
    }
    if (!cacheable) {
        free(sym);
        free(heap);
    }
    return st;
}
