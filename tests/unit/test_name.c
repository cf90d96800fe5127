/*
 * test_name.c: names, reserved words, slugs, aliases, UUIDs and roles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/name.h"
#include "util/crypto.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1 /* a literal as bytes and length */

/* Checks pred against every string in list, expecting want. */
static void check_all(bool (*pred)(const char *, size_t), const char *name, const char *const *list,
                      size_t n, bool want)
{
    for (size_t i = 0; i < n; i++)
        if (pred(list[i], strlen(list[i])) != want)
            fail_msg("%s('%s') should be %s", name, list[i], want ? "true" : "false");
}

static void name_accepts_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a",        "Z",      "0",           "llama",  "Llama-3.1-8B", "bert_base",
        "a.b",      "a-",     "a_",          "a.",     "x..y",         "9lives",
        "model.v2", "export", "export.csv2", "Facets", "BULK",         "facets.",
    };
    check_all(name_is_valid, "name_is_valid", ok, COUNT(ok), true);
}

static void name_rejects_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",    "-a",  ".a",  "_a",          "a b", " a",   "a ", "a/b", "org/name",
        "a@1", "a+b", "a:b", "caf\xc3\xa9", "a\n", "a\\b", "..", ".",   "a%20",
    };
    check_all(name_is_valid, "name_is_valid", bad, COUNT(bad), false);
    assert_false(name_is_valid(NULL, 0));
    assert_false(name_is_valid("a\0b", 3));
    assert_false(name_is_valid("\0", 1));
    assert_true(name_is_valid("ab\0", 2)); /* only s[0..n) counts */
}

static void name_length_boundaries(void **state)
{
    (void)state;
    char s[200];

    memset(s, 'a', sizeof s);
    assert_true(name_is_valid(s, 1));
    assert_true(name_is_valid(s, 95));
    assert_true(name_is_valid(s, 96));
    assert_false(name_is_valid(s, 97));
    assert_false(name_is_valid(s, sizeof s));
    assert_true(name_is_slug_shaped(s, 96));
    assert_false(name_is_slug_shaped(s, 97));
    assert_true(alias_is_valid(s, 96));
    assert_false(alias_is_valid(s, 97));

    memset(s + 1, '.', 95);
    assert_true(name_is_valid(s, 96));
    assert_false(name_is_valid(s, 97));
}

static void reserved_words(void **state)
{
    (void)state;
    static const char *const words[] = {"facets", "bulk", "export.csv",
                                        "0190a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
                                        "0190A3B4-5C6D-7E8F-9A0B-1C2D3E4F5A6B"};
    static const char *const not_words[] = {
        "",     "Facets", "FACETS",      "facet",      "facetss",    "bulk2",       "bul",
        "Bulk", "export", "export.csv2", "export.CSV", "export_csv", "xexport.csv", "latest",
    };

    check_all(name_is_reserved, "name_is_reserved", words, COUNT(words), true);
    check_all(name_is_reserved, "name_is_reserved", not_words, COUNT(not_words), false);
    assert_false(name_is_reserved("facets\0", 7));
    assert_true(name_is_reserved("facets!", 6)); /* exact match on s[0..n) */
    /* The reserved words are otherwise valid names: the check is separate. */
    check_all(name_is_valid, "name_is_valid", words, COUNT(words), true);
}

static void resource_kinds(void **state)
{
    (void)state;
    static const char *const good[] = {"file",    "weights", "config", "Tokenizer",
                                       "lora.v2", "a_b-c",   "x"};
    static const char *const bad[] = {
        "",
        "a b",
        "<b>",
        "-x",
        ".x",
        "a/b",
        "caf\xc3\xa9",
        "a\x7f",
        "a\nb",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    check_all(resource_kind_is_valid, "resource_kind_is_valid", good, COUNT(good), true);
    check_all(resource_kind_is_valid, "resource_kind_is_valid", bad, COUNT(bad), false);
    assert_true(resource_kind_is_valid(bad[9], 64));
}

static void slug_shaped_names(void **state)
{
    (void)state;
    static const char *const ok[] = {"llama", "llama-3.1-8b", "a", "0", "bert_base", "x.y"};
    static const char *const bad[] = {"Llama", "llamA", "A", "llama-3.1-8B", "-llama", "", "a b"};

    check_all(name_is_slug_shaped, "name_is_slug_shaped", ok, COUNT(ok), true);
    check_all(name_is_slug_shaped, "name_is_slug_shaped", bad, COUNT(bad), false);
}

static void slug_rules(void **state)
{
    (void)state;
    static const char *const ok[] = {"ab", "a1", "0a", "00", "my-org", "a-", "a--b", "acme-42"};
    static const char *const bad[] = {
        "",       "a",      "-a",     "-ab", "Ab",   "aB",          "ACME",
        "my_org", "my.org", "my org", "a/b", "ab\n", "caf\xc3\xa9",
    };
    char s[64];

    check_all(slug_is_valid, "slug_is_valid", ok, COUNT(ok), true);
    check_all(slug_is_valid, "slug_is_valid", bad, COUNT(bad), false);
    assert_false(slug_is_valid("a\0", 2));
    assert_false(slug_is_valid(NULL, 0));

    memset(s, 'a', sizeof s);
    assert_false(slug_is_valid(s, 1));
    assert_true(slug_is_valid(s, 2));
    assert_true(slug_is_valid(s, 38));
    assert_true(slug_is_valid(s, 39));
    assert_false(slug_is_valid(s, 40));
    s[0] = '-';
    assert_false(slug_is_valid(s, 39));
    s[0] = '7';
    s[38] = '-';
    assert_true(slug_is_valid(s, 39));
}

static void alias_rules(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "stable",
        "prod",
        "Latest",
        "latest2",
        "LATEST",
        "v1.2.3",
        "1.2",
        "1",
        "1.2.3.4",
        "1.2.3_rc",
        "01.2.3",
        "canary-2026",
        "0123e456-e89b-12d3-a456-42661417400",
        "0123e456-e89b-12d3-a456-4266141740000",
    };
    static const char *const bad[] = {
        "latest",
        "",
        "-stable",
        "st able",
        "a/b",
        "1.2.3",
        "0.0.0",
        "1.0.0-rc.1",
        "10.2.3-DEV-SNAPSHOT",
        "1.2.3----RC-SNAPSHOT.12.9.1--.12",
        "123e4567-e89b-12d3-a456-426614174000",
        "123E4567-E89B-12D3-A456-426614174000",
        "01890a5d-ac96-774b-bcce-b302099a8057",
    };

    check_all(alias_is_valid, "alias_is_valid", ok, COUNT(ok), true);
    check_all(alias_is_valid, "alias_is_valid", bad, COUNT(bad), false);
    /* A semver with build metadata is not a name ('+'), so it is not an alias either. */
    assert_false(alias_is_valid(S("1.2.3+build")));
    assert_false(alias_is_valid(S("latest\0")));
    assert_true(alias_is_valid(S("latestx")));
}

/* UUIDv7s of one process sort in the order they were made, also many within a millisecond
 * (the training stats' "latest" and every list ordered by id rely on it). */
static void uuid7_increases(void **state)
{
    (void)state;
    char prev[37], cur[37];
    crypto_uuid7(prev);
    for (int i = 0; i < 20000; i++) {
        crypto_uuid7(cur);
        assert_true(uuid_is_valid(cur, 36));
        assert_int_equal(cur[14], '7');
        assert_true(strchr("89ab", cur[19]) != NULL);
        if (strcmp(prev, cur) >= 0)
            fail_msg("%s after %s", cur, prev);
        memcpy(prev, cur, sizeof(cur));
    }
}

static void uuid_rules(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "FFFFFFFF-ffff-FfFf-fFfF-0123456789aB", "01890a5d-ac96-774b-bcce-b302099a8057",
    };
    static const char *const bad[] = {
        "",
        "123e4567e89b12d3a456426614174000",
        "123e4567-e89b-12d3-a456-42661417400",
        "123e4567-e89b-12d3-a456-4266141740000",
        "123e4567-e89b-12d3-a456_426614174000",
        "123e4567-e89b-12d3a-456-426614174000",
        "123e456-7e89b-12d3-a456-426614174000",
        "g23e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-42661417400z",
        "{123e4567-e89b-12d3-a456-426614174000}",
        " 23e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-4266141740-0",
        "------------------------------------",
    };

    check_all(uuid_is_valid, "uuid_is_valid", ok, COUNT(ok), true);
    check_all(uuid_is_valid, "uuid_is_valid", bad, COUNT(bad), false);
    assert_false(uuid_is_valid("123e4567-e89b-12d3-a456-42661417400\0", 36));
    assert_true(uuid_is_valid("123e4567-e89b-12d3-a456-426614174000xyz", 36));
}

static void role_ranks(void **state)
{
    (void)state;
    assert_int_equal(role_rank(S("reader")), 1);
    assert_int_equal(role_rank(S("writer")), 2);
    assert_int_equal(role_rank(S("admin")), 3);
    assert_true(role_rank(S("reader")) < role_rank(S("writer")));
    assert_true(role_rank(S("writer")) < role_rank(S("admin")));

    assert_int_equal(role_rank(S("")), 0);
    assert_int_equal(role_rank(NULL, 0), 0);
    assert_int_equal(role_rank(S("Admin")), 0);
    assert_int_equal(role_rank(S("ADMIN")), 0);
    assert_int_equal(role_rank(S("admins")), 0);
    assert_int_equal(role_rank(S("admi")), 0);
    assert_int_equal(role_rank(S("read")), 0);
    assert_int_equal(role_rank(S("owner")), 0);
    assert_int_equal(role_rank(S("server-admin")), 0);
    assert_int_equal(role_rank(S(" admin")), 0);
    assert_int_equal(role_rank(S("admin\0")), 0);
    assert_int_equal(role_rank("adminx", 5), 3); /* only s[0..n) counts */
}

static void names_from_titles(void **state)
{
    (void)state;
    char out[NAME_MAX_LEN + 1];
    assert_int_equal(name_from_title(out, sizeof(out), "GPT 4o mini"), 11);
    assert_string_equal(out, "GPT-4o-mini");
    name_from_title(out, sizeof(out), "  --Llama 3.1 (8B)!! ");
    assert_string_equal(out, "Llama-3.1-8B");
    name_from_title(out, sizeof(out), "caf\xc3\xa9 au lait");
    assert_string_equal(out, "caf-au-lait");
    assert_int_equal(name_from_title(out, sizeof(out), "!!! ???"), 0);
    assert_string_equal(out, "");
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(name_from_title(out, sizeof(out), big), NAME_MAX_LEN);
    assert_true(name_is_valid(out, strlen(out)));
    char small[4];
    assert_int_equal(name_from_title(small, sizeof(small), "ab cd"), 2);
    assert_string_equal(small, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(name_accepts_valid),
        cmocka_unit_test(name_rejects_invalid),
        cmocka_unit_test(name_length_boundaries),
        cmocka_unit_test(reserved_words),
        cmocka_unit_test(resource_kinds),
        cmocka_unit_test(slug_shaped_names),
        cmocka_unit_test(slug_rules),
        cmocka_unit_test(alias_rules),
        cmocka_unit_test(uuid_rules),
        cmocka_unit_test(uuid7_increases),
        cmocka_unit_test(role_ranks),
        cmocka_unit_test(names_from_titles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
