/*
 * timeutil.h: wall-clock time in milliseconds and ISO 8601 UTC formatting.
 */
#ifndef CAIRN_TIMEUTIL_H
#define CAIRN_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Returns milliseconds since the Unix epoch. */
int64_t time_now_ms(void);
/* Returns a monotonic clock in microseconds, for durations. */
int64_t time_mono_us(void);
/* Formats ms as "2026-11-22T10:00:00.123Z" into buf (cap >= 25). */
void time_format_iso(char *buf, size_t cap, int64_t ms);
/* Formats the current time. */
void time_now_iso(char *buf, size_t cap);

/* Returns the start of the UTC calendar month containing ms, and of the next one. */
int64_t time_month_start_ms(int64_t ms);
/* Parses an ISO 8601 UTC time ("2026-11-22T10:00:00.123Z", a "+01:00" offset, fraction
 * optional) into ms since the epoch; returns -1 if malformed. */
int time_parse_iso(int64_t *out, const char *s);
int64_t time_next_month_ms(int64_t ms);

#endif
