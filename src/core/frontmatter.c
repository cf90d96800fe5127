/*
 * frontmatter.c: model-card front matter, found between "---" fences and parsed by yamljson.
 */
#include "core/frontmatter.h"

#include <stdbool.h>
#include <string.h>

#include "core/yamljson.h"

/* True when the line p[0..len) (without its '\n') is fence, optionally followed by '\r'. */
static bool line_is(const char *p, size_t len, const char *fence)
{
    if (len > 0 && p[len - 1] == '\r')
        len--;
    return len == 3 && memcmp(p, fence, 3) == 0;
}

/*
 * Finds the fences: the YAML is md[*yaml_off..*yaml_end), the body starts at *body. False when
 * the card has no front matter or the closing fence is missing.
 */
static bool find_fences(const char *md, size_t n, size_t *yaml_off, size_t *yaml_end, size_t *body)
{
    const char *nl;
    size_t pos, len;

    if (md == NULL || n < 4)
        return false;
    nl = memchr(md, '\n', n);
    if (nl == NULL || !line_is(md, (size_t)(nl - md), "---"))
        return false;
    pos = (size_t)(nl - md) + 1;
    *yaml_off = pos;
    while (pos < n) {
        nl = memchr(md + pos, '\n', n - pos);
        len = nl != NULL ? (size_t)(nl - (md + pos)) : n - pos;
        if (line_is(md + pos, len, "---") || line_is(md + pos, len, "...")) {
            *yaml_end = pos;
            *body = nl != NULL ? pos + len + 1 : n;
            return true;
        }
        pos += len + 1;
    }
    return false;
}

/* Copies doc[key] into out when it is a string. */
static int take_string(json_t *out, const json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);

    if (!json_is_string(v))
        return 0;
    return json_object_set(out, key, v);
}

/* Copies doc[key] into out as an array of its string elements; a string when scalar_ok. */
static int take_strings(json_t *out, const json_t *doc, const char *key, bool scalar_ok)
{
    json_t *v = json_object_get(doc, key);
    json_t *arr = NULL;
    json_t *elem;
    size_t i;
    int rc = -1;

    if (!json_is_array(v) && !(scalar_ok && json_is_string(v)))
        return 0;
    arr = json_array();
    if (arr == NULL)
        goto out;
    if (json_is_string(v)) {
        if (json_array_append(arr, v) < 0)
            goto out;
    } else {
        json_array_foreach(v, i, elem)
        {
            if (json_is_string(elem) && json_array_append(arr, elem) < 0)
                goto out;
        }
    }
    rc = json_object_set(out, key, arr);

out:
    json_decref(arr);
    return rc;
}

/* Copies base_model: a string, or the first element of a list when that is a string. */
static int take_base_model(json_t *out, const json_t *doc)
{
    json_t *v = json_object_get(doc, "base_model");

    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (!json_is_string(v))
        return 0;
    return json_object_set(out, "base_model", v);
}

json_t *frontmatter_parse(const char *md, size_t n, size_t *body_off)
{
    json_t *out = NULL;
    json_t *doc = NULL;
    size_t yaml_off = 0, yaml_end = 0, body = 0;
    char errbuf[160];

    if (body_off != NULL)
        *body_off = 0;
    out = json_object();
    if (out == NULL || !find_fences(md, n, &yaml_off, &yaml_end, &body))
        goto out;
    if (body_off != NULL)
        *body_off = body;

    /* The reason is dropped: a card with bad front matter is still stored, without metadata. */
    doc = yaml_to_json(md + yaml_off, yaml_end - yaml_off, errbuf, sizeof errbuf);
    if (!json_is_object(doc))
        goto out;
    if (take_string(out, doc, "license") < 0 || take_strings(out, doc, "tags", false) < 0 ||
        take_strings(out, doc, "language", true) < 0 || take_string(out, doc, "pipeline_tag") < 0 ||
        take_base_model(out, doc) < 0 || take_string(out, doc, "library_name") < 0) {
        json_decref(out);
        out = NULL;
    }

out:
    json_decref(doc);
    return out;
}
