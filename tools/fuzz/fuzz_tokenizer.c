/* libFuzzer harness for the tokenizer: the text path (normalisation, pre-tokenisation, byte-level
 * BPE, truncation and padding) and the folder loader (vocab.json, merges.txt, tokenizer.json and
 * the two config files). The first input byte picks the mode:
 *
 *   0: the rest is a text, encoded with the CLIP tokenizer of tests/data/tokenizer/clip;
 *   1: the rest is vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json;
 *   2: the rest is tokenizer.json, tokenizer_config.json, special_tokens_map.json;
 *
 * files separated by SEPARATOR (a missing part is an absent file). They are written to a private
 * temporary folder and loaded with sc_tokenizer_load. Beyond "no crash, no sanitizer report",
 * every encoding is checked: ids inside the vocabulary, rows of start token, text tokens, end
 * token and padding with a matching mask, and an encoding stopped at a limit is a prefix of the
 * whole one. Build and run: tools/fuzz/build.sh && tools/fuzz/run.sh (docs/reliability.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_tokenizer.h"

#define CHECK(cond)      \
    do {                 \
        if (!(cond))     \
            abort();     \
    } while (0)

#define SEPARATOR "\n#--8<--#\n"
#define MAX_LENGTH 77
#define BATCH 3

static sc_tokenizer *g_clip;
static char g_folder[64];

static const char *const FILES_VOCAB[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                                          "special_tokens_map.json"};
static const char *const FILES_JSON[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};

static void cleanup(void)
{
    char path[128];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", g_folder, FILES_VOCAB[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/%s", g_folder, FILES_JSON[0]);
    unlink(path);
    rmdir(g_folder);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    CHECK(sc_tokenizer_load(SC_FUZZ_ROOT "/tests/data/tokenizer/clip", &g_clip) == SC_OK);
    snprintf(g_folder, sizeof g_folder, "%s/sc_fuzz_tokenizer_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    CHECK(mkdtemp(g_folder) != NULL);
    atexit(cleanup);
    return 0;
}

/* ids of `text` without limit, then with a small limit: the second is a prefix of the first. */
static void check_encode(sc_tokenizer *t, const sc_tokenizer_info *info, const char *text, size_t len)
{
    sc_ids all = {0}, some = {0};
    if (sc_tokenizer_encode(t, text, len, SIZE_MAX, &all) == SC_OK) {
        for (size_t i = 0; i < all.n; i++)
            CHECK(all.v[i] < info->vocab_size);
        CHECK(sc_tokenizer_encode(t, text, len, 5, &some) == SC_OK);
        CHECK(some.n >= (all.n < 5 ? all.n : 5) && some.n <= all.n);
        CHECK(some.n == 0 || memcmp(some.v, all.v, some.n * sizeof *some.v) == 0);
    }
    sc_ids_free(&all);
    sc_ids_free(&some);
}

/* Each row: padding (mask 0, pad id) around one block of mask 1 that starts with the start token
 * and ends with the end token, every id inside the vocabulary. */
static void check_rows(const sc_tokenizer_info *info, const int64_t *ids, const int64_t *mask, size_t rows,
                       size_t max_length)
{
    for (size_t r = 0; r < rows; r++) {
        const int64_t *row = ids + r * max_length, *m = mask + r * max_length;
        size_t first = max_length, last = 0, ones = 0;
        for (size_t k = 0; k < max_length; k++) {
            CHECK(row[k] >= 0 && (uint64_t)row[k] < info->vocab_size);
            CHECK(m[k] == 0 || m[k] == 1);
            if (m[k]) {
                ones++;
                first = k < first ? k : first;
                last = k;
            } else {
                CHECK(row[k] == info->pad_id);
            }
        }
        CHECK(ones >= 2 && last - first + 1 == ones);
        CHECK(row[first] == info->bos_id && row[last] == info->eos_id);
    }
}

static void check_tokenizer(sc_tokenizer *t, const char *text, size_t len)
{
    sc_tokenizer_info info;
    sc_tokenizer_get_info(t, &info);
    CHECK(info.vocab_size >= 1 && info.bos_id < info.vocab_size && info.eos_id < info.vocab_size &&
          info.pad_id < info.vocab_size && info.unk_id < (int64_t)info.vocab_size && info.model_max_length >= 1);
    static const char photo[] = "a photo of an astronaut riding a horse, 4k";
    const sc_str texts[BATCH] = {{text, len}, {photo, sizeof photo - 1}, {"", 0}};
    int64_t ids[BATCH * MAX_LENGTH], mask[BATCH * MAX_LENGTH];
    if (sc_tokenizer_encode_batch(t, texts, BATCH, MAX_LENGTH, ids, mask) == SC_OK)
        check_rows(&info, ids, mask, BATCH, MAX_LENGTH);
    int64_t short_ids[2], short_mask[2]; /* the smallest row: start and end token only */
    if (sc_tokenizer_encode_batch(t, texts, 1, 2, short_ids, short_mask) == SC_OK)
        check_rows(&info, short_ids, short_mask, 1, 2);
    check_encode(t, &info, text, len);
}

static void write_file(const char *name, const uint8_t *data, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_folder, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* Split `data` at SEPARATOR into at most n files; the rest of the names are absent files. */
static void write_folder(const char *const *names, size_t n, const uint8_t *data, size_t size)
{
    cleanup();
    CHECK(mkdir(g_folder, 0700) == 0);
    const size_t sep = sizeof SEPARATOR - 1;
    for (size_t i = 0; i < n && data; i++) {
        const uint8_t *end = i + 1 < n ? memmem(data, size, SEPARATOR, sep) : NULL;
        size_t len = end ? (size_t)(end - data) : size;
        write_file(names[i], data, len);
        if (!end)
            break;
        size -= len + sep;
        data = end + sep;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int mode = data[0] % 3;
    data++, size--;
    if (mode == 0) {
        check_tokenizer(g_clip, (const char *)data, size);
        return 0;
    }
    if (mode == 1)
        write_folder(FILES_VOCAB, 4, data, size);
    else
        write_folder(FILES_JSON, 3, data, size);
    sc_tokenizer *t = NULL;
    if (sc_tokenizer_load(g_folder, &t) == SC_OK) {
        check_tokenizer(t, (const char *)data, size);
        sc_tokenizer_free(t);
    }
    return 0;
}
