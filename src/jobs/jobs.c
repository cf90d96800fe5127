/*
 * jobs.c: the converter registry and the conversion workers (see jobs.h).
 */
#include "jobs/jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/devices.h"
#include "core/formats.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_ARGS 64

typedef struct converter {
    char src[64], dst[64];
    char *argv[MAX_ARGS + 1]; /* owned; NULL-terminated; empty for built-ins */
    int argc;
    bool builtin, bf16;
} converter;

struct jobs {
    converter conv[JOBS_MAX_CONVERTERS + 2];
    int nconv;
    int workers, timeout_s;
    uint64_t max_output;
    char tmp_root[PATH_MAX - 64]; /* leaves room for the job directory and its files */
    char owner[37]; /* this instance's id in the jobs table */
    const app *ap;
    pthread_t threads[16];
    int nthreads;
    pthread_t compactor;
    bool compacting;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int wakeups;
};

static bool word_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

static converter *find(const jobs *j, const char *src, const char *dst)
{
    /* Later entries (configured) win over earlier ones (built in). */
    for (int i = j->nconv - 1; i >= 0; i--)
        if (strcmp(j->conv[i].src, src) == 0 && strcmp(j->conv[i].dst, dst) == 0)
            return (converter *)&j->conv[i];
    return NULL;
}

static int parse_spec(converter *c, const char *spec, err *e)
{
    const char *eq = strchr(spec, '='), *colon = strchr(spec, ':');
    if (!eq || !colon || colon > eq || !word_ok(spec, (size_t)(colon - spec)) ||
        !word_ok(colon + 1, (size_t)(eq - colon - 1)))
        return err_set(e, ERR_VALIDATION,
                       "--converter '%.80s': want SOURCE:TARGET=COMMAND {in} {out}", spec);
    memcpy(c->src, spec, (size_t)(colon - spec));
    memcpy(c->dst, colon + 1, (size_t)(eq - colon - 1));
    bool has_out = false;
    const char *p = eq + 1;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (c->argc == MAX_ARGS)
            return err_set(e, ERR_VALIDATION, "--converter '%.80s': too many arguments", spec);
        c->argv[c->argc] = strndup(s, (size_t)(p - s));
        if (!c->argv[c->argc])
            return err_set(e, ERR_SERVER, "out of memory");
        has_out = has_out || strstr(c->argv[c->argc], "{out}");
        c->argc++;
    }
    if (c->argc == 0 || !has_out)
        return err_set(e, ERR_VALIDATION,
                       "--converter '%.80s': the command must name its output as {out}", spec);
    return 0;
}

int jobs_new(jobs **out, const jobs_config *cfg, err *e)
{
    jobs *j = calloc(1, sizeof(*j));
    if (!j)
        return err_set(e, ERR_SERVER, "out of memory");
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->workers = cfg->workers < 0 ? 0 : cfg->workers > 16 ? 16 : cfg->workers;
    j->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 3600;
    j->max_output = cfg->max_output ? cfg->max_output : (64ull << 30);
    snprintf(j->tmp_root, sizeof(j->tmp_root), "%s", cfg->tmp_root ? cfg->tmp_root : "/tmp");
    crypto_uuid7(j->owner);
    static const struct {
        const char *dst;
        bool bf16;
    } builtins[] = {{"safetensors-fp16", false}, {"safetensors-bf16", true}};
    for (size_t i = 0; i < 2; i++) {
        converter *c = &j->conv[j->nconv++];
        snprintf(c->src, sizeof(c->src), "safetensors");
        snprintf(c->dst, sizeof(c->dst), "%s", builtins[i].dst);
        c->builtin = true;
        c->bf16 = builtins[i].bf16;
    }
    if (cfg->nconverters > JOBS_MAX_CONVERTERS) {
        jobs_free(j);
        return err_set(e, ERR_VALIDATION, "at most %d --converter", JOBS_MAX_CONVERTERS);
    }
    for (int i = 0; i < cfg->nconverters; i++) {
        if (parse_spec(&j->conv[j->nconv++], cfg->converters[i], e) < 0) {
            jobs_free(j);
            return -1;
        }
    }
    *out = j;
    return 0;
}

void jobs_free(jobs *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nconv; i++)
        for (int k = 0; k < j->conv[i].argc; k++)
            free(j->conv[i].argv[k]);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

bool jobs_has_converter(const jobs *j, const char *source, const char *target)
{
    return j && find(j, source, target) != NULL;
}

json_t *jobs_pairs(const jobs *j)
{
    json_t *a = json_array();
    for (int i = 0; j && i < j->nconv; i++) {
        char pair[130];
        snprintf(pair, sizeof(pair), "%s:%s", j->conv[i].src, j->conv[i].dst);
        bool dup = false;
        size_t k;
        json_t *v;
        json_array_foreach(a, k, v) dup = dup || strcmp(json_string_value(v), pair) == 0;
        if (!dup)
            json_array_append_new(a, json_string(pair));
    }
    return a;
}

const char *jobs_format_ext(const char *format, char *buf, size_t cap)
{
    static const struct {
        const char *fmt, *ext;
    } t[] = {{"safetensors", ".safetensors"}, {"gguf", ".gguf"},     {"onnx", ".onnx"},
             {"tflite", ".tflite"},           {"coreml", ".mlmodel"}, {"pytorch", ".pt"},
             {"executorch", ".pte"},          {"binary", ".bin"}};
    size_t base;
    precision_of_format(format, &base);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strlen(t[i].fmt) == base && strncmp(t[i].fmt, format, base) == 0)
            return t[i].ext;
    snprintf(buf, cap, ".%.*s", (int)base, format);
    return buf;
}

void jobs_notify(jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->wakeups++;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static bool stopping(jobs *j)
{
    pthread_mutex_lock(&j->mu);
    bool s = j->stop;
    pthread_mutex_unlock(&j->mu);
    return s;
}

/* ---- running one job ---- */

typedef enum outcome { RUN_OK, RUN_FAILED, RUN_STOPPED } outcome;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads the last JOBS_STDERR_TAIL bytes of path as printable text (other bytes become '?'). */
static char *read_tail(const char *path, arena *a)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        off_t from = st.st_size > JOBS_STDERR_TAIL ? st.st_size - JOBS_STDERR_TAIL : 0;
        size_t n = (size_t)(st.st_size - from);
        buf = arena_alloc(a, n + 1);
        ssize_t got = pread(fd, buf, n, from);
        n = got > 0 ? (size_t)got : 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)buf[i];
            if ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f)
                buf[i] = '?';
        }
        buf[n] = '\0';
    }
    close(fd);
    return buf;
}

/* Replaces every {in} and {out} of arg. Caller frees. */
static char *subst(const char *arg, const char *in, const char *out)
{
    size_t cap = strlen(arg) + 1, n = 0;
    for (const char *p = arg; (p = strchr(p, '{')); p++)
        cap += strlen(in) + strlen(out);
    char *r = malloc(cap);
    if (!r)
        return NULL;
    for (const char *p = arg; *p;) {
        if (strncmp(p, "{in}", 4) == 0) {
            n += (size_t)sprintf(r + n, "%s", in);
            p += 4;
        } else if (strncmp(p, "{out}", 5) == 0) {
            n += (size_t)sprintf(r + n, "%s", out);
            p += 5;
        } else {
            r[n++] = *p++;
        }
    }
    r[n] = '\0';
    return r;
}

/* Finds prog on PATH (before fork: the child must only call async-signal-safe functions). */
static char *resolve_prog(const char *prog)
{
    if (strchr(prog, '/'))
        return strdup(prog);
    const char *path = getenv("PATH");
    char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;
    char *found = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char cand[PATH_MAX];
        snprintf(cand, sizeof(cand), "%s/%s", d, prog);
        if (access(cand, X_OK) == 0)
            found = strdup(cand);
    }
    free(copy);
    return found;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool at_cap(const char *path, uint64_t cap)
{
    struct stat st;
    return stat(path, &st) == 0 && (uint64_t)st.st_size >= cap;
}

static outcome run_external(jobs *j, const converter *c, const store_job *job, const char *dir,
                            const char *in, const char *out, char **why, arena *a)
{
    char *argv[MAX_ARGS + 1] = {0};
    char *prog = NULL, errlog[PATH_MAX + 16], env_path[PATH_MAX + 8], env_home[PATH_MAX + 8],
                     env_tmp[PATH_MAX + 8];
    outcome oc = RUN_FAILED;
    int errfd = -1, nullfd = -1;
    for (int i = 0; i < c->argc; i++)
        if (!(argv[i] = subst(c->argv[i], in, out))) {
            *why = "out of memory";
            goto out;
        }
    prog = resolve_prog(argv[0]);
    if (!prog) {
        *why = arena_printf(a, "converter '%s' not found on PATH", argv[0]);
        goto out;
    }
    const char *path = getenv("PATH");
    snprintf(env_path, sizeof(env_path), "PATH=%s", path && *path ? path : "/usr/bin:/bin");
    snprintf(env_home, sizeof(env_home), "HOME=%s", dir);
    snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", dir);
    char *envp[] = {env_path, env_home, env_tmp, "LANG=C.UTF-8", NULL};
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    errfd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (errfd < 0 || nullfd < 0) {
        *why = "cannot prepare the converter's files";
        goto out;
    }
    struct rlimit fsz = {(rlim_t)j->max_output, (rlim_t)j->max_output};
    sigset_t none;
    sigemptyset(&none);
    int64_t t0 = time_mono_us(), deadline = t0 + (int64_t)j->timeout_s * 1000000;
    pid_t pid = fork();
    if (pid < 0) {
        *why = "cannot start the converter";
        goto out;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(nullfd, 0);
        dup2(errfd, 1);
        dup2(errfd, 2);
        if (chdir(dir) < 0)
            _exit(126);
        setrlimit(RLIMIT_FSIZE, &fsz);
        closefrom(3);
        execve(prog, argv, envp);
        _exit(127);
    }
    setpgid(pid, pid);
    int status = 0;
    int64_t last_renew = t0;
    bool timed_out = false, stopped = false, lost = false;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        int64_t now = time_mono_us();
        if (now > deadline)
            timed_out = true;
        else if (stopping(j))
            stopped = true;
        else if (now - last_renew > 1000000) {
            err e = {0};
            last_renew = now;
            if (store_job_renew(j->ap->store, job->id, j->owner, time_now_ms() + JOBS_LEASE_MS,
                                &e) == 0)
                lost = true;
        }
        if (timed_out || stopped || lost) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        sleep_ms(20);
    }
    kill(-pid, SIGKILL); /* whatever it left running in its group */
    if (stopped || lost) {
        oc = RUN_STOPPED;
    } else if (timed_out) {
        *why = arena_printf(a, "the converter timed out after %d s", j->timeout_s);
    } else if ((WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) || at_cap(out, j->max_output)) {
        /* The cap stops any write past it (RLIMIT_FSIZE); a wrapper script may report it as
         * its own exit status, so the output's size tells too. */
        *why = arena_printf(a, "the converter's output exceeded %llu bytes",
                            (unsigned long long)j->max_output);
    } else if (WIFSIGNALED(status)) {
        *why = arena_printf(a, "the converter was killed by signal %d", WTERMSIG(status));
    } else if (WEXITSTATUS(status) == 127) {
        *why = arena_printf(a, "the converter '%s' could not be run", argv[0]);
    } else if (WEXITSTATUS(status) != 0) {
        *why = arena_printf(a, "the converter exited with status %d", WEXITSTATUS(status));
    } else {
        oc = RUN_OK;
    }
out:
    if (errfd >= 0)
        close(errfd);
    if (nullfd >= 0)
        close(nullfd);
    for (int i = 0; i < MAX_ARGS; i++)
        free(argv[i]);
    free(prog);
    return oc;
}

/* Copies n bytes of in_fd to a new file path. */
static int copy_to(const char *path, int in_fd, uint64_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    off_t off = 0;
    while ((uint64_t)off < n) {
        ssize_t k = copy_file_range(in_fd, &off, fd, NULL, (size_t)(n - (uint64_t)off), 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            /* Fall back to read/write (other file systems, old kernels). */
            char buf[65536];
            ssize_t r = pread(in_fd, buf, sizeof(buf), off);
            if (r <= 0 || write(fd, buf, (size_t)r) != r) {
                close(fd);
                return -1;
            }
            off += r;
        }
    }
    return close(fd);
}

/* The path of the converted file in the version: the source's stem, "-PRECISION" for a
 * format that names one, and the target's extension. */
static char *output_path(const char *source, const char *target, arena *a)
{
    const char *slash = strrchr(source, '/'), *dot = strrchr(source, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - source) : strlen(source);
    size_t base;
    precision p = precision_of_format(target, &base);
    char buf[80];
    const char *ext = jobs_format_ext(target, buf, sizeof(buf));
    if (p != PREC_UNKNOWN)
        return arena_printf(a, "%.*s-%s%s", (int)stem, source, precision_name(p), ext);
    return arena_printf(a, "%.*s%s", (int)stem, source, ext);
}

/* Stores the output file as a blob (its digest computed first, then checked again as the
 * bytes are written) and records it, in the same transaction as the job's success, as a
 * `converted` package of the job's version. */
static int store_output(jobs *j, store_job *job, const char *out, const char *tail, arena *a,
                        err *e)
{
    const app *ap = j->ap;
    char hex[65], got[65], key[BLOB_KEY_MAX];
    uint64_t size = 0, wsize = 0;
    int fd = open(out, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, ERR_VALIDATION, "the converter wrote no output");
    blob_writer *w = NULL;
    if (blob_hash_fd(hex, &size, fd, e) < 0) {
        close(fd);
        return -1;
    }
    if (size == 0 || size > j->max_output) {
        close(fd);
        return err_set(e, ERR_VALIDATION, size ? "the output exceeds %llu bytes"
                                               : "the converter wrote an empty output",
                       (unsigned long long)j->max_output);
    }
    if (blob_writer_open(&w, ap->blob, e) < 0) {
        close(fd);
        return -1;
    }
    char *buf = malloc(1u << 20);
    off_t off = 0;
    int rc = buf ? 0 : err_set(e, ERR_SERVER, "out of memory");
    while (rc == 0 && (uint64_t)off < size) {
        ssize_t k = pread(fd, buf, 1u << 20, off);
        if (k <= 0)
            rc = err_set(e, ERR_SERVER, "cannot read the converter's output");
        else if (blob_writer_write(w, buf, (size_t)k, e) < 0)
            rc = -1;
        off += k > 0 ? k : 0;
    }
    free(buf);
    close(fd);
    if (rc < 0) {
        blob_writer_abort(w);
        return -1;
    }
    if (blob_writer_commit(w, hex, got, &wsize, e) < 0)
        return -1;
    blob_key_of(key, sizeof(key), got);
    store_tx *tx = NULL;
    store_version v;
    store_resource existing;
    char *path = output_path(job->source_path, job->target, a);
    char pid[37], rid[37];
    crypto_uuid7(pid);
    crypto_uuid7(rid);
    int64_t now = time_now_ms();
    if (store_tx_begin(&tx, ap->store, true, e) < 0)
        return -1;
    if (store_version_by_id(&v, tx, job->artifact_id, job->version_id, a, e) < 0)
        goto fail;
    if (store_resource_by_path(&existing, tx, v.id, path, a, e) == 0) {
        err_set(e, ERR_EXISTS, "'%s' already exists in version %s", path, v.version);
        goto fail;
    }
    if (e->kind != ERR_NOT_FOUND)
        goto fail;
    err_clear(e);
    store_package p = {pid, v.id, job->target, "converted", (int64_t)wsize, now};
    store_resource r = {rid, pid, v.id, path, "weights", got,
                        (char *)media_type_of_path(path), key, true, true, (int64_t)wsize, now};
    job->status = "succeeded";
    job->package_id = arena_strdup(a, pid);
    job->output_path = path;
    job->stderr_tail = (char *)tail;
    job->error = NULL;
    if (store_package_insert(tx, &p, e) < 0 || store_resource_insert(tx, &r, e) < 0 ||
        store_job_finish(tx, job, j->owner, now, e) < 0)
        goto fail;
    return store_tx_end(tx, true, e);
fail:
    store_tx_end(tx, false, e);
    return -1;
}

static void finish(jobs *j, store_job *job, const char *status, const char *why,
                   const char *tail)
{
    err e = {0};
    store_tx *tx = NULL;
    job->status = (char *)status;
    job->error = (char *)why;
    job->stderr_tail = (char *)tail;
    if (store_tx_begin(&tx, j->ap->store, true, &e) < 0 ||
        store_job_finish(tx, job, j->owner, time_now_ms(), &e) < 0) {
        store_tx_end(tx, false, &e);
        log_warn(NULL, "jobs.finish_failed", "s:s, s:s", "job", job->id, "detail", e.detail);
        return;
    }
    if (store_tx_end(tx, true, &e) < 0)
        log_warn(NULL, "jobs.finish_failed", "s:s, s:s", "job", job->id, "detail", e.detail);
    log_info(NULL, "jobs.finished", "s:s, s:s, s:s, s:s", "job", job->id, "status", status,
             "target", job->target, "error", why ? why : "");
}

typedef struct tick_ctx {
    jobs *j;
    store_job *job;
    int64_t last;
} tick_ctx;

/* Called by the built-in converter between blocks: keeps the lease while it works. */
static void renew_tick(void *ctx)
{
    tick_ctx *t = ctx;
    int64_t now = time_mono_us();
    if (now - t->last < 1000000)
        return;
    t->last = now;
    err e = {0};
    store_job_renew(t->j->ap->store, t->job->id, t->j->owner, time_now_ms() + JOBS_LEASE_MS,
                    &e);
}

static void run_job(jobs *j, store_job *job, arena *a)
{
    const app *ap = j->ap;
    err e = {0};
    char dir[PATH_MAX], in[PATH_MAX + 32], out[PATH_MAX + 32], errlog[PATH_MAX + 16], buf[80];
    /* tmp_root is at most PATH_MAX - 64 bytes: the names below fit. */
    int in_fd = -1, out_fd = -1;
    const char *why = NULL, *tail = NULL;
    store_resource res;
    store_tx *tx = NULL;
    snprintf(dir, sizeof(dir), "%s/cairn-job-XXXXXX", j->tmp_root);
    log_info(NULL, "jobs.started", "s:s, s:s, s:s, s:I", "job", job->id, "source",
             job->source_path, "target", job->target, "attempt", (json_int_t)job->attempts);
    const converter *c = find(j, job->source_format, job->target);
    if (!c) {
        why = arena_printf(a, "no converter for %s:%s is configured any more",
                           job->source_format, job->target);
        goto failed;
    }
    if (!mkdtemp(dir)) {
        why = "cannot create the job's directory";
        goto failed;
    }
    if (store_tx_begin(&tx, ap->store, false, &e) < 0 ||
        store_resource_by_path(&res, tx, job->version_id, job->source_path, a, &e) < 0) {
        store_tx_end(tx, false, &e);
        why = arena_printf(a, "the source file is gone: %s", e.detail);
        goto failed;
    }
    store_tx_end(tx, false, &e);
    uint64_t in_size = 0;
    if (blob_open_read(&in_fd, &in_size, ap->blob, res.storage_key, &e) < 0) {
        why = arena_printf(a, "cannot read the source: %s", e.detail);
        goto failed;
    }
    snprintf(out, sizeof(out), "%s/output%s", dir, jobs_format_ext(job->target, buf, sizeof(buf)));
    if (c->builtin) {
        out_fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out_fd < 0 ||
            jobs_safetensors_convert(in_fd, out_fd, c->bf16, j->max_output, renew_tick,
                                     &(tick_ctx){j, job, time_mono_us()}, &e) < 0) {
            why = out_fd < 0 ? "cannot create the output" : arena_strdup(a, e.detail);
            goto failed;
        }
        close(out_fd);
        out_fd = -1;
    } else {
        snprintf(in, sizeof(in), "%s/input%s", dir,
                 jobs_format_ext(job->source_format, buf, sizeof(buf)));
        if (copy_to(in, in_fd, in_size) < 0) {
            why = "cannot stage the input";
            goto failed;
        }
        char *reason = NULL;
        outcome oc = run_external(j, c, job, dir, in, out, &reason, a);
        snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
        tail = read_tail(errlog, a);
        if (oc == RUN_STOPPED) {
            finish(j, job, "queued", NULL, NULL);
            goto done;
        }
        if (oc == RUN_FAILED) {
            why = reason;
            goto failed;
        }
    }
    if (store_output(j, job, out, tail, a, &e) < 0) {
        why = arena_strdup(a, e.detail);
        goto failed;
    }
    log_info(NULL, "jobs.finished", "s:s, s:s, s:s", "job", job->id, "status", "succeeded",
             "package", job->package_id);
    goto done;
failed:
    finish(j, job, "failed", why, tail);
done:
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (strstr(dir, "XXXXXX") == NULL)
        rm_tree(dir);
}

static void *worker(void *arg)
{
    jobs *j = arg;
    for (;;) {
        if (stopping(j))
            break;
        arena *a = arena_create();
        store_job job;
        err e = {0};
        int64_t now = time_now_ms();
        int got = store_job_claim(&job, j->ap->store, j->owner, now, now + JOBS_LEASE_MS, a, &e);
        if (got == 1)
            run_job(j, &job, a);
        else if (got < 0)
            log_warn(NULL, "jobs.claim_failed", "s:s", "detail", e.detail);
        arena_free(a);
        if (got == 1)
            continue;
        pthread_mutex_lock(&j->mu);
        if (!j->stop && j->wakeups == 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1; /* also polls for other instances' jobs and expired leases */
            pthread_cond_timedwait(&j->cv, &j->mu, &until);
        }
        if (j->wakeups > 0)
            j->wakeups--;
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

/* Compacts telemetry partials until none is left; then the store's upkeep
 * (store_telemetry_maintain: reclaim the partials this pass deleted, checkpoint). */
static void compact_all(jobs *j)
{
    int64_t total = 0;
    for (;;) {
        int64_t n = 0;
        err e = {0};
        if (jobs_rollup_compact(&n, j->ap->telemetry, JOBS_COMPACT_BATCH, &e) < 0) {
            log_warn(NULL, "telemetry.compact_failed", "s:s", "detail", e.detail);
            break;
        }
        total += n;
        if (n < JOBS_COMPACT_BATCH)
            break;
    }
    err e = {0};
    if (store_telemetry_maintain(j->ap->telemetry, total > 0, &e) < 0)
        log_warn(NULL, "telemetry.maintain_failed", "s:s", "detail", e.detail);
}

static void *compactor(void *arg)
{
    jobs *j = arg;
    int64_t last_expire = 0;
    for (;;) {
        compact_all(j);
        int64_t now = time_now_ms();
        if (now - last_expire > 600000) {
            /* Event ids guard against retried batches: a week is plenty. */
            store_tx *tx = NULL;
            err e = {0};
            if (store_tx_begin(&tx, j->ap->telemetry, true, &e) == 0)
                store_tx_end(tx, store_event_ids_expire(tx, now - 7 * 86400000LL, &e) == 0, &e);
            last_expire = now;
        }
        pthread_mutex_lock(&j->mu);
        if (!j->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&j->cv, &j->mu, &until);
        }
        bool stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        if (stop)
            break;
    }
    compact_all(j);
    return NULL;
}

int jobs_start(jobs *j, const app *ap, err *e)
{
    j->ap = ap;
    if (ap->telemetry) {
        if (pthread_create(&j->compactor, NULL, compactor, j) != 0)
            return err_set(e, ERR_SERVER, "cannot start the telemetry compactor");
        j->compacting = true;
    }
    for (int i = 0; i < j->workers; i++) {
        if (pthread_create(&j->threads[j->nthreads], NULL, worker, j) != 0)
            return err_set(e, ERR_SERVER, "cannot start the job workers");
        j->nthreads++;
    }
    return 0;
}

void jobs_stop(jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->nthreads; i++)
        pthread_join(j->threads[i], NULL);
    j->nthreads = 0;
    if (j->compacting)
        pthread_join(j->compactor, NULL);
    j->compacting = false;
}
