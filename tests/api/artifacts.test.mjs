import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, KINDS, UUID_RE, TS_RE,
} from './harness.mjs';

let srv;
let A; // {slug, reader, writer, admin}
let B;
before(async () => {
  srv = await startServer();
  A = await mkOrgWithTokens(srv);
  B = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); });

const SUMMARY_FIELDS = ['id', 'name', 'version', 'created_at', 'updated_at', 'aliases', 'architecture', 'base_model',
  'download_count', 'framework', 'is_public', 'language', 'license', 'origin', 'pretty_name', 'size_category',
  'summary', 'tags', 'task', 'task_categories', 'version_count', 'org', 'canonical_name', 'kind'];
const CAP_FIELDS = ['keywords', 'component_counts', 'components'];
const ARTIFACT_FIELDS = [...SUMMARY_FIELDS, 'description', 'enabled', 'revision', 'deleted_at', 'attributes'];

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const path = (org, kind, name = '') => `/api/v1/org/${org}/${kind}${name ? `/${name}` : ''}`;
const expectedName = (kind, org, name) => (kind === 'models' ? `${org}/${name}` : name);

function checkSummaryShape(a, kind) {
  const fields = kind === 'capabilities' ? [...SUMMARY_FIELDS, ...CAP_FIELDS] : SUMMARY_FIELDS;
  for (const f of fields) assert.ok(f in a, `field ${f} missing in ${JSON.stringify(a)}`);
  assert.match(a.id, UUID_RE);
  assert.equal(typeof a.name, 'string');
  assert.match(a.created_at, TS_RE);
  assert.match(a.updated_at, TS_RE);
  assert.ok(Array.isArray(a.aliases));
  assert.equal(typeof a.download_count, 'number');
  assert.equal(typeof a.framework, 'string');
  assert.equal(typeof a.is_public, 'boolean');
  assert.ok(Array.isArray(a.language));
  assert.ok(Array.isArray(a.tags));
  assert.ok(Array.isArray(a.task_categories));
  assert.ok(isObj(a.origin));
  assert.equal(typeof a.version_count, 'number');
  assert.equal(a.kind, kind);
  assert.equal(a.canonical_name, `${a.org}/${a.name.split('/').at(-1)}`);
  if (kind === 'capabilities') {
    assert.ok(Array.isArray(a.keywords));
    assert.ok(Array.isArray(a.components));
    assert.ok(isObj(a.component_counts));
  }
}

function checkArtifactShape(a, kind) {
  checkSummaryShape(a, kind);
  for (const f of ARTIFACT_FIELDS) assert.ok(f in a, `field ${f} missing`);
  assert.equal(typeof a.enabled, 'boolean');
  assert.ok(Number.isInteger(a.revision) && a.revision >= 1);
  assert.ok(isObj(a.attributes), `attributes must be an object, got ${JSON.stringify(a.attributes)}`);
}

async function create(kind, body, token = A.writer, org = A.slug) {
  const r = await api(srv, 'POST', path(org, kind), { token, body });
  assert.equal(r.status, 201, `create ${kind} ${JSON.stringify(body).slice(0, 200)}: ${r.status} ${r.text}`);
  return r.json;
}

for (const kind of KINDS) {
  describe(`${kind}`, () => {
    test('create with only a name → 201 with every default', async () => {
      const name = uniq('a');
      const t0 = Date.now();
      const r = await api(srv, 'POST', path(A.slug, kind), { token: A.writer, body: { name } });
      assert.equal(r.status, 201, r.text);
      assert.match(r.headers.get('content-type') || '', /^application\/json/);
      const a = r.json;
      checkArtifactShape(a, kind);
      assert.match(a.id, UUID_RE);
      assert.equal(a.name, expectedName(kind, A.slug, name));
      assert.equal(a.org, A.slug);
      assert.equal(a.canonical_name, `${A.slug}/${name}`);
      assert.equal(a.kind, kind);
      assert.equal(a.version, null);
      assert.equal(a.version_count, 0);
      assert.match(a.created_at, TS_RE);
      assert.ok(Math.abs(Date.parse(a.created_at) - t0) < 60_000);
      assert.match(a.updated_at, TS_RE);
      assert.ok(Date.parse(a.updated_at) >= Date.parse(a.created_at));
      assert.deepEqual(a.aliases, []);
      assert.equal(a.architecture, null);
      assert.equal(a.base_model, null);
      assert.equal(a.download_count, 0);
      assert.equal(a.framework, 'safetensors');
      assert.equal(a.is_public, false);
      assert.deepEqual(a.language, []);
      assert.equal(a.license, null);
      assert.deepEqual(a.origin, {});
      assert.equal(a.pretty_name, null);
      assert.equal(a.size_category, null);
      assert.equal(a.summary, null);
      assert.deepEqual(a.tags, []);
      assert.equal(a.task, null);
      assert.deepEqual(a.task_categories, []);
      assert.equal(a.description, null);
      assert.equal(a.enabled, true);
      assert.equal(a.revision, 1);
      assert.equal(a.deleted_at, null);
      assert.deepEqual(a.attributes, {});
      if (kind === 'capabilities') {
        assert.deepEqual(a.keywords, []);
        assert.deepEqual(a.components, []);
        assert.ok(Object.values(a.component_counts).every((n) => n === 0), JSON.stringify(a.component_counts));
      }
    });

    test('create with every field → each echoed', async () => {
      const name = uniq('Full.Name_');
      const body = {
        name,
        pretty_name: 'Full Name',
        summary: 'A short summary',
        description: '# Card\n\nSome *markdown*.',
        tags: ['nlp', 'chat'],
        license: 'apache-2.0',
        language: ['en', 'de'],
        task: 'text-generation',
        task_categories: ['text-generation', 'summarization'],
        architecture: 'LlamaForCausalLM',
        base_model: 'meta/llama-3-8b',
        framework: 'gguf',
        size_category: 'medium',
        is_public: true,
        enabled: false,
        attributes: { nested: { a: [1, 2, 3] }, flag: true, n: 1.5, s: 'x' },
        origin: { source: 'huggingface', repo: 'meta/llama' },
      };
      if (kind === 'capabilities') {
        body.keywords = ['agents', 'tools'];
        body.components = [
          { name: 'planner', path: 'agents/planner.md', type: 'agent', description: 'Plans' },
          { name: 'search', path: 'tools/search.py', type: 'tool', description: 'Searches' },
          { name: 'fetch', path: 'tools/fetch.py', type: 'tool', description: 'Fetches' },
          { name: 'files', path: 'mcp/files.json', type: 'mcp_server', description: 'MCP' },
        ];
      }
      const a = await create(kind, body);
      checkArtifactShape(a, kind);
      for (const [k, v] of Object.entries(body)) {
        if (k === 'name') continue;
        assert.deepEqual(a[k], v, `field ${k}`);
      }
      assert.equal(a.name, expectedName(kind, A.slug, name));
      assert.equal(a.revision, 1);
      if (kind === 'capabilities') {
        const counts = Object.fromEntries(Object.entries(a.component_counts).filter(([, n]) => n !== 0));
        assert.deepEqual(counts, { agent: 1, tool: 2, mcp_server: 1 });
      }
    });

    test('invalid enum values → 422', async () => {
      assertValidation(await api(srv, 'POST', path(A.slug, kind), { token: A.writer, body: { name: uniq('a'), size_category: 'huge' } }),
        ['body', 'size_category']);
      if (kind === 'capabilities') {
        const r = await api(srv, 'POST', path(A.slug, kind), {
          token: A.writer, body: { name: uniq('a'), components: [{ name: 'x', path: 'x.py', type: 'gadget', description: '' }] },
        });
        assertError(r, 422, 'validation_error');
        assert.ok(r.json.errors.some((e) => e.loc[0] === 'body' && e.loc[1] === 'components'), JSON.stringify(r.json.errors));
      }
    });

    test('strings and attributes round-trip exactly (escapes, unicode, numbers)', async () => {
      const tricky = 'quote " backslash \\ slash / tab \t nl \n cr \r ctrl \u0001 emoji 😀 ü ß \u2028 <b>&amp;</b>';
      const attributes = { f: 0.1, neg: -5, exp: 1e300, zero: 0, t: true, n: null, nested: [[[]], {}], u: 'ünï', s: tricky };
      const a = await create(kind, { name: uniq('rt'), summary: tricky, pretty_name: '😀 Emoji', attributes, tags: ['ü', 'a"b'] });
      assert.equal(a.summary, tricky);
      assert.equal(a.pretty_name, '😀 Emoji');
      assert.deepEqual(a.attributes, attributes);
      assert.deepEqual(a.tags, ['ü', 'a"b']);
      const g = await api(srv, 'GET', path(A.slug, kind, a.id), { token: A.reader });
      assert.deepEqual(g.json, a);
    });

    test('list query values with SQL/LIKE metacharacters are plain data', async () => {
      const o = await mkOrgWithTokens(srv);
      await create(kind, { name: 'plain', summary: 'nothing special', tags: ['t'] }, o.writer, o.slug);
      for (const q of ["search=%27%20OR%201%3D1%20--", 'search=%25', 'search=_', "tags=%27%20OR%20%271%27%3D%271", 'license=%22%3B%20DROP%20TABLE%20artifacts%3B--']) {
        const r = await api(srv, 'GET', `${path(o.slug, kind)}?${q}`, { token: o.reader });
        assert.equal(r.status, 200, `${q}: ${r.text}`);
        assert.deepEqual(r.json.items, [], q);
        assert.equal(r.json.total, 0, q);
      }
      const all = await api(srv, 'GET', path(o.slug, kind), { token: o.reader });
      assert.equal(all.json.total, 1, 'table still there');
    });

    test('get by name and by UUID → same Artifact, same strong ETag', async () => {
      const name = uniq('a');
      const c = await create(kind, { name, summary: 's' });
      const g1 = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.equal(g1.status, 200, g1.text);
      assert.deepEqual(g1.json, c);
      const g2 = await api(srv, 'GET', path(A.slug, kind, c.id), { token: A.reader });
      assert.equal(g2.status, 200, g2.text);
      assert.deepEqual(g2.json, c);
      const e1 = g1.headers.get('etag');
      assert.ok(e1, 'ETag present');
      assert.match(e1, /^"[^"]+"$/, 'strong, quoted ETag');
      assert.equal(g2.headers.get('etag'), e1);
    });

    test('unknown name / UUID → 404 not_found_error', async () => {
      assertError(await api(srv, 'GET', path(A.slug, kind, uniq('nx')), { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', path(A.slug, kind, '0190c7f2-0000-7000-8000-000000000000'), { token: A.reader }), 404, 'not_found_error');
    });

    test('an artifact of the other kind is not found under this kind', async () => {
      const other = kind === 'models' ? 'capabilities' : 'models';
      const name = uniq('a');
      const c = await create(other, { name });
      assertError(await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', path(A.slug, kind, c.id), { token: A.reader }), 404, 'not_found_error');
      const l = await api(srv, 'GET', `${path(A.slug, kind)}?limit=500`, { token: A.reader });
      assert.ok(!l.json.items.some((i) => i.id === c.id));
    });

    test('duplicate name → 409 already_exists_error', async () => {
      const name = uniq('a');
      await create(kind, { name });
      assertError(await api(srv, 'POST', path(A.slug, kind), { token: A.writer, body: { name } }), 409, 'already_exists_error');
    });

    test('same name in another org is fine', async () => {
      const name = uniq('a');
      await create(kind, { name });
      const b = await create(kind, { name }, B.writer, B.slug);
      assert.equal(b.org, B.slug);
    });

    test('reserved names → 422 at ["body","name"]', async () => {
      for (const name of ['facets', 'bulk', 'export.csv']) {
        assertValidation(await api(srv, 'POST', path(A.slug, kind), { token: A.writer, body: { name } }), ['body', 'name']);
      }
    });

    test('PATCH → 200, revision +1, only given fields change', async () => {
      const name = uniq('a');
      const c = await create(kind, { name, summary: 'old', license: 'mit', tags: ['x'] });
      const p = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { summary: 'new', tags: ['y', 'z'] } });
      assert.equal(p.status, 200, p.text);
      checkArtifactShape(p.json, kind);
      assert.equal(p.json.revision, 2);
      assert.equal(p.json.summary, 'new');
      assert.deepEqual(p.json.tags, ['y', 'z']);
      assert.equal(p.json.license, 'mit');
      assert.equal(p.json.id, c.id);
      assert.equal(p.json.created_at, c.created_at);
      assert.ok(Date.parse(p.json.updated_at) >= Date.parse(c.updated_at));
      const g = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.deepEqual(g.json, p.json);
      const p2 = await api(srv, 'PATCH', path(A.slug, kind, c.id), { token: A.writer, body: { is_public: true, enabled: false } });
      assert.equal(p2.status, 200, p2.text);
      assert.equal(p2.json.revision, 3);
      assert.equal(p2.json.is_public, true);
      assert.equal(p2.json.enabled, false);
    });

    test('PATCH validation: name → 422 extra_forbidden; unknown field; wrong type', async () => {
      const name = uniq('a');
      await create(kind, { name });
      assertValidation(await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { name: 'renamed' } }), ['body', 'name'], 'extra_forbidden');
      assertValidation(await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { sumary: 'x' } }), ['body', 'sumary'], 'extra_forbidden');
      assertValidation(await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { tags: 'x' } }), ['body', 'tags'], 'list_type');
      assertValidation(await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { expected_revision: 'one' } }), ['body', 'expected_revision'], 'int_type');
      const g = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.equal(g.json.revision, 1, 'failed PATCHes change nothing');
    });

    test('PATCH of an unknown artifact → 404; reader → 403', async () => {
      assertError(await api(srv, 'PATCH', path(A.slug, kind, uniq('nx')), { token: A.writer, body: { summary: 'x' } }), 404, 'not_found_error');
      const name = uniq('a');
      await create(kind, { name });
      assertError(await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.reader, body: { summary: 'x' } }), 403, 'forbidden_error');
    });

    test('expected_revision: current → 200, stale → 409 conflict_error naming the current revision', async () => {
      const name = uniq('a');
      await create(kind, { name });
      const ok = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { summary: 'a', expected_revision: 1 } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.revision, 2);
      const stale = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { summary: 'b', expected_revision: 1 } });
      assertError(stale, 409, 'conflict_error');
      assert.match(stale.json.detail, /current revision is 2\b/);
      const future = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { summary: 'c', expected_revision: 7 } });
      assertError(future, 409, 'conflict_error');
      assert.match(future.json.detail, /current revision is 2\b/);
      const g = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.equal(g.json.summary, 'a');
      assert.equal(g.json.revision, 2);
    });

    test('If-Match: current ETag → 200, stale ETag → 409 conflict_error', async () => {
      const name = uniq('a');
      await create(kind, { name });
      const g1 = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      const e1 = g1.headers.get('etag');
      assert.ok(e1);
      const p1 = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, headers: { 'if-match': e1 }, body: { summary: 'one' } });
      assert.equal(p1.status, 200, p1.text);
      const stale = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, headers: { 'if-match': e1 }, body: { summary: 'two' } });
      assertError(stale, 409, 'conflict_error');
      assert.match(stale.json.detail, /current revision is 2\b/);
      const g2 = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      const p2 = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, headers: { 'if-match': g2.headers.get('etag') }, body: { summary: 'three' } });
      assert.equal(p2.status, 200, p2.text);
      assert.equal(p2.json.revision, 3);
    });

    test('ETag + If-None-Match → 304; ETag changes after PATCH', async () => {
      const name = uniq('a');
      await create(kind, { name });
      const g1 = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      const e1 = g1.headers.get('etag');
      const nm = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader, headers: { 'if-none-match': e1 } });
      assert.equal(nm.status, 304);
      assert.equal(nm.text, '');
      assert.equal(nm.headers.get('etag'), e1);
      const nmList = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader, headers: { 'if-none-match': `"nope", ${e1}` } });
      assert.equal(nmList.status, 304, 'If-None-Match with a list containing the ETag');
      const p = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { summary: 'changed' } });
      assert.equal(p.status, 200);
      const g2 = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader, headers: { 'if-none-match': e1 } });
      assert.equal(g2.status, 200, 'old ETag no longer matches');
      const e2 = g2.headers.get('etag');
      assert.ok(e2);
      assert.notEqual(e2, e1);
      assert.equal(g2.json.summary, 'changed');
    });

    test('DELETE → 204, then 404 everywhere, gone from the list, name stays taken (409)', async () => {
      const name = uniq('a');
      const c = await create(kind, { name });
      const d = await api(srv, 'DELETE', path(A.slug, kind, name), { token: A.admin });
      assert.equal(d.status, 204, d.text);
      assert.equal(d.text, '');
      assertError(await api(srv, 'GET', path(A.slug, kind, name), { token: A.admin }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', path(A.slug, kind, c.id), { token: A.admin }), 404, 'not_found_error');
      assertError(await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.admin, body: { summary: 'x' } }), 404, 'not_found_error');
      assertError(await api(srv, 'DELETE', path(A.slug, kind, name), { token: A.admin }), 404, 'not_found_error');
      assertError(await api(srv, 'GET', `${path(A.slug, kind, name)}/versions`, { token: A.admin }), 404, 'not_found_error');
      const l = await api(srv, 'GET', `${path(A.slug, kind)}?limit=500`, { token: A.admin });
      assert.ok(!l.json.items.some((i) => i.id === c.id), 'deleted artifact not listed');
      assertError(await api(srv, 'POST', path(A.slug, kind), { token: A.writer, body: { name } }), 409, 'already_exists_error');
    });

    test('DELETE by UUID works', async () => {
      const name = uniq('a');
      const c = await create(kind, { name });
      assert.equal((await api(srv, 'DELETE', path(A.slug, kind, c.id), { token: A.admin })).status, 204);
      assertError(await api(srv, 'GET', path(A.slug, kind, name), { token: A.admin }), 404, 'not_found_error');
    });

    test('front matter fills empty fields on create', async () => {
      const description = [
        '---',
        'license: mit',
        'tags:',
        '  - alpha',
        '  - beta',
        'language:',
        '  - en',
        '  - fr',
        'pipeline_tag: text-generation',
        'base_model: meta/llama-3-8b',
        'library_name: transformers',
        '---',
        '# My model',
        '',
        'Body text.',
      ].join('\n');
      const a = await create(kind, { name: uniq('fm'), description });
      assert.equal(a.license, 'mit');
      assert.deepEqual(a.tags, ['alpha', 'beta']);
      assert.deepEqual(a.language, ['en', 'fr']);
      assert.equal(a.task, 'text-generation');
      assert.equal(a.base_model, 'meta/llama-3-8b');
      assert.equal(a.framework, 'transformers');
      assert.equal(a.description, description, 'description kept verbatim');
    });

    test('front matter does not override given fields (empty list counts as unset)', async () => {
      const description = '---\nlicense: mit\ntags:\n  - fromcard\nlanguage:\n  - en\npipeline_tag: text-generation\nbase_model: card/base\nlibrary_name: transformers\n---\nbody\n';
      const a = await create(kind, {
        name: uniq('fm'), description, license: 'apache-2.0', tags: [], language: ['de'], task: 'summarization', framework: 'onnx',
      });
      assert.equal(a.license, 'apache-2.0');
      assert.deepEqual(a.tags, ['fromcard']);
      assert.deepEqual(a.language, ['de']);
      assert.equal(a.task, 'summarization');
      assert.equal(a.base_model, 'card/base');
      assert.equal(a.framework, 'onnx');
    });

    test('front matter with flow lists', async () => {
      const description = '---\nlicense: bsd-3-clause\ntags: [one, two]\n---\ntext';
      const a = await create(kind, { name: uniq('fm'), description });
      assert.equal(a.license, 'bsd-3-clause');
      assert.deepEqual(a.tags, ['one', 'two']);
    });

    test('front matter on PATCH fills only empty fields', async () => {
      const name = uniq('fm');
      await create(kind, { name, license: 'apache-2.0', framework: 'onnx' });
      const description = '---\nlicense: mit\ntags:\n  - t1\nlibrary_name: transformers\npipeline_tag: fill-mask\n---\ncard';
      const p = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { description } });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.license, 'apache-2.0');
      assert.equal(p.json.framework, 'onnx');
      assert.deepEqual(p.json.tags, ['t1']);
      assert.equal(p.json.task, 'fill-mask');
      assert.equal(p.json.description, description);
    });

    test('front matter values obey the body fields\' limits → 422 at ["body","description"]', async () => {
      const manyTags = `---\ntags:\n${Array.from({ length: 5001 }, (_, i) => `  - t${i}`).join('\n')}\n---\ncard`;
      const longLicense = `---\nlicense: ${'x'.repeat(5000)}\n---\ncard`;
      const longTag = `---\ntags: [ok, ${'y'.repeat(65)}]\n---\ncard`;
      const longLib = `---\nlibrary_name: ${'z'.repeat(65)}\n---\ncard`;
      for (const description of [manyTags, longLicense, longTag, longLib]) {
        const name = uniq('fm');
        const r = await api(srv, 'POST', path(A.slug, kind), { token: A.writer, body: { name, description } });
        const item = assertValidation(r, ['body', 'description']);
        assert.match(item.msg, /^front matter/);
        assertError(await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader }), 404, 'not_found_error');
      }
      const name = uniq('fm');
      await create(kind, { name, summary: 'before' });
      const p = await api(srv, 'PATCH', path(A.slug, kind, name), { token: A.writer, body: { description: manyTags, summary: 'after' } });
      assertValidation(p, ['body', 'description']);
      const g = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.equal(g.json.summary, 'before');
      assert.deepEqual(g.json.tags, []);
      assert.equal(g.json.revision, 1);
      // A value the request overrides is not applied, so it is not checked either.
      const ok = await create(kind, { name: uniq('fm'), description: longLicense, license: 'mit' });
      assert.equal(ok.license, 'mit');
    });

    test('a description without front matter changes no other field', async () => {
      const a = await create(kind, { name: uniq('fm'), description: 'license: mit\n---\nnot front matter' });
      assert.equal(a.license, null);
      assert.deepEqual(a.tags, []);
      assert.equal(a.framework, 'safetensors');
    });

    test('list: {items, total, next_cursor} with summaries of this org and kind', async () => {
      const name = uniq('l');
      const c = await create(kind, { name, summary: 'listed' });
      const l = await api(srv, 'GET', `${path(A.slug, kind)}?limit=500`, { token: A.reader });
      assert.equal(l.status, 200, l.text);
      assert.deepEqual(Object.keys(l.json).sort(), ['items', 'next_cursor', 'total']);
      assert.equal(l.json.total, l.json.items.length);
      assert.equal(l.json.next_cursor, null);
      const it = l.json.items.find((i) => i.id === c.id);
      assert.ok(it, 'created artifact listed');
      checkSummaryShape(it, kind);
      for (const f of SUMMARY_FIELDS) assert.deepEqual(it[f], c[f], `summary field ${f}`);
      for (const i of l.json.items) {
        assert.equal(i.org, A.slug);
        assert.equal(i.kind, kind);
      }
    });

    test('list default sort is -updated_at', async () => {
      const o = await mkOrgWithTokens(srv);
      for (const n of ['s1', 's2', 's3']) {
        await create(kind, { name: n }, o.writer, o.slug);
        await new Promise((r) => setTimeout(r, 20)); // distinct updated_at (ms precision)
      }
      await api(srv, 'PATCH', path(o.slug, kind, 's1'), { token: o.writer, body: { summary: 'touched' } });
      const l = await api(srv, 'GET', path(o.slug, kind), { token: o.reader });
      assert.deepEqual(l.json.items.map((i) => i.canonical_name.split('/')[1]), ['s1', 's3', 's2']);
      const byName = await api(srv, 'GET', `${path(o.slug, kind)}?sort=name`, { token: o.reader });
      assert.deepEqual(byName.json.items.map((i) => i.canonical_name.split('/')[1]), ['s1', 's2', 's3']);
    });

    test('list filters: tags (OR within, AND across), license, search', async () => {
      const o = await mkOrgWithTokens(srv);
      await create(kind, { name: 'fx', tags: ['nlp'], license: 'mit' }, o.writer, o.slug);
      await create(kind, { name: 'fy', tags: ['vision'], license: 'apache-2.0' }, o.writer, o.slug);
      await create(kind, { name: 'fz', tags: ['nlp', 'vision'], license: 'mit', pretty_name: 'Zebracorn Detector' }, o.writer, o.slug);
      const names = async (q) => {
        const r = await api(srv, 'GET', `${path(o.slug, kind)}?${q}`, { token: o.reader });
        assert.equal(r.status, 200, `${q}: ${r.text}`);
        assert.equal(r.json.total, r.json.items.length);
        return r.json.items.map((i) => i.canonical_name.split('/')[1]).sort();
      };
      assert.deepEqual(await names('tags=nlp'), ['fx', 'fz']);
      assert.deepEqual(await names('tags=nlp,vision'), ['fx', 'fy', 'fz']);
      assert.deepEqual(await names('tags=nlp&tags=vision'), ['fx', 'fy', 'fz']);
      assert.deepEqual(await names('tags=vision&license=mit'), ['fz']);
      assert.deepEqual(await names('license=apache-2.0'), ['fy']);
      assert.deepEqual(await names('tags=none-such'), []);
      assert.deepEqual(await names('search=zebracorn'), ['fz']);
    });

    test('list pagination: no item skipped or repeated, even with a delete in between', async () => {
      const o = await mkOrgWithTokens(srv);
      for (const n of ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']) await create(kind, { name: n }, o.writer, o.slug);
      const full = await api(srv, 'GET', `${path(o.slug, kind)}?limit=500`, { token: o.reader });
      assert.equal(full.json.total, 7);
      const reference = full.json.items.map((i) => i.id);
      const first = await api(srv, 'GET', `${path(o.slug, kind)}?limit=3`, { token: o.reader });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.total, 7);
      assert.equal(first.json.items.length, 3);
      assert.equal(typeof first.json.next_cursor, 'string');
      const seen = first.json.items.map((i) => i.id);
      assert.deepEqual(seen, reference.slice(0, 3));
      // delete an already-seen item: the rest must still come exactly once, in order
      const victim = first.json.items[1].canonical_name.split('/')[1];
      assert.equal((await api(srv, 'DELETE', path(o.slug, kind, victim), { token: o.admin })).status, 204);
      let cursor = first.json.next_cursor;
      let pages = 1;
      while (cursor) {
        const r = await api(srv, 'GET', `${path(o.slug, kind)}?limit=3&cursor=${encodeURIComponent(cursor)}`, { token: o.reader });
        assert.equal(r.status, 200, r.text);
        seen.push(...r.json.items.map((i) => i.id));
        cursor = r.json.next_cursor;
        assert.ok(++pages < 10, 'pagination terminates');
      }
      assert.deepEqual(seen, reference);
    });

    test('list pagination with sort=name', async () => {
      const o = await mkOrgWithTokens(srv);
      for (const n of ['q3', 'q1', 'q5', 'q2', 'q4']) await create(kind, { name: n }, o.writer, o.slug);
      const seen = [];
      let cursor = null;
      let pages = 0;
      do {
        const r = await api(srv, 'GET', `${path(o.slug, kind)}?sort=name&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: o.reader });
        assert.equal(r.status, 200, r.text);
        seen.push(...r.json.items.map((i) => i.canonical_name.split('/')[1]));
        cursor = r.json.next_cursor;
        assert.ok(++pages < 10);
      } while (cursor);
      assert.deepEqual(seen, ['q1', 'q2', 'q3', 'q4', 'q5']);
    });

    test('list pagination survives inserts: nothing repeated, nothing of the old set skipped', async () => {
      const o = await mkOrgWithTokens(srv);
      for (const n of ['k2', 'k4', 'k6', 'k8']) await create(kind, { name: n }, o.writer, o.slug);
      const first = await api(srv, 'GET', `${path(o.slug, kind)}?sort=name&limit=2`, { token: o.reader });
      const seen = first.json.items.map((i) => i.canonical_name.split('/')[1]);
      assert.deepEqual(seen, ['k2', 'k4']);
      for (const n of ['k1', 'k3', 'k5']) await create(kind, { name: n }, o.writer, o.slug);
      let cursor = first.json.next_cursor;
      let pages = 1;
      while (cursor) {
        const r = await api(srv, 'GET', `${path(o.slug, kind)}?sort=name&limit=2&cursor=${encodeURIComponent(cursor)}`, { token: o.reader });
        assert.equal(r.status, 200, r.text);
        seen.push(...r.json.items.map((i) => i.canonical_name.split('/')[1]));
        cursor = r.json.next_cursor;
        assert.ok(++pages < 10);
      }
      assert.equal(new Set(seen).size, seen.length, `repeated: ${seen}`);
      for (const n of ['k2', 'k4', 'k6', 'k8']) assert.ok(seen.includes(n), `${n} skipped: ${seen}`);
      assert.ok(!seen.includes('k1') && !seen.includes('k3'), 'items before the cursor are not returned');
      assert.ok(seen.includes('k5'), 'an insert after the cursor shows up');
    });

    test('concurrent PATCHes with the same expected_revision: exactly one wins', async () => {
      const name = uniq('race');
      await create(kind, { name });
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => api(srv, 'PATCH', path(A.slug, kind, name), {
        token: A.writer, body: { summary: `w${i}`, expected_revision: 1 },
      })));
      const ok = rs.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, rs.map((r) => r.status).join(','));
      for (const r of rs.filter((x) => x.status !== 200)) assertError(r, 409, 'conflict_error');
      const g = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.equal(g.json.revision, 2);
      assert.equal(g.json.summary, ok[0].json.summary);
    });

    test('concurrent PATCHes without a revision: all applied, revision counts each', async () => {
      const name = uniq('race');
      await create(kind, { name });
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => api(srv, 'PATCH', path(A.slug, kind, name), {
        token: A.writer, body: { summary: `w${i}` },
      })));
      for (const r of rs) assert.equal(r.status, 200, r.text);
      assert.deepEqual(rs.map((r) => r.json.revision).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      const g = await api(srv, 'GET', path(A.slug, kind, name), { token: A.reader });
      assert.equal(g.json.revision, 11);
    });

    test('40 parallel creates all succeed and are all listed', async () => {
      const o = await mkOrgWithTokens(srv);
      const names = Array.from({ length: 40 }, (_, i) => `par-${i}`);
      const rs = await Promise.all(names.map((name) => api(srv, 'POST', path(o.slug, kind), { token: o.writer, body: { name } })));
      for (const r of rs) assert.equal(r.status, 201, r.text);
      assert.equal(new Set(rs.map((r) => r.json.id)).size, 40);
      const l = await api(srv, 'GET', `${path(o.slug, kind)}?limit=500`, { token: o.reader });
      assert.equal(l.json.total, 40);
    });

    describe('cross-org isolation', () => {
      let priv;
      let pub;
      before(async () => {
        priv = await create(kind, { name: uniq('priv') });
        pub = await create(kind, { name: uniq('pub'), is_public: true });
      });
      const local = (a) => a.canonical_name.split('/')[1];

      test("another org's private artifact: 404 on GET/PATCH/DELETE, by name and UUID", async () => {
        for (const t of [B.reader, B.writer, B.admin]) {
          for (const id of [local(priv), priv.id]) {
            assertError(await api(srv, 'GET', path(A.slug, kind, id), { token: t }), 404, 'not_found_error');
            assertError(await api(srv, 'PATCH', path(A.slug, kind, id), { token: t, body: { summary: 'x' } }), 404, 'not_found_error');
            assertError(await api(srv, 'DELETE', path(A.slug, kind, id), { token: t }), 404, 'not_found_error');
            assertError(await api(srv, 'GET', `${path(A.slug, kind, id)}/versions`, { token: t }), 404, 'not_found_error');
          }
        }
        // via B's own org path with A's UUID
        assertError(await api(srv, 'GET', path(B.slug, kind, priv.id), { token: B.admin }), 404, 'not_found_error');
        const g = await api(srv, 'GET', path(A.slug, kind, local(priv)), { token: A.reader });
        assert.equal(g.status, 200);
        assert.equal(g.json.revision, 1, 'untouched');
      });

      test('404 for a hidden artifact is indistinguishable from a missing one', async () => {
        const hidden = await api(srv, 'GET', path(A.slug, kind, local(priv)), { token: B.admin });
        const missing = await api(srv, 'GET', path(A.slug, kind, uniq('nx')), { token: B.admin });
        assert.equal(hidden.status, missing.status);
        assert.equal(hidden.json.type, missing.json.type);
      });

      test("another org's artifacts never appear in its own list", async () => {
        for (const q of ['?limit=500', '?limit=500&include_public=false']) {
          const l = await api(srv, 'GET', `${path(B.slug, kind)}${q}`, { token: B.reader });
          assert.equal(l.status, 200, l.text);
          assert.ok(!l.json.items.some((i) => i.id === priv.id || i.id === pub.id), q);
          for (const i of l.json.items) assert.equal(i.org, B.slug);
        }
      });

      test('include_public adds public artifacts of other orgs, never private ones', async () => {
        const l = await api(srv, 'GET', `${path(B.slug, kind)}?limit=500&include_public=true`, { token: B.reader });
        assert.equal(l.status, 200, l.text);
        assert.ok(l.json.items.some((i) => i.id === pub.id), 'public artifact included');
        assert.ok(!l.json.items.some((i) => i.id === priv.id), 'private artifact excluded');
      });

      test("another org's public artifact: readable, but PATCH/DELETE → 403", async () => {
        const g = await api(srv, 'GET', path(A.slug, kind, local(pub)), { token: B.reader });
        assert.equal(g.status, 200, g.text);
        assert.equal(g.json.id, pub.id);
        const g2 = await api(srv, 'GET', path(A.slug, kind, pub.id), { token: B.reader });
        assert.equal(g2.status, 200, g2.text);
        for (const t of [B.writer, B.admin]) {
          assertError(await api(srv, 'PATCH', path(A.slug, kind, local(pub)), { token: t, body: { summary: 'hijack' } }), 403, 'forbidden_error');
          assertError(await api(srv, 'DELETE', path(A.slug, kind, local(pub)), { token: t }), 403, 'forbidden_error');
        }
        const v = await api(srv, 'GET', `${path(A.slug, kind, local(pub))}/versions`, { token: B.reader });
        assert.equal(v.status, 200, v.text);
        const after = await api(srv, 'GET', path(A.slug, kind, local(pub)), { token: A.reader });
        assert.equal(after.json.summary, null);
        assert.equal(after.json.revision, 1);
      });

      test('making a public artifact private hides it at once', async () => {
        const a = await create(kind, { name: uniq('flip'), is_public: true });
        const n = local(a);
        assert.equal((await api(srv, 'GET', path(A.slug, kind, n), { token: B.reader })).status, 200);
        const p = await api(srv, 'PATCH', path(A.slug, kind, n), { token: A.writer, body: { is_public: false } });
        assert.equal(p.status, 200, p.text);
        assertError(await api(srv, 'GET', path(A.slug, kind, n), { token: B.reader }), 404, 'not_found_error');
      });
    });
  });
}
