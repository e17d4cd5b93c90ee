#include "sc_unicode.h"

#include <string.h>

#include "sc_json.h"
#include "sc_unicode_tables.h"

/* Index of the run containing cp in runs sorted by first (and disjoint), or -1. */
#define FIND_RUN(runs, count, cp, result)              \
    do {                                               \
        size_t lo_ = 0, hi_ = (count);                 \
        (result) = -1;                                 \
        while (lo_ < hi_) {                            \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;       \
            if ((cp) < (runs)[mid_].first)             \
                hi_ = mid_;                            \
            else if ((cp) > (runs)[mid_].last)         \
                lo_ = mid_ + 1;                        \
            else {                                     \
                (result) = (long)mid_;                 \
                break;                                 \
            }                                          \
        }                                              \
    } while (0)

sc_uni_class sc_uni_class_of(uint32_t cp)
{
    if (cp < 256)
        return (sc_uni_class)sc_uni_latin1_class[cp];
    long i;
    FIND_RUN(sc_uni_class_runs, sc_uni_class_run_count, cp, i);
    return i < 0 ? SC_UNI_OTHER : (sc_uni_class)sc_uni_class_runs[i].value;
}

int sc_uni_lower(uint32_t cp, uint32_t out[SC_UNI_LOWER_MAX])
{
    if (cp < 128) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    for (size_t k = 0; k < sc_uni_lower_multi_count; k++) {
        if (sc_uni_lower_multis[k].cp == cp) {
            memcpy(out, sc_uni_lower_multis[k].out, sizeof(uint32_t) * sc_uni_lower_multis[k].len);
            return sc_uni_lower_multis[k].len;
        }
    }
    long i;
    FIND_RUN(sc_uni_lower_runs, sc_uni_lower_run_count, cp, i);
    if (i >= 0 && (cp - sc_uni_lower_runs[i].first) % sc_uni_lower_runs[i].step == 0)
        cp = (uint32_t)((int64_t)cp + sc_uni_lower_runs[i].delta);
    out[0] = cp;
    return 1;
}

/* ---- NFC ----------------------------------------------------------------------------------- */

enum {
    HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
    HANGUL_L_COUNT = 19, HANGUL_V_COUNT = 21, HANGUL_T_COUNT = 28,
    HANGUL_N = HANGUL_V_COUNT * HANGUL_T_COUNT, HANGUL_S_COUNT = HANGUL_L_COUNT * HANGUL_N,
    FIRST_MARK = 0x300 /* nothing below has a decomposition that NFC keeps, a class or a pair */
};

static uint8_t combining_class(uint32_t cp)
{
    if (cp < FIRST_MARK)
        return 0;
    long i;
    FIND_RUN(sc_uni_ccc_runs, sc_uni_ccc_run_count, cp, i);
    return i < 0 ? 0 : sc_uni_ccc_runs[i].value;
}

static const sc_uni_decomp *find_decomposition(uint32_t cp)
{
    size_t lo = 0, hi = sc_uni_decomp_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < sc_uni_decomps[mid].cp)
            hi = mid;
        else if (cp > sc_uni_decomps[mid].cp)
            lo = mid + 1;
        else
            return &sc_uni_decomps[mid];
    }
    return NULL;
}

/* The primary composite of (a, b), or 0 when they do not compose. */
static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    if (a - HANGUL_L < HANGUL_L_COUNT && b - HANGUL_V < HANGUL_V_COUNT)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_V_COUNT + (b - HANGUL_V)) * HANGUL_T_COUNT;
    if (a - HANGUL_S < HANGUL_S_COUNT && (a - HANGUL_S) % HANGUL_T_COUNT == 0 && b - HANGUL_T - 1 < HANGUL_T_COUNT - 1)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = sc_uni_composition_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const sc_uni_pair *p = &sc_uni_compositions[mid];
        if (a < p->first || (a == p->first && b < p->second))
            hi = mid;
        else if (a > p->first || b > p->second)
            lo = mid + 1;
        else
            return p->composite;
    }
    return 0;
}

/* Canonical decomposition of in[0..n) into out; returns the length. */
static size_t decompose(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = in[i];
        if (cp - HANGUL_S < HANGUL_S_COUNT) {
            uint32_t s = cp - HANGUL_S;
            out[m++] = HANGUL_L + s / HANGUL_N;
            out[m++] = HANGUL_V + (s % HANGUL_N) / HANGUL_T_COUNT;
            if (s % HANGUL_T_COUNT)
                out[m++] = HANGUL_T + s % HANGUL_T_COUNT;
            continue;
        }
        const sc_uni_decomp *d = cp >= 0xC0 ? find_decomposition(cp) : NULL;
        if (d) {
            memcpy(out + m, sc_uni_decomp_pool + d->offset, sizeof(uint32_t) * d->len);
            m += d->len;
        } else {
            out[m++] = cp;
        }
    }
    return m;
}

/* Canonical ordering: stable sort of every run of non-starters by combining class. */
static void reorder(uint32_t *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint8_t c = combining_class(s[i]);
        if (!c)
            continue;
        size_t j = i;
        uint32_t cp = s[i];
        while (j > 0 && combining_class(s[j - 1]) > c) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = cp;
    }
}

size_t sc_uni_nfc(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t i = 0;
    while (i < n && in[i] < FIRST_MARK)
        i++;
    if (i == n) { /* already NFC: nothing here decomposes, reorders or composes */
        memcpy(out, in, sizeof(uint32_t) * n);
        return n;
    }
    size_t m = decompose(in, n, out);
    reorder(out, m);
    /* Compose in place: `len` is the output length, `starter` the last starter kept. */
    size_t len = 0;
    long starter = -1;
    uint8_t last_class = 0;
    for (size_t k = 0; k < m; k++) {
        uint32_t cp = out[k];
        uint8_t c = combining_class(cp);
        /* Not blocked: cp follows the starter directly, or every mark between has a lower class. */
        if (starter >= 0 && (last_class < c || last_class == 0)) {
            uint32_t composite = compose_pair(out[starter], cp);
            if (composite) {
                out[starter] = composite;
                continue;
            }
        }
        if (c == 0)
            starter = (long)len;
        last_class = c;
        out[len++] = cp;
    }
    return len;
}

/* ---- UTF-8 --------------------------------------------------------------------------------- */

sc_status sc_utf8_decode(const char *text, size_t len, const char *what, uint32_t *out, size_t *n_out)
{
    size_t valid = sc_utf8_check(text, len);
    if (valid != len)
        return sc_set_error(SC_ERR_VALUE, "%s: invalid UTF-8 at byte %zu", what, valid);
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    size_t n = 0;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            out[n++] = c;
            s++;
        } else if (c < 0xe0) {
            out[n++] = ((c & 0x1fu) << 6) | (s[1] & 0x3fu);
            s += 2;
        } else if (c < 0xf0) {
            out[n++] = ((c & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
            s += 3;
        } else {
            out[n++] = ((c & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
            s += 4;
        }
    }
    *n_out = n;
    return SC_OK;
}

size_t sc_utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}
