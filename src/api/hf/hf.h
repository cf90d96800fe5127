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
#include "store/store.h"

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

/* Write side (write.c). */
int hf_repo_create(api_reply *r, api_call *c);
int hf_validate_yaml(api_reply *r, api_call *c);
int hf_preupload(api_reply *r, api_call *c);
int hf_lfs_batch(api_reply *r, api_call *c);
int hf_commit(api_reply *r, api_call *c);

/* ---- shared by the hf files (read.c) ---- */

/* Adds the CORS headers every /hf answer carries. */
void hf_cors(api_reply *r);
/* Sets a 200 JSON reply with CORS; returns 0. */
int hf_reply_json(api_reply *r, json_t *body);
/* Tags the error in r->e (if a 404) with X-Error-Code code; returns -1. */
int hf_fail_code(api_reply *r, const char *code);
/* Resolves {org}/{name} as a model with v1's api_artifact_access at role (RepoNotFound). */
int hf_repo(store_org *o, store_artifact *m, api_reply *r, api_call *c, store_tx *tx, int role);
/* A version's 40-hex commit id (docs/hf.md); also its files when rs is not NULL. */
int hf_commit_id(char out[41], store_resource **rs, size_t *n, api_call *c, store_tx *tx,
                 const store_artifact *m, const store_version *v, err *e);
/* Resolves an HF revision (main/HEAD, a commit id, or what v1 resolves) of m, with its commit
 * id and (rs not NULL) files (RevisionNotFound). */
int hf_revision(store_version *v, char sha[41], store_resource **rs, size_t *n, api_reply *r,
                api_call *c, store_tx *tx, const store_artifact *m, const char *rev);
/* This server's absolute URL as clients reach it: --public-url, else http://Host. */
const char *hf_base_url(const api_call *c);
/* Percent-encodes s for a URL query value or path segment. */
const char *hf_qenc(arena *a, const char *s);

#endif
