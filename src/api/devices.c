/*
 * devices.c: device intelligence (API.md §8): the device profiles, a model's compatibility
 * with devices and its optimization plan, from the chosen version's parameter count (read from
 * its weights' headers at upload), or else its size, and its format. The rules are
 * core/devices.c's; this file only gathers the inputs and encodes the answers.
 */
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common.h"
#include "core/devices.h"
#include "util/timeutil.h"

int api_device_profiles(api_reply *r, api_call *c)
{
    const device_catalog *cat = c->app->devices;
    json_t *items = json_array();
    for (size_t i = 0; i < devices_count(cat); i++)
        json_array_append_new(items, device_profile_json(devices_at(cat, i)));
    return api_json_etag(r, c, 200,
                         json_pack("{s:o, s:I, s:n}", "items", items, "total",
                                   (json_int_t)devices_count(cat), "next_cursor"));
}

/* The precision of a file recorded in the version's metadata (its parsed header). */
static precision file_precision(const json_t *files, const char *path)
{
    json_t *info = json_object_get(files, path);
    if (!info)
        return PREC_UNKNOWN;
    const char *q = json_string_value(json_object_get(info, "quantization"));
    if (q)
        return precision_of_gguf(q);
    json_t *dtypes = json_object_get(info, "dtypes");
    const char *k, *best = NULL;
    json_t *v;
    json_int_t most = -1;
    json_object_foreach(dtypes, k, v)
    {
        if (json_integer_value(v) > most) {
            most = json_integer_value(v);
            best = k;
        }
    }
    return precision_of_dtype(best);
}

void api_device_pkgs(device_pkg *out, const store_version *v, const store_package *ps,
                     size_t np, const store_resource *rs, size_t nr)
{
    json_t *meta = api_json_text(v->metadata, "{}");
    json_t *files = json_object_get(meta, "files");
    for (size_t i = 0; i < np; i++) {
        size_t base;
        out[i].format = ps[i].format;
        out[i].size_bytes = ps[i].size_bytes;
        out[i].prec = precision_of_format(ps[i].format, &base);
        for (size_t k = 0; out[i].prec == PREC_UNKNOWN && k < nr; k++)
            if (strcmp(rs[k].package_id, ps[i].id) == 0 && rs[k].primary)
                out[i].prec = file_precision(files, rs[k].path);
    }
    json_decref(meta);
}

/* What the rules need to know of one version. */
typedef struct model_view {
    store_org o;
    store_artifact m;
    store_version v;
    store_package *ps;
    size_t np;
    device_pkg *pkgs;
    int64_t params, size;
    const char *params_from; /* "header" or "size" */
    const char *format;      /* of the original package, else the model's framework */
    precision prec;          /* of the original package */
} model_view;

static int load_view(model_view *w, api_call *c, store_tx *tx, const char *ref, err *e)
{
    if (strcmp(api_param(c, "kind"), "models") != 0)
        return err_set(e, ERR_NOT_FOUND, "device intelligence applies to models only");
    if (api_artifact_access(&w->o, &w->m, c, tx, ROLE_READER, e) < 0 ||
        api_resolve_version(&w->v, c, tx, &w->m, ref && *ref ? ref : "latest", e) < 0)
        return -1;
    store_resource *rs;
    size_t nr;
    if (store_package_list(&w->ps, &w->np, tx, w->v.id, c->a, e) < 0 ||
        store_resource_list(&rs, &nr, tx, w->v.id, NULL, c->a, e) < 0)
        return -1;
    w->pkgs = arena_array(c->a, device_pkg, w->np ? w->np : 1);
    api_device_pkgs(w->pkgs, &w->v, w->ps, w->np, rs, nr);
    /* The original package: the first that is not a conversion. */
    size_t orig = 0;
    while (orig < w->np && strcmp(w->ps[orig].kind, "converted") == 0)
        orig++;
    if (orig == w->np)
        orig = 0;
    w->format = w->np ? w->ps[orig].format : w->m.framework;
    w->prec = w->np ? w->pkgs[orig].prec : PREC_UNKNOWN;
    w->size = w->np ? w->ps[orig].size_bytes : w->v.size_bytes;
    if (w->v.parameter_count > 0) {
        w->params = w->v.parameter_count;
        w->params_from = "header";
    } else {
        w->params = devices_params_of_size(w->size, w->prec);
        w->params_from = "size";
    }
    return 0;
}

/* Reads the device ids of a list (JSON array or comma-separated text) into the arena; every
 * unknown id is a 422 at loc. NULL/empty: every profile. */
static int device_list(const device_profile ***out, size_t *n, api_call *c, const json_t *arr,
                       const char *text, const char *loc0, const char *loc1, err *e)
{
    const device_catalog *cat = c->app->devices;
    size_t cap = devices_count(cat) + 1;
    const device_profile **ps = arena_array(c->a, const device_profile *, cap);
    size_t k = 0;
    if ((!arr || json_array_size(arr) == 0) && (!text || !*text)) {
        for (size_t i = 0; i < devices_count(cat); i++)
            ps[k++] = devices_at(cat, i);
    } else if (arr) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            const device_profile *p = devices_find(cat, json_string_value(v));
            if (!p)
                err_field_add(e, loc0, loc1, "value_error",
                              "unknown device '%.64s' (see GET /api/v1/device-profiles)",
                              json_string_value(v));
            else if (k < cap)
                ps[k++] = p;
        }
    } else {
        char *copy = arena_strdup(c->a, text), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            const device_profile *p = devices_find(cat, t);
            if (!p)
                err_field_add(e, loc0, loc1, "value_error",
                              "unknown device '%.64s' (see GET /api/v1/device-profiles)", t);
            else if (k < cap)
                ps[k++] = p;
        }
    }
    if (e->kind != ERR_NONE)
        return -1;
    *out = ps;
    *n = k;
    return 0;
}

static json_t *by_precision(int64_t params)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "fp32",
                     (json_int_t)devices_required_memory(devices_weight_bytes(params, PREC_FP32)),
                     "fp16",
                     (json_int_t)devices_required_memory(devices_weight_bytes(params, PREC_FP16)),
                     "int8",
                     (json_int_t)devices_required_memory(devices_weight_bytes(params, PREC_INT8)),
                     "int4",
                     (json_int_t)devices_required_memory(devices_weight_bytes(params, PREC_INT4)));
}

static json_t *model_json(const model_view *w, api_call *c)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:I, s:o}", "model",
                     arena_printf(c->a, "%s/%s", w->o.slug, w->m.name), "version", w->v.version,
                     "parameter_count", (json_int_t)w->params, "parameter_source",
                     w->params_from, "source_precision",
                     precision_name(w->prec == PREC_UNKNOWN ? PREC_FP32 : w->prec), "format",
                     api_str(w->format), "size_bytes", (json_int_t)w->size,
                     "required_memory_bytes", by_precision(w->params));
}

static const field_spec compat_fields[] = {
    {"devices", F_STRLIST, 64, false},
    {"version", F_STR, 256, false},
};

static int do_compat(api_reply *r, api_call *c, store_tx *tx)
{
    model_view w = {0};
    const device_profile **ds;
    size_t nd;
    if (api_check_body(c, compat_fields, 2, &r->e) < 0)
        return -1;
    if (load_view(&w, c, tx, api_body_str(c, "version"), &r->e) < 0 ||
        device_list(&ds, &nd, c, c->body ? json_object_get(c->body, "devices") : NULL, NULL,
                    "body", "devices", &r->e) < 0)
        return -1;
    json_t *out = json_array();
    for (size_t i = 0; i < nd; i++) {
        const device_profile *p = ds[i];
        json_t *reasons = json_array();
        int pick = devices_pick(p, w.pkgs, w.np, reasons);
        int64_t need;
        const char *runtime = NULL;
        if (pick >= 0) {
            need = devices_required_memory(w.pkgs[pick].size_bytes);
            runtime = w.pkgs[pick].format;
            json_array_clear(reasons);
        } else {
            need = devices_required_memory(w.np ? w.size : devices_weight_bytes(w.params, w.prec));
            if (w.np == 0)
                json_array_append_new(reasons, json_string("the version has no files"));
            json_t *plan = devices_plan(p, w.params, w.format);
            json_t *best = json_array_get(plan, 0);
            if (best && json_is_true(json_object_get(best, "fits")))
                json_array_append_new(
                    reasons, json_sprintf("would fit converted to %s %s (see optimization-plan)",
                                          json_string_value(json_object_get(best, "format")),
                                          json_string_value(json_object_get(best, "quantization"))));
            json_decref(plan);
        }
        json_array_append_new(
            out, json_pack("{s:s, s:b, s:o, s:I, s:o, s:o, s:I, s:I}", "device", p->id,
                           "compatible", pick >= 0, "reasons", reasons, "required_memory_bytes",
                           (json_int_t)need, "runtime", api_str(runtime), "precision",
                           pick >= 0 ? json_string(precision_name(
                                           w.pkgs[pick].prec == PREC_UNKNOWN ? PREC_FP32
                                                                             : w.pkgs[pick].prec))
                                     : json_null(),
                           "memory_bytes", (json_int_t)p->memory_bytes, "memory_headroom_bytes",
                           (json_int_t)devices_headroom(p)));
    }
    json_t *body = model_json(&w, c);
    json_object_set_new(body, "devices", out);
    return api_json(r, 200, body);
}

int api_compatibility(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_compat);
}

static int do_plan(api_reply *r, api_call *c, store_tx *tx)
{
    model_view w = {0};
    const device_profile **ds;
    size_t nd;
    if (load_view(&w, c, tx, api_query(c, "version"), &r->e) < 0 ||
        device_list(&ds, &nd, c, NULL, api_query(c, "devices"), "query", "devices", &r->e) < 0)
        return -1;
    json_t *out = json_array();
    for (size_t i = 0; i < nd; i++) {
        const device_profile *p = ds[i];
        json_t *targets = devices_plan(p, w.params, w.format);
        json_t *first = json_array_get(targets, 0);
        json_t *reasons = json_array();
        bool ok = first && json_is_true(json_object_get(first, "fits"));
        if (!ok)
            json_array_append_new(
                reasons,
                json_sprintf("no quantization of %lld parameters fits the %lld bytes of "
                             "memory headroom of %s",
                             (long long)w.params, (long long)devices_headroom(p), p->id));
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:O, s:o, s:o}", "device", p->id,
                                             "name", p->name, "memory_headroom_bytes",
                                             (json_int_t)devices_headroom(p), "recommended",
                                             ok ? first : json_null(), "targets", targets,
                                             "reasons", reasons));
    }
    json_t *body = model_json(&w, c);
    json_object_set_new(body, "devices", out);
    return api_json_etag(r, c, 200, body);
}

int api_optimization_plan(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_plan);
}

/* ---- optimized configurations: PUT|GET .../optimized-configs/{device_type}?version= ---- */

static bool device_type_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static int config_target(store_org *o, store_artifact *m, store_version *v, api_call *c,
                         store_tx *tx, int role, err *e)
{
    if (strcmp(api_param(c, "kind"), "models") != 0)
        return err_set(e, ERR_NOT_FOUND, "optimized configs apply to models only");
    if (!device_type_valid(api_param(c, "device_type")))
        return err_field_add(e, "path", "device_type", "value_error",
                             "1..64 characters of A-Z, a-z, 0-9, '-', '_', '.'");
    const char *ref = api_query(c, "version");
    if (api_artifact_access(o, m, c, tx, role, e) < 0 ||
        api_resolve_version(v, c, tx, m, ref && *ref ? ref : "latest", e) < 0)
        return -1;
    return 0;
}

static json_t *config_json(api_call *c, const store_org *o, const store_artifact *m,
                           const store_version *v, const store_optconfig *oc, json_t *doc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "model",
                     arena_printf(c->a, "%s/%s", o->slug, m->name), "version", v->version,
                     "device_type", oc->device_type, "sha256", oc->sha256, "size_bytes",
                     (json_int_t)oc->size_bytes, "created_at", api_time(oc->created_at),
                     "updated_at", api_time(oc->updated_at), "config", doc);
}

int api_optconfig_put(api_reply *r, api_call *c)
{
    store_tx *tx = NULL;
    store_org o;
    store_artifact m;
    store_version v;
    blob_writer *w = NULL;
    char *text = NULL;
    int rc = -1;
    if (!json_is_object(c->body))
        return err_field_add(&r->e, "body", NULL, "dict_type",
                             "the optimized configuration is a JSON object");
    /* Check access before writing any byte. */
    if (store_tx_begin(&tx, c->app->store, false, &r->e) < 0)
        return -1;
    rc = config_target(&o, &m, &v, c, tx, ROLE_WRITER, &r->e);
    store_tx_end(tx, false, &r->e);
    tx = NULL;
    if (rc < 0)
        return -1;
    rc = -1;
    text = json_dumps(c->body, JSON_COMPACT | JSON_SORT_KEYS);
    char hex[65];
    uint64_t size = 0;
    if (!text) {
        err_set(&r->e, ERR_SERVER, "out of memory");
        goto out;
    }
    if (blob_writer_open(&w, c->app->blob, &r->e) < 0)
        goto out;
    if (blob_writer_write(w, text, strlen(text), &r->e) < 0) {
        blob_writer_abort(w);
        goto out;
    }
    if (blob_writer_commit(w, NULL, hex, &size, &r->e) < 0)
        goto out;
    char key[BLOB_KEY_MAX];
    blob_key_of(key, sizeof(key), hex);
    int64_t now = time_now_ms();
    store_optconfig oc = {v.id, (char *)api_param(c, "device_type"), key, hex, (int64_t)size,
                          now, now};
    bool created = false;
    if (store_tx_begin(&tx, c->app->store, true, &r->e) < 0 ||
        config_target(&o, &m, &v, c, tx, ROLE_WRITER, &r->e) < 0 ||
        store_optconfig_put(&created, tx, &oc, &r->e) < 0 ||
        store_optconfig_get(&oc, tx, v.id, oc.device_type, c->a, &r->e) < 0)
        goto out;
    if (store_tx_end(tx, true, &r->e) < 0) {
        tx = NULL;
        goto out;
    }
    tx = NULL;
    api_json(r, created ? 201 : 200, config_json(c, &o, &m, &v, &oc, json_incref(c->body)));
    rc = 0;
out:
    store_tx_end(tx, false, &r->e);
    free(text);
    return rc;
}

static int do_config_get(api_reply *r, api_call *c, store_tx *tx)
{
    store_org o;
    store_artifact m;
    store_version v;
    store_optconfig oc;
    if (config_target(&o, &m, &v, c, tx, ROLE_READER, &r->e) < 0)
        return -1;
    if (store_optconfig_get(&oc, tx, v.id, api_param(c, "device_type"), c->a, &r->e) < 0)
        return err_set(&r->e, r->e.kind, "no optimized config of '%s/%s@%s' for '%s'", o.slug,
                       m.name, v.version, api_param(c, "device_type"));
    int fd = -1;
    uint64_t size = 0;
    if (blob_open_read(&fd, &size, c->app->blob, oc.storage_key, &r->e) < 0)
        return -1;
    char *buf = arena_alloc(c->a, size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    json_t *doc = got == size ? json_loads(buf, 0, NULL) : NULL;
    if (!doc)
        return err_set(&r->e, ERR_SERVER, "the stored optimized config cannot be read");
    return api_json_etag(r, c, 200, config_json(c, &o, &m, &v, &oc, doc));
}

int api_optconfig_get(api_reply *r, api_call *c)
{
    return api_in_tx(r, c, false, do_config_get);
}
