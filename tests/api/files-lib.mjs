// Helpers shared by the file upload/download tests (files, downloads, formats, maintenance,
// crash). Not a test file itself.
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { api, uniq, S3_MODE, s3PrefixFor, s3ObjectUrl, s3List } from './harness.mjs';

export const MiB = 1024 * 1024;

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Deterministic pseudo-random bytes: AES-128-CTR keystream keyed by the seed. */
export function prngCipher(seed) {
  const key = createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

export function prngBytes(seed, n) {
  return prngCipher(seed).update(Buffer.alloc(n));
}

/** Async iterable of `total` pseudo-random bytes in `chunk`-sized pieces. */
export async function* prngStream(seed, total, chunk = MiB) {
  const c = prngCipher(seed);
  const zeros = Buffer.alloc(chunk);
  let left = total;
  while (left > 0) {
    const n = Math.min(chunk, left);
    yield c.update(n === chunk ? zeros : zeros.subarray(0, n));
    left -= n;
  }
}

/** sha256 of prngStream(seed, total) without keeping it. */
export function prngSha256(seed, total, chunk = MiB) {
  const c = prngCipher(seed);
  const h = createHash('sha256');
  const zeros = Buffer.alloc(chunk);
  let left = total;
  while (left > 0) {
    const n = Math.min(chunk, left);
    h.update(c.update(n === chunk ? zeros : zeros.subarray(0, n)));
    left -= n;
  }
  return h.digest('hex');
}

export const artBase = (o, kind, name) => `/api/v1/org/${o.slug}/${kind}/${name}`;
export const verBase = (o, kind, name, v) => `${artBase(o, kind, name)}/versions/${v}`;

/** Creates an artifact (with `extra` fields) and returns {name, base, art}. */
export async function mkArtifact(srv, o, kind, extra = {}) {
  const name = extra.name || uniq('f');
  const r = await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}`, { token: o.writer, body: { ...extra, name } });
  assert.equal(r.status, 201, `create artifact: ${r.status} ${r.text}`);
  return { name, base: artBase(o, kind, name), art: r.json };
}

/** Creates a draft version; returns the Version. */
export async function mkVersion(srv, o, kind, name, version = '1.0.0', extra = {}) {
  const r = await api(srv, 'POST', `${artBase(o, kind, name)}/versions`, { token: o.writer, body: { version, ...extra } });
  assert.equal(r.status, 201, `create version ${version}: ${r.status} ${r.text}`);
  return r.json;
}

/** PUT .../files/{path} with a raw body (Buffer / async iterable). Returns api()'s result. */
export async function putFile(srv, o, kind, name, version, p, body, opts = {}) {
  const url = `${verBase(o, kind, name, version)}/files/${p}`;
  const headers = { 'content-type': 'application/octet-stream', ...(opts.headers || {}) };
  if (body && typeof body[Symbol.asyncIterator] === 'function' && !Buffer.isBuffer(body)) {
    // Streamed body: fetch directly (api() only sets duplex for web streams).
    if (opts.token !== null) headers.authorization = `Bearer ${opts.token || o.writer}`;
    const r = await fetch(srv.url + url, { method: 'PUT', headers, body, duplex: 'half' });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, headers: r.headers, json, text };
  }
  return api(srv, 'PUT', url, { token: opts.token === undefined ? o.writer : opts.token, rawBody: body, headers });
}

/** putFile that must answer 201; returns the Package. */
export async function putFileOk(srv, o, kind, name, version, p, body, opts = {}) {
  const r = await putFile(srv, o, kind, name, version, p, body, opts);
  assert.equal(r.status, 201, `PUT ${p}: ${r.status} ${r.text?.slice(0, 400)}`);
  return r.json;
}

export async function publish(srv, o, kind, name, version) {
  const r = await api(srv, 'POST', `${verBase(o, kind, name, version)}/publish`, { token: o.writer });
  assert.equal(r.status, 200, `publish ${version}: ${r.status} ${r.text}`);
  return r.json;
}

/** fetch returning the body as a Buffer. */
export async function fetchBuf(url, init = {}) {
  const r = await fetch(url, { redirect: 'manual', ...init });
  const buf = Buffer.from(await r.arrayBuffer());
  // text and json are decoded on first use only. Decoding every body, twice, held the event
  // loop ~1.3 s per 32 MiB download (5 s for four, far more on a loaded machine): fetch could
  // then neither expire its idle keep-alive connections (4 s) nor see the server close them
  // (--header-timeout, 10 s), and the next request went out on a closed one: "fetch failed".
  let text;
  let json;
  let parsed = false;
  return {
    status: r.status,
    headers: r.headers,
    buf,
    get text() {
      if (text === undefined) text = buf.toString('utf8');
      return text;
    },
    get json() {
      if (!parsed) {
        parsed = true;
        try { json = JSON.parse(this.text); } catch { json = undefined; }
      }
      return json;
    },
  };
}

/** fetch that hashes the body as it streams (for large downloads). */
export async function fetchSha(url, init = {}) {
  const r = await fetch(url, { redirect: 'manual', ...init });
  const h = createHash('sha256');
  let n = 0;
  if (r.body) {
    for await (const chunk of r.body) { h.update(chunk); n += chunk.length; }
  }
  return { status: r.status, headers: r.headers, sha256: h.digest('hex'), size: n };
}

/**
 * An HTTP request whose path is sent exactly as given (fetch/URL would normalise dot
 * segments and %2e%2e). Returns {status, headers, text, json}.
 */
export function rawHttp(srv, method, rawPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path: rawPath, headers, insecureHTTPParser: true }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
        resolve({ status: res.statusCode, headers: h, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

/** Absolute path of a blob on disk under a file:// blob store rooted at DATADIR/blobs. */
export const blobPath = (dataDir, hex) => path.join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex);

/*
 * The blob store of a server on DATADIR, in either mode: files under DATADIR/blobs, or (with
 * CAIRN_TEST_S3) objects under the server's prefix of the test bucket. All async.
 */

/** The object key of blob hex (S3 mode). */
export const blobObjectKey = (dataDir, hex) => `${s3PrefixFor(dataDir)}sha256/${hex.slice(0, 2)}/${hex}`;

export async function blobExists(dataDir, hex) {
  if (!S3_MODE) return fs.existsSync(blobPath(dataDir, hex));
  const r = await fetch(s3ObjectUrl(blobObjectKey(dataDir, hex)), { method: 'HEAD' });
  return r.status === 200;
}

/** Every blob hex under DATADIR/blobs/sha256 (or the prefix's sha256/). */
export async function listBlobs(dataDir) {
  if (S3_MODE) {
    const pre = `${s3PrefixFor(dataDir)}sha256/`;
    return (await s3List(pre)).map((o) => o.key.slice(pre.length + 3));
  }
  const root = path.join(dataDir, 'blobs', 'sha256');
  const out = [];
  if (!fs.existsSync(root)) return out;
  for (const ab of fs.readdirSync(root)) {
    for (const f of fs.readdirSync(path.join(root, ab))) out.push(f);
  }
  return out;
}

/** The stored bytes of blob hex (a Buffer). */
export async function readBlob(dataDir, hex) {
  if (!S3_MODE) return fs.readFileSync(blobPath(dataDir, hex));
  const r = await fetch(s3ObjectUrl(blobObjectKey(dataDir, hex)));
  assert.equal(r.status, 200, `read blob ${hex}`);
  return Buffer.from(await r.arrayBuffer());
}

/** Replaces the stored bytes of blob hex (to corrupt or restore it behind cairn's back). */
export async function writeBlob(dataDir, hex, buf) {
  if (!S3_MODE) {
    const p = blobPath(dataDir, hex);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (fs.existsSync(p)) fs.chmodSync(p, 0o644);
    fs.writeFileSync(p, buf);
    return;
  }
  const r = await fetch(s3ObjectUrl(blobObjectKey(dataDir, hex)), { method: 'PUT', body: buf });
  await r.arrayBuffer();
  assert.equal(r.status, 200, `write blob ${hex}`);
}

/** Removes blob hex behind cairn's back. */
export async function removeBlob(dataDir, hex) {
  if (!S3_MODE) return fs.rmSync(blobPath(dataDir, hex));
  const r = await fetch(s3ObjectUrl(blobObjectKey(dataDir, hex)), { method: 'DELETE' });
  await r.arrayBuffer();
  assert.ok(r.status === 204 || r.status === 200, `remove blob ${hex}: ${r.status}`);
}

/** Objects a client PUT straight to the store that await confirmation (S3 mode; [] on files,
 * where a presigned PUT lands in the blob store at once). */
export async function pendingUploads(dataDir) {
  if (!S3_MODE) return [];
  return s3List(`${s3PrefixFor(dataDir)}uploads/`);
}

/** Polls fn until it returns truthy or the timeout passes; returns the last value. */
export async function until(fn, timeoutMs = 3000, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(stepMs);
  }
}

/** A tiny valid .safetensors file: one F32 tensor "w" of shape [2,3]. */
export function safetensors(tensors = { w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } }, dataLen = 24) {
  const header = Buffer.from(JSON.stringify(tensors), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, prngBytes('st-data', dataLen)]);
}

function ggufString(s) {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}

const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };

/**
 * A tiny GGUF v3 file: kv general.architecture = arch, one F32 tensor "t" of 4x4, aligned data.
 * over: {tensorCount, kvCount, keyLen} to make hostile variants.
 */
export function gguf(arch = 'llama', over = {}) {
  const key = ggufString('general.architecture');
  const keyBuf = over.keyLen !== undefined
    ? Buffer.concat([u64(over.keyLen), Buffer.from('general.architecture')])
    : key;
  const head = Buffer.concat([
    Buffer.from('GGUF'), u32(3),
    u64(over.tensorCount ?? 1), u64(over.kvCount ?? 1),
    keyBuf, u32(8), ggufString(arch),
    ggufString('t'), u32(2), u64(4), u64(4), u32(0), u64(0),
  ]);
  const pad = (32 - (head.length % 32)) % 32;
  return Buffer.concat([head, Buffer.alloc(pad), prngBytes('gguf-data', 64)]);
}

export { u32, u64 };

/**
 * Serialises a FormData to one Buffer (+ its content-type), so the request goes out in one
 * piece rather than streamed part by part.
 */
export async function formBody(fd) {
  const r = new Response(fd);
  return { rawBody: Buffer.from(await r.arrayBuffer()), headers: { 'content-type': r.headers.get('content-type') } };
}

/** POST .../bundle with a FormData, sent as one buffer. */
export async function postBundle(srv, base, token, fd) {
  const { rawBody, headers } = await formBody(fd);
  return api(srv, 'POST', `${base}/bundle`, { token, rawBody, headers });
}

/** Current resident set size of a process, in bytes. */
export function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/** Samples a process's RSS every few ms; stop() returns the growth over the starting RSS. */
export function rssGrowth(pid, everyMs = 5) {
  const base = rss(pid);
  let peak = base;
  const t = setInterval(() => { try { peak = Math.max(peak, rss(pid)); } catch { /* gone */ } }, everyMs);
  return { stop() { clearInterval(t); try { peak = Math.max(peak, rss(pid)); } catch { /* gone */ } return peak - base; } };
}
