/*
 * frontmatter.h: the YAML front matter of a model card, reduced to the keys cairn uses.
 */
#ifndef CAIRN_CORE_FRONTMATTER_H
#define CAIRN_CORE_FRONTMATTER_H

#include <stddef.h>

#include <jansson.h>

/*
 * Reads the front matter of the Markdown md[0..n) (a first line exactly "---", optionally
 * followed by \r, YAML, then a line "---" or "...", as on the Hugging Face Hub) and returns a new
 * object (caller json_decref's it) holding only the recognised keys, normalised: "license",
 * "pipeline_tag", "library_name" (strings), "tags" (array of strings), "language" (array of
 * strings; a string becomes a one-element array), "base_model" (string; a list gives its first
 * element). Wrong types are ignored; non-string array elements are dropped. No front matter, an
 * unterminated fence or malformed YAML give an empty object. *body_off (if body_off is not NULL)
 * receives the offset of the Markdown after the closing fence, 0 without front matter. Returns
 * NULL only when out of memory. Thread-safe.
 */
json_t *frontmatter_parse(const char *md, size_t n, size_t *body_off);

#endif
