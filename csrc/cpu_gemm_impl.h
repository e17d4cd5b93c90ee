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

#include "sc_ops.h"

/* The epilogue of one K block, applied to a finished tile:
 *     v = tile + bias;  if (c_before) v += C;  v = alpha * act(v);  if (c_after) v += C;  C = v. */
typedef struct {
    const float *bias; /* at the tile's column 0; NULL after the first K block or without bias */
    sc_act act;        /* the last K block only */
    float alpha;
    int c_before; /* C holds the pre-activation sum of the earlier K blocks */
    int c_after;  /* add to C's value (accumulate, or a later K block of a linear epilogue) */
} sc_gemm_store;

typedef struct {
    const char *name;
    int mr, nr; /* register tile */
    int kc;     /* longest K block (fewer blocks = fewer passes over C; the driver sizes the
                 * packed blocks of A and B from it and the cache sizes) */
    int packed_bytes; /* bytes of one packed value (4 for float32 panels, 2 for bfloat16 ones; a
                       * panel still takes a float-sized slot per value in the buffers) */
    int (*available)(void);
    /* rows x kc of src (row stride ld) -> ceil(rows / w) micro-panels of w rows, zero-padded */
    void (*pack_a)(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);
    void (*pack_b)(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);
    /* pack_b for a bfloat16 B (raw bits), widened to float32 while packing: exact, so the
     * product equals the float32 GEMM of the widened matrix bit for bit */
    void (*pack_b_bf16)(const uint16_t *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);
    void (*kernel)(int64_t kc, const float *ap, const float *bp, float *tile);
    /* the valid mr x nr corner of `tile` (row stride ld_tile; the tile is scratch and may be
     * overwritten) into C (row stride ldc): sc_gemm_store_body (cpu_gemm_store.h) for its ISA */
    void (*store)(float *tile, int ld_tile, int mr, int nr, float *c, int64_t ldc, const sc_gemm_store *st);
} sc_gemm_impl;

/* Portable packing into micro-panels (any w), for the scalar kernel. */
void sc_gemm_pack_panels(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);
void sc_gemm_pack_panels_bf16(const uint16_t *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);

extern const sc_gemm_impl sc_gemm_impl_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define SC_GEMM_HAVE_X86 1
extern const sc_gemm_impl sc_gemm_impl_avx2;
extern const sc_gemm_impl sc_gemm_impl_avx512;
#ifdef __linux__
#define SC_GEMM_HAVE_AMX 1
/* bfloat16 inputs, float32 accumulation (the "bfloat16" math); needs K >= 32 (cpu_gemm_amx.c). */
extern const sc_gemm_impl sc_gemm_impl_amx;
#endif
/* Packing with 8 x 8 AVX transposes (any w; AVX2 and AVX-512 kernels). */
void sc_gemm_pack_panels_avx2(const float *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);
void sc_gemm_pack_panels_bf16_avx2(const uint16_t *src, int64_t ld, int64_t rows, int64_t kc, int w, float *dst);
#endif

#endif
