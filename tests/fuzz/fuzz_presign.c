/*
 * fuzz_presign.c: a presigned blob URL's query as the server reads it: the query value
 * percent-decoding (the server's own unescape(), as this file includes src/http/server.c) and
 * presign_check() on the decoded expires and sig. Input: four '\n'-separated fields, the
 * storage key, expires, sig, and a raw query value for unescape(). Invariants: unescape never
 * grows its input nor leaves a NUL inside it and decodes what it is given; presign_check()
 * accepts exactly the signature presign_sign() makes for an unexpired time, and a URL from
 * presign_path() always passes when its query is parsed back; a signature never passes for
 * another key.
 */
#include "../../src/http/server.c"

#include "blob/presign.h"
#include "fuzz.h"

#define SECRET "fuzz-secret-0123456789abcdef"
#define NOW 1900000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    size_t n[4], rest = size;
    const uint8_t *f[4], *p = data;
    for (int i = 0; i < 4; i++) {
        f[i] = p;
        p = fuzz_split(p, rest, &n[i], &rest);
    }
    n[3] += rest ? rest + 1 : 0; /* the last field keeps any further newlines */
    char *key = fuzz_strndup(f[0], n[0]), *exp = fuzz_strndup(f[1], n[1]);
    n[0] = strlen(key); /* the key reaches presign_check() as a C string */
    char *sig = fuzz_strndup(f[2], n[2]), *raw = fuzz_strndup(f[3], n[3]);

    /* unescape: in place, never longer, NUL-free, and %XX of a non-NUL byte decodes to it */
    size_t rawlen = strlen(raw);
    char *copy = strdup(raw);
    size_t out = unescape(NULL, NULL, raw);
    FUZZ_CHECK(out <= rawlen && strlen(raw) == out);
    if (!strchr(copy, '%'))
        FUZZ_CHECK(out == rawlen && strcmp(copy, raw) == 0);
    free(copy);

    const char *method = n[3] % 2 ? "PUT" : "GET";
    err e = {0};
    int rc = presign_check(SECRET, method, key, exp, sig, NOW, &e);
    if (rc == 0) {
        char want[65];
        char *end;
        long long x = strtoll(exp, &end, 10);
        FUZZ_CHECK(*exp && !*end && x >= NOW);
        presign_sign(want, SECRET, method, key, x);
        FUZZ_CHECK(strcmp(want, sig) == 0);
    } else {
        FUZZ_CHECK(rc == -1 && (e.kind == ERR_TOKEN || e.kind == ERR_EXPIRED_SIG));
    }

    /* the round trip: a URL made for key passes while unexpired, and fails once expired */
    if (!strchr(key, '?') && n[0] < 256) {
        char url[1024];
        presign_path(url, sizeof(url), SECRET, method, key, NOW + 60);
        char *q = strrchr(url, '?');
        FUZZ_CHECK(q && strncmp(q, "?expires=", 9) == 0);
        char *amp = strstr(q, "&sig=");
        FUZZ_CHECK(amp);
        *amp = '\0';
        err e2 = {0};
        FUZZ_CHECK(presign_check(SECRET, method, key, q + 9, amp + 5, NOW, &e2) == 0);
        FUZZ_CHECK(presign_check(SECRET, method, key, q + 9, amp + 5, NOW + 61, &e2) == -1 &&
                   e2.kind == ERR_EXPIRED_SIG);
    }
    /* the signature binds the whole key: another key (one byte longer) never passes with it */
    {
        char good[65];
        presign_sign(good, SECRET, method, key, NOW + 60);
        char *longer = malloc(n[0] + 2);
        memcpy(longer, key, n[0]);
        memcpy(longer + n[0], "x", 2);
        char expbuf[32];
        snprintf(expbuf, sizeof(expbuf), "%lld", NOW + 60);
        err e3 = {0};
        FUZZ_CHECK(presign_check(SECRET, method, key, expbuf, good, NOW, &e3) == 0);
        FUZZ_CHECK(presign_check(SECRET, method, longer, expbuf, good, NOW, &e3) == -1);
        free(longer);
    }
    free(key);
    free(exp);
    free(sig);
    free(raw);
    return 0;
}
