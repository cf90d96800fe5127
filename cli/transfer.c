/*
 * transfer.c: what push and pull share: the progress bar on stderr, SHA-256 of files read in
 * 1 MiB blocks, and ORG/NAME@REF arguments.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_BLOCK (1u << 20)

/* ---- progress ---- */

void progress_start(progress *p, bool on, const char *label, uint64_t total, uint64_t initial)
{
    memset(p, 0, sizeof(*p));
    p->on = on;
    p->label = label;
    p->total = total;
    p->done = initial;
    p->initial = initial;
    p->t0 = now_s();
}

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

void progress_draw(progress *p, bool force)
{
    if (!p->on)
        return;
    double t = now_s();
    if (!force && p->drawn && t - p->last < 0.1)
        return;
    p->last = t;
    p->drawn = true;
    double el = t - p->t0;
    uint64_t done = p->done > p->total ? p->total : p->done;
    double moved = (double)(done - (p->initial < done ? p->initial : done));
    double rate = el > 0.001 ? moved / el : 0.0;
    int pct = p->total ? (int)((double)done * 100.0 / (double)p->total) : 100;
    char sd[32], st[32], sr[32], eta[32];
    fmt_bytes(sd, sizeof(sd), (double)done);
    fmt_bytes(st, sizeof(st), (double)p->total);
    fmt_bytes(sr, sizeof(sr), rate);
    if (done >= p->total)
        snprintf(eta, sizeof(eta), "%s", "done");
    else if (rate > 0) {
        long s = (long)((double)(p->total - done) / rate);
        if (s >= 3600)
            snprintf(eta, sizeof(eta), "ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        else
            snprintf(eta, sizeof(eta), "ETA %ld:%02ld", s / 60, s % 60);
    } else
        snprintf(eta, sizeof(eta), "%s", "ETA --:--");
    char tail[160];
    snprintf(tail, sizeof(tail), " %3d%% %8s/%-8s %8s/s %-9s", pct, sd, st, sr, eta);
    int cols = term_columns();
    int label_w = (int)strlen(p->label);
    if (label_w > cols / 3)
        label_w = cols / 3;
    int bar = cols - label_w - (int)strlen(tail) - 4;
    if (bar > 40)
        bar = 40;
    char bars[64] = "";
    if (bar >= 8) {
        int fill = (int)((double)bar * pct / 100.0);
        for (int i = 0; i < bar; i++)
            bars[i] = i < fill ? '#' : '-';
        bars[bar] = '\0';
    }
    fprintf(stderr, "\r%.*s %s%s%s%s\x1b[K", label_w, p->label, bars[0] ? "[" : "", bars,
            bars[0] ? "]" : "", tail);
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (!p->on)
        return;
    progress_draw(p, true);
    fputc('\n', stderr);
    fflush(stderr);
}

/* ---- hashing ---- */

int sha256_update_fd(EVP_MD_CTX *ctx, int fd, uint64_t len, progress *p, cli_err *e)
{
    char *buf = malloc(HASH_BLOCK);
    uint64_t off = 0;
    int rc = -1;
    if (!buf)
        return cli_err_set(e, EXIT_USAGE, "out of memory");
    while (off < len) {
        size_t want = len - off < HASH_BLOCK ? (size_t)(len - off) : HASH_BLOCK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_err_set(e, EXIT_USAGE, "read: %s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            cli_err_set(e, EXIT_USAGE, "the file shrank while it was read");
            goto out;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += (uint64_t)n;
        if (p) {
            p->done += (uint64_t)n;
            progress_draw(p, false);
        }
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

void sha256_hex(char hex[65], EVP_MD_CTX *ctx)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
}

int sha256_file(char hex[65], uint64_t *size, const char *path, progress *p, cli_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    EVP_MD_CTX *ctx = NULL;
    int rc = -1;
    if (fd < 0)
        return cli_err_set(e, EXIT_USAGE, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        cli_err_set(e, EXIT_USAGE, "%s: not a regular file", path);
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        cli_err_set(e, EXIT_USAGE, "cannot initialise SHA-256");
        goto out;
    }
    if (sha256_update_fd(ctx, fd, (uint64_t)st.st_size, p, e) < 0)
        goto out;
    sha256_hex(hex, ctx);
    *size = (uint64_t)st.st_size;
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

/* ---- ORG/NAME@REF ---- */

int model_ref_parse(model_ref *out, const char *s, bool need_ref, cli_err *e)
{
    memset(out, 0, sizeof(*out));
    const char *slash = strchr(s, '/');
    const char *at = slash ? strchr(slash, '@') : NULL;
    size_t nlen = at ? (size_t)(at - slash - 1) : (slash ? strlen(slash + 1) : 0);
    if (!slash || slash == s || nlen == 0 || memchr(slash + 1, '/', nlen) || (at && !at[1]))
        return cli_err_set(e, EXIT_USAGE, "'%s': expected ORG/NAME%s", s,
                           need_ref ? "@VERSION" : "[@VERSION|@ALIAS]");
    if (need_ref && !at)
        return cli_err_set(e, EXIT_USAGE, "'%s': give a version, as in %s@1.0.0", s, s);
    out->org = strndup(s, (size_t)(slash - s));
    out->name = strndup(slash + 1, nlen);
    out->ref = at ? xstrdup(at + 1) : NULL;
    if (!out->org || !out->name)
        abort();
    return 0;
}

void model_ref_free(model_ref *m)
{
    free(m->org);
    free(m->name);
    free(m->ref);
    memset(m, 0, sizeof(*m));
}
