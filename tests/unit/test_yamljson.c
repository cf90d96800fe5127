/*
 * test_yamljson.c: yaml_to_json typing, structure, limits and error messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/yamljson.h"

/* Parses a NUL-terminated document that must be valid. */
static json_t *parse_ok(const char *s)
{
    char errbuf[256] = "";
    json_t *v = yaml_to_json(s, strlen(s), errbuf, sizeof errbuf);

    if (v == NULL)
        fail_msg("unexpected error: %s", errbuf);
    assert_string_equal(errbuf, "");
    return v;
}

/* Parses a document that must be rejected; the message starts with "yaml: " and contains want. */
static void parse_fails(const char *s, size_t n, const char *want)
{
    char errbuf[256];
    json_t *v = yaml_to_json(s, n, errbuf, sizeof errbuf);

    if (v != NULL) {
        json_decref(v);
        fail_msg("expected an error containing \"%s\"", want);
    }
    assert_int_equal(strncmp(errbuf, "yaml: ", 6), 0);
    assert_null(strchr(errbuf, '\n'));
    if (strstr(errbuf, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", errbuf, want);
}

/* For literals, which may hold NUL bytes. */
#define FAILS(lit, want) parse_fails(lit, sizeof(lit) - 1, want)

static const char *str_at(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

static void plain_scalars_are_typed_by_core_schema(void **state)
{
    json_t *v;
    (void)state;

    v = parse_ok("n1: null\nn2: ~\nn3:\nn4: NULL\n"
                 "b1: true\nb2: False\nb3: FALSE\n"
                 "i1: 42\ni2: -17\ni3: +5\ni4: 0x1F\ni5: 0o17\ni6: 007\n"
                 "f1: 3.5\nf2: -.5\nf3: 1e3\nf4: 2.E-2\nf5: 1.\n"
                 "big: 99999999999999999999\n"
                 "s1: hello world\ns2: yes\ns3: 1.0.0\ns4: .inf\ns5: .NaN\ns6: 0x\ns7: -0x1\n"
                 "s8: 1e\ns9: 0o9\ns10: 12:30\n");
    assert_true(json_is_object(v));
    assert_true(json_is_null(json_object_get(v, "n1")));
    assert_true(json_is_null(json_object_get(v, "n2")));
    assert_true(json_is_null(json_object_get(v, "n3")));
    assert_true(json_is_null(json_object_get(v, "n4")));
    assert_true(json_is_true(json_object_get(v, "b1")));
    assert_true(json_is_false(json_object_get(v, "b2")));
    assert_true(json_is_false(json_object_get(v, "b3")));
    assert_int_equal(json_integer_value(json_object_get(v, "i1")), 42);
    assert_int_equal(json_integer_value(json_object_get(v, "i2")), -17);
    assert_int_equal(json_integer_value(json_object_get(v, "i3")), 5);
    assert_int_equal(json_integer_value(json_object_get(v, "i4")), 31);
    assert_int_equal(json_integer_value(json_object_get(v, "i5")), 15);
    assert_int_equal(json_integer_value(json_object_get(v, "i6")), 7);
    assert_true(json_is_integer(json_object_get(v, "i6")));
    assert_true(json_is_real(json_object_get(v, "f1")));
    assert_true(json_real_value(json_object_get(v, "f1")) == 3.5);
    assert_true(json_real_value(json_object_get(v, "f2")) == -0.5);
    assert_true(json_real_value(json_object_get(v, "f3")) == 1000.0);
    assert_true(json_real_value(json_object_get(v, "f4")) == 0.02);
    assert_true(json_real_value(json_object_get(v, "f5")) == 1.0);
    assert_true(json_is_real(json_object_get(v, "big")));
    assert_string_equal(str_at(v, "s1"), "hello world");
    assert_string_equal(str_at(v, "s2"), "yes");
    assert_string_equal(str_at(v, "s3"), "1.0.0");
    assert_string_equal(str_at(v, "s4"), ".inf");
    assert_string_equal(str_at(v, "s5"), ".NaN");
    assert_string_equal(str_at(v, "s6"), "0x");
    assert_string_equal(str_at(v, "s7"), "-0x1");
    assert_string_equal(str_at(v, "s8"), "1e");
    assert_string_equal(str_at(v, "s9"), "0o9");
    assert_string_equal(str_at(v, "s10"), "12:30");
    json_decref(v);
}

static void quoted_and_tagged_scalars_stay_strings(void **state)
{
    json_t *v;
    (void)state;

    v = parse_ok("a: \"true\"\nb: '42'\nc: \"\"\nd: 'null'\ne: !!str 3.5\nf: \"a\\tb\\u00e9\"\n"
                 "g: 'it''s'\nh: \"x\\0y\"\ni: !!int 7\n");
    assert_string_equal(str_at(v, "a"), "true");
    assert_string_equal(str_at(v, "b"), "42");
    assert_string_equal(str_at(v, "c"), "");
    assert_string_equal(str_at(v, "d"), "null");
    assert_string_equal(str_at(v, "e"), "3.5");
    assert_string_equal(str_at(v, "f"), "a\tb\xc3\xa9");
    assert_string_equal(str_at(v, "g"), "it's");
    assert_int_equal(json_string_length(json_object_get(v, "h")), 3);
    assert_memory_equal(json_string_value(json_object_get(v, "h")), "x\0y", 3);
    assert_int_equal(json_integer_value(json_object_get(v, "i")), 7);
    json_decref(v);
}

static void top_level_scalars_and_empty_input(void **state)
{
    json_t *v;
    (void)state;

    v = parse_ok("42");
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);
    v = parse_ok("\"42\"\n");
    assert_string_equal(json_string_value(v), "42");
    json_decref(v);
    v = parse_ok("");
    assert_true(json_is_null(v));
    json_decref(v);
    v = parse_ok("# only a comment\n");
    assert_true(json_is_null(v));
    json_decref(v);
    v = yaml_to_json(NULL, 0, NULL, 0);
    assert_true(json_is_null(v));
    json_decref(v);
    v = parse_ok("---\nplain\n...\n");
    assert_string_equal(json_string_value(v), "plain");
    json_decref(v);
}

static void mapping_keys_are_always_strings(void **state)
{
    json_t *v;
    (void)state;

    v = parse_ok("200: ok\ntrue: t\n~: n\n1.5: f\n\"q\": x\n");
    assert_int_equal(json_object_size(v), 5);
    assert_string_equal(str_at(v, "200"), "ok");
    assert_string_equal(str_at(v, "true"), "t");
    assert_string_equal(str_at(v, "~"), "n");
    assert_string_equal(str_at(v, "1.5"), "f");
    assert_string_equal(str_at(v, "q"), "x");
    json_decref(v);
}

static void nested_block_mappings_and_sequences(void **state)
{
    json_t *v, *want;
    (void)state;

    v = parse_ok("model:\n"
                 "  name: bert\n"
                 "  layers:\n"
                 "    - id: 0\n"
                 "      heads: [12]\n"
                 "    - id: 1\n"
                 "      heads: []\n"
                 "  empty: {}\n"
                 "list:\n"
                 "- a\n"
                 "- - b\n"
                 "  - c\n"
                 "-\n"
                 "- k: v\n");
    want = json_pack("{s:{s:s, s:[{s:i, s:[i]}, {s:i, s:[]}], s:{}}, s:[s, [s, s], n, {s:s}]}",
                     "model", "name", "bert", "layers", "id", 0, "heads", 12, "id", 1, "heads",
                     "empty", "list", "a", "b", "c", "k", "v");
    assert_non_null(want);
    assert_true(json_equal(v, want));
    json_decref(want);
    json_decref(v);
}

static void flow_style(void **state)
{
    json_t *v, *want;
    (void)state;

    v = parse_ok("{a: [1, 2.5, {b: c}], \"d\": 'x', e: [], f: {}, g: [true, null, ~]}");
    want = json_pack("{s:[i, f, {s:s}], s:s, s:[], s:{}, s:[b, n, n]}", "a", 1, 2.5, "b", "c", "d",
                     "x", "e", "f", "g", 1);
    assert_non_null(want);
    assert_true(json_equal(v, want));
    json_decref(want);
    json_decref(v);

    v = parse_ok("[a, [b, [c]], {k: [1, 2]}]\n");
    want = json_pack("[s, [s, [s]], {s:[i, i]}]", "a", "b", "c", "k", 1, 2);
    assert_true(json_equal(v, want));
    json_decref(want);
    json_decref(v);
}

static void block_literal_and_folded_strings(void **state)
{
    json_t *v;
    (void)state;

    v = parse_ok("lit: |\n"
                 "  line one\n"
                 "    indented: not a key\n"
                 "  line three\n"
                 "strip: |-\n"
                 "  no newline\n"
                 "folded: >\n"
                 "  folded\n"
                 "  text\n"
                 "\n"
                 "  para\n"
                 "multi: plain scalar\n"
                 "  continued\n"
                 "dq: \"first\n"
                 "  second\"\n");
    assert_string_equal(str_at(v, "lit"), "line one\n  indented: not a key\nline three\n");
    assert_string_equal(str_at(v, "strip"), "no newline");
    assert_string_equal(str_at(v, "folded"), "folded text\npara\n");
    assert_string_equal(str_at(v, "multi"), "plain scalar continued");
    assert_string_equal(str_at(v, "dq"), "first second");
    json_decref(v);
}

static void crlf_line_endings(void **state)
{
    json_t *v;
    (void)state;

    v = parse_ok("a: 1\r\nb:\r\n  - x\r\n  - y\r\nc: |\r\n  t\r\n");
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    assert_int_equal(json_array_size(json_object_get(v, "b")), 2);
    assert_string_equal(str_at(v, "c"), "t\n");
    json_decref(v);
}

/* Builds "[[[...]]]" nested depth deep; the caller frees it. */
static char *flow_nest(size_t depth)
{
    char *s = malloc(2 * depth + 1);

    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

static void depth_limit(void **state)
{
    char *s;
    json_t *v;
    (void)state;

    s = flow_nest(YAMLJSON_MAX_DEPTH);
    v = parse_ok(s);
    assert_true(json_is_array(v));
    json_decref(v);
    free(s);

    s = flow_nest(YAMLJSON_MAX_DEPTH + 1);
    parse_fails(s, strlen(s), "nesting depth exceeds 64");
    free(s);

    s = flow_nest(100000);
    parse_fails(s, strlen(s), "nesting depth");
    free(s);

    /* Block style: a mapping 65 deep, keys open while the error is raised. */
    {
        char buf[8192];
        size_t off = 0;

        for (int i = 0; i <= YAMLJSON_MAX_DEPTH; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%*sk%d:\n", i, "", i);
        snprintf(buf + off, sizeof buf - off, "%*sleaf\n", YAMLJSON_MAX_DEPTH + 1, "");
        parse_fails(buf, strlen(buf), "nesting depth");
    }
}

static void node_and_size_limits(void **state)
{
    size_t count = YAMLJSON_MAX_NODES - 1; /* plus the sequence itself: exactly the limit */
    char *s = malloc(2 * (count + 1) + 2);
    size_t off = 0;
    json_t *v;
    (void)state;

    assert_non_null(s);
    s[off++] = '[';
    for (size_t i = 0; i < count; i++) {
        s[off++] = '1';
        s[off++] = ',';
    }
    s[off - 1] = ']';
    s[off] = '\0';
    v = parse_ok(s);
    assert_int_equal(json_array_size(v), count);
    json_decref(v);

    s[off - 1] = ',';
    s[off++] = '1';
    s[off++] = ']';
    s[off] = '\0';
    parse_fails(s, off, "more than 100000 nodes");
    free(s);

    s = malloc(YAMLJSON_MAX_INPUT + 1);
    assert_non_null(s);
    memset(s, 'a', YAMLJSON_MAX_INPUT + 1);
    parse_fails(s, YAMLJSON_MAX_INPUT + 1, "limit");
    free(s);
}

static void malformed_input_gives_a_message(void **state)
{
    char errbuf[256];
    (void)state;

    FAILS("a: b: c\n", "yaml: line 1: mapping values are not allowed");
    assert_null(yaml_to_json("a: 1\nb: 2\nc: d: e\n", 18, errbuf, sizeof errbuf));
    assert_string_equal(errbuf, "yaml: line 3: mapping values are not allowed in this context");
    FAILS("[1, 2\n", "yaml: line ");
    FAILS("{a: 1\n", "yaml: line ");
    FAILS("a:\n\t- b\n", "yaml: line 2: ");
    FAILS("a: \"unterminated\n", "yaml: line ");
    FAILS("- a\nb: c\n", "yaml: line 2: ");
    FAILS("a: 1\na: 2\n", "yaml: line 2: duplicate mapping key \"a\"");
    FAILS("a: &x 1\nb: *x\n", "aliases are not supported");
    FAILS("? [a]\n: b\n", "mapping keys must be scalars");
    FAILS("? {a: 1}\n: b\n", "mapping keys must be scalars");
    FAILS("a: 1\n---\nb: 2\n", "expected a single document");
    FAILS("\"a\\0b\": 1\n", "NUL");
    FAILS("a: \xff\xfe\n", "yaml: byte ");
    FAILS("a: b\0c\n", "yaml: ");
    FAILS("\"\\ud800\"", "yaml: line 1: ");
}

static void error_buffer_is_bounded(void **state)
{
    char buf[16];
    json_t *v;
    (void)state;

    memset(buf, 'X', sizeof buf);
    v = yaml_to_json("a: b: c", 7, buf, 8);
    assert_null(v);
    assert_int_equal(strlen(buf), 7);
    assert_memory_equal(buf, "yaml: l", 7);
    assert_int_equal(buf[8], 'X');

    assert_null(yaml_to_json("a: b: c", 7, NULL, 0));
    buf[0] = 'X';
    assert_null(yaml_to_json("a: b: c", 7, buf, 0));
    assert_int_equal(buf[0], 'X');
    assert_null(yaml_to_json("a: b: c", 7, buf, 1));
    assert_int_equal(buf[0], '\0');

    /* A good parse clears a stale message. */
    strcpy(buf, "stale");
    v = yaml_to_json("a: 1", 4, buf, sizeof buf);
    assert_non_null(v);
    assert_string_equal(buf, "");
    json_decref(v);
}

static void duplicate_key_message_is_one_printable_line(void **state)
{
    char errbuf[256];
    (void)state;

    static const char doc[] = "\"a\\nb\\u00e9\": 1\n\"a\\nb\\u00e9\": 2\n";

    assert_null(yaml_to_json(doc, sizeof doc - 1, errbuf, sizeof errbuf));
    assert_string_equal(errbuf, "yaml: line 2: duplicate mapping key \"a?b??\"");
}

static void openapi_like_document(void **state)
{
    static const char doc[] =
        "openapi: 3.1.0\n"
        "info:\n"
        "  title: cairn model registry\n"
        "  version: \"0.1.0\"\n"
        "  description: |\n"
        "    Stores models, versions and their files.\n"
        "\n"
        "    Errors follow RFC 9457 (`application/problem+json`).\n"
        "  license:\n"
        "    name: Apache-2.0\n"
        "servers:\n"
        "  - url: http://localhost:8080/v1\n"
        "tags: [{name: models}, {name: blobs}]\n"
        "paths:\n"
        "  /models/{org}/{name}:\n"
        "    get:\n"
        "      operationId: getModel\n"
        "      summary: Fetch one model\n"
        "      security: []\n"
        "      parameters:\n"
        "        - $ref: '#/components/parameters/Org'\n"
        "        - name: name\n"
        "          in: path\n"
        "          required: true\n"
        "          schema: {type: string, pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', maxLength: 64}\n"
        "      responses:\n"
        "        '200':\n"
        "          description: The model.\n"
        "          content:\n"
        "            application/json:\n"
        "              schema:\n"
        "                $ref: \"#/components/schemas/Model\"\n"
        "        404:\n"
        "          $ref: '#/components/responses/NotFound'\n"
        "components:\n"
        "  schemas:\n"
        "    Model:\n"
        "      type: object\n"
        "      required: [org, name]\n"
        "      properties:\n"
        "        org: {type: string}\n"
        "        downloads: {type: integer, minimum: 0, example: 1200}\n"
        "        score: {type: [number, 'null'], example: 0.93}\n"
        "        private:\n"
        "          type: boolean\n"
        "          default: false\n"
        "      additionalProperties: false\n";
    json_t *v, *get, *param, *schema, *model;
    (void)state;

    v = parse_ok(doc);
    assert_string_equal(str_at(v, "openapi"), "3.1.0");
    assert_string_equal(str_at(json_object_get(v, "info"), "version"), "0.1.0");
    assert_string_equal(str_at(json_object_get(v, "info"), "description"),
                        "Stores models, versions and their files.\n\n"
                        "Errors follow RFC 9457 (`application/problem+json`).\n");
    assert_int_equal(json_array_size(json_object_get(v, "tags")), 2);
    get = json_object_get(json_object_get(json_object_get(v, "paths"), "/models/{org}/{name}"),
                          "get");
    assert_non_null(get);
    assert_int_equal(json_array_size(json_object_get(get, "security")), 0);
    param = json_array_get(json_object_get(get, "parameters"), 0);
    assert_string_equal(str_at(param, "$ref"), "#/components/parameters/Org");
    param = json_array_get(json_object_get(get, "parameters"), 1);
    assert_true(json_is_true(json_object_get(param, "required")));
    schema = json_object_get(param, "schema");
    assert_string_equal(str_at(schema, "pattern"), "^[a-z0-9][a-z0-9._-]{0,63}$");
    assert_int_equal(json_integer_value(json_object_get(schema, "maxLength")), 64);
    assert_non_null(json_object_get(json_object_get(get, "responses"), "200"));
    assert_string_equal(str_at(json_object_get(json_object_get(get, "responses"), "404"), "$ref"),
                        "#/components/responses/NotFound");
    model = json_object_get(json_object_get(json_object_get(v, "components"), "schemas"), "Model");
    assert_true(json_is_false(json_object_get(model, "additionalProperties")));
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_object_get(json_object_get(model, "properties"), "score"), "type"),
            1)),
        "null");
    assert_true(json_is_false(json_object_get(
        json_object_get(json_object_get(model, "properties"), "private"), "default")));
    json_decref(v);
}

/* Random YAML-ish bytes must give a value or an error, never a crash or a leak. */
static void random_inputs_do_not_crash(void **state)
{
    static const char alphabet[] = "ab01-:[]{},?&*!|>'\"#\n \t\\.~%@`\r\x80\xc3\xa9";
    uint32_t seed = 12345;
    char buf[256];
    char errbuf[128];
    (void)state;

    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(iter % 200);
        json_t *v;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        v = yaml_to_json(buf, n, errbuf, sizeof errbuf);
        if (v == NULL)
            assert_int_equal(strncmp(errbuf, "yaml: ", 6), 0);
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_scalars_are_typed_by_core_schema),
        cmocka_unit_test(quoted_and_tagged_scalars_stay_strings),
        cmocka_unit_test(top_level_scalars_and_empty_input),
        cmocka_unit_test(mapping_keys_are_always_strings),
        cmocka_unit_test(nested_block_mappings_and_sequences),
        cmocka_unit_test(flow_style),
        cmocka_unit_test(block_literal_and_folded_strings),
        cmocka_unit_test(crlf_line_endings),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(node_and_size_limits),
        cmocka_unit_test(malformed_input_gives_a_message),
        cmocka_unit_test(error_buffer_is_bounded),
        cmocka_unit_test(duplicate_key_message_is_one_printable_line),
        cmocka_unit_test(openapi_like_document),
        cmocka_unit_test(random_inputs_do_not_crash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
