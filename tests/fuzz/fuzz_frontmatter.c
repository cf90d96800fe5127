/*
 * fuzz_frontmatter.c: a model card's YAML front matter (frontmatter_parse, and yaml_to_json
 * under it) on uploaded README.md bytes. Invariants: the result is never NULL (no OOM here),
 * holds only the recognised keys with their documented types, the body offset lies within the
 * input (0 without front matter) and starts after a closing fence; yaml_to_json either fails
 * with a one-line reason or gives a value that serialises as JSON.
 */
#include "core/frontmatter.h"
#include "core/yamljson.h"
#include "fuzz.h"

static bool strlist(const json_t *v)
{
    size_t i;
    json_t *x;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, x) if (!json_is_string(x)) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *md = (const char *)data;
    size_t off = 12345;
    json_t *fm = frontmatter_parse(md, size, &off);
    FUZZ_CHECK(fm && json_is_object(fm));
    FUZZ_CHECK(off <= size);
    if (off > 0) {
        FUZZ_CHECK(size >= 3 && memcmp(md, "---", 3) == 0);
        /* the closing fence's line ends right before the body */
        FUZZ_CHECK(off == size || md[off - 1] == '\n');
    } else {
        FUZZ_CHECK(json_object_size(fm) == 0);
    }
    const char *k;
    json_t *v;
    json_object_foreach(fm, k, v)
    {
        if (!strcmp(k, "license") || !strcmp(k, "pipeline_tag") || !strcmp(k, "library_name") ||
            !strcmp(k, "base_model"))
            FUZZ_CHECK(json_is_string(v));
        else if (!strcmp(k, "tags") || !strcmp(k, "language"))
            FUZZ_CHECK(strlist(v));
        else
            FUZZ_CHECK(!"unrecognised key in front matter");
    }
    char *txt = json_dumps(fm, JSON_COMPACT);
    FUZZ_CHECK(txt != NULL);
    free(txt);
    json_decref(fm);

    char why[128] = "";
    json_t *y = yaml_to_json(md, size, why, sizeof(why));
    if (!y) {
        FUZZ_CHECK(why[0] != '\0' && strlen(why) < sizeof(why) && !strchr(why, '\n'));
    } else {
        char *t = json_dumps(y, JSON_COMPACT | JSON_ENCODE_ANY);
        FUZZ_CHECK(t != NULL);
        free(t);
        json_decref(y);
    }
    return 0;
}
