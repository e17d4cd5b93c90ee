/* Internal interface between the GEMM driver (cpu_gemm.c) and its register-tile microkernels
 * (cpu_gemm_scalar.c, cpu_gemm_avx2.c, cpu_gemm_avx512.c). Not part of the op interface.
 *
 * Packed layouts (k-major micro-panels, zero-padded past the valid rows/columns):
 *   A micro-panel: mr rows of A for kc steps:     ap[k * mr + r] = A[r][k]
 *   B micro-panel: nr rows of B (= columns of C): bp[k * nr + c] = B[c][k]
 * A microkernel computes the full mr x nr tile  tile[r * nr + c] = sum_k ap[k*mr+r] * bp[k*nr+c]. */
#ifndef SC_CPU_GEMM_IMPL_H
#define SC_CPU_GEMM_IMPL_H

#include <stdint.h>

typedef struct {
    const char *name;
    int mr, nr; /* register tile */
    int kc;     /* depth of one packed block: an A micro-panel (mr x kc) stays in L1 */
    int mc;     /* rows of A packed at once (multiple of mr) */
    int nc;     /* columns of C per packed B block (multiple of nr): the block stays in L2 */
    int (*available)(void);
    void (*kernel)(int64_t kc, const float *ap, const float *bp, float *tile);
} sc_gemm_impl;

extern const sc_gemm_impl sc_gemm_impl_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define SC_GEMM_HAVE_X86 1
extern const sc_gemm_impl sc_gemm_impl_avx2;
extern const sc_gemm_impl sc_gemm_impl_avx512;
#endif

#endif
