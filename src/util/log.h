/*
 * log.h: one JSON object per line on stderr, one write(2) each; thread-safe.
 * Events are stable dotted names; tokens, secrets and signatures stay out.
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

#include <jansson.h>

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Sets the lowest level written (default LOG_INFO). Call before threads start. */
void log_set_level(log_level lvl);
/* Writes {"ts","level","req","event", ...fields}; fields is a jansson pack format (object
 * members, without braces) or NULL. req may be NULL. */
void log_event(log_level lvl, const char *req, const char *event, const char *fmt, ...);

#define log_info(req, ev, ...) log_event(LOG_INFO, (req), (ev), __VA_ARGS__)
#define log_warn(req, ev, ...) log_event(LOG_WARN, (req), (ev), __VA_ARGS__)
#define log_error(req, ev, ...) log_event(LOG_ERROR, (req), (ev), __VA_ARGS__)

#endif
