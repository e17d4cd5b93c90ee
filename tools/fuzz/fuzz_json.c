/* libFuzzer harness for the JSON parser (csrc/sc_json.c). Beyond "no crash, no sanitizer
 * report" it checks invariants of every accepted document: the input was valid UTF-8, decoded
 * strings are valid UTF-8 of the stated length, and the accessors behave. Build and run:
 * tools/fuzz/build.sh && tools/fuzz/run.sh (docs/safetensors.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_json.h"

#define CHECK(cond)      \
    do {                 \
        if (!(cond))     \
            abort();     \
    } while (0)

static void walk(const sc_json *n, int depth)
{
    CHECK(depth <= SC_JSON_MAX_DEPTH);
    switch (n->type) {
    case SC_JSON_NULL:
    case SC_JSON_BOOL: break;
    case SC_JSON_NUMBER: {
        uint64_t u;
        double d;
        CHECK(n->len > 0 && strlen(n->str) == n->len);
        CHECK(sc_json_as_double(n, &d) == 0);
        if (sc_json_as_u64(n, &u) == 0)
            CHECK(n->str[0] >= '0' && n->str[0] <= '9');
        break;
    }
    case SC_JSON_STRING: CHECK(n->str[n->len] == '\0' && sc_utf8_check(n->str, n->len) == n->len); break;
    case SC_JSON_ARRAY:
        for (size_t i = 0; i < n->len; i++)
            walk(n->items[i], depth + 1);
        break;
    case SC_JSON_OBJECT:
        for (size_t i = 0; i < n->len; i++) {
            CHECK(n->keys[i][n->key_lens[i]] == '\0' && sc_utf8_check(n->keys[i], n->key_lens[i]) == n->key_lens[i]);
            walk(n->items[i], depth + 1);
        }
        if (n->len && strlen(n->keys[0]) == n->key_lens[0]) /* a key with a NUL has no C-string name */
            CHECK(sc_json_get(n, n->keys[0]) != NULL);
        sc_json_duplicate_key(n);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CHECK(sc_utf8_check((const char *)data, size) <= size);
    sc_json_doc *doc = NULL;
    if (sc_json_parse((const char *)data, size, "fuzz", &doc) != SC_OK)
        return 0;
    CHECK(sc_utf8_check((const char *)data, size) == size);
    walk(sc_json_root(doc), 0);
    sc_json_free(doc);
    return 0;
}
