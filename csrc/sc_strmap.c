#include "sc_strmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a followed by a 64-bit finalizer so the low bits (used as the slot index) are well mixed. */
static uint64_t hash_bytes(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static sc_status alloc_slots(sc_strmap *m, size_t capacity)
{
    sc_strmap_slot *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return sc_set_error(SC_ERR_NOMEM, "out of memory for a hash table of %zu slots", capacity);
    m->slots = slots;
    m->capacity = capacity;
    return SC_OK;
}

/* Smallest power of two that keeps `n` keys at most half full. */
static size_t capacity_for(size_t n)
{
    size_t cap = 16;
    while (cap / 2 < n && cap < (SIZE_MAX >> 2))
        cap <<= 1;
    return cap;
}

sc_status sc_strmap_init(sc_strmap *m, size_t expected)
{
    m->slots = NULL;
    m->capacity = 0;
    m->count = 0;
    return alloc_slots(m, capacity_for(expected));
}

void sc_strmap_free(sc_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->capacity = 0;
    m->count = 0;
}

static size_t probe(const sc_strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->capacity - 1;
    size_t i = (size_t)h & mask;
    for (;;) {
        const sc_strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

static sc_status grow(sc_strmap *m)
{
    sc_strmap old = *m;
    SC_TRY(alloc_slots(m, old.capacity * 2));
    for (size_t i = 0; i < old.capacity; i++)
        if (old.slots[i].key)
            m->slots[probe(m, old.slots[i].key, old.slots[i].len, old.slots[i].hash)] = old.slots[i];
    free(old.slots);
    return SC_OK;
}

sc_status sc_strmap_insert(sc_strmap *m, const char *key, size_t len, size_t value, size_t *existing)
{
    if ((m->count + 1) * 2 > m->capacity)
        SC_TRY(grow(m));
    uint64_t h = hash_bytes(key, len);
    sc_strmap_slot *s = &m->slots[probe(m, key, len, h)];
    if (s->key) {
        *existing = s->value;
        return SC_OK;
    }
    s->key = key;
    s->len = len;
    s->value = value;
    s->hash = h;
    m->count++;
    *existing = SC_STRMAP_NEW;
    return SC_OK;
}

int sc_strmap_find(const sc_strmap *m, const char *key, size_t len, size_t *value)
{
    const sc_strmap_slot *s = &m->slots[probe(m, key, len, hash_bytes(key, len))];
    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}
