import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, KINDS, UUID_RE, TS_RE, rnd,
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

const VERSION_FIELDS = ['id', 'artifact_id', 'version', 'lifecycle', 'summary', 'changelog', 'framework', 'architecture',
  'base_model', 'metadata', 'parameter_count', 'size_bytes', 'download_count', 'created_at', 'updated_at',
  'published_at', 'deprecated_at', 'packages'];
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const enc = (v) => encodeURIComponent(v);

async function mkArtifact(kind, extra = {}, org = A) {
  const name = uniq('v');
  const r = await api(srv, 'POST', `/api/v1/org/${org.slug}/${kind}`, { token: org.writer, body: { name, ...extra } });
  assert.equal(r.status, 201, r.text);
  return { name, art: r.json, base: `/api/v1/org/${org.slug}/${kind}/${name}` };
}

async function mkVersion(base, version, extra = {}, token = A.writer) {
  const r = await api(srv, 'POST', `${base}/versions`, { token, body: { version, ...extra } });
  assert.equal(r.status, 201, `create ${version}: ${r.status} ${r.text}`);
  return r.json;
}

function checkDraft(v, artifactId, version) {
  for (const f of VERSION_FIELDS) assert.ok(f in v, `Version field ${f} missing: ${JSON.stringify(v)}`);
  assert.match(v.id, UUID_RE);
  assert.equal(v.artifact_id, artifactId);
  assert.equal(v.version, version);
  assert.equal(v.lifecycle, 'draft');
  assert.ok(isObj(v.metadata));
  assert.ok(v.parameter_count === null || Number.isInteger(v.parameter_count));
  assert.ok(v.size_bytes === 0 || v.size_bytes === null, `size_bytes of an empty draft: ${v.size_bytes}`);
  assert.equal(v.download_count, 0);
  assert.match(v.created_at, TS_RE);
  assert.match(v.updated_at, TS_RE);
  assert.equal(v.published_at, null);
  assert.equal(v.deprecated_at, null);
  assert.deepEqual(v.packages, []);
}

// Created in this (shuffled) order; expected list order is newest first by SemVer precedence.
const SHUFFLED = ['1.0.0-beta.2', '2.0.0', '0.9.0+build.5', '1.0.0-alpha', '1.10.0', '1.0.0-rc.1', '1.0.0-10',
  '1.0.0', '1.0.0-alpha.beta', '2.0.0-rc.1', '1.0.0-beta.11', '1.2.0', '1.0.0-alpha.1', '1.0.0-beta', '1.0.0-2', '0.10.0'];
const EXPECTED = ['2.0.0', '2.0.0-rc.1', '1.10.0', '1.2.0', '1.0.0', '1.0.0-rc.1', '1.0.0-beta.11', '1.0.0-beta.2',
  '1.0.0-beta', '1.0.0-alpha.beta', '1.0.0-alpha.1', '1.0.0-alpha', '1.0.0-10', '1.0.0-2', '0.10.0', '0.9.0+build.5'];

for (const kind of KINDS) {
  describe(kind, () => {
    test('create → 201 draft Version with every field', async () => {
      const { art, base } = await mkArtifact(kind);
      const t0 = Date.now();
      const r = await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '1.0.0' } });
      assert.equal(r.status, 201, r.text);
      checkDraft(r.json, art.id, '1.0.0');
      assert.equal(r.json.summary, null);
      assert.equal(r.json.changelog, null);
      assert.ok(Math.abs(Date.parse(r.json.created_at) - t0) < 60_000);
    });

    test('create with every optional field → echoed', async () => {
      const { art, base } = await mkArtifact(kind);
      const body = {
        version: '2.1.0-rc.1+exp.sha.5114f85',
        summary: 'rc',
        changelog: '- fixed things',
        framework: 'gguf',
        architecture: 'llama',
        base_model: 'meta/llama-3',
        metadata: { quantization: 'q4_k_m', nested: { x: [1, 2] } },
      };
      const v = await mkVersion(base, body.version, body);
      checkDraft(v, art.id, body.version);
      for (const [k, val] of Object.entries(body)) assert.deepEqual(v[k], val, `field ${k}`);
    });

    test('list: versions newest first by SemVer precedence (pre-releases, build metadata)', async () => {
      const { name, base } = await mkArtifact(kind);
      for (const v of SHUFFLED) await mkVersion(base, v);
      const r = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), ['latest', 'name', 'versions']);
      assert.deepEqual(r.json.versions, EXPECTED);
      assert.equal(r.json.latest, null, 'nothing published → latest null');
      assert.equal(typeof r.json.name, 'string');
      assert.ok(r.json.name === name || r.json.name === `${A.slug}/${name}`, `list name ${r.json.name}`);
    });

    test('numeric identifiers compare numerically, even beyond 64 bits', async () => {
      const { base } = await mkArtifact(kind);
      const vs = ['1.0.0-rc.99999999999999999999', '1.0.0-rc.9999999999999999999', '1.0.0-rc.100000000000000000000',
        '18446744073709551615.0.0', '1.18446744073709551615.0', '1.0.0-rc.10', '1.0.0-rc.9'];
      for (const v of vs) await mkVersion(base, v);
      const r = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.deepEqual(r.json.versions, ['18446744073709551615.0.0', '1.18446744073709551615.0', '1.0.0-rc.100000000000000000000',
        '1.0.0-rc.99999999999999999999', '1.0.0-rc.9999999999999999999', '1.0.0-rc.10', '1.0.0-rc.9']);
      for (const bad of ['18446744073709551616.0.0', '1.18446744073709551616.0', '1.0.99999999999999999999']) {
        assertValidation(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: bad } }), ['body', 'version']);
      }
    });

    test("a raw '+' in the version path segment works like %2B", async () => {
      const { base } = await mkArtifact(kind);
      const v = await mkVersion(base, '3.1.4+sha.abc');
      const raw = await api(srv, 'GET', `${base}/versions/3.1.4+sha.abc`, { token: A.reader });
      assert.equal(raw.status, 200, raw.text);
      assert.equal(raw.json.id, v.id);
      const lower = await api(srv, 'GET', `${base}/versions/3.1.4%2bsha.abc`, { token: A.reader });
      assert.equal(lower.status, 200, lower.text);
      assert.equal(lower.json.id, v.id);
    });

    test('?lifecycle= filters', async () => {
      const { base } = await mkArtifact(kind);
      for (const v of ['0.1.0', '0.2.0', '0.3.0-rc.1']) await mkVersion(base, v);
      const d = await api(srv, 'GET', `${base}/versions?lifecycle=draft`, { token: A.reader });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(d.json.versions, ['0.3.0-rc.1', '0.2.0', '0.1.0']);
      for (const lc of ['published', 'deprecated']) {
        const r = await api(srv, 'GET', `${base}/versions?lifecycle=${lc}`, { token: A.reader });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.versions, []);
      }
    });

    test('duplicate version, also by precedence (1.0.0+a vs 1.0.0+b) → 409 already_exists_error', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0+a');
      assertError(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '1.0.0+b' } }), 409, 'already_exists_error');
      assertError(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '1.0.0' } }), 409, 'already_exists_error');
      assertError(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '1.0.0+a' } }), 409, 'already_exists_error');
      await mkVersion(base, '1.0.0-rc.1+a'); // a pre-release is a different version
      const l = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.deepEqual(l.json.versions, ['1.0.0+a', '1.0.0-rc.1+a']);
    });

    test('concurrent creation of one version: exactly one 201', async () => {
      const { base } = await mkArtifact(kind);
      const rs = await Promise.all(Array.from({ length: 6 }, () => api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '3.0.0' } })));
      assert.equal(rs.filter((r) => r.status === 201).length, 1, rs.map((r) => r.status).join(','));
      for (const r of rs.filter((x) => x.status !== 201)) assertError(r, 409, 'already_exists_error');
    });

    test('invalid SemVer → 422 at ["body","version"]; missing → missing', async () => {
      const { base } = await mkArtifact(kind);
      for (const version of ['1.0', '1.0.0.0', 'v1.0.0', '01.0.0', '1.01.0', '1.0.0-', '1.0.0-01', '1.0.0+', '1.0.0+a+b',
        '1.0.0-a_b', '-1.0.0', '1.0.0 ', 'latest', 'stable', '00000000-0000-7000-8000-000000000000', `1.0.0-${'a'.repeat(200)}`]) {
        assertValidation(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version } }), ['body', 'version']);
      }
      assertValidation(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: 100 } }), ['body', 'version'], 'string_type');
      assertValidation(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { summary: 'x' } }), ['body', 'version'], 'missing');
      assertValidation(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '1.0.0', bogus: 1 } }), ['body', 'bogus'], 'extra_forbidden');
      assertValidation(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '1.0.0', metadata: [] } }), ['body', 'metadata'], 'dict_type');
      const l = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.deepEqual(l.json.versions, [], 'nothing created by invalid requests');
    });

    test('get by version string, by UUID (both routes), by alias; same body', async () => {
      const { base } = await mkArtifact(kind);
      const v = await mkVersion(base, '1.2.3+build.7', { summary: 'hello' });
      const byStr = await api(srv, 'GET', `${base}/versions/${enc('1.2.3+build.7')}`, { token: A.reader });
      assert.equal(byStr.status, 200, byStr.text);
      assert.deepEqual(byStr.json, v);
      const byId = await api(srv, 'GET', `${base}/versions/${v.id}`, { token: A.reader });
      assert.equal(byId.status, 200, byId.text);
      assert.deepEqual(byId.json, v);
      const byOrgId = await api(srv, 'GET', `/api/v1/org/${A.slug}/versions/${v.id}`, { token: A.reader });
      assert.equal(byOrgId.status, 200, byOrgId.text);
      assert.deepEqual(byOrgId.json, v);
      const al = await api(srv, 'PUT', `${base}/aliases/candidate`, { token: A.writer, body: { version: '1.2.3+build.7' } });
      assert.equal(al.status, 200, al.text);
      const byAlias = await api(srv, 'GET', `${base}/versions/candidate`, { token: A.reader });
      assert.equal(byAlias.status, 200, byAlias.text);
      assert.equal(byAlias.json.id, v.id);
      assert.equal(byAlias.json.version, '1.2.3+build.7');
    });

    test('version GET sends a strong ETag; If-None-Match → 304', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      const g = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader });
      const etag = g.headers.get('etag');
      assert.ok(etag);
      assert.ok(!etag.startsWith('W/'));
      const nm = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader, headers: { 'if-none-match': etag } });
      assert.equal(nm.status, 304);
      const p = await api(srv, 'PATCH', `${base}/versions/1.0.0`, { token: A.writer, body: { summary: 'new' } });
      assert.equal(p.status, 200, p.text);
      const g2 = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader, headers: { 'if-none-match': etag } });
      assert.equal(g2.status, 200);
      assert.notEqual(g2.headers.get('etag'), etag);
    });

    test('unknown version / UUID → 404', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      assertError(await api(srv, 'GET', `${base}/versions/9.9.9`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `${base}/versions/no-such-alias`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `${base}/versions/0190c7f2-0000-7000-8000-000000000000`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/versions/0190c7f2-0000-7000-8000-000000000000`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/versions/not-a-uuid`, { token: A.reader }), 404, 'not_found_error');
    });

    test('a version UUID of another artifact is 404 under this artifact', async () => {
      const one = await mkArtifact(kind);
      const two = await mkArtifact(kind);
      const v = await mkVersion(one.base, '1.0.0');
      assertError(await api(srv, 'GET', `${two.base}/versions/${v.id}`, { token: A.reader }), 404, 'not_found_error');
    });

    test('`latest` → 404 when nothing is published; artifact version null / version_count 0', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      await mkVersion(base, '2.0.0');
      assertError(await api(srv, 'GET', `${base}/versions/latest`, { token: A.reader }), 404, 'not_found_error');
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.equal(a.json.version, null);
      assert.equal(a.json.version_count, 0);
      const l = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.equal(l.json.latest, null);
    });

    test('PATCH a draft: fields change; `version`/unknown fields → 422', async () => {
      const { base } = await mkArtifact(kind);
      const v = await mkVersion(base, '1.0.0', { summary: 'old' });
      const body = { summary: 'new', changelog: 'cl', framework: 'onnx', architecture: 'bert', base_model: 'google/bert', metadata: { k: 'v' } };
      const p = await api(srv, 'PATCH', `${base}/versions/1.0.0`, { token: A.writer, body });
      assert.equal(p.status, 200, p.text);
      for (const [k, val] of Object.entries(body)) assert.deepEqual(p.json[k], val, `field ${k}`);
      assert.equal(p.json.id, v.id);
      assert.equal(p.json.lifecycle, 'draft');
      assert.equal(p.json.created_at, v.created_at);
      assert.ok(Date.parse(p.json.updated_at) >= Date.parse(v.updated_at));
      const g = await api(srv, 'GET', `${base}/versions/${v.id}`, { token: A.reader });
      assert.deepEqual(g.json, p.json);
      assertValidation(await api(srv, 'PATCH', `${base}/versions/1.0.0`, { token: A.writer, body: { version: '9.0.0' } }), ['body', 'version']);
      assertValidation(await api(srv, 'PATCH', `${base}/versions/1.0.0`, { token: A.writer, body: { lifecycle: 'published' } }), ['body', 'lifecycle'], 'extra_forbidden');
      assertValidation(await api(srv, 'PATCH', `${base}/versions/1.0.0`, { token: A.writer, body: { summary: 3 } }), ['body', 'summary'], 'string_type');
      const g2 = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader });
      assert.equal(g2.json.summary, 'new');
      assert.equal(g2.json.lifecycle, 'draft');
    });

    test('PATCH an unknown version → 404; reader → 403', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      assertError(await api(srv, 'PATCH', `${base}/versions/1.0.1`, { token: A.writer, body: { summary: 'x' } }), 404, 'not_found_error');
      assertError(await api(srv, 'PATCH', `${base}/versions/1.0.0`, { token: A.reader, body: { summary: 'x' } }), 403, 'forbidden_error');
    });

    test('publish without files → 422 validation_error; stays draft', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      const r = await api(srv, 'POST', `${base}/versions/1.0.0/publish`, { token: A.writer });
      assertError(r, 422, 'validation_error');
      const g = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader });
      assert.equal(g.json.lifecycle, 'draft');
      assert.equal(g.json.published_at, null);
      assertError(await api(srv, 'GET', `${base}/versions/latest`, { token: A.reader }), 404, 'not_found_error');
    });

    test('publish: unknown version → 404; reader → 403', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      assertError(await api(srv, 'POST', `${base}/versions/7.7.7/publish`, { token: A.writer }), 404, 'not_found_error');
      assertError(await api(srv, 'POST', `${base}/versions/1.0.0/publish`, { token: A.reader }), 403, 'forbidden_error');
    });

    test('deprecate a draft → 409 conflict_error; stays draft', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      assertError(await api(srv, 'POST', `${base}/versions/1.0.0/deprecate`, { token: A.writer }), 409, 'conflict_error');
      const g = await api(srv, 'GET', `${base}/versions/1.0.0`, { token: A.reader });
      assert.equal(g.json.lifecycle, 'draft');
      assert.equal(g.json.deprecated_at, null);
      assertError(await api(srv, 'POST', `${base}/versions/1.0.0/deprecate`, { token: A.reader }), 403, 'forbidden_error');
    });

    test('DELETE a version → 204, then 404 and gone from the list; writer → 403', async () => {
      const { base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      const v2 = await mkVersion(base, '1.1.0');
      assertError(await api(srv, 'DELETE', `${base}/versions/1.1.0`, { token: A.writer }), 403, 'forbidden_error');
      const d = await api(srv, 'DELETE', `${base}/versions/1.1.0`, { token: A.admin });
      assert.equal(d.status, 204, d.text);
      assert.equal(d.text, '');
      assertError(await api(srv, 'GET', `${base}/versions/1.1.0`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `${base}/versions/${v2.id}`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/versions/${v2.id}`, { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'PATCH', `${base}/versions/1.1.0`, { token: A.writer, body: { summary: 'x' } }), 404, 'not_found_error');
      assertError(await api(srv, 'DELETE', `${base}/versions/1.1.0`, { token: A.admin }), 404, 'not_found_error');
      const l = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.deepEqual(l.json.versions, ['1.0.0']);
      const l2 = await api(srv, 'GET', `${base}/versions?lifecycle=draft`, { token: A.reader });
      assert.deepEqual(l2.json.versions, ['1.0.0']);
    });

    test('deleting the artifact removes its versions', async () => {
      const { base } = await mkArtifact(kind);
      const v = await mkVersion(base, '1.0.0');
      assert.equal((await api(srv, 'DELETE', base, { token: A.admin })).status, 204);
      assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/versions/${v.id}`, { token: A.reader }), 404, 'not_found_error');
    });

    test('creating a version under a missing slug-shaped name creates the artifact', async () => {
      const name = uniq('auto');
      const base = `/api/v1/org/${A.slug}/${kind}/${name}`;
      assertError(await api(srv, 'GET', base, { token: A.reader }), 404, 'not_found_error');
      const r = await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '0.1.0' } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.lifecycle, 'draft');
      const a = await api(srv, 'GET', base, { token: A.reader });
      assert.equal(a.status, 200, a.text);
      assert.equal(a.json.id, r.json.artifact_id);
      assert.equal(a.json.canonical_name, `${A.slug}/${name}`);
      assert.equal(a.json.kind, kind);
      const l = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.deepEqual(l.json.versions, ['0.1.0']);
    });

    test('creating a version under a missing non-slug-shaped name → 404, nothing created', async () => {
      for (const name of [`Upper-${uniq('x')}`, `MixedCase${uniq('x').slice(2)}`]) {
        const base = `/api/v1/org/${A.slug}/${kind}/${name}`;
        assertError(await api(srv, 'POST', `${base}/versions`, { token: A.writer, body: { version: '0.1.0' } }), 404, 'not_found_error');
        assertError(await api(srv, 'GET', base, { token: A.reader }), 404, 'not_found_error');
      }
      assertError(await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}/-bad/versions`, { token: A.writer, body: { version: '0.1.0' } }), 404, 'not_found_error');
    });

    test('a version under an existing mixed-case name is fine', async () => {
      const name = `Mixed-${uniq('x')}`;
      const c = await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}`, { token: A.writer, body: { name } });
      assert.equal(c.status, 201, c.text);
      const r = await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}/${name}/versions`, { token: A.writer, body: { version: '1.0.0' } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.artifact_id, c.json.id);
    });

    test('reader cannot create a version → 403 (also not auto-creating the artifact)', async () => {
      const { base } = await mkArtifact(kind);
      assertError(await api(srv, 'POST', `${base}/versions`, { token: A.reader, body: { version: '1.0.0' } }), 403, 'forbidden_error');
      const l = await api(srv, 'GET', `${base}/versions`, { token: A.reader });
      assert.deepEqual(l.json.versions, []);
      const name = uniq('auto');
      assertError(await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}/${name}/versions`, { token: A.reader, body: { version: '1.0.0' } }), 403, 'forbidden_error');
      assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/${kind}/${name}`, { token: A.reader }), 404, 'not_found_error');
    });

    test('a version under a missing UUID-shaped name does not auto-create an artifact named so', async () => {
      const other = await mkArtifact(kind);
      const fresh = '01234567-89ab-4def-8123-' + rnd(6);
      for (const name of [fresh, other.art.id.replace(/^./, (c) => (c === '0' ? '1' : '0'))]) {
        assertError(await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}/${name}/versions`, { token: A.writer, body: { version: '1.0.0' } }), 404, 'not_found_error');
        assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/${kind}/${name}`, { token: A.reader }), 404, 'not_found_error');
      }
    });

    test('versions route by artifact UUID', async () => {
      const { art, base } = await mkArtifact(kind);
      await mkVersion(base, '1.0.0');
      const l = await api(srv, 'GET', `/api/v1/org/${A.slug}/${kind}/${art.id}/versions`, { token: A.reader });
      assert.equal(l.status, 200, l.text);
      assert.deepEqual(l.json.versions, ['1.0.0']);
      const v = await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}/${art.id}/versions`, { token: A.writer, body: { version: '1.1.0' } });
      assert.equal(v.status, 201, v.text);
      assert.equal(v.json.artifact_id, art.id);
    });

    test('cross-org: versions of a private artifact are 404; drafts of a public one 404, writes 403', async () => {
      const priv = await mkArtifact(kind);
      const pv = await mkVersion(priv.base, '1.0.0');
      for (const t of [B.reader, B.admin]) {
        assertError(await api(srv, 'GET', `${priv.base}/versions`, { token: t }), 404, 'not_found_error');
        assertError(await api(srv, 'GET', `${priv.base}/versions/1.0.0`, { token: t }), 404, 'not_found_error');
        assertError(await api(srv, 'POST', `${priv.base}/versions`, { token: t, body: { version: '2.0.0' } }), 404, 'not_found_error');
        assertError(await api(srv, 'GET', `/api/v1/org/${A.slug}/versions/${pv.id}`, { token: t }), 404, 'not_found_error');
        assertError(await api(srv, 'GET', `/api/v1/org/${B.slug}/versions/${pv.id}`, { token: t }), 404, 'not_found_error');
      }
      const pub = await mkArtifact(kind, { is_public: true });
      await mkVersion(pub.base, '1.0.0');
      // A draft is not another org's to see (tests/api/visibility.test.mjs has the published case).
      assertError(await api(srv, 'GET', `${pub.base}/versions/1.0.0`, { token: B.reader }), 404, 'not_found_error');
      assert.equal((await api(srv, 'GET', `${pub.base}/versions/1.0.0`, { token: A.reader })).status, 200);
      assertError(await api(srv, 'POST', `${pub.base}/versions`, { token: B.writer, body: { version: '2.0.0' } }), 403, 'forbidden_error');
      assertError(await api(srv, 'PATCH', `${pub.base}/versions/1.0.0`, { token: B.writer, body: { summary: 'x' } }), 403, 'forbidden_error');
      assertError(await api(srv, 'DELETE', `${pub.base}/versions/1.0.0`, { token: B.admin }), 403, 'forbidden_error');
      assertError(await api(srv, 'POST', `${pub.base}/versions/1.0.0/publish`, { token: B.writer }), 403, 'forbidden_error');
      // auto-create in another org is not possible either
      assertError(await api(srv, 'POST', `/api/v1/org/${A.slug}/${kind}/${uniq('auto')}/versions`, { token: B.writer, body: { version: '1.0.0' } }), 404, 'not_found_error');
    });
  });
}
