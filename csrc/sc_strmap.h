/* A hash map from byte strings to size_t values (open addressing, linear probing).
 *
 * Keys are NOT copied: the caller keeps every inserted key alive (and unchanged) as long as the
 * map is used. Keys are (pointer, length) pairs, so they may contain NUL bytes. Used for tensor
 * lookup by name, duplicate-key detection in JSON objects and vocabulary tables. */
#ifndef SC_STRMAP_H
#define SC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "sc_status.h"

/* *existing value reported by sc_strmap_insert when the key was new. */
#define SC_STRMAP_NEW SIZE_MAX

typedef struct {
    const char *key;
    size_t len;
    size_t value;
    uint64_t hash;
} sc_strmap_slot;

typedef struct {
    sc_strmap_slot *slots; /* capacity entries; key == NULL marks an empty slot */
    size_t capacity;       /* a power of two, at least twice count */
    size_t count;
} sc_strmap;

/* An empty map with room for `expected` keys before it grows (0 is fine). Every other function
 * needs an initialised map; keys must be non-NULL pointers (also when len is 0). */
sc_status sc_strmap_init(sc_strmap *m, size_t expected);
void sc_strmap_free(sc_strmap *m);

/* Insert key -> value when the key is absent: *existing = SC_STRMAP_NEW. When it is present the
 * map is left unchanged and *existing receives the stored value. Fails only when out of memory. */
sc_status sc_strmap_insert(sc_strmap *m, const char *key, size_t len, size_t value, size_t *existing);

/* 1 and *value when present, 0 when absent. */
int sc_strmap_find(const sc_strmap *m, const char *key, size_t len, size_t *value);

#endif
