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
 * are accepted (if well-formed) and listed so a loader can ignore tensors it does not need. */
typedef struct {
    const char *name;   /* tensor name (NUL-terminated, owned by the file object) */
    char dtype[16];     /* "F32", "BF16", ... */
    int ndim;
    int64_t shape[SC_MAX_DIMS];
    uint64_t begin, end; /* byte offsets relative to the data section */
    const void *data;    /* pointer into the map (unaligned in general) */
} sc_st_entry;

typedef struct sc_safetensors sc_safetensors;

sc_status sc_safetensors_open(const char *path, sc_safetensors **out);
/* Validate an in-memory buffer (the fuzzing entry point; `what` names it in messages). */
sc_status sc_safetensors_parse_buffer(const void *buf, size_t len, const char *what, sc_safetensors **out);
void sc_safetensors_close(sc_safetensors *st);
size_t sc_safetensors_count(const sc_safetensors *st);
const sc_st_entry *sc_safetensors_entry(const sc_safetensors *st, size_t i);
const sc_st_entry *sc_safetensors_find(const sc_safetensors *st, const char *name);
const char *sc_safetensors_path(const sc_safetensors *st);

typedef struct sc_weights sc_weights;

/* Open the weights named `stem` (e.g. "diffusion_pytorch_model" or "model") in `folder`, with an
 * optional variant ("bf16", "fp16"; NULL for none): `<stem>[.<variant>].safetensors`, or the
 * shards listed in `<stem>[.<variant>].safetensors.index.json`. A missing file is
 * SC_ERR_NOT_FOUND naming what was looked for. */
sc_status sc_weights_open_dir(const char *folder, const char *stem, const char *variant, sc_weights **out);
/* Open one explicit file (e.g. the original `stage_c_bf16.safetensors`). */
sc_status sc_weights_open_file(const char *path, sc_weights **out);
void sc_weights_close(sc_weights *w);
size_t sc_weights_count(const sc_weights *w);
const sc_st_entry *sc_weights_entry(const sc_weights *w, size_t i);
const sc_st_entry *sc_weights_find(const sc_weights *w, const char *name);
/* The file a tensor came from (for error messages). */
const char *sc_weights_file_of(const sc_weights *w, const sc_st_entry *e);

/* Convert a tensor's bytes to `dt` into `dst` (host memory, numel elements). Fails with a
 * ValueError naming file and tensor when the dtype cannot be converted. */
sc_status sc_st_read(const sc_weights *w, const sc_st_entry *e, sc_dtype dt, void *dst);

#endif
