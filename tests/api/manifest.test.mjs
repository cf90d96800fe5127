// Public manifest and resolve (issue 6, API.md §7).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { startServer, api, mkOrgWithTokens, assertError, uniq } from './harness.mjs';

let srv, o;
before(async () => { srv = await startServer(); o = await mkOrgWithTokens(srv); });
after(async () => { await srv?.stop(); });

const base = (n) => `/api/v1/org/${o.slug}/models/${n}`;
async function model(name, body = {}) {
  const r = await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, ...body } });
  assert.equal(r.status, 201, r.text);
}
async function version(name, v, bytes, publish = true) {
  assert.equal((await api(srv, 'POST', `${base(name)}/versions`, { token: o.writer, body: { version: v } })).status, 201);
  if (bytes !== undefined) {
    const put = await fetch(`${srv.url}${base(name)}/versions/${v}/files/model.bin`, { method: 'PUT', body: Buffer.from(bytes), headers: { authorization: `Bearer ${o.writer}` } });
    assert.equal(put.status, 201, await put.text());
  }
  if (publish) assert.equal((await api(srv, 'POST', `${base(name)}/versions/${v}/publish`, { token: o.writer })).status, 200);
}
const manifest = async (headers = {}) => fetch(`${srv.url}/api/v1/manifest`, { headers });

test('lists exactly the public models with a published version, deprecated ones marked', async () => {
  const pub = uniq('pub'), priv = uniq('priv'), draftOnly = uniq('draft'), off = uniq('off');
  await model(pub, { is_public: true, task: 'text-generation', size_category: 'small', framework: 'gguf' });
  await version(pub, '1.0.0', 'one');
  await version(pub, '1.1.0', 'two');
  await version(pub, '2.0.0-rc.1', 'three', false);
  assert.equal((await api(srv, 'POST', `${base(pub)}/versions/1.0.0/deprecate`, { token: o.writer })).status, 200);
  await model(priv, { is_public: false });
  await version(priv, '1.0.0', 'p');
  await model(draftOnly, { is_public: true });
  await version(draftOnly, '1.0.0', 'd', false);
  await model(off, { is_public: true, enabled: false });
  await version(off, '1.0.0', 'o');

  const r = await manifest();
  assert.equal(r.status, 200);
  const m = await r.json();
  assert.match(m.generated_at, /^\d{4}-\d\d-\d\dT/);
  const e = m.models[`${o.slug}/${pub}`];
  assert.ok(e, 'the public published model is listed');
  assert.equal(e.latest, '1.1.0');
  assert.deepEqual(e.versions.map((v) => [v.version, v.deprecated]), [['1.1.0', false], ['1.0.0', true]]);
  assert.equal(e.framework, 'gguf');
  assert.equal(e.task, 'text-generation');
  assert.equal(e.size_category, 'small');
  assert.equal(e.packages.length, 1);
  const res = e.packages[0].resources[0];
  assert.equal(res.path, 'model.bin');
  assert.equal(res.size_bytes, 3);
  assert.match(res.sha256, /^[0-9a-f]{64}$/);
  for (const n of [priv, draftOnly, off]) assert.equal(m.models[`${o.slug}/${n}`], undefined, `${n} must not be listed`);
});

test('strong ETag, 304, and the ETag changes exactly when the content changes', async () => {
  const r1 = await manifest();
  const etag = r1.headers.get('etag');
  assert.match(etag, /^"[^"]+"$/);
  await r1.arrayBuffer();
  assert.equal((await manifest({ 'If-None-Match': etag })).status, 304);
  // A change nobody sees in the manifest (a private model) leaves the ETag alone, and the
  // manifest is not even rebuilt (issue 6: rebuilt only when a public artifact changes).
  const rebuilds = () => srv.stderr().split('\n').filter((l) => l.includes('"manifest.rebuilt"')).length;
  const before = rebuilds();
  const hidden = uniq('hidden');
  await model(hidden);
  await version(hidden, '1.0.0', 'h');
  const r2 = await manifest();
  assert.equal(r2.headers.get('etag'), etag, 'content unchanged, same ETag');
  await r2.arrayBuffer();
  assert.equal(rebuilds(), before, 'a private change does not rebuild the manifest');
  // A visible change makes a new one.
  const n = uniq('new');
  await model(n, { is_public: true });
  await version(n, '0.1.0', 'x');
  const r3 = await manifest({ 'If-None-Match': etag });
  assert.equal(r3.status, 200);
  assert.notEqual(r3.headers.get('etag'), etag);
  assert.ok((await r3.json()).models[`${o.slug}/${n}`]);
});

test('Accept-Encoding: gzip gives the same document compressed, with its own ETag', async () => {
  const plain = await (await manifest({ 'Accept-Encoding': 'identity' })).json();
  const raw = await new Promise((resolve, reject) => {
    import('node:http').then((http) => {
      const u = new URL(`${srv.url}/api/v1/manifest`);
      http.get({ host: u.hostname, port: u.port, path: u.pathname, headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
  });
  assert.equal(raw.headers['content-encoding'], 'gzip');
  assert.match(raw.headers.vary || '', /Accept-Encoding/i);
  const doc = JSON.parse(gunzipSync(raw.body).toString());
  assert.deepEqual(doc.models, plain.models);
  assert.notEqual(raw.headers.etag, (await manifest({ 'Accept-Encoding': 'identity' })).headers.get('etag'));
});

test('resolve by latest, exact version, alias; private ones only with a token of the org', async () => {
  const n = uniq('res');
  await model(n, { is_public: true });
  await version(n, '1.0.0', 'a');
  await version(n, '1.2.0', 'bb');
  assert.equal((await api(srv, 'PUT', `${base(n)}/aliases/stable`, { token: o.writer, body: { version: '1.0.0' } })).status, 200);
  const latest = await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${n}`);
  assert.equal(latest.status, 200, latest.text);
  assert.equal(latest.json.version, '1.2.0');
  assert.equal(latest.json.packages[0].resources[0].size_bytes, 2);
  assert.equal((await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${n}?version=1.0.0`)).json.version, '1.0.0');
  assert.equal((await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${n}?version=stable`)).json.version, '1.0.0');
  assertError(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${n}?version=9.9.9`), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${n.toUpperCase()}`), 404, 'not_found_error');
  const p = uniq('secret');
  await model(p);
  await version(p, '1.0.0', 's');
  assertError(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${p}`), 404, 'not_found_error');
  const other = await mkOrgWithTokens(srv);
  assertError(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${p}`, { token: other.reader }), 404, 'not_found_error');
  const mine = await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${p}`, { token: o.reader });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json.version, '1.0.0');
});
