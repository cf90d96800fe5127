/*
 * test_formats.c: formats and media types from paths, size categories, and the .safetensors and
 * .gguf header parsers on real, truncated and hostile bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/formats.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ byte builder */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t k)
{
    if (b->n + k > b->cap) {
        b->cap = (b->n + k) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (k > 0)
        memcpy(b->p + b->n, d, k);
    b->n += k;
}

static void put_le(buf *b, uint64_t v, size_t k)
{
    uint8_t t[8];
    for (size_t i = 0; i < k; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    put(b, t, k);
}

static void put_u32(buf *b, uint32_t v)
{
    put_le(b, v, 4);
}

static void put_u64(buf *b, uint64_t v)
{
    put_le(b, v, 8);
}

/* A gguf string: u64 length, then the bytes. */
static void put_str(buf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

enum {
    T_U8,
    T_I8,
    T_U16,
    T_I16,
    T_U32,
    T_I32,
    T_F32,
    T_BOOL,
    T_STR,
    T_ARR,
    T_U64,
    T_I64,
    T_F64,
};

static void kv_str(buf *b, const char *key, const char *val)
{
    put_str(b, key);
    put_u32(b, T_STR);
    put_str(b, val);
}

/* A kv pair of a fixed-size type with value v in its low bytes. */
static void kv_num(buf *b, const char *key, uint32_t type, uint64_t v)
{
    static const size_t size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    put_str(b, key);
    put_u32(b, type);
    put_le(b, v, size[type]);
}

static void tensor(buf *b, const char *name, uint32_t ndims, const uint64_t *dims, uint32_t type,
                   uint64_t offset)
{
    put_str(b, name);
    put_u32(b, ndims);
    for (uint32_t i = 0; i < ndims; i++)
        put_u64(b, dims[i]);
    put_u32(b, type);
    put_u64(b, offset);
}

static void gguf_start(buf *b, uint32_t version, uint64_t ntensors, uint64_t nkv)
{
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, ntensors);
    put_u64(b, nkv);
}

/* A safetensors file: u64 length, the JSON header padded with spaces to 8 bytes, then data. */
static void st_make(buf *b, const char *json, size_t data)
{
    size_t n = strlen(json), pad = (8 - n % 8) % 8;
    put_u64(b, n + pad);
    put(b, json, n);
    for (size_t i = 0; i < pad; i++)
        put(b, " ", 1);
    for (size_t i = 0; i < data; i++)
        put(b, "\x5a", 1);
}

/* --------------------------------------------------------------- checks */

static int64_t get_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return json_integer_value(v);
}

static const char *get_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("'%s' is not a string", key);
    return json_string_value(v);
}

/* Asserts the parser returned NULL with a 422 at ["body","file"]. */
static void expect_invalid(json_t *j, const err *e)
{
    if (j != NULL) {
        char *s = json_dumps(j, JSON_COMPACT);
        fail_msg("expected NULL, got %s", s);
    }
    assert_int_equal(e->kind, ERR_VALIDATION);
    assert_int_equal(e->nfields, 1);
    assert_string_equal(e->fields[0].loc[0], "body");
    assert_string_equal(e->fields[0].loc[1], "file");
    assert_string_equal(e->fields[0].type, "value_error");
    assert_true(e->fields[0].msg[0] != '\0');
}

static void st_expect_invalid(const char *json)
{
    buf b = {0};
    err e = {0};
    st_make(&b, json, 64);
    json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
    if (j != NULL)
        fail_msg("accepted %s", json);
    expect_invalid(j, &e);
    free(b.p);
}

/* ------------------------------------------------------------ path tests */

static void format_of_path_table(void **state)
{
    (void)state;
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"model.safetensors", "safetensors"},
        {"dir/Model.SafeTensors", "safetensors"},
        {"llama-3-8b.Q4_K_M.gguf", "gguf"},
        {"m.onnx", "onnx"},
        {"m.tflite", "tflite"},
        {"m.mlmodel", "coreml"},
        {"m.mlpackage", "coreml"},
        {"m.pt", "pytorch"},
        {"m.PTH", "pytorch"},
        {"m.pte", "executorch"},
        {"pytorch_model.bin", "binary"},
        {"weights.NPZ", "npz"},
        {"archive.tar.gz", "gz"},
        {"config.json", "json"},
        {"README", "binary"},
        {"dir.v2/README", "binary"},
        {".gitattributes", "binary"},
        {"dir/.hidden", "binary"},
        {"trailing.", "binary"},
        {"odd.ex t", "binary"},
        {"odd.\xc3\xa9", "binary"},
        {"long.abcdefghijklmnopqrstuvwxyz0123456789", "binary"},
        {"ok.h5_v-2", "h5_v-2"},
        {"", "binary"},
    };
    char b[32];
    for (size_t i = 0; i < COUNT(cases); i++) {
        const char *got = format_of_path(cases[i].path, b, sizeof(b));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("format_of_path('%s') = '%s', want '%s'", cases[i].path, got, cases[i].want);
    }
    assert_string_equal(format_of_path(NULL, b, sizeof(b)), "binary");
    assert_string_equal(format_of_path("x.npz", NULL, 0), "binary");
    assert_string_equal(format_of_path("x.npz", b, 3), "binary"); /* does not fit */
    assert_string_equal(format_of_path("x.npz", b, 4), "npz");
}

static void media_type_table(void **state)
{
    (void)state;
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"config.json", "application/json"},
        {"README.md", "text/markdown"},
        {"LICENSE.TXT", "text/plain"},
        {"card.yaml", "application/yaml"},
        {"a/b.yml", "application/yaml"},
        {"model.py", "text/x-python"},
        {"model.gguf", "application/octet-stream"},
        {"README", "application/octet-stream"},
        {".json", "application/octet-stream"},
        {"x.jsonl", "application/octet-stream"},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        if (strcmp(media_type_of_path(cases[i].path), cases[i].want) != 0)
            fail_msg("media_type_of_path('%s') = '%s'", cases[i].path,
                     media_type_of_path(cases[i].path));
    assert_string_equal(media_type_of_path(NULL), "application/octet-stream");
}

static void size_category_boundaries(void **state)
{
    (void)state;
    assert_string_equal(format_size_category(0), "tiny");
    assert_string_equal(format_size_category(99999999ull), "tiny");
    assert_string_equal(format_size_category(100000000ull), "small");
    assert_string_equal(format_size_category(999999999ull), "small");
    assert_string_equal(format_size_category(1000000000ull), "medium");
    assert_string_equal(format_size_category(9999999999ull), "medium");
    assert_string_equal(format_size_category(10000000000ull), "large");
    assert_string_equal(format_size_category(99999999999ull), "large");
    assert_string_equal(format_size_category(100000000000ull), "xlarge");
    assert_string_equal(format_size_category(UINT64_MAX), "xlarge");
}

/* ----------------------------------------------------- safetensors tests */

static const char st_valid[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[12,28]},"
    "\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[28,30]},"
    "\"d\":{\"dtype\":\"BF16\",\"shape\":[0,7],\"data_offsets\":[30,30]}}";

static void safetensors_parses_valid(void **state)
{
    (void)state;
    buf b = {0};
    err e = {0};
    st_make(&b, st_valid, 30);
    json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
    assert_non_null(j);
    assert_string_equal(get_str(j, "format"), "safetensors");
    assert_int_equal(get_int(j, "tensor_count"), 4);
    assert_int_equal(get_int(j, "parameter_count"), 6 + 4 + 1 + 0);
    assert_int_equal(get_int(j, "header_bytes"), (strlen(st_valid) + 7) / 8 * 8);
    const json_t *dt = json_object_get(j, "dtypes");
    assert_true(json_is_object(dt));
    assert_int_equal(json_object_size(dt), 3);
    assert_int_equal(get_int(dt, "F16"), 2);
    assert_int_equal(get_int(dt, "F32"), 1);
    assert_int_equal(get_int(dt, "BF16"), 1);
    json_decref(j);

    /* Only the header is needed: the data may be cut off. */
    j = format_parse_safetensors(b.p, b.n - 30, b.n, &e);
    assert_non_null(j);
    json_decref(j);
    free(b.p);
}

static void safetensors_small_dtypes(void **state)
{
    (void)state;
    buf b = {0};
    err e = {0};
    st_make(&b,
            "{\"x\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]},"
            "\"y\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[2,5]},"
            "\"z\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[5,8]}}",
            8);
    json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
    assert_non_null(j);
    assert_int_equal(get_int(j, "parameter_count"), 11);
    json_decref(j);
    free(b.p);
    /* three 4-bit values do not fill whole bytes */
    st_expect_invalid("{\"x\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}");
}

static void safetensors_huge_but_consistent(void **state)
{
    (void)state;
    buf b = {0};
    err e = {0};
    /* three tensors of 2^61 4-bit values: the counts are large, not hostile */
    st_make(&b,
            "{\"a\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
            "\"data_offsets\":[0,1152921504606846976]},"
            "\"b\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
            "\"data_offsets\":[1152921504606846976,2305843009213693952]},"
            "\"c\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
            "\"data_offsets\":[2305843009213693952,3458764513820540928]}}",
            0);
    /* only the header is at hand; the file is as long as the offsets say */
    json_t *j = format_parse_safetensors(b.p, b.n, b.n + 3458764513820540928ull, &e);
    assert_non_null(j);
    assert_int_equal(get_int(j, "parameter_count"), 3 * 2305843009213693952ll);
    json_decref(j);
    /* the same header in a file of a few hundred bytes claims data it does not have */
    expect_invalid(format_parse_safetensors(b.p, b.n, b.n, &e), &e);
    free(b.p);
}

/* A header of more than SAFETENSORS_VALUES_MAX values is refused before it is parsed; commas
 * and brackets inside strings do not count. */
static void safetensors_value_cap(void **state)
{
    (void)state;
    size_t ndims = SAFETENSORS_VALUES_MAX + 1;
    char *json = malloc(ndims * 2 + 128);
    size_t w = (size_t)sprintf(json, "{\"a\":{\"dtype\":\"U8\",\"shape\":[");
    for (size_t i = 0; i < ndims; i++)
        w += (size_t)sprintf(json + w, i ? ",1" : "1");
    sprintf(json + w, "],\"data_offsets\":[0,1]}}");
    buf b = {0};
    err e = {0};
    st_make(&b, json, 1);
    json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
    expect_invalid(j, &e);
    assert_non_null(strstr(e.fields[0].msg, "JSON values"));
    free(b.p);

    /* the same number of commas and brackets inside a metadata string is fine */
    w = (size_t)sprintf(json, "{\"__metadata__\":{\"note\":\"");
    for (size_t i = 0; i < ndims; i++)
        json[w++] = i % 2 ? ',' : '[';
    sprintf(json + w, "\\\"{\"},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
    buf b2 = {0};
    err e2 = {0};
    st_make(&b2, json, 1);
    j = format_parse_safetensors(b2.p, b2.n, b2.n, &e2);
    assert_non_null(j);
    assert_int_equal(get_int(j, "tensor_count"), 1);
    json_decref(j);
    free(b2.p);
    free(json);
}

/* data_offsets must tile the data area: every byte in one tensor, none past the end. */
static void safetensors_offsets_tile_the_data(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        size_t data;
    } bad[] = {
        /* a gap between tensors */
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
         "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]}}",
         6},
        /* overlapping tensors */
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]}}",
         4},
        /* the same bytes twice */
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
         "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
         4},
        /* not starting at 0 */
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]}}", 4},
        /* past the end of the file */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8},
        /* bytes left over after the last tensor */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 9},
        /* data but no tensor */
        {"{\"__metadata__\":{}}", 1},
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        buf b = {0};
        err e = {0};
        st_make(&b, bad[i].json, bad[i].data);
        json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
        if (j != NULL)
            fail_msg("accepted %s with %zu data bytes", bad[i].json, bad[i].data);
        expect_invalid(j, &e);
        free(b.p);
    }
    /* declared order does not matter; zero-length tensors sit anywhere in the tiling */
    buf b = {0};
    err e = {0};
    st_make(&b,
            "{\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]},"
            "\"z\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[2,2]},"
            "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
            4);
    json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
    assert_non_null(j);
    assert_int_equal(get_int(j, "tensor_count"), 3);
    json_decref(j);
    /* a file shorter than the buffer handed in, or than its own header, is refused */
    expect_invalid(format_parse_safetensors(b.p, b.n, b.n - 1, &e), &e);
    err e2 = {0};
    expect_invalid(format_parse_safetensors(b.p, 8, 8, &e2), &e2);
    free(b.p);
}

static void safetensors_empty_header(void **state)
{
    (void)state;
    buf b = {0};
    err e = {0};
    st_make(&b, "{}", 0);
    json_t *j = format_parse_safetensors(b.p, b.n, b.n, &e);
    assert_non_null(j);
    assert_int_equal(get_int(j, "tensor_count"), 0);
    assert_int_equal(get_int(j, "parameter_count"), 0);
    json_decref(j);
    free(b.p);
}

static void safetensors_truncated_everywhere(void **state)
{
    (void)state;
    buf b = {0};
    st_make(&b, st_valid, 0);
    for (size_t k = 0; k < b.n; k++) {
        err e = {0};
        /* a fresh copy so ASan sees reads past k */
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, b.p, k);
        json_t *j = format_parse_safetensors(cut, k, b.n + 30, &e);
        if (j != NULL)
            fail_msg("accepted a header cut at %zu of %zu bytes", k, b.n);
        expect_invalid(j, &e);
        free(cut);
    }
    err e = {0};
    json_t *j = format_parse_safetensors(b.p, b.n, b.n + 30, &e);
    assert_non_null(j);
    json_decref(j);
    free(b.p);
    err e2 = {0};
    expect_invalid(format_parse_safetensors(NULL, 0, 0, &e2), &e2);
}

static void safetensors_hostile_lengths(void **state)
{
    (void)state;
    static const uint64_t lens[] = {UINT64_MAX,
                                    UINT64_MAX - 7,
                                    1ull << 63,
                                    SAFETENSORS_HEADER_MAX + 1ull,
                                    SAFETENSORS_HEADER_MAX,
                                    65};
    for (size_t i = 0; i < COUNT(lens); i++) {
        buf b = {0};
        err e = {0};
        put_u64(&b, lens[i]);
        put(&b, "{}      ", 8);
        for (int k = 0; k < 48; k++)
            put(&b, " ", 1);
        expect_invalid(format_parse_safetensors(b.p, b.n, b.n, &e), &e);
        free(b.p);
    }
}

static void safetensors_hostile_headers(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "\"x\"",
        "{",
        "{\"a\":1}",
        "{\"a\":[]}",
        "{\"a\":{}}",
        "{\"__metadata__\":[]}",
        "{\"a\":{\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":1,\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":16,\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"f16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[-1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1.5],\"data_offsets\":[0,3]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1.0],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[\"1\"],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[null],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[[1]],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,3]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,0]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[-2,0]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2,4]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,\"2\"]}}",
        /* overflowing shapes: 2^32 * 2^32, then 2^61 elements of 64 bits */
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,3],\"data_offsets\":[0,1]}}",
        "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}",
        /* beyond int64: jansson refuses */
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}}",
        /* each tensor fits (2^61 4-bit values), the sum of four does not fit in int64 */
        "{\"a\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
        "\"data_offsets\":[0,1152921504606846976]},"
        "\"b\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
        "\"data_offsets\":[0,1152921504606846976]},"
        "\"c\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
        "\"data_offsets\":[0,1152921504606846976]},"
        "\"d\":{\"dtype\":\"F4\",\"shape\":[2305843009213693952],"
        "\"data_offsets\":[0,1152921504606846976]}}",
        /* 2^62 4-bit values: 2^64 bits */
        "{\"a\":{\"dtype\":\"F4\",\"shape\":[4611686018427387904],"
        "\"data_offsets\":[0,2305843009213693952]}}",
        /* duplicate keys */
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
        "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\\u0000b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
    };
    for (size_t i = 0; i < COUNT(bad); i++)
        st_expect_invalid(bad[i]);

    /* a NUL byte inside the header */
    buf b = {0};
    err e = {0};
    st_make(&b, "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
    b.p[9] = '\0';
    expect_invalid(format_parse_safetensors(b.p, b.n, b.n, &e), &e);
    free(b.p);
}

/* --------------------------------------------------------------- gguf tests */

/* Offsets inside the sample GGUF built by gguf_sample. */
typedef struct sample {
    buf b;
    size_t kv_end; /* where the tensor infos start */
} sample;

static const uint64_t dims_emb[] = {8, 4};
static const uint64_t dims_w[] = {4, 4};
static const uint64_t dims_norm[] = {4};

/* A small GGUF using every value type; file_type may be -1 to leave it out. */
static void gguf_sample(sample *s, uint32_t version, int64_t file_type)
{
    buf *b = &s->b;
    memset(s, 0, sizeof(*s));
    gguf_start(b, version, 3, file_type >= 0 ? 18 : 17);
    kv_num(b, "llama.context_length", T_U32, 4096); /* before the architecture on purpose */
    kv_str(b, "general.architecture", "llama");
    kv_str(b, "general.name", "Tiny Llama");
    if (file_type >= 0)
        kv_num(b, "general.file_type", T_U32, (uint64_t)file_type);
    kv_num(b, "bert.context_length", T_U32, 512);
    kv_num(b, "t.u8", T_U8, 7);
    kv_num(b, "t.i8", T_I8, 0xff);
    kv_num(b, "t.u16", T_U16, 65535);
    kv_num(b, "t.i16", T_I16, 0x8000);
    kv_num(b, "t.i32", T_I32, 0xffffffff);
    kv_num(b, "t.f32", T_F32, 0x3f800000);
    kv_num(b, "t.bool", T_BOOL, 1);
    kv_num(b, "t.u64", T_U64, UINT64_MAX);
    kv_num(b, "t.i64", T_I64, UINT64_MAX);
    kv_num(b, "t.f64", T_F64, 0x3ff0000000000000ull);
    /* tokenizer.ggml.tokens: array of strings */
    put_str(b, "tokenizer.ggml.tokens");
    put_u32(b, T_ARR);
    put_u32(b, T_STR);
    put_u64(b, 3);
    put_str(b, "<s>");
    put_str(b, "a");
    put_str(b, "");
    /* an array of arrays of u16: [[1, 2], []] */
    put_str(b, "t.nested");
    put_u32(b, T_ARR);
    put_u32(b, T_ARR);
    put_u64(b, 2);
    put_u32(b, T_U16);
    put_u64(b, 2);
    put_le(b, 1, 2);
    put_le(b, 2, 2);
    put_u32(b, T_U16);
    put_u64(b, 0);
    /* an array of i32 */
    put_str(b, "t.ints");
    put_u32(b, T_ARR);
    put_u32(b, T_I32);
    put_u64(b, 3);
    put_u32(b, 1);
    put_u32(b, 2);
    put_u32(b, 3);
    s->kv_end = b->n;
    tensor(b, "token_embd.weight", 2, dims_emb, 12, 0);
    tensor(b, "blk.0.attn_q.weight", 2, dims_w, 12, 256);
    tensor(b, "output_norm.weight", 1, dims_norm, 0, 512);
}

static void gguf_parses_v3_and_v2(void **state)
{
    (void)state;
    for (uint32_t v = 2; v <= 3; v++) {
        sample s;
        err e = {0};
        gguf_sample(&s, v, 15);
        json_t *j = format_parse_gguf(s.b.p, s.b.n, true, &e);
        assert_non_null(j);
        assert_string_equal(get_str(j, "format"), "gguf");
        assert_int_equal(get_int(j, "gguf_version"), v);
        assert_int_equal(get_int(j, "tensor_count"), 3);
        assert_string_equal(get_str(j, "architecture"), "llama");
        assert_string_equal(get_str(j, "quantization"), "Q4_K_M");
        assert_int_equal(get_int(j, "context_length"), 4096);
        assert_int_equal(get_int(j, "parameter_count"), 32 + 16 + 4);
        assert_string_equal(get_str(j, "name"), "Tiny Llama");
        json_decref(j);
        /* the same bytes as the first part of a larger file */
        j = format_parse_gguf(s.b.p, s.b.n, false, &e);
        assert_non_null(j);
        assert_int_equal(get_int(j, "parameter_count"), 52);
        json_decref(j);
        free(s.b.p);
    }
}

static void gguf_quantization_fallback(void **state)
{
    (void)state;
    static const struct {
        int64_t file_type;
        const char *want;
    } cases[] = {
        {-1, "Q4_K"},  /* no general.file_type: most tensors are Q4_K */
        {999, "Q4_K"}, /* unknown file_type */
        {0, "F32"},    {1, "F16"}, {7, "Q8_0"}, {18, "Q6_K"}, {32, "BF16"}, {38, "MXFP4_MOE"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        sample s;
        err e = {0};
        gguf_sample(&s, 3, cases[i].file_type);
        json_t *j = format_parse_gguf(s.b.p, s.b.n, true, &e);
        assert_non_null(j);
        assert_string_equal(get_str(j, "quantization"), cases[i].want);
        json_decref(j);
        free(s.b.p);
    }
}

static void gguf_minimal_and_odd_fields(void **state)
{
    (void)state;
    buf b = {0};
    err e = {0};
    /* no kv pairs, no tensors */
    gguf_start(&b, 3, 0, 0);
    json_t *j = format_parse_gguf(b.p, b.n, true, &e);
    assert_non_null(j);
    assert_int_equal(get_int(j, "parameter_count"), 0);
    assert_null(json_object_get(j, "architecture"));
    assert_null(json_object_get(j, "quantization"));
    assert_null(json_object_get(j, "context_length"));
    assert_null(json_object_get(j, "name"));
    json_decref(j);
    free(b.p);

    /* control bytes or bad UTF-8 in the architecture and name: left out, not an error; an
     * unknown (but plausible) ggml type, 0-dim and 8-dim tensors are accepted */
    memset(&b, 0, sizeof(b));
    static const uint64_t eight[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    gguf_start(&b, 3, 3, 3);
    kv_str(&b, "general.architecture", "lla\x1bma");
    kv_str(&b, "general.name", "bad \xc3\x28 utf8");
    kv_num(&b, "lla\x1bma.context_length", T_I32, 0xffffffff); /* negative */
    tensor(&b, "scalar", 0, NULL, 100, 0);
    tensor(&b, "cube", 8, eight, 100, 0);
    tensor(&b, "x", 1, eight, 200, 0);
    j = format_parse_gguf(b.p, b.n, true, &e);
    assert_non_null(j);
    assert_null(json_object_get(j, "architecture"));
    assert_null(json_object_get(j, "name"));
    assert_null(json_object_get(j, "context_length"));
    assert_null(json_object_get(j, "quantization")); /* type 100 has no name */
    assert_int_equal(get_int(j, "parameter_count"), 1 + 16 + 1);
    json_decref(j);
    free(b.p);
}

static void gguf_truncated_everywhere(void **state)
{
    (void)state;
    sample s;
    gguf_sample(&s, 3, 15);
    for (size_t k = 0; k <= s.b.n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, s.b.p, k);
        for (int complete = 0; complete <= 1; complete++) {
            err e = {0};
            json_t *j = format_parse_gguf(cut, k, complete, &e);
            if (k == s.b.n) {
                assert_non_null(j);
                assert_int_equal(get_int(j, "parameter_count"), 52);
            } else if (complete || k < 24) {
                if (j != NULL)
                    fail_msg("accepted a GGUF cut at %zu of %zu (complete=%d)", k, s.b.n, complete);
                expect_invalid(j, &e);
            } else {
                /* partial: what the kv pairs gave, never a parameter count */
                if (j == NULL)
                    fail_msg("rejected a GGUF prefix of %zu bytes: %s", k, e.detail);
                assert_int_equal(get_int(j, "tensor_count"), 3);
                assert_null(json_object_get(j, "parameter_count"));
                if (k >= s.kv_end) {
                    assert_string_equal(get_str(j, "architecture"), "llama");
                    assert_int_equal(get_int(j, "context_length"), 4096);
                    assert_string_equal(get_str(j, "quantization"), "Q4_K_M");
                    assert_string_equal(get_str(j, "name"), "Tiny Llama");
                }
            }
            json_decref(j);
        }
        free(cut);
    }
    free(s.b.p);
}

/* Parses b both as a whole file and as a prefix; both must fail with a 422. */
static void gguf_expect_invalid(buf *b, const char *what)
{
    for (int complete = 0; complete <= 1; complete++) {
        err e = {0};
        json_t *j = format_parse_gguf(b->p, b->n, complete, &e);
        if (j != NULL)
            fail_msg("accepted %s (complete=%d)", what, complete);
        expect_invalid(j, &e);
    }
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static void gguf_hostile_header(void **state)
{
    (void)state;
    buf b = {0};

    put(&b, "GGUG", 4);
    put_u32(&b, 3);
    put_u64(&b, 0);
    put_u64(&b, 0);
    gguf_expect_invalid(&b, "bad magic");

    for (uint32_t v = 0; v < 6; v++) {
        if (v == 2 || v == 3)
            continue;
        gguf_start(&b, v, 0, 0);
        gguf_expect_invalid(&b, "unsupported version");
    }
    gguf_start(&b, 0x03000000u, 0, 0); /* big-endian file */
    gguf_expect_invalid(&b, "big-endian version");

    gguf_start(&b, 3, 1000001, 0);
    gguf_expect_invalid(&b, "tensor_count 1,000,001");
    gguf_start(&b, 3, 0, 1000001);
    gguf_expect_invalid(&b, "kv_count 1,000,001");
    gguf_start(&b, 3, UINT64_MAX, UINT64_MAX);
    gguf_expect_invalid(&b, "u64 max counts");

    /* the limits themselves are fine when the bytes are not there and n is a prefix */
    gguf_start(&b, 3, 1000000, 1000000);
    err e = {0};
    json_t *j = format_parse_gguf(b.p, b.n, false, &e);
    assert_non_null(j);
    json_decref(j);
    free(b.p);
}

static void gguf_hostile_strings(void **state)
{
    (void)state;
    static const uint64_t lens[] = {UINT64_MAX, UINT64_MAX - 7, 1ull << 63, (1u << 20) + 1};
    buf b = {0};

    for (size_t i = 0; i < COUNT(lens); i++) {
        gguf_start(&b, 3, 0, 1);
        put_u64(&b, lens[i]); /* key length */
        put(&b, "general.name", 12);
        gguf_expect_invalid(&b, "huge key length");

        gguf_start(&b, 3, 0, 1);
        put_str(&b, "general.name");
        put_u32(&b, T_STR);
        put_u64(&b, lens[i]); /* value length */
        put(&b, "x", 1);
        gguf_expect_invalid(&b, "huge string length");

        gguf_start(&b, 3, 1, 0);
        put_u64(&b, lens[i]); /* tensor name length */
        put(&b, "w", 1);
        gguf_expect_invalid(&b, "huge tensor name length");
    }

    /* exactly 1 MiB is allowed */
    gguf_start(&b, 3, 0, 1);
    put_str(&b, "general.name");
    put_u32(&b, T_STR);
    put_u64(&b, 1u << 20);
    uint8_t *big = calloc(1, 1u << 20);
    memset(big, 'n', 1u << 20);
    put(&b, big, 1u << 20);
    free(big);
    err e = {0};
    json_t *j = format_parse_gguf(b.p, b.n, true, &e);
    assert_non_null(j);
    assert_null(json_object_get(j, "name")); /* too long to copy into metadata */
    json_decref(j);
    free(b.p);
}

static void gguf_hostile_arrays(void **state)
{
    (void)state;
    static const uint32_t etypes[] = {T_U8, T_U64, T_STR, T_ARR};
    buf b = {0};

    for (size_t i = 0; i < COUNT(etypes); i++) {
        gguf_start(&b, 3, 0, 1);
        put_str(&b, "t.arr");
        put_u32(&b, T_ARR);
        put_u32(&b, etypes[i]);
        put_u64(&b, UINT64_MAX);
        gguf_expect_invalid(&b, "u64 max array count");

        gguf_start(&b, 3, 0, 1);
        put_str(&b, "t.arr");
        put_u32(&b, T_ARR);
        put_u32(&b, etypes[i]);
        put_u64(&b, (16u << 20) + 1);
        gguf_expect_invalid(&b, "array count over 16M");

        /* within the limit but far more than the bytes left: an error for a whole file */
        gguf_start(&b, 3, 0, 1);
        put_str(&b, "t.arr");
        put_u32(&b, T_ARR);
        put_u32(&b, etypes[i]);
        put_u64(&b, 16u << 20);
        put_u64(&b, 0);
        err e = {0};
        expect_invalid(format_parse_gguf(b.p, b.n, true, &e), &e);
        err e2 = {0};
        json_t *j = format_parse_gguf(b.p, b.n, false, &e2); /* a prefix: partial */
        assert_non_null(j);
        json_decref(j);
        free(b.p);
        memset(&b, 0, sizeof(b));
    }

    /* unknown value and element types */
    gguf_start(&b, 3, 0, 1);
    put_str(&b, "t.x");
    put_u32(&b, 13);
    put_u64(&b, 0);
    gguf_expect_invalid(&b, "value type 13");
    gguf_start(&b, 3, 0, 1);
    put_str(&b, "t.x");
    put_u32(&b, UINT32_MAX);
    put_u64(&b, 0);
    gguf_expect_invalid(&b, "value type u32 max");
    gguf_start(&b, 3, 0, 1);
    put_str(&b, "t.x");
    put_u32(&b, T_ARR);
    put_u32(&b, 13);
    put_u64(&b, 0);
    gguf_expect_invalid(&b, "array element type 13");

    /* arrays of arrays: 4 levels pass, 5 fail, whatever the counts */
    for (int depth = 4; depth <= 6; depth++) {
        gguf_start(&b, 3, 0, 1);
        put_str(&b, "t.deep");
        put_u32(&b, T_ARR);
        for (int d = 1; d < depth; d++) {
            put_u32(&b, T_ARR);
            put_u64(&b, 1);
        }
        put_u32(&b, T_U8);
        put_u64(&b, 1);
        put(&b, "\x01", 1);
        if (depth <= 4) {
            err e = {0};
            json_t *j = format_parse_gguf(b.p, b.n, true, &e);
            if (j == NULL)
                fail_msg("rejected %d nested arrays: %s", depth, e.detail);
            json_decref(j);
            free(b.p);
            memset(&b, 0, sizeof(b));
        } else {
            gguf_expect_invalid(&b, "arrays nested too deep");
        }
    }
}

static void gguf_hostile_tensors(void **state)
{
    (void)state;
    static const uint64_t huge[] = {1ull << 32, 1ull << 32};
    static const uint64_t neg[] = {1ull << 63};
    static const uint64_t half[] = {1ull << 62};
    static const uint64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    buf b = {0};

    gguf_start(&b, 3, 1, 0);
    put_str(&b, "w");
    put_u32(&b, 200); /* n_dims 200 */
    for (int i = 0; i < 200; i++)
        put_u64(&b, 1);
    put_u32(&b, 0);
    put_u64(&b, 0);
    gguf_expect_invalid(&b, "n_dims 200");

    gguf_start(&b, 3, 1, 0);
    tensor(&b, "w", 9, nine, 0, 0);
    gguf_expect_invalid(&b, "n_dims 9");

    gguf_start(&b, 3, 1, 0);
    put_str(&b, "w");
    put_u32(&b, UINT32_MAX);
    gguf_expect_invalid(&b, "n_dims u32 max");

    gguf_start(&b, 3, 1, 0);
    tensor(&b, "w", 2, huge, 0, 0);
    gguf_expect_invalid(&b, "shape overflowing u64");

    gguf_start(&b, 3, 1, 0);
    tensor(&b, "w", 1, neg, 0, 0);
    gguf_expect_invalid(&b, "a dim past int64");

    gguf_start(&b, 3, 2, 0);
    tensor(&b, "a", 1, half, 0, 0);
    tensor(&b, "b", 1, half, 0, 0);
    gguf_expect_invalid(&b, "parameter count past int64");

    gguf_start(&b, 3, 1, 0);
    tensor(&b, "w", 1, half, UINT32_MAX, 0);
    gguf_expect_invalid(&b, "ggml type u32 max");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_of_path_table),
        cmocka_unit_test(media_type_table),
        cmocka_unit_test(size_category_boundaries),
        cmocka_unit_test(safetensors_parses_valid),
        cmocka_unit_test(safetensors_small_dtypes),
        cmocka_unit_test(safetensors_huge_but_consistent),
        cmocka_unit_test(safetensors_offsets_tile_the_data),
        cmocka_unit_test(safetensors_value_cap),
        cmocka_unit_test(safetensors_empty_header),
        cmocka_unit_test(safetensors_truncated_everywhere),
        cmocka_unit_test(safetensors_hostile_lengths),
        cmocka_unit_test(safetensors_hostile_headers),
        cmocka_unit_test(gguf_parses_v3_and_v2),
        cmocka_unit_test(gguf_quantization_fallback),
        cmocka_unit_test(gguf_minimal_and_odd_fields),
        cmocka_unit_test(gguf_truncated_everywhere),
        cmocka_unit_test(gguf_hostile_header),
        cmocka_unit_test(gguf_hostile_strings),
        cmocka_unit_test(gguf_hostile_arrays),
        cmocka_unit_test(gguf_hostile_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
