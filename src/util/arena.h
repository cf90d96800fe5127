/*
 * arena.h: per-request bump allocator. Allocation aborts on out-of-memory (as in h2o and
 * Redis), so sizes from the wire are checked against limits before they reach it.
 * An arena belongs to one thread.
 */
#ifndef CAIRN_ARENA_H
#define CAIRN_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;
typedef void (*arena_fn)(void *);

/* Returns a new arena; never NULL (aborts on OOM). Free with arena_free(). */
arena *arena_create(void);
/* Runs the deferred cleanups (last first) and frees every block; accepts NULL. */
void arena_free(arena *a);
/* Returns n zeroed bytes, aligned for any type, living as long as the arena. */
void *arena_alloc(arena *a, size_t n);
/* Returns a NUL-terminated copy of s (NULL gives NULL). */
char *arena_strdup(arena *a, const char *s);
/* Returns a NUL-terminated copy of s[0..n). */
char *arena_strndup(arena *a, const char *s, size_t n);
/* Returns a formatted string living as long as the arena. */
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);
/* Registers fn(p) to run when the arena is freed (foreign objects join its lifetime). */
void arena_defer(arena *a, arena_fn fn, void *p);

#define arena_new(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define arena_array(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (n)))

#endif
