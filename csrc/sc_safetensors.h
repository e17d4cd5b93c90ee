/* safetensors reader: mmap-based, validated exactly like the reference parser
 * (spec/clip_stage_a_weights.md §5), and a weight set spanning shards and variants.
 *
 * A sc_safetensors maps one file read-only and lists its tensors; sc_weights gathers the
 * tensors of one model (a single file, a sharded set through `*.safetensors.index.json`, or a
 * variant such as `diffusion_pytorch_model.bf16.safetensors`) under one name lookup.
 * Tensor data is only ever read inside the validated map. */
#ifndef SC_SAFETENSORS_H
#define SC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "sc_tensor.h"

/* dtype as written in the file; only F32, BF16, F16, I64 can be read into tensors, the others
 * are accepted (if well-formed) and listed so a loader can ignore tensors it does not need.
 * Entries and their names stay valid until the file (or the weights holding it) is closed. */
typedef struct {
    const char *name;   /* tensor name (NUL-terminated, owned by the file object) */
    char dtype[16];     /* "F32", "BF16", ... */
    int ndim;
    int64_t shape[SC_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end; /* byte offsets relative to the data section */
    const void *data;    /* pointer into the map (unaligned in general) */
} sc_st_entry;

typedef struct sc_safetensors sc_safetensors;

/* Every failure is SC_ERR_VALUE naming the file, the problem and (where there is one) the
 * tensor; OS failures are SC_ERR_NOT_FOUND / SC_ERR_IO. Beyond the reference parser this one
 * also rejects duplicate keys anywhere in the header, more than SC_MAX_DIMS dimensions, a
 * dimension above INT64_MAX and NUL characters in names and metadata. */
sc_status sc_safetensors_open(const char *path, sc_safetensors **out);
/* Validate an in-memory buffer (the fuzzing entry point; `what` names it in messages). The
 * buffer is not copied: keep it alive and unchanged until sc_safetensors_close. */
sc_status sc_safetensors_parse_buffer(const void *buf, size_t len, const char *what, sc_safetensors **out);
void sc_safetensors_close(sc_safetensors *st);
/* Entries are sorted by data offset (file order). */
size_t sc_safetensors_count(const sc_safetensors *st);
const sc_st_entry *sc_safetensors_entry(const sc_safetensors *st, size_t i);
const sc_st_entry *sc_safetensors_find(const sc_safetensors *st, const char *name); /* O(1) */
const char *sc_safetensors_path(const sc_safetensors *st);
/* `__metadata__` (string -> string, in header order; empty when absent or null). */
size_t sc_safetensors_metadata_count(const sc_safetensors *st);
const char *sc_safetensors_metadata_key(const sc_safetensors *st, size_t i);
const char *sc_safetensors_metadata_value(const sc_safetensors *st, size_t i);
/* sc_st_read for a tensor of this file. */
sc_status sc_safetensors_read(const sc_safetensors *st, const sc_st_entry *e, sc_dtype dt, void *dst);

typedef struct sc_weights sc_weights;

/* Open the weights named `stem` (e.g. "diffusion_pytorch_model" or "model") in `folder`, with an
 * optional variant ("bf16", "fp16"; NULL for none): `<stem>[.<variant>].safetensors`, or the
 * shards listed in `<stem>[.<variant>].safetensors.index.json`. A missing file is
 * SC_ERR_NOT_FOUND naming what was looked for. */
sc_status sc_weights_open_dir(const char *folder, const char *stem, const char *variant, sc_weights **out);
/* Open one explicit file (e.g. the original `stage_c_bf16.safetensors`). */
sc_status sc_weights_open_file(const char *path, sc_weights **out);
void sc_weights_close(sc_weights *w);
/* Entries: file by file (shards in the order the index first names them), each in file order. */
size_t sc_weights_count(const sc_weights *w);
const sc_st_entry *sc_weights_entry(const sc_weights *w, size_t i);
const sc_st_entry *sc_weights_find(const sc_weights *w, const char *name); /* O(1) */
/* The i with sc_weights_entry(w, i) == e, or SIZE_MAX when e is not one of w's entries. O(1). */
size_t sc_weights_index_of(const sc_weights *w, const sc_st_entry *e);
/* The file a tensor came from (for error messages); NULL when e is not one of w's entries. */
const char *sc_weights_file_of(const sc_weights *w, const sc_st_entry *e);
size_t sc_weights_file_count(const sc_weights *w);
const sc_safetensors *sc_weights_file(const sc_weights *w, size_t i);

/* Convert a tensor's bytes to `dt` into `dst` (host memory, numel elements; any alignment
 * of the source is fine). Readable: F32, BF16, F16 -> F32/BF16/F16 (exact widening, RNE
 * narrowing as in sc_tensor.h) and I64 -> I64/F32/BF16/F16. Anything else is a ValueError
 * naming file and tensor. */
sc_status sc_st_read(const sc_weights *w, const sc_st_entry *e, sc_dtype dt, void *dst);

#endif
