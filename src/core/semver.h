/*
 * semver.h: SemVer 2.0.0 (https://semver.org) parsing, precedence and sort keys.
 */
#ifndef CAIRN_CORE_SEMVER_H
#define CAIRN_CORE_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEMVER_MAX 128 /* longest accepted version string, in bytes */

/* A parsed version; plain data, filled by semver_parse. */
typedef struct semver {
    uint64_t major, minor, patch;
    char pre[SEMVER_MAX + 1];   /* pre-release without '-', "" if none */
    char build[SEMVER_MAX + 1]; /* build metadata without '+', "" if none */
} semver;

/*
 * Returns 0 and fills *out (bytes past each string zeroed) if s[0..n) is SemVer 2.0.0, else -1
 * with *out untouched.
 * Strict: no leading 'v', no leading zeros in numeric parts or numeric pre-release identifiers,
 * no empty identifiers, only [0-9A-Za-z-] in identifiers, n <= SEMVER_MAX. major, minor and
 * patch must fit uint64; numeric pre-release identifiers may be longer (the spec sets no bound)
 * and still compare numerically.
 */
int semver_parse(semver *out, const char *s, size_t n);

/* Returns whether s[0..n) is a version semver_parse accepts. */
bool semver_is_valid(const char *s, size_t n);

/* Returns <0, 0 or >0 by SemVer precedence (§11); build metadata is ignored. */
int semver_cmp(const semver *a, const semver *b);

/* Returns semver_cmp of two NUL-terminated strings, both of which must be valid (assert). */
int semver_cmp_str(const char *a, const char *b);

/*
 * Returns the length of the canonical string (with build metadata), not counting the NUL;
 * writes as much as fits, NUL-terminated, into buf when cap > 0 (like snprintf).
 */
size_t semver_format(char *buf, size_t cap, const semver *v);

/*
 * Sort key: a NUL-terminated string such that, for any two versions, strcmp(key(a), key(b))
 * has the sign of semver_cmp(a, b); ORDER BY key under C/binary collation is precedence
 * order. Build metadata is left out, so equal precedence gives an equal key (usable as a
 * uniqueness key). Only printable ASCII 0x21..0x7E appears in a key.
 */
#define SEMVER_KEY_MAX 512 /* a cap that always suffices for semver_sort_key */

/* Returns 0 after writing v's sort key into buf, or -1 (buf unspecified) if cap is too small. */
int semver_sort_key(char *buf, size_t cap, const semver *v);

#endif
