// Black-box test harness for cairnd: starts a server on a free loopback port with a temp
// data dir, and offers small HTTP/CLI helpers. Node 20, no dependencies.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const CAIRND = process.env.CAIRND || path.join(REPO, 'build', 'cairnd');

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const TOKEN_RE = /^cairn_[A-Za-z0-9_-]{43}$/;

const SANITIZER_MARKERS = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];

/** Random suffix, lowercase hex. */
export function rnd(n = 5) {
  return randomBytes(n).toString('hex');
}

/** A unique, valid org slug / artifact name. */
export function uniq(prefix = 't') {
  return `${prefix}-${rnd()}`;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The database and blob store a server on dataDir uses, and the environment it needs. By default
 * SQLite and files inside dataDir. With CAIRN_TEST_PG (a PostgreSQL "host:port" started by
 * tests/run.sh) the database is one made for dataDir; with CAIRN_TEST_S3 (an S3 endpoint) the
 * blobs live under a prefix named after dataDir. The same dataDir always maps to the same
 * database and prefix, so restarts on a kept dataDir find their data again.
 */
export async function backendFor(dataDir) {
  const out = {
    db: `sqlite://${path.join(dataDir, 'cairn.db')}`,
    blobs: `file://${path.join(dataDir, 'blobs')}`,
    env: {},
    pg: false,
    s3: false,
  };
  const tag = path.basename(dataDir).toLowerCase().replace(/[^a-z0-9]/g, '_');
  if (process.env.CAIRN_TEST_PG) out.pg = true, out.db = await pgDatabaseFor(tag);
  if (process.env.CAIRN_TEST_S3) out.s3 = true, Object.assign(out, s3BlobsFor(tag, dataDir));
  return out;
}

/* PostgreSQL mode: makes (once) the database c_<tag> on the CAIRN_TEST_PG cluster. */
async function pgDatabaseFor(tag) {
  const hostPort = process.env.CAIRN_TEST_PG;
  const [host, port] = hostPort.split(':');
  const name = `c_${tag}`.slice(0, 63);
  const exists = await psql(host, port, `SELECT 1 FROM pg_database WHERE datname = '${name}'`);
  if (exists.trim() !== '1') await psql(host, port, `CREATE DATABASE ${name}`);
  return `postgres://postgres@${hostPort}/${name}`;
}

function psql(host, port, sql) {
  return new Promise((resolve, reject) => {
    const p = spawn('psql', ['-qtA', '-h', host, '-p', port, '-U', 'postgres', '-d', 'postgres', '-c', sql],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`psql ${sql}: ${err}`))));
  });
}

/* S3 mode: returns {blobs, env}. The blobs of dataDir live under the prefix `tag` of the
 * shared test bucket; the read cache sits inside dataDir. */
function s3BlobsFor(tag, dataDir) {
  const cache = path.join(dataDir, 's3cache');
  return {
    blobs: `s3://${S3_BUCKET}/${tag}?endpoint=${s3Endpoint()}&region=us-east-1&cache=${cache}`,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
  };
}

/* ---- S3 mode helpers (s3rver answers anonymous requests, so no signing here) ---- */

/** The bucket tests/support/s3rver.mjs creates. */
export const S3_BUCKET = 'cairn-test';

/** True when the suite runs with blobs on S3 (CAIRN_TEST_S3 names the endpoint). */
export const S3_MODE = Boolean(process.env.CAIRN_TEST_S3);

/** The S3 endpoint, without a trailing slash. */
export function s3Endpoint() {
  return String(process.env.CAIRN_TEST_S3 || '').replace(/\/+$/, '');
}

/** The key prefix (with its slash) of the blob store of a server on dataDir, in S3 mode. */
export function s3PrefixFor(dataDir) {
  return `${path.basename(dataDir).toLowerCase().replace(/[^a-z0-9]/g, '_')}/`;
}

/** URL of an object of the test bucket. */
export const s3ObjectUrl = (key) => `${s3Endpoint()}/${S3_BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;

/** Every object under prefix: [{key, size}], following ListObjectsV2 pages. */
export async function s3List(prefix) {
  const out = [];
  let token = null;
  for (;;) {
    const q = new URLSearchParams({ 'list-type': '2', prefix });
    if (token) q.set('continuation-token', token);
    const r = await fetch(`${s3Endpoint()}/${S3_BUCKET}?${q}`);
    const xml = await r.text();
    if (r.status !== 200) throw new Error(`S3 list ${prefix}: ${r.status} ${xml.slice(0, 300)}`);
    for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const key = /<Key>([^<]*)<\/Key>/.exec(m[1])[1].replace(/&amp;/g, '&');
      out.push({ key, size: Number(/<Size>(\d+)<\/Size>/.exec(m[1])[1]) });
    }
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml);
    if (!/<IsTruncated>true<\/IsTruncated>/.test(xml) || !next) return out;
    token = next[1];
  }
}

/** Removes every object under prefix. */
export async function s3DeletePrefix(prefix) {
  for (const o of await s3List(prefix)) {
    const r = await fetch(s3ObjectUrl(o.key), { method: 'DELETE' });
    await r.arrayBuffer();
  }
}

/** Drops what a server on dataDir kept outside dataDir (its S3 prefix); a no-op with files. */
export async function dropBackend(dataDir) {
  if (S3_MODE) await s3DeletePrefix(s3PrefixFor(dataDir));
}

/**
 * Starts cairnd.
 * opts.args: extra CLI args; opts.env: extra env; opts.dataDir: use this dir (it is still removed
 * on stop unless opts.keepDataDir); opts.adminToken: fixed admin token.
 */
export async function startServer(opts = {}) {
  const port = await freePort();
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-api-'));
  const adminToken = opts.adminToken || `adm_${randomBytes(24).toString('hex')}`;
  const url = `http://127.0.0.1:${port}`;
  const be = await backendFor(dataDir);
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--db', be.db,
    '--blobs', be.blobs,
    ...(opts.args || []),
  ];
  let errBuf = '';
  let outBuf = '';
  const proc = spawn(CAIRND, args, {
    env: { ...process.env, ...be.env, CAIRN_ADMIN_TOKEN: adminToken, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test process that dies (killed by a timeout, say) takes its servers with it.
  const reap = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  proc.once('exit', () => process.removeListener('exit', reap));
  for (const sig of ['SIGTERM', 'SIGINT']) {
    if (process.listenerCount(sig) === 0) process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));
  }
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (d) => { errBuf += d; });
  proc.stdout.on('data', (d) => { outBuf += d; });
  let exited = null; // {code, signal}
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); });
    proc.on('error', (err) => { exited = { code: -1, signal: null, err }; resolve(exited); });
  });

  const cleanup = () => {
    if (!opts.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  let lastErr = null;
  for (;;) {
    if (exited) {
      cleanup();
      throw new Error(`cairnd exited early (${JSON.stringify({ code: exited.code, signal: exited.signal, err: String(exited.err || '') })})\n` +
        `args: ${args.join(' ')}\nstderr:\n${errBuf}\nstdout:\n${outBuf}`);
    }
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
      lastErr = `status ${r.status}`;
    } catch (e) {
      lastErr = e.cause?.code || e.message;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exitPromise;
      cleanup();
      throw new Error(`cairnd not healthy after 10 s (last: ${lastErr})\nargs: ${args.join(' ')}\nstderr:\n${errBuf}\nstdout:\n${outBuf}`);
    }
    await sleep(50);
  }

  let stopped = false;
  return {
    url,
    port,
    adminToken,
    dataDir,
    dbUrl: be.db,
    blobsUrl: be.blobs,
    backendEnv: be.env,
    proc,
    stderr: () => errBuf,
    stdout: () => outBuf,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, 5000);
        await exitPromise;
        clearTimeout(t);
      }
      cleanup();
      if (!opts.keepDataDir) await dropBackend(dataDir).catch(() => {});
      const problems = [];
      if (exited.code !== 0) {
        problems.push(`cairnd exit code ${exited.code} signal ${exited.signal} (expected clean exit 0 on SIGTERM)`);
      }
      for (const m of SANITIZER_MARKERS) {
        if (errBuf.includes(m)) problems.push(`stderr contains "${m}"`);
      }
      if (problems.length) {
        // the report itself (it may be far from the tail), then the tail
        const at = Math.min(...SANITIZER_MARKERS.map((m) => errBuf.indexOf(m)).filter((i) => i >= 0), errBuf.length);
        const report = at < errBuf.length ? errBuf.slice(Math.max(0, at - 2000), at + 6000) : '';
        throw new Error(`cairnd problems: ${problems.join('; ')}\n${report ? `report:\n${report}\n` : ''}stderr (tail):\n${errBuf.slice(-20000)}`);
      }
    },
  };
}

/**
 * HTTP call. opts: token (Bearer), apiKey (X-Api-Key), body (JSON-encoded), rawBody (sent as is,
 * with headers['content-type'] if given), headers.
 * Returns {status, headers, json, text}.
 */
export async function api(server, method, p, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.token !== undefined && opts.token !== null) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apiKey !== undefined && opts.apiKey !== null) headers['x-api-key'] = opts.apiKey;
  let body;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  const init = { method, headers, body, redirect: 'manual' };
  if (body && typeof body.getReader === 'function') init.duplex = 'half';
  const r = await fetch(server.url + p, init);
  const text = await r.text();
  let json;
  if (text.length) {
    try { json = JSON.parse(text); } catch { json = undefined; }
  }
  return { status: r.status, headers: r.headers, json, text };
}

/** POST /api/v1/orgs with the admin token; returns the Org. */
export async function mkOrg(server, slug = uniq('org'), extra = {}) {
  const r = await api(server, 'POST', '/api/v1/orgs', { token: server.adminToken, body: { slug, ...extra } });
  assert.equal(r.status, 201, `mkOrg ${slug}: ${r.status} ${r.text}`);
  return r.json;
}

/** Creates an org token with the admin token; returns the token string (full record in .last). */
export async function mkToken(server, org, role = 'writer', extra = {}) {
  const r = await api(server, 'POST', `/api/v1/org/${org}/tokens`, {
    token: server.adminToken,
    body: { name: `tok-${rnd(3)}`, role, ...extra },
  });
  assert.equal(r.status, 201, `mkToken ${org}/${role}: ${r.status} ${r.text}`);
  mkToken.last = r.json;
  return r.json.token;
}

/** Creates an org and a token per role: {slug, org, reader, writer, admin}. */
export async function mkOrgWithTokens(server, slug = uniq('org')) {
  const org = await mkOrg(server, slug);
  const [reader, writer, admin] = await Promise.all([
    mkToken(server, slug, 'reader'), mkToken(server, slug, 'writer'), mkToken(server, slug, 'admin'),
  ]);
  return { slug, org, reader, writer, admin };
}

/**
 * Checks the full APIErrorPayload envelope; returns the JSON body.
 */
export function assertError(res, code, type) {
  const ctx = `${res.status} ${res.text?.slice(0, 600)}`;
  assert.equal(res.status, code, `expected HTTP ${code}, got ${ctx}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `body not a JSON object: ${ctx}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/i, 'error content-type');
  assert.deepEqual(Object.keys(res.json).sort(), ['code', 'detail', 'errors', 'type'], `envelope keys: ${ctx}`);
  assert.equal(res.json.code, code, `envelope code: ${ctx}`);
  assert.equal(typeof res.json.detail, 'string', `detail type: ${ctx}`);
  assert.ok(res.json.detail.length > 0, 'detail non-empty');
  if (type !== undefined) assert.equal(res.json.type, type, `error type: ${ctx}`);
  else assert.equal(typeof res.json.type, 'string');
  if (code === 422) {
    assert.ok(Array.isArray(res.json.errors) && res.json.errors.length > 0, `422 errors must be a non-empty array: ${ctx}`);
    for (const e of res.json.errors) {
      assert.ok(e && typeof e === 'object', 'error item object');
      assert.ok(Array.isArray(e.loc) && e.loc.length > 0, `loc array: ${JSON.stringify(e)}`);
      for (const l of e.loc) assert.ok(typeof l === 'string' || Number.isInteger(l), `loc element: ${JSON.stringify(e)}`);
      assert.equal(typeof e.msg, 'string', `msg: ${JSON.stringify(e)}`);
      assert.ok(e.msg.length > 0);
      assert.equal(typeof e.type, 'string', `type: ${JSON.stringify(e)}`);
    }
  } else {
    assert.equal(res.json.errors, null, `errors must be null for ${code}: ${ctx}`);
  }
  return res.json;
}

/**
 * 422 with an error item at exactly `loc` (and of `type` if given). Returns that item.
 */
export function assertValidation(res, loc, type) {
  assertError(res, 422, 'validation_error');
  const item = res.json.errors.find((e) => JSON.stringify(e.loc) === JSON.stringify(loc) && (type === undefined || e.type === type));
  assert.ok(item, `no validation error at ${JSON.stringify(loc)}${type ? ` of type ${type}` : ''}; got ${JSON.stringify(res.json.errors)}`);
  return item;
}

/** Runs the cairnd binary; returns {code, stdout, stderr}. */
export function runCli(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(CAIRND, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', (err) => { clearTimeout(t); resolve({ code: -1, stdout, stderr: stderr + String(err) }); });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code === null ? `signal ${signal}` : code, stdout, stderr });
    });
  });
}

/** Asserts no sanitizer output in a CLI run's stderr. */
export function assertCleanCli(r) {
  for (const m of SANITIZER_MARKERS) assert.ok(!r.stderr.includes(m), `CLI stderr contains ${m}:\n${r.stderr}`);
}

/** Sends raw bytes over a TCP connection, returns everything read until close (or timeout). */
export function rawRequest(server, data, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    let done = false;
    const sock = net.connect(server.port, '127.0.0.1');
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), error: err ? (err.code || err.message) : null });
    };
    const t = setTimeout(() => finish(new Error('timeout')), timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (e) => {
      // A reset after the server answered is fine: keep what we read.
      finish(chunks.length ? null : e);
    });
    sock.on('connect', () => { sock.write(data, () => {}); });
  });
}

export const KINDS = ['models', 'capabilities'];
