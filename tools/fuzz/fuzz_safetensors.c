/* libFuzzer harness for the safetensors validator (csrc/sc_safetensors.c). libFuzzer hands
 * over an exactly-sized heap buffer, so AddressSanitizer reports any read outside the "file".
 * Every accepted file is checked (entries contiguous and inside the buffer, lookup by name)
 * and its readable tensors are converted to every float type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_safetensors.h"

#define CHECK(cond)      \
    do {                 \
        if (!(cond))     \
            abort();     \
    } while (0)

#define MAX_READ_ELEMENTS (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_safetensors *st = NULL;
    if (sc_safetensors_parse_buffer(data, size, "fuzz", &st) != SC_OK)
        return 0;
    uint64_t expected = 0;
    for (size_t i = 0; i < sc_safetensors_count(st); i++) {
        const sc_st_entry *e = sc_safetensors_entry(st, i);
        CHECK(e->begin == expected && e->end >= e->begin);
        CHECK((const uint8_t *)e->data >= data && (const uint8_t *)e->data + (e->end - e->begin) <= data + size);
        CHECK(sc_safetensors_find(st, e->name) == e);
        expected = e->end;
        if (e->numel > MAX_READ_ELEMENTS)
            continue;
        float *buf = malloc((size_t)e->numel * sizeof(float) + 1);
        CHECK(buf != NULL);
        const sc_dtype targets[] = {SC_F32, SC_BF16, SC_F16, SC_I64};
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
            int64_t *wide = targets[t] == SC_I64 ? malloc((size_t)e->numel * sizeof(int64_t) + 1) : NULL;
            sc_safetensors_read(st, e, targets[t], wide ? (void *)wide : (void *)buf);
            free(wide);
        }
        free(buf);
    }
    for (size_t i = 0; i < sc_safetensors_metadata_count(st); i++)
        CHECK(sc_safetensors_metadata_key(st, i) && sc_safetensors_metadata_value(st, i));
    sc_safetensors_close(st);
    return 0;
}
