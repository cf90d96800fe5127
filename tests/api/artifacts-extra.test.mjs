// Section 4 routes beyond CRUD: facets, restore, duplicate, bulk, export.csv, docs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, KINDS, UUID_RE,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

const local = (a) => a.canonical_name.split('/')[1];

async function create(o, kind, body) {
  const r = await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}`, { token: o.writer, body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

/** RFC 4180 parser: returns an array of rows (arrays of strings). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; continue; }
    field += c; i++;
  }
  if (field.length || row.length) { row.push(field); rows.push(row); }
  return rows;
}

for (const kind of KINDS) {
  describe(kind, () => {
    describe('facets', () => {
      let o;
      before(async () => {
        o = await mkOrgWithTokens(srv);
        await create(o, kind, { name: 'f1', framework: 'gguf', license: 'mit', tags: ['nlp', 'chat'], size_category: 'small', task_categories: ['text-generation'] });
        await create(o, kind, { name: 'f2', framework: 'gguf', license: 'apache-2.0', tags: ['nlp'], size_category: 'small' });
        await create(o, kind, { name: 'f3', framework: 'onnx', license: 'mit', tags: ['vision'], size_category: 'tiny' });
      });

      test('unfiltered: totals and value arrays, most frequent first', async () => {
        const r = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/facets`, { token: o.reader });
        assert.equal(r.status, 200, r.text);
        for (const k of ['total', 'filtered_total', 'frameworks', 'licenses', 'size_categories', 'tags', 'task_categories', 'counts']) {
          assert.ok(k in r.json, `facets field ${k}`);
        }
        assert.equal(r.json.total, 3);
        assert.equal(r.json.filtered_total, 3);
        assert.deepEqual(r.json.frameworks, ['gguf', 'onnx']);
        assert.deepEqual(r.json.licenses, ['mit', 'apache-2.0']);
        assert.deepEqual(r.json.size_categories, ['small', 'tiny']);
        assert.equal(r.json.tags[0], 'nlp');
        assert.deepEqual([...r.json.tags].sort(), ['chat', 'nlp', 'vision']);
        assert.deepEqual(r.json.task_categories, ['text-generation']);
        const maps = Object.values(r.json.counts);
        assert.ok(maps.some((m) => m && m.gguf === 2 && m.onnx === 1), `framework counts in ${JSON.stringify(r.json.counts)}`);
        assert.ok(maps.some((m) => m && m.mit === 2 && m['apache-2.0'] === 1), `license counts in ${JSON.stringify(r.json.counts)}`);
      });

      test('disjunctive: a facet keeps its alternatives under its own filter', async () => {
        const r = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/facets?framework=gguf`, { token: o.reader });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.total, 3);
        assert.equal(r.json.filtered_total, 2);
        assert.deepEqual([...r.json.frameworks].sort(), ['gguf', 'onnx'], 'own facet ignores its filter');
        assert.deepEqual([...r.json.licenses].sort(), ['apache-2.0', 'mit']);
        assert.deepEqual(r.json.size_categories, ['small'], 'other facets apply the framework filter');
        const maps = Object.values(r.json.counts);
        assert.ok(maps.some((m) => m && m.gguf === 2 && m.onnx === 1), JSON.stringify(r.json.counts));
        assert.ok(maps.some((m) => m && m.small === 2 && !m.tiny), JSON.stringify(r.json.counts));
      });

      test('facets of another org → 404; reader allowed', async () => {
        const other = await mkOrgWithTokens(srv);
        assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/facets`, { token: other.reader }), 404, 'not_found_error');
      });
    });

    describe('restore', () => {
      test('DELETE then restore → artifact back with its versions', async () => {
        const o = await mkOrgWithTokens(srv);
        const a = await create(o, kind, { name: uniq('r'), summary: 'keep me' });
        const base = `/api/v1/org/${o.slug}/${kind}/${local(a)}`;
        assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
        assert.equal((await api(srv, 'DELETE', base, { token: o.admin })).status, 204);
        assertError(await api(srv, 'POST', `${base}/restore`, { token: o.writer }), 403, 'forbidden_error');
        const r = await api(srv, 'POST', `${base}/restore`, { token: o.admin });
        assert.ok(r.status === 200 || r.status === 201 || r.status === 204, `restore status ${r.status} ${r.text}`);
        const g = await api(srv, 'GET', base, { token: o.reader });
        assert.equal(g.status, 200, g.text);
        assert.equal(g.json.id, a.id);
        assert.equal(g.json.summary, 'keep me');
        assert.equal(g.json.deleted_at, null);
        const v = await api(srv, 'GET', `${base}/versions`, { token: o.reader });
        assert.deepEqual(v.json.versions, ['1.0.0']);
      });

      test('restore of an unknown artifact → 404', async () => {
        const o = await mkOrgWithTokens(srv);
        assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}/${uniq('nx')}/restore`, { token: o.admin }), 404, 'not_found_error');
      });
    });

    describe('duplicate', () => {
      test('duplicate → 201 Artifact with a new id and name, same metadata', async () => {
        const o = await mkOrgWithTokens(srv);
        const a = await create(o, kind, { name: uniq('d'), summary: 'orig', tags: ['x'], license: 'mit' });
        const base = `/api/v1/org/${o.slug}/${kind}/${local(a)}`;
        assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
        const newName = uniq('copy');
        const r = await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: newName } });
        assert.equal(r.status, 201, r.text);
        assert.match(r.json.id, UUID_RE);
        assert.notEqual(r.json.id, a.id);
        assert.equal(r.json.canonical_name, `${o.slug}/${newName}`);
        assert.equal(r.json.summary, 'orig');
        assert.deepEqual(r.json.tags, ['x']);
        assert.equal(r.json.license, 'mit');
        assert.equal(r.json.revision, 1);
        const g = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${newName}`, { token: o.reader });
        assert.equal(g.status, 200);
      });

      test('include_versions copies the versions', async () => {
        const o = await mkOrgWithTokens(srv);
        const a = await create(o, kind, { name: uniq('d') });
        const base = `/api/v1/org/${o.slug}/${kind}/${local(a)}`;
        for (const v of ['1.0.0', '2.0.0-rc.1']) assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: v } })).status, 201);
        const newName = uniq('copy');
        const r = await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: newName, include_versions: true } });
        assert.equal(r.status, 201, r.text);
        const v = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${newName}/versions`, { token: o.reader });
        assert.deepEqual(v.json.versions, ['2.0.0-rc.1', '1.0.0']);
        const n = uniq('copy');
        assert.equal((await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: n } })).status, 201);
        const v2 = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${n}/versions`, { token: o.reader });
        assert.deepEqual(v2.json.versions, [], 'without include_versions no versions are copied');
      });

      test('a UUID-shaped new_name is refused (422): it would shadow lookups by that id', async () => {
        const o = await mkOrgWithTokens(srv);
        const a = await create(o, kind, { name: uniq('d'), summary: 'original' });
        const b = await create(o, kind, { name: uniq('d'), summary: 'victim' });
        const base = `/api/v1/org/${o.slug}/${kind}/${local(a)}`;
        for (const newName of [b.id, b.id.toUpperCase(), '01234567-89ab-cdef-0123-456789abcdef']) {
          const r = await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: newName } });
          assertValidation(r, ['body', 'new_name']);
        }
        const g = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${b.id}`, { token: o.reader });
        assert.equal(g.status, 200, g.text);
        assert.equal(g.json.id, b.id);
        assert.equal(g.json.summary, 'victim');
      });

      test('duplicate errors: taken name 409, invalid name 422, reader 403, missing new_name 422', async () => {
        const o = await mkOrgWithTokens(srv);
        const a = await create(o, kind, { name: uniq('d') });
        const b = await create(o, kind, { name: uniq('d') });
        const base = `/api/v1/org/${o.slug}/${kind}/${local(a)}`;
        assertError(await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: local(b) } }), 409, 'already_exists_error');
        assertValidation(await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: '-bad' } }), ['body', 'new_name']);
        assertValidation(await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: {} }), ['body', 'new_name'], 'missing');
        assertError(await api(srv, 'POST', `${base}/duplicate`, { token: o.reader, body: { new_name: uniq('x') } }), 403, 'forbidden_error');
      });
    });

    describe('bulk', () => {
      test('create/update/delete in one call, each item on its own', async () => {
        const o = await mkOrgWithTokens(srv);
        const existing = await create(o, kind, { name: uniq('b') });
        const victim = await create(o, kind, { name: uniq('b') });
        const n1 = uniq('b');
        const r = await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}/bulk`, {
          token: o.admin,
          body: {
            create: [{ name: n1, summary: 'bulk' }, { name: local(existing) }],
            update: [{ name: local(existing), summary: 'updated' }, { name: uniq('missing'), summary: 'x' }],
            delete: [local(victim)],
          },
        });
        assert.equal(r.status, 200, r.text);
        assert.ok(Array.isArray(r.json.results));
        assert.equal(r.json.results.length, 5);
        const find = (op, name) => r.json.results.find((x) => x.op === op && x.name === name);
        const c1 = find('create', n1);
        assert.ok(c1 && c1.ok === true, JSON.stringify(r.json.results));
        assert.match(c1.id, UUID_RE);
        const c2 = find('create', local(existing));
        assert.ok(c2 && c2.ok === false);
        assertError({ status: c2.error.code, json: c2.error, text: JSON.stringify(c2.error), headers: new Headers({ 'content-type': 'application/json' }) }, 409, 'already_exists_error');
        const u1 = find('update', local(existing));
        assert.ok(u1 && u1.ok === true);
        const u2 = r.json.results.find((x) => x.op === 'update' && x.ok === false);
        assert.ok(u2, 'update of a missing artifact fails');
        assert.equal(u2.error.code, 404);
        assert.equal(u2.error.type, 'not_found_error');
        const d1 = find('delete', local(victim));
        assert.ok(d1 && d1.ok === true);
        assert.equal((await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${n1}`, { token: o.reader })).json.summary, 'bulk');
        assert.equal((await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${local(existing)}`, { token: o.reader })).json.summary, 'updated');
        assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${local(victim)}`, { token: o.reader }), 404, 'not_found_error');
      });

      test('bulk by a reader → 403; unknown top-level key → 422', async () => {
        const o = await mkOrgWithTokens(srv);
        assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}/bulk`, { token: o.reader, body: { create: [{ name: uniq('b') }] } }), 403, 'forbidden_error');
        assertValidation(await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}/bulk`, { token: o.writer, body: { upsert: [] } }), ['body', 'upsert'], 'extra_forbidden');
      });
    });

    describe('export.csv', () => {
      test('RFC 4180 CSV, one row per (artifact, version), ?name= for one', async () => {
        const o = await mkOrgWithTokens(srv);
        const tricky = 'He said "hi", then\nleft';
        const a = await create(o, kind, { name: uniq('e'), summary: tricky });
        const b = await create(o, kind, { name: uniq('e'), summary: 'plain' });
        for (const v of ['1.0.0', '1.1.0']) {
          assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}/${local(a)}/versions`, { token: o.writer, body: { version: v } })).status, 201);
        }
        assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}/${local(b)}/versions`, { token: o.writer, body: { version: '0.1.0' } })).status, 201);
        const r = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/export.csv`, { token: o.reader });
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.match(r.headers.get('content-type') || '', /^text\/csv/);
        const rows = parseCsv(r.text).filter((row) => row.length > 1 || row[0] !== '');
        assert.ok(rows.length >= 4, `header + 3 rows, got ${rows.length}`);
        const width = rows[0].length;
        for (const row of rows) assert.equal(row.length, width, `ragged row ${JSON.stringify(row)}`);
        const rowsA = rows.filter((row) => row.some((f) => f === local(a) || f === `${o.slug}/${local(a)}`));
        const rowsB = rows.filter((row) => row.some((f) => f === local(b) || f === `${o.slug}/${local(b)}`));
        assert.equal(rowsA.length, 2, 'two rows for the artifact with two versions');
        assert.equal(rowsB.length, 1);
        assert.ok(rowsA.every((row) => row.includes(tricky)), 'quotes, comma and newline round-trip');
        assert.ok(rowsA.some((row) => row.includes('1.0.0')) && rowsA.some((row) => row.includes('1.1.0')));
        const one = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/export.csv?name=${local(b)}`, { token: o.reader });
        assert.equal(one.status, 200);
        const oneRows = parseCsv(one.text).filter((row) => row.length > 1 || row[0] !== '');
        assert.equal(oneRows.length, 2, 'header + the one row');
      });
    });

    describe('docs', () => {
      test('docs: model card rendered to safe HTML, api_operations listed', async () => {
        const o = await mkOrgWithTokens(srv);
        const description = '# Title\n\nSome **bold** text.\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2))\n\n<img src=x onerror="alert(3)">';
        const a = await create(o, kind, { name: uniq('doc'), description });
        const r = await api(srv, 'GET', `/api/v1/org/${o.slug}/${kind}/${local(a)}/docs`, { token: o.reader });
        assert.equal(r.status, 200, r.text);
        for (const k of ['name', 'type', 'description', 'html', 'versions', 'resources', 'api_operations']) assert.ok(k in r.json, `docs field ${k}`);
        assert.equal(r.json.description, description);
        assert.match(r.json.html, /<h1[^>]*>\s*Title\s*<\/h1>/);
        assert.match(r.json.html, /<strong>bold<\/strong>/);
        assert.doesNotMatch(r.json.html, /<script/i);
        assert.doesNotMatch(r.json.html, /javascript:/i);
        assert.doesNotMatch(r.json.html, /onerror\s*=/i);
        assert.ok(Array.isArray(r.json.api_operations) && r.json.api_operations.length > 0);
        for (const op of r.json.api_operations) {
          assert.equal(typeof op.method, 'string');
          assert.equal(typeof op.path, 'string');
          assert.equal(typeof op.summary, 'string');
        }
      });
    });
  });
}
