import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, KINDS,
} from './harness.mjs';

let srv;
let A;
let B;
before(async () => {
  srv = await startServer();
  A = await mkOrgWithTokens(srv);
  B = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); });

async function setup(kind, versions = ['1.0.0', '1.1.0'], extra = {}) {
  const name = uniq('al');
  const base = `/api/v1/org/${A.slug}/${kind}/${name}`;
  const c = await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}`, { token: A.writer, body: { name, ...extra } });
  assert.equal(c.status, 201, c.text);
  const ids = {};
  for (const v of versions) {
    const r = await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: v } });
    assert.equal(r.status, 201, r.text);
    ids[v] = r.json.id;
  }
  return { name, base, ids, art: c.json };
}

const put = (base, alias, body, token = A.writer) => api(srv, 'PUT', `${base}/aliases/${alias}`, { token, body });

for (const kind of KINDS) {
  describe(kind, () => {
    test('PUT alias → 200 {alias, version}; version resolves through it', async () => {
      const { base, ids } = await setup(kind);
      const r = await put(base, 'stable', { version: '1.0.0' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { alias: 'stable', version: '1.0.0' });
      const g = await api(srv, 'GET', `${base}/versions/stable`, { token: A.reader });
      assert.equal(g.status, 200, g.text);
      assert.equal(g.json.id, ids['1.0.0']);
      assert.equal(g.json.version, '1.0.0');
    });

    test('PUT again moves the alias', async () => {
      const { base, ids } = await setup(kind);
      assert.equal((await put(base, 'prod', { version: '1.0.0' })).status, 200);
      const r = await put(base, 'prod', { version: '1.1.0' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { alias: 'prod', version: '1.1.0' });
      const g = await api(srv, 'GET', `${base}/versions/prod`, { token: A.reader });
      assert.equal(g.json.id, ids['1.1.0']);
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.deepEqual(a.json.aliases, ['prod']);
    });

    test('PUT with the version UUID or with build metadata', async () => {
      const { base, ids } = await setup(kind, ['2.0.0+b.1']);
      const r = await put(base, 'byid', { version: ids['2.0.0+b.1'] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { alias: 'byid', version: '2.0.0+b.1' });
      const r2 = await put(base, 'bystr', { version: '2.0.0+b.1' });
      assert.equal(r2.status, 200, r2.text);
      assert.equal(r2.json.version, '2.0.0+b.1');
    });

    test('artifact `aliases` lists the alias names, sorted', async () => {
      const { base } = await setup(kind);
      for (const al of ['zeta', 'alpha', 'Mid', 'beta-2']) assert.equal((await put(base, al, { version: '1.0.0' })).status, 200);
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.deepEqual(a.json.aliases, ['Mid', 'alpha', 'beta-2', 'zeta'].sort());
      const l = await api(srv, 'GET', `/api/v1/org/${A.slug}/${kind}?limit=500`, { token: A.reader });
      const it = l.json.items.find((i) => i.id === a.json.id);
      assert.deepEqual(it.aliases, a.json.aliases);
    });

    test('unknown version → 404; unknown artifact → 404', async () => {
      const { base } = await setup(kind);
      assertError(await put(base, 'stable', { version: '9.9.9' }), 404, 'not_found_error');
      assertError(await put(base, 'stable', { version: '0190c7f2-0000-7000-8000-000000000000' }), 404, 'not_found_error');
      assertError(await put(`/api/v1/org/${A.slug}/${kind}/${uniq('nx')}`, 'stable', { version: '1.0.0' }), 404, 'not_found_error');
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.deepEqual(a.json.aliases, []);
    });

    test('invalid alias names → 422 (SemVer-shaped, UUID-shaped, latest, invalid name)', async () => {
      const { base } = await setup(kind);
      for (const al of ['1.2.3', '1.0.0-rc.1', '1.0.0', '0190c7f2-0000-7000-8000-000000000000', 'latest', '-dash', '.dot', 'x'.repeat(97)]) {
        const r = await put(base, encodeURIComponent(al), { version: '1.0.0' });
        assertError(r, 422, 'validation_error');
        assert.ok(r.json.errors.some((e) => e.loc[0] === 'path' || e.loc[0] === 'body'), JSON.stringify(r.json.errors));
      }
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.deepEqual(a.json.aliases, []);
    });

    test('body validation: missing version, wrong type, unknown field', async () => {
      const { base } = await setup(kind);
      assertValidation(await put(base, 'stable', {}), ['body', 'version'], 'missing');
      assertValidation(await put(base, 'stable', { version: 1 }), ['body', 'version'], 'string_type');
      assertValidation(await put(base, 'stable', { version: '1.0.0', pinned: true }), ['body', 'pinned'], 'extra_forbidden');
    });

    test('DELETE alias → 204; then resolving it → 404; deleting again → 404', async () => {
      const { base } = await setup(kind);
      assert.equal((await put(base, 'stable', { version: '1.0.0' })).status, 200);
      assert.equal((await put(base, 'keep', { version: '1.1.0' })).status, 200);
      const d = await api(srv, 'DELETE', `${base}/aliases/stable`, { token: A.writer });
      assert.equal(d.status, 204, d.text);
      assert.equal(d.text, '');
      assertError(await api(srv, 'GET', `${base}/versions/stable`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'DELETE', `${base}/aliases/stable`, { token: A.writer }), 404, 'not_found_error');
      assertError(await api(srv, 'DELETE', `${base}/aliases/never-set`, { token: A.writer }), 404, 'not_found_error');
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.deepEqual(a.json.aliases, ['keep']);
      const v = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader });
      assert.equal(v.status, 200, 'the version itself stays');
    });

    test('aliases are per artifact', async () => {
      const one = await setup(kind);
      const two = await setup(kind, ['3.0.0']);
      assert.equal((await put(one.base, 'shared', { version: '1.0.0' })).status, 200);
      assertError(await api(srv, 'GET', `${two.base}/versions/shared`, { token: A.reader }), 404, 'not_found_error');
      assert.equal((await put(two.base, 'shared', { version: '3.0.0' })).status, 200);
      const g1 = await api(srv, 'GET', `${one.base}/versions/shared`, { token: A.reader });
      const g2 = await api(srv, 'GET', `${two.base}/versions/shared`, { token: A.reader });
      assert.equal(g1.json.id, one.ids['1.0.0']);
      assert.equal(g2.json.id, two.ids['3.0.0']);
      // a version of another artifact cannot be aliased here
      assertError(await put(one.base, 'foreign', { version: two.ids['3.0.0'] }), 404, 'not_found_error');
    });

    test('deleting the aliased version removes the alias', async () => {
      const { base } = await setup(kind);
      assert.equal((await put(base, 'stable', { version: '1.1.0' })).status, 200);
      assert.equal((await api(srv, 'DELETE', `${base}/versions/1.1.0`, { token: A.admin })).status, 204);
      assertError(await api(srv, 'GET', `${base}/versions/stable`, { token: A.reader }), 404, 'not_found_error');
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.deepEqual(a.json.aliases, []);
    });

    test('roles: reader cannot PUT/DELETE aliases (403); writer can', async () => {
      const { base } = await setup(kind);
      assertError(await put(base, 'stable', { version: '1.0.0' }, A.reader), 403, 'forbidden_error');
      assert.equal((await put(base, 'stable', { version: '1.0.0' }, A.writer)).status, 200);
      assertError(await api(srv, 'DELETE', `${base}/aliases/stable`, { token: A.reader }), 403, 'forbidden_error');
      assert.equal((await api(srv, 'GET', `${base}/versions/stable`, { token: A.reader })).status, 200);
    });

    test('cross-org: private → 404, public → 403 for alias writes, a draft behind an alias 404', async () => {
      const priv = await setup(kind);
      assert.equal((await put(priv.base, 'stable', { version: '1.0.0' })).status, 200);
      assertError(await put(priv.base, 'evil', { version: '1.0.0' }, B.writer), 404, 'not_found_error');
      assertError(await api(srv, 'DELETE', `${priv.base}/aliases/stable`, { token: B.admin }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `${priv.base}/versions/stable`, { token: B.reader }), 404, 'not_found_error');
      const pub = await setup(kind, ['1.0.0'], { is_public: true });
      assert.equal((await put(pub.base, 'stable', { version: '1.0.0' })).status, 200);
      assertError(await put(pub.base, 'evil', { version: '1.0.0' }, B.writer), 403, 'forbidden_error');
      assertError(await api(srv, 'DELETE', `${pub.base}/aliases/stable`, { token: B.admin }), 403, 'forbidden_error');
      // stable names a draft: another org does not see drafts; the owner does.
      assertError(await api(srv, 'GET', `${pub.base}/versions/stable`, { token: B.reader }), 404, 'not_found_error');
      const g = await api(srv, 'GET', `${pub.base}/versions/stable`, { token: A.reader });
      assert.equal(g.status, 200, g.text);
    });
  });
}
