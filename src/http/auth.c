/*
 * auth.c: token resolution. Tokens are stored only as SHA-256 hashes.
 */
#include "http/auth.h"

#include <string.h>

#include "core/name.h"
#include "core/token.h"
#include "util/crypto.h"
#include "util/timeutil.h"

/* last_used_at is written at most this often per token, so reads stay reads. */
#define TOUCH_INTERVAL_MS 60000

static const char *token_of(const api_call *c)
{
    const char *h = c->header(c, "Authorization");
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return NULL;
        h += 7;
        while (*h == ' ')
            h++;
        return *h ? h : NULL;
    }
    h = c->header(c, "X-Api-Key");
    return h && *h ? h : NULL;
}

int auth_resolve(api_call *c, err *e)
{
    const char *tok = token_of(c);
    if (!tok)
        return err_set(e, ERR_AUTH, "missing or malformed credentials: send 'Authorization: "
                                    "Bearer <token>' or 'X-Api-Key: <token>'");
    if (strlen(tok) > 512)
        return err_set(e, ERR_AUTH, "invalid token");
    char hash[65];
    token_hash(hash, tok);
    if (c->app->admin_hash[0] && crypto_equal(hash, c->app->admin_hash)) {
        c->caller.authenticated = true;
        c->caller.server_admin = true;
        c->caller.role = 3;
        return 0;
    }
    store_token t = {0};
    int64_t now = time_now_ms(), rev = 0;
    int rc = -1;
    if (store_token_by_hash_rev(&t, &rev, c->app->store, hash, c->a, e) < 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_AUTH, "invalid token");
        goto out;
    }
    if (t.revoked_at) {
        err_set(e, ERR_AUTH, "invalid token");
        goto out;
    }
    if (t.expires_at && t.expires_at <= now) {
        err_set(e, ERR_EXPIRED_TOKEN, "token expired");
        goto out;
    }
    c->caller.authenticated = true;
    c->caller.server_admin = t.server_admin;
    c->caller.token_id = t.id;
    c->caller.token_name = t.name;
    c->caller.org_id = t.org_id;
    c->caller.org_slug = t.org_slug;
    c->caller.role = role_rank(t.role, strlen(t.role));
    c->catalog_rev = rev;
    rc = 0;
out:
    if (rc == 0 && now - t.last_used_at > TOUCH_INTERVAL_MS) {
        err ignored = {0};
        store_tx *w = NULL;
        if (store_tx_begin(&w, c->app->store, true, &ignored) == 0) {
            bool ok = store_token_touch(w, t.id, now, &ignored) == 0;
            store_tx_end(w, ok, &ignored);
        }
    }
    return rc;
}
