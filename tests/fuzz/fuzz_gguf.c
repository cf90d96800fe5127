/*
 * fuzz_gguf.c: format_parse_gguf on the header of an uploaded .gguf file, whole (complete) and
 * as a prefix still arriving (!complete). Invariants: failure is a 422 at ["body", "file"]; a
 * complete parse that succeeds also succeeds incomplete on the same bytes with the same
 * version and tensor count; the summary's strings are valid UTF-8 (it serialises as JSON).
 */
#include "core/formats.h"
#include "fuzz.h"

static json_t *parse(const uint8_t *data, size_t size, bool complete)
{
    err e = {0};
    json_t *r = format_parse_gguf(data, size, complete, &e);
    if (!r) {
        FUZZ_CHECK(e.kind == ERR_VALIDATION && e.nfields >= 1);
        FUZZ_CHECK(strcmp(e.fields[0].loc[0], "body") == 0 &&
                   strcmp(e.fields[0].loc[1], "file") == 0);
        return NULL;
    }
    FUZZ_CHECK(e.kind == ERR_NONE && json_is_object(r));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(r, "format")), "gguf") == 0);
    json_int_t ver = json_integer_value(json_object_get(r, "gguf_version"));
    FUZZ_CHECK(ver == 2 || ver == 3);
    json_t *tc = json_object_get(r, "tensor_count");
    FUZZ_CHECK(json_is_integer(tc) && json_integer_value(tc) >= 0 &&
               json_integer_value(tc) <= GGUF_COUNT_MAX);
    json_t *pc = json_object_get(r, "parameter_count");
    if (complete)
        FUZZ_CHECK(json_is_integer(pc) && json_integer_value(pc) >= 0);
    char *txt = json_dumps(r, JSON_COMPACT);
    FUZZ_CHECK(txt != NULL);
    free(txt);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *whole = parse(data, size, true);
    json_t *part = parse(data, size, false);
    if (whole) {
        FUZZ_CHECK(part != NULL);
        FUZZ_CHECK(json_equal(json_object_get(whole, "gguf_version"),
                              json_object_get(part, "gguf_version")));
        FUZZ_CHECK(json_equal(json_object_get(whole, "tensor_count"),
                              json_object_get(part, "tensor_count")));
    }
    json_decref(whole);
    json_decref(part);
    return 0;
}
