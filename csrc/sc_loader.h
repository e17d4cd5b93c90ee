/* Loading a network's parameters from a weight set into backend tensors.
 *
 * A loader wraps one sc_weights and one backend. Each get call checks the tensor's shape
 * against what the network expects (ValueError naming file, tensor, got and expected),
 * converts it from the file's dtype (F32/BF16/F16) to the backend's compute dtype (dense
 * weights: to the dtype the storage policy picks, see sc_weight_storage), permutes it into
 * the op layout (sc_ops.h) and uploads it: one streaming pass per tensor through a single
 * reusable host staging buffer. The loader remembers which tensors were taken so
 * sc_loader_finish can reject checkpoints with tensors the network does not have. */
#ifndef SC_LOADER_H
#define SC_LOADER_H

#include "sc_ops.h"
#include "sc_safetensors.h"

typedef enum {
    SC_LAYOUT_AS_IS = 0,  /* biases, norms, position embeddings: always the compute dtype */
    SC_LAYOUT_MATRIX,     /* a dense weight kept as it is: Linear [N, K], an embedding table [V, C] */
    SC_LAYOUT_CONV,       /* torch Conv2d [Co, Ci, kh, kw] -> [Co, kh, kw, Ci] */
    SC_LAYOUT_CONV_T,     /* torch ConvTranspose2d [Ci, Co, kh, kw] -> [kh, kw, Co, Ci] */
    SC_LAYOUT_DEPTHWISE,  /* torch depthwise Conv2d [C, 1, 3, 3] -> [3, 3, C] */
    SC_LAYOUT_CONV1X1     /* torch Conv2d [Co, Ci, 1, 1] -> linear [Co, Ci] */
} sc_weight_layout;

/* The dtype of dense weights (layouts MATRIX, CONV, CONV_T, CONV1X1) on a backend whose
 * compact_weight_dtype differs from its compute dtype (the CPU: float32 compute, bfloat16
 * weights allowed); elsewhere every tensor is in the compute dtype.
 *   COMPUTE    the compute dtype (float32 on the CPU), whatever the file holds;
 *   AS_STORED  the compact dtype when the file stores that dtype (a bf16 checkpoint keeps its
 *              size in memory; widening it later is exact, so results do not change), else
 *              the compute dtype;
 *   COMPACT    the compact dtype always (float32 checkpoints are rounded to bfloat16: half the
 *              memory, results change by bf16 rounding of the weights). */
typedef enum { SC_WEIGHTS_COMPUTE = 0, SC_WEIGHTS_AS_STORED, SC_WEIGHTS_COMPACT } sc_weight_storage;

typedef struct sc_loader sc_loader;

/* A loader with the given storage policy for dense weights. */
sc_status sc_loader_create(const sc_weights *w, sc_backend *be, sc_weight_storage storage, sc_loader **out);
void sc_loader_free(sc_loader *l);

/* Load tensor `name` (expected torch shape `shape`, ndim dims) in `layout`. On success *out is a
 * new heap tensor on the backend's device, owned by the caller. */
sc_status sc_loader_get(sc_loader *l, const char *name, int ndim, const int64_t *shape, sc_weight_layout layout,
                        sc_tensor **out);
/* Rows [row0, row0 + rows) of a 2-D (or 1-D) tensor `name` of full torch shape `shape`, loaded
 * AS_IS or (a weight) MATRIX: how fused projections (an attention in_proj [3c, c]) are split
 * into q/k/v. */
sc_status sc_loader_get_rows(sc_loader *l, const char *name, int ndim, const int64_t *shape, int64_t row0,
                             int64_t rows, sc_weight_layout layout, sc_tensor **out);
/* Read a tensor to host float32 without uploading (small values used on the host, e.g. scalars). */
sc_status sc_loader_get_host_f32(sc_loader *l, const char *name, int ndim, const int64_t *shape, float *dst);
int sc_loader_has(const sc_loader *l, const char *name);
/* Mark a tensor as known but unused (e.g. BatchNorm buffers of an encoder we never run). */
void sc_loader_skip(sc_loader *l, const char *name);

/* Require tensor `name` with torch shape `shape` and mark it known, without reading it: the
 * parameters of parts a network never runs (an encoder, a codebook) are still validated. */
sc_status sc_loader_expect(sc_loader *l, const char *name, int ndim, const int64_t *shape);

/* Bytes of the tensors this loader has handed out so far (what the network's weights take). */
size_t sc_loader_bytes(const sc_loader *l);

/* Fails with a ValueError listing (up to a few of) the tensors never taken or skipped. */
sc_status sc_loader_finish(sc_loader *l);

#endif
