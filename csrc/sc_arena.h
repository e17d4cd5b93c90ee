/* Activation memory for a forward pass: a bump allocator over one device buffer.
 *
 * A network allocates its activations from an arena and calls sc_arena_reset() when the pass
 * is over. The first pass finds out how much it needs: allocations that do not fit come from
 * separate overflow blocks, and the next reset replaces everything with one buffer of the
 * high-water size. From the second pass on (every denoising step after the first) nothing is
 * allocated. sc_arena_mark/sc_arena_release_to give stack-like scoping inside a pass. */
#ifndef SC_ARENA_H
#define SC_ARENA_H

#include "sc_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_arena sc_arena;

sc_status sc_arena_create(sc_device dev, size_t initial_bytes, sc_arena **out);
void sc_arena_destroy(sc_arena *a);

/* A descriptor tensor (refcount 0) whose data lives in the arena until reset/release. */
sc_status sc_arena_tensor(sc_arena *a, sc_dtype dt, int ndim, const int64_t *shape, sc_tensor *out);
sc_status sc_arena_alloc(sc_arena *a, size_t bytes, void **out);

size_t sc_arena_mark(const sc_arena *a);
/* Free everything allocated after `mark` (overflow blocks stay until the next reset). */
void sc_arena_release_to(sc_arena *a, size_t mark);
/* End of a pass: everything is free again; grows the main buffer to the high-water mark. */
sc_status sc_arena_reset(sc_arena *a);

size_t sc_arena_capacity(const sc_arena *a);
size_t sc_arena_high_water(const sc_arena *a);
/* Number of device allocations the arena has made in total (tests use it to prove that
 * steady-state passes allocate nothing). */
size_t sc_arena_alloc_count(const sc_arena *a);

#ifdef __cplusplus
}
#endif

#endif
