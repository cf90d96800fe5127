/*
 * rollup.c: compaction of telemetry partials into per-minute, per-hour and per-day rollup
 * rows (see jobs.h). One transaction takes a set of partials (on PostgreSQL skipping those
 * another instance is compacting), merges them per row in memory, updates each row once, in
 * key order (so two instances never deadlock), and deletes the partials: a reader sees every
 * event exactly once, in a partial or in a rollup.
 */
#include "jobs/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"
#include "util/log.h"
#include "util/timeutil.h"

static const int64_t level_ms[3] = {60000, 3600000, 86400000};

typedef struct ref {
    int level;
    int64_t start;
    const store_rollup *p;
} ref;

static int cmp_ref(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    int c = strcmp(x->p->org_id, y->p->org_id);
    if (!c)
        c = strcmp(x->p->artifact_id, y->p->artifact_id);
    if (!c)
        c = x->level - y->level;
    if (!c)
        c = x->start < y->start ? -1 : x->start > y->start;
    if (!c)
        c = strcmp(x->p->version, y->p->version);
    return c;
}

static bool same_key(const ref *x, const ref *y)
{
    return x->level == y->level && x->start == y->start &&
           strcmp(x->p->org_id, y->p->org_id) == 0 &&
           strcmp(x->p->artifact_id, y->p->artifact_id) == 0 &&
           strcmp(x->p->version, y->p->version) == 0;
}

static void add_counts(store_rollup *into, const store_rollup *p)
{
    if (p->count == 0)
        return;
    if (into->count == 0 || p->min_us < into->min_us)
        into->min_us = p->min_us;
    if (into->count == 0 || p->max_us > into->max_us)
        into->max_us = p->max_us;
    into->count += p->count;
    into->errors += p->errors;
    into->sum_us += p->sum_us;
}

int jobs_rollup_compact(int64_t *compacted, store *ts, int limit, err *e)
{
    arena *a = arena_create();
    store_tx *tx = NULL;
    ref *refs = NULL;
    hist *h = malloc(sizeof(hist));
    char *text = malloc(HIST_TEXT_MAX);
    int rc = -1;
    *compacted = 0;
    store_rollup *ps;
    size_t n;
    if (!h || !text) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    hist_init(h);
    if (store_tx_begin(&tx, ts, true, e) < 0)
        goto out;
    int claimed = store_compaction_claim(tx, e);
    if (claimed < 0)
        goto out;
    if (claimed == 0) { /* another instance is compacting: its turn */
        rc = 0;
        goto out;
    }
    if (store_partials_take(&ps, &n, tx, limit, a, e) < 0)
        goto out;
    if (n == 0) {
        rc = 0;
        goto out;
    }
    refs = malloc(sizeof(ref) * n * 3);
    if (!refs) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (int l = 0; l < 3; l++)
            refs[3 * i + (size_t)l] = (ref){l, ps[i].start - ps[i].start % level_ms[l], &ps[i]};
    qsort(refs, 3 * n, sizeof(ref), cmp_ref);
    /* One delta per rollup row (keys in order: instances never deadlock), added in a few
     * multi-row upserts; then the merged histograms written back the same way. A row of one
     * partial takes that partial's histogram text as it is; when the upsert creates it (the
     * common case of a minute row) nothing is merged or written back. */
    store_rollup *rows = arena_array(a, store_rollup, 3 * n);
    size_t *first = arena_array(a, size_t, 3 * n + 1);
    size_t nrows = 0;
    for (size_t i = 0; i < 3 * n;) {
        size_t j = i;
        while (j < 3 * n && same_key(&refs[i], &refs[j]))
            j++;
        store_rollup *row = &rows[nrows];
        first[nrows++] = i;
        *row = (store_rollup){NULL, refs[i].p->org_id, refs[i].p->artifact_id, refs[i].p->version,
                              refs[i].level, refs[i].start, 0, 0, 0, 0, 0,
                              j - i == 1 && refs[i].p->count > 0 ? refs[i].p->hist : NULL};
        for (size_t k = i; k < j; k++)
            add_counts(row, refs[k].p);
        i = j;
    }
    first[nrows] = 3 * n;
    char **old = arena_array(a, char *, nrows);
    if (store_rollups_add(old, tx, rows, nrows, a, e) < 0)
        goto out;
    store_rollup *merged = arena_array(a, store_rollup, nrows);
    size_t nmerged = 0;
    for (size_t r = 0; r < nrows; r++) {
        size_t i = first[r], j = first[r + 1];
        if (!old[r] && rows[r].hist)
            continue; /* created from its one partial: already whole */
        hist_clear(h);
        if (old[r] && hist_decode_add(h, old[r]) < 0)
            log_warn(NULL, "telemetry.bad_rollup", "s:s", "artifact", rows[r].artifact_id);
        for (size_t k = i; k < j; k++)
            if (hist_decode_add(h, refs[k].p->hist) < 0)
                log_warn(NULL, "telemetry.bad_partial", "s:s", "id", refs[k].p->id);
        int len = hist_encode(text, HIST_TEXT_MAX, h);
        if (len < 0) {
            err_set(e, ERR_SERVER, "histogram too large");
            goto out;
        }
        merged[nmerged] = rows[r];
        merged[nmerged++].hist = arena_strdup(a, text);
    }
    if (store_rollups_set_hist(tx, merged, nmerged, e) < 0)
        goto out;
    if (store_partials_delete(tx, ps, n, e) < 0)
        goto out;
    *compacted = (int64_t)n;
    rc = 0;
out:
    if (store_tx_end(tx, rc == 0, e) < 0)
        rc = -1;
    free(refs);
    free(h);
    free(text);
    arena_free(a);
    return rc;
}
