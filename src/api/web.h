/*
 * web.h: the web UI's files (web/), embedded at build time by tools/webembed.py.
 */
#ifndef CAIRN_WEB_H
#define CAIRN_WEB_H

typedef struct web_file {
    const char *path; /* relative to web/, e.g. "app.js" */
    const unsigned char *data;
    unsigned int len;
    const char *etag; /* quoted strong ETag */
} web_file;

extern const web_file cairn_web_files[];
extern const unsigned int cairn_web_files_count;

#endif
