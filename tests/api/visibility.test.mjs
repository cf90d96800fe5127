// Who sees which versions (docs/api-decisions.md "Visibility"): outside an artifact's org
// (another org's token, or none) only published and deprecated versions of a public, enabled
// artifact are visible, through every route that names or lists versions.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, mkOrgWithTokens, assertError, KINDS } from './harness.mjs';
import { verBase, artBase, mkArtifact, mkVersion, putFileOk, publish, fetchBuf } from './files-lib.mjs';

let srv;
let A;
let B;
before(async () => {
  srv = await startServer();
  A = await mkOrgWithTokens(srv);
  B = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); });

/** A public artifact with 0.9.0 deprecated, 1.0.0 published (latest), 1.1.0 draft aliased "next". */
async function fixture(kind) {
  const { name } = await mkArtifact(srv, A, kind, { is_public: true });
  for (const v of ['0.9.0', '1.0.0', '1.1.0']) {
    await mkVersion(srv, A, kind, name, v);
    await putFileOk(srv, A, kind, name, v, 'w.bin', Buffer.from(`w-${v}`));
  }
  await publish(srv, A, kind, name, '0.9.0');
  await publish(srv, A, kind, name, '1.0.0');
  const d = await api(srv, 'POST', `${verBase(A, kind, name, '0.9.0')}/deprecate`, { token: A.writer });
  assert.equal(d.status, 200, d.text);
  const al = await api(srv, 'PUT', `${artBase(A, kind, name)}/aliases/next`, { token: A.writer, body: { version: '1.1.0' } });
  assert.equal(al.status, 200, al.text);
  return name;
}

const versions = async (kind, name, token, q = '') => {
  const r = await api(srv, 'GET', `${artBase(A, kind, name)}/versions${q}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
};

for (const kind of KINDS) {
  describe(`${kind}: drafts of a public artifact`, () => {
    let name;
    before(async () => { name = await fixture(kind); });

    test('the version list shows another org published and deprecated only; the owner all', async () => {
      assert.deepEqual((await versions(kind, name, A.reader)).versions, ['1.1.0', '1.0.0', '0.9.0']);
      assert.deepEqual((await versions(kind, name, srv.adminToken)).versions, ['1.1.0', '1.0.0', '0.9.0']);
      assert.deepEqual((await versions(kind, name, B.reader)).versions, ['1.0.0', '0.9.0']);
      assert.deepEqual((await versions(kind, name, B.reader, '?lifecycle=draft')).versions, []);
      assert.deepEqual((await versions(kind, name, B.reader, '?lifecycle=deprecated')).versions, ['0.9.0']);
    });

    test('a draft named by version, alias or id is 404 to another org, with its files and URLs', async () => {
      const own = await api(srv, 'GET', verBase(A, kind, name, '1.1.0'), { token: A.reader });
      assert.equal(own.status, 200, own.text);
      for (const ref of ['1.1.0', 'next', own.json.id]) {
        assertError(await api(srv, 'GET', verBase(A, kind, name, ref), { token: B.reader }), 404, 'not_found_error');
        assertError(await api(srv, 'GET', `${verBase(A, kind, name, ref)}/download-urls`, { token: B.reader }), 404, 'not_found_error');
        const f = await fetchBuf(`${srv.url}${verBase(A, kind, name, ref)}/files/w.bin`, { headers: { authorization: `Bearer ${B.reader}` } });
        assertError(f, 404, 'not_found_error');
      }
      for (const ref of ['1.0.0', '0.9.0', 'latest']) {
        const g = await api(srv, 'GET', verBase(A, kind, name, ref), { token: B.reader });
        assert.equal(g.status, 200, `${ref}: ${g.text}`);
      }
      const f = await fetchBuf(`${srv.url}${verBase(A, kind, name, '1.0.0')}/files/w.bin`, { headers: { authorization: `Bearer ${B.reader}` } });
      assert.equal(f.text, 'w-1.0.0');
    });

    test('packages and docs list another org no draft', async () => {
      const mine = await api(srv, 'GET', `${artBase(A, kind, name)}/packages`, { token: A.reader });
      assert.deepEqual(mine.json.items.map((p) => p.version).sort(), ['0.9.0', '1.0.0', '1.1.0']);
      const theirs = await api(srv, 'GET', `${artBase(A, kind, name)}/packages`, { token: B.reader });
      assert.equal(theirs.status, 200, theirs.text);
      assert.deepEqual(theirs.json.items.map((p) => p.version).sort(), ['0.9.0', '1.0.0']);
      assert.equal(theirs.json.total, 2);
      const docs = await api(srv, 'GET', `${artBase(A, kind, name)}/docs`, { token: B.reader });
      assert.equal(docs.status, 200, docs.text);
      assert.deepEqual(docs.json.versions, ['1.0.0', '0.9.0']);
      const ownDocs = await api(srv, 'GET', `${artBase(A, kind, name)}/docs`, { token: A.reader });
      assert.deepEqual(ownDocs.json.versions, ['1.1.0', '1.0.0', '0.9.0']);
    });
  });
}

describe('resolve', () => {
  let name;
  before(async () => { name = await fixture('models'); });
  const resolve = (q, token) => api(srv, 'GET', `/api/v1/resolve/${A.slug}/${name}${q}`, { token });

  test('a draft resolves for the owner only: another org and anonymous get 404', async () => {
    for (const q of ['?version=1.1.0', '?version=next']) {
      assert.equal((await resolve(q, A.reader)).status, 200);
      assertError(await resolve(q, B.reader), 404, 'not_found_error');
      assertError(await resolve(q), 404, 'not_found_error');
    }
    for (const token of [A.reader, B.reader, undefined]) {
      const r = await resolve('', token);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.version, '1.0.0');
      assert.deepEqual(r.json.versions.map((v) => v.version), ['1.0.0', '0.9.0']);
    }
  });
});

for (const kind of KINDS) {
  describe(`${kind}: a disabled public artifact`, () => {
    let name;
    before(async () => {
      name = await fixture(kind);
      const p = await api(srv, 'PATCH', artBase(A, kind, name), { token: A.writer, body: { enabled: false } });
      assert.equal(p.status, 200, p.text);
    });

    test('shows another org no version; the owner keeps them all', async () => {
      const theirs = await versions(kind, name, B.reader);
      assert.deepEqual(theirs.versions, []);
      assert.equal(theirs.latest, null);
      for (const ref of ['1.0.0', '0.9.0', 'latest']) {
        assertError(await api(srv, 'GET', verBase(A, kind, name, ref), { token: B.reader }), 404, 'not_found_error');
      }
      const pk = await api(srv, 'GET', `${artBase(A, kind, name)}/packages`, { token: B.reader });
      assert.deepEqual(pk.json.items, []);
      const docs = await api(srv, 'GET', `${artBase(A, kind, name)}/docs`, { token: B.reader });
      assert.deepEqual(docs.json.versions, []);
      assert.deepEqual(docs.json.resources, []);
      // The artifact record itself stays readable and says why.
      const art = await api(srv, 'GET', artBase(A, kind, name), { token: B.reader });
      assert.equal(art.status, 200, art.text);
      assert.equal(art.json.enabled, false);
      assert.deepEqual((await versions(kind, name, A.reader)).versions, ['1.1.0', '1.0.0', '0.9.0']);
      assert.equal((await api(srv, 'GET', verBase(A, kind, name, '1.0.0'), { token: A.reader })).status, 200);
    });
  });
}

describe('resolve of a disabled model', () => {
  test('404 to another org and to anonymous callers; the owner still resolves it', async () => {
    const name = await fixture('models');
    const p = await api(srv, 'PATCH', artBase(A, 'models', name), { token: A.writer, body: { enabled: false } });
    assert.equal(p.status, 200, p.text);
    const url = `/api/v1/resolve/${A.slug}/${name}`;
    assertError(await api(srv, 'GET', url, { token: B.reader }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', url), 404, 'not_found_error');
    const own = await api(srv, 'GET', url, { token: A.reader });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json.version, '1.0.0');
  });
});
