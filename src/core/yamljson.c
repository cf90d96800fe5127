/*
 * yamljson.c: one YAML document to a jansson value, typed by the YAML 1.2 core schema.
 * libyaml supplies the events; the tree is built with an explicit stack, so hostile nesting
 * costs neither recursion nor more than YAMLJSON_MAX_DEPTH frames.
 */
#include "core/yamljson.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

typedef struct frame {
    json_t *node; /* borrowed: owned by its parent, or by conv.root */
    json_t *key;  /* mappings only: the key awaiting its value, owned */
} frame;

typedef struct conv {
    json_t *root;                    /* owned until handed to the caller */
    frame stack[YAMLJSON_MAX_DEPTH]; /* open mappings and sequences */
    size_t depth;                    /* frames in use */
    size_t nodes;                    /* nodes seen so far */
    size_t ndocs;                    /* documents started */
    locale_t cloc;                   /* "C" numeric locale for strtod_l, made on first use */
    char *errbuf;
    size_t errcap;
} conv;

/* Writes the first error into the caller's buffer, as one line of printable text. */
__attribute__((format(printf, 2, 3))) static int fail(conv *c, const char *fmt, ...)
{
    va_list ap;

    if (c->errbuf == NULL || c->errcap == 0 || c->errbuf[0] != '\0')
        return -1;
    va_start(ap, fmt);
    vsnprintf(c->errbuf, c->errcap, fmt, ap);
    va_end(ap);
    for (char *p = c->errbuf; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return -1;
}

/* Copies at most cap-1 bytes of s into buf for a message, non-printable ASCII as '?'. */
static const char *excerpt(char *buf, size_t cap, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && i + 1 < cap; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* Turns libyaml's error state into the caller's message. */
static void parser_fail(conv *c, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "syntax error";

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        fail(c, "yaml: out of memory");
        break;
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            fail(c, "yaml: byte %zu: %s (0x%X)", p->problem_offset, problem,
                 (unsigned)p->problem_value);
        else
            fail(c, "yaml: byte %zu: %s", p->problem_offset, problem);
        break;
    default:
        fail(c, "yaml: line %zu: %s", p->problem_mark.line + 1, problem);
        break;
    }
}

static bool all_of(const char *s, size_t n, const char *set)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    }
    return true;
}

static bool is_one_of(const char *s, size_t n, const char *const *words)
{
    for (; *words != NULL; words++) {
        if (strlen(*words) == n && memcmp(s, *words, n) == 0)
            return true;
    }
    return false;
}

/* YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s, size_t n)
{
    size_t i = 0, int_digits = 0, frac_digits = 0, exp_digits = 0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        int_digits++;
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            frac_digits++;
        if (int_digits == 0 && frac_digits == 0)
            return false;
    } else if (int_digits == 0) {
        return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    return i == n;
}

/* Types a plain scalar; s is NUL-terminated at s[n] (libyaml guarantees it). */
static json_t *resolve_plain(conv *c, const char *s, size_t n)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    const char *digits = s;
    char *end;
    int base = 10;

    if (n == 0 || is_one_of(s, n, nulls))
        return json_null();
    if (is_one_of(s, n, trues))
        return json_true();
    if (is_one_of(s, n, falses))
        return json_false();

    if (n > 2 && s[0] == '0' && s[1] == 'x' && all_of(s + 2, n - 2, "0123456789abcdefABCDEF"))
        base = 16;
    else if (n > 2 && s[0] == '0' && s[1] == 'o' && all_of(s + 2, n - 2, "01234567"))
        base = 8;
    else if (!all_of(s + (s[0] == '-' || s[0] == '+'), n - (s[0] == '-' || s[0] == '+'),
                     "0123456789"))
        base = 0;
    if (base != 0) {
        long long v;

        if (base != 10)
            digits = s + 2;
        errno = 0;
        v = strtoll(digits, &end, base);
        if (errno == 0 && end == s + n)
            return json_integer((json_int_t)v);
        if (base != 10)
            return json_stringn(s, n); /* too wide for an integer; keep the spelling */
        /* A decimal too wide for json_int_t falls through and becomes a real. */
    } else if (!is_float(s, n)) {
        return json_stringn(s, n);
    }

    if (c->cloc == (locale_t)0) {
        c->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (c->cloc == (locale_t)0)
            return NULL;
    }
    double d = strtod_l(s, &end, c->cloc);
    if (end != s + n || !isfinite(d))
        return json_stringn(s, n);
    return json_real(d);
}

/* Gives v (stolen) to the open container, or makes it the root. */
static int attach(conv *c, json_t *v)
{
    frame *top;
    int rc;

    if (c->depth == 0) {
        json_decref(c->root); /* only one root per document, and one document: a no-op */
        c->root = v;
        return 0;
    }
    top = &c->stack[c->depth - 1];
    if (json_is_array(top->node)) {
        rc = json_array_append_new(top->node, v);
    } else {
        rc = json_object_set_new(top->node, json_string_value(top->key), v);
        json_decref(top->key);
        top->key = NULL;
    }
    return rc < 0 ? fail(c, "yaml: out of memory") : 0;
}

/* True when the next node read is the key of the innermost mapping. */
static bool expecting_key(const conv *c)
{
    const frame *top = c->depth ? &c->stack[c->depth - 1] : NULL;

    return top != NULL && json_is_object(top->node) && top->key == NULL;
}

static int count_node(conv *c, const yaml_event_t *ev)
{
    if (++c->nodes > YAMLJSON_MAX_NODES)
        return fail(c, "yaml: line %zu: more than %d nodes", ev->start_mark.line + 1,
                    YAMLJSON_MAX_NODES);
    return 0;
}

static int on_scalar(conv *c, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    size_t line = ev->start_mark.line + 1;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool as_string;
    json_t *v;
    char ex[48];

    if (count_node(c, ev) < 0)
        return -1;
    if (expecting_key(c)) {
        frame *top = &c->stack[c->depth - 1];

        if (memchr(s, '\0', n) != NULL)
            return fail(c, "yaml: line %zu: mapping key contains a NUL byte", line);
        if (json_object_get(top->node, s) != NULL)
            return fail(c, "yaml: line %zu: duplicate mapping key \"%s\"", line,
                        excerpt(ex, sizeof ex, s, n));
        top->key = json_stringn(s, n);
        if (top->key == NULL)
            return fail(c, "yaml: line %zu: mapping key is not valid UTF-8", line);
        return 0;
    }

    /* Other tags (!!int, local ones) are ignored: the scalar is typed as if untagged. */
    as_string = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                (tag != NULL && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0));
    v = as_string ? json_stringn(s, n) : resolve_plain(c, s, n);
    if (v == NULL)
        return fail(c, "yaml: line %zu: scalar is not valid UTF-8, or out of memory", line);
    return attach(c, v);
}

static int on_start(conv *c, const yaml_event_t *ev, bool mapping)
{
    size_t line = ev->start_mark.line + 1;
    json_t *node;

    if (count_node(c, ev) < 0)
        return -1;
    if (expecting_key(c))
        return fail(c, "yaml: line %zu: mapping keys must be scalars", line);
    if (c->depth == YAMLJSON_MAX_DEPTH)
        return fail(c, "yaml: line %zu: nesting depth exceeds %d", line, YAMLJSON_MAX_DEPTH);
    node = mapping ? json_object() : json_array();
    if (node == NULL)
        return fail(c, "yaml: out of memory");
    if (attach(c, node) < 0)
        return -1;
    c->stack[c->depth].node = node;
    c->stack[c->depth].key = NULL;
    c->depth++;
    return 0;
}

/* Applies one event to the tree; sets *done at the end of the stream. */
static int on_event(conv *c, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++c->ndocs > 1)
            return fail(c, "yaml: line %zu: expected a single document", ev->start_mark.line + 1);
        return 0;
    case YAML_ALIAS_EVENT:
        return fail(c, "yaml: line %zu: aliases are not supported", ev->start_mark.line + 1);
    case YAML_SCALAR_EVENT:
        return on_scalar(c, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(c, ev, false);
    case YAML_MAPPING_START_EVENT:
        return on_start(c, ev, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (c->depth == 0)
            return fail(c, "yaml: unbalanced collection end"); /* libyaml never sends one */
        c->depth--;
        return 0;
    default:
        return 0; /* stream start, document end */
    }
}

json_t *yaml_to_json(const char *s, size_t n, char *errbuf, size_t errcap)
{
    conv c = {.errbuf = errbuf, .errcap = errcap, .cloc = (locale_t)0};
    yaml_parser_t parser;
    bool parser_open = false;
    yaml_event_t ev;
    bool have_event = false;
    bool done = false;
    json_t *out = NULL;

    if (errbuf != NULL && errcap > 0)
        errbuf[0] = '\0';
    if (n > YAMLJSON_MAX_INPUT) {
        fail(&c, "yaml: input of %zu bytes exceeds the %u-byte limit", n, YAMLJSON_MAX_INPUT);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        fail(&c, "yaml: out of memory");
        goto out;
    }
    parser_open = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(s != NULL ? s : ""), n);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            parser_fail(&c, &parser);
            goto out;
        }
        have_event = true;
        if (on_event(&c, &ev, &done) < 0)
            goto out;
        yaml_event_delete(&ev);
        have_event = false;
    }
    out = c.root != NULL ? c.root : json_null(); /* an empty stream is null */
    c.root = NULL;

out:
    if (have_event)
        yaml_event_delete(&ev);
    if (parser_open)
        yaml_parser_delete(&parser);
    for (size_t i = 0; i < c.depth; i++)
        json_decref(c.stack[i].key);
    json_decref(c.root);
    if (c.cloc != (locale_t)0)
        freelocale(c.cloc);
    return out;
}
