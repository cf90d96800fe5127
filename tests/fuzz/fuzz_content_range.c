/*
 * fuzz_content_range.c: the Content-Range header of a resumable upload's PATCH, through the
 * upload handler's own parse_content_range() (this file includes src/api/upload.c). Input: the
 * header value. Invariants: only "bytes FIRST-LAST/TOTAL" with plain decimal digits, FIRST <=
 * LAST, and TOTAL "*" or a length greater than LAST is accepted, and all of it is; the range it gives starts at
 * FIRST, is not empty and ends at LAST (no wrap-around).
 */
#include "../../src/api/upload.c"

#include <errno.h>
#include <limits.h>

#include "fuzz.h"

/* Reads plain decimal digits into *v; returns the end, or NULL on none or uint64 overflow. */
static const char *num(const char *s, unsigned long long *v)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return NULL;
    errno = 0;
    *v = strtoull(s, NULL, 10);
    return errno == ERANGE ? NULL : p;
}

/* RFC 9110 §14.4's complete-length form and unsatisfied "*", for one range. */
static bool oracle(const char *h, unsigned long long *first, unsigned long long *last)
{
    unsigned long long total;
    if (strncmp(h, "bytes ", 6) != 0)
        return false;
    const char *p = num(h + 6, first);
    if (!p || *p != '-' || !(p = num(p + 1, last)) || *p != '/' || *first > *last)
        return false;
    if (*first == 0 && *last == ULLONG_MAX) /* 2^64 bytes: the length does not fit */
        return false;
    p++;
    if (strcmp(p, "*") == 0)
        return true;
    return (p = num(p, &total)) && !*p && total > *last;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *h = fuzz_strndup(data, size);
    uint64_t a = 0, len = 0;
    err e = {0};
    int rc = parse_content_range(h, &a, &len, &e);
    unsigned long long first = 0, last = 0;
    bool want = oracle(h, &first, &last);
    if (rc == 0) {
        FUZZ_CHECK(want);
        FUZZ_CHECK(a == first && len >= 1 && a + (len - 1) == last);
    } else {
        FUZZ_CHECK(!want);
        FUZZ_CHECK(rc == -1 && e.kind == ERR_INVALID);
    }
    free(h);
    return 0;
}
