/*
 * fuzz_capability.c: capability_parse on an uploaded capability.json. Invariants: success gives
 * arrays of keywords (strings) and components (objects with a name and one of the five types)
 * and a string or no description; failure is a 422 at ["body", "capability.json"] and sets no
 * output; nothing leaks either way (LeakSanitizer).
 */
#include "core/capability.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *kw = NULL, *comps = NULL, *desc = NULL;
    err e = {0};
    int rc = capability_parse(&kw, &comps, &desc, (const char *)data, size, &e);
    if (rc < 0) {
        FUZZ_CHECK(rc == -1 && e.kind == ERR_VALIDATION && e.nfields >= 1);
        FUZZ_CHECK(strcmp(e.fields[0].loc[0], "body") == 0 &&
                   strcmp(e.fields[0].loc[1], CAPABILITY_MANIFEST) == 0);
        FUZZ_CHECK(!kw && !comps && !desc);
        return 0;
    }
    FUZZ_CHECK(rc == 0 && e.kind == ERR_NONE);
    FUZZ_CHECK(json_is_array(kw) && json_is_array(comps));
    FUZZ_CHECK(!desc || json_is_string(desc));
    size_t i;
    json_t *x;
    json_array_foreach(kw, i, x) FUZZ_CHECK(json_is_string(x));
    json_array_foreach(comps, i, x)
    {
        FUZZ_CHECK(json_is_object(x));
        FUZZ_CHECK(json_is_string(json_object_get(x, "name")));
        const char *t = json_string_value(json_object_get(x, "type"));
        FUZZ_CHECK(t && (!strcmp(t, "agent") || !strcmp(t, "tool") || !strcmp(t, "skill") ||
                         !strcmp(t, "mcp_server") || !strcmp(t, "worker")));
    }
    json_decref(kw);
    json_decref(comps);
    json_decref(desc);
    return 0;
}
