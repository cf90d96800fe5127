/*
 * markdown.c: cmark with CMARK_OPT_SAFE (raw HTML never survives into a page).
 */
#include "core/markdown.h"

#include <cmark.h>

#include "core/frontmatter.h"

char *markdown_to_safe_html(const char *md, size_t n)
{
    size_t off = 0;
    json_t *fm = frontmatter_parse(md, n, &off);
    json_decref(fm);
    if (off > n)
        off = n;
    return cmark_markdown_to_html(md + off, n - off, CMARK_OPT_SAFE | CMARK_OPT_VALIDATE_UTF8);
}
