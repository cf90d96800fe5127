/*
 * seed.c: fills a cairn database with N models of M versions each, through the store API
 * (the same code paths as the server), for bench/catalog. Deterministic.
 * usage: cairn-bench-seed DB_URL MODELS VERSIONS_PER_MODEL [--wait]
 * Writes go in transactions of 2,000 models begun with store_tx_begin_bulk (on PostgreSQL the
 * inserts are pipelined: a duplicate fails the batch at its commit); --wait begins them with
 * store_tx_begin, so each insert waits for its answer as a request's do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/semver.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/timeutil.h"

static const char *const tags[] = {"nlp", "vision", "audio", "chat", "code", "embedding",
                                   "rag", "agent", "ocr", "translation", "summarization",
                                   "classification", "detection", "segmentation", "tts",
                                   "asr", "math", "reasoning", "multimodal", "small"};
static const char *const licenses[] = {"apache-2.0", "mit", "llama3", "gemma", "cc-by-4.0",
                                       "openrail", "bsd-3-clause", "other"};
static const char *const frameworks[] = {"safetensors", "gguf", "onnx", "pytorch", "tflite",
                                         "coreml"};
static const char *const sizes[] = {"tiny", "small", "medium", "large", "xlarge"};
static const char *const words[] = {"fast", "tiny", "robust", "multilingual", "instruct",
                                    "quantized", "distilled", "base", "chat", "vision",
                                    "speech", "coder", "llama", "mistral", "phi", "qwen"};

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
/* Skewed pick: low indexes are much more frequent (facets look like real catalogs). */
static size_t pick(size_t n)
{
    uint64_t a = next() % n, b = next() % n;
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    bool wait = argc == 5 && strcmp(argv[4], "--wait") == 0;
    if (argc != 4 && !wait) {
        fprintf(stderr, "usage: %s DB_URL MODELS VERSIONS_PER_MODEL [--wait]\n", argv[0]);
        return 2;
    }
    long nmodels = atol(argv[2]), nver = atol(argv[3]);
    err e = {0};
    store *s = NULL;
    if (store_open(&s, argv[1], 1, &e) < 0) {
        fprintf(stderr, "seed: %s\n", e.detail);
        return 1;
    }
    store_tx *tx = NULL;
    arena *keep = arena_create(); /* the org outlives the per-batch arenas */
    arena *a = arena_create();
    store_org o;
    if (store_tx_begin(&tx, s, true, &e) < 0)
        return 1;
    if (store_org_get(&o, tx, "bench", keep, &e) < 0) {
        err_clear(&e);
        if (store_org_create(&o, tx, "bench", "Bench", keep, &e) < 0)
            return 1;
    }
    if (store_tx_end(tx, true, &e) < 0) {
        fprintf(stderr, "seed: %s\n", e.detail);
        return 1;
    }
    tx = NULL;
    int64_t t0 = time_mono_us(), now = time_now_ms();
    for (long i = 0; i < nmodels; i++) {
        if (i % 2000 == 0) {
            int ended = tx ? store_tx_end(tx, true, &e) : 0;
            tx = NULL;
            if (ended < 0)
                break;
            arena_free(a);
            a = arena_create();
            if ((wait ? store_tx_begin(&tx, s, true, &e) : store_tx_begin_bulk(&tx, s, &e)) < 0)
                break;
        }
        char id[37];
        crypto_uuid7(id);
        store_artifact m = {0};
        m.id = arena_strdup(a, id);
        m.org_id = o.id;
        m.org_slug = o.slug;
        m.kind = "models";
        m.name = arena_printf(a, "model-%06ld", i);
        m.pretty_name = arena_printf(a, "%s %s %ld", words[pick(16)], words[pick(16)], i);
        m.summary = arena_printf(a, "A %s %s model for %s%s", words[pick(16)], words[pick(16)],
                                 tags[pick(20)], i % 20000 == 7 ? " zebracorn" : "");
        m.license = (char *)licenses[pick(8)];
        m.framework = (char *)frameworks[pick(6)];
        m.size_category = (char *)sizes[pick(5)];
        m.tags = arena_printf(a, "[\"%s\",\"%s\"]", tags[pick(20)], tags[10 + pick(10)]);
        m.task_categories = arena_printf(a, "[\"%s\"]", tags[pick(10)]);
        m.is_public = i % 2 == 0;
        m.enabled = true;
        m.created_at = m.updated_at = now - (nmodels - i) * 1000;
        if (store_artifact_insert(tx, &m, &e) < 0)
            break;
        for (long k = 0; k < nver; k++) {
            char vs[32], key[SEMVER_KEY_MAX], vid[37];
            semver sv;
            snprintf(vs, sizeof(vs), "1.%ld.0", k);
            semver_parse(&sv, vs, strlen(vs));
            semver_sort_key(key, sizeof(key), &sv);
            crypto_uuid7(vid);
            store_version v = {0};
            v.id = vid;
            v.artifact_id = m.id;
            v.version = vs;
            v.sort_key = key;
            v.lifecycle = k + 1 < nver ? "published" : "draft";
            v.parameter_count = -1;
            v.created_at = v.updated_at = now;
            if (store_version_insert(tx, &v, &e) < 0)
                goto fail;
        }
        if (store_artifact_refresh(tx, m.id, m.updated_at, &e) < 0)
            break;
    }
fail:
    if (e.kind == ERR_NONE) { /* commit the last batch (a failed commit fills e) */
        store_tx_end(tx, true, &e);
        tx = NULL;
    }
    if (e.kind != ERR_NONE) {
        fprintf(stderr, "seed: %s\n", e.detail);
        store_tx_end(tx, false, &e);
        arena_free(a);
        arena_free(keep);
        store_close(s);
        return 1;
    }
    printf("seeded %ld models x %ld versions in %.1f s\n", nmodels, nver,
           (double)(time_mono_us() - t0) / 1e6);
    arena_free(a);
    arena_free(keep);
    store_close(s);
    return 0;
}
