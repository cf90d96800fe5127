// The S3 blob backend's failure modes and scale-out (API.md §2: 502 s3_error, 504
// gateway_timeout_error): a store that is down, one that hangs, one that fails with 5xx
// (retried), and two cairnd instances sharing one database and one blob store, a resumable
// upload's PATCHes alternating between them. The fault tests bring their own fake endpoints
// and run in either mode; the rest use the suite's store (files, or S3 with CAIRN_TEST_S3).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, mkOrgWithTokens, assertError, rnd, freePort, runCli, assertCleanCli, backendFor, dropBackend,
  S3_MODE, s3Endpoint, S3_BUCKET,
} from './harness.mjs';
import {
  MiB, sha256, prngBytes, verBase, mkArtifact, mkVersion, putFile, putFileOk, fetchBuf, fetchSha, listBlobs,
} from './files-lib.mjs';

const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** Starts a server whose blobs are on the S3 endpoint `endpoint` (extra: more url options). */
async function serverOn(endpoint, extra = '') {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-s3f-'));
  const blobs = `s3://${S3_BUCKET}/fault-${rnd()}?endpoint=${endpoint}&region=us-east-1&cache=${path.join(dataDir, 'cache')}${extra}`;
  return startServer({ dataDir, args: ['--blobs', blobs], env: S3_ENV });
}

async function uploadOne(srv) {
  const o = await mkOrgWithTokens(srv);
  const { name } = await mkArtifact(srv, o, 'models');
  await mkVersion(srv, o, 'models', name, '1.0.0');
  return putFile(srv, o, 'models', name, '1.0.0', 'w.bin', prngBytes(`f-${rnd()}`, 10_000));
}

/** A plain-sentence detail: no endpoint, port, key or S3 XML leaks to the client. */
function assertPlain(r, port) {
  assert.ok(!r.json.detail.includes(String(port)), r.json.detail);
  assert.ok(!/127\.0\.0\.1|<|sha256\/|cairn-test/.test(r.json.detail), r.json.detail);
}

describe('a failing object store', () => {
  test('store down (connection refused) → 502 s3_error, nothing attached, server healthy', async () => {
    const port = await freePort(); // nothing listens there
    const srv = await serverOn(`http://127.0.0.1:${port}`);
    try {
      const t0 = Date.now();
      const r = await uploadOne(srv);
      assertError(r, 502, 's3_error');
      assertPlain(r, port);
      assert.ok(Date.now() - t0 < 10_000, 'retries are bounded');
      assert.match(srv.stderr(), /"event":"s3\.unreachable"/, 'the cause is logged');
      assert.equal((await api(srv, 'GET', '/healthz')).status, 200, 'the process is up');
      const ready = await api(srv, 'GET', '/readyz');
      assert.equal(ready.status, 503, 'but not ready: its blob store is unreachable');
      assert.deepEqual(ready.json, { status: 'unavailable', detail: 'blob store unreachable' });
    } finally {
      await srv.stop();
    }
  });

  test('store hangs (accepts, never answers) → 504 gateway_timeout_error after the timeout', async () => {
    const sockets = new Set();
    const silent = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address();
    const srv = await serverOn(`http://127.0.0.1:${port}`, '&timeout=1');
    try {
      const t0 = Date.now();
      const r = await uploadOne(srv);
      assertError(r, 504, 'gateway_timeout_error');
      assertPlain(r, port);
      assert.ok(Date.now() - t0 < 8_000, `took ${Date.now() - t0} ms`);
      assert.match(srv.stderr(), /"event":"s3\.timeout"/);
    } finally {
      await srv.stop();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  test('store answers 503 → idempotent calls retried 3 times with backoff, then 502 s3_error', async () => {
    const seen = [];
    const flaky = http.createServer((req, res) => {
      seen.push({ method: req.method, at: Date.now() });
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>busy</Message></Error>');
      });
    });
    await new Promise((r) => flaky.listen(0, '127.0.0.1', r));
    const { port } = flaky.address();
    const srv = await serverOn(`http://127.0.0.1:${port}`);
    try {
      seen.length = 0; // anything at start-up
      const r = await uploadOne(srv);
      assertError(r, 502, 's3_error');
      assertPlain(r, port);
      // A small blob is published with HEAD (dedup) then PUT: the HEAD fails, 3 times, and no
      // PUT follows. (GETs are the background GC's listings, failing the same way.)
      const heads = seen.filter((x) => x.method !== 'GET');
      assert.deepEqual(heads.map((x) => x.method), ['HEAD', 'HEAD', 'HEAD']);
      const gaps = [heads[1].at - heads[0].at, heads[2].at - heads[1].at];
      assert.ok(gaps[0] >= 90 && gaps[1] >= 390, `backoff ${gaps}`);
      assert.match(srv.stderr(), /"code":"SlowDown"/, 'the S3 error code goes to the log');
    } finally {
      await srv.stop();
      flaky.close();
    }
  });

  test('bad --blobs urls are refused at start-up with a clear message', async () => {
    for (const [url, msg] of [
      ['s3://cairn-test/p', /endpoint/],
      ['s3://Bad_Bucket/p?endpoint=http://127.0.0.1:1', /bucket/],
      ['s3://cairn-test/p?endpoint=ftp://127.0.0.1:1', /http/],
      ['s3://cairn-test/p?endpoint=http://127.0.0.1:1&nope=1', /nope/],
      ['s3://cairn-test/../p?endpoint=http://127.0.0.1:1', /prefix/],
    ]) {
      const r = await runCli(['gc', '--db', `sqlite://${path.join(os.tmpdir(), `cairn-s3u-${rnd()}.db`)}`, '--blobs', url], S3_ENV);
      assertCleanCli(r);
      assert.notEqual(r.code, 0, url);
      assert.match(r.stderr, msg, `${url}: ${r.stderr}`);
    }
    const r = await runCli(['gc', '--db', `sqlite://${path.join(os.tmpdir(), `cairn-s3u-${rnd()}.db`)}`, '--blobs', 's3://cairn-test/p?endpoint=http://127.0.0.1:1'], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /AWS_ACCESS_KEY_ID/);
  });
});

describe('two instances, one database and one blob store', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-pair-'));
  const adminToken = `adm_${rnd(16)}`;
  let s1;
  let s2;
  let A;
  before(async () => {
    s1 = await startServer({ dataDir, keepDataDir: true, adminToken });
    s2 = await startServer({ dataDir, keepDataDir: true, adminToken });
    A = await mkOrgWithTokens(s1);
  });
  after(async () => {
    try { await s1?.stop(); await s2?.stop(); } finally { fs.rmSync(dataDir, { recursive: true, force: true }); await dropBackend(dataDir); }
  });

  test('a resumable upload whose PATCHes alternate between instances commits byte-exact on either', async () => {
    const { name } = await mkArtifact(s1, A, 'models');
    await mkVersion(s1, A, 'models', name, '1.0.0');
    const total = 5 * MiB + 321;
    const all = prngBytes(`pair-${rnd()}`, total);
    const s = await api(s2, 'POST', `${verBase(A, 'models', name, '1.0.0')}/uploads/sessions`, { token: A.writer, body: { path: 'pair.bin', size: total } });
    assert.equal(s.status, 201, s.text);
    const step = 1 * MiB + 7;
    let i = 0;
    for (let off = 0; off < total; off += step, i++) {
      const via = i % 2 ? s2 : s1;
      const end = Math.min(off + step, total);
      const h = await api(via, 'GET', s.json.session_url, { token: A.writer });
      assert.equal(h.json.offset, off, `offset seen by instance ${1 + (i % 2)}`);
      const p = await fetch(via.url + s.json.session_url, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${A.writer}`, 'content-range': `bytes ${off}-${end - 1}/${total}`, 'content-type': 'application/octet-stream' },
        body: all.subarray(off, end),
      });
      assert.equal(p.status, 200, await p.text());
    }
    // A stale offset is refused by the other instance too.
    const stale = await fetch(s2.url + s.json.session_url, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${A.writer}`, 'content-range': `bytes 0-9/${total}`, 'content-type': 'application/octet-stream' },
      body: all.subarray(0, 10),
    });
    assert.equal(stale.status, 409);
    await stale.arrayBuffer();
    const c = await api(s2, 'PUT', `${s.json.session_url}?sha256=${sha256(all)}`, { token: A.writer });
    assert.equal(c.status, 201, c.text);
    for (const via of [s1, s2]) {
      const g = await fetchSha(`${via.url}${verBase(A, 'models', name, '1.0.0')}/files/pair.bin`, { headers: { authorization: `Bearer ${A.reader}` } });
      assert.equal(g.status, 200);
      assert.equal(g.sha256, sha256(all));
    }
  });

  test('a blob written through one instance is served, presigned and collected by the other', async () => {
    const { name } = await mkArtifact(s1, A, 'models');
    await mkVersion(s1, A, 'models', name, '1.0.0');
    const body = prngBytes(`shared-${rnd()}`, 200_000);
    await putFileOk(s1, A, 'models', name, '1.0.0', 'w.bin', body);
    const urls = await api(s2, 'GET', `${verBase(A, 'models', name, '1.0.0')}/download-urls`, { token: A.reader });
    assert.equal(urls.status, 200, urls.text);
    const u = urls.json.resources[0].url;
    // Files: cairn's URL, valid on the instance that signed it only with a shared --secret;
    // fetch it from s2 itself. S3: the store's URL, valid from anywhere.
    const g = await fetchBuf(S3_MODE ? u : s2.url + new URL(u).pathname + new URL(u).search);
    assert.equal(g.status, 200);
    assert.ok(g.buf.equals(body));
    assert.ok((await listBlobs(dataDir)).includes(sha256(body)));
  });
});

describe('S3 only: large-object paths', () => {
  test('multipart writer + UploadPartCopy publish (copy_max below the blob) round-trip byte-exact; fsck passes', { skip: !S3_MODE && 'needs an S3 endpoint (CAIRN_TEST_S3)' }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-s3mp-'));
    const be = await backendFor(dataDir);
    const blobs = `${be.blobs}&part_size=${5 * MiB}&copy_max=${6 * MiB}`;
    const srv = await startServer({ dataDir, keepDataDir: true, args: ['--blobs', blobs] });
    try {
      const o = await mkOrgWithTokens(srv);
      const { name } = await mkArtifact(srv, o, 'models');
      await mkVersion(srv, o, 'models', name, '1.0.0');
      const body = prngBytes(`mp-${rnd()}`, 12 * MiB + 5);
      const p = await putFileOk(srv, o, 'models', name, '1.0.0', 'big.bin', body);
      assert.equal(p.resources[0].sha256, sha256(body));
      const g = await fetchSha(`${srv.url}${verBase(o, 'models', name, '1.0.0')}/files/big.bin`, { headers: { authorization: `Bearer ${o.reader}` } });
      assert.equal(g.sha256, sha256(body));
      const d = await api(srv, 'GET', `${verBase(o, 'models', name, '1.0.0')}/download-urls`, { token: o.reader });
      assert.equal((await fetchSha(d.json.resources[0].url)).sha256, sha256(body));
      await srv.stop();
      const f = await runCli(['fsck', '--db', be.db, '--blobs', blobs], be.env);
      assert.equal(f.code, 0, f.stdout + f.stderr);
      assert.equal(JSON.parse(f.stdout).blobs_checked, 1);
    } finally {
      await srv.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      await dropBackend(dataDir);
    }
  });

  test('no temporaries are left under tmp/ after uploads, failed checksums included', { skip: !S3_MODE && 'needs an S3 endpoint (CAIRN_TEST_S3)' }, async () => {
    const srv = await startServer();
    try {
      const o = await mkOrgWithTokens(srv);
      const { name } = await mkArtifact(srv, o, 'models');
      await mkVersion(srv, o, 'models', name, '1.0.0');
      await putFileOk(srv, o, 'models', name, '1.0.0', 'a.bin', prngBytes(`t-${rnd()}`, 20 * MiB));
      const bad = await putFile(srv, o, 'models', name, '1.0.0', 'b.bin', prngBytes(`u-${rnd()}`, 20 * MiB), { headers: { 'x-checksum-sha256': '0'.repeat(64) } });
      assertError(bad, 422, 'validation_error');
      const { s3PrefixFor, s3List } = await import('./harness.mjs');
      assert.deepEqual(await s3List(`${s3PrefixFor(srv.dataDir)}tmp/`), []);
      assert.ok(s3Endpoint());
    } finally {
      await srv.stop();
    }
  });
});
