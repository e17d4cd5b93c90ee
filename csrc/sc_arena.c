#include "sc_arena.h"

#include <stdlib.h>

/* 256 bytes satisfies both SIMD loads on the host and coalesced access on a GPU. */
#define SC_ARENA_ALIGN 256

typedef struct overflow_block {
    struct overflow_block *next;
    void *ptr;
    size_t offset; /* the arena's `used` when it was allocated: its place in the stack */
    size_t size;
} overflow_block;

struct sc_arena {
    sc_device device;
    char *base;
    size_t capacity;
    size_t used;       /* bytes of `base` in use (virtual offset when overflowing) */
    size_t high_water; /* largest `used` seen since creation */
    size_t alloc_count;
    size_t held, peak_held; /* device bytes held now (buffer + overflow blocks), and at most */
    overflow_block *overflow;
};

static size_t align_up(size_t n) { return (n + SC_ARENA_ALIGN - 1) / SC_ARENA_ALIGN * SC_ARENA_ALIGN; }

static void count_held(sc_arena *a, size_t bytes)
{
    a->held += bytes;
    if (a->held > a->peak_held)
        a->peak_held = a->held;
}

static void free_block(sc_arena *a, overflow_block *b)
{
    sc_device_free(a->device, b->ptr);
    a->held -= b->size;
    free(b);
}

sc_status sc_arena_create(sc_device dev, size_t initial_bytes, sc_arena **out)
{
    sc_arena *a = calloc(1, sizeof *a);
    if (!a)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for an arena");
    a->device = dev;
    if (initial_bytes) {
        sc_status s = sc_device_malloc(dev, align_up(initial_bytes), (void **)&a->base);
        if (s != SC_OK) {
            free(a);
            return s;
        }
        a->capacity = align_up(initial_bytes);
        a->alloc_count = 1;
        count_held(a, a->capacity);
    }
    *out = a;
    return SC_OK;
}

static void free_overflow(sc_arena *a)
{
    while (a->overflow) {
        overflow_block *b = a->overflow;
        a->overflow = b->next;
        free_block(a, b);
    }
}

void sc_arena_destroy(sc_arena *a)
{
    if (!a)
        return;
    free_overflow(a);
    sc_device_free(a->device, a->base);
    free(a);
}

sc_status sc_arena_alloc(sc_arena *a, size_t bytes, void **out)
{
    size_t size = align_up(bytes ? bytes : 1);
    size_t end = a->used + size;
    if (end > a->high_water)
        a->high_water = end;
    if (end <= a->capacity) {
        *out = a->base + a->used;
        a->used = end;
        return SC_OK;
    }
    /* Planning pass: serve from a separate block, remember the size for the next reset. */
    overflow_block *b = malloc(sizeof *b);
    if (!b)
        return sc_set_error(SC_ERR_NOMEM, "out of host memory for an arena block");
    sc_status s = sc_device_malloc(a->device, size, &b->ptr);
    if (s != SC_OK) {
        free(b);
        return s;
    }
    b->next = a->overflow;
    b->offset = a->used;
    b->size = size;
    a->overflow = b;
    a->alloc_count++;
    count_held(a, size);
    a->used = end;
    *out = b->ptr;
    return SC_OK;
}

sc_status sc_arena_tensor(sc_arena *a, sc_dtype dt, int ndim, const int64_t *shape, sc_tensor *out)
{
    sc_tensor t = sc_tensor_desc(a->device, dt, NULL, ndim, shape);
    void *p = NULL;
    SC_TRY(sc_arena_alloc(a, sc_tensor_nbytes(&t), &p));
    t.data = p;
    *out = t;
    return SC_OK;
}

size_t sc_arena_mark(const sc_arena *a) { return a->used; }

void sc_arena_release_to(sc_arena *a, size_t mark)
{
    if (mark < a->used)
        a->used = mark;
    /* Overflow blocks above the mark are freed now (the list is newest first), so that a
     * planning pass holds what a planned pass holds, not every temporary it ever made. */
    while (a->overflow && a->overflow->offset >= mark) {
        overflow_block *b = a->overflow;
        a->overflow = b->next;
        free_block(a, b);
    }
}

sc_status sc_arena_reset(sc_arena *a)
{
    a->used = 0;
    if (a->high_water <= a->capacity)
        return SC_OK;
    free_overflow(a);
    sc_device_free(a->device, a->base);
    a->held -= a->capacity;
    a->base = NULL;
    a->capacity = 0;
    SC_TRY(sc_device_malloc(a->device, a->high_water, (void **)&a->base));
    a->capacity = a->high_water;
    a->alloc_count++;
    count_held(a, a->capacity);
    return SC_OK;
}

void sc_arena_free_memory(sc_arena *a)
{
    free_overflow(a);
    sc_device_free(a->device, a->base);
    a->held -= a->capacity;
    a->base = NULL;
    a->capacity = 0;
    a->used = 0;
}

size_t sc_arena_capacity(const sc_arena *a) { return a->capacity; }
size_t sc_arena_high_water(const sc_arena *a) { return a->high_water; }
size_t sc_arena_alloc_count(const sc_arena *a) { return a->alloc_count; }
size_t sc_arena_peak_bytes(const sc_arena *a) { return a->peak_held; }
