/*
 * lifecycle.h: the version lifecycle draft -> published -> deprecated (API.md §5).
 */
#ifndef CAIRN_LIFECYCLE_H
#define CAIRN_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

typedef enum lifecycle_event { LIFECYCLE_PUBLISH, LIFECYCLE_DEPRECATE } lifecycle_event;

/* True for "draft", "published", "deprecated". */
bool lifecycle_is_valid(const char *s);
/* Sets *next to the state after ev from cur; ERR_CONFLICT if the move is illegal. */
int lifecycle_next(const char **next, const char *cur, lifecycle_event ev, err *e);
/* True if field may change in a version of lifecycle cur (published content is immutable). */
bool lifecycle_field_mutable(const char *cur, const char *field);
/* 0 if a version with these resource counts may be published, else ERR_VALIDATION. */
int lifecycle_check_publishable(int64_t resources, int64_t unverified, err *e);

#endif
