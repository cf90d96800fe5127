/*
 * listen_pg.c: the PostgreSQL change listener behind --read-consistency notify
 * (docs/consistency.md). One thread holds its own connection with LISTEN on the two channels
 * every catalog or credential commit notifies (store.c store_tx_end), and reports to its
 * owner:
 *   - a catalog revision ("cairn_catalog", payload "REV:SENT_MS"),
 *   - a credential change ("cairn_auth"),
 *   - up/down: the connection was (re)established and the current revision read, or lost.
 * While it is down its owner must read the revision from the database on every request. On
 * reconnect it LISTENs before it reads the revision, so no commit falls between the two. Every
 * HEARTBEAT_MS without a notification it reads the revision row anyway: that both proves the
 * connection alive and bounds what a lost notification could cost.
 */
#include "store/listen_pg.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/timeutil.h"

#define POLL_MS 100
#define HEARTBEAT_MS 1000
#define RETRY_MS 500

struct pg_listener {
    char *url;
    pthread_t thread;
    atomic_bool stop;
    const pg_listener_cb *cb;
    void *ud;
};

/* Reads the revision row on c; returns it, or -1 if the connection failed. */
static int64_t read_rev(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT rev FROM catalog_revision WHERE id = 1");
    int64_t rev = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        rev = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rev;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static void nap_ms(pg_listener *l, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&l->stop); waited += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Connects, LISTENs and reads the current revision; returns the connection or NULL. */
static PGconn *attach(pg_listener *l)
{
    PGconn *c = PQconnectdb(l->url);
    if (PQstatus(c) != CONNECTION_OK)
        goto fail;
    if (!exec_ok(c, "SET application_name = 'cairn-listen'") ||
        !exec_ok(c, "LISTEN cairn_catalog") || !exec_ok(c, "LISTEN cairn_auth"))
        goto fail;
    int64_t rev = read_rev(c);
    if (rev < 0)
        goto fail;
    l->cb->up(l->ud, rev);
    log_info(NULL, "listen.up", "s:I", "revision", (json_int_t)rev);
    return c;
fail:
    PQfinish(c);
    return NULL;
}

static void deliver(pg_listener *l, PGconn *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        if (strcmp(n->relname, "cairn_catalog") == 0) {
            char *end = NULL;
            int64_t rev = strtoll(n->extra, &end, 10);
            int64_t sent = end && *end == ':' ? strtoll(end + 1, NULL, 10) : 0;
            if (rev > 0)
                l->cb->revision(l->ud, rev, sent);
        } else if (strcmp(n->relname, "cairn_auth") == 0) {
            l->cb->auth(l->ud);
        }
        PQfreemem(n);
    }
}

static void *run(void *arg)
{
    pg_listener *l = arg;
    PGconn *c = NULL;
    int64_t last_seen = 0;
    while (!atomic_load(&l->stop)) {
        if (!c) {
            c = attach(l);
            if (!c) {
                nap_ms(l, RETRY_MS);
                continue;
            }
            last_seen = time_now_ms();
        }
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        int rc = poll(&p, 1, POLL_MS);
        bool lost = rc < 0 || (rc > 0 && !PQconsumeInput(c)) || PQstatus(c) == CONNECTION_BAD;
        if (!lost && rc > 0) {
            deliver(l, c);
            last_seen = time_now_ms();
        }
        if (!lost && time_now_ms() - last_seen >= HEARTBEAT_MS) {
            int64_t rev = read_rev(c);
            if (rev < 0) {
                lost = true;
            } else {
                deliver(l, c); /* PQexec may have read notifications with the reply */
                l->cb->revision(l->ud, rev, 0);
                last_seen = time_now_ms();
            }
        }
        if (lost) {
            l->cb->down(l->ud);
            log_warn(NULL, "listen.down", "s:s", "detail", PQerrorMessage(c));
            PQfinish(c);
            c = NULL;
            nap_ms(l, RETRY_MS / 5);
        }
    }
    PQfinish(c);
    return NULL;
}

int pg_listener_start(pg_listener **out, const char *url, const pg_listener_cb *cb, void *ud)
{
    pg_listener *l = calloc(1, sizeof(*l));
    if (!l || !(l->url = strdup(url))) {
        free(l);
        return -1;
    }
    l->cb = cb;
    l->ud = ud;
    atomic_init(&l->stop, false);
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        free(l->url);
        free(l);
        return -1;
    }
    *out = l;
    return 0;
}

void pg_listener_stop(pg_listener *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    free(l->url);
    free(l);
}
