/*
 * fuzz_range.c: the Range header of a download, through the server's own parse_range() (this
 * file includes src/http/server.c). Input: 8 bytes of file size (little-endian), then the
 * header value. Invariants: a satisfiable range lies inside the file and is not empty; only
 * RFC 9110's grammar for one range, "bytes=FIRST-[LAST]" or "bytes=-SUFFIX" with plain digits,
 * is accepted (anything else is 400, or ignored when the unit is not "bytes"); an accepted
 * range re-parses to itself when written back as "bytes=OFF-END".
 */
#include "../../src/http/server.c"

#include "fuzz.h"

static bool digits(const char *s, const char *end)
{
    if (s == end)
        return false;
    for (; s < end; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Whether h is one byte-range-spec or suffix-byte-range-spec after "bytes=". */
static bool grammar_ok(const char *h)
{
    const char *p = h + 6, *end = p + strlen(p);
    const char *dash = strchr(p, '-');
    if (!dash)
        return false;
    if (dash == p)
        return digits(p + 1, end);
    return digits(p, dash) && (dash + 1 == end || digits(dash + 1, end));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 4096)
        return 0;
    uint64_t fsize = 0;
    for (int i = 7; i >= 0; i--)
        fsize = fsize << 8 | data[i];
    char *h = fuzz_strndup(data + 8, size - 8);
    uint64_t off = 0, len = 0;
    err e = {0};
    int rc = parse_range(h, fsize, &off, &len, &e);
    bool unit = strncmp(h, "bytes=", 6) == 0;
    if (rc == 0) {
        FUZZ_CHECK(!unit);
    } else if (rc < 0) {
        FUZZ_CHECK(unit && (e.kind == ERR_INVALID || e.kind == ERR_RANGE));
        if (e.kind == ERR_RANGE)
            FUZZ_CHECK(grammar_ok(h));
    } else {
        FUZZ_CHECK(rc == 1 && unit);
        FUZZ_CHECK(grammar_ok(h));
        FUZZ_CHECK(len >= 1 && off < fsize && len <= fsize - off);
        char again[64];
        snprintf(again, sizeof(again), "bytes=%llu-%llu", (unsigned long long)off,
                 (unsigned long long)(off + len - 1));
        uint64_t off2 = 0, len2 = 0;
        err e2 = {0};
        FUZZ_CHECK(parse_range(again, fsize, &off2, &len2, &e2) == 1);
        FUZZ_CHECK(off2 == off && len2 == len);
    }
    free(h);
    return 0;
}
