/* The CPU float32 GEMM behind linear and the convolutions:
 *     C[M,N] = (accumulate ? C : 0) + alpha * act(A[M,K] B[N,K]^T + bias[N])
 * B (the weights) may also be bfloat16: it is widened to float32 as it is packed, which is
 * exact, so the arithmetic is the float32 GEMM's and the weights take half the memory.
 *
 * Structure (GotoBLAS/BLIS style). The threads split C into a grid of rectangles (more
 * row bands when M > N, more column bands otherwise, so the operand that gets packed
 * twice is the smaller one); each thread then runs, over its rectangle:
 *     for each block of mc rows:
 *       for each K block of kc:
 *         pack A[rows, K block] into mr-row micro-panels     (reused for every column)
 *         for each block of nc columns:
 *           pack B[columns, K block] into nr micro-panels    (the block stays in L2)
 *           for each A micro-panel, for each B micro-panel:
 *             microkernel -> mr x nr tile in registers -> epilogue into C while it is hot
 * Block sizes: kc is long (up to 2048 for AVX-512) because every extra K block is one more
 * pass over C, and C's rows -- strided by a multiple of 4 KB on most network shapes --
 * conflict in L1/L2, so those passes stall on loads. The B block (nc x kc) is half of the L2;
 * the A micro-panel (mr x kc) streams from L2 next to it. The A block is bounded at 4 MB: it
 * only decides how often B is packed again. See docs/cpu_gemm.md for the measurements.
 *
 * The microkernel (scalar / AVX2+FMA / AVX-512) is picked once at run time: the best one the
 * CPU has, or the one named by SC_GEMM_KERNEL=scalar|avx2|avx512 (read at the first call),
 * or sc_cpu_gemm_set_kernel (tests).
 *
 * K blocks and the epilogue: the first K block adds the bias, later ones add into C. With an
 * activation the pre-activation sum is kept in C and the last block applies act and alpha;
 * when C's old value is needed as well (accumulate + act) K is not split at all (the blocks
 * of A and B shrink instead, so the buffers keep their size).
 *
 * Scratch policy: each thread keeps one grow-only, 64-byte aligned packing buffer (thread-
 * specific data, freed when the thread exits). Its size is bounded by the block sizes
 * ((mc + nc) * kc floats: at most 4 MB + L2/2), so after the first call of the largest shape
 * a thread never allocates again. Calls from several threads at once are safe: every OpenMP
 * worker has its own buffer. */
#include "cpu_gemm_impl.h"
#include "cpu_kernels.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SC_GEMM_MAX_TILE (32 * 32) /* largest mr * nr of any microkernel */
/* A packed A block lives in L3 (its micro-panels are streamed one at a time): its size only
 * decides how often B is packed again, so it is large but bounded (per thread). */
#define SC_GEMM_A_BLOCK_BYTES ((int64_t)4 << 20)
/* Multiply-adds a thread must get before waking another one pays off. */
#define SC_GEMM_MIN_WORK_PER_THREAD ((int64_t)1 << 20)

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* ---- microkernel selection ---- */

static const sc_gemm_impl *const g_impls[] = {
#ifdef SC_GEMM_HAVE_X86
    &sc_gemm_impl_avx512,
    &sc_gemm_impl_avx2,
#endif
    &sc_gemm_impl_scalar,
};
#define N_IMPLS (sizeof g_impls / sizeof g_impls[0])

static _Atomic(const sc_gemm_impl *) g_impl;

static const sc_gemm_impl *best_impl(void)
{
    size_t i = 0;
    while (!g_impls[i]->available()) /* the last one, scalar, always is */
        i++;
    return g_impls[i];
}

static const sc_gemm_impl *find_impl(const char *name)
{
    if (!strcmp(name, "auto"))
        return best_impl();
    for (size_t i = 0; i < N_IMPLS; i++)
        if (!strcmp(name, g_impls[i]->name))
            return g_impls[i]->available() ? g_impls[i] : NULL;
    return NULL;
}

static const sc_gemm_impl *current_impl(void)
{
    const sc_gemm_impl *im = atomic_load(&g_impl);
    if (im)
        return im;
    const char *env = getenv("SC_GEMM_KERNEL");
    im = env && *env ? find_impl(env) : best_impl();
    if (!im) {
        im = best_impl();
        fprintf(stderr, "stable_cascade_c: SC_GEMM_KERNEL=%s is unknown or not supported by this CPU; using %s\n",
                env, im->name);
    }
    const sc_gemm_impl *expected = NULL;
    return atomic_compare_exchange_strong(&g_impl, &expected, im) ? im : expected;
}

sc_status sc_cpu_gemm_set_kernel(const char *name)
{
    const sc_gemm_impl *im = find_impl(name);
    if (!im)
        return sc_set_error(SC_ERR_VALUE, "GEMM kernel '%s' is unknown or not supported by this CPU (%s)", name,
                            sc_cpu_features());
    atomic_store(&g_impl, im);
    return SC_OK;
}

const char *sc_cpu_gemm_kernel(void) { return current_impl()->name; }

/* ---- the math: float32, or bfloat16 inputs with float32 accumulation (AMX) ---- */

static atomic_int g_bf16_math;

sc_status sc_cpu_set_math(const char *name)
{
    if (!strcmp(name, "float32")) {
        atomic_store(&g_bf16_math, 0);
        return SC_OK;
    }
    if (strcmp(name, "bfloat16"))
        return sc_set_error(SC_ERR_VALUE, "CPU math must be 'float32' or 'bfloat16', got '%s'", name);
    if (!sc_cpu_has_amx_bf16())
        return sc_set_error(SC_ERR_VALUE, "CPU math 'bfloat16' needs AMX-BF16 (Intel Xeon 4th generation or newer) "
                                          "with OS support; this CPU or kernel has none (%s)",
                            sc_cpu_features());
    atomic_store(&g_bf16_math, 1);
    return SC_OK;
}

const char *sc_cpu_math(void) { return atomic_load(&g_bf16_math) ? "bfloat16" : "float32"; }

/* The microkernel for a GEMM with K columns: AMX for the bfloat16 math (it needs K >= 32; the
 * narrow stems run in float32), else the float32 kernel in use. */
static const sc_gemm_impl *impl_for(int64_t K)
{
#ifdef SC_GEMM_HAVE_AMX
    if (atomic_load(&g_bf16_math) && K >= 32)
        return &sc_gemm_impl_amx;
#endif
    (void)K;
    return current_impl();
}

/* ---- per-thread packing buffers ---- */

typedef struct {
    float *data;
    size_t cap; /* floats */
} scratch;

static pthread_key_t g_scratch_key;
static int g_scratch_key_ok;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p)
{
    scratch *s = p;
    free(s->data);
    free(s);
}

static void scratch_key_create(void) { g_scratch_key_ok = pthread_key_create(&g_scratch_key, scratch_destroy) == 0; }

/* This thread's buffer of at least `floats` floats, or NULL when memory is short. */
static float *thread_scratch(size_t floats)
{
    pthread_once(&g_scratch_once, scratch_key_create);
    if (!g_scratch_key_ok)
        return NULL;
    if (floats < 16) /* K == 0 packs nothing but still wants a valid pointer */
        floats = 16;
    scratch *s = pthread_getspecific(g_scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(g_scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap < floats) {
        free(s->data);
        s->data = NULL;
        s->cap = 0;
        size_t bytes = (size_t)round_up((int64_t)(floats * sizeof(float)), 64);
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes) != 0)
            return NULL;
        s->data = p;
        s->cap = bytes / sizeof(float);
    }
    return s->data;
}

/* ---- packing ---- */

/* rows x kc of `src` (row stride ld; float32, or bfloat16 bits widened exactly) -> ceil(rows / w)
 * k-major micro-panels of w rows, zero-padded past `rows`. `bf16` is a constant in each caller. */
static inline void pack_panels(const void *src, int bf16, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    for (int64_t p0 = 0; p0 < rows; p0 += w, dst += w * kc) {
        int h = (int)min64(w, rows - p0);
        for (int r = 0; r < h; r++) {
            const int64_t row = (p0 + r) * ld;
            for (int64_t k = 0; k < kc; k++)
                dst[k * w + r] =
                    bf16 ? sc_bf16_to_f32(((const uint16_t *)src)[row + k]) : ((const float *)src)[row + k];
        }
        for (int r = h; r < w; r++)
            for (int64_t k = 0; k < kc; k++)
                dst[k * w + r] = 0.0f;
    }
}

void sc_gemm_pack_panels(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    pack_panels(src, 0, ld, rows, kc, w, dst);
}

void sc_gemm_pack_panels_bf16(const uint16_t *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst)
{
    pack_panels(src, 1, ld, rows, kc, w, dst);
}

static sc_gemm_store store_for_block(const float *bias, sc_epilogue ep, int first, int last)
{
    sc_gemm_store st = {first ? bias : NULL, SC_ACT_NONE, 1.0f, 0, 0};
    if (ep.act == SC_ACT_NONE) {
        st.alpha = ep.alpha;
        st.c_after = !first || ep.accumulate;
    } else {
        st.c_before = !first;
        if (last) {
            st.act = ep.act;
            st.alpha = ep.alpha;
            st.c_after = ep.accumulate; /* K is one block then, so c_before is 0 */
        }
    }
    return st;
}

/* ---- the blocked loop over one thread's rectangle ---- */

/* Bytes of a packed B block: half of L2, so that it stays there while every A micro-panel of
 * the A block streams past it (sysconf reports the per-core L2; 1 MB when it does not know). */
static int64_t b_block_bytes(void)
{
    static atomic_llong cached;
    int64_t bytes = atomic_load(&cached);
    if (bytes)
        return bytes;
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    bytes = l2 > 0 ? (int64_t)l2 / 2 : (int64_t)512 << 10;
    bytes = min64(max64(bytes, (int64_t)128 << 10), (int64_t)4 << 20);
    atomic_store(&cached, bytes);
    return bytes;
}

typedef struct {
    const sc_gemm_impl *impl;
    int64_t K;
    const float *A, *bias;
    const void *B;
    int b_bf16; /* B holds bfloat16 bits (widened while packed) instead of float32 */
    int64_t lda, ldb, ldc;
    float *C;
    sc_epilogue ep;
    int64_t kc;           /* the longest K block */
    int64_t k_blocks;
    int64_t mc_max, nc_max; /* rows of A / columns of B packed at once */
} gemm_job;

/* n split into equal blocks of at most `most`, each rounded up to a multiple of `unit`. */
static int64_t balanced_block(int64_t n, int64_t most, int64_t unit)
{
    return round_up(ceil_div(n, ceil_div(n, most)), unit);
}

/* C[m0:m1, n0:n1]; returns 0, or -1 when the packing buffer cannot be allocated. */
static int gemm_rect(const gemm_job *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const sc_gemm_impl *im = g->impl;
    const int mr = im->mr, nr = im->nr;
    int64_t mc = balanced_block(m1 - m0, g->mc_max, mr);
    int64_t nc = balanced_block(n1 - n0, g->nc_max, nr);
    /* B panels first: their size is a multiple of 16 floats, which keeps both 64-byte aligned. */
    int64_t b_floats = round_up(nc * g->kc, 16);
    float *bp = thread_scratch((size_t)(b_floats + mc * g->kc));
    if (!bp)
        return -1;
    float *ap = bp + b_floats;
    _Alignas(64) float tile[SC_GEMM_MAX_TILE];

    for (int64_t i0 = m0; i0 < m1; i0 += mc) {
        int64_t ib = min64(mc, m1 - i0);
        for (int64_t p = 0; p < g->k_blocks; p++) {
            int64_t k0 = p * g->kc, kb = min64(g->kc, g->K - k0);
            sc_gemm_store st = store_for_block(g->bias, g->ep, p == 0, p == g->k_blocks - 1);
            im->pack_a(g->A + i0 * g->lda + k0, g->lda, ib, kb, mr, ap);
            for (int64_t j0 = n0; j0 < n1; j0 += nc) {
                int64_t jb = min64(nc, n1 - j0);
                if (g->b_bf16)
                    im->pack_b_bf16((const uint16_t *)g->B + j0 * g->ldb + k0, g->ldb, jb, kb, nr, bp);
                else
                    im->pack_b((const float *)g->B + j0 * g->ldb + k0, g->ldb, jb, kb, nr, bp);
                sc_gemm_store stj = st;
                if (stj.bias)
                    stj.bias += j0;
                for (int64_t ir = 0; ir < ib; ir += mr) {
                    float *crow = g->C + (i0 + ir) * g->ldc + j0;
                    for (int64_t jr = 0; jr < jb; jr += nr) {
                        im->kernel(kb, ap + ir * kb, bp + jr * kb, tile);
                        sc_gemm_store s = stj;
                        if (s.bias)
                            s.bias += jr;
                        im->store(tile, nr, (int)min64(mr, ib - ir), (int)min64(nr, jb - jr), crow + jr, g->ldc, &s);
                    }
                }
            }
        }
    }
    return 0;
}

/* Split `nt` threads into a tm x tn grid over the mt x nt_ tiles of C, packing the least:
 * every thread packs its rows of A and its columns of B, so the cost is tn*M + tm*N. */
static void thread_grid(int nt, int64_t M, int64_t N, int64_t m_tiles, int64_t n_tiles, int *tm, int *tn)
{
    for (; nt > 1; nt--) {
        int best = 0;
        double best_cost = 0;
        for (int d = 1; d <= nt; d++) {
            if (nt % d || d > m_tiles || nt / d > n_tiles)
                continue;
            double cost = (double)(nt / d) * (double)M + (double)d * (double)N;
            if (!best || cost < best_cost) {
                best = d;
                best_cost = cost;
            }
        }
        if (best) {
            *tm = best;
            *tn = nt / best;
            return;
        }
    }
    *tm = *tn = 1;
}

static void thread_rect(const gemm_job *g, int t, int nt, int64_t M, int64_t N, int64_t *m0, int64_t *m1,
                        int64_t *n0, int64_t *n1)
{
    const int mr = g->impl->mr, nr = g->impl->nr;
    int64_t m_tiles = ceil_div(M, mr), n_tiles = ceil_div(N, nr);
    int tm, tn;
    thread_grid(nt, M, N, m_tiles, n_tiles, &tm, &tn);
    if (t >= tm * tn) { /* a team larger than the grid: this thread idles */
        *m0 = *m1 = *n0 = *n1 = 0;
        return;
    }
    int ti = t / tn, tj = t % tn;
    *m0 = min64(M, m_tiles * ti / tm * mr);
    *m1 = min64(M, m_tiles * (ti + 1) / tm * mr);
    *n0 = min64(N, n_tiles * tj / tn * nr);
    *n1 = min64(N, n_tiles * (tj + 1) / tn * nr);
}

sc_status sc_cpu_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B, sc_dtype b_dtype,
                         int64_t ldb, float *C, int64_t ldc, const float *bias, sc_epilogue ep)
{
    if (M < 0 || N < 0 || K < 0)
        return sc_set_error(SC_ERR_VALUE, "gemm: negative size M=%lld N=%lld K=%lld", (long long)M, (long long)N,
                            (long long)K);
    if ((M > 1 && lda < K) || (N > 1 && ldb < K) || (M > 1 && ldc < N))
        return sc_set_error(SC_ERR_VALUE, "gemm: leading dimension shorter than a row (lda=%lld ldb=%lld ldc=%lld "
                                          "for M=%lld N=%lld K=%lld)",
                            (long long)lda, (long long)ldb, (long long)ldc, (long long)M, (long long)N, (long long)K);
    if (b_dtype != SC_F32 && b_dtype != SC_BF16)
        return sc_set_error(SC_ERR_VALUE, "gemm: B must be float32 or bfloat16, got %s", sc_dtype_name(b_dtype));
    if (ep.act != SC_ACT_NONE && ep.act != SC_ACT_GELU && ep.act != SC_ACT_SILU && ep.act != SC_ACT_QUICK_GELU)
        return sc_set_error(SC_ERR_VALUE, "gemm: unknown activation %d", (int)ep.act);
    if (M == 0 || N == 0)
        return SC_OK;

    gemm_job g = {.impl = impl_for(K), .K = K, .A = A, .B = B, .b_bf16 = b_dtype == SC_BF16, .bias = bias,
                  .lda = lda, .ldb = ldb,
                  .ldc = ldc, .C = C, .ep = ep};
    const sc_gemm_impl *im = g.impl;
    int64_t kc_max = ep.act != SC_ACT_NONE && ep.accumulate ? max64(K, 1) : im->kc;
    g.k_blocks = max64(1, ceil_div(K, kc_max));
    g.kc = ceil_div(K, g.k_blocks);
    int64_t kc_bytes = max64(g.kc, 1) * im->packed_bytes; /* of a packed row: the caches see these */
    g.mc_max = max64(im->mr, SC_GEMM_A_BLOCK_BYTES / kc_bytes / im->mr * im->mr);
    g.nc_max = max64(im->nr, b_block_bytes() / kc_bytes / im->nr * im->nr);

    double work = (double)M * (double)N * (double)max64(K, 1); /* no int64 overflow on absurd sizes */
    int nt = sc_cpu_threads();
    if (work < (double)nt * (double)SC_GEMM_MIN_WORK_PER_THREAD)
        nt = (int)max64(1, (int64_t)(work / (double)SC_GEMM_MIN_WORK_PER_THREAD));
    int failed = 0;
    if (nt == 1) {
        failed = gemm_rect(&g, 0, M, 0, N) != 0;
    } else {
#pragma omp parallel num_threads(nt)
        {
            int64_t m0, m1, n0, n1;
            thread_rect(&g, omp_get_thread_num(), omp_get_num_threads(), M, N, &m0, &m1, &n0, &n1);
            if (m0 < m1 && n0 < n1 && gemm_rect(&g, m0, m1, n0, n1) != 0) {
#pragma omp atomic write
                failed = 1;
            }
        }
    }
    if (failed)
        return sc_set_error(SC_ERR_NOMEM, "gemm: out of memory for the packing buffers (%lld floats per thread)",
                            (long long)((g.mc_max + g.nc_max) * g.kc));
    return SC_OK;
}
