/*
 * path.c: file paths inside a version. A path names a blob to the outside world and may end
 * up in a filesystem or an archive, so traversal, separators and control bytes are refused.
 */
#include "core/path.h"

#include <stdint.h>

/* Returns the length of the UTF-8 sequence at s[0..n) (1..4), or 0 when it is invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* the range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else
        return 0;
    if (len > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

bool path_is_valid(const char *p, size_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    size_t seg = 0; /* where the current segment starts */

    if (p == NULL || n == 0 || n > PATH_MAX_LEN)
        return false;
    for (size_t i = 0; i <= n;) {
        if (i == n || s[i] == '/') {
            size_t len = i - seg;
            if (len == 0 || len > PATH_SEGMENT_MAX)
                return false; /* also a leading '/', "a//b" and a trailing '/' */
            if (s[seg] == '.' && (len == 1 || (len == 2 && s[seg + 1] == '.')))
                return false;
            seg = ++i;
            continue;
        }
        if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\')
            return false;
        size_t k = utf8_len(s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static bool fallback_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* RFC 8187 attr-char: ALPHA DIGIT and !#$&+-.^_`|~ go as they are, the rest is %XX. */
static bool attr_char(uint8_t c)
{
    return fallback_char(c) || c == '!' || c == '#' || c == '$' || c == '&' || c == '+' ||
           c == '^' || c == '`' || c == '|' || c == '~';
}

char *path_disposition(char *out, size_t cap, const char *name, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char head[] = "attachment; filename=\"";
    static const char mid[] = "\"; filename*=UTF-8''";
    const uint8_t *s = (const uint8_t *)name;
    size_t w = 0;

    if (cap < PATH_DISPOSITION_SIZE(n)) {
        if (cap)
            out[0] = '\0';
        return out;
    }
    for (const char *h = head; *h; h++)
        out[w++] = *h;
    for (size_t i = 0; i < n; i++)
        out[w++] = fallback_char(s[i]) ? (char)s[i] : '_';
    for (const char *h = mid; *h; h++)
        out[w++] = *h;
    for (size_t i = 0; i < n; i++) {
        if (attr_char(s[i])) {
            out[w++] = (char)s[i];
        } else {
            out[w++] = '%';
            out[w++] = hex[s[i] >> 4];
            out[w++] = hex[s[i] & 15];
        }
    }
    out[w] = '\0';
    return out;
}
