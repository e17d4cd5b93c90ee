/* A small strict JSON parser (RFC 8259) producing a read-only DOM.
 *
 * Used for safetensors headers, tokenizer files (vocab.json, tokenizer.json) and configs read
 * from C. Strings are decoded to UTF-8 (\uXXXX escapes incl. surrogate pairs; lone surrogates
 * are errors); numbers keep their text so callers can ask for an exact uint64 or a double.
 * Nesting depth is bounded (SC_JSON_MAX_DEPTH) so hostile input cannot blow the stack.
 * All nodes live in one arena owned by the sc_json_doc. */
#ifndef SC_JSON_H
#define SC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "sc_status.h"

#define SC_JSON_MAX_DEPTH 128

typedef enum { SC_JSON_NULL, SC_JSON_BOOL, SC_JSON_NUMBER, SC_JSON_STRING, SC_JSON_ARRAY, SC_JSON_OBJECT } sc_json_type;

typedef struct sc_json sc_json;
struct sc_json {
    sc_json_type type;
    int boolean;
    const char *str;  /* STRING: decoded UTF-8 (NUL-terminated; may contain NULs, see len); NUMBER: its text */
    size_t len;       /* STRING/NUMBER: byte length; ARRAY/OBJECT: element count */
    sc_json **items;  /* ARRAY: elements; OBJECT: values */
    const char **keys; /* OBJECT: decoded keys (NUL-terminated) */
    size_t *key_lens;  /* OBJECT: key byte lengths */
};

typedef struct sc_json_doc sc_json_doc;

/* Parse `len` bytes (need not be NUL-terminated; never read past `len`). `what` names the
 * source in error messages ("vocab.json"). On failure returns SC_ERR_VALUE with the byte
 * offset, line and column of the problem (SC_ERR_NOMEM when memory runs out). The document
 * does not reference `text` afterwards. Any value is accepted at the top level; a UTF-8 BOM
 * is not (RFC 8259 8.1). */
sc_status sc_json_parse(const char *text, size_t len, const char *what, sc_json_doc **out);
const sc_json *sc_json_root(const sc_json_doc *doc);
void sc_json_free(sc_json_doc *doc);

/* Object member by key (first match), or NULL. */
const sc_json *sc_json_get(const sc_json *obj, const char *key);
/* Number -> exact unsigned integer (no sign, fraction or exponent); 0 on success. */
int sc_json_as_u64(const sc_json *num, uint64_t *out);
/* Number -> double, correctly rounded whatever the C locale; magnitudes beyond the double
 * range give +-inf or +-0 (as Python's json does). 0 on success, nonzero when `num` is not a
 * number. */
int sc_json_as_double(const sc_json *num, double *out);
/* Does the object have a key twice? Returns the second occurrence of the first repeated key
 * (in document order), or NULL. O(n) with a hash table. */
const char *sc_json_duplicate_key(const sc_json *obj);

/* Length of the longest well-formed UTF-8 prefix of `text` (== len when all of it is valid):
 * no overlong forms, no encoded surrogates, nothing above U+10FFFF. */
size_t sc_utf8_check(const char *text, size_t len);

#endif
