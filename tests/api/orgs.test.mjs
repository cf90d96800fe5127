import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrg, mkToken, assertError, assertValidation, uniq, UUID_RE, TS_RE,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });
const adm = () => ({ token: srv.adminToken });

function checkOrg(o, slug, displayName) {
  assert.deepEqual(Object.keys(o).sort(), ['created_at', 'display_name', 'id', 'quotas', 'slug']);
  assert.match(o.id, UUID_RE);
  assert.equal(o.slug, slug);
  assert.equal(o.display_name, displayName);
  assert.match(o.created_at, TS_RE);
  assert.deepEqual(o.quotas, { model_versions_monthly: null });
}

test('POST /orgs → 201 Org; display_name defaults to the slug', async () => {
  const slug = uniq();
  const t0 = Date.now();
  const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  checkOrg(r.json, slug, slug);
  assert.ok(Math.abs(Date.parse(r.json.created_at) - t0) < 60_000);
});

test('POST /orgs with display_name', async () => {
  const slug = uniq();
  const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug, display_name: 'ACME Corp — Ünïcode' } });
  assert.equal(r.status, 201, r.text);
  checkOrg(r.json, slug, 'ACME Corp — Ünïcode');
});

test('GET /org/{org} returns the same Org', async () => {
  const slug = uniq();
  const created = await mkOrg(srv, slug, { display_name: 'Shown' });
  const r = await api(srv, 'GET', `/api/v1/org/${slug}`, adm());
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, created);
  const reader = await mkToken(srv, slug, 'reader');
  const r2 = await api(srv, 'GET', `/api/v1/org/${slug}`, { token: reader });
  assert.equal(r2.status, 200);
  assert.deepEqual(r2.json, created);
});

test('GET /org/{org} sends a strong ETag and honours If-None-Match', async () => {
  const slug = (await mkOrg(srv)).slug;
  const r = await api(srv, 'GET', `/api/v1/org/${slug}`, adm());
  const etag = r.headers.get('etag');
  assert.ok(etag, 'ETag present');
  assert.ok(!etag.startsWith('W/'), 'strong ETag');
  const r2 = await api(srv, 'GET', `/api/v1/org/${slug}`, { ...adm(), headers: { 'if-none-match': etag } });
  assert.equal(r2.status, 304);
  assert.equal(r2.text, '');
});

test('taken slug → 409 already_exists_error', async () => {
  const slug = uniq();
  await mkOrg(srv, slug);
  const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug } });
  assertError(r, 409, 'already_exists_error');
  const r2 = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug, display_name: 'other' } });
  assertError(r2, 409, 'already_exists_error');
});

test('concurrent creation of the same slug: exactly one 201', async () => {
  const slug = uniq();
  const rs = await Promise.all(Array.from({ length: 8 }, () => api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug } })));
  assert.equal(rs.filter((r) => r.status === 201).length, 1, rs.map((r) => r.status).join(','));
  for (const r of rs.filter((x) => x.status !== 201)) assertError(r, 409, 'already_exists_error');
});

test('the default org exists after first start', async () => {
  const r = await api(srv, 'GET', '/api/v1/org/default', adm());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.slug, 'default');
});

test('unknown org → 404 not_found_error', async () => {
  assertError(await api(srv, 'GET', `/api/v1/org/${uniq('nx')}`, adm()), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${uniq('nx')}/models`, adm()), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${uniq('nx')}/tokens`, adm()), 404, 'not_found_error');
});

test('slug rules: 2..39 chars of [a-z0-9-], not starting with -', async () => {
  // this server is fresh, so these fixed slugs are free
  for (const slug of ['ab', '0a', 'a-', `a${'b'.repeat(38)}`]) {
    const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug } });
    assert.equal(r.status, 201, `${slug}: ${r.text}`);
    assert.equal(r.json.slug, slug);
  }
  for (const slug of ['a', 'A1', '-ab', 'a_b', 'a.b', `a${'b'.repeat(39)}`]) {
    assertValidation(await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug } }), ['body', 'slug']);
  }
});

test('GET /orgs lists orgs as {items, total, next_cursor}', async () => {
  const slug = (await mkOrg(srv)).slug;
  const r = await api(srv, 'GET', '/api/v1/orgs?limit=500', adm());
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['items', 'next_cursor', 'total']);
  assert.ok(Array.isArray(r.json.items));
  assert.equal(r.json.total, r.json.items.length);
  assert.equal(r.json.next_cursor, null);
  const mine = r.json.items.find((o) => o.slug === slug);
  assert.ok(mine, 'new org listed');
  checkOrg(mine, slug, slug);
});

test('GET /orgs pagination: every org exactly once, next_cursor null on the last page', async () => {
  for (let i = 0; i < 5; i++) await mkOrg(srv);
  const all = await api(srv, 'GET', '/api/v1/orgs?limit=500', adm());
  const total = all.json.total;
  assert.ok(total >= 6);
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const q = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
    const r = await api(srv, 'GET', `/api/v1/orgs${q}`, adm());
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length <= 2);
    assert.equal(r.json.total, total);
    seen.push(...r.json.items.map((o) => o.slug));
    cursor = r.json.next_cursor;
    if (cursor !== null) assert.equal(typeof cursor, 'string');
    pages++;
    assert.ok(pages < 100, 'pagination terminates');
  } while (cursor);
  assert.equal(seen.length, total);
  assert.equal(new Set(seen).size, total, 'no duplicates');
  assert.deepEqual(new Set(seen), new Set(all.json.items.map((o) => o.slug)));
});

test('GET /orgs default limit is 50', async () => {
  const before = (await api(srv, 'GET', '/api/v1/orgs?limit=500', adm())).json.total;
  for (let i = before; i < 52; i++) await mkOrg(srv);
  const r = await api(srv, 'GET', '/api/v1/orgs', adm());
  assert.equal(r.status, 200);
  assert.equal(r.json.items.length, 50);
  assert.equal(typeof r.json.next_cursor, 'string');
  assert.ok(r.json.total >= 52);
});

test('org slug lookup is exact (case-sensitive)', async () => {
  const slug = (await mkOrg(srv)).slug;
  assertError(await api(srv, 'GET', `/api/v1/org/${slug.toUpperCase()}`, adm()), 404, 'not_found_error');
});
