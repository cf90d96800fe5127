// The public API of cairn (docs/api.md), as the UI uses it: the token kept in localStorage,
// JSON calls whose failures carry the API's `detail`, and uploads with progress.
import { Sha256 } from './sha256.js';

const TOKEN_KEY = 'cairn.token';
export const SESSION_THRESHOLD = 64 * 1024 * 1024; // larger files go through resumable sessions
const CHUNK = 16 * 1024 * 1024;

/** Who is signed in: {token, org, role, server_admin} or token null. */
export const auth = { token: localStorage.getItem(TOKEN_KEY), org: null, role: null, server_admin: false };

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `request failed (HTTP ${status})`);
    this.status = status;
    this.type = body && body.type;
    this.errors = body && body.errors;
  }
}

/** Human text of an error: the API's detail, then field errors. */
export function errorText(e) {
  if (!(e instanceof ApiError)) return e && e.message ? e.message : String(e);
  const fields = (e.errors || []).map((x) => `${(x.loc || []).slice(1).join('.')}: ${x.msg}`);
  return fields.length ? `${e.message} (${fields.join('; ')})` : e.message;
}

const ROLES = { reader: 1, writer: 2, admin: 3 };
/** True when the signed-in token has at least `role` in `org` (server admins everywhere). */
export function can(role, org = auth.org) {
  if (!auth.token || !auth.role) return false;
  if (auth.server_admin) return true;
  return org === auth.org && ROLES[auth.role] >= ROLES[role];
}

function headers(extra = {}) {
  const h = { ...extra };
  if (auth.token) h.Authorization = `Bearer ${auth.token}`;
  return h;
}

/** JSON call; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function call(method, path, { body, signal, headers: extra } = {}) {
  const init = { method, headers: headers(extra), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, init);
  if (r.status === 204) return null;
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!r.ok) {
    if (r.status === 401 && auth.token && init.headers.Authorization === `Bearer ${auth.token}`) {
      signOut(); // revoked or expired: the app shows the signed-out state
      window.dispatchEvent(new CustomEvent('cairn-signed-out', { detail: json && json.detail }));
    }
    throw new ApiError(r.status, json);
  }
  return json;
}

export const get = (path, opts) => call('GET', path, opts);

/** Maps items through async fn, at most `limit` at a time (kind to rate limits); keeps order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Signs in with token: checks it with /whoami, keeps it. Rejects (and keeps nothing) if bad. */
export async function signIn(token) {
  const r = await fetch('/api/v1/whoami', { headers: { Authorization: `Bearer ${token}` } });
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, j);
  localStorage.setItem(TOKEN_KEY, token);
  Object.assign(auth, { token, org: j.org, role: j.role, server_admin: !!j.server_admin });
  return auth;
}

/** Re-reads who the kept token is; signs out if it no longer works. */
export async function restore() {
  if (!auth.token) return auth;
  try {
    await signIn(auth.token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signOut();
    else throw e;
  }
  return auth;
}

export function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  Object.assign(auth, { token: null, org: null, role: null, server_admin: false });
}

export const enc = encodeURIComponent;
export const encPath = (p) => p.split('/').map(enc).join('/');

/** Base path of an artifact: /api/v1/org/ORG/KIND/NAME. */
export const artPath = (kind, org, name) => `/api/v1/org/${enc(org)}/${kind}/${enc(name)}`;

/* One XHR (fetch has no upload progress): resolves to the parsed body. */
function xhr(method, url, body, hdrs, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, url);
    for (const [k, v] of Object.entries(headers(hdrs))) x.setRequestHeader(k, v);
    x.upload.onprogress = (ev) => onProgress && onProgress(ev.loaded);
    x.onload = () => {
      let j = null;
      try { j = x.responseText ? JSON.parse(x.responseText) : null; } catch { j = null; }
      if (x.status >= 200 && x.status < 300) resolve(j);
      else reject(new ApiError(x.status, j));
    };
    x.onerror = () => reject(new Error('network error'));
    x.onabort = () => reject(new Error('upload cancelled'));
    if (signal) signal.addEventListener('abort', () => x.abort());
    x.send(body);
  });
}

async function sha256Of(blob) {
  if (globalThis.crypto && crypto.subtle && blob.size <= SESSION_THRESHOLD) {
    const d = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  const h = new Sha256();
  for (let off = 0; off < blob.size; off += CHUNK) h.update(await blob.slice(off, off + CHUNK).arrayBuffer());
  return h.hex();
}

/* Sessions kept across page loads, so dropping the same file again resumes it. */
const sessionKey = (verPath, file) => `cairn.upload:${verPath}:${file.name}:${file.size}:${file.lastModified}`;

/**
 * Uploads file as `path` into the version at verPath (…/versions/V). Small files are one PUT
 * with their SHA-256 declared; files above SESSION_THRESHOLD go through a resumable session in
 * CHUNK pieces (a failed piece is retried from the server's offset; a session survives reloads).
 * onProgress(bytesSent, total). Resolves to the server's answer (with the stored sha256).
 */
export async function upload(verPath, path, file, onProgress = () => {}, signal) {
  if (file.size <= SESSION_THRESHOLD) {
    const sum = await sha256Of(file);
    return xhr('PUT', `${verPath}/files/${encPath(path)}`, file,
      { 'Content-Type': 'application/octet-stream', 'X-Checksum-Sha256': sum }, (n) => onProgress(n, file.size), signal);
  }
  const key = sessionKey(verPath, file);
  let url = localStorage.getItem(key);
  let offset = 0;
  if (url) {
    try { offset = (await get(url)).offset; } catch { url = null; }
  }
  if (!url) {
    const s = await call('POST', `${verPath}/uploads/sessions`, { body: { path, size: file.size } });
    url = s.session_url;
    offset = 0;
    localStorage.setItem(key, url);
  }
  let h = new Sha256();
  for (let off = 0; off < offset; off += CHUNK) { // hash what the server already has
    h.update(await file.slice(off, Math.min(off + CHUNK, offset)).arrayBuffer());
    onProgress(off, file.size);
  }
  let tries = 0;
  while (offset < file.size) {
    if (signal && signal.aborted) throw new Error('upload cancelled');
    const end = Math.min(offset + CHUNK, file.size);
    const piece = file.slice(offset, end);
    const buf = await piece.arrayBuffer();
    const before = h.clone();
    try {
      const base = offset;
      const sent = xhr('PATCH', url, buf, { 'Content-Type': 'application/octet-stream',
        'Content-Range': `bytes ${offset}-${end - 1}/${file.size}` }, (n) => onProgress(base + n, file.size), signal);
      h.update(buf); // hashes while the piece is on the wire
      const r = await sent;
      offset = r.offset;
      tries = 0;
    } catch (e) {
      h = before;
      if (++tries > 5 || (signal && signal.aborted) || (e instanceof ApiError && e.status < 500 && e.status !== 409)) throw e;
      await new Promise((res) => setTimeout(res, 500 * tries));
      const have = (await get(url)).offset; // resume where the server is
      if (have !== offset) { // only whole chunks are hashed: rehash up to the server's offset
        if (have < offset) throw new Error('the upload session lost data; drop the file again');
        h.update(await file.slice(offset, have).arrayBuffer());
        offset = have;
      }
    }
  }
  const done = await call('PUT', `${url}?sha256=${h.hex()}`);
  localStorage.removeItem(key);
  onProgress(file.size, file.size);
  return done;
}
