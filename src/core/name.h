/*
 * name.h: validation predicates for artifact names, org slugs, aliases, UUIDs and roles.
 * All take bytes with their length (no NUL needed) and are pure and thread-safe.
 */
#ifndef CAIRN_CORE_NAME_H
#define CAIRN_CORE_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 96 /* longest artifact local name, in bytes */
#define SLUG_MAX_LEN 39 /* longest org slug, in bytes */

/* Returns whether s[0..n) is an artifact local name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$. */
bool name_is_valid(const char *s, size_t n);

/* Returns whether s[0..n) cannot be an artifact name though name_is_valid: a route word
 * (facets, bulk, export.csv) or UUID-shaped ({name} in a path may be an id). Every way of
 * making a name (create, duplicate, a version's auto-create) checks this. */
bool name_is_reserved(const char *s, size_t n);

/* Returns whether s[0..n) is a valid name without uppercase (creating a version auto-creates
 * the model). */
bool name_is_slug_shaped(const char *s, size_t n);

/* Writes into out (cap >= NAME_MAX_LEN + 1) a local name made from a display title: runs of
 * bytes a name cannot hold become one '-', leading and trailing '.', '_' and '-' are dropped,
 * cut to NAME_MAX_LEN. Returns its length: 0 when the title has no letter or digit. */
size_t name_from_title(char *out, size_t cap, const char *title);

/* Returns whether s[0..n) is an org slug: ^[a-z0-9][a-z0-9-]{1,38}$. */
bool slug_is_valid(const char *s, size_t n);

/* Returns whether a user may set s[0..n) as an alias: a valid name, not a valid SemVer, not
 * "latest", not UUID-shaped. */
bool alias_is_valid(const char *s, size_t n);

/* Returns whether s[0..n) is a resource kind (`?kind=` of a file PUT, `extras_kind`, `kind` of
 * a direct upload or session): ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ("weights", "config"). */
bool resource_kind_is_valid(const char *s, size_t n);

/* Returns whether s[0..n) is an 8-4-4-4-12 hex UUID, in either case. */
bool uuid_is_valid(const char *s, size_t n);

/* Returns the rank of a token or artifact role: reader 1, writer 2, admin 3, anything else 0. */
int role_rank(const char *s, size_t n);

#endif
