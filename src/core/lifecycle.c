/*
 * lifecycle.c: version lifecycle rules.
 */
#include "core/lifecycle.h"

#include <string.h>

bool lifecycle_is_valid(const char *s)
{
    return s && (strcmp(s, "draft") == 0 || strcmp(s, "published") == 0 ||
                 strcmp(s, "deprecated") == 0);
}

int lifecycle_next(const char **next, const char *cur, lifecycle_event ev, err *e)
{
    if (ev == LIFECYCLE_PUBLISH) {
        if (strcmp(cur, "draft") != 0)
            return err_set(e, ERR_CONFLICT, "only a draft can be published (it is %s)", cur);
        *next = "published";
        return 0;
    }
    if (strcmp(cur, "published") != 0)
        return err_set(e, ERR_CONFLICT, "only a published version can be deprecated (it is %s)",
                       cur);
    *next = "deprecated";
    return 0;
}

bool lifecycle_field_mutable(const char *cur, const char *field)
{
    if (strcmp(cur, "draft") == 0)
        return strcmp(field, "version") != 0;
    return strcmp(field, "summary") == 0 || strcmp(field, "changelog") == 0;
}

int lifecycle_check_publishable(int64_t resources, int64_t unverified, err *e)
{
    if (resources < 1)
        return err_field_add(e, "body", "resources", "value_error",
                             "a version needs at least one file before it can be published");
    if (unverified > 0)
        return err_field_add(e, "body", "resources", "value_error",
                             "%lld file(s) have no verified sha256 yet", (long long)unverified);
    return 0;
}
