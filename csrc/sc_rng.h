/* A random generator with the semantics of torch's CPU generator (torch.Generator("cpu")):
 * the same seeds give the same MT19937 stream, and sc_randn_f32 returns the same float32 values,
 * bit for bit, as torch.randn(n, generator=g) on an x86 CPU with AVX2 or AVX-512, for every n,
 * with successive draws continuing one stream exactly as successive torch.randn calls do.
 * Details and what was verified: docs/rng.md, spec/torch_rng.md §5. */
#ifndef SC_RNG_H
#define SC_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "sc_status.h"

#define SC_MT_WORDS 624
/* torch.Generator().initial_seed() for a generator nobody seeded (c10's default_rng_seed_val). */
#define SC_TORCH_DEFAULT_SEED 67280421310721ULL
/* Size of the state blob (torch's CPUGeneratorImplState: get_state() of a CPU generator). */
#define SC_GENERATOR_STATE_BYTES 5056

typedef struct sc_generator {
    uint64_t initial_seed; /* as given to manual_seed (torch keeps all 64 bits, MT uses the low 32) */
    uint32_t mt[SC_MT_WORDS];
    uint32_t next;          /* index of the next word of mt to hand out */
    int32_t left;           /* torch's mt19937 `left_`: regenerate the block when it drops to 0 */
    int has_normal_f64;     /* the double Box-Muller path (numel < 16) keeps its second value here */
    double normal_f64;
    int has_normal_f32;     /* torch's float cache; randn never fills it, kept so states round-trip */
    float normal_f32;
} sc_generator;

/* torch's manual_seed: MT19937 init_genrand(seed & 0xffffffff); clears the cached normals.
 * (A negative Python seed is its two's complement, as in torch.) */
void sc_generator_manual_seed(sc_generator *g, uint64_t seed);

/* Next tempered MT19937 word (torch's random()). */
uint32_t sc_generator_random(sc_generator *g);

/* torch's random64(): the first word is the high half. */
uint64_t sc_generator_random64(sc_generator *g);

/* The state as torch's Generator.get_state() lays it out (little-endian), so states can be
 * exchanged with torch in both directions. */
void sc_generator_get_state(const sc_generator *g, uint8_t out[SC_GENERATOR_STATE_BYTES]);

/* Restore a state written by sc_generator_get_state or by torch. Fails (SC_ERR_VALUE, g untouched)
 * on a wrong size or an MT position torch would also reject. */
sc_status sc_generator_set_state(sc_generator *g, const uint8_t *state, size_t size);

/* torch.randn(n, generator=g, dtype=float32) into out[0..n): n >= 16 takes the vectorised fill
 * path (24-bit uniforms, Box-Muller in blocks of 16, the tail redrawn as the last 16 values),
 * n < 16 the double path with its cached second value. Cannot fail. */
void sc_randn_f32(sc_generator *g, float *out, size_t n);

/* diffusers' randn_tensor for a shape (batch, ...) with `per_item` values per batch entry:
 * one generator draws the whole tensor at once; `batch` generators draw one entry each, in
 * order (a list of one generator counts as one generator, as in diffusers). */
sc_status sc_randn_tensor_f32(sc_generator *const *gens, size_t n_gens, size_t batch, size_t per_item,
                              float *out);

#endif
