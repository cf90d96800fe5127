/*
 * test_path.c: file paths inside a version: traversal, separators, control bytes, UTF-8, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/path.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Checks path_is_valid against every string in list, expecting want. */
static void check_all(const char *const *list, size_t n, bool want)
{
    for (size_t i = 0; i < n; i++)
        if (path_is_valid(list[i], strlen(list[i])) != want)
            fail_msg("path_is_valid('%s') should be %s", list[i], want ? "true" : "false");
}

static void path_rejects_traversal(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "..",   "../a",  "a/..",  "a/../b", "a/b/../../..",
        ".",    "./a",   "a/.",   "a/./b",  "/abs",
        "/",    "//a",   "a//b",  "a/",     "a/b/",
        "a\\b", "..\\a", "a\\..", "C:\\x",  "\\\\srv\\share",
    };
    check_all(bad, COUNT(bad), false);
}

static void path_rejects_control_bytes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a/\x01", "\x1f", "a\tb", "a\nb", "a\rb", "a\x7f", "\x1b[31m",
    };
    check_all(bad, COUNT(bad), false);
    assert_false(path_is_valid("a\0b", 3));
    assert_false(path_is_valid("\0", 1));
    assert_false(path_is_valid("a/\0", 3));
    assert_true(path_is_valid("ab\0", 2)); /* only p[0..n) counts */
}

static void path_rejects_empty_and_null(void **state)
{
    (void)state;
    assert_false(path_is_valid("", 0));
    assert_false(path_is_valid(NULL, 0));
    assert_false(path_is_valid("a", 0));
}

static void path_length_limits(void **state)
{
    (void)state;
    char buf[600];

    /* "a"*255 "/" "b"*254 "/" "cc": 513 bytes, every segment within limits */
    memset(buf, 'a', 255);
    buf[255] = '/';
    memset(buf + 256, 'b', 254);
    buf[510] = '/';
    buf[511] = 'c';
    buf[512] = 'c';
    assert_true(path_is_valid(buf, 512));
    assert_false(path_is_valid(buf, 513));
    assert_false(path_is_valid(buf, 511)); /* trailing slash */

    memset(buf, 'x', sizeof(buf));
    assert_true(path_is_valid(buf, 255));
    assert_false(path_is_valid(buf, 256)); /* one 256-byte segment */
    buf[0] = 'd';
    buf[1] = '/';
    assert_true(path_is_valid(buf, 2 + 255));
    assert_false(path_is_valid(buf, 2 + 256)); /* a 256-byte last segment */
    buf[2 + 255] = '/';
    assert_true(path_is_valid(buf, 2 + 255 + 2));
    buf[2 + 255] = 'x';
    buf[2 + 256] = '/';
    assert_false(path_is_valid(buf, 2 + 256 + 2)); /* a 256-byte middle segment */
}

static void path_accepts_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a",
        "model.safetensors",
        "weights/model-00001-of-00002.safetensors",
        "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/config.json",
        "model.mlpackage/Data/com.apple.CoreML/model.mlmodel",
        ".gitattributes",
        "..a",
        "a..",
        "...",
        "a/.hidden/b",
        "a/...b/c",
        "with space.txt",
        "a:b",
        "%2e%2e", /* not decoded by path_is_valid */
        "caf\xc3\xa9/mod\xc3\xa8le.gguf",
        "\xe6\xa8\xa1\xe5\x9e\x8b/\xe6\x9d\x83\xe9\x87\x8d.bin",
        "emoji-\xf0\x9f\x98\x80.txt",
        "\xd0\xbc\xd0\xbe\xd0\xb4\xd0\xb5\xd0\xbb\xd1\x8c",
        "\xef\xbb\xbf\x62om", /* BOM, then "bom" */
        "max-\xf4\x8f\xbf\xbf",
    };
    check_all(ok, COUNT(ok), true);
}

static void path_rejects_bad_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\x80",             /* lone continuation */
        "a\xc3",            /* cut off */
        "\xc3\x28",         /* bad continuation */
        "\xc0\xae\xc0\xae", /* overlong "..", the classic traversal */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xe0\x9f\xbf",     /* overlong */
        "\xed\xa0\x80",     /* surrogate */
        "\xed\xbf\xbf",     /* surrogate */
        "\xf0\x80\x80\xaf", /* overlong '/' */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xf5\x80\x80\x80", /* past U+10FFFF */
        "\xf8\x88\x80\x80\x80",
        "\xfe",
        "\xff",
        "\xe6\xa8",      /* cut off three-byte */
        "\xf0\x9f\x98",  /* cut off four-byte */
        "ok/\xe6\xa8/x", /* cut off, then a slash */
    };
    check_all(bad, COUNT(bad), false);
    /* a multi-byte sequence must not run past n */
    assert_false(path_is_valid("\xc3\xa9", 1));
    assert_true(path_is_valid("\xc3\xa9", 2));
}

/* A name with a quote and "; " must not close the quoted string or add a parameter. */
static void path_disposition_encodes(void **state)
{
    (void)state;
    char buf[PATH_DISPOSITION_SIZE(64)];
    const char *evil = "a\"; filename=evil.sh; x=\".bin";
    path_disposition(buf, sizeof(buf), evil, strlen(evil));
    assert_string_equal(buf, "attachment; filename=\"a___filename_evil.sh__x__.bin\"; "
                             "filename*=UTF-8''a%22%3B%20filename%3Devil.sh%3B%20x%3D%22.bin");
    path_disposition(buf, sizeof(buf), "r\xc3\xa9sum\xc3\xa9.txt", 12);
    assert_string_equal(buf, "attachment; filename=\"r__sum__.txt\"; "
                             "filename*=UTF-8''r%C3%A9sum%C3%A9.txt");
    path_disposition(buf, sizeof(buf), "config.json", 11);
    assert_string_equal(buf, "attachment; filename=\"config.json\"; filename*=UTF-8''config.json");
    /* a name that cannot fit gives an empty string, never a cut one */
    char small[8];
    path_disposition(small, sizeof(small), "config.json", 11);
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_rejects_traversal),      cmocka_unit_test(path_rejects_control_bytes),
        cmocka_unit_test(path_rejects_empty_and_null), cmocka_unit_test(path_length_limits),
        cmocka_unit_test(path_accepts_valid),          cmocka_unit_test(path_rejects_bad_utf8),
        cmocka_unit_test(path_disposition_encodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
