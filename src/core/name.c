/*
 * name.c: validation predicates for names, slugs, aliases, UUIDs and roles (API.md §1).
 */
#include "core/name.h"

#include <string.h>

#include "core/semver.h"

/* ASCII classes by hand: <ctype.h> depends on the locale and takes int, not char. */
static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_lower(c) || is_upper(c) || is_digit(c);
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether s[0..n) is exactly the NUL-terminated word w. */
static bool equals(const char *s, size_t n, const char *w)
{
    return n == strlen(w) && memcmp(s, w, n) == 0;
}

bool name_is_valid(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN || !is_alnum(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

bool name_is_reserved(const char *s, size_t n)
{
    return equals(s, n, "facets") || equals(s, n, "bulk") || equals(s, n, "export.csv") ||
           uuid_is_valid(s, n);
}

bool name_is_slug_shaped(const char *s, size_t n)
{
    if (!name_is_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (is_upper(s[i]))
            return false;
    return true;
}

bool slug_is_valid(const char *s, size_t n)
{
    if (n < 2 || n > SLUG_MAX_LEN || !(is_lower(s[0]) || is_digit(s[0])))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool alias_is_valid(const char *s, size_t n)
{
    return name_is_valid(s, n) && !semver_is_valid(s, n) && !equals(s, n, "latest") &&
           !uuid_is_valid(s, n);
}

bool resource_kind_is_valid(const char *s, size_t n)
{
    return n <= 64 && name_is_valid(s, n);
}

bool uuid_is_valid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

int role_rank(const char *s, size_t n)
{
    if (equals(s, n, "reader"))
        return 1;
    if (equals(s, n, "writer"))
        return 2;
    if (equals(s, n, "admin"))
        return 3;
    return 0;
}

static bool name_byte(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

static bool alnum_byte(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

size_t name_from_title(char *out, size_t cap, const char *title)
{
    size_t n = 0, max = cap > NAME_MAX_LEN ? NAME_MAX_LEN : (cap ? cap - 1 : 0);
    bool gap = false;
    for (const char *p = title; *p && n < max; p++) {
        if (!name_byte(*p)) {
            gap = n > 0;
            continue;
        }
        if (n == 0 && !alnum_byte(*p))
            continue;
        if (gap) {
            out[n++] = '-';
            gap = false;
            if (n == max)
                break;
        }
        out[n++] = *p;
    }
    while (n > 0 && !alnum_byte(out[n - 1]))
        n--;
    if (cap)
        out[n] = '\0';
    return n;
}
