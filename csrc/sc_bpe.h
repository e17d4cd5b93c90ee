/* Byte-level BPE model with an end-of-word suffix, as CLIP uses it (tokenizers' BPE with
 * end_of_word_suffix "</w>", continuing_subword_prefix "", no dropout, no byte fallback).
 *
 * A pre-tokenized word (raw UTF-8 bytes) becomes one symbol per byte, each byte mapped to its
 * printable stand-in character (the GPT-2 byte-to-unicode table), the last one carrying "</w>".
 * Then, repeatedly, the adjacent pair with the lowest merge rank (leftmost on ties) is merged,
 * until no pair has a rank. The result is memoised per word; the memo is shared and locked, so
 * one model may encode from several threads at once. */
#ifndef SC_BPE_H
#define SC_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "sc_status.h"

#define SC_BPE_EOW "</w>"

/* A growable array of token ids (free with sc_ids_free). */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} sc_ids;

sc_status sc_ids_reserve(sc_ids *a, size_t extra);
sc_status sc_ids_push(sc_ids *a, uint32_t id);
void sc_ids_free(sc_ids *a);

/* A byte string that is not NUL-terminated. */
typedef struct {
    const char *s;
    size_t len;
} sc_str;

typedef struct {
    sc_str token;
    uint32_t id;
} sc_bpe_token;

/* A merge rule "left right"; its rank is its index in the array. `where` (the line number in
 * merges.txt, the index in tokenizer.json) only labels error messages. */
typedef struct {
    sc_str left, right;
    size_t where;
} sc_bpe_merge;

typedef struct sc_bpe sc_bpe;

/* Where the vocabulary and merges come from, for error messages: file names, and what a
 * merge's `where` counts ("line" or "merges index"). */
typedef struct {
    const char *vocab, *merges, *merge_where;
} sc_bpe_source;

/* Build the model. Token strings are copied. A repeated token, an id above 2^31-1, or a merge
 * whose parts or concatenation are not tokens is an SC_ERR_VALUE naming the file (and the
 * merge's `where`); a pair listed twice keeps its last rank, as the reference does. `unk` (may
 * be NULL) names the unknown token, used for bytes whose symbol is not in the vocabulary. */
sc_status sc_bpe_create(const sc_bpe_token *vocab, size_t n_vocab, const sc_bpe_merge *merges, size_t n_merges,
                        const sc_bpe_source *src, const char *unk, sc_bpe **out);
void sc_bpe_free(sc_bpe *b);

/* 1 and *id when `token` is in the vocabulary, else 0. */
int sc_bpe_token_id(const sc_bpe *b, const char *token, size_t len, uint32_t *id);
/* One more than the largest id in the vocabulary. */
uint32_t sc_bpe_id_end(const sc_bpe *b);

/* Append the ids of one pre-tokenized word (len >= 1 bytes). Fails only when out of memory or
 * when a byte's symbol is missing and the unknown token is named but not in the vocabulary. */
sc_status sc_bpe_encode_word(sc_bpe *b, const unsigned char *word, size_t len, sc_ids *out);

#endif
