/*
 * metrics.h: process-wide request metrics in Prometheus text format (GET /metrics).
 * Every function is thread-safe (atomic counters).
 */
#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include <stdint.h>

#include "api/api.h"

/* Records one finished request of route index ri (-1: unmatched). */
void metrics_request(int ri, int status, double ms, uint64_t bytes_in, uint64_t bytes_out);
/* Adjusts the gauge of uploads in flight by delta. */
void metrics_uploads(int delta);
/* Counts a connection closed for not sending its headers within --header-timeout. */
void metrics_header_timeout(void);
/* GET /metrics handler. */
int metrics_handler(api_reply *r, api_call *c);

#endif
