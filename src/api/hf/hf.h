/*
 * hf.h: the Hugging Face Hub API adapter, served under /hf (docs/hf.md). It translates the
 * shapes, names and errors the HF clients (@huggingface/hub, huggingface_hub, transformers.js)
 * use and calls the v1 handlers and the same access, visibility, version and file functions;
 * no rule of its own. Mapping: `org/name` = repo id; a SemVer version or alias = a revision;
 * `main`/`HEAD` = the `latest` alias; each version has a stable 40-hex commit id derived from
 * its name, version and files; every file is presented as LFS with its SHA-256 as oid/ETag.
 */
#ifndef CAIRN_API_HF_H
#define CAIRN_API_HF_H

#include "api/api.h"

/* The door of the /hf routes: bodies handed over raw (JSON, forms, NDJSON), errors as
 * {"error": ...} with X-Error-Code / X-Error-Message, CORS headers on every answer. */
extern const api_door hf_door;

/* Read side (read.c). */
int hf_model_info(api_reply *r, api_call *c);
int hf_model_list(api_reply *r, api_call *c);
int hf_tree(api_reply *r, api_call *c);
int hf_paths_info(api_reply *r, api_call *c);
int hf_resolve(api_reply *r, api_call *c);
int hf_refs(api_reply *r, api_call *c);
int hf_commits(api_reply *r, api_call *c);
int hf_whoami(api_reply *r, api_call *c);
int hf_preflight(api_reply *r, api_call *c);

#endif
