/*
 * log.c: JSON lines on stderr.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"

static log_level min_level = LOG_INFO;

void log_set_level(log_level lvl)
{
    min_level = lvl;
}

static const char *level_name(log_level lvl)
{
    switch (lvl) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    case LOG_ERROR: return "error";
    }
    return "info";
}

void log_event(log_level lvl, const char *req, const char *event, const char *fmt, ...)
{
    if (lvl < min_level)
        return;
    char ts[32];
    time_now_iso(ts, sizeof(ts));
    json_t *o = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        char wrapped[512];
        snprintf(wrapped, sizeof(wrapped), "{%s}", fmt);
        json_error_t je;
        o = json_vpack_ex(&je, 0, wrapped, ap);
        va_end(ap);
    }
    if (!o)
        o = json_object();
    json_t *line = json_pack("{s:s, s:s, s:s?, s:s}", "ts", ts, "level", level_name(lvl), "req",
                             req, "event", event);
    if (!line) {
        json_decref(o);
        return;
    }
    json_object_update(line, o);
    json_decref(o);
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!s)
        return;
    size_t n = strlen(s);
    char *buf = malloc(n + 2);
    if (buf) {
        memcpy(buf, s, n);
        buf[n] = '\n';
        ssize_t w = write(STDERR_FILENO, buf, n + 1);
        (void)w;
        free(buf);
    }
    free(s);
}
