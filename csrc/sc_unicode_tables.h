/* Layout of the generated Unicode tables (csrc/sc_unicode_tables.c, written by
 * tools/gen_unicode_tables.py). Every array is sorted by code point so lookups bisect.
 * Only csrc/sc_unicode.c reads them. */
#ifndef SC_UNICODE_TABLES_H
#define SC_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* first..last (inclusive) all have `value` (a character class, or a combining class). */
typedef struct {
    uint32_t first, last;
    uint8_t value;
} sc_uni_run;

/* Every `step`-th code point from first to last lowercases to itself + delta. */
typedef struct {
    uint32_t first, last;
    uint8_t step;
    int32_t delta;
} sc_uni_lower_run;

/* A code point whose lowercase is several code points (U+0130 -> i + U+0307). */
typedef struct {
    uint32_t cp;
    uint8_t len;
    uint32_t out[3];
} sc_uni_lower_multi;

/* Full canonical decomposition of cp: sc_uni_decomp_pool[offset .. offset+len). */
typedef struct {
    uint32_t cp;
    uint16_t offset;
    uint8_t len;
} sc_uni_decomp;

/* first + second compose to `composite` (primary composites only; Hangul is algorithmic). */
typedef struct {
    uint32_t first, second, composite;
} sc_uni_pair;

extern const uint8_t sc_uni_latin1_class[256];
extern const sc_uni_run sc_uni_class_runs[];
extern const size_t sc_uni_class_run_count;
extern const sc_uni_lower_run sc_uni_lower_runs[];
extern const size_t sc_uni_lower_run_count;
extern const sc_uni_lower_multi sc_uni_lower_multis[];
extern const size_t sc_uni_lower_multi_count;
extern const sc_uni_run sc_uni_ccc_runs[];
extern const size_t sc_uni_ccc_run_count;
extern const sc_uni_decomp sc_uni_decomps[];
extern const size_t sc_uni_decomp_count;
extern const uint32_t sc_uni_decomp_pool[];
extern const sc_uni_pair sc_uni_compositions[];
extern const size_t sc_uni_composition_count;

#endif
