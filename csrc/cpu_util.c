/* Argument checks, the scratch pool, thread-count choice and the epilogue shared by the CPU ops. */
#include "cpu_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- scratch pool ---- */

static pthread_mutex_t g_scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static cpu_scratch *g_scratch_free; /* buffers not in use */
static atomic_size_t g_scratch_allocations;

size_t sc_cpu_scratch_allocations(void) { return atomic_load(&g_scratch_allocations); }

sc_status cpu_scratch_acquire(size_t bytes, cpu_scratch **out)
{
    /* Take the smallest free buffer that fits, else the largest (to grow it): concurrent
     * callers then keep buffers of matching sizes and growth stops after the first pass. */
    pthread_mutex_lock(&g_scratch_lock);
    cpu_scratch **fit = NULL, **largest = NULL;
    for (cpu_scratch **p = &g_scratch_free; *p; p = &(*p)->next) {
        size_t cap = (*p)->capacity;
        if (cap >= bytes && (!fit || cap < (*fit)->capacity))
            fit = p;
        if (!largest || cap > (*largest)->capacity)
            largest = p;
    }
    cpu_scratch **best = fit ? fit : largest;
    cpu_scratch *s = NULL;
    if (best) {
        s = *best;
        *best = s->next;
    }
    pthread_mutex_unlock(&g_scratch_lock);

    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return sc_set_error(SC_ERR_NOMEM, "out of memory for a scratch buffer descriptor");
    }
    if (s->capacity < bytes) {
        size_t cap = (bytes + 63) & ~(size_t)63;
        void *data = NULL;
        if (posix_memalign(&data, 64, cap) != 0) {
            cpu_scratch_release(s);
            return sc_set_error(SC_ERR_NOMEM, "out of memory for %zu bytes of CPU scratch", bytes);
        }
        free(s->data);
        s->data = data;
        s->capacity = cap;
        atomic_fetch_add(&g_scratch_allocations, 1);
    }
    *out = s;
    return SC_OK;
}

void cpu_scratch_release(cpu_scratch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g_scratch_lock);
    s->next = g_scratch_free;
    g_scratch_free = s;
    pthread_mutex_unlock(&g_scratch_lock);
}

/* ---- threads ---- */

int cpu_threads_for(int64_t work, int64_t cost)
{
    const int64_t min_flops_per_thread = 1 << 15; /* below this a fork/join costs more than it saves */
    int n = sc_cpu_threads();
    int64_t total = work * (cost > 0 ? cost : 1);
    int64_t useful = total / min_flops_per_thread;
    if (useful < n)
        n = useful < 1 ? 1 : (int)useful;
    if (work < n)
        n = work < 1 ? 1 : (int)work;
    return n;
}

/* ---- ISA of the multiversioned kernels ---- */

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};
static atomic_int g_isa_cap = CPU_ISA_AVX512; /* no cap */

static cpu_isa cpu_isa_best(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (sc_cpu_has_avx2_fma())
        return sc_cpu_has_avx512f() ? CPU_ISA_AVX512 : CPU_ISA_AVX2;
#endif
    return CPU_ISA_BASELINE;
}

cpu_isa cpu_isa_in_use(void)
{
    const cpu_isa best = cpu_isa_best(), cap = (cpu_isa)atomic_load(&g_isa_cap);
    return best < cap ? best : cap;
}

const char *sc_cpu_ops_isa(void) { return isa_names[cpu_isa_in_use()]; }

sc_status sc_cpu_ops_set_isa(const char *name)
{
    if (!strcmp(name, "auto")) {
        atomic_store(&g_isa_cap, CPU_ISA_AVX512);
        return SC_OK;
    }
    for (int i = 0; i <= CPU_ISA_AVX512; i++)
        if (!strcmp(name, isa_names[i])) {
            if ((cpu_isa)i > cpu_isa_best())
                return sc_set_error(SC_ERR_VALUE, "this CPU does not support the %s kernels", name);
            atomic_store(&g_isa_cap, i);
            return SC_OK;
        }
    return sc_set_error(SC_ERR_VALUE, "unknown kernel ISA '%s' (baseline, avx2, avx512 or auto)", name);
}
