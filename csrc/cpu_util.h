/* Helpers shared by the CPU op implementations (cpu_*.c): argument checks, the scratch
 * pool, thread-count choice and the AVX2/AVX-512 dispatch macros; the vectorizable math and the
 * epilogue come from cpu_vmath.h. Not part of the op interface. */
#ifndef SC_CPU_UTIL_H
#define SC_CPU_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"
#include "cpu_vmath.h"

/* ---- argument checks (all set a ValueError naming the op and the argument) ---- */

/* `t` is a non-NULL float32 CPU tensor of rank `ndim` (ndim < 0: any rank >= 1). */
sc_status cpu_check_f32(const sc_tensor *t, const char *op, const char *what, int ndim);
/* `t` is a non-NULL int64 CPU tensor of rank `ndim`. */
sc_status cpu_check_i64(const sc_tensor *t, const char *op, const char *what, int ndim);
/* `t` has exactly `shape` (entries < 0 match anything). */
sc_status cpu_check_shape(const sc_tensor *t, const char *op, const char *what, int ndim, const int64_t *shape);
/* The memory of `out` and `in` does not overlap (for ops that cannot work in place). */
sc_status cpu_check_no_alias(const sc_tensor *out, const sc_tensor *in, const char *op, const char *what);
/* A per-channel vector (bias, gamma, beta): NULL, or float32 [n]. */
sc_status cpu_check_vector(const sc_tensor *v, const char *op, const char *what, int64_t n);
sc_status cpu_check_epilogue(sc_epilogue ep, const char *op);

/* ---- scratch memory ----
 * A process-wide pool of grow-only buffers: acquire one (it is yours alone until released),
 * release it when done. Buffers are never shrunk or freed, so once every call site has seen
 * its largest size the steady state allocates nothing. Thread-safe. */
typedef struct cpu_scratch cpu_scratch;
struct cpu_scratch {
    cpu_scratch *next;
    size_t capacity; /* bytes */
    void *data;      /* 64-byte aligned */
};
sc_status cpu_scratch_acquire(size_t bytes, cpu_scratch **out);
void cpu_scratch_release(cpu_scratch *s);

/* ---- threads ---- */

/* Threads for a parallel loop over `work` units of roughly `cost` flops each: 1 when the
 * whole job is too small to repay waking the team. */
int cpu_threads_for(int64_t work, int64_t cost);

/* ---- AVX2 / AVX-512 variants of hot kernels ----
 * CPU_MULTIVERSION(name, params, args) builds the always-inlined `void name##_body params`
 * for the baseline ISA (name##_generic) and, on x86-64, for avx2+fma (name##_avx2) and
 * avx512f (name##_avx512, 512-bit vectors). The x86 variants contract a*b+c into fused
 * multiply-adds, so their results may differ from the baseline's by rounding. CPU_PICK(name)
 * returns the variant of cpu_isa_in_use() (below). The bodies must not contain OpenMP regions (those are
 * outlined before inlining and would keep the baseline ISA): pick the kernel once, then call it
 * per row/tile inside the parallel loop. */
/* The variant CPU_PICK chooses (sc_cpu_ops_isa / sc_cpu_ops_set_isa in cpu_kernels.h). */
typedef enum { CPU_ISA_BASELINE = 0, CPU_ISA_AVX2, CPU_ISA_AVX512 } cpu_isa;
cpu_isa cpu_isa_in_use(void);

#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_MULTIVERSION(name, params, args)                         \
    static void name##_generic params { name##_body args; }         \
    CPU_AVX2_ATTR static void name##_avx2 params { name##_body args; } \
    CPU_AVX512_ATTR static void name##_avx512 params { name##_body args; }
#define CPU_PICK(name)                                   \
    (cpu_isa_in_use() == CPU_ISA_AVX512 ? name##_avx512 \
     : cpu_isa_in_use() == CPU_ISA_AVX2 ? name##_avx2   \
                                        : name##_generic)
#else
#define CPU_MULTIVERSION(name, params, args) \
    static void name##_generic params { name##_body args; }
#define CPU_PICK(name) (name##_generic)
#endif

#endif
