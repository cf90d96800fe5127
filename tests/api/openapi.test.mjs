import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

test('GET /api/v1/openapi.json without auth → OpenAPI 3.1 document', async () => {
  const r = await api(srv, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  assert.ok(r.json && typeof r.json === 'object', 'valid JSON');
  assert.equal(typeof r.json.openapi, 'string');
  assert.ok(r.json.openapi.startsWith('3.1'), `openapi = ${r.json.openapi}`);
  assert.ok(r.json.info && typeof r.json.info.title === 'string', 'info.title');
  assert.ok(r.json.paths && typeof r.json.paths === 'object' && !Array.isArray(r.json.paths));
  assert.ok('/api/v1/whoami' in r.json.paths, 'has /api/v1/whoami');
  assert.ok('/api/v1/org/{org}/{kind}/{name}/versions' in r.json.paths, 'has the versions route');
  assert.ok(r.json.paths['/api/v1/whoami'].get, 'whoami has a GET operation');
  const v = r.json.paths['/api/v1/org/{org}/{kind}/{name}/versions'];
  assert.ok(v.get && v.post, 'versions route has GET and POST');
});

test('openapi.json also answers with a token and sends an ETag', async () => {
  const r = await api(srv, 'GET', '/api/v1/openapi.json', { token: srv.adminToken });
  assert.equal(r.status, 200);
  const etag = r.headers.get('etag');
  assert.ok(etag, 'ETag');
  const r2 = await api(srv, 'GET', '/api/v1/openapi.json', { headers: { 'if-none-match': etag } });
  assert.equal(r2.status, 304);
});

test('openapi paths cover the section 3-5 routes', async () => {
  const r = await api(srv, 'GET', '/api/v1/openapi.json');
  const paths = Object.keys(r.json.paths);
  for (const p of [
    '/api/v1/orgs', '/api/v1/org/{org}', '/api/v1/org/{org}/tokens', '/api/v1/org/{org}/tokens/{id}',
    '/api/v1/org/{org}/{kind}', '/api/v1/org/{org}/{kind}/{name}',
    '/api/v1/org/{org}/{kind}/{name}/versions/{version}', '/api/v1/org/{org}/versions/{version_id}',
    '/api/v1/org/{org}/{kind}/{name}/aliases/{alias}',
  ]) {
    assert.ok(paths.includes(p), `missing ${p}`);
  }
});
