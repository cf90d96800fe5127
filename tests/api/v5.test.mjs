// The seed-002 RPC catalog API at /api/v5/artifacts/models/* (API.md §10): one test per
// operation checks every documented response field and its type; then the conflict,
// validation, cross-org and role paths, and changes made through v5 showing in v1 and back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { CAIRND, startServer, api, mkOrgWithTokens, uniq, UUID_RE, TS_RE, assertError } from './harness.mjs';

const V = '/api/v5/artifacts/models/';
const RELS = ['provider_ids', 'department_ids', 'agent_ids', 'modality_ids', 'pricing_ids', 'quality_ids',
  'reasoning_level_ids', 'temperature_level_ids', 'value_ids', 'voice_ids', 'flag_ids'];
const SECTIONS = { providers: 'provider_ids', departments: 'department_ids', agents: 'agent_ids',
  modalities: 'modality_ids', pricing: 'pricing_ids', qualities: 'quality_ids', reasoning_levels: 'reasoning_level_ids',
  temperature_levels: 'temperature_level_ids', values: 'value_ids', voices: 'voice_ids', flags: 'flag_ids' };

let s, A, B;
before(async () => {
  s = await startServer();
  A = await mkOrgWithTokens(s, uniq('v5a'));
  B = await mkOrgWithTokens(s, uniq('v5b'));
});
after(async () => { await s?.stop(); });

// Checks that obj has every field of spec with its type: 'string', 'integer', 'boolean',
// 'array', 'object', a suffix '?' allows null.
function shape(obj, spec, ctx = '') {
  assert.ok(obj && typeof obj === 'object' && !Array.isArray(obj), `${ctx}: not an object: ${JSON.stringify(obj)}`);
  for (const [k, t] of Object.entries(spec)) {
    assert.ok(k in obj, `${ctx}: field ${k} missing in ${JSON.stringify(obj).slice(0, 300)}`);
    const v = obj[k];
    const type = t.replace('?', '');
    if (t.endsWith('?') && v === null) continue;
    const ok = type === 'integer' ? Number.isInteger(v) : type === 'array' ? Array.isArray(v)
      : type === 'object' ? v !== null && typeof v === 'object' && !Array.isArray(v) : typeof v === type;
    assert.ok(ok, `${ctx}: ${k} should be ${t}, is ${JSON.stringify(v)}`);
  }
}

const MODEL = { model_id: 'string', name: 'string', name_id: 'string', canonical_name: 'string', description: 'string?',
  summary: 'string?', is_public: 'boolean', enabled: 'boolean', revision: 'integer', latest_version: 'string?',
  version_count: 'integer', created_at: 'string', updated_at: 'string', ...Object.fromEntries(RELS.map((r) => [r, 'array'])) };
const FORM = { draft_id: 'string', version: 'integer', name: 'string?', name_id: 'string?', description: 'string?',
  description_id: 'string?', ...Object.fromEntries(RELS.map((r) => [r, 'array'])) };

async function create(org, token, items) {
  const r = await api(s, 'POST', V + 'create', { token, body: { models: items } });
  assert.equal(r.status, 200, r.text);
  return r.json.results;
}

async function v1get(org, name, token = org.reader) {
  return api(s, 'GET', `/api/v1/org/${org.slug}/models/${encodeURIComponent(name)}`, { token });
}

test('get: every documented field, by id or local name; unknown and another org\'s model → model_exists false', async () => {
  const [res] = await create(A, A.writer, [{ name: 'Get Me', description: '# card', provider_ids: ['p2', 'p1', 'p2'], flag_ids: ['f'] }]);
  assert.equal(res.success, true, JSON.stringify(res));
  for (const [token, canEdit] of [[A.reader, false], [A.writer, true], [A.admin, true]]) {
    const r = await api(s, 'POST', V + 'get', { token, body: { model_id: res.model_id } });
    assert.equal(r.status, 200, r.text);
    shape(r.json, { actor_name: 'string', model_exists: 'boolean', can_edit: 'boolean', disabled_reason: 'string?',
      draft_version: 'integer?', group_id: 'string', basic_show_ai_generate: 'boolean', provider_show_ai_generate: 'boolean',
      features_show_ai_generate: 'boolean', names: 'object', descriptions: 'object', model_id: 'string', revision: 'integer',
      ...Object.fromEntries(Object.keys(SECTIONS).map((k) => [k, 'object'])) }, 'get');
    assert.equal(r.json.model_exists, true);
    assert.equal(r.json.can_edit, canEdit);
    assert.equal(r.json.disabled_reason === null, canEdit);
    assert.equal(r.json.draft_version, null);
    assert.equal(r.json.group_id, A.slug);
    assert.deepEqual(r.json.names, { name: 'Get Me', name_id: 'Get-Me' });
    assert.deepEqual(r.json.descriptions, { description: '# card', description_id: null });
    assert.deepEqual(r.json.providers, { provider_ids: ['p1', 'p2'] }); // a set: sorted, no repeats
    assert.deepEqual(r.json.flags, { flag_ids: ['f'] });
    for (const [sec, list] of Object.entries(SECTIONS)) assert.ok(Array.isArray(r.json[sec][list]), sec);
  }
  const byName = await api(s, 'POST', V + 'get', { token: A.reader, body: { model_id: 'Get-Me' } });
  assert.equal(byName.json.model_id, res.model_id);
  const none = await api(s, 'POST', V + 'get', { token: A.reader, body: { model_id: 'nope' } });
  assert.equal(none.status, 200, none.text);
  assert.equal(none.json.model_exists, false);
  assert.equal(none.json.names, null);
  // Another org's model is not revealed, by id or by name.
  const other = await api(s, 'POST', V + 'get', { token: B.admin, body: { model_id: res.model_id } });
  assert.equal(other.status, 200, other.text);
  assert.equal(other.json.model_exists, false);
  assert.equal(other.json.providers, null);
});

test('search: full text, relation filters (OR within, AND across), disjunctive counts, value search, paging', async () => {
  const org = await mkOrgWithTokens(s, uniq('v5s'));
  const rs = await create(org, org.writer, [
    { name: 'alpha one', provider_ids: ['openai'], department_ids: ['sales'], agent_ids: ['bot'] },
    { name: 'alpha two', provider_ids: ['meta'], department_ids: ['sales', 'eng'] },
    { name: 'beta three', provider_ids: ['openai', 'mistral'], department_ids: ['eng'] },
    { name: 'gamma four', provider_ids: ['mistral'] },
  ]);
  assert.ok(rs.every((x) => x.success), JSON.stringify(rs));
  const all = await api(s, 'POST', V + 'search', { token: org.reader, body: {} });
  assert.equal(all.status, 200, all.text);
  shape(all.json, { actor_name: 'string', models: 'array', provider_filter: 'object', department_filter: 'object',
    agent_filter: 'object', total_count: 'integer' }, 'search');
  assert.equal(all.json.total_count, 4);
  all.json.models.forEach((m, i) => shape(m, MODEL, `models[${i}]`));
  for (const f of ['provider_filter', 'department_filter', 'agent_filter']) {
    shape(all.json[f], { options: 'array', selected_ids: 'array', search: 'string?' }, f);
    all.json[f].options.forEach((o) => shape(o, { id: 'string', count: 'integer', selected: 'boolean' }, f));
  }
  assert.deepEqual(all.json.provider_filter.options.map((o) => [o.id, o.count]), [['mistral', 2], ['openai', 2], ['meta', 1]]);

  // AND across lists, OR within one.
  const f = await api(s, 'POST', V + 'search', { token: org.reader, body: {
    filter_provider_ids: ['openai', 'meta'], filter_department_ids: ['sales'] } });
  assert.equal(f.status, 200, f.text);
  assert.deepEqual(f.json.models.map((m) => m.name).sort(), ['alpha one', 'alpha two']);
  assert.equal(f.json.total_count, 2);
  // Provider counts apply the department filter but not the provider filter itself, and
  // department counts the other way round.
  assert.deepEqual(Object.fromEntries(f.json.provider_filter.options.map((o) => [o.id, o.count])), { meta: 1, openai: 1 });
  // (alpha one: sales; alpha two: sales, eng; beta three: eng; gamma has no openai/meta)
  assert.deepEqual(Object.fromEntries(f.json.department_filter.options.map((o) => [o.id, o.count])), { sales: 2, eng: 2 });
  const g = await api(s, 'POST', V + 'search', { token: org.reader, body: { filter_department_ids: ['eng'] } });
  assert.deepEqual(Object.fromEntries(g.json.provider_filter.options.map((o) => [o.id, o.count])), { meta: 1, mistral: 1, openai: 1 });
  assert.deepEqual(f.json.provider_filter.selected_ids, ['openai', 'meta']);
  assert.equal(f.json.provider_filter.options.find((o) => o.id === 'openai').selected, true);
  assert.equal(f.json.department_filter.options.find((o) => o.id === 'eng').selected, false);

  // Full text plus a filter; a value search narrows the listed ids only.
  const t = await api(s, 'POST', V + 'search', { token: org.reader, body: {
    search: 'alpha', filter_agent_ids: ['bot'], provider_search: 'OPEN' } });
  assert.deepEqual(t.json.models.map((m) => m.name), ['alpha one']);
  assert.deepEqual(t.json.provider_filter.options.map((o) => o.id), ['openai']);
  assert.equal(t.json.provider_filter.search, 'OPEN');
  const none = await api(s, 'POST', V + 'search', { token: org.reader, body: { provider_search: '%' } });
  assert.deepEqual(none.json.provider_filter.options, [], 'LIKE wildcards are matched literally');

  // Pages by size and offset, without repeats.
  const seen = [];
  for (let off = 0; off < 4; off += 3) {
    const p = await api(s, 'POST', V + 'search', { token: org.reader, body: { page_size: 3, page_offset: off } });
    assert.equal(p.json.total_count, 4);
    seen.push(...p.json.models.map((m) => m.model_id));
  }
  assert.equal(seen.length, 4);
  assert.equal(new Set(seen).size, 4);
  // Another org sees none of them.
  const b = await api(s, 'POST', V + 'search', { token: B.reader, body: { filter_provider_ids: ['openai'] } });
  assert.equal(b.json.models.some((m) => rs.some((x) => x.model_id === m.model_id)), false);
});

test('create: per-item results; a bad item fails alone with its loc; name_id derived or given; 409 on a taken name', async () => {
  const n = uniq('cr');
  const r = await api(s, 'POST', V + 'create', { token: A.writer, body: { models: [
    { name: `${n} model`, description: 'd', is_public: true, voice_ids: ['v1'] },
    { name: 'x', provider_ids: 'not-a-list' },
    { name: 'y', name_id: 'bad name!' },
    { name: 'z', bogus: 1 },
    { name: 'dup', name_id: `${n}-model` },
  ] } });
  assert.equal(r.status, 200, r.text);
  const res = r.json.results;
  assert.equal(res.length, 5);
  res.forEach((x, i) => shape(x, { index: 'integer', success: 'boolean', model_id: 'string?', name: 'string?', message: 'string', error: 'object?' }, `results[${i}]`));
  assert.equal(res[0].success, true);
  assert.match(res[0].model_id, UUID_RE);
  assert.equal(res[0].name, `${n} model`);
  assert.deepEqual(res[1].error.errors[0].loc, ['body', 'models', 1, 'provider_ids']);
  assert.equal(res[1].error.code, 422);
  assert.deepEqual(res[2].error.errors[0].loc, ['body', 'models', 2, 'name_id']);
  assert.deepEqual(res[3].error.errors[0].loc, ['body', 'models', 3, 'bogus']);
  assert.equal(res[3].error.errors[0].type, 'extra_forbidden');
  assert.equal(res[4].success, false);
  assert.equal(res[4].error.code, 409);
  assert.equal(res[4].error.type, 'already_exists_error');
  const v1 = await v1get(A, `${n}-model`);
  assert.equal(v1.status, 200, v1.text);
  assert.equal(v1.json.id, res[0].model_id);
  assert.equal(v1.json.pretty_name, `${n} model`);
  assert.equal(v1.json.is_public, true);
  assert.deepEqual(v1.json.relations.voice_ids, ['v1']);
  for (const bad of ['x', 'y', 'z']) assert.equal((await v1get(A, bad)).status, 404, `${bad} was not created`);
});

test('update: per-item results; relation lists replace their sets; stale expected_revision fails that item only', async () => {
  const n = uniq('up');
  const [m1, m2] = await create(A, A.writer, [{ name: `${n}-a`, provider_ids: ['p'], department_ids: ['d'] }, { name: `${n}-b` }]);
  const r = await api(s, 'POST', V + 'update', { token: A.writer, body: { models: [
    { model_id: m1.model_id, name: 'Renamed', provider_ids: ['q', 'r'], name_id: `${n}-a`, expected_revision: 1 },
    { model_id: m2.model_id, description: 'x', expected_revision: 7 },
    { model_id: 'missing-model', description: 'x' },
    { model_id: m2.model_id, name_id: 'other-name' },
  ] } });
  assert.equal(r.status, 200, r.text);
  const res = r.json.results;
  res.forEach((x, i) => shape(x, { index: 'integer', success: 'boolean', model_id: 'string?', name: 'string?', message: 'string', error: 'object?' }, `results[${i}]`));
  assert.equal(res[0].success, true, JSON.stringify(res[0]));
  assert.equal(res[0].name, 'Renamed');
  assert.equal(res[1].error.type, 'conflict_error');
  assert.equal(res[2].error.type, 'not_found_error');
  assert.deepEqual(res[3].error.errors[0].loc, ['body', 'models', 3, 'name_id'], 'the local name is fixed');
  const v1 = await v1get(A, m1.model_id);
  assert.equal(v1.json.pretty_name, 'Renamed');
  assert.deepEqual(v1.json.relations.provider_ids, ['q', 'r']);
  assert.deepEqual(v1.json.relations.department_ids, ['d'], 'lists not given are kept');
  assert.equal(v1.json.revision, 2);
  assert.equal((await v1get(A, m2.model_id)).json.description, null, 'the stale item changed nothing');
});

test('duplicate: {success, model_id, message}; copies relations; a second copy gets the next free name', async () => {
  const n = uniq('dp');
  const [m] = await create(A, A.writer, [{ name: n, modality_ids: ['text'] }]);
  const d1 = await api(s, 'POST', V + 'duplicate', { token: A.writer, body: { model_id: m.model_id } });
  assert.equal(d1.status, 200, d1.text);
  shape(d1.json, { success: 'boolean', model_id: 'string', message: 'string' }, 'duplicate');
  assert.equal(d1.json.success, true);
  assert.notEqual(d1.json.model_id, m.model_id);
  const c1 = await v1get(A, d1.json.model_id);
  assert.equal(c1.json.canonical_name, `${A.slug}/${n}-copy`);
  assert.deepEqual(c1.json.relations.modality_ids, ['text']);
  const d2 = await api(s, 'POST', V + 'duplicate', { token: A.writer, body: { model_id: m.model_id } });
  assert.equal((await v1get(A, d2.json.model_id)).json.canonical_name, `${A.slug}/${n}-copy-2`);
  assertError(await api(s, 'POST', V + 'duplicate', { token: A.writer, body: { model_id: 'no-such' } }), 404, 'not_found_error');
  assertError(await api(s, 'POST', V + 'duplicate', { token: B.admin, body: { model_id: m.model_id } }), 404, 'not_found_error');
  assertError(await api(s, 'POST', V + 'duplicate', { token: A.reader, body: { model_id: m.model_id } }), 403, 'forbidden_error');
});

test('delete: model_ids → per-item results; admin only; another org\'s id is not found', async () => {
  const n = uniq('dl');
  const [m] = await create(A, A.writer, [{ name: n }]);
  assertError(await api(s, 'POST', V + 'delete', { token: A.writer, body: { model_ids: [m.model_id] } }), 403, 'forbidden_error');
  const cross = await api(s, 'POST', V + 'delete', { token: B.admin, body: { model_ids: [m.model_id] } });
  assert.equal(cross.status, 200, cross.text);
  assert.equal(cross.json.results[0].success, false);
  assert.equal(cross.json.results[0].error.code, 404);
  assert.equal((await v1get(A, n)).status, 200, 'still there');
  const r = await api(s, 'POST', V + 'delete', { token: A.admin, body: { model_ids: [m.model_id, 'ghost'] } });
  assert.equal(r.status, 200, r.text);
  r.json.results.forEach((x, i) => shape(x, { model_id: 'string', success: 'boolean', message: 'string', error: 'object?' }, `results[${i}]`));
  assert.deepEqual(r.json.results.map((x) => x.success), [true, false]);
  assert.equal(r.json.results[1].error.type, 'not_found_error');
  assert.equal((await v1get(A, n)).status, 404);
  // Soft delete: v1 restore brings it back.
  const back = await api(s, 'POST', `/api/v1/org/${A.slug}/models/${n}/restore`, { token: A.admin });
  assert.equal(back.status, 200, back.text);
});

test('draft: created at version 1, integer versions, stale or ahead expected_version → 409, form_state returned', async () => {
  const r = await api(s, 'PATCH', V + 'draft', { token: A.writer, body: { name: 'Draft', provider_ids: ['b', 'a', 'b'] } });
  assert.equal(r.status, 200, r.text);
  shape(r.json, { success: 'boolean', draft_id: 'string', new_version: 'integer', message: 'string', form_state: 'object' }, 'draft');
  shape(r.json.form_state, FORM, 'form_state');
  assert.equal(r.json.new_version, 1);
  assert.deepEqual(r.json.form_state.provider_ids, ['a', 'b']);
  const id = r.json.draft_id;
  const r2 = await api(s, 'PATCH', V + 'draft', { token: A.writer, body: { input_draft_id: id, expected_version: 1, description: 'text', provider_ids: null } });
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.new_version, 2);
  assert.equal(r2.json.form_state.name, 'Draft', 'fields not given are kept');
  assert.equal(r2.json.form_state.description, 'text');
  assert.deepEqual(r2.json.form_state.provider_ids, [], 'null empties a list');
  for (const v of [1, 3]) { // stale, ahead
    const c = await api(s, 'PATCH', V + 'draft', { token: A.writer, body: { input_draft_id: id, expected_version: v, name: 'lost' } });
    assertError(c, 409, 'conflict_error');
    assert.match(c.json.detail, /current version is 2/);
  }
  assertError(await api(s, 'PATCH', V + 'draft', { token: A.writer, body: { expected_version: 4, name: 'n' } }), 409, 'conflict_error');
  // Owned by the token: another token of the same org, or another org, does not see it.
  assertError(await api(s, 'PATCH', V + 'draft', { token: A.admin, body: { input_draft_id: id, name: 'x' } }), 404, 'not_found_error');
  assertError(await api(s, 'PATCH', V + 'draft', { token: B.admin, body: { input_draft_id: id, name: 'x' } }), 404, 'not_found_error');
  assertError(await api(s, 'PATCH', V + 'draft', { token: A.reader, body: { name: 'x' } }), 403, 'forbidden_error');
  // get by draft_id shows it with its version; a draft turns into a model with create.
  const g = await api(s, 'POST', V + 'get', { token: A.writer, body: { draft_id: id } });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.draft_version, 2);
  assert.equal(g.json.model_exists, false);
  assert.deepEqual(g.json.names, { name: 'Draft', name_id: null });
  assertError(await api(s, 'POST', V + 'get', { token: A.admin, body: { draft_id: id } }), 404, 'not_found_error');
  const n = uniq('fromdraft');
  const [c] = await create(A, A.writer, [{ draft_id: id, name_id: n }]);
  assert.equal(c.success, true, JSON.stringify(c));
  const v1 = await v1get(A, n);
  assert.equal(v1.json.pretty_name, 'Draft');
  assert.equal(v1.json.description, 'text');
  assertError(await api(s, 'POST', V + 'get', { token: A.writer, body: { draft_id: id } }), 404, 'not_found_error');
});

test('drafts: only the calling token\'s, newest first, every documented field', async () => {
  const org = await mkOrgWithTokens(s, uniq('v5d'));
  const mine = [];
  for (const name of ['first', 'second']) {
    const r = await api(s, 'PATCH', V + 'draft', { token: org.writer, body: { name, value_ids: ['v'] } });
    mine.push(r.json.draft_id);
  }
  await api(s, 'PATCH', V + 'draft', { token: org.admin, body: { name: 'not yours' } });
  const r = await api(s, 'POST', V + 'drafts', { token: org.writer });
  assert.equal(r.status, 200, r.text);
  shape(r.json, { entries: 'array' }, 'drafts');
  assert.deepEqual(r.json.entries.map((e) => e.draft_id), [mine[1], mine[0]]);
  for (const e of r.json.entries) {
    shape(e, { draft_id: 'string', draft_version: 'integer', created_at: 'string', updated_at: 'string', actor_name: 'string',
      names: 'object', descriptions: 'object', form_state: 'object', ...Object.fromEntries(Object.keys(SECTIONS).map((k) => [k, 'object'])) }, 'entry');
    assert.match(e.updated_at, TS_RE);
    shape(e.form_state, FORM, 'entry.form_state');
    assert.deepEqual(e.values, { value_ids: ['v'] });
  }
  const reader = await api(s, 'POST', V + 'drafts', { token: org.reader });
  assert.deepEqual(reader.json.entries, []);
});

test('docs: every documented field; roles match the route table; entity_id adds the model\'s page', async () => {
  const [m] = await create(A, A.writer, [{ name: uniq('doc'), description: '# Title\n\nbody' }]);
  const r = await api(s, 'POST', V + 'docs', { token: A.reader, body: { entity_id: m.model_id } });
  assert.equal(r.status, 200, r.text);
  shape(r.json, { name: 'string', type: 'string', description: 'string', artifact: 'object?', entries: 'array',
    resources: 'array', permissions: 'array', api_operations: 'array', page_metadata: 'object?' }, 'docs');
  shape(r.json.artifact, { name: 'string', type: 'string', description: 'string?', html: 'string' }, 'artifact');
  assert.match(r.json.artifact.html, /<h1>Title<\/h1>/);
  r.json.entries.forEach((e) => shape(e, { name: 'string', type: 'string', description: 'string' }, 'entry'));
  r.json.api_operations.forEach((o) => shape(o, { method: 'string', path: 'string', summary: 'string' }, 'op'));
  const routes = JSON.parse(execFileSync(CAIRND, ['routes'], { encoding: 'utf8' })).filter((x) => x.pattern.startsWith(V));
  assert.equal(r.json.permissions.length, routes.length);
  for (const p of r.json.permissions) {
    shape(p, { name: 'string', method: 'string', path: 'string', summary: 'string', role: 'string', allowed: 'boolean' }, 'permission');
    const rt = routes.find((x) => x.method === p.method && x.pattern === p.path);
    assert.ok(rt, `docs lists ${p.method} ${p.path}, which is no route`);
    assert.equal(p.role, rt.access, `${p.path}: docs say ${p.role}, the route table ${rt.access}`);
    assert.equal(p.allowed, p.role === 'reader', `${p.path} allowed for a reader`);
  }
  const plain = await api(s, 'POST', V + 'docs', { token: A.reader, body: {} });
  assert.equal(plain.json.artifact, null);
  assertError(await api(s, 'POST', V + 'docs', { token: B.reader, body: { entity_id: m.model_id } }), 404, 'not_found_error');
});

test('export: writes a stored CSV upload that downloads; row_count counts its rows; other orgs get 404', async () => {
  const org = await mkOrgWithTokens(s, uniq('v5x'));
  const rs = await create(org, org.writer, [{ name: 'exp one' }, { name: 'exp, "two"' }]);
  const ver = await api(s, 'POST', `/api/v1/org/${org.slug}/models/exp-one/versions`, { token: org.writer, body: { version: '1.0.0' } });
  assert.equal(ver.status, 201, ver.text);
  await api(s, 'POST', `/api/v1/org/${org.slug}/models/exp-one/versions`, { token: org.writer, body: { version: '1.1.0' } });
  const r = await api(s, 'POST', V + 'export', { token: org.reader, body: {} });
  assert.equal(r.status, 200, r.text);
  shape(r.json, { upload_id: 'string', file_name: 'string', row_count: 'integer' }, 'export');
  assert.equal(r.json.row_count, 3, 'two versions of one model, one model without versions');
  assert.equal(r.json.file_name, `${org.slug}-models.csv`);
  const d = await api(s, 'GET', `${V}uploads/${r.json.upload_id}`, { token: org.reader });
  assert.equal(d.status, 200, d.text);
  assert.match(d.headers.get('content-type'), /^text\/csv/);
  const lines = d.text.trim().split('\r\n');
  assert.equal(lines.length, 1 + 3);
  assert.ok(lines[0].startsWith('org,name,canonical_name'));
  assert.ok(d.text.includes('"exp, ""two"""'), 'RFC 4180 quoting');
  const one = await api(s, 'POST', V + 'export', { token: org.reader, body: { model_id: rs[0].model_id } });
  assert.equal(one.json.row_count, 2);
  assert.equal(one.json.file_name, `${org.slug}-exp-one.csv`);
  assertError(await api(s, 'GET', `${V}uploads/${r.json.upload_id}`, { token: B.admin }), 404, 'not_found_error');
  assertError(await api(s, 'POST', V + 'export', { token: org.reader, body: { model_id: 'ghost' } }), 404, 'not_found_error');
  // The stored upload survives a gc (a row refers to its blob).
  const gc = await api(s, 'POST', '/api/v1/admin/gc', { token: s.adminToken });
  assert.equal(gc.status, 200, gc.text);
  assert.equal((await api(s, 'GET', `${V}uploads/${r.json.upload_id}`, { token: org.reader })).status, 200);
});

test('refresh: names the views rebuilt and caches dropped; admin only; also POST /api/v1/admin/refresh', async () => {
  const r = await api(s, 'POST', V + 'refresh', { token: A.admin });
  assert.equal(r.status, 200, r.text);
  shape(r.json, { success: 'boolean', refreshed_views: 'array', invalidated_tags: 'array' }, 'refresh');
  assert.deepEqual(r.json.refreshed_views, ['artifact_facets', 'artifact_search']);
  assert.deepEqual(r.json.invalidated_tags, ['responses', 'manifest', 'facet_index']);
  assertError(await api(s, 'POST', V + 'refresh', { token: A.writer }), 403, 'forbidden_error');
  assertError(await api(s, 'POST', '/api/v1/admin/refresh', { token: A.admin }), 403, 'forbidden_error');
  const adm = await api(s, 'POST', '/api/v1/admin/refresh', { token: s.adminToken });
  assert.equal(adm.status, 200, adm.text);
  assert.ok(adm.json.artifacts >= 1);
  // A cached facets response is dropped: the next one is rebuilt from the refreshed rows.
  const url = `/api/v1/org/${A.slug}/models/facets`;
  await api(s, 'GET', url, { token: A.reader });
  const again = await api(s, 'POST', '/api/v1/admin/refresh', { token: s.adminToken });
  assert.ok(again.json.responses_dropped >= 1, JSON.stringify(again.json));
  // Search after a refresh finds exactly what it found before.
  const before = await api(s, 'POST', V + 'search', { token: A.reader, body: { filter_provider_ids: ['p1'] } });
  await api(s, 'POST', V + 'refresh', { token: A.admin });
  const after2 = await api(s, 'POST', V + 'search', { token: A.reader, body: { filter_provider_ids: ['p1'] } });
  assert.deepEqual(after2.json.models.map((m) => m.model_id), before.json.models.map((m) => m.model_id));
  assert.ok(before.json.total_count >= 1);
});

test('auth: X-Api-Key and authorization both work; every operation without a valid token → 401', async () => {
  const ops = JSON.parse(execFileSync(CAIRND, ['routes'], { encoding: 'utf8' })).filter((x) => x.pattern.startsWith(V));
  assert.equal(ops.length, 12);
  for (const op of ops) {
    const url = op.pattern.replace('{upload_id}', '0190d000-0000-7000-8000-000000000000');
    for (const opts of [{}, { token: 'cairn_bogus' }, { apiKey: 'cairn_bogus' }]) {
      const r = await api(s, op.method, url, { ...opts, body: op.method === 'GET' ? undefined : {} });
      assertError(r, 401, 'authentication_error');
    }
  }
  const viaKey = await api(s, 'POST', V + 'search', { apiKey: A.reader, body: {} });
  assert.equal(viaKey.status, 200, viaKey.text);
  const viaBearer = await api(s, 'POST', V + 'search', { token: A.reader, body: {} });
  assert.equal(viaBearer.status, 200);
  assert.equal(viaBearer.json.total_count, viaKey.json.total_count);
});

test('validation: missing required list, wrong types → 422 with loc; malformed JSON → 400; unknown field → 422', async () => {
  const miss = await api(s, 'POST', V + 'create', { token: A.writer, body: {} });
  assertError(miss, 422, 'validation_error');
  assert.deepEqual(miss.json.errors[0].loc, ['body', 'models']);
  assert.equal(miss.json.errors[0].type, 'missing');
  const del = await api(s, 'POST', V + 'delete', { token: A.admin, body: {} });
  assert.deepEqual(del.json.errors[0].loc, ['body', 'model_ids']);
  const ps = await api(s, 'POST', V + 'search', { token: A.reader, body: { page_size: '10' } });
  assertError(ps, 422, 'validation_error');
  assert.deepEqual(ps.json.errors[0].loc, ['body', 'page_size']);
  const ev = await api(s, 'PATCH', V + 'draft', { token: A.writer, body: { expected_version: 'one' } });
  assertError(ev, 422, 'validation_error');
  assert.deepEqual(ev.json.errors[0].loc, ['body', 'expected_version']);
  const fl = await api(s, 'POST', V + 'search', { token: A.reader, body: { filter_provider_ids: 'openai' } });
  assert.deepEqual(fl.json.errors[0].loc, ['body', 'filter_provider_ids']);
  const zero = await api(s, 'POST', V + 'search', { token: A.reader, body: { page_size: 0 } });
  assert.deepEqual(zero.json.errors[0].loc, ['body', 'page_size']);
  const ms = await api(s, 'POST', V + 'search', { token: A.reader, body: { modality_search: 'x' } });
  assert.deepEqual(ms.json.errors[0].loc, ['body', 'modality_search'], 'only the three filter sections take a search');
  const extra = await api(s, 'POST', V + 'get', { token: A.reader, body: { modelid: 'x' } });
  assert.equal(extra.json.errors[0].type, 'extra_forbidden');
  const neither = await api(s, 'POST', V + 'get', { token: A.reader, body: {} });
  assert.deepEqual(neither.json.errors[0].loc, ['body', 'model_id']);
  // The seed's fields are nullable: null is the same as absent.
  const nul = await api(s, 'POST', V + 'search', { token: A.reader, body: { search: null, page_size: null, filter_agent_ids: null } });
  assert.equal(nul.status, 200, nul.text);
  const bad = await api(s, 'POST', V + 'search', { token: A.reader, rawBody: '{"search": ', headers: { 'content-type': 'application/json' } });
  assertError(bad, 400, 'invalid_error');
  // v1 validates relations the same way.
  const v1 = await api(s, 'POST', `/api/v1/org/${A.slug}/models`, { token: A.writer, body: { name: uniq('rv'), relations: { colour_ids: ['x'] } } });
  assertError(v1, 422, 'validation_error');
  assert.deepEqual(v1.json.errors[0].loc, ['body', 'relations', 'colour_ids']);
  const v1b = await api(s, 'POST', `/api/v1/org/${A.slug}/models`, { token: A.writer, body: { name: uniq('rv'), relations: { flag_ids: [''] } } });
  assert.deepEqual(v1b.json.errors[0].loc, ['body', 'relations', 'flag_ids']);
  // The same rule through v5 (its check runs first) and through a draft.
  const [it] = await create(A, A.writer, [{ name: uniq('rv'), flag_ids: [''] }]);
  assert.deepEqual(it.error.errors[0].loc, ['body', 'models', 0, 'flag_ids']);
});

test('round trip: a change through v5 shows in v1, and a change through v1 shows in v5', async () => {
  const n = uniq('rt');
  const [m] = await create(A, A.writer, [{ name: n, department_ids: ['ops'] }]);
  // v5 → v1
  await api(s, 'POST', V + 'update', { token: A.writer, body: { models: [{ model_id: m.model_id, pricing_ids: ['free'], description: 'from v5' }] } });
  const v1 = await v1get(A, n);
  assert.equal(v1.json.description, 'from v5');
  assert.deepEqual(v1.json.relations.pricing_ids, ['free']);
  assert.deepEqual(v1.json.relations.department_ids, ['ops']);
  // v1 → v5: PATCH relations and pretty_name, create a model in v1 with relations.
  const p = await api(s, 'PATCH', `/api/v1/org/${A.slug}/models/${n}`, { token: A.writer,
    body: { pretty_name: 'Shown Name', relations: { quality_ids: ['hi', 'lo'], pricing_ids: null } } });
  assert.equal(p.status, 200, p.text);
  const g = await api(s, 'POST', V + 'get', { token: A.reader, body: { model_id: m.model_id } });
  assert.equal(g.json.names.name, 'Shown Name');
  assert.deepEqual(g.json.qualities, { quality_ids: ['hi', 'lo'] });
  assert.deepEqual(g.json.pricing, { pricing_ids: [] });
  assert.equal(g.json.revision, p.json.revision);
  const n2 = uniq('rt1');
  const c = await api(s, 'POST', `/api/v1/org/${A.slug}/models`, { token: A.writer, body: { name: n2, relations: { provider_ids: [n2] } } });
  assert.equal(c.status, 201, c.text);
  const found = await api(s, 'POST', V + 'search', { token: A.reader, body: { filter_provider_ids: [n2] } });
  assert.deepEqual(found.json.models.map((x) => x.name_id), [n2]);
  // A v1 delete removes it from v5 search.
  await api(s, 'DELETE', `/api/v1/org/${A.slug}/models/${n2}`, { token: A.admin });
  const gone = await api(s, 'POST', V + 'search', { token: A.reader, body: { filter_provider_ids: [n2] } });
  assert.equal(gone.json.total_count, 0);
  assert.equal(gone.json.provider_filter.options.some((o) => o.id === n2), false, 'its facet rows are gone too');
});

test('a server-admin token of no org gets 404 from the org-scoped v5 operations', async () => {
  const r = await api(s, 'POST', V + 'search', { token: s.adminToken, body: {} });
  assertError(r, 404, 'not_found_error');
});
