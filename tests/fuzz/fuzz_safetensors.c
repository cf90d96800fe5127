/*
 * fuzz_safetensors.c: format_parse_safetensors on the first bytes of an uploaded .safetensors
 * file. Invariants: success gives the documented summary (header_bytes is the file's own
 * length prefix and fits in the input, counts are non-negative and the dtypes add up to
 * tensor_count) that serialises as JSON; failure is a 422 at ["body", "file"].
 */
#include "core/formats.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err e = {0};
    json_t *r = format_parse_safetensors(data, size, size, &e);
    if (!r) {
        FUZZ_CHECK(e.kind == ERR_VALIDATION && e.nfields >= 1);
        FUZZ_CHECK(strcmp(e.fields[0].loc[0], "body") == 0 &&
                   strcmp(e.fields[0].loc[1], "file") == 0);
        return 0;
    }
    FUZZ_CHECK(e.kind == ERR_NONE);
    FUZZ_CHECK(json_is_object(r));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(r, "format")), "safetensors") == 0);
    FUZZ_CHECK(size >= 8);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | data[i];
    json_t *hb = json_object_get(r, "header_bytes");
    FUZZ_CHECK(json_is_integer(hb) && (uint64_t)json_integer_value(hb) == h && h <= size - 8);
    json_t *tc = json_object_get(r, "tensor_count");
    FUZZ_CHECK(json_is_integer(tc) && json_integer_value(tc) >= 0);
    json_t *pc = json_object_get(r, "parameter_count");
    FUZZ_CHECK(json_is_integer(pc) && json_integer_value(pc) >= 0);
    json_t *dt = json_object_get(r, "dtypes");
    FUZZ_CHECK(json_is_object(dt));
    const char *k;
    json_t *v;
    json_int_t sum = 0;
    json_object_foreach(dt, k, v)
    {
        FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) > 0);
        sum += json_integer_value(v);
    }
    FUZZ_CHECK(sum == json_integer_value(tc));
    char *txt = json_dumps(r, JSON_COMPACT);
    FUZZ_CHECK(txt != NULL);
    free(txt);
    json_decref(r);
    return 0;
}
