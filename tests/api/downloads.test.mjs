// API.md §6 downloads: download-url(s), authenticated file GETs, presigned blob URLs (tamper,
// expiry), Range, ETag/If-None-Match, HEAD, download counts.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  startServer, api, mkOrgWithTokens, assertError, rnd, TS_RE, rawRequest, S3_MODE, s3Endpoint, S3_BUCKET, s3PrefixFor,
} from './harness.mjs';
import {
  MiB, sha256, prngBytes, verBase, artBase, mkArtifact, mkVersion, putFileOk, publish, fetchBuf, rawHttp, sleep, until, postBundle,
} from './files-lib.mjs';

const SECRET = `test-secret-${rnd(8)}`;
let srv;
let A;
let B;
// A published model: 1.0.0 = bundle (weights.bin primary + config.json), 1.1.0 = weights.bin.
let M;
const W1 = prngBytes('dl-w1', 100_000);
const CFG = Buffer.from('{"layers": 2}');
const W2 = prngBytes('dl-w2', 77_777);

before(async () => {
  srv = await startServer({ args: ['--secret', SECRET] });
  A = await mkOrgWithTokens(srv);
  B = await mkOrgWithTokens(srv);
  const { name } = await mkArtifact(srv, A, 'models');
  M = name;
  await mkVersion(srv, A, 'models', M, '1.0.0');
  const fd = new FormData();
  fd.append('primary', new Blob([W1]), 'weights.bin');
  fd.append('extras', new Blob([CFG]), 'config.json');
  fd.append('extras_kind', 'config');
  const r = await api(srv, 'POST', `${verBase(A, 'models', M, '1.0.0')}/bundle`, { token: A.writer, rawBody: fd });
  assert.equal(r.status, 201, r.text);
  await publish(srv, A, 'models', M, '1.0.0');
  await mkVersion(srv, A, 'models', M, '1.1.0');
  await putFileOk(srv, A, 'models', M, '1.1.0', 'weights.bin', W2);
  await publish(srv, A, 'models', M, '1.1.0');
});
after(async () => { await srv?.stop(); });

const rel = (u) => { const x = new URL(u); return x.pathname + x.search; };

async function downloadUrl(query = '', token = A.reader, name = M) {
  const r = await api(srv, 'GET', `${artBase(A, 'models', name)}/download-url${query}`, { token });
  return r;
}

/** GET with no token of a presigned URL (cairn's rewritten onto our server's address; in S3
 * mode the store's own URL, as is). */
const getSigned = (u, init = {}) => fetchBuf(S3_MODE ? u : srv.url + rel(u), init);

/** The path of a direct URL of blob hex (S3 mode): path-style, under the server's prefix. */
const s3Path = (hex) => `/${S3_BUCKET}/${s3PrefixFor(srv.dataDir)}sha256/${hex.slice(0, 2)}/${hex}`;

/*
 * An independent SigV4 query signer (node crypto), to check the store URLs cairn makes in S3
 * mode: same inputs, same signature. s3rver's default credentials.
 */
const enc = (x) => encodeURIComponent(x).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (k, m) => createHmac('sha256', k).update(m).digest();
function sigv4Sign(method, host, pathname, params, secret = 'S3RVER') {
  const q = [...params].filter(([k]) => k !== 'X-Amz-Signature').map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = [method, pathname, q, `host:${host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const date = params.get('X-Amz-Date');
  const [, d8, region] = /^[^/]+\/(\d{8})\/([^/]+)\//.exec(params.get('X-Amz-Credential'));
  const sts = ['AWS4-HMAC-SHA256', date, `${d8}/${region}/s3/aws4_request`, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, d8), region), 's3'), 'aws4_request');
  return hmac(key, sts).toString('hex');
}

describe('download-url', () => {
  test('latest primary file, expires_in 3600, URL works without a token', async () => {
    const r = await downloadUrl();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.expires_in, 3600);
    assert.equal(r.json.version, '1.1.0');
    assert.equal(r.json.path, 'weights.bin');
    assert.equal(r.json.sha256, sha256(W2));
    assert.equal(r.json.size_bytes, W2.length);
    assert.match(r.json.expires_at, TS_RE);
    const left = Date.parse(r.json.expires_at) - Date.now();
    assert.ok(left > 3500_000 && left <= 3601_000, `expires_at ~1h ahead: ${left}`);
    const u = new URL(r.json.url);
    const g = await getSigned(r.json.url);
    assert.equal(g.status, 200, g.text);
    assert.ok(g.buf.equals(W2));
    assert.equal(g.headers.get('content-length'), String(W2.length));
    if (S3_MODE) {
      // A presigned GET of the content key, straight from the store, naming the file.
      assert.equal(u.origin, s3Endpoint());
      assert.equal(u.pathname, s3Path(sha256(W2)));
      assert.equal(u.searchParams.get('X-Amz-Expires'), '3600');
      assert.equal(u.searchParams.get('X-Amz-SignedHeaders'), 'host');
      assert.match(g.headers.get('content-disposition') || '', /weights\.bin/);
    } else {
      assert.match(u.pathname, /^\/api\/v1\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
      assert.equal(g.headers.get('etag'), `"${sha256(W2)}"`);
    }
  });

  test('?version= picks the primary of that version (a bundle)', async () => {
    const r = await downloadUrl('?version=1.0.0');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.version, '1.0.0');
    assert.equal(r.json.path, 'weights.bin');
    assert.equal(r.json.sha256, sha256(W1));
    const g = await getSigned(r.json.url);
    assert.ok(g.buf.equals(W1));
  });

  test('?package_id= picks that package\'s file', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '1.0.0');
    const fd = new FormData();
    fd.append('primary', new Blob([Buffer.from('bundle primary')]), 'main.bin');
    fd.append('extras', new Blob([Buffer.from('{}')]), 'cfg.json');
    fd.append('extras_kind', 'config');
    const b = await postBundle(srv, verBase(A, 'models', name, '1.0.0'), A.writer, fd);
    assert.equal(b.status, 201, b.text);
    const other = prngBytes(`other-${rnd()}`, 321);
    const f = await putFileOk(srv, A, 'models', name, '1.0.0', 'other.q4.bin', other);
    await publish(srv, A, 'models', name, '1.0.0');
    const r = await downloadUrl(`?package_id=${f.id}`, A.reader, name);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.path, 'other.q4.bin');
    assert.equal(r.json.package_id, f.id);
    assert.ok((await getSigned(r.json.url)).buf.equals(other));
    const r2 = await downloadUrl(`?package_id=${b.json.id}`, A.reader, name);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.path, 'main.bin');
  });

  test('nothing published → 404; other org → 404; no token → 401', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '1.0.0');
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', Buffer.from('draft'));
    assertError(await downloadUrl('', A.reader, name), 404, 'not_found_error');
    assertError(await downloadUrl('', B.reader), 404, 'not_found_error');
    assertError(await downloadUrl('', null), 401, 'authentication_error');
  });
});

describe('download-urls', () => {
  test('every resource of a version, each URL byte-exact', async () => {
    const r = await api(srv, 'GET', `${verBase(A, 'models', M, '1.0.0')}/download-urls`, { token: A.reader });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.source, 'cairn');
    assert.ok(Array.isArray(r.json.resources));
    const byPath = Object.fromEntries(r.json.resources.map((x) => [x.path, x]));
    assert.deepEqual(Object.keys(byPath).sort(), ['config.json', 'weights.bin']);
    for (const [p, buf] of [['weights.bin', W1], ['config.json', CFG]]) {
      const x = byPath[p];
      for (const f of ['path', 'url', 'sha256', 'size_bytes', 'expires_at']) assert.ok(f in x, `${f} in ${JSON.stringify(x)}`);
      assert.equal(x.sha256, sha256(buf));
      assert.equal(x.size_bytes, buf.length);
      assert.match(x.expires_at, TS_RE);
      const g = await getSigned(x.url);
      assert.equal(g.status, 200, g.text);
      assert.ok(g.buf.equals(buf), `bytes of ${p}`);
    }
  });

  test('works for a draft and for the alias "latest"; unknown version → 404', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '0.1.0');
    const d = prngBytes(`draft-${rnd()}`, 10);
    await putFileOk(srv, A, 'models', name, '0.1.0', 'd.bin', d);
    const r = await api(srv, 'GET', `${verBase(A, 'models', name, '0.1.0')}/download-urls`, { token: A.reader });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.resources.length, 1);
    assert.ok((await getSigned(r.json.resources[0].url)).buf.equals(d));
    const l = await api(srv, 'GET', `${verBase(A, 'models', M, 'latest')}/download-urls`, { token: A.reader });
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(l.json.resources.map((x) => x.sha256), [sha256(W2)]);
    assertError(await api(srv, 'GET', `${verBase(A, 'models', M, '9.0.0')}/download-urls`, { token: A.reader }), 404, 'not_found_error');
  });
});

describe('authenticated file GET', () => {
  const path = (v, p) => `${verBase(A, 'models', M, v)}/files/${p}`;

  test('reader gets the bytes with ETag, Content-Length, Content-Disposition', async () => {
    const g = await fetchBuf(srv.url + path('1.0.0', 'config.json'), { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(g.status, 200);
    assert.ok(g.buf.equals(CFG));
    assert.equal(g.headers.get('etag'), `"${sha256(CFG)}"`);
    assert.equal(g.headers.get('content-length'), String(CFG.length));
    assert.match(g.headers.get('content-disposition') || '', /config\.json/);
    assert.match(g.headers.get('content-type') || '', /^application\/json/, 'media type from the extension');
  });

  test('Content-Disposition: a file name with a quote and "; " cannot add a parameter (RFC 6266)', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '1.0.0');
    const evil = 'dir/a"; filename=evil.sh; x=".bin';
    await putFileOk(srv, A, 'models', name, '1.0.0', evil.split('/').map(encodeURIComponent).join('/'), Buffer.from('x'));
    const g = await fetchBuf(`${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/${evil.split('/').map(encodeURIComponent).join('/')}`,
      { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(g.status, 200, g.text);
    const cd = g.headers.get('content-disposition');
    assert.equal(cd, 'attachment; filename="a___filename_evil.sh__x__.bin"; '
      + "filename*=UTF-8''a%22%3B%20filename%3Devil.sh%3B%20x%3D%22.bin");
    assert.equal((cd.match(/filename=/g) || []).length, 1, cd);
    assert.equal(decodeURIComponent(cd.split("UTF-8''")[1]), 'a"; filename=evil.sh; x=".bin');
  });

  test('public artifact: another org downloads it until enabled:false; the owner always can', async () => {
    const { name } = await mkArtifact(srv, A, 'models', { is_public: true });
    await mkVersion(srv, A, 'models', name, '1.0.0');
    const data = prngBytes(`pub-${rnd()}`, 999);
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', data);
    await publish(srv, A, 'models', name, '1.0.0');
    const fileUrl = `${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/w.bin`;
    const asB = await fetchBuf(fileUrl, { headers: { authorization: `Bearer ${B.reader}` } });
    assert.equal(asB.status, 200);
    assert.ok(asB.buf.equals(data));
    const du = await downloadUrl('', B.reader, name);
    assert.equal(du.status, 200, du.text);
    const p = await api(srv, 'PATCH', artBase(A, 'models', name), { token: A.writer, body: { enabled: false } });
    assert.equal(p.status, 200, p.text);
    assertError(await api(srv, 'GET', `${verBase(A, 'models', name, '1.0.0')}/files/w.bin`, { token: B.reader }), 403, 'forbidden_error');
    assertError(await downloadUrl('', B.reader, name), 403, 'forbidden_error');
    assertError(await api(srv, 'GET', `${verBase(A, 'models', name, '1.0.0')}/download-urls`, { token: B.reader }), 403, 'forbidden_error');
    const own = await fetchBuf(fileUrl, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(own.status, 200);
    assert.equal((await downloadUrl('', A.reader, name)).status, 200);
  });

  test('no token 401; other org 404; missing path 404; traversal 404', async () => {
    assertError(await api(srv, 'GET', path('1.0.0', 'config.json')), 401, 'authentication_error');
    assertError(await api(srv, 'GET', path('1.0.0', 'config.json'), { token: B.reader }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', path('1.0.0', 'nope.bin'), { token: A.reader }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', path('1.1.0', 'config.json'), { token: A.reader }), 404, 'not_found_error');
    for (const p of ['../../../../etc/passwd', '%2e%2e/%2e%2e/%2e%2e/etc/passwd', '..%2F..%2Fcairn.db', '%2Fetc%2Fpasswd', '/etc/passwd',
      'weights.bin%00.txt', '..%5C..%5Ccairn.db', 'a/../weights.bin', './weights.bin']) {
      const r = await rawHttp(srv, 'GET', path('1.0.0', p), { headers: { authorization: `Bearer ${A.reader}` } });
      assert.ok(r.status === 404 || r.status === 422, `GET files/${p}: ${r.status} ${r.text.slice(0, 200)}`);
      assertError(r, r.status);
    }
  });
});

describe('presigned blob URLs', () => {
  let url; // a good URL of W2
  let other; // a good URL of CFG
  // In S3 mode download-url gives the store's URLs; the byte-serving tests below (Range, ETag,
  // HEAD) then run on cairn's own authenticated file route of the same bytes.
  const w2File = () => `${srv.url}${verBase(A, 'models', M, '1.1.0')}/files/weights.bin`;
  const served = () => (S3_MODE ? w2File() : srv.url + url.pathname + url.search);
  const servedInit = (init = {}) => (S3_MODE ? { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${A.reader}` } } : init);
  before(async () => {
    url = new URL((await downloadUrl()).json.url);
    const r = await api(srv, 'GET', `${verBase(A, 'models', M, '1.0.0')}/download-urls`, { token: A.reader });
    other = new URL(r.json.resources.find((x) => x.path === 'config.json').url);
  });

  const variant = (base, fn) => { const u = new URL(base); fn(u); return S3_MODE ? u.href : srv.url + u.pathname + u.search; };

  test('download URLs are signed: cairn HMAC (files) or SigV4 by the store, exactly as an independent signer does it (S3)', async () => {
    if (!S3_MODE) {
      assert.match(url.pathname, /^\/api\/v1\/blobs\/sha256\//);
      for (const k of ['expires', 'sig', 'v']) assert.ok(url.searchParams.get(k), `${k} in ${url}`);
      return;
    }
    const host = url.host; // with the port: the Host header a client sends
    assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    assert.match(url.searchParams.get('X-Amz-Credential'), /^S3RVER\/\d{8}\/us-east-1\/s3\/aws4_request$/);
    assert.match(url.searchParams.get('X-Amz-Date'), /^\d{8}T\d{6}Z$/);
    assert.equal(url.searchParams.get('X-Amz-Signature'), sigv4Sign('GET', host, url.pathname, url.searchParams));
    assert.notEqual(url.searchParams.get('X-Amz-Signature'), sigv4Sign('GET', host, url.pathname, url.searchParams, 'wrong'));
  });

  test('altered URLs → 403 token_error, revealing nothing (S3 mode: 403 from the store)', async () => {
    if (S3_MODE) {
      const sig = url.searchParams.get('X-Amz-Signature');
      const cases = {
        'flipped signature': (u) => u.searchParams.set('X-Amz-Signature', (sig[0] === '0' ? '1' : '0') + sig.slice(1)),
        'expires later': (u) => u.searchParams.set('X-Amz-Expires', '7200'),
        'other date': (u) => u.searchParams.set('X-Amz-Date', u.searchParams.get('X-Amz-Date').replace(/(\d)Z$/, (m, d) => `${(Number(d) + 1) % 10}Z`)),
        'moved to another blob': (u) => { u.pathname = other.pathname; },
        'other blob with a missing key': (u) => { u.pathname = s3Path('0'.repeat(64)); },
        'other filename': (u) => u.searchParams.set('response-content-disposition', 'attachment; filename="x.bin"'),
        'extra parameter': (u) => u.searchParams.set('v', '1'),
      };
      for (const [what, fn] of Object.entries(cases)) {
        const r = await fetchBuf(variant(url, fn));
        assert.equal(r.status, 403, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.match(r.text, /<Code>SignatureDoesNotMatch<\/Code>/, what);
        assert.ok(!r.buf.includes(W2.subarray(0, 64)), `${what}: leaks the bytes`);
      }
      assert.equal((await fetchBuf(url.href)).status, 200, 'the untouched URL still works');
      return;
    }
    const sig = url.searchParams.get('sig');
    const exp = Number(url.searchParams.get('expires'));
    const cases = {
      'flipped sig': (u) => u.searchParams.set('sig', (sig[0] === '0' ? '1' : '0') + sig.slice(1)),
      'short sig': (u) => u.searchParams.set('sig', sig.slice(1)),
      'no sig': (u) => u.searchParams.delete('sig'),
      'empty sig': (u) => u.searchParams.set('sig', ''),
      'no expires': (u) => u.searchParams.delete('expires'),
      'expires in the past': (u) => u.searchParams.set('expires', String(exp - 7200)),
      'expires = 1': (u) => u.searchParams.set('expires', '1'),
      'expires later': (u) => u.searchParams.set('expires', String(exp + 86400)),
      'expires not a number': (u) => u.searchParams.set('expires', 'soon'),
      'other version id': (u) => u.searchParams.set('v', '00000000-0000-7000-8000-000000000000'),
      'no version id': (u) => u.searchParams.delete('v'),
      'moved to another blob': (u) => { u.pathname = other.pathname; },
      'other blob with a missing key': (u) => { u.pathname = `/api/v1/blobs/sha256/00/${'0'.repeat(64)}`; },
    };
    for (const [what, fn] of Object.entries(cases)) {
      const r = await fetchBuf(variant(url, fn));
      assert.equal(r.status, 403, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
      assertError(r, 403, 'token_error');
      assert.ok(!/expire/i.test(r.json.detail) || what === 'no expires', `${what}: detail reveals expiry: ${r.json.detail}`);
      assert.ok(!r.text.includes(sha256(W2)) || what === 'moved to another blob', `${what}: body leaks the hash`);
    }
    // The untouched URL still works.
    assert.equal((await fetchBuf(srv.url + url.pathname + url.search)).status, 200);
  });

  test('a malformed key → 404 (or 403), never a file', async () => {
    for (const p of ['/api/v1/blobs/sha256/../../cairn.db', '/api/v1/blobs/..%2F..%2Fcairn.db', '/api/v1/blobs/sha256/ab/xyz', '/api/v1/blobs/tmp/abc']) {
      const r = await rawHttp(srv, 'GET', `${p}?expires=${url.searchParams.get('expires')}&sig=${url.searchParams.get('sig')}`);
      assert.ok(r.status === 404 || r.status === 403, `${p}: ${r.status}`);
      assertError(r, r.status);
    }
  });

  test('a signature covers all of a long ?v= (found by tests/fuzz/fuzz_presign)', async () => {
    // presign_sign signed at most 511 bytes of "GET\n<key>#<v>\n<expires>" and read past its
    // stack buffer for longer ones: a long v must still be signed whole, and a v that differs
    // only past byte 511 must not pass with that signature
    const h = sha256(W2);
    const key = `sha256/${h.slice(0, 2)}/${h}`;
    const future = Math.floor(Date.now() / 1000) + 600;
    const v = 'x'.repeat(600);
    const sign = (vid) => createHmac('sha256', SECRET).update(`GET\n${key}#${vid}\n${future}`).digest('hex');
    const ok = await fetchBuf(`${srv.url}/api/v1/blobs/${key}?expires=${future}&sig=${sign(v)}&v=${v}`);
    assert.equal(ok.status, 200, `${ok.status} ${ok.text.slice(0, 200)}`);
    const other = `${v.slice(0, 590)}yyyyyyyyyy`;
    const r = await fetchBuf(`${srv.url}/api/v1/blobs/${key}?expires=${future}&sig=${sign(v)}&v=${other}`);
    assertError(r, 403, 'token_error');
  });

  test('a correctly signed but expired URL → 401 expired_signature_error (server started with --secret; S3 mode: 403 AccessDenied from the store)', async () => {
    if (S3_MODE) {
      const u = new URL(url);
      const past = new Date(Date.now() - 7200_000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      u.searchParams.set('X-Amz-Date', past);
      u.searchParams.set('X-Amz-Credential', u.searchParams.get('X-Amz-Credential').replace(/\/\d{8}\//, `/${past.slice(0, 8)}/`));
      u.searchParams.set('X-Amz-Expires', '60');
      u.searchParams.set('X-Amz-Signature', sigv4Sign('GET', u.host, u.pathname, u.searchParams));
      const r = await fetchBuf(u.href);
      assert.equal(r.status, 403, r.text);
      assert.match(r.text, /<Code>AccessDenied<\/Code>/);
      // The same URL re-signed with a future window works: the signer above is the store's.
      u.searchParams.set('X-Amz-Expires', '86400');
      u.searchParams.set('X-Amz-Signature', sigv4Sign('GET', u.host, u.pathname, u.searchParams));
      assert.equal((await fetchBuf(u.href)).status, 200);
      return;
    }
    // Signature scheme of src/blob/presign.c: hex HMAC-SHA256(secret, "GET\n<key>#<version id>\n<expires>").
    const key = url.pathname.replace('/api/v1/blobs/', '');
    const vid = url.searchParams.get('v');
    const sign = (exp) => createHmac('sha256', SECRET).update(`GET\n${key}#${vid}\n${exp}`).digest('hex');
    const future = Math.floor(Date.now() / 1000) + 600;
    // Sanity: our signature is what the server makes (otherwise this test proves nothing).
    const ok = await fetchBuf(`${srv.url}${url.pathname}?expires=${future}&sig=${sign(future)}&v=${vid}`);
    assert.equal(ok.status, 200, `self-signed URL not accepted: ${ok.status} ${ok.text}`);
    const past = Math.floor(Date.now() / 1000) - 10;
    const r = await fetchBuf(`${srv.url}${url.pathname}?expires=${past}&sig=${sign(past)}&v=${vid}`);
    assertError(r, 401, 'expired_signature_error');
  });

  test('Range: explicit, open, suffix, clamped → 206 with exact bytes', async () => {
    const n = W2.length;
    const cases = [
      ['bytes=0-9', 0, 9],
      ['bytes=100-199', 100, 199],
      ['bytes=5-5', 5, 5],
      [`bytes=${n - 5}-`, n - 5, n - 1],
      ['bytes=1000-', 1000, n - 1],
      ['bytes=-10', n - 10, n - 1],
      [`bytes=-${n + 100}`, 0, n - 1],
      [`bytes=70000-${n + 5000}`, 70000, n - 1],
    ];
    for (const [range, a, b] of cases) {
      const r = await fetchBuf(served(), servedInit({ headers: { range } }));
      assert.equal(r.status, 206, `${range}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${n}`, range);
      assert.equal(r.headers.get('content-length'), String(b - a + 1), range);
      assert.ok(r.buf.equals(W2.subarray(a, b + 1)), `${range}: bytes`);
      assert.equal(r.headers.get('etag'), `"${sha256(W2)}"`);
    }
  });

  test('Range: unsatisfiable → 416 with Content-Range bytes */size; multi-range → 400', async () => {
    const n = W2.length;
    for (const range of [`bytes=${n}-`, `bytes=${n + 10}-${n + 20}`, 'bytes=-0']) {
      const r = await fetchBuf(served(), servedInit({ headers: { range } }));
      assertError(r, 416);
      assert.equal(r.headers.get('content-range'), `bytes */${n}`, range);
    }
    for (const range of ['bytes=0-1,5-6', 'bytes=0-1, -5']) {
      const r = await fetchBuf(served(), servedInit({ headers: { range } }));
      assertError(r, 400, 'invalid_error');
    }
  });

  test('Range: a sign or space in a number is malformed → 400, never the whole file as 206', async () => {
    const url = `${srv.url}${verBase(A, 'models', M, '1.0.0')}/files/weights.bin`;
    for (const range of ['bytes=--5', 'bytes=-+5', 'bytes=- 5', 'bytes=0--5', 'bytes=+0-5', 'bytes=0-+5', 'bytes=-']) {
      const r = await fetchBuf(url, { headers: { authorization: `Bearer ${A.reader}`, range } });
      assertError(r, 400, 'invalid_error');
      assert.equal(r.headers.get('content-range'), null, range);
    }
  });

  test('Range on the authenticated file route too', async () => {
    const r = await fetchBuf(`${srv.url}${verBase(A, 'models', M, '1.0.0')}/files/weights.bin`, {
      headers: { authorization: `Bearer ${A.reader}`, range: 'bytes=-100' },
    });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes ${W1.length - 100}-${W1.length - 1}/${W1.length}`);
    assert.ok(r.buf.equals(W1.subarray(W1.length - 100)));
  });

  test('strong ETag; If-None-Match → 304 with no body; other ETag → 200', async () => {
    const u = served();
    const etag = `"${sha256(W2)}"`;
    const r = await fetchBuf(u, servedInit({ headers: { 'if-none-match': etag } }));
    assert.equal(r.status, 304);
    assert.equal(r.buf.length, 0);
    assert.equal(r.headers.get('etag'), etag);
    const r2 = await fetchBuf(u, servedInit({ headers: { 'if-none-match': `"${sha256(W1)}", ${etag}` } }));
    assert.equal(r2.status, 304);
    const r3 = await fetchBuf(u, servedInit({ headers: { 'if-none-match': `"${sha256(W1)}"` } }));
    assert.equal(r3.status, 200);
    assert.ok(r3.buf.equals(W2));
    const f = await fetchBuf(`${srv.url}${verBase(A, 'models', M, '1.1.0')}/files/weights.bin`, {
      headers: { authorization: `Bearer ${A.reader}`, 'if-none-match': etag },
    });
    assert.equal(f.status, 304);
  });

  test('If-None-Match uses weak comparison (W/"..." matches) and * matches (RFC 9110 §13.1.2)', async () => {
    const u = served();
    const weak = await fetchBuf(u, servedInit({ headers: { 'if-none-match': `W/"${sha256(W2)}"` } }));
    assert.equal(weak.status, 304);
    const star = await fetchBuf(u, servedInit({ headers: { 'if-none-match': '*' } }));
    assert.equal(star.status, 304);
  });

  test('a Range with a unit other than bytes is ignored → 200 full body (RFC 9110 §14.2)', async () => {
    const r = await fetchBuf(served(), servedInit({ headers: { range: 'items=0-5' } }));
    assert.equal(r.status, 200, `${r.status} ${r.text.slice(0, 200)}`);
    assert.ok(r.buf.equals(W2));
  });

  test('an empty file: full GET 200 with no bytes; any byte range 416', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '1.0.0');
    await putFileOk(srv, A, 'models', name, '1.0.0', 'empty.bin', Buffer.alloc(0));
    const r = await api(srv, 'GET', `${verBase(A, 'models', name, '1.0.0')}/download-urls`, { token: A.reader });
    assert.equal(r.status, 200, r.text);
    // S3 mode: cairn's own route serves these bytes (the store's ranges are its business).
    const eu = S3_MODE ? `${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/empty.bin` : r.json.resources[0].url;
    const getEmpty = (init = {}) => (S3_MODE ? fetchBuf(eu, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${A.reader}` } }) : getSigned(eu, init));
    const g = await getEmpty();
    assert.equal(g.status, 200);
    assert.equal(g.buf.length, 0);
    assert.equal(g.headers.get('content-length'), '0');
    for (const range of ['bytes=0-', 'bytes=-1', 'bytes=0-0']) {
      const x = await getEmpty({ headers: { range } });
      assert.equal(x.status, 416, range);
      assert.equal(x.headers.get('content-range'), 'bytes */0', range);
    }
  });

  test('HEAD: headers, no body', async () => {
    const h = await fetch(served(), servedInit({ method: 'HEAD' }));
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(W2.length));
    assert.equal(h.headers.get('etag'), `"${sha256(W2)}"`);
    assert.equal(h.headers.get('accept-ranges'), 'bytes');
    // On the wire: nothing after the header block.
    const target = S3_MODE ? new URL(served()).pathname : `${url.pathname}${url.search}`;
    const auth = S3_MODE ? `Authorization: Bearer ${A.reader}\r\n` : '';
    const raw = await rawRequest(srv, `HEAD ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`);
    const [head, rest] = raw.text.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`content-length: ${W2.length}`, 'i'));
    assert.equal(rest, '', 'HEAD sent a body');
  });
});

describe('download counts', () => {
  // Files: a full GET through cairn counts, presigned or authenticated. S3 mode: clients fetch
  // presigned URLs from the store, unseen by cairn, so each URL issued counts instead, and
  // full authenticated GETs through cairn count as before.
  let name;
  let data;
  let signed;
  before(async () => {
    ({ name } = await mkArtifact(srv, A, 'models'));
    await mkVersion(srv, A, 'models', name, '1.0.0');
    data = prngBytes(`count-${rnd()}`, 32 * MiB);
    await putFileOk(srv, A, 'models', name, '1.0.0', 'w.bin', data);
    await publish(srv, A, 'models', name, '1.0.0');
    const r = await downloadUrl('', A.reader, name);
    assert.equal(r.status, 200, r.text);
    signed = S3_MODE ? r.json.url : srv.url + rel(r.json.url);
  });
  const issued = S3_MODE ? 1 : 0; // the URL issued in before()

  const counts = async () => {
    const v = await api(srv, 'GET', verBase(A, 'models', name, '1.0.0'), { token: A.reader });
    const a = await api(srv, 'GET', artBase(A, 'models', name), { token: A.reader });
    return { version: v.json.download_count, artifact: a.json.download_count };
  };
  const expectCounts = async (want, what) => {
    const got = await until(async () => { const c = await counts(); return c.version === want && c.artifact === want ? c : null; }, 3000);
    assert.ok(got, `${what}: expected ${want}, have ${JSON.stringify(await counts())}`);
    await sleep(200); // and it stays there
    assert.deepEqual(await counts(), { version: want, artifact: want }, what);
  };

  test('starts at 0 (S3 mode: 1, for the URL issued)', async () => { await expectCounts(issued, 'at the start'); });

  test('a full presigned GET counts once on the version and the artifact (S3 mode: issuing a URL does, the GET from the store does not)', async () => {
    const r = await fetchBuf(signed);
    assert.equal(r.status, 200);
    assert.equal(sha256(r.buf), sha256(data));
    if (S3_MODE) {
      await sleep(300);
      assert.deepEqual(await counts(), { version: 1, artifact: 1 }, 'a GET from the store is not seen');
      const more = await api(srv, 'GET', `${verBase(A, 'models', name, '1.0.0')}/download-urls`, { token: A.reader });
      assert.equal(more.status, 200, more.text);
    }
    await expectCounts(1 + issued, 'after one full GET');
  });

  test('Range GETs, 304s and HEADs do not count', async () => {
    const n0 = 1 + issued;
    // S3 mode: the same requests through cairn's own route, which does the counting there.
    const target = S3_MODE ? `${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/w.bin` : signed;
    const init = (h = {}) => (S3_MODE ? { headers: { ...h, authorization: `Bearer ${A.reader}` } } : { headers: h });
    assert.equal((await fetchBuf(target, init({ range: 'bytes=0-99' }))).status, 206);
    assert.equal((await fetchBuf(target, init({ range: 'bytes=-10' }))).status, 206);
    assert.equal((await fetchBuf(target, init({ range: `bytes=0-${data.length - 1}` }))).status, 206);
    assert.equal((await fetchBuf(target, init({ 'if-none-match': `"${sha256(data)}"` }))).status, 304);
    assert.equal((await fetchBuf(target, init({ range: `bytes=${data.length}-` }))).status, 416);
    await sleep(300);
    assert.deepEqual(await counts(), { version: n0, artifact: n0 }, 'after Range/304/416');
    const h = await fetch(target, { method: 'HEAD', ...init() });
    assert.equal(h.status, 200);
    await sleep(300);
    assert.deepEqual(await counts(), { version: n0, artifact: n0 }, 'after HEAD');
  });

  test('a full authenticated GET counts too', async () => {
    const r = await fetchBuf(`${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/w.bin`, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(r.status, 200);
    await expectCounts(2 + issued, 'after an authenticated full GET');
  });

  test('a GET aborted by the client after the first bytes does not count', async () => {
    const u = new URL(signed);
    // S3 mode: abort a GET through cairn (the store's GETs never count anyway).
    const reqPath = S3_MODE ? `${verBase(A, 'models', name, '1.0.0')}/files/w.bin` : `${u.pathname}${u.search}`;
    const auth = S3_MODE ? `Authorization: Bearer ${A.reader}\r\n` : '';
    await new Promise((resolve) => {
      let got = 0;
      let sock;
      import('node:net').then((net) => {
        sock = net.connect(srv.port, '127.0.0.1', () => {
          sock.write(`GET ${reqPath} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`);
        });
        sock.on('data', (d) => { got += d.length; if (got > 64 * 1024) { sock.destroy(); resolve(); } });
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
      });
    });
    await sleep(500);
    assert.deepEqual(await counts(), { version: 2 + issued, artifact: 2 + issued }, 'after an aborted GET');
  });

  test('concurrent full GETs each count once', async () => {
    const get = () => (S3_MODE
      ? fetchBuf(`${srv.url}${verBase(A, 'models', name, '1.0.0')}/files/w.bin`, { headers: { authorization: `Bearer ${A.reader}` } })
      : fetchBuf(signed));
    const rs = await Promise.all(Array.from({ length: 4 }, get));
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.equal(r.buf.length, data.length);
    }
    await expectCounts(6 + issued, 'after 4 concurrent full GETs');
  });
});
