/*
 * path.h: the shape of a file path inside a version (API.md §6). Pure and thread-safe.
 */
#ifndef CAIRN_CORE_PATH_H
#define CAIRN_CORE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_MAX_LEN 512     /* longest file path, in bytes */
#define PATH_SEGMENT_MAX 255 /* longest segment between slashes, in bytes */

/*
 * Returns whether p[0..n) is an acceptable file path inside a version: 1..512 bytes of valid
 * UTF-8 (no overlongs, surrogates or code points past U+10FFFF), relative, segments of 1..255
 * bytes separated by '/', no "." or ".." segment, no backslash, NUL or control character
 * (< 0x20, 0x7f). Callers pass the percent-decoded path, so "%2e%2e" arrives as "..".
 */
bool path_is_valid(const char *p, size_t n);

/* Bytes path_disposition needs for a file name of n bytes, NUL included. */
#define PATH_DISPOSITION_SIZE(n) (48 + 4 * (n))

/*
 * Writes into out (cap >= PATH_DISPOSITION_SIZE(n)) a Content-Disposition value for the file
 * name name[0..n): `attachment; filename="F"; filename*=UTF-8''P` (RFC 6266). F is an ASCII
 * fallback where every byte outside [A-Za-z0-9._-] becomes '_', P the RFC 8187 percent-encoding
 * of the name; neither can close the quoted string or start another parameter. Returns out.
 */
char *path_disposition(char *out, size_t cap, const char *name, size_t n);

#endif
