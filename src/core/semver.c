/*
 * semver.c: SemVer 2.0.0 parsing, precedence and sort keys.
 */
#include "core/semver.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/*
 * Sort key layout. The three numbers are zero-padded to 20 digits (UINT64_MAX has 20), so
 * bytewise order is numeric order. After them comes KEY_RELEASE alone, or one KEY_SEP-led
 * entry per pre-release identifier. KEY_SEP sorts below every identifier byte, so a shorter
 * identifier that is a prefix of a longer one sorts first, and so does a shorter identifier
 * list; KEY_RELEASE sorts above KEY_SEP, so a release follows its pre-releases. A numeric
 * identifier is KEY_NUM, its digit count in three digits, then its digits (no leading zeros, so
 * longer means larger); an alphanumeric one is KEY_ALNUM then its bytes. KEY_NUM < KEY_ALNUM.
 */
#define KEY_SEP '!'
#define KEY_NUM '#'
#define KEY_ALNUM '$'
#define KEY_RELEASE '~'
#define KEY_NUM_WIDTH 3 /* digits of a numeric identifier's length; ids are < SEMVER_MAX long */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* Reads a numeric part at s[*pos..n): digits, no leading zero, no uint64 overflow. */
static int parse_number(uint64_t *out, const char *s, size_t n, size_t *pos)
{
    size_t start = *pos, i = *pos;
    uint64_t v = 0;

    while (i < n && is_digit(s[i])) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        i++;
    }
    if (i == start || (s[start] == '0' && i - start > 1))
        return -1;
    *out = v;
    *pos = i;
    return 0;
}

/* Checks a dot-separated identifier list; numeric pre-release identifiers take no leading 0. */
static int check_idents(const char *s, size_t n, bool pre)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_ident_char(s[i]))
                return -1;
            continue;
        }
        size_t len = i - start;
        if (len == 0)
            return -1;
        if (pre && len > 1 && s[start] == '0' && all_digits(s + start, len))
            return -1;
        start = i + 1;
    }
    return 0;
}

int semver_parse(semver *out, const char *s, size_t n)
{
    semver v;
    size_t pos = 0;

    if (s == NULL || n == 0 || n > SEMVER_MAX)
        return -1;
    memset(&v, 0, sizeof v); /* zero tails: parsed copies of one string compare equal bytewise */
    if (parse_number(&v.major, s, n, &pos) < 0 || pos >= n || s[pos++] != '.')
        return -1;
    if (parse_number(&v.minor, s, n, &pos) < 0 || pos >= n || s[pos++] != '.')
        return -1;
    if (parse_number(&v.patch, s, n, &pos) < 0)
        return -1;

    if (pos < n && s[pos] == '-') {
        pos++;
        const char *plus = memchr(s + pos, '+', n - pos);
        size_t len = plus ? (size_t)(plus - (s + pos)) : n - pos;
        if (check_idents(s + pos, len, true) < 0)
            return -1;
        memcpy(v.pre, s + pos, len);
        pos += len;
    }

    if (pos < n && s[pos] == '+') {
        pos++;
        size_t len = n - pos;
        if (check_idents(s + pos, len, false) < 0)
            return -1;
        memcpy(v.build, s + pos, len);
        pos += len;
    }

    if (pos != n)
        return -1;
    *out = v;
    return 0;
}

bool semver_is_valid(const char *s, size_t n)
{
    semver v;
    return semver_parse(&v, s, n) == 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

/* §11.4: numeric < alphanumeric; numbers by value, which for canonical digits is by length. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    bool anum = all_digits(a, an), bnum = all_digits(b, bn);

    if (anum != bnum)
        return anum ? -1 : 1;
    if (anum && an != bn)
        return an < bn ? -1 : 1;
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return cmp_u64(an, bn);
}

static int cmp_pre(const char *a, const char *b)
{
    if (*a == '\0' || *b == '\0')
        return (*a == '\0') - (*b == '\0'); /* a release outranks its pre-releases */
    for (;;) {
        size_t an = strcspn(a, "."), bn = strcspn(b, ".");
        int c = cmp_ident(a, an, b, bn);
        if (c != 0)
            return c;
        a += an;
        b += bn;
        if (*a == '\0' || *b == '\0')
            return (*a != '\0') - (*b != '\0'); /* more identifiers rank higher */
        a++;
        b++;
    }
}

int semver_cmp(const semver *a, const semver *b)
{
    int c = cmp_u64(a->major, b->major);
    if (c == 0)
        c = cmp_u64(a->minor, b->minor);
    if (c == 0)
        c = cmp_u64(a->patch, b->patch);
    if (c == 0)
        c = cmp_pre(a->pre, b->pre);
    return c;
}

int semver_cmp_str(const char *a, const char *b)
{
    semver va = {0}, vb = {0};
    int ra = semver_parse(&va, a, strlen(a));
    int rb = semver_parse(&vb, b, strlen(b));

    assert(ra == 0 && rb == 0);
    (void)ra;
    (void)rb;
    return semver_cmp(&va, &vb);
}

size_t semver_format(char *buf, size_t cap, const semver *v)
{
    /* C11 7.21.6.5: with cap 0, buf may be NULL and nothing is written. */
    int r = snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "%s%s%s%s", v->major, v->minor,
                     v->patch, v->pre[0] ? "-" : "", v->pre, v->build[0] ? "+" : "", v->build);
    assert(r >= 0);
    return r < 0 ? 0 : (size_t)r;
}

/* A bounded writer for the key; once full it stays full. */
typedef struct keybuf {
    char *p;
    size_t cap, len;
    bool full;
} keybuf;

static void key_put(keybuf *k, const char *s, size_t n)
{
    if (k->full || n >= k->cap - k->len) { /* keep a byte for the NUL */
        k->full = true;
        return;
    }
    memcpy(k->p + k->len, s, n);
    k->len += n;
}

static void key_putc(keybuf *k, char c)
{
    key_put(k, &c, 1);
}

static void key_number(keybuf *k, uint64_t x)
{
    char d[21];
    int r = snprintf(d, sizeof d, "%020" PRIu64, x);
    key_put(k, d, (size_t)r);
}

int semver_sort_key(char *buf, size_t cap, const semver *v)
{
    keybuf k = {buf, cap, 0, cap == 0};

    key_number(&k, v->major);
    key_putc(&k, '.');
    key_number(&k, v->minor);
    key_putc(&k, '.');
    key_number(&k, v->patch);

    if (v->pre[0] == '\0')
        key_putc(&k, KEY_RELEASE);
    for (const char *p = v->pre; *p != '\0';) {
        size_t n = strcspn(p, ".");
        key_putc(&k, KEY_SEP);
        if (all_digits(p, n)) {
            char len[KEY_NUM_WIDTH + 1];
            assert(n < 1000);
            snprintf(len, sizeof len, "%03zu", n);
            key_putc(&k, KEY_NUM);
            key_put(&k, len, KEY_NUM_WIDTH);
        } else {
            key_putc(&k, KEY_ALNUM);
        }
        key_put(&k, p, n);
        p += n;
        if (*p == '.')
            p++;
    }

    if (k.full)
        return -1;
    buf[k.len] = '\0';
    return 0;
}
