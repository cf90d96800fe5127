/*
 * fuzz.h: what the libFuzzer harnesses of tests/fuzz share. A harness checks invariants of the
 * parser it drives, not only that it returns: a broken one is reported with FUZZ_CHECK, which
 * aborts, so libFuzzer saves the input as a crash artifact like any sanitizer report.
 */
#ifndef CAIRN_FUZZ_H
#define CAIRN_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Returns a malloc'd NUL-terminated copy of p[0..n) (embedded NULs kept); aborts on OOM. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Splits p[0..n) at its first '\n': the head is [0..*head_n), the rest starts at the return.
 * Without a newline the head is everything and the rest is empty. */
static inline const uint8_t *fuzz_split(const uint8_t *p, size_t n, size_t *head_n, size_t *rest_n)
{
    const uint8_t *nl = n ? memchr(p, '\n', n) : NULL;
    if (!nl) {
        *head_n = n;
        *rest_n = 0;
        return p + n;
    }
    *head_n = (size_t)(nl - p);
    *rest_n = n - *head_n - 1;
    return nl + 1;
}

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF). */
static inline bool fuzz_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

#endif
