/* The CLIP tokenizer as transformers' CLIPTokenizerFast runs it (spec clip_stage_a_weights.md §1):
 *
 *   1. split the text on added tokens whose "normalized" flag is off (matched in the raw text);
 *   2. normalise each remaining piece: NFC, every run of whitespace -> one space, lowercase;
 *   3. split on the normalised added tokens;
 *   4. pre-tokenise the rest with the CLIP regex
 *        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      (whitespace dropped) and then ByteLevel's GPT-2 regex (it only splits the two special
 *      strings, into "<|", the letters and "|>");
 *   5. byte-level BPE per word (sc_bpe.h);
 *   6. BOS + ids + EOS, truncated to max_length (keeping room for BOS/EOS), padded with the pad
 *      token to max_length, attention mask 1 on real tokens.
 *
 * A tokenizer is immutable after loading except for the BPE memo, which is locked: any number
 * of threads may encode with one tokenizer at once. */
#ifndef SC_TOKENIZER_H
#define SC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "sc_bpe.h"
#include "sc_status.h"

typedef struct sc_tokenizer sc_tokenizer;

/* A token added on top of the BPE vocabulary (special tokens and user-added ones), with the
 * matching flags of tokenizers' AddedToken. */
typedef struct {
    sc_str content; /* UTF-8 */
    int64_t id;     /* -1: take the vocabulary's id, else the next free one */
    int lstrip, rstrip, normalized;
} sc_added_token;

/* What a tokenizer is made of, as the folder loader (sc_tokenizer_files.c) reads it. */
typedef struct {
    const sc_bpe_token *vocab;
    size_t n_vocab;
    const sc_bpe_merge *merges;
    size_t n_merges;
    sc_bpe_source source; /* file names for error messages */
    const sc_added_token *added; /* in the order they are added: a content listed again keeps */
    size_t n_added;              /* its first id and takes the later flags */
    const char *bos, *eos, *unk, *pad; /* token strings (unk may be NULL) */
    size_t model_max_length;
    int pad_left, truncate_left; /* padding_side / truncation_side "left" */
} sc_tokenizer_spec;

typedef struct {
    size_t vocab_size;        /* one more than the largest id, added tokens included */
    size_t model_max_length;
    uint32_t bos_id, eos_id, pad_id;
    int64_t unk_id;           /* -1 when there is none */
    const char *bos, *eos, *pad, *unk; /* owned by the tokenizer; unk may be NULL */
} sc_tokenizer_info;

sc_status sc_tokenizer_create(const sc_tokenizer_spec *spec, sc_tokenizer **out);

/* Load a Hugging Face tokenizer folder: vocab.json + merges.txt, or tokenizer.json when the
 * folder has only that; special tokens, padding/truncation sides and model_max_length from
 * tokenizer_config.json / special_tokens_map.json (defaults: CLIP's tokens, 77). */
sc_status sc_tokenizer_load(const char *folder, sc_tokenizer **out);
void sc_tokenizer_free(sc_tokenizer *t);

void sc_tokenizer_get_info(const sc_tokenizer *t, sc_tokenizer_info *info);

/* Append the ids of `text` (UTF-8) without BOS/EOS, stopping once out holds at least `limit`
 * more ids (it may hold a few more: callers truncate). SIZE_MAX = no limit. */
sc_status sc_tokenizer_encode(sc_tokenizer *t, const char *text, size_t len, size_t limit, sc_ids *out);

/* Rows of exactly `max_length` (>= 2) ids and mask values for n texts, as transformers'
 * tokenizer(texts, padding="max_length", truncation=True, max_length=max_length). */
sc_status sc_tokenizer_encode_batch(sc_tokenizer *t, const sc_str *texts, size_t n, size_t max_length, int64_t *ids,
                                    int64_t *mask);

#endif
