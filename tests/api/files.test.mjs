// API.md §6 uploads: raw PUT, bundle, presigned PUT + confirm, resumable sessions, path
// validation, immutability, publish, dedup and byte-exact round trips.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, KINDS, UUID_RE, TS_RE, rnd, S3_MODE,
} from './harness.mjs';
import {
  MiB, sha256, prngBytes, prngStream, prngSha256, verBase, artBase, mkArtifact, mkVersion, putFile, putFileOk,
  publish, fetchBuf, fetchSha, rawHttp, blobExists, listBlobs, postBundle, rssGrowth, pendingUploads,
} from './files-lib.mjs';

let srv;
let A;
let B;
before(async () => {
  srv = await startServer();
  A = await mkOrgWithTokens(srv);
  B = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); });

const PACKAGE_FIELDS = ['id', 'version_id', 'format', 'kind', 'size_bytes', 'created_at', 'resources'];
const RESOURCE_FIELDS = ['id', 'package_id', 'path', 'kind', 'primary', 'size_bytes', 'sha256', 'media_type', 'storage_key'];

function checkPackage(p, { versionId, kind = 'file', format, n = 1 } = {}) {
  for (const f of PACKAGE_FIELDS) assert.ok(f in p, `Package field ${f}: ${JSON.stringify(p)}`);
  assert.match(p.id, UUID_RE);
  if (versionId) assert.equal(p.version_id, versionId);
  assert.equal(p.kind, kind);
  if (format) assert.equal(p.format, format);
  assert.match(p.created_at, TS_RE);
  assert.ok(Array.isArray(p.resources));
  assert.equal(p.resources.length, n, `resources: ${JSON.stringify(p.resources)}`);
  let total = 0;
  for (const r of p.resources) {
    for (const f of RESOURCE_FIELDS) assert.ok(f in r, `Resource field ${f}: ${JSON.stringify(r)}`);
    assert.match(r.id, UUID_RE);
    assert.equal(r.package_id, p.id);
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
    assert.equal(r.storage_key, `sha256/${r.sha256.slice(0, 2)}/${r.sha256}`);
    total += r.size_bytes;
  }
  assert.equal(p.size_bytes, total, 'package size = sum of resources');
}

async function getVersion(o, kind, name, v, token = o.reader) {
  const r = await api(srv, 'GET', verBase(o, kind, name, v), { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function getFile(o, kind, name, v, p, token = o.reader) {
  return fetchBuf(`${srv.url}${verBase(o, kind, name, v)}/files/${p}`, { headers: { authorization: `Bearer ${token}` } });
}

/** A fresh model (or capability) with a draft 1.0.0. */
async function draft(kind = 'models', o = A, extra = {}) {
  const { name } = await mkArtifact(srv, o, kind, extra);
  const v = await mkVersion(srv, o, kind, name, '1.0.0');
  return { name, v, base: verBase(o, kind, name, '1.0.0') };
}

for (const kind of KINDS) {
  describe(`${kind}: raw PUT`, () => {
    test('201 Package with one resource; the version lists it; GET returns the bytes', async () => {
      const { name, v } = await draft(kind);
      const body = prngBytes(`small-${kind}`, 1000);
      const p = await putFileOk(srv, A, kind, name, '1.0.0', 'weights.bin', body);
      checkPackage(p, { versionId: v.id, kind: 'file', format: 'binary' });
      const res = p.resources[0];
      assert.equal(res.path, 'weights.bin');
      assert.equal(res.primary, true);
      assert.equal(res.size_bytes, 1000);
      assert.equal(res.sha256, sha256(body));

      const ver = await getVersion(A, kind, name, '1.0.0');
      assert.equal(ver.lifecycle, 'draft');
      assert.equal(ver.packages.length, 1);
      assert.equal(ver.packages[0].id, p.id);
      assert.deepEqual(ver.packages[0].resources.map((r) => r.sha256), [sha256(body)]);
      assert.equal(ver.size_bytes, 1000);

      const g = await getFile(A, kind, name, '1.0.0', 'weights.bin');
      assert.equal(g.status, 200);
      assert.ok(g.buf.equals(body), 'downloaded bytes equal uploaded bytes');
    });

    test('a second file makes a second package; size_bytes adds up', async () => {
      const { name } = await draft(kind);
      await putFileOk(srv, A, kind, name, '1.0.0', 'a.bin', prngBytes('a', 10));
      await putFileOk(srv, A, kind, name, '1.0.0', 'b.bin', prngBytes('b', 20));
      const ver = await getVersion(A, kind, name, '1.0.0');
      assert.equal(ver.packages.length, 2);
      assert.deepEqual(ver.packages.flatMap((p) => p.resources.map((r) => r.path)).sort(), ['a.bin', 'b.bin']);
      assert.equal(ver.size_bytes, 30);
    });
  });
}

describe('raw PUT details', () => {
  test('format is derived from the extension', async () => {
    const { name } = await draft();
    const cases = { 'm.onnx': 'onnx', 'm.tflite': 'tflite', 'm.mlmodel': 'coreml', 'm.pt': 'pytorch', 'm.pth': 'pytorch', 'm.pte': 'executorch', 'm.bin': 'binary', 'notes.txt': 'txt' };
    for (const [p, fmt] of Object.entries(cases)) {
      const pkg = await putFileOk(srv, A, 'models', name, '1.0.0', p, Buffer.from(`data of ${p}`));
      assert.equal(pkg.format, fmt, `format of ${p}`);
    }
  });

  test('nested and non-ASCII paths round-trip', async () => {
    const { name } = await draft();
    const p1 = await putFileOk(srv, A, 'models', name, '1.0.0', 'dir/sub/file.bin', Buffer.from('nested'));
    assert.equal(p1.resources[0].path, 'dir/sub/file.bin');
    const uni = 'données/模型 1.bin';
    const enc = uni.split('/').map(encodeURIComponent).join('/');
    const p2 = await putFileOk(srv, A, 'models', name, '1.0.0', enc, Buffer.from('unicode'));
    assert.equal(p2.resources[0].path, uni);
    const g1 = await getFile(A, 'models', name, '1.0.0', 'dir/sub/file.bin');
    assert.equal(g1.status, 200);
    assert.equal(g1.text, 'nested');
    const g2 = await getFile(A, 'models', name, '1.0.0', enc);
    assert.equal(g2.status, 200);
    assert.equal(g2.text, 'unicode');
  });

  test('X-Checksum-Sha256 that matches (any case) → 201', async () => {
    const { name } = await draft();
    const body = prngBytes('ck', 4096);
    const p = await putFileOk(srv, A, 'models', name, '1.0.0', 'ok.bin', body, { headers: { 'x-checksum-sha256': sha256(body).toUpperCase() } });
    assert.equal(p.resources[0].sha256, sha256(body));
  });

  test('X-Checksum-Sha256 mismatch → 422 and nothing is stored; the path stays free', async () => {
    const { name } = await draft();
    const body = prngBytes(`mismatch-${rnd()}`, 70000);
    const wrong = sha256(Buffer.from('something else'));
    const r = await putFile(srv, A, 'models', name, '1.0.0', 'w.bin', body, { headers: { 'x-checksum-sha256': wrong } });
    assertError(r, 422, 'validation_error');
    assert.equal(await blobExists(srv.dataDir, sha256(body)), false, 'no blob for the rejected bytes');
    assert.equal(await blobExists(srv.dataDir, wrong), false, 'no blob under the declared hash');
    const ver = await getVersion(A, 'models', name, '1.0.0');
    assert.deepEqual(ver.packages, []);
    assert.equal((await getFile(A, 'models', name, '1.0.0', 'w.bin')).status, 404);
    // Same path, right checksum: accepted.
    const p = await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', body, { headers: { 'x-checksum-sha256': sha256(body) } });
    assert.equal(p.resources[0].sha256, sha256(body));
    assert.equal(await blobExists(srv.dataDir, sha256(body)), true);
  });

  test('malformed X-Checksum-Sha256 → 422', async () => {
    const { name } = await draft();
    for (const bad of ['abc', 'z'.repeat(64), sha256(Buffer.from('x')) + '0']) {
      const r = await putFile(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('x'), { headers: { 'x-checksum-sha256': bad } });
      assertError(r, 422, 'validation_error');
    }
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('?kind= is a short word: the resource keeps it; anything else → 422 at query.kind, nothing stored', async () => {
    const { name } = await draft();
    const p = await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin?kind=weights', Buffer.from('w'));
    assert.equal(p.resources[0].kind, 'weights');
    const d = await putFileOk(srv, A, 'models', name, '1.0.0', 'd.bin?kind=', Buffer.from('d'));
    assert.equal(d.resources[0].kind, 'file', 'an empty ?kind= is the default');
    for (const bad of ['a%20b', '%3Cscript%3E', 'x'.repeat(65), '-lead', '%00', 'caf%C3%A9', 'a%2Fb']) {
      const r = await putFile(srv, A, 'models', name, '1.0.0', `bad.bin?kind=${bad}`, Buffer.from('x'));
      assertValidation(r, ['query', 'kind']);
    }
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.deepEqual(v.packages.map((x) => x.resources[0].path).sort(), ['d.bin', 'w.bin']);
  });

  test('kind in ticket, confirm and session bodies, and extras_kind, obey the same rule', async () => {
    const { name, base } = await draft();
    const sum = sha256(Buffer.from('x'));
    for (const bad of ['a b', '', 'x'.repeat(65), '<b>']) {
      assertValidation(await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'k.bin', size: 1, sha256: sum, kind: bad } }), ['body', 'kind']);
      assertValidation(await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { path: 'k.bin', sha256: sum, storage_key: `sha256/${sum.slice(0, 2)}/${sum}`, kind: bad } }), ['body', 'kind']);
      assertValidation(await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 'k.bin', kind: bad } }), ['body', 'kind']);
      const fd = new FormData();
      fd.append('primary', new Blob([Buffer.from('p')]), 'p.bin');
      fd.append('extras', new Blob([Buffer.from('e')]), 'e.bin');
      fd.append('extras_kind', bad);
      assertValidation(await postBundle(srv, base, A.writer, fd), ['body', 'extras_kind']);
    }
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('409 already_exists_error on an existing path; the first file is kept', async () => {
    const { name } = await draft();
    await putFileOk(srv, A, 'models', name, '1.0.0', 'dup.bin', Buffer.from('first'));
    const r = await putFile(srv, A, 'models', name, '1.0.0', 'dup.bin', Buffer.from('second'));
    assertError(r, 409, 'already_exists_error');
    const g = await getFile(A, 'models', name, '1.0.0', 'dup.bin');
    assert.equal(g.text, 'first');
    assert.equal((await getVersion(A, 'models', name, '1.0.0')).packages.length, 1);
  });

  test('roles and orgs: reader 403, no token 401, other org 404, missing version 404', async () => {
    const { name } = await draft();
    assertError(await putFile(srv, A, 'models', name, '1.0.0', 'r.bin', Buffer.from('x'), { token: A.reader }), 403, 'forbidden_error');
    assertError(await putFile(srv, A, 'models', name, '1.0.0', 'r.bin', Buffer.from('x'), { token: null }), 401, 'authentication_error');
    assertError(await putFile(srv, A, 'models', name, '1.0.0', 'r.bin', Buffer.from('x'), { token: B.writer }), 404, 'not_found_error');
    assertError(await putFile(srv, A, 'models', name, '9.9.9', 'r.bin', Buffer.from('x')), 404, 'not_found_error');
    assertError(await putFile(srv, A, 'models', uniq('nope'), '1.0.0', 'r.bin', Buffer.from('x')), 404, 'not_found_error');
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });
});

describe('path validation', () => {
  const escape = `cairn-escape-${rnd()}`;
  // Sent byte-exact (no client-side normalisation of dot segments or %2e%2e).
  const BAD = [
    `../../../../../../tmp/${escape}`,
    `a/../../../../../tmp/${escape}`,
    `./${escape}`,
    `a/./b`,
    `..`,
    `.`,
    `%2e%2e/%2e%2e/%2e%2e/%2e%2e/tmp/${escape}`,
    `%2E%2E%2F%2E%2E%2F%2E%2E%2Ftmp%2F${escape}`,
    `..%2f..%2f..%2ftmp%2f${escape}`,
    `a/%2e%2e/%2e%2e/${escape}`,
    `/tmp/${escape}`,
    `%2Ftmp%2F${escape}`,
    `a//b`,
    `a/`,
    `a%00b.bin`,
    `%00`,
    `a%01b`,
    `a%0Ab`,
    `a%0D%0Ab`,
    `a%7Fb`,
    `a%5C..%5C..%5C${escape}`,
    `..%5C..%5C${escape}`,
    `${'x'.repeat(256)}`,
    `${'a/'.repeat(257)}z`,
    `bad%FFutf8`,
    `%C0%AE%C0%AE/${escape}`,
  ];

  let name;
  let base;
  before(async () => { ({ name, base } = await draft()); });

  for (const p of BAD) {
    test(`PUT files/${p.length > 60 ? p.slice(0, 60) + '…' : p} → 422 or 404`, async () => {
      const r = await rawHttp(srv, 'PUT', `${base}/files/${p}`, {
        headers: { authorization: `Bearer ${A.writer}`, 'content-type': 'application/octet-stream' },
        body: Buffer.from('evil'),
      });
      assert.ok(r.status === 422 || r.status === 404, `expected 422/404, got ${r.status} ${r.text.slice(0, 300)}`);
      assertError(r, r.status, r.status === 422 ? 'validation_error' : 'not_found_error');
    });
  }

  test('after all that: nothing attached, nothing written outside, server healthy', async () => {
    const ver = await getVersion(A, 'models', name, '1.0.0');
    assert.deepEqual(ver.packages, [], `attached: ${JSON.stringify(ver.packages.map((p) => p.resources.map((r) => r.path)))}`);
    for (const dir of [os.tmpdir(), '/tmp', path.dirname(srv.dataDir), srv.dataDir, path.join(srv.dataDir, 'blobs')]) {
      assert.equal(fs.existsSync(path.join(dir, escape)), false, `${escape} created in ${dir}`);
    }
    const h = await api(srv, 'GET', '/healthz');
    assert.equal(h.status, 200);
  });

  test('a bundle part with a traversal filename → 422, nothing attached', async () => {
    const fd = new FormData();
    fd.append('primary', new Blob([Buffer.from('p')]), `../${escape}`);
    const r = await postBundle(srv, base, A.writer, fd);
    assertError(r, 422, 'validation_error');
    const fd2 = new FormData();
    fd2.append('primary', new Blob([Buffer.from('p')]), 'ok.bin');
    fd2.append('extras', new Blob([Buffer.from('e')]), `/etc/${escape}`);
    fd2.append('extras_kind', 'config');
    assertError(await postBundle(srv, base, A.writer, fd2), 422, 'validation_error');
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('ticket and session bodies with bad paths → 422 at body.path', async () => {
    for (const p of ['../x', '/abs', 'a/../b', 'a\u0000b', 'a\nb', '']) {
      assertValidation(await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: p, size: 1, sha256: sha256(Buffer.from('x')) } }), ['body', 'path']);
      assertValidation(await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: p } }), ['body', 'path']);
    }
  });
});

describe('bundle (multipart)', () => {
  test('primary + extras + extras_kind → one package with N+1 resources', async () => {
    const { name, v, base } = await draft();
    const prim = prngBytes('bundle-primary', 5000);
    const e1 = Buffer.from('{"hidden_size": 8}');
    const e2 = prngBytes('bundle-tok', 300);
    const fd = new FormData();
    fd.append('primary', new Blob([prim]), 'model.onnx');
    fd.append('extras', new Blob([e1]), 'config.json');
    fd.append('extras', new Blob([e2]), 'tok/tokenizer.bin');
    fd.append('extras_kind', 'config');
    fd.append('extras_kind', 'tokenizer');
    const r = await postBundle(srv, base, A.writer, fd);
    assert.equal(r.status, 201, r.text);
    checkPackage(r.json, { versionId: v.id, kind: 'bundle', format: 'onnx', n: 3 });
    const byPath = Object.fromEntries(r.json.resources.map((x) => [x.path, x]));
    assert.deepEqual(Object.keys(byPath).sort(), ['config.json', 'model.onnx', 'tok/tokenizer.bin']);
    assert.equal(byPath['model.onnx'].primary, true);
    assert.equal(byPath['config.json'].primary, false);
    assert.equal(byPath['tok/tokenizer.bin'].primary, false);
    assert.equal(byPath['config.json'].kind, 'config');
    assert.equal(byPath['tok/tokenizer.bin'].kind, 'tokenizer');
    assert.equal(byPath['model.onnx'].sha256, sha256(prim));
    assert.equal(byPath['config.json'].sha256, sha256(e1));
    assert.equal(byPath['tok/tokenizer.bin'].sha256, sha256(e2));
    assert.equal(r.json.size_bytes, prim.length + e1.length + e2.length);
    const ver = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(ver.packages.length, 1);
    assert.equal(ver.packages[0].resources.length, 3);
    for (const [p, buf] of [['model.onnx', prim], ['config.json', e1], ['tok/tokenizer.bin', e2]]) {
      const g = await getFile(A, 'models', name, '1.0.0', p);
      assert.equal(g.status, 200, p);
      assert.ok(g.buf.equals(buf), `bytes of ${p}`);
    }
  });

  test('primary alone → package with one resource', async () => {
    const { base } = await draft();
    const fd = new FormData();
    fd.append('primary', new Blob([Buffer.from('only')]), 'only.bin');
    const r = await postBundle(srv, base, A.writer, fd);
    assert.equal(r.status, 201, r.text);
    checkPackage(r.json, { kind: 'bundle', n: 1 });
  });

  test('len(extras) != len(extras_kind) → 422, nothing attached', async () => {
    const { name, base } = await draft();
    const mk = (nExtras, nKinds) => {
      const fd = new FormData();
      fd.append('primary', new Blob([Buffer.from('p')]), 'p.bin');
      for (let i = 0; i < nExtras; i++) fd.append('extras', new Blob([Buffer.from(`e${i}`)]), `e${i}.bin`);
      for (let i = 0; i < nKinds; i++) fd.append('extras_kind', `k${i}`);
      return fd;
    };
    for (const [ne, nk] of [[2, 1], [1, 0], [0, 1], [1, 3]]) {
      const r = await postBundle(srv, base, A.writer, mk(ne, nk));
      assertValidation(r, ['body', 'extras_kind']);
    }
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('a part without a name (no Content-Disposition) → 400, and the server lives on', async () => {
    // found by tests/fuzz/fuzz_multipart: MHD hands such a part over with a NULL name
    const { base } = await draft();
    const b = 'cairnNoName';
    const body = Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="primary"; filename="p.bin"\r\n\r\np\r\n` +
      `--${b}\r\nContent-Dispo.ition: form-data; name="extras_kind"\r\n\r\ndocs\r\n--${b}--\r\n`);
    const r = await api(srv, 'POST', `${base}/bundle`, { token: A.writer, rawBody: body, headers: { 'content-type': `multipart/form-data; boundary=${b}` } });
    assertError(r, 400, 'invalid_error');
    const first = Buffer.from(`--${b}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${b}--\r\n`);
    const r2 = await api(srv, 'POST', `${base}/bundle`, { token: A.writer, rawBody: first, headers: { 'content-type': `multipart/form-data; boundary=${b}` } });
    assertError(r2, 400, 'invalid_error');
    assert.equal((await api(srv, 'GET', '/healthz')).status, 200);
  });

  test('a body cut inside a part\'s headers → 400, nothing attached (libmicrohttpd calls it complete)', async () => {
    // found by tests/fuzz/fuzz_multipart: the post processor's verdict passes this cut
    const { name, base } = await draft();
    const b = 'cairnCutHeaders';
    const body = Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="primary"; filename="p.bin"\r\n\r\np\r\n` +
      `--${b}\r\nContent-Dispo\r\nContent-Disposition: form-data; name="extras"; filename="README\r--\r\n`);
    const r = await api(srv, 'POST', `${base}/bundle`, { token: A.writer, rawBody: body, headers: { 'content-type': `multipart/form-data; boundary=${b}` } });
    assertError(r, 400, 'invalid_error');
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('no primary → 422; not multipart → 400; reader → 403', async () => {
    const { base } = await draft();
    const fd = new FormData();
    fd.append('extras', new Blob([Buffer.from('e')]), 'e.bin');
    fd.append('extras_kind', 'config');
    assertError(await postBundle(srv, base, A.writer, fd), 422, 'validation_error');
    assertError(await api(srv, 'POST', `${base}/bundle`, { token: A.writer, body: { primary: 'x' } }), 400, 'invalid_error');
    const fd2 = new FormData();
    fd2.append('primary', new Blob([Buffer.from('p')]), 'p.bin');
    assertError(await postBundle(srv, base, A.reader, fd2), 403, 'forbidden_error');
  });
});

describe('early rejections are readable by the client', () => {
  // The server answers an upload it refuses before reading the body. The client must still get
  // that answer (not a reset connection) when it streams a small multipart body part by part.
  test('a streamed (FormData) bundle from a reader → 403 every time, never a reset', async () => {
    const { base } = await draft();
    const seen = {};
    for (let i = 0; i < 10; i++) {
      const fd = new FormData();
      fd.append('primary', new Blob([Buffer.from(`p${i}`)]), 'p.bin');
      fd.append('extras', new Blob([prngBytes(`x${i}`, 2000)]), 'e.bin');
      fd.append('extras_kind', 'config');
      let k;
      try {
        const r = await api(srv, 'POST', `${base}/bundle`, { token: A.reader, rawBody: fd });
        k = String(r.status);
      } catch (e) {
        k = `fetch failed: ${e.cause?.code || e.message}`;
      }
      seen[k] = (seen[k] || 0) + 1;
    }
    assert.deepEqual(seen, { 403: 10 });
  });

  test('an 8 MiB raw PUT to a published version → 409 every time, never a reset', async () => {
    const { name } = await draft();
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('w'));
    await publish(srv, A, 'models', name, '1.0.0');
    const body = prngBytes('early-8m', 8 * MiB);
    const seen = {};
    for (let i = 0; i < 5; i++) {
      let k;
      try {
        k = String((await putFile(srv, A, 'models', name, '1.0.0', `n${i}.bin`, body)).status);
      } catch (e) {
        k = `fetch failed: ${e.cause?.code || e.message}`;
      }
      seen[k] = (seen[k] || 0) + 1;
    }
    assert.deepEqual(seen, { 409: 5 });
  });
});

describe('presigned PUT + confirm', () => {
  test('ticket → PUT without a token → confirm → 201 Package; bytes downloadable', async () => {
    const { name, v, base } = await draft();
    const body = prngBytes(`presigned-${rnd()}`, 123457);
    const sum = sha256(body);
    const t = await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'up/w.bin', size: body.length, sha256: sum } });
    assert.equal(t.status, 201, t.text);
    assert.equal(t.json.storage_key, `sha256/${sum.slice(0, 2)}/${sum}`);
    assert.match(t.json.upload_url, /^https?:\/\//);
    assert.match(t.json.expires_at, TS_RE);
    const exp = Date.parse(t.json.expires_at) - Date.now();
    assert.ok(exp > 3500_000 && exp <= 3600_000 + 2000, `expires in ~1h: ${exp} ms`);

    // Confirm before anything was uploaded → 404.
    const early = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: t.json.storage_key, path: 'up/w.bin', sha256: sum } });
    assertError(early, 404, 'not_found_error');

    const put = await fetchBuf(t.json.upload_url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.ok(put.status === 200 || put.status === 201 || put.status === 204, `presigned PUT: ${put.status} ${put.text}`);
    if (S3_MODE) {
      // Straight to the store: the bytes wait under uploads/ until confirm checks them.
      assert.ok(t.json.upload_url.startsWith(process.env.CAIRN_TEST_S3.replace(/\/+$/, '')), t.json.upload_url);
      assert.equal(await blobExists(srv.dataDir, sum), false, 'not a blob before confirm');
      assert.equal((await pendingUploads(srv.dataDir)).length, 1);
    } else {
      assert.equal(await blobExists(srv.dataDir, sum), true);
    }

    const c = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: t.json.storage_key, path: 'up/w.bin', sha256: sum, kind: 'weights' } });
    assert.equal(c.status, 201, c.text);
    assert.equal(c.json.resources[0].kind, 'weights');
    checkPackage(c.json, { versionId: v.id, kind: 'file', n: 1 });
    assert.equal(c.json.resources[0].path, 'up/w.bin');
    assert.equal(c.json.resources[0].sha256, sum);
    assert.equal(c.json.resources[0].size_bytes, body.length);
    const g = await getFile(A, 'models', name, '1.0.0', 'up/w.bin');
    assert.equal(g.status, 200);
    assert.ok(g.buf.equals(body));
    assert.equal(await blobExists(srv.dataDir, sum), true);
    assert.deepEqual(await pendingUploads(srv.dataDir), [], 'confirm removed the upload object');
    // Same path again → 409 at ticket time.
    const again = await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'up/w.bin', size: 1, sha256: sum } });
    assertError(again, 409, 'already_exists_error');
  });

  test('presigned PUT of bytes that do not hash to the key → 4xx, no blob', async () => {
    const { base } = await draft();
    const want = prngBytes(`want-${rnd()}`, 1000);
    const other = prngBytes(`other-${rnd()}`, 1000);
    const t = await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'x.bin', size: 1000, sha256: sha256(want) } });
    assert.equal(t.status, 201, t.text);
    const put = await fetchBuf(t.json.upload_url, { method: 'PUT', body: other });
    if (S3_MODE) {
      // The store takes any bytes; confirm re-hashes them: 422, and nothing is kept.
      assert.equal(put.status, 200, put.text);
      const bad = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: t.json.storage_key, path: 'x.bin', sha256: sha256(want) } });
      assertValidation(bad, ['body', 'sha256']);
      assert.deepEqual(await pendingUploads(srv.dataDir), [], 'the rejected upload object is gone');
    } else {
      assertError({ ...put }, 422, 'validation_error');
    }
    assert.equal(await blobExists(srv.dataDir, sha256(want)), false);
    assert.equal(await blobExists(srv.dataDir, sha256(other)), false);
    const c = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: t.json.storage_key, path: 'x.bin', sha256: sha256(want) } });
    assertError(c, 404, 'not_found_error');
  });

  test('confirm with a size other than the stored one → 422 at body.size', async () => {
    const { name, base } = await draft();
    const body = prngBytes(`sz-${rnd()}`, 300);
    const t = await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 's.bin', size: 300, sha256: sha256(body) } });
    assert.equal(t.status, 201, t.text);
    const put = await fetchBuf(t.json.upload_url, { method: 'PUT', body });
    assert.ok(put.status >= 200 && put.status < 300, put.text);
    const c = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: t.json.storage_key, path: 's.bin', sha256: sha256(body), size: 301 } });
    assertValidation(c, ['body', 'size']);
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('tampered presigned PUT URL → 403 token_error', async () => {
    const { base } = await draft();
    const body = prngBytes(`tamper-${rnd()}`, 100);
    const t = await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 't.bin', size: 100, sha256: sha256(body) } });
    assert.equal(t.status, 201, t.text);
    const u = new URL(t.json.upload_url);
    // cairn's URLs carry sig/expires; the store's (S3 mode) X-Amz-Signature/X-Amz-Expires.
    const [SIG, EXP] = S3_MODE ? ['X-Amz-Signature', 'X-Amz-Expires'] : ['sig', 'expires'];
    const sig = u.searchParams.get(SIG);
    const flipped = new URL(u);
    flipped.searchParams.set(SIG, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    const later = new URL(u);
    later.searchParams.set(EXP, String(Number(u.searchParams.get(EXP)) + 1));
    const nosig = new URL(u);
    nosig.searchParams.delete(SIG);
    for (const bad of [flipped, later, nosig]) {
      const r = await fetchBuf(bad.href, { method: 'PUT', body });
      if (S3_MODE) {
        // The store refuses with its own XML error (403 SignatureDoesNotMatch, or 400 when the
        // signature is missing altogether).
        assert.ok(r.status === 403 || (bad === nosig && r.status === 400), `${bad.href}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.match(r.text, /<Error>/);
      } else {
        assertError(r, 403, 'token_error');
      }
    }
    assert.equal(await blobExists(srv.dataDir, sha256(body)), false);
    assert.deepEqual(await pendingUploads(srv.dataDir), []);
  });

  test('ticket validation: bad sha256 → 422; missing size → 422; confirm with a key that does not name the sha → 422', async () => {
    const { base } = await draft();
    assertValidation(await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'a.bin', size: 1, sha256: 'xyz' } }), ['body', 'sha256']);
    assertValidation(await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'a.bin', sha256: sha256(Buffer.from('a')) } }), ['body', 'size']);
    const s1 = sha256(Buffer.from('one'));
    const s2 = sha256(Buffer.from('two'));
    const c = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: `sha256/${s2.slice(0, 2)}/${s2}`, path: 'a.bin', sha256: s1 } });
    assertValidation(c, ['body', 'storage_key']);
    assertError(await api(srv, 'POST', `${base}/uploads`, { token: A.reader, body: { path: 'a.bin', size: 1, sha256: s1 } }), 403, 'forbidden_error');
  });
});

describe('resumable sessions', () => {
  test('create → PATCH chunks → HEAD/GET offset → wrong offset 409 → PUT ?sha256= → 201', async () => {
    const { name, v, base } = await draft();
    const total = 3 * MiB + 12345;
    const body = prngBytes(`session-${rnd()}`, total);
    const s = await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 'big/s.bin', size: total } });
    assert.equal(s.status, 201, s.text);
    assert.equal(typeof s.json.session_url, 'string');
    assert.equal(s.json.offset, 0);
    const surl = s.json.session_url.startsWith('http') ? new URL(s.json.session_url).pathname : s.json.session_url;
    const auth = { authorization: `Bearer ${A.writer}` };

    const head0 = await fetch(srv.url + surl, { method: 'HEAD', headers: auth });
    assert.equal(head0.status, 200);
    assert.equal(head0.headers.get('upload-offset'), '0');

    const cut = [0, MiB, 2 * MiB + 7, total];
    const patch = (a, b) => fetchBuf(srv.url + surl, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `bytes ${a}-${b - 1}/${total}` },
      body: body.subarray(a, b),
    });
    let r = await patch(cut[0], cut[1]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('upload-offset'), String(cut[1]));

    // Resending the first chunk (wrong offset) → 409, offset unchanged.
    r = await patch(cut[0], cut[1]);
    assertError(r, 409, 'conflict_error');
    // Skipping ahead → 409.
    r = await patch(cut[2], cut[3]);
    assertError(r, 409, 'conflict_error');

    const head1 = await fetch(srv.url + surl, { method: 'HEAD', headers: auth });
    assert.equal(head1.status, 200);
    assert.equal(head1.headers.get('upload-offset'), String(cut[1]));
    const get1 = await api(srv, 'GET', surl, { token: A.writer });
    assert.equal(get1.status, 200, get1.text);
    assert.equal(get1.json.offset, cut[1]);
    assert.equal(get1.headers.get('upload-offset'), String(cut[1]));

    r = await patch(cut[1], cut[2]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('upload-offset'), String(cut[2]));
    r = await patch(cut[2], cut[3]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('upload-offset'), String(total));

    // Not yet attached.
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);

    const c = await api(srv, 'PUT', `${surl}?sha256=${sha256(body)}`, { token: A.writer });
    assert.equal(c.status, 201, c.text);
    checkPackage(c.json, { versionId: v.id, kind: 'file', n: 1 });
    assert.equal(c.json.resources[0].path, 'big/s.bin');
    assert.equal(c.json.resources[0].size_bytes, total);
    assert.equal(c.json.resources[0].sha256, sha256(body));
    const g = await getFile(A, 'models', name, '1.0.0', 'big/s.bin');
    assert.equal(g.status, 200);
    assert.equal(sha256(g.buf), sha256(body));
    // The session is gone.
    assertError(await api(srv, 'GET', surl, { token: A.writer }), 404, 'not_found_error');
  });

  test('commit with a wrong sha256 → 422 and nothing attached', async () => {
    const { name, base } = await draft();
    const body = prngBytes(`sess-bad-${rnd()}`, 5000);
    const s = await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 's.bin' } });
    assert.equal(s.status, 201, s.text);
    const surl = s.json.session_url;
    const p = await fetchBuf(srv.url + surl, { method: 'PATCH', headers: { authorization: `Bearer ${A.writer}`, 'content-range': `bytes 0-4999/5000` }, body });
    assert.equal(p.status, 200, p.text);
    const c = await api(srv, 'PUT', `${surl}?sha256=${sha256(Buffer.from('not it'))}`, { token: A.writer });
    assertError(c, 422, 'validation_error');
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
    assertValidation(await api(srv, 'PUT', `${surl}?sha256=nothex`, { token: A.writer }), ['query', 'sha256']);
  });

  test('a session committed after its version was published → 409, nothing attached', async () => {
    const { name, base } = await draft();
    const body = prngBytes(`late-sess-${rnd()}`, 1000);
    const s = await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 'late.bin' } });
    assert.equal(s.status, 201, s.text);
    const p = await fetchBuf(srv.url + s.json.session_url, { method: 'PATCH', headers: { authorization: `Bearer ${A.writer}`, 'content-range': 'bytes 0-999/1000' }, body });
    assert.equal(p.status, 200, p.text);
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('w'));
    await publish(srv, A, 'models', name, '1.0.0');
    assertError(await api(srv, 'PUT', `${s.json.session_url}?sha256=${sha256(body)}`, { token: A.writer }), 409, 'conflict_error');
    const ver = await getVersion(A, 'models', name, '1.0.0');
    assert.deepEqual(ver.packages.flatMap((x) => x.resources.map((r) => r.path)), ['w.bin']);
  });

  test('commit of fewer bytes than the session declared → 422, nothing attached', async () => {
    const { name, base } = await draft();
    const body = prngBytes(`short-${rnd()}`, 50);
    const s = await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 'short.bin', size: 100 } });
    assert.equal(s.status, 201, s.text);
    const p = await fetchBuf(srv.url + s.json.session_url, { method: 'PATCH', headers: { authorization: `Bearer ${A.writer}`, 'content-range': 'bytes 0-49/100' }, body });
    assert.equal(p.status, 200, p.text);
    assertError(await api(srv, 'PUT', `${s.json.session_url}?sha256=${sha256(body)}`, { token: A.writer }), 422, 'validation_error');
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });

  test('sessions: other org → 404, no token → 401, reader → 403, unknown id → 404, taken path → 409', async () => {
    const { name, base } = await draft();
    await putFileOk(srv, A, 'models', name, '1.0.0', 'taken.bin', Buffer.from('t'));
    assertError(await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 'taken.bin' } }), 409, 'already_exists_error');
    const s = await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 's.bin' } });
    assert.equal(s.status, 201, s.text);
    const surl = s.json.session_url;
    assertError(await api(srv, 'GET', surl, { token: B.writer }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', surl, {}), 401, 'authentication_error');
    assertError(await api(srv, 'GET', surl, { token: A.reader }), 403, 'forbidden_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/uploads/00000000-0000-7000-8000-000000000000`, { token: A.writer }), 404, 'not_found_error');
    // B cannot write into A's session.
    const p = await fetchBuf(srv.url + surl, { method: 'PATCH', headers: { authorization: `Bearer ${B.writer}`, 'content-range': 'bytes 0-0/1' }, body: Buffer.from('x') });
    assertError(p, 404, 'not_found_error');
    const g = await api(srv, 'GET', surl, { token: A.writer });
    assert.equal(g.json.offset, 0);
  });
});

describe('publish and immutability', () => {
  test('a draft with no files → 422; with a file → 200 published; latest resolves', async () => {
    const { name } = await draft();
    const base = verBase(A, 'models', name, '1.0.0');
    assertError(await api(srv, 'POST', `${base}/publish`, { token: A.writer }), 422, 'validation_error');
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('weights'));
    const pub = await publish(srv, A, 'models', name, '1.0.0');
    assert.equal(pub.lifecycle, 'published');
    assert.match(pub.published_at, TS_RE);
    const latest = await api(srv, 'GET', verBase(A, 'models', name, 'latest'), { token: A.reader });
    assert.equal(latest.status, 200, latest.text);
    assert.equal(latest.json.version, '1.0.0');
    assert.equal(latest.json.id, pub.id);
    const list = await api(srv, 'GET', `${artBase(A, 'models', name)}/versions`, { token: A.reader });
    assert.equal(list.status, 200);
    assert.ok(list.json.latest, 'latest set');
    assert.equal(list.json.latest.version, '1.0.0');
    const art = await api(srv, 'GET', artBase(A, 'models', name), { token: A.reader });
    assert.equal(art.json.version, '1.0.0');
    assert.equal(art.json.version_count, 1);
    // The artifact's package list has it.
    const pk = await api(srv, 'GET', `${artBase(A, 'models', name)}/packages`, { token: A.reader });
    assert.equal(pk.status, 200, pk.text);
    assert.ok(JSON.stringify(pk.json).includes(pub.packages[0].id), `packages: ${pk.text.slice(0, 300)}`);
    // Publishing again → 409.
    assertError(await api(srv, 'POST', `${base}/publish`, { token: A.writer }), 409, 'conflict_error');
  });

  test('every upload route on a published version → 409 conflict_error; nothing changes', async () => {
    const { name } = await draft();
    const base = verBase(A, 'models', name, '1.0.0');
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('weights'));
    await publish(srv, A, 'models', name, '1.0.0');
    assertError(await putFile(srv, A, 'models', name, '1.0.0', 'new.bin', Buffer.from('new')), 409, 'conflict_error');
    assertError(await putFile(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('overwrite')), 409);
    const fd = new FormData();
    fd.append('primary', new Blob([Buffer.from('p')]), 'p.bin');
    assertError(await postBundle(srv, base, A.writer, fd), 409, 'conflict_error');
    const s = sha256(Buffer.from('z'));
    assertError(await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'z.bin', size: 1, sha256: s } }), 409, 'conflict_error');
    assertError(await api(srv, 'POST', `${base}/uploads/sessions`, { token: A.writer, body: { path: 'z.bin' } }), 409, 'conflict_error');
    // Also via the alias "latest".
    assertError(await putFile(srv, A, 'models', name, 'latest', 'new2.bin', Buffer.from('new')), 409, 'conflict_error');
    const ver = await getVersion(A, 'models', name, '1.0.0');
    assert.deepEqual(ver.packages.flatMap((p) => p.resources.map((r) => r.path)), ['w.bin']);
    assert.equal((await getFile(A, 'models', name, '1.0.0', 'w.bin')).text, 'weights');
  });

  test('uploads to a deprecated version → 409', async () => {
    const { name } = await draft();
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('w'));
    await publish(srv, A, 'models', name, '1.0.0');
    const d = await api(srv, 'POST', `${verBase(A, 'models', name, '1.0.0')}/deprecate`, { token: A.writer });
    assert.equal(d.status, 200, d.text);
    assertError(await putFile(srv, A, 'models', name, '1.0.0', 'x.bin', Buffer.from('x')), 409, 'conflict_error');
  });

  test('a presigned upload confirmed after publish → 409', async () => {
    const { name, base } = await draft();
    const body = prngBytes(`late-${rnd()}`, 64);
    const t = await api(srv, 'POST', `${base}/uploads`, { token: A.writer, body: { path: 'late.bin', size: 64, sha256: sha256(body) } });
    assert.equal(t.status, 201, t.text);
    const put = await fetchBuf(t.json.upload_url, { method: 'PUT', body });
    assert.ok(put.status >= 200 && put.status < 300, put.text);
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('w'));
    await publish(srv, A, 'models', name, '1.0.0');
    const c = await api(srv, 'POST', `${base}/uploads/confirm`, { token: A.writer, body: { storage_key: t.json.storage_key, path: 'late.bin', sha256: sha256(body) } });
    assertError(c, 409, 'conflict_error');
  });
});

describe('concurrency', () => {
  test('racing PUTs of one path: exactly one 201, the rest 409; one resource', async () => {
    const { name } = await draft();
    const bodies = Array.from({ length: 6 }, (_, i) => prngBytes(`race-${i}-${rnd()}`, 200_000));
    const rs = await Promise.all(bodies.map((b) => putFile(srv, A, 'models', name, '1.0.0', 'race.bin', b)));
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409], rs.map((r) => `${r.status} ${r.text.slice(0, 120)}`).join('\n'));
    for (const r of rs.filter((x) => x.status === 409)) assertError(r, 409, 'already_exists_error');
    const winner = rs.find((r) => r.status === 201).json.resources[0].sha256;
    const ver = await getVersion(A, 'models', name, '1.0.0');
    const res = ver.packages.flatMap((p) => p.resources);
    assert.equal(res.length, 1);
    assert.equal(res[0].sha256, winner);
    const g = await getFile(A, 'models', name, '1.0.0', 'race.bin');
    assert.equal(sha256(g.buf), winner);
  });

  test('racing uploads of the same bytes to different paths: all 201, one blob', async () => {
    const { name } = await draft();
    const body = prngBytes(`same-${rnd()}`, 3 * MiB);
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => putFile(srv, A, 'models', name, '1.0.0', `same-${i}.bin`, body)));
    assert.deepEqual(rs.map((r) => r.status), [201, 201, 201, 201, 201, 201], rs.map((r) => r.text.slice(0, 120)).join('\n'));
    assert.equal((await listBlobs(srv.dataDir)).filter((h) => h === sha256(body)).length, 1);
    for (let i = 0; i < 6; i++) assert.equal(sha256((await getFile(A, 'models', name, '1.0.0', `same-${i}.bin`)).buf), sha256(body));
  });

  test('uploads racing a publish: each either lands before it (201) or is refused (409)', async () => {
    const { name } = await draft();
    await putFileOk(srv, A, 'models', name, '1.0.0', 'first.bin', Buffer.from('first'));
    const ups = Array.from({ length: 5 }, (_, i) => putFile(srv, A, 'models', name, '1.0.0', `r${i}.bin`, prngBytes(`rp${i}`, 500_000)));
    const pub = api(srv, 'POST', `${verBase(A, 'models', name, '1.0.0')}/publish`, { token: A.writer });
    const rs = await Promise.all(ups);
    assert.equal((await pub).status, 200);
    for (const r of rs) assert.ok(r.status === 201 || r.status === 409, `${r.status} ${r.text.slice(0, 200)}`);
    const ver = await getVersion(A, 'models', name, '1.0.0');
    const paths = ver.packages.flatMap((p) => p.resources.map((x) => x.path)).sort();
    const landed = rs.map((r, i) => (r.status === 201 ? `r${i}.bin` : null)).filter(Boolean);
    assert.deepEqual(paths, ['first.bin', ...landed].sort(), 'the published version holds exactly the acknowledged files');
  });
});

describe('dedup', () => {
  test('the same bytes in two versions and two orgs share one blob', async () => {
    const body = prngBytes(`dedup-${rnd()}`, 50_000);
    const sum = sha256(body);
    const a1 = await draft('models', A);
    await mkVersion(srv, A, 'models', a1.name, '2.0.0');
    const b1 = await draft('capabilities', B);
    const p1 = await putFileOk(srv, A, 'models', a1.name, '1.0.0', 'w.bin', body);
    const p2 = await putFileOk(srv, A, 'models', a1.name, '2.0.0', 'renamed.bin', body);
    const p3 = await putFileOk(srv, B, 'capabilities', b1.name, '1.0.0', 'w.bin', body);
    const fd = new FormData();
    fd.append('primary', new Blob([body]), 'm.bin');
    const b2 = await draft('models', B);
    const p4 = await postBundle(srv, b2.base, B.writer, fd);
    assert.equal(p4.status, 201, p4.text);
    const keys = [p1, p2, p3, p4.json].map((p) => p.resources[0].storage_key);
    const sums = [p1, p2, p3, p4.json].map((p) => p.resources[0].sha256);
    assert.deepEqual(new Set(keys), new Set([`sha256/${sum.slice(0, 2)}/${sum}`]));
    assert.deepEqual(new Set(sums), new Set([sum]));
    assert.equal((await listBlobs(srv.dataDir)).filter((h) => h === sum).length, 1);
    // Each is readable through its own version.
    assert.ok((await getFile(B, 'capabilities', b1.name, '1.0.0', 'w.bin')).buf.equals(body));
    assert.ok((await getFile(A, 'models', a1.name, '2.0.0', 'renamed.bin')).buf.equals(body));
  });
});

describe('byte-exact round trips', () => {
  test('tiny, binary and empty files', async () => {
    const { name } = await draft();
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const cases = [['one.bin', Buffer.from([0])], ['all.bin', all], ['crlf.txt', Buffer.from('a\r\nb\r\n\r\n--x--\r\n')], ['empty.bin', Buffer.alloc(0)]];
    for (const [p, buf] of cases) {
      const pkg = await putFileOk(srv, A, 'models', name, '1.0.0', p, buf);
      assert.equal(pkg.resources[0].size_bytes, buf.length, p);
      assert.equal(pkg.resources[0].sha256, sha256(buf), p);
      const g = await getFile(A, 'models', name, '1.0.0', p);
      assert.equal(g.status, 200, p);
      assert.equal(g.headers.get('content-length'), String(buf.length), p);
      assert.ok(g.buf.equals(buf), `bytes of ${p}`);
    }
    const e = sha256(Buffer.alloc(0));
    assert.equal(e, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const ver = await getVersion(A, 'models', name, '1.0.0');
    assert.ok(ver.packages.some((p) => p.resources[0].sha256 === e && p.resources[0].size_bytes === 0));
  });

  test('64 MiB streamed upload: constant server memory, byte-exact download', async () => {
    const { name } = await draft();
    const total = 64 * MiB;
    const seed = `big-${rnd()}`;
    const want = prngSha256(seed, total);
    const mem = rssGrowth(srv.proc.pid);
    const r = await putFile(srv, A, 'models', name, '1.0.0', 'big.bin', prngStream(seed, total, 256 * 1024), { headers: { 'x-checksum-sha256': want } });
    assert.equal(r.status, 201, r.text);
    const grew = mem.stop();
    if (process.env.MEM_DEBUG) console.log(`rss growth ${(grew / MiB).toFixed(1)} MiB`);
    assert.ok(grew < 32 * MiB, `server peak RSS grew by ${(grew / MiB).toFixed(1)} MiB during a 64 MiB upload`);
    assert.equal(r.json.resources[0].size_bytes, total);
    assert.equal(r.json.resources[0].sha256, want);
    const g = await fetchSha(`${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/big.bin`, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(g.status, 200);
    assert.equal(g.size, total);
    assert.equal(g.sha256, want);
  });

  test('a 24 MiB bundle streams too: constant server memory, byte-exact parts', async () => {
    const { name, base } = await draft();
    const prim = prngBytes(`bprim-${rnd()}`, 24 * MiB);
    const extra = prngBytes(`bextra-${rnd()}`, 3 * MiB + 1);
    const mem = rssGrowth(srv.proc.pid);
    const fd = new FormData();
    fd.append('primary', new Blob([prim]), 'big.onnx');
    fd.append('extras', new Blob([extra]), 'extra.bin');
    fd.append('extras_kind', 'data');
    const r = await api(srv, 'POST', `${base}/bundle`, { token: A.writer, rawBody: fd });
    assert.equal(r.status, 201, r.text);
    const grew = mem.stop();
    if (process.env.MEM_DEBUG) console.log(`rss growth ${(grew / MiB).toFixed(1)} MiB`);
    assert.ok(grew < 16 * MiB, `server peak RSS grew by ${(grew / MiB).toFixed(1)} MiB during a 27 MiB bundle`);
    const by = Object.fromEntries(r.json.resources.map((x) => [x.path, x]));
    assert.equal(by['big.onnx'].sha256, sha256(prim));
    assert.equal(by['extra.bin'].sha256, sha256(extra));
    assert.equal(by['extra.bin'].size_bytes, extra.length);
    const g = await fetchSha(`${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/big.onnx`, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(g.sha256, sha256(prim));
  });
});
