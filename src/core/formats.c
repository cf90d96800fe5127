/*
 * formats.c: formats and media types from paths (API.md §6), and .safetensors and .gguf header
 * sniffing. Header bytes come from uploads: every read checks what is left first.
 */
#include "core/formats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ paths */

/* ASCII lowercase by hand: <ctype.h> depends on the locale. */
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Points *ext past the last dot of path's last segment and returns its length; 0 when the
 * segment has no dot or only a leading one (".gitignore"). */
static size_t extension(const char *path, const char **ext)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot == base) {
        *ext = "";
        return 0;
    }
    *ext = dot + 1;
    return strlen(dot + 1);
}

/* Whether ext[0..n) is the lowercase word w, in any case. */
static bool ext_is(const char *ext, size_t n, const char *w)
{
    if (n != strlen(w))
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(ext[i]) != w[i])
            return false;
    return true;
}

static const struct {
    const char *ext;
    const char *name;
} known_formats[] = {
    {"safetensors", "safetensors"},
    {"gguf", "gguf"},
    {"onnx", "onnx"},
    {"tflite", "tflite"},
    {"mlmodel", "coreml"},
    {"mlpackage", "coreml"},
    {"pt", "pytorch"},
    {"pth", "pytorch"},
    {"pte", "executorch"},
    {"bin", "binary"},
};

static const struct {
    const char *ext;
    const char *type;
} media_types[] = {
    {"json", "application/json"}, {"md", "text/markdown"},     {"txt", "text/plain"},
    {"yaml", "application/yaml"}, {"yml", "application/yaml"}, {"py", "text/x-python"},
};

const char *format_of_path(const char *path, char *buf, size_t cap)
{
    const char *ext;
    size_t n;

    if (path == NULL)
        return "binary";
    n = extension(path, &ext);
    if (n == 0)
        return "binary";
    for (size_t i = 0; i < sizeof(known_formats) / sizeof(known_formats[0]); i++)
        if (ext_is(ext, n, known_formats[i].ext))
            return known_formats[i].name;
    /* Anything else is stored as the format: keep it short and plain. */
    if (buf == NULL || n >= cap)
        return "binary";
    for (size_t i = 0; i < n; i++) {
        char c = lower(ext[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return "binary";
        buf[i] = c;
    }
    buf[n] = '\0';
    return buf;
}

const char *media_type_of_path(const char *path)
{
    const char *ext;
    size_t n;

    if (path == NULL)
        return "application/octet-stream";
    n = extension(path, &ext);
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
        if (ext_is(ext, n, media_types[i].ext))
            return media_types[i].type;
    return "application/octet-stream";
}

const char *format_size_category(uint64_t params)
{
    if (params < 100000000ull)
        return "tiny";
    if (params < 1000000000ull)
        return "small";
    if (params < 10000000000ull)
        return "medium";
    if (params < 100000000000ull)
        return "large";
    return "xlarge";
}

/* ------------------------------------------------------------ byte reader */

/* What is left of the input. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

/* Outcome of a read: RD_SHORT means the input ended first, RD_BAD a hostile or invalid value. */
enum { RD_OK = 0, RD_SHORT, RD_BAD };

static int take(rd *r, size_t k, const uint8_t **out)
{
    if (k > r->n)
        return RD_SHORT;
    *out = r->p;
    r->p += k;
    r->n -= k;
    return RD_OK;
}

/* Reads k <= 8 bytes as a little-endian unsigned integer. */
static int take_le(rd *r, size_t k, uint64_t *v)
{
    const uint8_t *b;
    if (take(r, k, &b) != RD_OK)
        return RD_SHORT;
    *v = 0;
    for (size_t i = k; i-- > 0;)
        *v = *v << 8 | b[i];
    return RD_OK;
}

static int take_u32(rd *r, uint32_t *v)
{
    uint64_t w;
    if (take_le(r, 4, &w) != RD_OK)
        return RD_SHORT;
    *v = (uint32_t)w;
    return RD_OK;
}

static int take_u64(rd *r, uint64_t *v)
{
    return take_le(r, 8, v);
}

/* *out = a * b; false when it overflows. */
static bool mul_u64(uint64_t *out, uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* *out = a + b; false when it overflows. */
static bool add_u64(uint64_t *out, uint64_t a, uint64_t b)
{
    if (b > UINT64_MAX - a)
        return false;
    *out = a + b;
    return true;
}

/* Makes e a 422 at ["body","file"]; returns NULL for `return invalid(e, ...)`. */
__attribute__((format(printf, 2, 3))) static json_t *invalid(err *e, const char *fmt, ...)
{
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_field_add(e, "body", "file", "value_error", "%s", msg);
    return NULL;
}

/* Adds an integer member; false on OOM or a value JSON cannot hold as json_int_t. */
static bool set_uint(json_t *o, const char *key, uint64_t v)
{
    if (v > INT64_MAX)
        return false;
    return json_object_set_new(o, key, json_integer((json_int_t)v)) == 0;
}

/* ------------------------------------------------------------ safetensors */

/* Element sizes in bits: F4 and F6 pack below a byte. */
static const struct {
    const char *name;
    unsigned bits;
} st_dtypes[] = {
    {"BOOL", 8},    {"U8", 8},   {"I8", 8},      {"F8_E5M2", 8}, {"F8_E4M3", 8},
    {"F8_E8M0", 8}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"I16", 16},
    {"U16", 16},    {"F16", 16}, {"BF16", 16},   {"I32", 32},    {"U32", 32},
    {"F32", 32},    {"I64", 64}, {"U64", 64},    {"F64", 64},    {"C64", 64},
};

/* Reads a JSON integer >= 0 into *v. */
static bool json_uint(const json_t *j, uint64_t *v)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

/*
 * Checks one tensor entry; sets *elems and *dtype, or writes why (why[0..cap)) and returns false.
 */
typedef struct st_span {
    uint64_t begin, end;
} st_span;

static bool st_tensor(const json_t *t, uint64_t *elems, const char **dtype, st_span *span,
                      char *why, size_t cap)
{
    const json_t *dt = json_object_get(t, "dtype");
    const json_t *shape = json_object_get(t, "shape");
    const json_t *offs = json_object_get(t, "data_offsets");
    unsigned bits = 0;
    uint64_t count = 1, nbits, begin, end;
    size_t i;
    const json_t *dim;

    if (!json_is_object(t) || !json_is_string(dt) || !json_is_array(shape) ||
        !json_is_array(offs)) {
        snprintf(why, cap, "needs dtype, shape and data_offsets");
        return false;
    }
    for (i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
        if (strcmp(json_string_value(dt), st_dtypes[i].name) == 0)
            bits = st_dtypes[i].bits;
    if (bits == 0) {
        snprintf(why, cap, "unknown dtype");
        return false;
    }
    *dtype = json_string_value(dt);
    json_array_foreach(shape, i, dim)
    {
        uint64_t d;
        if (!json_uint(dim, &d)) {
            snprintf(why, cap, "shape must hold integers >= 0");
            return false;
        }
        if (!mul_u64(&count, count, d)) {
            snprintf(why, cap, "shape overflows 64 bits");
            return false;
        }
    }
    if (json_array_size(offs) != 2 || !json_uint(json_array_get(offs, 0), &begin) ||
        !json_uint(json_array_get(offs, 1), &end) || begin > end) {
        snprintf(why, cap, "data_offsets must be [begin, end] with 0 <= begin <= end");
        return false;
    }
    if (!mul_u64(&nbits, count, bits)) {
        snprintf(why, cap, "size in bits overflows 64 bits");
        return false;
    }
    if (nbits % 8 != 0 || end - begin != nbits / 8) {
        snprintf(why, cap, "data_offsets span %llu bytes, shape and dtype need %llu%s",
                 (unsigned long long)(end - begin), (unsigned long long)(nbits / 8),
                 nbits % 8 ? ".5" : "");
        return false;
    }
    *elems = count;
    span->begin = begin;
    span->end = end;
    return true;
}

static int span_cmp(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Whether the spans, sorted, tile [0, data) exactly: no gap, overlap or byte past the end.
 * Writes why otherwise. Sorts spans. */
static bool st_tiles(st_span *spans, size_t n, uint64_t data, char *why, size_t cap)
{
    uint64_t at = 0;
    qsort(spans, n, sizeof(*spans), span_cmp);
    for (size_t i = 0; i < n; i++) {
        if (spans[i].end > data) {
            snprintf(why, cap, "data_offsets end at %llu, past the %llu data bytes of the file",
                     (unsigned long long)spans[i].end, (unsigned long long)data);
            return false;
        }
        if (spans[i].begin != at) {
            snprintf(why, cap, "data_offsets %s at byte %llu",
                     spans[i].begin < at ? "overlap" : "leave a gap", (unsigned long long)at);
            return false;
        }
        at = spans[i].end;
    }
    if (at != data) {
        snprintf(why, cap, "the tensors cover %llu of the %llu data bytes", (unsigned long long)at,
                 (unsigned long long)data);
        return false;
    }
    return true;
}

/* Counts '{', '[' and ',' outside JSON strings in s[0..n): a bound on the values a parse makes. */
static uint64_t json_punct(const uint8_t *s, size_t n)
{
    uint64_t count = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[' || c == ',') {
            count++;
        }
    }
    return count;
}

json_t *format_parse_safetensors(const uint8_t *p, size_t n, uint64_t file_size, err *e)
{
    rd r = {p, p ? n : 0};
    uint64_t hlen, params = 0, elems = 0;
    json_error_t jerr;
    json_t *doc = NULL, *out = NULL, *dtypes = NULL, *val;
    const char *key, *dtype = NULL;
    char why[96];
    size_t tensors = 0;
    st_span *spans = NULL;

    if (take_u64(&r, &hlen) != RD_OK)
        return invalid(e, "safetensors header: truncated before its length");
    if (hlen > SAFETENSORS_HEADER_MAX)
        return invalid(e, "safetensors header: length %llu exceeds %u bytes",
                       (unsigned long long)hlen, SAFETENSORS_HEADER_MAX);
    if (n > file_size || hlen > r.n || hlen > file_size - 8)
        return invalid(e, "safetensors header: truncated (%llu bytes declared, %zu present)",
                       (unsigned long long)hlen, r.n);
    if (json_punct(r.p, (size_t)hlen) > SAFETENSORS_VALUES_MAX)
        return invalid(e, "safetensors header: more than %u JSON values", SAFETENSORS_VALUES_MAX);
    doc = json_loadb((const char *)r.p, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return invalid(e, "safetensors header: invalid JSON at byte %d", jerr.position);
    if (!json_is_object(doc)) {
        invalid(e, "safetensors header: not a JSON object");
        goto fail;
    }
    dtypes = json_object();
    spans = malloc(sizeof(*spans) * (json_object_size(doc) + 1));
    if (dtypes == NULL || spans == NULL)
        goto oom;
    json_object_foreach(doc, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                invalid(e, "safetensors header: __metadata__ must be an object");
                goto fail;
            }
            continue;
        }
        if (!st_tensor(val, &elems, &dtype, &spans[tensors], why, sizeof(why))) {
            invalid(e, "safetensors tensor '%.32s': %s", key, why);
            goto fail;
        }
        if (!add_u64(&params, params, elems) || params > INT64_MAX) {
            invalid(e, "safetensors header: parameter count overflows");
            goto fail;
        }
        json_t *c = json_object_get(dtypes, dtype);
        if (c != NULL)
            json_integer_set(c, json_integer_value(c) + 1);
        else if (json_object_set_new(dtypes, dtype, json_integer(1)) < 0)
            goto oom;
        tensors++;
    }
    /* hlen + 8 <= file_size was checked with the length */
    if (!st_tiles(spans, tensors, file_size - 8 - hlen, why, sizeof(why))) {
        invalid(e, "safetensors header: %s", why);
        goto fail;
    }
    out = json_object();
    if (out == NULL || json_object_set_new(out, "format", json_string("safetensors")) < 0 ||
        !set_uint(out, "tensor_count", tensors) || json_object_set(out, "dtypes", dtypes) < 0 ||
        !set_uint(out, "parameter_count", params) || !set_uint(out, "header_bytes", hlen))
        goto oom;
    json_decref(dtypes);
    json_decref(doc);
    free(spans);
    return out;
oom:
    err_set(e, ERR_SERVER, "out of memory");
fail:
    json_decref(out);
    json_decref(dtypes);
    json_decref(doc);
    free(spans);
    return NULL;
}

/* ------------------------------------------------------------------- gguf */

enum {
    GGUF_UINT8,
    GGUF_INT8,
    GGUF_UINT16,
    GGUF_INT16,
    GGUF_UINT32,
    GGUF_INT32,
    GGUF_FLOAT32,
    GGUF_BOOL,
    GGUF_STRING,
    GGUF_ARRAY,
    GGUF_UINT64,
    GGUF_INT64,
    GGUF_FLOAT64,
    GGUF_TYPES,
};

/* Bytes of each fixed-size value type; 0 for strings and arrays. */
static const uint8_t gguf_size[GGUF_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

#define GGML_TYPE_LIMIT 256u /* ggml type ids above this are taken as garbage */
#define GGUF_TEXT_MAX 256    /* longest architecture or name copied into metadata */
#define GGUF_CTX_KEYS 8      /* "<arch>.context_length" keys remembered */

/* ggml_type names by id (ggml.h); removed types keep their old names. */
static const char *const ggml_types[] = {
    "F32",   "F16",        "Q4_0",       "Q4_1",       "Q4_2",     "Q4_3",     "Q5_0",
    "Q5_1",  "Q8_0",       "Q8_1",       "Q2_K",       "Q3_K",     "Q4_K",     "Q5_K",
    "Q6_K",  "Q8_K",       "IQ2_XXS",    "IQ2_XS",     "IQ3_XXS",  "IQ1_S",    "IQ4_NL",
    "IQ3_S", "IQ2_S",      "IQ4_XS",     "I8",         "I16",      "I32",      "I64",
    "F64",   "IQ1_M",      "BF16",       "Q4_0_4_4",   "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",
    "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4",    "NVFP4",    "Q1_0",
};

/* llama_ftype names by general.file_type (llama.h); removed ids keep their old names. */
static const char *const llama_ftypes[] = {
    "F32",      "F16",    "Q4_0",    "Q4_1",      "Q4_1_SOME_F16", "Q4_2",     "Q4_3",
    "Q8_0",     "Q5_0",   "Q5_1",    "Q2_K",      "Q3_K_S",        "Q3_K_M",   "Q3_K_L",
    "Q4_K_S",   "Q4_K_M", "Q5_K_S",  "Q5_K_M",    "Q6_K",          "IQ2_XXS",  "IQ2_XS",
    "Q2_K_S",   "IQ3_XS", "IQ3_XXS", "IQ1_S",     "IQ4_NL",        "IQ3_S",    "IQ3_M",
    "IQ2_S",    "IQ2_M",  "IQ4_XS",  "IQ1_M",     "BF16",          "Q4_0_4_4", "Q4_0_4_8",
    "Q4_0_8_8", "TQ1_0",  "TQ2_0",   "MXFP4_MOE", "NVFP4",         "Q1_0",
};

/* A scalar value worth keeping: an integer or a string pointing into the input. */
typedef struct gguf_val {
    enum { VAL_NONE, VAL_UINT, VAL_NEG, VAL_STR } kind;
    uint64_t u;
    const uint8_t *s;
    size_t n;
} gguf_val;

typedef struct gguf_ctx {
    char why[100]; /* the reason for RD_BAD */
    gguf_val arch, name;
    bool has_ftype;
    uint64_t ftype;
    struct {
        const uint8_t *arch;
        size_t n;
        uint64_t v;
    } ctx_len[GGUF_CTX_KEYS];
    size_t nctx_len;
    uint64_t params;
    uint64_t tensors_read;
    uint64_t type_counts[GGML_TYPE_LIMIT];
} gguf_ctx;

__attribute__((format(printf, 2, 3))) static int bad(gguf_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    return RD_BAD;
}

/* Reads a gguf string (u64 length, bytes) into s[0..*len). */
static int take_str(gguf_ctx *c, rd *r, const uint8_t **s, size_t *len, const char *what)
{
    uint64_t n;
    if (take_u64(r, &n) != RD_OK)
        return RD_SHORT;
    if (n > GGUF_STRING_MAX)
        return bad(c, "%s length %llu exceeds %u", what, (unsigned long long)n, GGUF_STRING_MAX);
    if (n > r->n)
        return RD_SHORT;
    *len = (size_t)n;
    return take(r, *len, s);
}

/*
 * Reads one value of type; nest counts the arrays around it. Integers and strings at the top
 * level land in *v (which may be NULL inside arrays).
 */
static int gguf_value(gguf_ctx *c, rd *r, uint32_t type, unsigned nest, gguf_val *v)
{
    const uint8_t *b;
    uint64_t count, u;
    uint32_t etype;
    int rc;

    if (type >= GGUF_TYPES)
        return bad(c, "unknown value type %u", type);
    if (type == GGUF_STRING) {
        const uint8_t *s;
        size_t n;
        if ((rc = take_str(c, r, &s, &n, "string")) != RD_OK)
            return rc;
        if (v) {
            v->kind = VAL_STR;
            v->s = s;
            v->n = n;
        }
        return RD_OK;
    }
    if (type != GGUF_ARRAY) {
        size_t k = gguf_size[type];
        if (r->n < k)
            return RD_SHORT;
        bool neg =
            (type == GGUF_INT8 || type == GGUF_INT16 || type == GGUF_INT32 || type == GGUF_INT64) &&
            (r->p[k - 1] & 0x80);
        bool integer = type <= GGUF_INT32 || type == GGUF_UINT64 || type == GGUF_INT64;
        if (take_le(r, k, &u) != RD_OK)
            return RD_SHORT;
        if (v && integer) {
            v->kind = neg ? VAL_NEG : VAL_UINT;
            v->u = u;
        }
        return RD_OK;
    }
    if (nest >= GGUF_ARRAY_DEPTH_MAX)
        return bad(c, "arrays nest deeper than %d", GGUF_ARRAY_DEPTH_MAX);
    if (take_u32(r, &etype) != RD_OK || take_u64(r, &count) != RD_OK)
        return RD_SHORT;
    if (etype >= GGUF_TYPES)
        return bad(c, "unknown array element type %u", etype);
    if (count > GGUF_ARRAY_MAX)
        return bad(c, "array of %llu elements exceeds %u", (unsigned long long)count,
                   GGUF_ARRAY_MAX);
    if (gguf_size[etype] != 0) {
        if (count > r->n / gguf_size[etype])
            return RD_SHORT;
        return take(r, (size_t)count * gguf_size[etype], &b);
    }
    /* Each string takes >= 8 bytes and each array >= 12, so the loop is bounded by n. */
    if (count > r->n / (etype == GGUF_STRING ? 8 : 12))
        return RD_SHORT;
    for (uint64_t i = 0; i < count; i++)
        if ((rc = gguf_value(c, r, etype, nest + 1, NULL)) != RD_OK)
            return rc;
    return RD_OK;
}

/* Whether key[0..n) is the NUL-terminated word w. */
static bool key_is(const uint8_t *key, size_t n, const char *w)
{
    return n == strlen(w) && memcmp(key, w, n) == 0;
}

/* Reads one kv pair and keeps the keys formats care about. */
static int gguf_kv(gguf_ctx *c, rd *r)
{
    static const char suffix[] = ".context_length";
    const size_t slen = sizeof(suffix) - 1;
    const uint8_t *key;
    size_t klen;
    uint32_t type;
    gguf_val v = {VAL_NONE, 0, NULL, 0};
    int rc;

    if ((rc = take_str(c, r, &key, &klen, "key")) != RD_OK)
        return rc;
    if (take_u32(r, &type) != RD_OK)
        return RD_SHORT;
    if ((rc = gguf_value(c, r, type, 0, &v)) != RD_OK)
        return rc;
    if (key_is(key, klen, "general.architecture") && v.kind == VAL_STR)
        c->arch = v;
    else if (key_is(key, klen, "general.name") && v.kind == VAL_STR)
        c->name = v;
    else if (key_is(key, klen, "general.file_type") && v.kind == VAL_UINT) {
        c->has_ftype = true;
        c->ftype = v.u;
    } else if (v.kind == VAL_UINT && klen > slen && klen - slen <= GGUF_TEXT_MAX &&
               memcmp(key + klen - slen, suffix, slen) == 0 && c->nctx_len < GGUF_CTX_KEYS) {
        c->ctx_len[c->nctx_len].arch = key;
        c->ctx_len[c->nctx_len].n = klen - slen;
        c->ctx_len[c->nctx_len].v = v.u;
        c->nctx_len++;
    }
    return RD_OK;
}

/* Reads one tensor info, adding its element count to c->params. */
static int gguf_tensor(gguf_ctx *c, rd *r)
{
    const uint8_t *name;
    size_t nlen;
    uint32_t ndims, type;
    uint64_t dim, elems = 1, offset;
    int rc;

    if ((rc = take_str(c, r, &name, &nlen, "tensor name")) != RD_OK)
        return rc;
    if (take_u32(r, &ndims) != RD_OK)
        return RD_SHORT;
    if (ndims > GGUF_DIMS_MAX)
        return bad(c, "tensor with %u dimensions exceeds %d", ndims, GGUF_DIMS_MAX);
    for (uint32_t i = 0; i < ndims; i++) {
        if (take_u64(r, &dim) != RD_OK)
            return RD_SHORT;
        if (dim > INT64_MAX)
            return bad(c, "tensor dimension %llu exceeds 2^63-1", (unsigned long long)dim);
        if (!mul_u64(&elems, elems, dim))
            return bad(c, "tensor shape overflows 64 bits");
    }
    if (take_u32(r, &type) != RD_OK || take_u64(r, &offset) != RD_OK)
        return RD_SHORT;
    if (type >= GGML_TYPE_LIMIT)
        return bad(c, "unknown ggml type %u", type);
    if (!add_u64(&c->params, c->params, elems) || c->params > INT64_MAX)
        return bad(c, "parameter count overflows");
    c->type_counts[type]++;
    c->tensors_read++;
    return RD_OK;
}

/* A new JSON string of v when it is short printable UTF-8, else NULL. */
static json_t *gguf_text(const gguf_val *v)
{
    if (v->kind != VAL_STR || v->n == 0 || v->n > GGUF_TEXT_MAX)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (v->s[i] < 0x20 || v->s[i] == 0x7f)
            return NULL;
    return json_stringn((const char *)v->s, v->n); /* NULL unless valid UTF-8 */
}

/* The quantization name: general.file_type when known, else the most common tensor type. */
static const char *gguf_quantization(const gguf_ctx *c)
{
    const size_t nftypes = sizeof(llama_ftypes) / sizeof(llama_ftypes[0]);
    const size_t ntypes = sizeof(ggml_types) / sizeof(ggml_types[0]);
    size_t best = 0;

    if (c->has_ftype && c->ftype < nftypes)
        return llama_ftypes[c->ftype];
    for (size_t t = 1; t < GGML_TYPE_LIMIT; t++)
        if (c->type_counts[t] > c->type_counts[best])
            best = t;
    if (c->type_counts[best] == 0 || best >= ntypes)
        return NULL;
    return ggml_types[best];
}

json_t *format_parse_gguf(const uint8_t *p, size_t n, bool complete, err *e)
{
    gguf_ctx c;
    rd r = {p, p ? n : 0};
    const uint8_t *magic;
    uint32_t version;
    uint64_t ntensors, nkv, i;
    int rc = RD_OK;
    bool all_tensors = false, ok;
    json_t *out, *j;
    const char *quant;

    memset(&c, 0, sizeof(c));
    if (take(&r, 4, &magic) != RD_OK)
        return invalid(e, "GGUF header: truncated");
    if (memcmp(magic, "GGUF", 4) != 0)
        return invalid(e, "GGUF header: bad magic");
    if (take_u32(&r, &version) != RD_OK || take_u64(&r, &ntensors) != RD_OK ||
        take_u64(&r, &nkv) != RD_OK)
        return invalid(e, "GGUF header: truncated");
    if (version != 2 && version != 3)
        return invalid(e, "GGUF header: unsupported version %u", version);
    if (ntensors > GGUF_COUNT_MAX || nkv > GGUF_COUNT_MAX)
        return invalid(e, "GGUF header: %llu tensors and %llu kv pairs exceed %u",
                       (unsigned long long)ntensors, (unsigned long long)nkv, GGUF_COUNT_MAX);
    for (i = 0; i < nkv && rc == RD_OK; i++)
        rc = gguf_kv(&c, &r);
    for (i = 0; i < ntensors && rc == RD_OK; i++)
        rc = gguf_tensor(&c, &r);
    all_tensors = rc == RD_OK;
    if (rc == RD_BAD)
        return invalid(e, "GGUF header: %s", c.why);
    if (rc == RD_SHORT && complete)
        return invalid(e, "GGUF header: truncated");

    out = json_object();
    ok = out != NULL && json_object_set_new(out, "format", json_string("gguf")) == 0 &&
         set_uint(out, "gguf_version", version) && set_uint(out, "tensor_count", ntensors);
    if (ok && (j = gguf_text(&c.arch)) != NULL) {
        ok = json_object_set_new(out, "architecture", j) == 0;
        for (size_t k = 0; ok && k < c.nctx_len; k++)
            if (c.ctx_len[k].n == c.arch.n && memcmp(c.ctx_len[k].arch, c.arch.s, c.arch.n) == 0 &&
                c.ctx_len[k].v <= INT64_MAX)
                ok = set_uint(out, "context_length", c.ctx_len[k].v);
    }
    if (ok && (quant = gguf_quantization(&c)) != NULL)
        ok = json_object_set_new(out, "quantization", json_string(quant)) == 0;
    if (ok && all_tensors)
        ok = set_uint(out, "parameter_count", c.params);
    if (ok && (j = gguf_text(&c.name)) != NULL)
        ok = json_object_set_new(out, "name", j) == 0;
    if (!ok) {
        json_decref(out);
        err_set(e, ERR_SERVER, "out of memory");
        return NULL;
    }
    return out;
}
