/*
 * listen_pg.h: a thread LISTENing for catalog and credential commits on PostgreSQL
 * (listen_pg.c). Only src/store/ includes this header.
 */
#ifndef CAIRN_LISTEN_PG_H
#define CAIRN_LISTEN_PG_H

#include <pthread.h>
#include <stdint.h>

typedef struct pg_listener pg_listener;

/* What the listener reports, from its own thread. */
typedef struct pg_listener_cb {
    void (*up)(void *ud, int64_t rev);                     /* listening; rev read after LISTEN */
    void (*down)(void *ud);                                /* connection lost (retrying) */
    void (*revision)(void *ud, int64_t rev, int64_t sent_ms); /* sent_ms 0: read, not sent */
    void (*auth)(void *ud);                                /* a credential changed */
} pg_listener_cb;

/* Starts the thread on url; returns 0 or -1. It connects (and reconnects) by itself. */
int pg_listener_start(pg_listener **out, const char *url, const pg_listener_cb *cb, void *ud);
/* Stops and frees the listener; accepts NULL. */
void pg_listener_stop(pg_listener *l);

#endif
