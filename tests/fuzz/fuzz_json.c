/*
 * fuzz_json.c: a JSON request body as the server decodes and validates it. This file includes
 * src/http/server.c, so parse_body() below is the server's own (content type, jansson flags,
 * the object check); then the body goes through api_check_body() with the field tables of
 * real routes (version create, org create, token create, upload session) and the checks their
 * handlers run next, and the error is rendered by api_error_body() as the response would be.
 * Invariants: a decoded body re-serialises and re-decodes equal; every 422 item survives into
 * the envelope with its whole loc (no item or loc element lost to a cut UTF-8 sequence); the
 * envelope always serialises.
 */
#include "../../src/http/server.c"

#include "core/name.h"
#include "fuzz.h"

static const char *json_ct(const api_call *c, const char *name)
{
    (void)c;
    return strcasecmp(name, "Content-Type") == 0 ? "application/json" : NULL;
}

static const field_spec version_fields[] = {
    {"version", F_STR, SEMVER_MAX, true},  {"summary", F_NSTR, 1024, false},
    {"changelog", F_NSTR, 65536, false},   {"framework", F_NSTR, 64, false},
    {"architecture", F_NSTR, 256, false},  {"base_model", F_NSTR, 256, false},
    {"metadata", F_OBJ, 65536, false},
};
static const field_spec org_fields[] = {{"slug", F_STR, 39, true},
                                        {"display_name", F_NSTR, 256, false}};
static const field_spec token_fields[] = {{"name", F_STR, 128, true},
                                          {"role", F_STR, 16, true},
                                          {"expires_in_days", F_INT, 3650, false}};
static const field_spec misc_fields[] = {{"tags", F_STRLIST, 64, false},
                                         {"public", F_BOOL, 0, false},
                                         {"packages", F_OBJLIST, 0, false},
                                         {"size", F_INT, 0, false}};

/* The envelope of e, checked against e itself. */
static void check_envelope(const err *e)
{
    json_t *b = api_error_body(e);
    FUZZ_CHECK(b != NULL);
    FUZZ_CHECK(json_integer_value(json_object_get(b, "code")) == err_status(e->kind));
    json_t *errs = json_object_get(b, "errors");
    if (e->kind == ERR_VALIDATION) {
        FUZZ_CHECK(json_is_array(errs) && json_array_size(errs) == e->nfields);
        for (size_t i = 0; i < e->nfields; i++) {
            size_t want = 0, most = sizeof(e->fields[i].loc) / sizeof(e->fields[i].loc[0]);
            while (want < most && e->fields[i].loc[want][0])
                want++;
            json_t *item = json_array_get(errs, i);
            FUZZ_CHECK(json_array_size(json_object_get(item, "loc")) == want);
            FUZZ_CHECK(json_is_string(json_object_get(item, "msg")));
        }
    }
    char *s = json_dumps(b, JSON_COMPACT);
    FUZZ_CHECK(s != NULL);
    free(s);
    json_decref(b);
}

static void validate(api_call *c, const field_spec *specs, size_t n, int which)
{
    err e = {0};
    if (api_check_body(c, specs, n, &e) == 0) {
        const char *s = api_body_str(c, specs[0].name);
        if (specs[0].required) /* a required string field is present after a pass */
            FUZZ_CHECK(s != NULL);
        if (which == 0 && !semver_is_valid(s, strlen(s)))
            err_field_add(&e, "body", "version", "value_error",
                          "'%.64s' is not a valid SemVer 2.0.0 version", s);
        if (which == 1 && !slug_is_valid(s, strlen(s)))
            err_field_add(&e, "body", "slug", "string_pattern_mismatch",
                          "String should match pattern '^[a-z0-9][a-z0-9-]{1,38}$'");
    } else {
        FUZZ_CHECK(e.kind == ERR_VALIDATION && e.nfields >= 1);
    }
    if (e.kind != ERR_NONE)
        check_envelope(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 20)
        return 0;
    req r;
    memset(&r, 0, sizeof(r));
    r.a = arena_create();
    r.call.a = r.a;
    r.call.method = "POST";
    r.call.header = json_ct;
    r.body = (char *)fuzz_strndup(data, size);
    r.body_len = size;
    err e = {0};
    int rc = parse_body(&r, &e);
    if (rc < 0) {
        FUZZ_CHECK(e.kind == ERR_INVALID || e.kind == ERR_VALIDATION);
        check_envelope(&e);
    } else if (r.call.body) {
        json_t *doc = r.call.body;
        FUZZ_CHECK(json_is_object(doc));
        char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        FUZZ_CHECK(s != NULL);
        json_t *again = json_loads(s, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
        FUZZ_CHECK(again && json_equal(doc, again));
        json_decref(again);
        free(s);
        validate(&r.call, version_fields, 7, 0);
        validate(&r.call, org_fields, 2, 1);
        validate(&r.call, token_fields, 3, 2);
        validate(&r.call, misc_fields, 4, 3);
    } else {
        FUZZ_CHECK(size == 0);
    }
    free(r.body);
    arena_free(r.a);
    return 0;
}
