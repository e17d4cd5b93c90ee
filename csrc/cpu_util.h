/* Helpers shared by the CPU op implementations (cpu_*.c): the scratch
 * pool, thread-count choice and the AVX2/AVX-512 dispatch macros; the vectorizable math and the
 * epilogue come from cpu_vmath.h. Not part of the op interface. */
#ifndef SC_CPU_UTIL_H
#define SC_CPU_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"
#include "cpu_vmath.h"
#include "sc_opcheck.h"

/* Argument checks: sc_opcheck.h (shared with the CUDA backend), with be = sc_cpu_backend(). */

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
