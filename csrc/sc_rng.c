/* torch-compatible CPU random generator: MT19937 engine, state blob, and torch.randn for float32.
 * The rules (which path, how many words, which math) are in spec/torch_rng.md §5; the float math
 * of the AVX2 kernel lives in sc_torch_math.c. */
#include "sc_bits.h"
#include "sc_rng.h"

#include <math.h>
#include <string.h>

#include "sc_ops.h"
#include "sc_torch_math.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

enum { MT_M = 397 };

/* ---- engine (torch's at::mt19937: same `left`/`next` bookkeeping, so states match torch's) ---- */

void sc_generator_manual_seed(sc_generator *g, uint64_t seed)
{
    g->initial_seed = seed;
    g->mt[0] = (uint32_t)(seed & 0xffffffffu);
    for (uint32_t i = 1; i < SC_MT_WORDS; i++)
        g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + i;
    g->left = 1;
    g->next = 0;
    g->has_normal_f64 = 0;
    g->normal_f64 = 0.0;
    g->has_normal_f32 = 0;
    g->normal_f32 = 0.0f;
}

static uint32_t twist(uint32_t u, uint32_t v)
{
    uint32_t y = (u & 0x80000000u) | (v & 0x7fffffffu);
    return (y >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
}

static void regenerate(sc_generator *g)
{
    uint32_t *mt = g->mt;
    int k = 0;
    for (; k < SC_MT_WORDS - MT_M; k++)
        mt[k] = mt[k + MT_M] ^ twist(mt[k], mt[k + 1]);
    for (; k < SC_MT_WORDS - 1; k++)
        mt[k] = mt[k + MT_M - SC_MT_WORDS] ^ twist(mt[k], mt[k + 1]);
    mt[k] = mt[k + MT_M - SC_MT_WORDS] ^ twist(mt[k], mt[0]);
    g->left = SC_MT_WORDS;
    g->next = 0;
}

uint32_t sc_generator_random(sc_generator *g)
{
    if (--g->left == 0)
        regenerate(g);
    uint32_t y = g->mt[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t sc_generator_random64(sc_generator *g)
{
    uint64_t hi = sc_generator_random(g);
    uint64_t lo = sc_generator_random(g);
    return (hi << 32) | lo;
}

/* ---- state blob: torch's CPUGeneratorImplState, little-endian ----
 *   0 u64 the_initial_seed   8 i32 left   12 i32 seeded   16 u64 next   24 u64 state[624]
 *   5016 f64 normal_x   5024 f64 normal_y (cached normal)   5032 f64 normal_rho   5040 i32 normal_is_valid
 *   5048 f32 next_float_normal_sample   5052 u8 is_next_float_normal_sample_valid   (rest: padding) */

enum {
    ST_SEED = 0,
    ST_LEFT = 8,
    ST_SEEDED = 12,
    ST_NEXT = 16,
    ST_MT = 24,
    ST_NORMAL_X = ST_MT + 8 * SC_MT_WORDS,
    ST_NORMAL_Y = ST_NORMAL_X + 8,
    ST_NORMAL_RHO = ST_NORMAL_Y + 8,
    ST_NORMAL_VALID = ST_NORMAL_RHO + 8,
    ST_FLOAT_NORMAL = ST_NORMAL_VALID + 8,
    ST_FLOAT_NORMAL_VALID = ST_FLOAT_NORMAL + 4,
};

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

void sc_generator_get_state(const sc_generator *g, uint8_t out[SC_GENERATOR_STATE_BYTES])
{
    memset(out, 0, SC_GENERATOR_STATE_BYTES);
    put_u64(out + ST_SEED, g->initial_seed);
    put_u32(out + ST_LEFT, (uint32_t)g->left);
    put_u32(out + ST_SEEDED, 1);
    put_u64(out + ST_NEXT, g->next);
    for (int i = 0; i < SC_MT_WORDS; i++)
        put_u64(out + ST_MT + 8 * i, g->mt[i]);
    if (g->has_normal_f64) {
        put_u64(out + ST_NORMAL_Y, sc_f64_bits(g->normal_f64));
        put_u32(out + ST_NORMAL_VALID, 1);
    }
    if (g->has_normal_f32) {
        put_u32(out + ST_FLOAT_NORMAL, sc_f32_bits(g->normal_f32));
        out[ST_FLOAT_NORMAL_VALID] = 1;
    }
}

sc_status sc_generator_set_state(sc_generator *g, const uint8_t *state, size_t size)
{
    if (size != SC_GENERATOR_STATE_BYTES)
        return sc_set_error(SC_ERR_VALUE, "generator state must be %d bytes (torch CPU generator layout), got %zu",
                            SC_GENERATOR_STATE_BYTES, size);
    int32_t left = (int32_t)get_u32(state + ST_LEFT);
    uint64_t next = get_u64(state + ST_NEXT);
    /* torch's mt19937::is_valid() */
    if (get_u32(state + ST_SEEDED) == 0 || left < 1 || left > SC_MT_WORDS || next > SC_MT_WORDS)
        return sc_set_error(SC_ERR_VALUE, "invalid generator state (MT19937 position left=%d next=%llu)", (int)left,
                            (unsigned long long)next);
    g->initial_seed = get_u64(state + ST_SEED);
    g->left = left;
    g->next = (uint32_t)next;
    for (int i = 0; i < SC_MT_WORDS; i++)
        g->mt[i] = (uint32_t)get_u64(state + ST_MT + 8 * i);
    g->has_normal_f64 = get_u32(state + ST_NORMAL_VALID) != 0;
    g->normal_f64 = g->has_normal_f64 ? sc_bits_f64(get_u64(state + ST_NORMAL_Y)) : 0.0;
    g->has_normal_f32 = state[ST_FLOAT_NORMAL_VALID] != 0;
    g->normal_f32 = g->has_normal_f32 ? sc_bits_f32(get_u32(state + ST_FLOAT_NORMAL)) : 0.0f;
    return SC_OK;
}

/* ---- torch.randn, float32 ---- */

/* uniform_real_distribution<float>(0, 1): 24 bits of one word. */
static float uniform_f32(sc_generator *g)
{
    return (float)(sc_generator_random(g) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* uniform_real_distribution<double>(0, 1): 53 bits of random64(). */
static double uniform_f64(sc_generator *g)
{
    return (double)(sc_generator_random64(g) & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* normal_fill_16_AVX2 on 16 uniforms: lanes j and j+8 form one Box-Muller pair, the first
 * supplies the radius, the second the angle. `+ 0.0f` is the kernel's fmadd(n, std=1, mean=0). */
static void normal_block16(float *d)
{
    for (int j = 0; j < 8; j++) {
        float radius = sqrtf(-2.0f * sc_tm_log_avx2(1.0f - d[j]));
        float s, c;
        sc_tm_sincos_avx2(6.28318548f * d[j + 8], &s, &c);
        d[j] = radius * c + 0.0f;
        d[j + 8] = radius * s + 0.0f;
    }
}

/* at::normal_distribution<double>: Box-Muller in double with one cached value. Here the first
 * uniform is the angle; the cache survives fill-path draws (it only lives in this path). */
static double normal_f64(sc_generator *g)
{
    if (g->has_normal_f64) {
        g->has_normal_f64 = 0;
        return g->normal_f64 * 1.0 + 0.0;
    }
    double u1 = uniform_f64(g);
    double u2 = uniform_f64(g);
    double r = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * 3.14159265358979323846 * u1;
    g->normal_f64 = r * sin(theta);
    g->has_normal_f64 = 1;
    return r * cos(theta) * 1.0 + 0.0;
}

/* Blocks of 16 are independent once the uniforms are drawn; threads pay off for big tensors. */
enum { PARALLEL_MIN_BLOCKS = 4096 };

void sc_randn_f32(sc_generator *g, float *out, size_t n)
{
    if (n < 16) {
        for (size_t i = 0; i < n; i++)
            out[i] = (float)normal_f64(g);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = uniform_f32(g);
    long long blocks = (long long)(n / 16);
#pragma omp parallel for schedule(static) num_threads(sc_cpu_threads()) if (blocks >= PARALLEL_MIN_BLOCKS)
    for (long long b = 0; b < blocks; b++)
        normal_block16(out + 16 * b);
    if (n % 16 != 0) {
        /* torch redraws the last 16 values from 16 fresh uniforms, overwriting part of the last block */
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++)
            tail[i] = uniform_f32(g);
        normal_block16(tail);
    }
}

sc_status sc_randn_tensor_f32(sc_generator *const *gens, size_t n_gens, size_t batch, size_t per_item, float *out)
{
    if (batch != 0 && per_item > SIZE_MAX / batch)
        return sc_set_error(SC_ERR_VALUE, "randn_tensor: %zu x %zu values overflow", batch, per_item);
    if (n_gens == 1) {
        sc_randn_f32(gens[0], out, batch * per_item);
        return SC_OK;
    }
    if (n_gens != batch)
        return sc_set_error(SC_ERR_VALUE,
                            "randn_tensor: got a list of %zu generators for a batch of %zu (need 1 or one per "
                            "batch entry)",
                            n_gens, batch);
    for (size_t b = 0; b < batch; b++)
        sc_randn_f32(gens[b], out + b * per_item, per_item);
    return SC_OK;
}
