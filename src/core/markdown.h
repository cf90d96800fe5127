/*
 * markdown.h: model cards (CommonMark) to safe HTML.
 */
#ifndef CAIRN_MARKDOWN_H
#define CAIRN_MARKDOWN_H

#include <stddef.h>

/* Renders md[0..n) (YAML front matter skipped) to HTML with raw HTML omitted and unsafe link
 * schemes (javascript:, vbscript:, file:, data: but images) dropped. Returns a malloc'd string
 * the caller frees, or NULL on out-of-memory. Thread-safe. */
char *markdown_to_safe_html(const char *md, size_t n);

#endif
