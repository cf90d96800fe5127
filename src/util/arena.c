/*
 * arena.c: per-request bump allocator with deferred cleanups.
 */
#include "util/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} block;

typedef struct defer {
    struct defer *next;
    arena_fn fn;
    void *p;
} defer;

struct arena {
    block *head;
    defer *defers;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("cairn: out of memory\n", stderr);
        abort();
    }
    return p;
}

arena *arena_create(void)
{
    arena *a = xmalloc(sizeof(*a));
    a->head = NULL;
    a->defers = NULL;
    return a;
}

void arena_free(arena *a)
{
    if (!a)
        return;
    for (defer *d = a->defers; d; d = d->next)
        d->fn(d->p);
    block *b = a->head;
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK / 2 ? n : ARENA_BLOCK;
        block *nb = xmalloc(sizeof(block) + cap);
        nb->used = 0;
        nb->cap = cap;
        if (cap == n && b) {
            /* A large one-off: keep the current block as the one to bump from. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
    if (!fmt)
        return arena_strdup(a, "");
    va_list cp;
    va_copy(cp, ap);
    char probe[1];
    int n = vsnprintf(probe, sizeof(probe), fmt, cp);
    va_end(cp);
    if (n < 0)
        n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void arena_defer(arena *a, arena_fn fn, void *p)
{
    defer *d = arena_new(a, defer);
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}
