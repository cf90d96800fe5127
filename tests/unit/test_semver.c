/*
 * test_semver.c: SemVer 2.0.0 parsing, precedence, formatting and sort keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/semver.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The valid examples from semver.org. */
static const char *const spec_valid[] = {
    "0.0.4",
    "1.2.3",
    "10.20.30",
    "1.1.2-prerelease+meta",
    "1.1.2+meta",
    "1.1.2+meta-valid",
    "1.0.0-alpha",
    "1.0.0-beta",
    "1.0.0-alpha.beta",
    "1.0.0-alpha.beta.1",
    "1.0.0-alpha.1",
    "1.0.0-alpha0.valid",
    "1.0.0-alpha.0valid",
    "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
    "1.0.0-rc.1+build.1",
    "2.0.0-rc.1+build.123",
    "1.2.3-beta",
    "10.2.3-DEV-SNAPSHOT",
    "1.2.3-SNAPSHOT-123",
    "1.0.0",
    "2.0.0",
    "1.1.7",
    "2.0.0+build.1848",
    "2.0.1-alpha.1227",
    "1.0.0-alpha+beta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
    "1.2.3----R-S.12.9.1--.12+meta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12",
    "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
    "1.0.0-0A.is.legal",
};

/* The invalid examples from semver.org, plus its too-large one (numbers must fit uint64). */
static const char *const spec_invalid[] = {
    "1",
    "1.2",
    "1.2.3-0123",
    "1.2.3-0123.0123",
    "1.1.2+.123",
    "+invalid",
    "-invalid",
    "-invalid+invalid",
    "-invalid.01",
    "alpha",
    "alpha.beta",
    "alpha.beta.1",
    "alpha.1",
    "alpha+beta",
    "alpha_beta",
    "alpha.",
    "alpha..",
    "beta",
    "1.0.0-alpha_beta",
    "-alpha.",
    "1.0.0-alpha..",
    "1.0.0-alpha..1",
    "1.0.0-alpha...1",
    "1.0.0-alpha....1",
    "1.0.0-alpha.....1",
    "1.0.0-alpha......1",
    "1.0.0-alpha.......1",
    "01.1.1",
    "1.01.1",
    "1.1.01",
    "1.2.3.DEV",
    "1.2-SNAPSHOT",
    "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
    "1.2-RC-SNAPSHOT",
    "-1.0.3-gamma+b7718",
    "+justmeta",
    "9.8.7+meta+meta",
    "9.8.7-whatever+meta+meta",
    "99999999999999999999999.999999999999999999.99999999999999999",
};

/* More edge cases that must be rejected. */
static const char *const more_invalid[] = {
    "",
    "v1.2.3",
    "V1.2.3",
    "=1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "1.2.3\n",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-+",
    "1.2.3-a+",
    "1.2.3-.a",
    "1.2.3-a.",
    "1.2.3+a.",
    "1.2.3+.a",
    "1.2.3+a..b",
    "1.2.3-00",
    "1.2.3-a.00",
    "1.2.3-01.a",
    "1.2.3-a_b",
    "1.2.3+a_b",
    "1.2.3-a b",
    "1.2.3-\xc3\xa9",
    "1..3",
    ".1.2.3",
    "1.2.3.",
    "1.2.3.4",
    "-1.2.3",
    "1.-2.3",
    "1.2.-3",
    "+1.2.3",
    "1.+2.3",
    "1.2.3x",
    "1.2.a",
    "a.b.c",
    "00.0.0",
    "0.00.0",
    "0.0.00",
    "18446744073709551616.0.0",
    "0.18446744073709551616.0",
    "0.0.18446744073709551616",
    "0.0.99999999999999999999",
    "0.0.184467440737095516150",
};

/* The precedence chain from semver.org §11, strictly increasing. */
static const char *const spec_chain[] = {
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
    "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
    "1.0.0-rc.1",  "1.0.0",         "2.0.0",
    "2.1.0",       "2.1.1",
};

/* A strictly increasing chain of edge cases around identifier order. */
static const char *const edge_chain[] = {
    "0.0.0-0",
    "0.0.0-0.0",
    "0.0.0-0.0.0",
    "0.0.0-0.1",
    "0.0.0-0.a",
    "0.0.0-1",
    "0.0.0-9",
    "0.0.0-10",
    "0.0.0-99",
    "0.0.0-100",
    "0.0.0-18446744073709551615",
    "0.0.0-18446744073709551616",
    "0.0.0-99999999999999999999999999999999",
    "0.0.0--",
    "0.0.0--.0",
    "0.0.0---",
    "0.0.0-0-",
    "0.0.0-0A",
    "0.0.0-0a",
    "0.0.0-1a",
    "0.0.0-A",
    "0.0.0-A.0",
    "0.0.0-A.A",
    "0.0.0-A-",
    "0.0.0-AB",
    "0.0.0-Z",
    "0.0.0-a",
    "0.0.0-a.0",
    "0.0.0-a.1",
    "0.0.0-a.a",
    "0.0.0-a-",
    "0.0.0-a-.0",
    "0.0.0-a0",
    "0.0.0-aa",
    "0.0.0-z",
    "0.0.0-zz",
    "0.0.0",
    "0.0.1-0",
    "0.0.1",
    "0.0.10",
    "0.1.0",
    "0.1.1",
    "0.2.0",
    "1.0.0-alpha",
    "1.0.0",
    "9.0.0",
    "10.0.0",
    "9999999999999999999.0.0",
    "10000000000000000000.0.0",
    "18446744073709551614.0.0",
    "18446744073709551615.0.0-rc.1",
    "18446744073709551615.0.0",
    "18446744073709551615.18446744073709551615.18446744073709551615-0",
    "18446744073709551615.18446744073709551615.18446744073709551615",
};

static semver parse_ok(const char *s)
{
    semver v;
    int rc = semver_parse(&v, s, strlen(s));
    if (rc != 0)
        fail_msg("'%s' should be valid", s);
    return v;
}

static void key_of(char key[SEMVER_KEY_MAX], const char *s)
{
    semver v = parse_ok(s);
    assert_int_equal(semver_sort_key(key, SEMVER_KEY_MAX, &v), 0);
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static void spec_valid_examples_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(spec_valid); i++)
        if (!semver_is_valid(spec_valid[i], strlen(spec_valid[i])))
            fail_msg("'%s' should be valid", spec_valid[i]);
}

static void spec_invalid_examples_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(spec_invalid); i++) {
        semver v;
        memset(&v, 0x5a, sizeof v);
        semver before = v;
        if (semver_parse(&v, spec_invalid[i], strlen(spec_invalid[i])) != -1)
            fail_msg("'%s' should be invalid", spec_invalid[i]);
        assert_memory_equal(&v, &before, sizeof v); /* untouched on failure */
    }
}

static void edge_cases_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(more_invalid); i++)
        if (semver_is_valid(more_invalid[i], strlen(more_invalid[i])))
            fail_msg("'%s' should be invalid", more_invalid[i]);
}

static void parse_fills_fields(void **state)
{
    (void)state;
    semver v = parse_ok("1.2.3-rc.1-x+build.5-y.007");
    assert_true(v.major == 1 && v.minor == 2 && v.patch == 3);
    assert_string_equal(v.pre, "rc.1-x");
    assert_string_equal(v.build, "build.5-y.007");

    v = parse_ok("10.20.30");
    assert_true(v.major == 10 && v.minor == 20 && v.patch == 30);
    assert_string_equal(v.pre, "");
    assert_string_equal(v.build, "");

    v = parse_ok("0.0.0+-");
    assert_string_equal(v.pre, "");
    assert_string_equal(v.build, "-");

    v = parse_ok("1.0.0----");
    assert_string_equal(v.pre, "---");
    assert_string_equal(v.build, "");
}

static void uint64_bounds(void **state)
{
    (void)state;
    semver v = parse_ok("18446744073709551615.18446744073709551615.18446744073709551615");
    assert_true(v.major == UINT64_MAX && v.minor == UINT64_MAX && v.patch == UINT64_MAX);
    v = parse_ok("18446744073709551610.0.0");
    assert_true(v.major == UINT64_MAX - 5);
    /* Pre-release numbers are unbounded by the spec and still valid here. */
    assert_true(semver_is_valid("1.0.0-99999999999999999999999", 29));
}

static void length_and_bytes(void **state)
{
    (void)state;
    char s[SEMVER_MAX + 2];
    semver v;

    assert_false(semver_is_valid("", 0));
    assert_int_equal(semver_parse(&v, "1.2.3", 0), -1);

    /* The length is honoured: a prefix of a longer buffer. */
    assert_true(semver_is_valid("1.2.3-rc.1", 5));
    assert_false(semver_is_valid("1.2.3-rc.1", 6));
    assert_false(semver_is_valid("1.2.3-rc.1", 4));

    /* NUL bytes inside are rejected wherever they are. */
    assert_false(semver_is_valid("1.2.3\0", 6));
    assert_false(semver_is_valid("1.2\0.3", 6));
    assert_false(semver_is_valid("1.2.3-a\0b", 9));
    assert_false(semver_is_valid("1.2.3+a\0b", 9));
    static const char nul_first[] = {'\0', '1', '.', '2', '.', '3'};
    assert_false(semver_is_valid(nul_first, sizeof nul_first));

    /* Exactly SEMVER_MAX bytes is fine, one more is not. */
    memcpy(s, "1.2.3-", 6);
    memset(s + 6, 'a', sizeof s - 6);
    assert_true(semver_is_valid(s, SEMVER_MAX));
    assert_int_equal(semver_parse(&v, s, SEMVER_MAX), 0);
    assert_int_equal(strlen(v.pre), SEMVER_MAX - 6);
    assert_false(semver_is_valid(s, SEMVER_MAX + 1));

    memcpy(s, "1.2.3+", 6);
    assert_int_equal(semver_parse(&v, s, SEMVER_MAX), 0);
    assert_int_equal(strlen(v.build), SEMVER_MAX - 6);
    assert_false(semver_is_valid(s, SEMVER_MAX + 1));

    memset(s, '1', sizeof s);
    assert_false(semver_is_valid(s, sizeof s));
}

static void check_chain(const char *const *chain, size_t n)
{
    char ka[SEMVER_KEY_MAX], kb[SEMVER_KEY_MAX];

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int want = sign((i > j) - (i < j));
            if (sign(semver_cmp_str(chain[i], chain[j])) != want)
                fail_msg("cmp('%s', '%s') should be %d", chain[i], chain[j], want);
            key_of(ka, chain[i]);
            key_of(kb, chain[j]);
            if (sign(strcmp(ka, kb)) != want)
                fail_msg("key order of '%s', '%s' should be %d", chain[i], chain[j], want);
        }
    }
}

static void spec_precedence_chain(void **state)
{
    (void)state;
    check_chain(spec_chain, COUNT(spec_chain));
}

static void edge_precedence_chain(void **state)
{
    (void)state;
    check_chain(edge_chain, COUNT(edge_chain));
}

static void prerelease_sorts_first(void **state)
{
    (void)state;
    assert_true(semver_cmp_str("1.0.0-rc.1", "1.0.0") < 0);
    assert_true(semver_cmp_str("1.0.0", "1.0.0-rc.1") > 0);
    assert_true(semver_cmp_str("1.0.0-rc.1", "1.0.0-rc.1") == 0);
    assert_true(semver_cmp_str("1.0.0-zzz", "1.0.0") < 0);
    assert_true(semver_cmp_str("1.0.0", "1.0.1-0") < 0);
    assert_true(semver_cmp_str("1.0.0-2", "1.0.0-10") < 0);          /* numerically */
    assert_true(semver_cmp_str("1.0.0-a2", "1.0.0-a10") > 0);        /* in ASCII */
    assert_true(semver_cmp_str("1.0.0-999", "1.0.0-a") < 0);         /* numeric first */
    assert_true(semver_cmp_str("1.0.0-Z", "1.0.0-a") < 0);           /* uppercase first */
    assert_true(semver_cmp_str("1.0.0-alpha", "1.0.0-alpha.0") < 0); /* more fields win */
}

static void build_metadata_ignored(void **state)
{
    (void)state;
    static const char *const same[][2] = {
        {"1.0.0+a", "1.0.0+b"},
        {"1.0.0", "1.0.0+b"},
        {"1.0.0-rc.1+zzz", "1.0.0-rc.1+000.1"},
        {"1.0.0-alpha+beta", "1.0.0-alpha"},
    };
    char ka[SEMVER_KEY_MAX], kb[SEMVER_KEY_MAX];

    for (size_t i = 0; i < COUNT(same); i++) {
        assert_int_equal(semver_cmp_str(same[i][0], same[i][1]), 0);
        assert_int_equal(semver_cmp_str(same[i][1], same[i][0]), 0);
        key_of(ka, same[i][0]);
        key_of(kb, same[i][1]);
        assert_string_equal(ka, kb);
    }
    assert_true(semver_cmp_str("1.0.0-rc.1+build.9", "1.0.0+build.1") < 0);
}

static void format_round_trips(void **state)
{
    (void)state;
    char buf[SEMVER_MAX + 1];

    for (size_t i = 0; i < COUNT(spec_valid); i++) {
        semver v = parse_ok(spec_valid[i]);
        size_t n = semver_format(buf, sizeof buf, &v);
        assert_int_equal(n, strlen(spec_valid[i]));
        assert_string_equal(buf, spec_valid[i]);
        semver w = parse_ok(buf);
        assert_true(v.major == w.major && v.minor == w.minor && v.patch == w.patch);
        assert_memory_equal(v.pre, w.pre, sizeof v.pre);
        assert_memory_equal(v.build, w.build, sizeof v.build);
    }
    for (size_t i = 0; i < COUNT(edge_chain); i++) {
        semver v = parse_ok(edge_chain[i]);
        assert_int_equal(semver_format(buf, sizeof buf, &v), strlen(edge_chain[i]));
        assert_string_equal(buf, edge_chain[i]);
    }
}

static void format_truncates_like_snprintf(void **state)
{
    (void)state;
    semver v = parse_ok("12.34.56-rc.1+b.7");
    char buf[8];

    assert_int_equal(semver_format(NULL, 0, &v), 17);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(semver_format(buf, 1, &v), 17);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');
    assert_int_equal(semver_format(buf, sizeof buf, &v), 17);
    assert_string_equal(buf, "12.34.5");
}

static bool key_is_printable(const char *k)
{
    for (; *k != '\0'; k++)
        if (*k < 0x21 || *k > 0x7e)
            return false;
    return true;
}

static void sort_key_shape_and_cap(void **state)
{
    (void)state;
    char key[SEMVER_KEY_MAX];
    semver v = parse_ok("1.2.3-rc.1");

    assert_int_equal(semver_sort_key(key, sizeof key, &v), 0);
    assert_true(key_is_printable(key));
    size_t len = strlen(key);
    assert_int_equal(semver_sort_key(key, len + 1, &v), 0);
    assert_int_equal(semver_sort_key(key, len, &v), -1);
    assert_int_equal(semver_sort_key(key, 1, &v), -1);
    assert_int_equal(semver_sort_key(NULL, 0, &v), -1);

    v = parse_ok("1.2.3");
    assert_int_equal(semver_sort_key(key, sizeof key, &v), 0);
    len = strlen(key);
    assert_int_equal(semver_sort_key(key, len + 1, &v), 0);
    assert_int_equal(semver_sort_key(key, len, &v), -1);
}

/* The longest keys come from many one-digit identifiers and from long ones, at SEMVER_MAX. */
static void sort_key_worst_case_fits(void **state)
{
    (void)state;
    char s[SEMVER_MAX + 1], key[SEMVER_KEY_MAX];
    const char *const fills[] = {"0.", "1.", "a.", "-.", "1a.", "11.", "111."};
    const char *const heads[] = {"0.0.0-", "18446744073709551615.18446744073709551615.1-"};

    for (size_t h = 0; h < COUNT(heads); h++) {
        for (size_t f = 0; f < COUNT(fills); f++) {
            size_t n = strlen(heads[h]), fl = strlen(fills[f]);
            memcpy(s, heads[h], n);
            while (n + fl <= SEMVER_MAX) {
                memcpy(s + n, fills[f], fl);
                n += fl;
            }
            s[--n] = '\0'; /* drop the trailing '.' */
            semver v = parse_ok(s);
            assert_int_equal(semver_sort_key(key, sizeof key, &v), 0);
            assert_true(key_is_printable(key));
        }
        /* One numeric identifier as long as it gets. */
        size_t n = strlen(heads[h]);
        memcpy(s, heads[h], n);
        memset(s + n, '9', SEMVER_MAX - n);
        s[SEMVER_MAX] = '\0';
        semver v = parse_ok(s);
        assert_int_equal(semver_sort_key(key, sizeof key, &v), 0);
        assert_true(key_is_printable(key));
    }
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t rng_below(uint64_t *x, size_t n)
{
    return (size_t)(rng_next(x) % n);
}

#define GEN_COUNT 300

static void gen_version(char *out, size_t cap, uint64_t *rng)
{
    static const char *const nums[] = {"0", "1", "2", "10", "18446744073709551615"};
    static const char *const ids[] = {
        "0",  "1",  "2",     "9",    "10",     "11",      "100",    "99999999999999999999999",
        "a",  "b",  "A",     "Z",    "-",      "--",      "a-",     "-a",
        "0a", "1a", "alpha", "beta", "alpha1", "alpha10", "alpha2", "rc",
    };
    static const char *const builds[] = {"", "+b", "+build.1", "+0", "+x-y.001"};
    size_t len = (size_t)snprintf(out, cap, "%s.%s.%s", nums[rng_below(rng, COUNT(nums))],
                                  nums[rng_below(rng, 2)], nums[rng_below(rng, 3)]);
    size_t nids = rng_below(rng, 5);
    for (size_t i = 0; i < nids; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i == 0 ? "-" : ".",
                                ids[rng_below(rng, COUNT(ids))]);
    snprintf(out + len, cap - len, "%s", builds[rng_below(rng, COUNT(builds))]);
}

/* For every pair from the lists and GEN_COUNT generated versions, key order == precedence. */
static void sort_key_agrees_with_cmp(void **state)
{
    (void)state;
    size_t total = COUNT(spec_valid) + COUNT(spec_chain) + COUNT(edge_chain) + GEN_COUNT;
    semver *v = calloc(total, sizeof *v);
    char(*keys)[SEMVER_KEY_MAX] = calloc(total, sizeof *keys);
    char s[SEMVER_MAX + 1];
    uint64_t rng = 0x9e3779b97f4a7c15u;
    size_t n = 0, pairs = 0, equal = 0;

    assert_non_null(v);
    assert_non_null(keys);
    for (size_t i = 0; i < COUNT(spec_valid); i++)
        v[n++] = parse_ok(spec_valid[i]);
    for (size_t i = 0; i < COUNT(spec_chain); i++)
        v[n++] = parse_ok(spec_chain[i]);
    for (size_t i = 0; i < COUNT(edge_chain); i++)
        v[n++] = parse_ok(edge_chain[i]);
    for (size_t i = 0; i < GEN_COUNT; i++) {
        gen_version(s, sizeof s, &rng);
        v[n++] = parse_ok(s);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(semver_sort_key(keys[i], SEMVER_KEY_MAX, &v[i]), 0);
        assert_true(key_is_printable(keys[i]));
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = sign(semver_cmp(&v[i], &v[j]));
            if (sign(strcmp(keys[i], keys[j])) != c) {
                char a[SEMVER_MAX + 1], b[SEMVER_MAX + 1];
                semver_format(a, sizeof a, &v[i]);
                semver_format(b, sizeof b, &v[j]);
                fail_msg("'%s' vs '%s': cmp %d, keys '%s' '%s'", a, b, c, keys[i], keys[j]);
            }
            if (sign(semver_cmp(&v[j], &v[i])) != -c)
                fail_msg("cmp is not antisymmetric at %zu, %zu", i, j);
            pairs++;
            equal += c == 0 && i != j;
        }
    }
    assert_true(pairs >= 300 * 300);
    assert_true(equal > 0); /* the generator hits ties, so equal keys are exercised too */
    free(keys);
    free(v);
}

/* semver.org's suggested regular expression, in POSIX ERE (no non-capturing groups). */
#define NUM "(0|[1-9][0-9]*)"
#define PRE_ID "(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
#define BUILD_ID "[0-9a-zA-Z-]+"
#define SEMVER_ERE                                                                                 \
    "^" NUM "\\." NUM "\\." NUM "(-" PRE_ID "(\\." PRE_ID ")*)?(\\+" BUILD_ID "(\\." BUILD_ID      \
    ")*)?$"

/* Random short strings made of version-ish pieces agree with the spec's regex. */
static void validity_agrees_with_spec_regex(void **state)
{
    (void)state;
    static const char *const pieces[] = {"0", "1", "9", "00", "01", "10", ".",     ".", ".",
                                         "-", "+", "a", "Z",  "-a", "..", "1.2.3", "x_"};
    regex_t re;
    uint64_t rng = 0x2545f4914f6cdd1du;
    size_t valid = 0;

    assert_int_equal(regcomp(&re, SEMVER_ERE, REG_EXTENDED | REG_NOSUB), 0);
    for (int i = 0; i < 20000; i++) {
        char s[64];
        size_t len = 0, npieces = 1 + rng_below(&rng, 9);
        for (size_t p = 0; p < npieces; p++)
            len += (size_t)snprintf(s + len, sizeof s - len, "%s",
                                    pieces[rng_below(&rng, COUNT(pieces))]);
        bool want = regexec(&re, s, 0, NULL, 0) == 0;
        if (semver_is_valid(s, len) != want)
            fail_msg("'%s': regex says %s", s, want ? "valid" : "invalid");
        valid += want;
    }
    for (size_t i = 0; i < COUNT(spec_valid); i++)
        assert_int_equal(regexec(&re, spec_valid[i], 0, NULL, 0), 0);
    regfree(&re);
    assert_true(valid > 100); /* the generator reaches valid versions, not only junk */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_valid_examples_parse),
        cmocka_unit_test(spec_invalid_examples_rejected),
        cmocka_unit_test(edge_cases_rejected),
        cmocka_unit_test(parse_fills_fields),
        cmocka_unit_test(uint64_bounds),
        cmocka_unit_test(length_and_bytes),
        cmocka_unit_test(spec_precedence_chain),
        cmocka_unit_test(edge_precedence_chain),
        cmocka_unit_test(prerelease_sorts_first),
        cmocka_unit_test(build_metadata_ignored),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(format_truncates_like_snprintf),
        cmocka_unit_test(sort_key_shape_and_cap),
        cmocka_unit_test(sort_key_worst_case_fits),
        cmocka_unit_test(sort_key_agrees_with_cmp),
        cmocka_unit_test(validity_agrees_with_spec_regex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
