/* The Unicode operations of the CLIP tokenizer's normaliser and pre-tokeniser, with the data
 * the reference (Hugging Face `tokenizers`) uses: character classes of its regex engine,
 * Rust's lowercase mapping and its NFC (see tools/gen_unicode_tables.py for the versions).
 * Code points are uint32_t scalar values (no surrogates); all functions are pure. */
#ifndef SC_UNICODE_H
#define SC_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "sc_status.h"

/* Character classes of the CLIP regex: \p{L}, \p{N}, \s, anything else. */
typedef enum { SC_UNI_OTHER = 0, SC_UNI_LETTER = 1, SC_UNI_NUMBER = 2, SC_UNI_SPACE = 3 } sc_uni_class;

/* Longest canonical decomposition of one code point: NFC output never exceeds this many code
 * points per input code point. */
#define SC_UNI_NFD_MAX 4
/* Longest lowercase of one code point. */
#define SC_UNI_LOWER_MAX 3

sc_uni_class sc_uni_class_of(uint32_t cp);

/* Lowercase of `cp` into out (1..SC_UNI_LOWER_MAX code points); returns the count. */
int sc_uni_lower(uint32_t cp, uint32_t out[SC_UNI_LOWER_MAX]);

/* NFC of in[0..n) into out, which has room for SC_UNI_NFD_MAX * n code points (in and out must
 * not overlap). Returns the output length. */
size_t sc_uni_nfc(const uint32_t *in, size_t n, uint32_t *out);

/* Decode `len` bytes of UTF-8 into out (room for `len` code points); *n_out = count.
 * SC_ERR_VALUE naming `what` and the byte offset when the bytes are not well-formed UTF-8. */
sc_status sc_utf8_decode(const char *text, size_t len, const char *what, uint32_t *out, size_t *n_out);

/* UTF-8 encoding of one scalar value into out (room for 4 bytes); returns the byte count. */
size_t sc_utf8_encode(uint32_t cp, unsigned char out[4]);

#endif
