// Cached reads (lists, facets, versions, catalog) are keyed by the catalog revision: every
// committed write must show in the very next read (issue 4: "a stale count after a write is a bug").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, mkOrgWithTokens, uniq } from './harness.mjs';

let srv, o;
before(async () => { srv = await startServer(); o = await mkOrgWithTokens(srv); });
after(async () => { await srv?.stop(); });

const base = () => `/api/v1/org/${o.slug}/models`;
const get = async (p) => { const r = await api(srv, 'GET', p, { token: o.reader }); assert.equal(r.status, 200, r.text); return r; };

test('facet counts follow every create, update and delete at once', async () => {
  const f0 = (await get(`${base()}/facets`)).json;
  const again = await get(`${base()}/facets`);
  assert.deepEqual(again.json, f0, 'two reads without a write agree');
  const name = uniq('c');
  assert.equal((await api(srv, 'POST', base(), { token: o.writer, body: { name, framework: 'onnx', license: 'zlib' } })).status, 201);
  const f1 = (await get(`${base()}/facets`)).json;
  assert.equal(f1.total, f0.total + 1);
  assert.equal(f1.counts.license.zlib, (f0.counts.license.zlib || 0) + 1);
  assert.equal((await api(srv, 'PATCH', `${base()}/${name}`, { token: o.writer, body: { license: 'mit' } })).status, 200);
  const f2 = (await get(`${base()}/facets`)).json;
  assert.equal(f2.counts.license.zlib || 0, f0.counts.license.zlib || 0);
  assert.equal(f2.counts.license.mit, (f0.counts.license.mit || 0) + 1);
  assert.equal((await api(srv, 'DELETE', `${base()}/${name}`, { token: o.admin })).status, 204);
  const f3 = (await get(`${base()}/facets`)).json;
  assert.equal(f3.total, f0.total);
  assert.equal(f3.counts.license.mit || 0, f0.counts.license.mit || 0);
  assert.equal((await api(srv, 'POST', `${base()}/${name}/restore`, { token: o.admin })).status, 200);
  assert.equal((await get(`${base()}/facets`)).json.total, f0.total + 1, 'restore shows at once');
});

test('lists, version lists and the ETag change with the data; 304 only while unchanged', async () => {
  const name = uniq('v');
  assert.equal((await api(srv, 'POST', base(), { token: o.writer, body: { name } })).status, 201);
  const l1 = await get(`${base()}?limit=500`);
  assert.ok(l1.json.items.some((i) => i.canonical_name === `${o.slug}/${name}`));
  const v1 = await get(`${base()}/${name}/versions`);
  assert.deepEqual(v1.json.versions, []);
  const etag = v1.headers.get('etag');
  assert.ok(etag);
  const nm = await api(srv, 'GET', `${base()}/${name}/versions`, { token: o.reader, headers: { 'If-None-Match': etag } });
  assert.equal(nm.status, 304);
  assert.equal((await api(srv, 'POST', `${base()}/${name}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
  const v2 = await get(`${base()}/${name}/versions`);
  assert.deepEqual(v2.json.versions, ['1.0.0']);
  assert.notEqual(v2.headers.get('etag'), etag);
  const stale = await api(srv, 'GET', `${base()}/${name}/versions`, { token: o.reader, headers: { 'If-None-Match': etag } });
  assert.equal(stale.status, 200, 'an old ETag no longer matches');
});

test('a download shows in the cached list at once', async () => {
  const name = uniq('d');
  assert.equal((await api(srv, 'POST', base(), { token: o.writer, body: { name } })).status, 201);
  assert.equal((await api(srv, 'POST', `${base()}/${name}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
  const put = await fetch(`${srv.url}${base()}/${name}/versions/1.0.0/files/w.bin`, { method: 'PUT', body: Buffer.from('weights'), headers: { authorization: `Bearer ${o.writer}` } });
  assert.equal(put.status, 201);
  const before = (await get(`${base()}?limit=500`)).json.items.find((i) => i.canonical_name.endsWith(`/${name}`));
  assert.equal(before.download_count, 0);
  const dl = await fetch(`${srv.url}${base()}/${name}/versions/1.0.0/files/w.bin`, { headers: { authorization: `Bearer ${o.reader}` } });
  assert.equal(Buffer.from(await dl.arrayBuffer()).toString(), 'weights');
  for (let i = 0; i < 50; i++) { // the count is written when the response completes
    const it = (await get(`${base()}?limit=500`)).json.items.find((x) => x.canonical_name.endsWith(`/${name}`));
    if (it.download_count === 1) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('download_count never reached 1 in the list');
});
