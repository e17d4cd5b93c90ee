/* The tensors of one model across its files: a single safetensors file, or the shards named by
 * a `*.safetensors.index.json` (spec/clip_stage_a_weights.md §4.1), under one O(1) name lookup,
 * plus the dtype-converting read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_file.h"
#include "sc_json.h"
#include "sc_safetensors.h"
#include "sc_strmap.h"

struct sc_weights {
    sc_safetensors **files;
    size_t nfiles;
    const sc_st_entry **entries;
    size_t *file_index; /* per entry: which file it is in */
    size_t count;
    sc_strmap by_name; /* name -> entry index */
};

void sc_weights_close(sc_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nfiles; i++)
        sc_safetensors_close(w->files[i]);
    free(w->files);
    free(w->entries);
    free(w->file_index);
    sc_strmap_free(&w->by_name);
    free(w);
}

/* Gather the entries of `files` (ownership of the files and the array passes to the result,
 * also on failure). Names must be unique across files. */
static sc_status weights_from_files(sc_safetensors **files, size_t nfiles, sc_weights **out)
{
    sc_weights *w = calloc(1, sizeof *w);
    if (!w) {
        for (size_t i = 0; i < nfiles; i++)
            sc_safetensors_close(files[i]);
        free(files);
        return sc_set_error(SC_ERR_NOMEM, "out of memory for a weight set");
    }
    w->files = files;
    w->nfiles = nfiles;
    for (size_t f = 0; f < nfiles; f++)
        w->count += sc_safetensors_count(files[f]);
    w->entries = malloc((w->count ? w->count : 1) * sizeof *w->entries);
    w->file_index = malloc((w->count ? w->count : 1) * sizeof *w->file_index);
    sc_status s = w->entries && w->file_index ? sc_strmap_init(&w->by_name, w->count)
                                               : sc_set_error(SC_ERR_NOMEM, "out of memory for a weight set");
    size_t k = 0;
    for (size_t f = 0; s == SC_OK && f < nfiles; f++) {
        for (size_t i = 0; s == SC_OK && i < sc_safetensors_count(files[f]); i++, k++) {
            const sc_st_entry *e = sc_safetensors_entry(files[f], i);
            w->entries[k] = e;
            w->file_index[k] = f;
            size_t existing;
            s = sc_strmap_insert(&w->by_name, e->name, strlen(e->name), k, &existing);
            if (s == SC_OK && existing != SC_STRMAP_NEW)
                s = sc_set_error(SC_ERR_VALUE, "tensor '%s' is in both %s and %s", e->name,
                                 sc_safetensors_path(files[w->file_index[existing]]), sc_safetensors_path(files[f]));
        }
    }
    if (s != SC_OK) {
        sc_weights_close(w);
        return s;
    }
    *out = w;
    return SC_OK;
}

sc_status sc_weights_open_file(const char *path, sc_weights **out)
{
    sc_safetensors **files = malloc(sizeof *files);
    if (!files)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory", path);
    sc_status s = sc_safetensors_open(path, &files[0]);
    if (s != SC_OK) {
        free(files);
        return s;
    }
    return weights_from_files(files, 1, out);
}

/* ---- sharded sets -------------------------------------------------------------------------- */

static char *format_string(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format_string(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf) {
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return buf;
}

/* A shard must be a plain file name in the index's folder. */
static int is_plain_file_name(const sc_json *v)
{
    return v->type == SC_JSON_STRING && v->len > 0 && strlen(v->str) == v->len && !strchr(v->str, '/') &&
           !strchr(v->str, '\\') && strcmp(v->str, ".") != 0 && strcmp(v->str, "..") != 0;
}

/* Open every distinct shard of `weight_map` once, in order of first mention. */
static sc_status open_shards(const char *folder, const char *index_path, const sc_json *weight_map,
                             sc_weights **out)
{
    sc_strmap shard_ids;
    SC_TRY(sc_strmap_init(&shard_ids, 16));
    sc_safetensors **files = calloc(weight_map->len ? weight_map->len : 1, sizeof *files);
    size_t nfiles = 0;
    sc_status s = files ? SC_OK : sc_set_error(SC_ERR_NOMEM, "%s: out of memory", index_path);
    for (size_t i = 0; s == SC_OK && i < weight_map->len; i++) {
        const sc_json *shard = weight_map->items[i];
        size_t existing;
        if (!is_plain_file_name(shard)) {
            s = sc_set_error(SC_ERR_VALUE, "%s: tensor '%s' maps to %s, not a file name in the same folder",
                             index_path, weight_map->keys[i], shard->type == SC_JSON_STRING ? shard->str : "a non-string");
            break;
        }
        s = sc_strmap_insert(&shard_ids, shard->str, shard->len, nfiles, &existing);
        if (s != SC_OK || existing != SC_STRMAP_NEW)
            continue;
        char *path = format_string("%s/%s", folder, shard->str);
        if (!path) {
            s = sc_set_error(SC_ERR_NOMEM, "%s: out of memory", index_path);
            break;
        }
        s = sc_safetensors_open(path, &files[nfiles]);
        free(path);
        if (s != SC_OK)
            s = sc_add_context(s, "shard listed in %s", index_path);
        else
            nfiles++;
    }
    sc_strmap_free(&shard_ids);
    if (s != SC_OK) {
        for (size_t i = 0; i < nfiles; i++)
            sc_safetensors_close(files[i]);
        free(files);
        return s;
    }
    return weights_from_files(files, nfiles, out);
}

/* Every tensor the index lists must be in the shard it names. */
static sc_status check_weight_map(const sc_weights *w, const char *index_path, const sc_json *weight_map)
{
    for (size_t i = 0; i < weight_map->len; i++) {
        const char *name = weight_map->keys[i];
        const char *shard = weight_map->items[i]->str;
        const sc_st_entry *e = strlen(name) == weight_map->key_lens[i] ? sc_weights_find(w, name) : NULL;
        const char *path = e ? sc_weights_file_of(w, e) : NULL;
        const char *base = path ? strrchr(path, '/') + 1 : NULL;
        if (!e || strcmp(base, shard) != 0)
            return sc_set_error(SC_ERR_VALUE, "%s: tensor '%s' is listed in shard %s, which does not contain it%s%s",
                                index_path, name, shard, e ? "; it is in " : "", e ? base : "");
    }
    return SC_OK;
}

static sc_status open_index(const char *folder, const char *index_path, sc_weights **out)
{
    sc_file_map map;
    SC_TRY(sc_file_map_open(index_path, &map));
    sc_json_doc *doc = NULL;
    sc_status s = sc_json_parse((const char *)map.data, map.size, index_path, &doc);
    sc_file_map_close(&map);
    SC_TRY(s);
    const sc_json *root = sc_json_root(doc);
    const sc_json *weight_map = sc_json_get(root, "weight_map");
    const char *dup = NULL;
    if (root->type != SC_JSON_OBJECT)
        s = sc_set_error(SC_ERR_VALUE, "%s: not a JSON object", index_path);
    else if ((dup = sc_json_duplicate_key(root)) != NULL)
        s = sc_set_error(SC_ERR_VALUE, "%s: key \"%s\" appears twice", index_path, dup);
    else if (!weight_map || weight_map->type != SC_JSON_OBJECT)
        s = sc_set_error(SC_ERR_VALUE, "%s: no \"weight_map\" object", index_path);
    else if ((dup = sc_json_duplicate_key(weight_map)) != NULL)
        s = sc_set_error(SC_ERR_VALUE, "%s: weight_map lists tensor '%s' twice", index_path, dup);
    sc_weights *w = NULL;
    if (s == SC_OK)
        s = open_shards(folder, index_path, weight_map, &w);
    if (s == SC_OK) {
        s = check_weight_map(w, index_path, weight_map);
        if (s != SC_OK)
            sc_weights_close(w);
    }
    sc_json_free(doc);
    if (s == SC_OK)
        *out = w;
    return s;
}

sc_status sc_weights_open_dir(const char *folder, const char *stem, const char *variant, sc_weights **out)
{
    if (!folder[0])
        folder = ".";
    int has_variant = variant && variant[0];
    const char *dot = has_variant ? "." : "";
    const char *v = has_variant ? variant : "";
    /* Single file first (diffusers' preference), then the index in the two spellings in use:
     * variant before ".safetensors" and (diffusers' _add_variant) before ".json". */
    char *candidates[3] = {
        format_string("%s/%s%s%s.safetensors", folder, stem, dot, v),
        format_string("%s/%s%s%s.safetensors.index.json", folder, stem, dot, v),
        has_variant ? format_string("%s/%s.safetensors.index.%s.json", folder, stem, v) : NULL,
    };
    size_t ncand = has_variant ? 3 : 2;
    sc_status s = SC_OK;
    for (size_t i = 0; i < ncand; i++)
        if (!candidates[i])
            s = sc_set_error(SC_ERR_NOMEM, "out of memory");
    size_t found = ncand;
    for (size_t i = 0; s == SC_OK && found == ncand && i < ncand; i++)
        if (sc_file_exists(candidates[i]))
            found = i;
    if (s == SC_OK && found < ncand)
        s = found == 0 ? sc_weights_open_file(candidates[0], out) : open_index(folder, candidates[found], out);
    else if (s == SC_OK)
        s = sc_set_error(SC_ERR_NOT_FOUND, "no weights '%s'%s%s%s in %s: looked for %s, %s%s%s", stem,
                         has_variant ? " (variant " : "", v, has_variant ? ")" : "", folder,
                         strrchr(candidates[0], '/') + 1, strrchr(candidates[1], '/') + 1, has_variant ? ", " : "",
                         has_variant ? strrchr(candidates[2], '/') + 1 : "");
    for (size_t i = 0; i < ncand; i++)
        free(candidates[i]);
    return s;
}

/* ---- lookup and reads ---------------------------------------------------------------------- */

size_t sc_weights_count(const sc_weights *w) { return w->count; }
const sc_st_entry *sc_weights_entry(const sc_weights *w, size_t i) { return w->entries[i]; }
size_t sc_weights_file_count(const sc_weights *w) { return w->nfiles; }
const sc_safetensors *sc_weights_file(const sc_weights *w, size_t i) { return w->files[i]; }

const sc_st_entry *sc_weights_find(const sc_weights *w, const char *name)
{
    size_t i;
    return sc_strmap_find(&w->by_name, name, strlen(name), &i) ? w->entries[i] : NULL;
}

size_t sc_weights_index_of(const sc_weights *w, const sc_st_entry *e)
{
    size_t i;
    if (sc_strmap_find(&w->by_name, e->name, strlen(e->name), &i) && w->entries[i] == e)
        return i;
    return SIZE_MAX;
}

const char *sc_weights_file_of(const sc_weights *w, const sc_st_entry *e)
{
    size_t i = sc_weights_index_of(w, e);
    return i == SIZE_MAX ? NULL : sc_safetensors_path(w->files[w->file_index[i]]);
}

sc_status sc_st_read(const sc_weights *w, const sc_st_entry *e, sc_dtype dt, void *dst)
{
    size_t i = sc_weights_index_of(w, e);
    if (i == SIZE_MAX)
        return sc_set_error(SC_ERR_VALUE, "tensor '%s' does not belong to this weight set", e->name);
    return sc_safetensors_read(w->files[w->file_index[i]], e, dt, dst);
}
