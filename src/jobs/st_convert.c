/*
 * st_convert.c: the built-in converter safetensors F32 -> F16 / BF16. It streams: the header
 * is read and checked (core/formats.c), rewritten with the new dtypes and offsets (padded with
 * spaces to 8 bytes, as the reference writer does), then each tensor is copied in order of its
 * offsets, F32 ones converted block by block (core/fp16.c, round to nearest even); other dtypes
 * are copied as they are. Memory use is the header plus one 1 MiB block.
 */
#include "jobs/jobs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/formats.h"
#include "core/fp16.h"

#define BLOCK (1u << 20)

typedef struct tensor {
    const char *name;
    json_t *desc;
    uint64_t begin, end, nbegin, nend;
    bool convert;
} tensor;

static int cmp_tensor(const void *a, const void *b)
{
    const tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int write_all(int fd, const void *p, size_t n, uint64_t *written, uint64_t cap, err *e)
{
    if (*written + n > cap)
        return err_set(e, ERR_VALIDATION, "the output would exceed %llu bytes",
                       (unsigned long long)cap);
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, ERR_SERVER, "cannot write the output: %s", strerror(errno));
        c += k;
        n -= (size_t)k;
        *written += (uint64_t)k;
    }
    return 0;
}

static int read_at(int fd, void *p, size_t n, uint64_t off, err *e)
{
    char *c = p;
    while (n > 0) {
        ssize_t k = pread(fd, c, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, ERR_VALIDATION, "the input ends early");
        c += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int jobs_safetensors_convert(int in_fd, int out_fd, bool bf16, uint64_t max_out,
                             void (*tick)(void *ctx), void *ctx, err *e)
{
    uint8_t len8[8];
    uint8_t *head = NULL, *inb = NULL, *outb = NULL;
    json_t *hdr = NULL, *info = NULL, *nh = NULL;
    tensor *ts = NULL;
    char *text = NULL;
    int rc = -1;
    uint64_t written = 0;
    if (read_at(in_fd, len8, 8, 0, e) < 0)
        goto out;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | len8[i];
    if (hlen > SAFETENSORS_HEADER_MAX) {
        err_set(e, ERR_VALIDATION, "the safetensors header is too long");
        goto out;
    }
    head = malloc(8 + hlen + 1);
    if (!head) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    memcpy(head, len8, 8);
    if (read_at(in_fd, head + 8, hlen, 8, e) < 0)
        goto out;
    /* The header's rules are core/formats.c's: call them, do not repeat them (with the file's
     * size, so data_offsets are checked against the bytes really there). */
    struct stat in_st;
    if (fstat(in_fd, &in_st) < 0) {
        err_set(e, ERR_SERVER, "cannot stat the source file");
        goto out;
    }
    info = format_parse_safetensors(head, 8 + hlen, (uint64_t)in_st.st_size, e);
    if (!info)
        goto out;
    hdr = json_loadb((const char *)head + 8, hlen, 0, NULL);
    if (!json_is_object(hdr)) {
        err_set(e, ERR_VALIDATION, "the safetensors header is not a JSON object");
        goto out;
    }
    size_t nt = json_object_size(hdr), k = 0;
    ts = calloc(nt ? nt : 1, sizeof(tensor));
    if (!ts) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(hdr, key, v)
    {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        json_t *off = json_object_get(v, "data_offsets");
        ts[k].name = key;
        ts[k].desc = v;
        ts[k].begin = (uint64_t)json_integer_value(json_array_get(off, 0));
        ts[k].end = (uint64_t)json_integer_value(json_array_get(off, 1));
        ts[k].convert = strcmp(json_string_value(json_object_get(v, "dtype")), "F32") == 0;
        k++;
    }
    nt = k;
    qsort(ts, nt, sizeof(tensor), cmp_tensor);
    /* New offsets in the same order; converted tensors halve. */
    uint64_t pos = 0;
    for (size_t i = 0; i < nt; i++) {
        uint64_t n = ts[i].end - ts[i].begin;
        ts[i].nbegin = pos;
        pos += ts[i].convert ? n / 2 : n;
        ts[i].nend = pos;
    }
    nh = json_object();
    json_t *meta = json_object_get(hdr, "__metadata__");
    if (meta)
        json_object_set(nh, "__metadata__", meta);
    json_object_foreach(hdr, key, v)
    {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        for (size_t i = 0; i < nt; i++) {
            if (ts[i].desc != v)
                continue;
            json_t *d = json_deep_copy(v);
            if (ts[i].convert)
                json_object_set_new(d, "dtype", json_string(bf16 ? "BF16" : "F16"));
            json_object_set_new(d, "data_offsets",
                                json_pack("[I,I]", (json_int_t)ts[i].nbegin,
                                          (json_int_t)ts[i].nend));
            json_object_set_new(nh, key, d);
        }
    }
    text = json_dumps(nh, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    size_t tl = strlen(text), padded = (tl + 7) / 8 * 8;
    uint8_t hl[8];
    for (int i = 0; i < 8; i++)
        hl[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    if (write_all(out_fd, hl, 8, &written, max_out, e) < 0 ||
        write_all(out_fd, text, tl, &written, max_out, e) < 0 ||
        write_all(out_fd, spaces, padded - tl, &written, max_out, e) < 0)
        goto out;
    inb = malloc(BLOCK);
    outb = malloc(BLOCK / 2);
    if (!inb || !outb) {
        err_set(e, ERR_SERVER, "out of memory");
        goto out;
    }
    uint64_t data0 = 8 + hlen;
    for (size_t i = 0; i < nt; i++) {
        uint64_t off = ts[i].begin, end = ts[i].end;
        while (off < end) {
            size_t n = (size_t)(end - off < BLOCK ? end - off : BLOCK);
            if (read_at(in_fd, inb, n, data0 + off, e) < 0)
                goto out;
            if (ts[i].convert) {
                fp16_convert_le(outb, inb, n / 4, bf16);
                if (write_all(out_fd, outb, n / 2, &written, max_out, e) < 0)
                    goto out;
            } else if (write_all(out_fd, inb, n, &written, max_out, e) < 0) {
                goto out;
            }
            off += n;
            if (tick)
                tick(ctx);
        }
    }
    rc = 0;
out:
    free(head);
    free(inb);
    free(outb);
    free(ts);
    free(text);
    json_decref(hdr);
    json_decref(info);
    json_decref(nh);
    return rc;
}
