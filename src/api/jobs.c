/*
 * jobs.c: conversions (API.md §8): POST .../versions/{version}/convert queues one job per
 * target, GET /org/{org}/jobs[/{id}] reads them. The work itself is src/jobs/'s.
 */
#include "api/handlers.h"

#include <string.h>

#include "api/common.h"
#include "core/formats.h"
#include "core/name.h"
#include "jobs/jobs.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define MAX_TARGETS 16

json_t *api_job_json(const store_job *j)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o,"
                     " s:o}",
                     "id", j->id, "status", j->status, "model", j->model, "version", j->version,
                     "source_path", j->source_path, "source_format", j->source_format, "target",
                     j->target, "error", api_str(j->error), "stderr_tail",
                     api_str(j->stderr_tail), "attempts", (json_int_t)j->attempts,
                     "package_id", api_str(j->package_id), "output_path",
                     api_str(j->output_path), "created_at", api_time(j->created_at),
                     "updated_at", api_time(j->updated_at), "started_at",
                     api_time(j->started_at), "finished_at", api_time(j->finished_at));
}

static const field_spec convert_fields[] = {
    {"source_path", F_STR, 512, true},
    {"targets", F_STRLIST, 64, true},
};

static int do_convert(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_resource res;
    if (api_check_body(c, convert_fields, 2, &r->e) < 0)
        return -1;
    if (api_artifact_access(&o, &m, c, tx, ROLE_WRITER, &r->e) < 0 ||
        api_resolve_version(&v, c, tx, &m, api_param(c, "version"), &r->e) < 0)
        return -1;
    const char *src = api_body_str(c, "source_path");
    json_t *targets = json_object_get(c->body, "targets");
    if (json_array_size(targets) == 0 || json_array_size(targets) > MAX_TARGETS)
        return err_field_add(&r->e, "body", "targets", "value_error",
                             "1..%d target formats", MAX_TARGETS);
    if (store_resource_by_path(&res, tx, v.id, src, c->a, &r->e) < 0) {
        if (r->e.kind != ERR_NOT_FOUND)
            return -1;
        err_clear(&r->e);
        return err_field_add(&r->e, "body", "source_path", "value_error",
                             "no file '%.200s' in version %s", src, v.version);
    }
    char buf[32];
    const char *sfmt = arena_strdup(c->a, format_of_path(src, buf, sizeof(buf)));
    jobs *jq = c->app->jobs;
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        const char *tg = json_string_value(t);
        if (!jobs_has_converter(jq, sfmt, tg)) {
            json_t *pairs = jobs_pairs(jq);
            char *list = api_json_dump(pairs, c->a);
            json_decref(pairs);
            err_set(&r->e, ERR_VALIDATION, "no converter for %s:%.64s; configured: %s", sfmt, tg,
                    list);
            return err_field_add(&r->e, "body", "targets", "value_error",
                                 "no converter for %s:%.64s; configured pairs: %s", sfmt, tg,
                                 list);
        }
    }
    json_t *out = json_array();
    int64_t now = time_now_ms();
    const char *model = arena_printf(c->a, "%s/%s", o.slug, m.name);
    json_array_foreach(targets, i, t)
    {
        const char *tg = json_string_value(t);
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup = dup || strcmp(json_string_value(json_array_get(targets, k)), tg) == 0;
        if (dup)
            continue;
        char id[37];
        crypto_uuid7(id);
        store_job j = {.id = arena_strdup(c->a, id), .org_id = o.id, .artifact_id = m.id,
                       .version_id = v.id, .model = (char *)model, .version = v.version,
                       .source_path = (char *)src, .source_format = (char *)sfmt,
                       .target = (char *)tg, .status = "queued", .created_at = now,
                       .updated_at = now};
        if (store_job_insert(tx, &j, &r->e) < 0) {
            json_decref(out);
            return -1;
        }
        json_array_append_new(out, api_job_json(&j));
    }
    json_t *body = json_deep_copy(json_array_get(out, 0));
    json_object_set_new(body, "jobs", out);
    return api_json(r, 202, body);
}

int api_convert(api_reply *r, api_call *c)
{
    int rc = api_in_tx(r, c, true, do_convert);
    if (rc == 0)
        jobs_notify(c->app->jobs);
    return rc;
}

static int do_job_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_job j;
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0 ||
        store_job_get(&j, tx, o.id, api_param(c, "id"), c->a, &r->e) < 0)
        return -1;
    return api_json(r, 200, api_job_json(&j));
}

int api_job_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_job_get);
}

static int do_job_list(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_job *js;
    size_t n;
    int limit;
    const char *before = NULL;
    const char *st = api_query(c, "status");
    if (api_org_access(&o, c, tx, ROLE_READER, &r->e) < 0 || api_limit(&limit, c, &r->e) < 0 ||
        api_cursor_decode(&before, c, &r->e) < 0)
        return -1;
    if (st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0 &&
        strcmp(st, "succeeded") != 0 && strcmp(st, "failed") != 0)
        return err_field_add(&r->e, "query", "status", "enum",
                             "Input should be 'queued', 'running', 'succeeded' or 'failed'");
    if (store_job_list(&js, &n, tx, o.id, st, before, limit, c->a, &r->e) < 0)
        return -1;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, api_job_json(&js[i]));
    json_t *next = n == (size_t)limit ? json_string(api_cursor_encode(js[n - 1].id, c->a))
                                      : json_null();
    return api_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

int api_job_list(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_job_list);
}
