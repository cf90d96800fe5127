import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrg, mkToken, mkOrgWithTokens, assertError, assertValidation,
  uniq, UUID_RE, TS_RE, TOKEN_RE,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

const DAY = 86400_000;

describe('whoami', () => {
  test('server-admin token (CAIRN_ADMIN_TOKEN)', async () => {
    const r = await api(srv, 'GET', '/api/v1/whoami', { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { org: null, role: 'admin', token_id: null, server_admin: true });
  });

  for (const role of ['reader', 'writer', 'admin']) {
    test(`org token with role ${role}`, async () => {
      const slug = (await mkOrg(srv)).slug;
      const tok = await mkToken(srv, slug, role);
      const rec = mkToken.last;
      const r = await api(srv, 'GET', '/api/v1/whoami', { token: tok });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { org: slug, role, token_id: rec.id, server_admin: false });
    });
  }

  test('Bearer and X-Api-Key are both accepted', async () => {
    const slug = (await mkOrg(srv)).slug;
    const tok = await mkToken(srv, slug, 'reader');
    const a = await api(srv, 'GET', '/api/v1/whoami', { token: tok });
    const b = await api(srv, 'GET', '/api/v1/whoami', { apiKey: tok });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual(a.json, b.json);
    const c = await api(srv, 'GET', '/api/v1/whoami', { apiKey: srv.adminToken });
    assert.equal(c.status, 200);
    assert.equal(c.json.server_admin, true);
    // X-Api-Key works on org routes too
    const d = await api(srv, 'GET', `/api/v1/org/${slug}`, { apiKey: tok });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.slug, slug);
  });

  test('"bearer" scheme is case-insensitive', async () => {
    const r = await api(srv, 'GET', '/api/v1/whoami', { headers: { authorization: `bearer ${srv.adminToken}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.server_admin, true);
  });
});

describe('garbage credentials → 401 authentication_error', () => {
  const garbage = [
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: 'Basic dXNlcjpwYXNz' },
    { authorization: 'Token abc' },
    { authorization: 'Bearer cairn_notarealtoken' },
    { authorization: `Bearer cairn_${'A'.repeat(43)}` },
    { authorization: `Bearer ${'x'.repeat(8000)}` },
    { authorization: 'Bearer \u00ff\u00fe\u00fd' },
    { authorization: 'Bearer a b c' },
    { 'x-api-key': '' },
    { 'x-api-key': 'nope' },
    { 'x-api-key': `cairn_${'_'.repeat(43)}` },
  ];
  for (const headers of garbage) {
    const label = JSON.stringify(headers).slice(0, 80);
    test(label, async () => {
      const r = await api(srv, 'GET', '/api/v1/whoami', { headers });
      assertError(r, 401, 'authentication_error');
    });
  }

  test('no credentials at all', async () => {
    assertError(await api(srv, 'GET', '/api/v1/whoami'), 401, 'authentication_error');
  });

  test('the admin token with a suffix or prefix is rejected', async () => {
    assertError(await api(srv, 'GET', '/api/v1/whoami', { token: `${srv.adminToken}x` }), 401, 'authentication_error');
    assertError(await api(srv, 'GET', '/api/v1/whoami', { token: srv.adminToken.slice(0, -1) }), 401, 'authentication_error');
  });

  test('a valid org token with one character changed is rejected', async () => {
    const slug = (await mkOrg(srv)).slug;
    const tok = await mkToken(srv, slug, 'admin');
    const last = tok.at(-1) === 'A' ? 'B' : 'A';
    assertError(await api(srv, 'GET', '/api/v1/whoami', { token: tok.slice(0, -1) + last }), 401, 'authentication_error');
  });
});

describe('tokens', () => {
  test('create → 201 {id, name, role, token, created_at, expires_at}, token format', async () => {
    const slug = (await mkOrg(srv)).slug;
    const before = Date.now();
    const r = await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken, body: { name: 'ci-bot', role: 'writer' } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['created_at', 'expires_at', 'id', 'name', 'role', 'token']);
    assert.match(r.json.id, UUID_RE);
    assert.equal(r.json.name, 'ci-bot');
    assert.equal(r.json.role, 'writer');
    assert.match(r.json.token, TOKEN_RE);
    assert.match(r.json.created_at, TS_RE);
    assert.ok(Math.abs(Date.parse(r.json.created_at) - before) < 60_000, 'created_at is now');
    assert.equal(r.json.expires_at, null);
  });

  test('tokens are unique', async () => {
    const slug = (await mkOrg(srv)).slug;
    const toks = new Set();
    for (let i = 0; i < 10; i++) toks.add(await mkToken(srv, slug, 'reader'));
    assert.equal(toks.size, 10);
  });

  for (const days of [1, 30, 3650]) {
    test(`expires_in_days ${days} → expires_at ~${days} days ahead`, async () => {
      const slug = (await mkOrg(srv)).slug;
      const r = await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, {
        token: srv.adminToken, body: { name: 'exp', role: 'reader', expires_in_days: days },
      });
      assert.equal(r.status, 201, r.text);
      assert.match(r.json.expires_at, TS_RE);
      const delta = Date.parse(r.json.expires_at) - Date.parse(r.json.created_at);
      assert.ok(Math.abs(delta - days * DAY) < 120_000, `expires_at - created_at = ${delta} ms`);
      assert.ok(Math.abs(Date.parse(r.json.expires_at) - (Date.now() + days * DAY)) < 120_000);
      // not expired yet: it works
      const w = await api(srv, 'GET', '/api/v1/whoami', { token: r.json.token });
      assert.equal(w.status, 200, w.text);
      assert.equal(w.json.role, 'reader');
    });
  }

  test('expires_in_days out of 1..3650 → 422', async () => {
    const slug = (await mkOrg(srv)).slug;
    for (const d of [0, -1, 3651, 100000]) {
      const r = await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken, body: { name: 'x', role: 'reader', expires_in_days: d } });
      assertValidation(r, ['body', 'expires_in_days']);
    }
  });

  test('invalid role → 422 at ["body","role"]', async () => {
    const slug = (await mkOrg(srv)).slug;
    for (const role of ['owner', 'Admin', '', 'server_admin']) {
      const r = await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken, body: { name: 'x', role } });
      assertValidation(r, ['body', 'role']);
    }
    const r = await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken, body: { name: 'x', role: 3 } });
    assertValidation(r, ['body', 'role'], 'string_type');
  });

  test('list: no secrets, with last_used_at after use', async () => {
    const slug = (await mkOrg(srv)).slug;
    const tok = await mkToken(srv, slug, 'reader', { name: 'used-one' });
    const rec = mkToken.last;
    const unused = await mkToken(srv, slug, 'writer', { name: 'unused-one' });
    const unusedRec = mkToken.last;
    assert.ok(unused);
    assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: tok })).status, 200);
    const l = await api(srv, 'GET', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken });
    assert.equal(l.status, 200, l.text);
    assert.ok(Array.isArray(l.json.items));
    assert.equal(typeof l.json.total, 'number');
    assert.ok('next_cursor' in l.json);
    assert.ok(!l.text.includes(tok), 'token secret must not appear in the list');
    assert.ok(!l.text.includes(unused), 'token secret must not appear in the list');
    const used = l.json.items.find((i) => i.id === rec.id);
    const un = l.json.items.find((i) => i.id === unusedRec.id);
    assert.ok(used && un, 'both tokens listed');
    for (const it of l.json.items) {
      assert.deepEqual(Object.keys(it).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'role']);
    }
    assert.equal(used.name, 'used-one');
    assert.equal(used.role, 'reader');
    assert.match(used.last_used_at, TS_RE);
    assert.ok(Math.abs(Date.parse(used.last_used_at) - Date.now()) < 120_000);
    assert.equal(un.last_used_at, null);
    assert.equal(un.role, 'writer');
  });

  test('revoked token stops working at once; second DELETE → 404', async () => {
    const slug = (await mkOrg(srv)).slug;
    const tok = await mkToken(srv, slug, 'writer');
    const id = mkToken.last.id;
    assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: tok })).status, 200);
    const d = await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/${id}`, { token: srv.adminToken });
    assert.equal(d.status, 204, d.text);
    assert.equal(d.text, '');
    assertError(await api(srv, 'GET', '/api/v1/whoami', { token: tok }), 401, 'authentication_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${slug}`, { apiKey: tok }), 401, 'authentication_error');
    const l = await api(srv, 'GET', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken });
    assert.ok(!l.json.items.some((i) => i.id === id), 'revoked token no longer listed');
    assertError(await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/${id}`, { token: srv.adminToken }), 404, 'not_found_error');
  });

  test('an org admin can revoke its own org tokens, including itself', async () => {
    const slug = (await mkOrg(srv)).slug;
    const admin = await mkToken(srv, slug, 'admin');
    const adminId = mkToken.last.id;
    const r = await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, { token: admin, body: { name: 'made-by-admin', role: 'reader' } });
    assert.equal(r.status, 201, r.text);
    assert.equal((await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/${r.json.id}`, { token: admin })).status, 204);
    assertError(await api(srv, 'GET', '/api/v1/whoami', { token: r.json.token }), 401, 'authentication_error');
    assert.equal((await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/${adminId}`, { token: admin })).status, 204);
    assertError(await api(srv, 'GET', '/api/v1/whoami', { token: admin }), 401, 'authentication_error');
  });

  test('DELETE of an unknown / malformed token id → 404', async () => {
    const slug = (await mkOrg(srv)).slug;
    assertError(await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/00000000-0000-7000-8000-000000000000`, { token: srv.adminToken }), 404, 'not_found_error');
    assertError(await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/not-a-uuid`, { token: srv.adminToken }), 404, 'not_found_error');
  });

  test('a token id of another org cannot be revoked through this org', async () => {
    const a = (await mkOrg(srv)).slug;
    const b = (await mkOrg(srv)).slug;
    const tokA = await mkToken(srv, a, 'reader');
    const idA = mkToken.last.id;
    const adminB = await mkToken(srv, b, 'admin');
    assertError(await api(srv, 'DELETE', `/api/v1/org/${b}/tokens/${idA}`, { token: adminB }), 404, 'not_found_error');
    assertError(await api(srv, 'DELETE', `/api/v1/org/${b}/tokens/${idA}`, { token: srv.adminToken }), 404, 'not_found_error');
    assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: tokA })).status, 200);
  });
});

describe('roles', () => {
  let o;
  before(async () => { o = await mkOrgWithTokens(srv); });

  test('reader and writer cannot manage tokens → 403 forbidden_error', async () => {
    for (const t of [o.reader, o.writer]) {
      assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/tokens`, { token: t, body: { name: 'x', role: 'reader' } }), 403, 'forbidden_error');
      assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/tokens`, { token: t }), 403, 'forbidden_error');
    }
    const l = await api(srv, 'GET', `/api/v1/org/${o.slug}/tokens`, { token: o.admin });
    assert.equal(l.status, 200, l.text);
  });

  test('reader cannot revoke a token → 403', async () => {
    const tok = await mkToken(srv, o.slug, 'reader');
    const id = mkToken.last.id;
    assertError(await api(srv, 'DELETE', `/api/v1/org/${o.slug}/tokens/${id}`, { token: o.reader }), 403, 'forbidden_error');
    assertError(await api(srv, 'DELETE', `/api/v1/org/${o.slug}/tokens/${id}`, { token: o.writer }), 403, 'forbidden_error');
    assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: tok })).status, 200);
  });

  test('all roles can read the org', async () => {
    for (const t of [o.reader, o.writer, o.admin]) {
      const r = await api(srv, 'GET', `/api/v1/org/${o.slug}`, { token: t });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.slug, o.slug);
    }
  });

  test('reader cannot create an artifact; writer can; writer cannot delete; admin can', async () => {
    const name = uniq('m');
    assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.reader, body: { name } }), 403, 'forbidden_error');
    const c = await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name } });
    assert.equal(c.status, 201, c.text);
    assertError(await api(srv, 'DELETE', `/api/v1/org/${o.slug}/models/${name}`, { token: o.writer }), 403, 'forbidden_error');
    assertError(await api(srv, 'DELETE', `/api/v1/org/${o.slug}/models/${name}`, { token: o.reader }), 403, 'forbidden_error');
    assert.equal((await api(srv, 'GET', `/api/v1/org/${o.slug}/models/${name}`, { token: o.reader })).status, 200);
    assert.equal((await api(srv, 'DELETE', `/api/v1/org/${o.slug}/models/${name}`, { token: o.admin })).status, 204);
  });

  test('org tokens cannot create or list orgs → 403', async () => {
    for (const t of [o.reader, o.writer, o.admin]) {
      assertError(await api(srv, 'POST', '/api/v1/orgs', { token: t, body: { slug: uniq() } }), 403, 'forbidden_error');
      assertError(await api(srv, 'GET', '/api/v1/orgs', { token: t }), 403, 'forbidden_error');
    }
  });

  test("another org's token gets 404 on every org-level route", async () => {
    const other = await mkOrgWithTokens(srv);
    const t = other.admin;
    assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}`, { token: t }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/tokens`, { token: t }), 404, 'not_found_error');
    assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/tokens`, { token: t, body: { name: 'x', role: 'admin' } }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/models`, { token: t }), 404, 'not_found_error');
    assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: t, body: { name: uniq('m') } }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/capabilities`, { token: t }), 404, 'not_found_error');
  });

  test('server-admin token acts on every org', async () => {
    const r = await api(srv, 'GET', `/api/v1/org/${o.slug}/tokens`, { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    const name = uniq('m');
    const c = await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: srv.adminToken, body: { name } });
    assert.equal(c.status, 201, c.text);
    assert.equal((await api(srv, 'DELETE', `/api/v1/org/${o.slug}/models/${name}`, { token: srv.adminToken })).status, 204);
  });

  test('a token keeps working for its own org only after another org is created', async () => {
    const slug = uniq();
    await mkOrg(srv, slug);
    const r = await api(srv, 'GET', `/api/v1/org/${slug}`, { token: o.admin });
    assertError(r, 404, 'not_found_error');
    assert.equal((await api(srv, 'GET', `/api/v1/org/${o.slug}`, { token: o.admin })).status, 200);
  });
});

test('token created for an unknown org → 404', async () => {
  const r = await api(srv, 'POST', `/api/v1/org/${uniq('nx')}/tokens`, { token: srv.adminToken, body: { name: 'x', role: 'reader' } });
  assertError(r, 404, 'not_found_error');
});

test('token name is required', async () => {
  const slug = (await mkOrg(srv)).slug;
  assertValidation(await api(srv, 'POST', `/api/v1/org/${slug}/tokens`, { token: srv.adminToken, body: { role: 'reader' } }), ['body', 'name'], 'missing');
});
