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

#endif
