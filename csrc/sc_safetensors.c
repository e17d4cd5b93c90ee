/* One safetensors file: header validation (spec/clip_stage_a_weights.md §5), name lookup and
 * dtype-converting reads. Names and metadata point into the parsed header, which lives as long
 * as the file object. */
#include "sc_safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_file.h"
#include "sc_json.h"
#include "sc_strmap.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader does not byte-swap"
#endif

#define HEADER_LIMIT 100000000ull /* the reference reader's MAX_HEADER_SIZE */

struct sc_safetensors {
    char *path;
    sc_file_map map; /* empty when parsing a caller's buffer */
    size_t data_start; /* 8 + header length: file offset of the data section */
    const unsigned char *data; /* data section: offsets are relative to it */
    size_t data_len;
    sc_json_doc *header;
    const sc_json *metadata; /* the __metadata__ object, or NULL */
    sc_st_entry *entries;
    size_t count;
    sc_strmap by_name;
};

/* ---- dtypes -------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    unsigned bits;
    int readable; /* an sc_dtype, or -1 */
} dtype_info;

/* Every dtype of the reference enum, with its bit size. */
static const dtype_info dtypes[] = {
    {"BOOL", 8, -1},      {"F4", 4, -1},      {"F6_E2M3", 6, -1},      {"F6_E3M2", 6, -1},
    {"U8", 8, -1},        {"I8", 8, -1},      {"F8_E5M2", 8, -1},      {"F8_E4M3", 8, -1},
    {"F8_E8M0", 8, -1},   {"F8_E4M3FNUZ", 8, -1}, {"F8_E5M2FNUZ", 8, -1}, {"I16", 16, -1},
    {"U16", 16, -1},      {"F16", 16, SC_F16}, {"BF16", 16, SC_BF16},  {"I32", 32, -1},
    {"U32", 32, -1},      {"F32", 32, SC_F32}, {"C64", 64, -1},        {"F64", 64, -1},
    {"I64", 64, SC_I64},  {"U64", 64, -1},
};

static const dtype_info *find_dtype(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0)
            return &dtypes[i];
    return NULL;
}

/* ---- errors -------------------------------------------------------------------------------- */

static sc_status invalid(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static sc_status invalid(const char *file, const char *fmt, ...)
{
    char msg[SC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sc_set_error(SC_ERR_VALUE, "%s: %s", file, msg);
}

static void format_entry_shape(const sc_st_entry *e, char *buf, size_t n)
{
    sc_tensor desc = sc_tensor_desc(SC_CPU, SC_F32, NULL, e->ndim, e->shape);
    sc_format_shape(&desc, buf, n);
}

/* ---- header -------------------------------------------------------------------------------- */

static sc_status get_u64(const char *file, const char *name, const char *field, const sc_json *v, uint64_t *out)
{
    if (sc_json_as_u64(v, out) != 0)
        return invalid(file, "tensor '%s': \"%s\" must hold non-negative integers below 2^64", name, field);
    return SC_OK;
}

static sc_status parse_entry(const char *file, const char *name, const sc_json *v, sc_st_entry *e)
{
    if (v->type != SC_JSON_OBJECT)
        return invalid(file, "tensor '%s': expected an object with dtype, shape and data_offsets", name);
    const char *dup = sc_json_duplicate_key(v);
    if (dup)
        return invalid(file, "tensor '%s': field \"%s\" appears twice", name, dup);
    const sc_json *dtype = sc_json_get(v, "dtype");
    const sc_json *shape = sc_json_get(v, "shape");
    const sc_json *offsets = sc_json_get(v, "data_offsets");
    if (!dtype || !shape || !offsets)
        return invalid(file, "tensor '%s': missing \"%s\"", name, !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (dtype->type != SC_JSON_STRING)
        return invalid(file, "tensor '%s': \"dtype\" must be a string", name);
    const dtype_info *info = find_dtype(dtype->str, dtype->len);
    if (!info)
        return invalid(file, "tensor '%s': unknown dtype \"%.32s\"", name, dtype->str);
    if (shape->type != SC_JSON_ARRAY)
        return invalid(file, "tensor '%s': \"shape\" must be an array", name);
    if (shape->len > SC_MAX_DIMS)
        return invalid(file, "tensor '%s' has %zu dimensions; at most %d are supported", name, shape->len,
                       SC_MAX_DIMS);
    if (offsets->type != SC_JSON_ARRAY || offsets->len != 2)
        return invalid(file, "tensor '%s': \"data_offsets\" must be an array [begin, end]", name);
    memset(e, 0, sizeof *e);
    e->name = name;
    memcpy(e->dtype, info->name, strlen(info->name) + 1);
    e->ndim = (int)shape->len;
    for (size_t d = 0; d < shape->len; d++) {
        uint64_t dim;
        SC_TRY(get_u64(file, name, "shape", shape->items[d], &dim));
        if (dim > INT64_MAX)
            return invalid(file, "tensor '%s': dimension %llu is too large", name, (unsigned long long)dim);
        e->shape[d] = (int64_t)dim;
    }
    SC_TRY(get_u64(file, name, "data_offsets", offsets->items[0], &e->begin));
    SC_TRY(get_u64(file, name, "data_offsets", offsets->items[1], &e->end));
    /* Element and byte counts, checked as the reference does (rule 6 of §5). */
    uint64_t numel = 1, bits;
    for (int d = 0; d < e->ndim; d++)
        if (__builtin_mul_overflow(numel, (uint64_t)e->shape[d], &numel))
            return invalid(file, "tensor '%s': the element count of its shape overflows", name);
    if (__builtin_mul_overflow(numel, (uint64_t)info->bits, &bits))
        return invalid(file, "tensor '%s': the byte size of its shape overflows", name);
    if (bits % 8)
        return invalid(file, "tensor '%s': %llu elements of %s do not fill whole bytes", name,
                       (unsigned long long)numel, info->name);
    e->numel = numel;
    return SC_OK;
}

static sc_status check_metadata(const char *file, const sc_json *meta)
{
    if (meta->type != SC_JSON_OBJECT)
        return invalid(file, "\"__metadata__\" must be an object of string values");
    const char *dup = sc_json_duplicate_key(meta);
    if (dup)
        return invalid(file, "\"__metadata__\" has the key \"%s\" twice", dup);
    for (size_t i = 0; i < meta->len; i++) {
        const sc_json *v = meta->items[i];
        if (v->type != SC_JSON_STRING)
            return invalid(file, "\"__metadata__\" value of \"%s\" is not a string", meta->keys[i]);
        if (strlen(meta->keys[i]) != meta->key_lens[i] || strlen(v->str) != v->len)
            return invalid(file, "\"__metadata__\" entry \"%s\" contains a NUL character", meta->keys[i]);
    }
    return SC_OK;
}

static int compare_offsets(const void *pa, const void *pb)
{
    const sc_st_entry *a = pa, *b = pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Rules 5-7 of §5 on the entries sorted by offsets: contiguous from 0, sizes match the shapes,
 * and the last tensor ends exactly at the end of the file. */
static sc_status check_layout(const sc_safetensors *st)
{
    uint64_t expected = 0;
    for (size_t i = 0; i < st->count; i++) {
        const sc_st_entry *e = &st->entries[i];
        if (e->end < e->begin)
            return invalid(st->path, "tensor '%s': data_offsets [%llu, %llu] end before they begin", e->name,
                           (unsigned long long)e->begin, (unsigned long long)e->end);
        if (e->begin != expected) {
            if (i == 0)
                return invalid(st->path, "tensor '%s': data starts at %llu; the first tensor must start at 0",
                               e->name, (unsigned long long)e->begin);
            return invalid(st->path, "tensor '%s': data_offsets [%llu, %llu] %s tensor '%s', which ends at %llu",
                           e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                           e->begin < expected ? "overlap" : "leave a gap after", st->entries[i - 1].name,
                           (unsigned long long)expected);
        }
        if (e->end > st->data_len)
            return invalid(st->path, "tensor '%s': data_offsets [%llu, %llu] go beyond the end of the file "
                           "(the data section holds %zu bytes)", e->name, (unsigned long long)e->begin,
                           (unsigned long long)e->end, st->data_len);
        uint64_t bytes = e->numel * find_dtype(e->dtype, strlen(e->dtype))->bits / 8;
        if (e->end - e->begin != bytes) {
            char shape[128];
            format_entry_shape(e, shape, sizeof shape);
            return invalid(st->path, "tensor '%s': shape %s of %s needs %llu bytes but data_offsets [%llu, %llu] "
                           "hold %llu", e->name, shape, e->dtype, (unsigned long long)bytes,
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)(e->end - e->begin));
        }
        expected = e->end;
    }
    if (expected != st->data_len)
        return invalid(st->path, "%llu bytes after the last tensor are not part of any tensor (the data section "
                       "holds %zu bytes, the tensors %llu)", (unsigned long long)(st->data_len - expected),
                       st->data_len, (unsigned long long)expected);
    return SC_OK;
}

static sc_status parse_header(sc_safetensors *st, const unsigned char *buf, size_t len)
{
    if (len < 8)
        return invalid(st->path, "only %zu bytes: too small for a safetensors file (8-byte header length "
                       "missing)", len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | buf[i];
    if (n > HEADER_LIMIT)
        return invalid(st->path, "header length %llu exceeds the limit of %llu bytes (not a safetensors file?)",
                       (unsigned long long)n, HEADER_LIMIT);
    if (n > len - 8)
        return invalid(st->path, "header length %llu goes beyond the end of the file (%zu bytes)",
                       (unsigned long long)n, len);
    const char *text = (const char *)buf + 8;
    size_t valid = sc_utf8_check(text, (size_t)n);
    if (valid != n)
        return invalid(st->path, "header is not valid UTF-8 (at byte %zu of the header)", valid);
    st->data_start = 8 + (size_t)n;
    st->data = buf + st->data_start;
    st->data_len = len - 8 - (size_t)n;

    char what[SC_ERROR_MAX];
    snprintf(what, sizeof what, "%s: header", st->path);
    SC_TRY(sc_json_parse(text, (size_t)n, what, &st->header));
    const sc_json *root = sc_json_root(st->header);
    if (root->type != SC_JSON_OBJECT)
        return invalid(st->path, "header is not a JSON object");
    const char *dup = sc_json_duplicate_key(root);
    if (dup)
        return invalid(st->path, "header lists '%s' twice", dup);

    st->entries = calloc(root->len ? root->len : 1, sizeof *st->entries);
    if (!st->entries)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory for %zu tensor entries", st->path, root->len);
    for (size_t i = 0; i < root->len; i++) {
        const char *key = root->keys[i];
        if (strlen(key) != root->key_lens[i])
            return invalid(st->path, "tensor name '%s...' contains a NUL character", key);
        if (strcmp(key, "__metadata__") == 0) {
            if (root->items[i]->type != SC_JSON_NULL) {
                SC_TRY(check_metadata(st->path, root->items[i]));
                st->metadata = root->items[i];
            }
            continue;
        }
        SC_TRY(parse_entry(st->path, key, root->items[i], &st->entries[st->count]));
        st->count++;
    }
    qsort(st->entries, st->count, sizeof *st->entries, compare_offsets);
    SC_TRY(check_layout(st));

    SC_TRY(sc_strmap_init(&st->by_name, st->count));
    for (size_t i = 0; i < st->count; i++) {
        st->entries[i].data = st->data + st->entries[i].begin;
        size_t existing;
        SC_TRY(sc_strmap_insert(&st->by_name, st->entries[i].name, strlen(st->entries[i].name), i, &existing));
    }
    return SC_OK;
}

static sc_status parse_into(sc_safetensors *st, const void *buf, size_t len, sc_safetensors **out)
{
    sc_status s = parse_header(st, buf, len);
    if (s != SC_OK) {
        sc_safetensors_close(st);
        return s;
    }
    *out = st;
    return SC_OK;
}

static sc_safetensors *new_file(const char *path)
{
    sc_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->path = strdup(path);
    if (!st->path) {
        free(st);
        return NULL;
    }
    return st;
}

sc_status sc_safetensors_parse_buffer(const void *buf, size_t len, const char *what, sc_safetensors **out)
{
    sc_safetensors *st = new_file(what);
    if (!st)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", what);
    return parse_into(st, buf, len, out);
}

sc_status sc_safetensors_open(const char *path, sc_safetensors **out)
{
    sc_safetensors *st = new_file(path);
    if (!st)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", path);
    sc_status s = sc_file_map_open(path, &st->map);
    if (s != SC_OK) {
        sc_safetensors_close(st);
        return s;
    }
    return parse_into(st, st->map.data, st->map.size, out);
}

void sc_safetensors_close(sc_safetensors *st)
{
    if (!st)
        return;
    sc_strmap_free(&st->by_name);
    free(st->entries);
    sc_json_free(st->header);
    sc_file_map_close(&st->map);
    free(st->path);
    free(st);
}

/* ---- accessors ----------------------------------------------------------------------------- */

size_t sc_safetensors_count(const sc_safetensors *st) { return st->count; }
const sc_st_entry *sc_safetensors_entry(const sc_safetensors *st, size_t i) { return &st->entries[i]; }
const char *sc_safetensors_path(const sc_safetensors *st) { return st->path; }

const sc_st_entry *sc_safetensors_find(const sc_safetensors *st, const char *name)
{
    size_t i;
    return sc_strmap_find(&st->by_name, name, strlen(name), &i) ? &st->entries[i] : NULL;
}

size_t sc_safetensors_metadata_count(const sc_safetensors *st) { return st->metadata ? st->metadata->len : 0; }
const char *sc_safetensors_metadata_key(const sc_safetensors *st, size_t i) { return st->metadata->keys[i]; }
const char *sc_safetensors_metadata_value(const sc_safetensors *st, size_t i) { return st->metadata->items[i]->str; }

/* ---- reads --------------------------------------------------------------------------------- */

#define STAGE_BYTES 32768

/* Source bytes may sit at any address: convert through an aligned stack buffer unless the
 * source already is aligned for its element type. */
static void convert_unaligned(void *dst, sc_dtype dt, const unsigned char *src, sc_dtype src_dt, size_t n)
{
    size_t src_size = sc_dtype_size(src_dt), dst_size = sc_dtype_size(dt);
    if (dt == src_dt || (uintptr_t)src % src_size == 0) {
        sc_convert(dst, dt, src, src_dt, n);
        return;
    }
    _Alignas(8) unsigned char stage[STAGE_BYTES];
    size_t per_chunk = STAGE_BYTES / src_size;
    for (size_t i = 0; i < n; i += per_chunk) {
        size_t m = n - i < per_chunk ? n - i : per_chunk;
        memcpy(stage, src + i * src_size, m * src_size);
        sc_convert((unsigned char *)dst + i * dst_size, dt, stage, src_dt, m);
    }
}

sc_status sc_safetensors_read(const sc_safetensors *st, const sc_st_entry *e, sc_dtype dt, void *dst)
{
    int src_dt = find_dtype(e->dtype, strlen(e->dtype))->readable;
    if (src_dt < 0)
        return invalid(st->path, "tensor '%s' has dtype %s, which cannot be read (only F32, BF16, F16 and I64 can)",
                       e->name, e->dtype);
    if (!sc_dtype_is_float(dt) && !(dt == SC_I64 && src_dt == SC_I64))
        return invalid(st->path, "tensor '%s': cannot read %s as %s", e->name, e->dtype, sc_dtype_name(dt));
    const size_t offset = st->data_start + (size_t)e->begin, len = (size_t)(e->end - e->begin);
    sc_file_map_will_read(&st->map, offset, len);
    convert_unaligned(dst, dt, e->data, (sc_dtype)src_dt, (size_t)e->numel);
    /* A tensor is read once at load: without this a model's file pages would stay resident
     * next to its converted weights until the file is closed. */
    sc_file_map_done_reading(&st->map, offset, len);
    return SC_OK;
}
