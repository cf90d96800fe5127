/*
 * fuzz_semver.c: semver_parse on untrusted version strings (paths, bodies, manifests).
 * Input: two versions separated by the first '\n'. Invariants: acceptance agrees with the
 * official semver.org regular expression (within SEMVER_MAX bytes and uint64 numbers); a parsed
 * version formats back to the same bytes and re-parses equal; semver_cmp is antisymmetric and
 * its sign is the sign of strcmp of the sort keys.
 */
#include <errno.h>
#include <regex.h>

#include "core/semver.h"
#include "fuzz.h"

#define NUM "(0|[1-9][0-9]*)"
#define PRE_ID "(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
#define BUILD_ID "[0-9a-zA-Z-]+"
#define SEMVER_ERE                                                                            \
    "^" NUM "\\." NUM "\\." NUM "(-" PRE_ID "(\\." PRE_ID ")*)?(\\+" BUILD_ID "(\\." BUILD_ID \
    ")*)?$"

static regex_t re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (regcomp(&re, SEMVER_ERE, REG_EXTENDED | REG_NOSUB) != 0)
        abort();
    return 0;
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* Whether the dotted core numbers of a regex-valid version fit uint64. */
static bool core_fits(const char *s)
{
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        (void)strtoull(s, &end, 10);
        if (errno == ERANGE)
            return false;
        s = end + 1;
    }
    return true;
}

/* Parses s[0..n) and checks it against the regex and the round trip; returns whether valid. */
static bool check_one(semver *v, const char *s, size_t n)
{
    int rc = semver_parse(v, s, n);
    FUZZ_CHECK(semver_is_valid(s, n) == (rc == 0));
    bool has_nul = memchr(s, '\0', n) != NULL;
    bool want = !has_nul && n <= SEMVER_MAX && regexec(&re, s, 0, NULL, 0) == 0 && core_fits(s);
    FUZZ_CHECK((rc == 0) == want);
    if (rc != 0)
        return false;
    char buf[2 * SEMVER_MAX + 64];
    size_t len = semver_format(buf, sizeof(buf), v);
    FUZZ_CHECK(len == n && memcmp(buf, s, n) == 0);
    semver w;
    FUZZ_CHECK(semver_parse(&w, buf, len) == 0);
    FUZZ_CHECK(semver_cmp(v, &w) == 0 && strcmp(v->build, w.build) == 0);
    /* snprintf-like truncation: a short buffer gets a NUL-terminated prefix, same length back */
    char small[8];
    FUZZ_CHECK(semver_format(small, sizeof(small), v) == len);
    FUZZ_CHECK(strlen(small) == (len < sizeof(small) ? len : sizeof(small) - 1));
    FUZZ_CHECK(memcmp(small, s, strlen(small)) == 0);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t an, bn;
    const uint8_t *b = fuzz_split(data, size, &an, &bn);
    char *sa = fuzz_strndup(data, an), *sb = fuzz_strndup(b, bn);
    semver va, vb;
    bool oka = check_one(&va, sa, an), okb = check_one(&vb, sb, bn);
    if (oka && okb) {
        int ab = semver_cmp(&va, &vb), ba = semver_cmp(&vb, &va);
        FUZZ_CHECK(sign(ab) == -sign(ba));
        char ka[SEMVER_KEY_MAX], kb[SEMVER_KEY_MAX];
        FUZZ_CHECK(semver_sort_key(ka, sizeof(ka), &va) == 0);
        FUZZ_CHECK(semver_sort_key(kb, sizeof(kb), &vb) == 0);
        FUZZ_CHECK(sign(strcmp(ka, kb)) == sign(ab));
        for (const char *k = ka; *k; k++)
            FUZZ_CHECK(*k >= 0x21 && *k <= 0x7e);
        FUZZ_CHECK(sign(semver_cmp_str(sa, sb)) == sign(ab));
    }
    free(sa);
    free(sb);
    return 0;
}
