/*
 * test_frontmatter.c: model-card front matter, its normalisation and hostile cards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/frontmatter.h"

/* Parses a NUL-terminated card; compares the result with the JSON text want. */
static void check(const char *md, const char *want, size_t want_body)
{
    size_t body = 12345;
    json_t *got = frontmatter_parse(md, strlen(md), &body);
    json_t *expect = json_loads(want, 0, NULL);

    assert_non_null(got);
    assert_non_null(expect);
    if (!json_equal(got, expect)) {
        char dump[512];
        size_t k = json_dumpb(got, dump, sizeof dump - 1, JSON_SORT_KEYS);

        dump[k < sizeof dump ? k : sizeof dump - 1] = '\0';
        fail_msg("got %s, want %s", dump, want);
    }
    assert_int_equal(body, want_body);
    json_decref(expect);
    json_decref(got);
}

/* The offset of the first occurrence of needle in md. */
static size_t offset_of(const char *md, const char *needle)
{
    const char *p = strstr(md, needle);

    assert_non_null(p);
    return (size_t)(p - md);
}

static void hugging_face_card(void **state)
{
    static const char md[] = "---\n"
                             "language:\n"
                             "- en\n"
                             "- fr\n"
                             "license: apache-2.0\n"
                             "library_name: transformers\n"
                             "tags:\n"
                             "- text-classification\n"
                             "- \"bert\"\n"
                             "datasets:\n"
                             "- glue\n"
                             "metrics: [accuracy]\n"
                             "pipeline_tag: text-classification\n"
                             "base_model: google-bert/bert-base-uncased\n"
                             "widget:\n"
                             "- text: \"I love this\"\n"
                             "model-index:\n"
                             "- name: bert-sst2\n"
                             "  results:\n"
                             "  - task: {type: text-classification}\n"
                             "    metrics:\n"
                             "    - {type: accuracy, value: 0.93}\n"
                             "---\n"
                             "\n"
                             "# bert-sst2\n"
                             "\n"
                             "A --- in the body is fine.\n"
                             "---\n";
    (void)state;

    check(md,
          "{\"language\": [\"en\", \"fr\"], \"license\": \"apache-2.0\","
          " \"library_name\": \"transformers\", \"tags\": [\"text-classification\", \"bert\"],"
          " \"pipeline_tag\": \"text-classification\","
          " \"base_model\": \"google-bert/bert-base-uncased\"}",
          offset_of(md, "\n# bert-sst2"));
}

static void no_front_matter(void **state)
{
    size_t body = 99;
    json_t *got;
    (void)state;

    check("# Title\n\n---\nlicense: mit\n---\n", "{}", 0);
    check("", "{}", 0);
    check("---", "{}", 0);
    check("---\n", "{}", 0);
    check("----\nlicense: mit\n---\n", "{}", 0);
    check("--- \nlicense: mit\n---\n", "{}", 0);
    check(" ---\nlicense: mit\n---\n", "{}", 0);
    check("\n---\nlicense: mit\n---\n", "{}", 0);
    check("\xef\xbb\xbf---\nlicense: mit\n---\n", "{}", 0);
    got = frontmatter_parse(NULL, 0, &body);
    assert_non_null(got);
    assert_int_equal(json_object_size(got), 0);
    assert_int_equal(body, 0);
    json_decref(got);
}

static void unterminated_fence_is_no_front_matter(void **state)
{
    (void)state;

    check("---\nlicense: mit\n# Title\n", "{}", 0);
    check("---\nlicense: mit\n----\n", "{}", 0);
    check("---\nlicense: mit\n --- \n", "{}", 0);
    check("---\nlicense: mit", "{}", 0);
}

static void closing_fences(void **state)
{
    static const char dots[] = "---\nlicense: mit\n...\nbody\n";
    static const char at_eof[] = "---\nlicense: mit\n---";
    static const char at_eof_cr[] = "---\nlicense: mit\n---\r";
    static const char empty[] = "---\n---\nbody";
    (void)state;

    check(dots, "{\"license\": \"mit\"}", offset_of(dots, "body"));
    check(at_eof, "{\"license\": \"mit\"}", sizeof at_eof - 1);
    check(at_eof_cr, "{\"license\": \"mit\"}", sizeof at_eof_cr - 1);
    check(empty, "{}", offset_of(empty, "body"));
    /* The first closing line ends the front matter. */
    check("---\nlicense: mit\n---\ntags: [a]\n---\n", "{\"license\": \"mit\"}", 21);
}

static void crlf_line_endings(void **state)
{
    static const char md[] = "---\r\n"
                             "license: mit\r\n"
                             "tags:\r\n"
                             "- a\r\n"
                             "- b\r\n"
                             "---\r\n"
                             "# Body\r\n";
    (void)state;

    check(md, "{\"license\": \"mit\", \"tags\": [\"a\", \"b\"]}", offset_of(md, "# Body"));
}

static void wrong_types_are_ignored(void **state)
{
    static const char md[] = "---\n"
                             "license: [mit, apache-2.0]\n"
                             "tags: nlp\n"
                             "language: 5\n"
                             "pipeline_tag: 7\n"
                             "library_name: {name: x}\n"
                             "base_model: {id: y}\n"
                             "---\n";
    static const char mixed[] = "---\n"
                                "license: true\n"
                                "tags: [a, 1, {b: c}, null, d, [e]]\n"
                                "language: [en, 2, ~]\n"
                                "base_model: [3, x]\n"
                                "library_name: null\n"
                                "---\n";
    static const char quoted[] = "---\nlicense: \"2.0\"\ntags: [\"1\", 'true']\n---\n";
    (void)state;

    check(md, "{}", sizeof md - 1);
    check(mixed, "{\"tags\": [\"a\", \"d\"], \"language\": [\"en\"]}", sizeof mixed - 1);
    check(quoted, "{\"license\": \"2.0\", \"tags\": [\"1\", \"true\"]}", sizeof quoted - 1);
}

static void language_as_string(void **state)
{
    (void)state;

    check("---\nlanguage: en\n---\n", "{\"language\": [\"en\"]}", 21);
    check("---\nlanguage: []\n---\n", "{\"language\": []}", 21);
}

static void base_model_as_list(void **state)
{
    static const char md[] = "---\nbase_model:\n- meta-llama/Llama-3-8B\n- other/model\n---\n";
    (void)state;

    check(md, "{\"base_model\": \"meta-llama/Llama-3-8B\"}", sizeof md - 1);
    check("---\nbase_model: []\n---\n", "{}", 23);
}

static void malformed_yaml_keeps_body_offset(void **state)
{
    static const char bad[] = "---\nlicense: mit\ntags: [a, b\n---\n# Body\n";
    static const char list[] = "---\n- license\n- mit\n---\nbody";
    static const char scalar[] = "---\njust text\n---\nbody";
    static const char alias[] = "---\nlicense: &l mit\nlibrary_name: *l\n---\nbody";
    static const char dup[] = "---\nlicense: mit\nlicense: gpl\n---\nbody";
    (void)state;

    check(bad, "{}", offset_of(bad, "# Body"));
    check(list, "{}", offset_of(list, "body"));
    check(scalar, "{}", offset_of(scalar, "body"));
    check(alias, "{}", offset_of(alias, "body"));
    check(dup, "{}", offset_of(dup, "body"));
}

static void hostile_nesting(void **state)
{
    size_t depth = 1000000;
    size_t n = 4 + 2 * depth + 5;
    char *md = malloc(n + 1);
    size_t body = 0;
    json_t *got;
    (void)state;

    assert_non_null(md);
    memcpy(md, "---\n", 4);
    memset(md + 4, '[', depth);
    memset(md + 4 + depth, ']', depth);
    memcpy(md + 4 + 2 * depth, "\n---\n", 5);
    md[n] = '\0';
    got = frontmatter_parse(md, n, &body);
    assert_non_null(got);
    assert_int_equal(json_object_size(got), 0);
    assert_int_equal(body, n);
    json_decref(got);

    /* Block nesting: each line one level deeper. */
    {
        size_t off = 4;

        for (int i = 0; i < 2000 && off + 4200 < n; i++) {
            memset(md + off, ' ', (size_t)i);
            off += (size_t)i;
            memcpy(md + off, "k:\n", 3);
            off += 3;
        }
        memcpy(md + off, "---\n", 4);
        off += 4;
        got = frontmatter_parse(md, off, &body);
        assert_non_null(got);
        assert_int_equal(json_object_size(got), 0);
        assert_int_equal(body, off);
        json_decref(got);
    }
    free(md);
}

/* Binary garbage, inside fences and on its own, gives an empty object without a crash. */
static void binary_garbage(void **state)
{
    uint32_t seed = 42;
    unsigned char buf[4096];
    (void)state;

    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)(iter % 64) * 64 + (size_t)(iter % 7);
        size_t start = (iter % 2) ? 4 : 0;
        size_t body = 0;
        json_t *got;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            buf[i] = (unsigned char)(seed >> 24);
        }
        if (start != 0 && n >= 8) {
            memcpy(buf, "---\n", 4);
            memcpy(buf + n - 4, "---\n", 4);
        }
        got = frontmatter_parse((const char *)buf, n, &body);
        assert_non_null(got);
        assert_true(json_is_object(got));
        assert_true(body <= n);
        json_decref(got);
    }
}

/* Random YAML-ish text inside fences: every result is an object holding only known keys. */
static void random_yaml_fragments(void **state)
{
    static const char *const parts[] = {
        "license", "tags", "language", "base_model", ":",  " ",   "\n", "- ",     "[",  "]",
        "{",       "}",    ",",        "\"",         "'",  "mit", "en", "&a",     "*a", "|\n",
        "  ",      "\r\n", "---\n",    "...",        "\t", "#",   "?",  "!!str ", "1",  "~",
    };
    uint32_t seed = 7;
    char buf[512];
    (void)state;

    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 4;
        size_t body = 0;
        const char *key;
        json_t *got, *val;

        memcpy(buf, "---\n", 4);
        while (n < sizeof buf - 16) {
            const char *p;

            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 40 == 0)
                break;
            p = parts[(seed >> 8) % (sizeof parts / sizeof parts[0])];
            memcpy(buf + n, p, strlen(p));
            n += strlen(p);
        }
        memcpy(buf + n, "\n---\n", 5);
        n += 5;
        got = frontmatter_parse(buf, n, &body);
        assert_non_null(got);
        assert_true(body > 4 && body <= n);
        json_object_foreach(got, key, val)
        {
            if (strcmp(key, "tags") == 0 || strcmp(key, "language") == 0)
                assert_true(json_is_array(val));
            else if (strcmp(key, "license") == 0 || strcmp(key, "base_model") == 0)
                assert_true(json_is_string(val));
            else
                fail_msg("unexpected key %s", key);
        }
        json_decref(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hugging_face_card),
        cmocka_unit_test(no_front_matter),
        cmocka_unit_test(unterminated_fence_is_no_front_matter),
        cmocka_unit_test(closing_fences),
        cmocka_unit_test(crlf_line_endings),
        cmocka_unit_test(wrong_types_are_ignored),
        cmocka_unit_test(language_as_string),
        cmocka_unit_test(base_model_as_list),
        cmocka_unit_test(malformed_yaml_keeps_body_offset),
        cmocka_unit_test(hostile_nesting),
        cmocka_unit_test(binary_garbage),
        cmocka_unit_test(random_yaml_fragments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
