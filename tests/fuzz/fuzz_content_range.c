/*
 * fuzz_content_range.c: the Content-Range header of a resumable upload's PATCH, through the
 * upload handler's own parse_content_range() (this file includes src/api/upload.c). Input: the
 * header value. Invariants: exactly "bytes FIRST-LAST/TOTAL" with plain decimal digits,
 * FIRST <= LAST, and TOTAL "*" or a byte count is accepted; the range it gives starts at FIRST,
 * is not empty and ends at LAST (no wrap-around), and TOTAL comes back as given (-1 for "*").
 * Whether LAST lies inside TOTAL is the caller's check (416), not the parser's.
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

/* RFC 9110 §14.4's form for one range; TOTAL is "*" (-1) or a byte count up to INT64_MAX
 * (whether LAST lies inside it is the caller's check: 416). */
static bool oracle(const char *h, unsigned long long *first, unsigned long long *last,
                   long long *total)
{
    unsigned long long t;
    if (strncmp(h, "bytes ", 6) != 0)
        return false;
    const char *p = num(h + 6, first);
    if (!p || *p != '-' || !(p = num(p + 1, last)) || *p != '/' || *first > *last)
        return false;
    if (*first == 0 && *last == ULLONG_MAX) /* 2^64 bytes: the length does not fit */
        return false;
    p++;
    *total = -1;
    if (strcmp(p, "*") == 0)
        return true;
    if (!(p = num(p, &t)) || *p || t > INT64_MAX)
        return false;
    *total = (long long)t;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *h = fuzz_strndup(data, size);
    uint64_t a = 0, len = 0;
    int64_t total = -2;
    err e = {0};
    int rc = parse_content_range(h, &a, &len, &total, &e);
    unsigned long long first = 0, last = 0;
    long long want_total = -2;
    bool want = oracle(h, &first, &last, &want_total);
    if (rc == 0) {
        FUZZ_CHECK(want);
        FUZZ_CHECK(a == first && len >= 1 && a + (len - 1) == last);
        FUZZ_CHECK(total == want_total);
    } else {
        FUZZ_CHECK(!want);
        FUZZ_CHECK(rc == -1 && e.kind == ERR_INVALID);
    }
    free(h);
    return 0;
}
