/* Strict RFC 8259 parser: recursive descent over a length-bounded buffer (never reads past
 * `len`), building the DOM in a block allocator owned by the document. Open arrays/objects
 * collect their members on one shared scratch stack and copy them into the DOM when they close,
 * so every container gets an exact-size array. */
#include "sc_json.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_strmap.h"

/* ---- DOM memory ----------------------------------------------------------------------------
 * Many small allocations with one lifetime: a chain of bump-allocated blocks. (sc_arena is the
 * activation allocator: 256-byte granularity and one block per overflow, wrong for this.) */

#define BLOCK_MIN ((size_t)64 << 10)
#define DOM_ALIGN 8

typedef struct dom_block {
    struct dom_block *next;
    size_t used, cap;
    /* payload follows; sizeof(dom_block) is a multiple of DOM_ALIGN */
} dom_block;

struct sc_json_doc {
    dom_block *blocks;
    size_t next_block; /* size of the next block: doubles so a large document needs few blocks */
    sc_json *root;
};

static void *dom_alloc(sc_json_doc *doc, size_t bytes)
{
    size_t size = (bytes + DOM_ALIGN - 1) & ~(size_t)(DOM_ALIGN - 1);
    if (size < bytes)
        return NULL;
    dom_block *b = doc->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = doc->next_block > size ? doc->next_block : size;
        if (cap > SIZE_MAX - sizeof(dom_block))
            return NULL;
        b = malloc(sizeof(dom_block) + cap);
        if (!b)
            return NULL;
        b->next = doc->blocks;
        b->used = 0;
        b->cap = cap;
        doc->blocks = b;
        if (doc->next_block < ((size_t)64 << 20))
            doc->next_block *= 2;
    }
    void *p = (char *)(b + 1) + b->used;
    b->used += size;
    return p;
}

void sc_json_free(sc_json_doc *doc)
{
    if (!doc)
        return;
    while (doc->blocks) {
        dom_block *b = doc->blocks;
        doc->blocks = b->next;
        free(b);
    }
    free(doc);
}

const sc_json *sc_json_root(const sc_json_doc *doc) { return doc->root; }

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (Unicode Table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_sequence(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

size_t sc_utf8_check(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    while (s < end) {
        size_t n = utf8_sequence(s, end);
        if (!n)
            break;
        s += n;
    }
    return (size_t)(s - (const unsigned char *)text);
}

/* ---- parser ------------------------------------------------------------------------------ */

typedef struct {
    const char *key; /* NULL inside arrays */
    size_t key_len;
    sc_json *value;
} member;

typedef struct {
    const unsigned char *start, *p, *end;
    const char *what;
    sc_json_doc *doc;
    member *stack;
    size_t top, cap;
    int depth;
} parser;

static sc_status fail_at(const parser *ps, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sc_status fail_at(const parser *ps, const unsigned char *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t line = 1, col = 1;
    for (const unsigned char *q = ps->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if ((*q & 0xc0) != 0x80) { /* count characters, not UTF-8 continuation bytes */
            col++;
        }
    }
    return sc_set_error(SC_ERR_VALUE, "%s: invalid JSON at byte %zu (line %zu, column %zu): %s", ps->what,
                        (size_t)(at - ps->start), line, col, msg);
}

static sc_status out_of_memory(const parser *ps)
{
    return sc_set_error(SC_ERR_NOMEM, "%s: out of memory while parsing JSON (%zu bytes)", ps->what,
                        (size_t)(ps->end - ps->start));
}

static sc_status describe_unexpected(const parser *ps, const char *expected)
{
    if (ps->p >= ps->end)
        return fail_at(ps, ps->p, "unexpected end of input, expected %s", expected);
    unsigned c = *ps->p;
    if (c > 0x20 && c < 0x7f)
        return fail_at(ps, ps->p, "unexpected character '%c', expected %s", (char)c, expected);
    return fail_at(ps, ps->p, "unexpected byte 0x%02x, expected %s", c, expected);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static sc_json *new_node(parser *ps, sc_json_type type)
{
    sc_json *n = dom_alloc(ps->doc, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->type = type;
    }
    return n;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the \uXXXX escape (one or a surrogate pair) at s ('\\' 'u' ...), bounded by send. */
static sc_status decode_u_escape(const parser *ps, const unsigned char **s, const unsigned char *send,
                                 unsigned *cp)
{
    const unsigned char *at = *s;
    unsigned hi, lo;
    if (send - at < 6 || !hex4(at + 2, &hi))
        return fail_at(ps, at, "\\u must be followed by four hex digits");
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail_at(ps, at, "lone low surrogate \\u%04X", hi);
    if (hi < 0xd800 || hi > 0xdbff) {
        *cp = hi;
        *s = at + 6;
        return SC_OK;
    }
    if (send - at < 12 || at[6] != '\\' || at[7] != 'u' || !hex4(at + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
        return fail_at(ps, at, "high surrogate \\u%04X is not followed by a low surrogate", hi);
    *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    *s = at + 12;
    return SC_OK;
}

/* ps->p is at the opening quote. Decodes into the DOM (NUL-terminated) and moves past the
 * closing quote. The decoded form is never longer than the escaped source. */
static sc_status parse_string(parser *ps, const char **out, size_t *out_len)
{
    const unsigned char *open = ps->p, *q = ps->p + 1;
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && ps->end - q < 2)
            break;
        q += *q == '\\' ? 2 : 1;
    }
    if (q >= ps->end || *q != '"')
        return fail_at(ps, open, "unterminated string");
    const unsigned char *send = q;
    unsigned char *dst = dom_alloc(ps->doc, (size_t)(send - open));
    if (!dst)
        return out_of_memory(ps);
    unsigned char *o = dst;
    const unsigned char *s = open + 1;
    while (s < send) {
        unsigned c = *s;
        if (c == '\\') {
            unsigned e = s[1]; /* s + 1 < send: the scan above stepped over escapes in pairs */
            switch (e) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                unsigned cp = 0;
                SC_TRY(decode_u_escape(ps, &s, send, &cp));
                o += put_utf8(o, cp);
                continue;
            }
            default:
                return fail_at(ps, s, e > 0x20 && e < 0x7f ? "invalid escape '\\%c'" : "invalid escape (byte 0x%02x)",
                               e);
            }
            s += 2;
        } else if (c < 0x20) {
            return fail_at(ps, s, "control character 0x%02x in a string (must be escaped)", c);
        } else if (c < 0x80) {
            *o++ = (unsigned char)c;
            s++;
        } else {
            size_t n = utf8_sequence(s, send);
            if (!n)
                return fail_at(ps, s, "invalid UTF-8 in a string");
            memcpy(o, s, n);
            o += n;
            s += n;
        }
    }
    *o = '\0';
    *out = (const char *)dst;
    *out_len = (size_t)(o - dst);
    ps->p = send + 1;
    return SC_OK;
}

static int is_digit(const parser *ps, const unsigned char *q) { return q < ps->end && *q >= '0' && *q <= '9'; }

static sc_status parse_number(parser *ps, sc_json **out)
{
    const unsigned char *begin = ps->p, *q = ps->p;
    if (*q == '-')
        q++;
    if (!is_digit(ps, q))
        return fail_at(ps, q, "expected a digit in a number");
    if (*q == '0') {
        q++;
        if (is_digit(ps, q))
            return fail_at(ps, q, "leading zeros are not allowed in numbers");
    } else {
        while (is_digit(ps, q))
            q++;
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (!is_digit(ps, q))
            return fail_at(ps, q, "expected a digit after the decimal point");
        while (is_digit(ps, q))
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(ps, q))
            return fail_at(ps, q, "expected a digit in the exponent");
        while (is_digit(ps, q))
            q++;
    }
    size_t len = (size_t)(q - begin);
    sc_json *n = new_node(ps, SC_JSON_NUMBER);
    char *text = dom_alloc(ps->doc, len + 1);
    if (!n || !text)
        return out_of_memory(ps);
    memcpy(text, begin, len);
    text[len] = '\0';
    n->str = text;
    n->len = len;
    ps->p = q;
    *out = n;
    return SC_OK;
}

static sc_status parse_literal(parser *ps, sc_json **out)
{
    static const struct {
        const char *text;
        sc_json_type type;
        int boolean;
    } literals[] = {{"true", SC_JSON_BOOL, 1}, {"false", SC_JSON_BOOL, 0}, {"null", SC_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t len = strlen(literals[i].text);
        if ((size_t)(ps->end - ps->p) >= len && memcmp(ps->p, literals[i].text, len) == 0) {
            sc_json *n = new_node(ps, literals[i].type);
            if (!n)
                return out_of_memory(ps);
            n->boolean = literals[i].boolean;
            ps->p += len;
            *out = n;
            return SC_OK;
        }
    }
    return describe_unexpected(ps, "a value");
}

static sc_status push_member(parser *ps, const char *key, size_t key_len, sc_json *value)
{
    if (ps->top == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 256;
        member *grown = realloc(ps->stack, cap * sizeof *grown);
        if (!grown)
            return out_of_memory(ps);
        ps->stack = grown;
        ps->cap = cap;
    }
    ps->stack[ps->top++] = (member){key, key_len, value};
    return SC_OK;
}

/* Move the members pushed since `base` into `node` (an ARRAY or OBJECT). */
static sc_status close_container(parser *ps, sc_json *node, size_t base)
{
    size_t n = ps->top - base;
    node->len = n;
    if (n) {
        node->items = dom_alloc(ps->doc, n * sizeof *node->items);
        if (!node->items)
            return out_of_memory(ps);
        for (size_t i = 0; i < n; i++)
            node->items[i] = ps->stack[base + i].value;
        if (node->type == SC_JSON_OBJECT) {
            node->keys = dom_alloc(ps->doc, n * sizeof *node->keys);
            node->key_lens = dom_alloc(ps->doc, n * sizeof *node->key_lens);
            if (!node->keys || !node->key_lens)
                return out_of_memory(ps);
            for (size_t i = 0; i < n; i++) {
                node->keys[i] = ps->stack[base + i].key;
                node->key_lens[i] = ps->stack[base + i].key_len;
            }
        }
    }
    ps->top = base;
    ps->depth--;
    return SC_OK;
}

static sc_status parse_value(parser *ps, sc_json **out);

/* ps->p is at '[' or '{'. */
static sc_status parse_container(parser *ps, sc_json **out)
{
    int is_object = *ps->p == '{';
    const char close = is_object ? '}' : ']';
    if (ps->depth >= SC_JSON_MAX_DEPTH)
        return fail_at(ps, ps->p, "nesting deeper than %d levels", SC_JSON_MAX_DEPTH);
    ps->depth++;
    sc_json *node = new_node(ps, is_object ? SC_JSON_OBJECT : SC_JSON_ARRAY);
    if (!node)
        return out_of_memory(ps);
    size_t base = ps->top;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        *out = node;
        return close_container(ps, node, base);
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (is_object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return describe_unexpected(ps, "a string key");
            SC_TRY(parse_string(ps, &key, &key_len));
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return describe_unexpected(ps, "':' after an object key");
            ps->p++;
        }
        sc_json *value;
        SC_TRY(parse_value(ps, &value));
        SC_TRY(push_member(ps, key, key_len, value));
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            *out = node;
            return close_container(ps, node, base);
        }
        return describe_unexpected(ps, is_object ? "',' or '}'" : "',' or ']'");
    }
}

static sc_status parse_value(parser *ps, sc_json **out)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return describe_unexpected(ps, "a value");
    switch (*ps->p) {
    case '{':
    case '[': return parse_container(ps, out);
    case '"': {
        sc_json *n = new_node(ps, SC_JSON_STRING);
        if (!n)
            return out_of_memory(ps);
        SC_TRY(parse_string(ps, &n->str, &n->len));
        *out = n;
        return SC_OK;
    }
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return parse_number(ps, out);
    default: return parse_literal(ps, out);
    }
}

sc_status sc_json_parse(const char *text, size_t len, const char *what, sc_json_doc **out)
{
    sc_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return sc_set_error(SC_ERR_NOMEM, "%s: out of memory while parsing JSON", what);
    doc->next_block = BLOCK_MIN;
    const unsigned char *start = (const unsigned char *)(text ? text : "");
    parser ps = {start, start, start + len, what, doc, NULL, 0, 0, 0};
    sc_status s = parse_value(&ps, &doc->root);
    if (s == SC_OK) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            s = fail_at(&ps, ps.p, "unexpected data after the JSON value");
    }
    free(ps.stack);
    if (s != SC_OK) {
        sc_json_free(doc);
        return s;
    }
    *out = doc;
    return SC_OK;
}

/* ---- accessors --------------------------------------------------------------------------- */

const sc_json *sc_json_get(const sc_json *obj, const char *key)
{
    if (!obj || obj->type != SC_JSON_OBJECT)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < obj->len; i++)
        if (obj->key_lens[i] == len && memcmp(obj->keys[i], key, len) == 0)
            return obj->items[i];
    return NULL;
}

int sc_json_as_u64(const sc_json *num, uint64_t *out)
{
    if (!num || num->type != SC_JSON_NUMBER)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < num->len; i++) {
        unsigned c = (unsigned char)num->str[i];
        if (c < '0' || c > '9')
            return -1; /* sign, fraction or exponent */
        unsigned d = c - '0';
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int sc_json_as_double(const sc_json *num, double *out)
{
    if (!num || num->type != SC_JSON_NUMBER)
        return -1;
    /* strtod follows LC_NUMERIC, which a host application (Qt does) may have set to a locale
     * whose decimal point is not '.': hand it the text with the locale's decimal point. */
    const char *point = localeconv()->decimal_point;
    const char *dot = memchr(num->str, '.', num->len);
    if (!dot || (point[0] == '.' && point[1] == '\0')) {
        *out = strtod(num->str, NULL);
        return 0;
    }
    size_t plen = strlen(point);
    char small[128];
    size_t need = num->len + plen;
    char *buf = need <= sizeof small ? small : malloc(need);
    if (!buf)
        return -1;
    size_t head = (size_t)(dot - num->str);
    memcpy(buf, num->str, head);
    memcpy(buf + head, point, plen);
    memcpy(buf + head + plen, dot + 1, num->len - head); /* includes the NUL */
    *out = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return 0;
}

const char *sc_json_duplicate_key(const sc_json *obj)
{
    if (!obj || obj->type != SC_JSON_OBJECT || obj->len < 2)
        return NULL;
    sc_strmap seen;
    if (sc_strmap_init(&seen, obj->len) == SC_OK) {
        const char *dup = NULL;
        for (size_t i = 0; i < obj->len && !dup; i++) {
            size_t existing;
            if (sc_strmap_insert(&seen, obj->keys[i], obj->key_lens[i], i, &existing) == SC_OK &&
                existing != SC_STRMAP_NEW)
                dup = obj->keys[i];
        }
        sc_strmap_free(&seen);
        return dup;
    }
    /* No memory for a hash table: compare pairs instead. */
    for (size_t i = 1; i < obj->len; i++)
        for (size_t j = 0; j < i; j++)
            if (obj->key_lens[i] == obj->key_lens[j] && memcmp(obj->keys[i], obj->keys[j], obj->key_lens[i]) == 0)
                return obj->keys[i];
    return NULL;
}
