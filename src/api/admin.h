/*
 * admin.h: maintenance shared by `cairnd gc|fsck` and POST /api/v1/admin/gc.
 */
#ifndef CAIRN_ADMIN_H
#define CAIRN_ADMIN_H

#include <jansson.h>

#include "app.h"
#include "util/err.h"

/* Purges soft-deleted rows past the retention window, expired upload sessions, stale
 * temporaries, and blobs nothing references that are older than the window. Sets *report
 * to a new object of counts. */
int admin_gc(json_t **report, const app *ap, err *e);
/* Re-hashes every blob and checks every referenced blob exists. Sets *report; *broken is
 * the number of mismatched or missing blobs (orphans past the window count too). */
int admin_fsck(json_t **report, int64_t *broken, const app *ap, err *e);
/* Rebuilds the derived views of the catalog (facet rows, full-text entries) and drops the
 * response and manifest caches. Sets *report to {refreshed_views, invalidated_tags,
 * artifacts, responses_dropped}. */
int admin_refresh(json_t **report, const app *ap, err *e);

#endif
