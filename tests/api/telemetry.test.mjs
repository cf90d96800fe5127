// Fleet heartbeats and inference telemetry (API.md §9): batches of ≤ 1000 events (1001 → 422,
// nothing stored), idempotent on event_id, validation with `loc`, aggregation into rollups whose
// percentiles stay within 1% of the exact ones, windows cut at minute/hour/day boundaries, the
// fleet block, and telemetry writes leaving the catalog revision alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq } from './harness.mjs';

// Aggregates not yet compacted into rollups, read from the telemetry store itself (the API
// answers the same either way, so only the database can show that compaction ran).
function partialsLeft() {
  if (srv.dbUrl.startsWith('postgres')) {
    const u = new URL(srv.dbUrl);
    return Number(execFileSync('psql', ['-tAq', '-h', u.hostname, '-p', u.port, '-U', u.username || 'postgres', '-d', u.pathname.slice(1), '-c', 'SELECT COUNT(*) FROM telemetry_partials'], { encoding: 'utf8' }).trim());
  }
  const file = srv.dbUrl.replace(/^sqlite:\/\//, '').replace(/\.db$/, '-telemetry.db');
  return Number(execFileSync('sqlite3', [file, 'SELECT COUNT(*) FROM telemetry_partials'], { encoding: 'utf8' }).trim());
}
async function compacted() {
  for (let i = 0; i < 100 && partialsLeft() > 0; i++) await sleep(100);
  assert.equal(partialsLeft(), 0, 'the compactor folded every partial into rollups');
}

let srv, o;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
before(async () => { srv = await startServer(); o = await mkOrgWithTokens(srv); });
after(async () => { await srv?.stop(); });

async function model(versions = ['1.0.0'], isPublic = false) {
  const name = uniq('tm');
  assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, is_public: isPublic } })).status, 201);
  for (const v of versions) assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models/${name}/versions`, { token: o.writer, body: { version: v } })).status, 201);
  return name;
}
const ingest = (events, token = o.reader) => api(srv, 'POST', `/api/v1/org/${o.slug}/telemetry/inference`, { token, body: { events } });
const query = (name, qs = '', token = o.reader) => api(srv, 'GET', `/api/v1/org/${o.slug}/models/${name}/telemetry${qs}`, { token });
const ev = (model, extra = {}) => ({ model, version: '1.0.0', device_id: 'dev-1', latency_ms: 10, ok: true, ...extra });
const exact = (sorted, q) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
let rng = 12345;
const rand = () => { rng = (rng * 1103515245 + 12345) % 2147483648; return rng / 2147483648; };

test('ingest and query: counts, errors, percentiles within 1% of the exact ones, by_version', async () => {
  const name = await model(['1.0.0', '2.0.0']);
  const lat = [];
  const events = [];
  for (let i = 0; i < 1000; i++) {
    const l = Math.exp(1 + 3 * rand()) + (i % 10 === 0 ? 500 * rand() : 0);
    lat.push(l);
    events.push(ev(name, { latency_ms: l, ok: i % 20 !== 0, version: i < 700 ? '1.0.0' : '2.0.0', device_id: `d${i % 7}` }));
  }
  const r = await ingest(events);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { received: 1000, accepted: 1000, duplicates: 0 });
  const check = (t) => {
    assert.equal(t.sessions, 1000);
    assert.equal(t.errors, 50);
    assert.equal(t.error_rate, 0.05);
    const s = [...lat].sort((a, b) => a - b);
    for (const [k, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
      const e = exact(s, q);
      assert.ok(Math.abs(t.latency_ms[k] - e) <= 0.01 * e, `${k}: ${t.latency_ms[k]} vs exact ${e}`);
    }
    const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
    assert.ok(Math.abs(t.latency_ms.mean - mean) < 0.001 * mean, `mean ${t.latency_ms.mean} vs ${mean}`);
    assert.deepEqual(Object.keys(t.by_version).sort(), ['1.0.0', '2.0.0']);
    assert.equal(t.by_version['1.0.0'].sessions, 700);
    assert.equal(t.by_version['2.0.0'].sessions, 300);
    assert.equal(t.by_version['1.0.0'].errors + t.by_version['2.0.0'].errors, 50);
    const s2 = lat.slice(700).sort((a, b) => a - b);
    assert.ok(Math.abs(t.by_version['2.0.0'].latency_ms.p95 - exact(s2, 0.95)) <= 0.01 * exact(s2, 0.95));
    assert.ok(t.window.since && t.window.until);
    assert.ok(t.fleet && 'devices_total' in t.fleet);
  };
  const q1 = await query(name);
  assert.equal(q1.status, 200, q1.text);
  check(q1.json);
  // After compaction (partials → minute/hour/day rollups) the answer is the same.
  await compacted();
  const q2 = await query(name);
  check(q2.json);
  assert.deepEqual(q2.json.latency_ms, q1.json.latency_ms);
});

test('1001 events → 422 and nothing stored; bad events → 422 with loc, nothing stored', async () => {
  const name = await model();
  const many = Array.from({ length: 1001 }, () => ev(name));
  assertValidation(await ingest(many), ['body', 'events'], 'too_long');
  assertValidation(await ingest([ev(name), ev(name, { latency_ms: -1 })]), ['body', 'events', '1', 'latency_ms']);
  assertValidation(await ingest([ev(name, { latency_ms: 'fast' })]), ['body', 'events', '0', 'latency_ms'], 'float_type');
  assertValidation(await ingest([ev(name, { ok: 'yes' })]), ['body', 'events', '0', 'ok']);
  assertValidation(await ingest([ev(name, { extra: 1 })]), ['body', 'events', '0', 'extra'], 'extra_forbidden');
  assertValidation(await ingest([ev(name, { ts: 'yesterday' })]), ['body', 'events', '0', 'ts']);
  assertValidation(await ingest([ev(name, { device_id: undefined })]), ['body', 'events', '0', 'device_id'], 'missing');
  assertValidation(await ingest([ev(name), ev('no-such-model')]), ['body', 'events', '1', 'model'], 'not_found');
  assertValidation(await ingest([ev(name, { version: '9.9.9' })]), ['body', 'events', '0', 'version'], 'not_found');
  assertValidation(await ingest([ev(name, { version: 'latest' })]), ['body', 'events', '0', 'version']);
  assertValidation(await api(srv, 'POST', `/api/v1/org/${o.slug}/telemetry/inference`, { token: o.reader, body: { events: {} } }), ['body', 'events']);
  assertValidation(await api(srv, 'POST', `/api/v1/org/${o.slug}/telemetry/inference`, { token: o.reader, body: { evnts: [] } }), ['body', 'evnts'], 'extra_forbidden');
  const q = await query(name);
  assert.equal(q.json.sessions, 0, 'no rejected batch left anything');
  // Exactly 1000 is fine.
  const ok = await ingest(Array.from({ length: 1000 }, () => ev(name)));
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await query(name)).json.sessions, 1000);
});

test('idempotent on event_id: retries and in-batch copies count once', async () => {
  const name = await model();
  const batch = [ev(name, { event_id: 'a' }), ev(name, { event_id: 'b', ok: false }), ev(name, { event_id: 'a' }), ev(name)];
  assert.deepEqual((await ingest(batch)).json, { received: 4, accepted: 3, duplicates: 1 });
  assert.deepEqual((await ingest(batch)).json, { received: 4, accepted: 1, duplicates: 3 });
  const t = (await query(name)).json;
  assert.equal(t.sessions, 4);
  assert.equal(t.errors, 1);
  // Ids are per org: another org's event 'a' is its own.
  const other = await mkOrgWithTokens(srv);
  const n2 = uniq('tm');
  assert.equal((await api(srv, 'POST', `/api/v1/org/${other.slug}/models`, { token: other.writer, body: { name: n2 } })).status, 201);
  assert.equal((await api(srv, 'POST', `/api/v1/org/${other.slug}/models/${n2}/versions`, { token: other.writer, body: { version: '1.0.0' } })).status, 201);
  const r = await api(srv, 'POST', `/api/v1/org/${other.slug}/telemetry/inference`, { token: other.reader, body: { events: [ev(n2, { event_id: 'a' })] } });
  assert.equal(r.json.accepted, 1);
  // Another org may not post into this org, nor read this org's private model's telemetry.
  assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/telemetry/inference`, { token: other.reader, body: { events: [] } }), 404, 'not_found_error');
  assertError(await query(name, '', other.reader), 404, 'not_found_error');
});

test('windows: minute, hour and day rollups add up exactly at any cut', async () => {
  const name = await model();
  const now = Date.now();
  const day = 86400000, hour = 3600000, min = 60000;
  const base = Math.floor(now / day) * day - 3 * day; // midnight three days ago
  // One event every 7 minutes over 3 days, latency = index.
  const events = [];
  for (let t = base + 30000, i = 0; t < base + 3 * day; t += 7 * min, i++) events.push(ev(name, { ts: new Date(t).toISOString(), latency_ms: 1 + (i % 50) }));
  for (let i = 0; i < events.length; i += 1000) assert.equal((await ingest(events.slice(i, i + 1000))).status, 200);
  await compacted(); // into rollups of every level
  const count = (a, b) => events.filter((e) => { const t = Date.parse(e.ts); return t >= Math.floor(a / min) * min && t < Math.ceil(b / min) * min; }).length;
  const cuts = [
    [base, base + 3 * day], [base + 5 * hour + 13 * min, base + 2 * day + 7 * hour + 41 * min],
    [base + day - 3 * min, base + day + 3 * min], [base + 61 * min, base + 119 * min], [base - 30 * day, now],
  ];
  for (const [a, b] of cuts) {
    const q = await query(name, `?since=${new Date(a).toISOString()}&until=${new Date(b).toISOString()}`);
    assert.equal(q.status, 200, q.text);
    assert.equal(q.json.sessions, count(a, b), `window ${new Date(a).toISOString()} .. ${new Date(b).toISOString()}`);
  }
  // The default window is the last 24 hours: none of these.
  assert.equal((await query(name)).json.sessions, count(now - day, now));
  assertValidation(await query(name, '?since=nonsense'), ['query', 'since']);
  assertValidation(await query(name, `?since=${new Date(now).toISOString()}&until=${new Date(now - day).toISOString()}`), ['query', 'since']);
  assertError(await query('no-such-model'), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/capabilities/${name}/telemetry`, { token: o.reader }), 404, 'not_found_error');
});

test('compaction in passes equals one pass: rows created, then merged, give the same answer at any cut', async () => {
  // The same events into two models: into one as a single batch (every rollup row created in
  // one compaction pass), into the other in three interleaved batches compacted one after the
  // other (minute, hour and day rows created from one partial, then merged with later ones).
  const one = await model(['1.0.0', '2.0.0']);
  const split = await model(['1.0.0', '2.0.0']);
  const day = 86400000, hour = 3600000, min = 60000;
  const base = Math.floor(Date.now() / day) * day - 2 * day + 22 * hour; // 22:00 two days ago
  const mk = (name) => {
    const out = [];
    for (let i = 0; i < 900; i++) {
      const t = base + Math.floor(i * 4 * hour / 900) + (i % 3) * 1000; // 22:00 .. 02:00, crossing midnight
      out.push(ev(name, { ts: new Date(t).toISOString(), latency_ms: Math.exp(1 + 4 * ((i * 7919) % 1000) / 1000), ok: i % 13 !== 0, version: i % 4 ? '1.0.0' : '2.0.0' }));
    }
    return out;
  };
  const all = mk(one);
  assert.equal((await ingest(all)).status, 200);
  await compacted();
  const parts = mk(split);
  for (let k = 0; k < 3; k++) {
    assert.equal((await ingest(parts.filter((_, i) => i % 3 === k))).status, 200);
    await compacted();
  }
  const cuts = [
    [base - day, base + 2 * day], [base + 37 * min, base + 3 * hour + 11 * min],
    [base + 2 * hour - 5 * min, base + 2 * hour + 5 * min], [base + hour, base + 3 * hour],
  ];
  for (const [a, b] of cuts) {
    const qs = `?since=${new Date(a).toISOString()}&until=${new Date(b).toISOString()}`;
    const x = (await query(one, qs)).json, y = (await query(split, qs)).json;
    const lat = all.filter((e) => { const t = Date.parse(e.ts); return t >= a && t < b; }).map((e) => e.latency_ms).sort((p, q) => p - q);
    assert.equal(x.sessions, lat.length);
    assert.ok(lat.length > 0);
    assert.equal(x.latency_ms.min, Math.round(lat[0] * 1000) / 1000);
    assert.equal(x.latency_ms.max, Math.round(lat[lat.length - 1] * 1000) / 1000);
    for (const [k, q] of [['p50', 0.5], ['p99', 0.99]]) assert.ok(Math.abs(x.latency_ms[k] - exact(lat, q)) <= 0.01 * exact(lat, q), `${k} ${x.latency_ms[k]} vs ${exact(lat, q)}`);
    for (const f of ['sessions', 'errors', 'error_rate', 'latency_ms', 'by_version']) assert.deepEqual(y[f], x[f], `${f} over ${qs}`);
  }
});

test('heartbeats make the fleet block; telemetry leaves the catalog revision alone', async () => {
  const f = await mkOrgWithTokens(srv);
  const name = uniq('fl');
  assert.equal((await api(srv, 'POST', `/api/v1/org/${f.slug}/models`, { token: f.writer, body: { name, is_public: true } })).status, 201);
  assert.equal((await api(srv, 'POST', `/api/v1/org/${f.slug}/models/${name}/versions`, { token: f.writer, body: { version: '1.0.0' } })).status, 201);
  const hb = (body) => api(srv, 'POST', `/api/v1/org/${f.slug}/devices/heartbeat`, { token: f.reader, body });
  const h1 = await hb({ device_id: 'pi-1', profile: 'raspberry-pi-5-8gb', app_version: '1.2.0', status: 'idle' });
  assert.equal(h1.status, 200, h1.text);
  assert.equal(h1.json.health, 'healthy');
  assert.equal((await hb({ device_id: 'pi-2' })).status, 200);
  assert.equal((await hb({ device_id: 'pi-1' })).status, 200);
  assertValidation(await hb({}), ['body', 'device_id'], 'missing');
  assertValidation(await hb({ device_id: 'x', colour: 'red' }), ['body', 'colour'], 'extra_forbidden');
  assertValidation(await hb({ device_id: '' }), ['body', 'device_id']);
  const rev0 = (await api(srv, 'GET', '/api/v1/manifest')).json.revision;
  const r = await api(srv, 'POST', `/api/v1/org/${f.slug}/telemetry/inference`, { token: f.reader, body: { events: [ev(name), ev(name)] } });
  assert.equal(r.status, 200, r.text);
  await hb({ device_id: 'pi-3' });
  assert.equal((await api(srv, 'GET', '/api/v1/manifest')).json.revision, rev0, 'telemetry and heartbeats do not move the catalog revision');
  const t = await api(srv, 'GET', `/api/v1/org/${f.slug}/models/${name}/telemetry`, { token: f.reader });
  assert.deepEqual(t.json.fleet, { devices_total: 3, healthy: 3, stale: 0, offline: 0 });
  // Telemetry is the org's own, even for a public model: another org gets 404.
  assertError(await api(srv, 'GET', `/api/v1/org/${f.slug}/models/${name}/telemetry`, { token: o.reader }), 404, 'not_found_error');
});

test('training updates: stats per version (percentiles, per device) and per model; zero-count when none', async () => {
  const name = await model(['1.0.0', '1.1.0']);
  const base = `/api/v1/org/${o.slug}/models/${name}`;
  const post = (v, body, token = o.reader) => api(srv, 'POST', `${base}/versions/${v}/training-updates`, { token, body });
  const empty = await api(srv, 'GET', `${base}/versions/1.0.0/training-stats`, { token: o.reader });
  assert.equal(empty.status, 200, empty.text);
  assert.deepEqual({ ...empty.json, model: undefined }, { model: undefined, version: '1.0.0', updates: 0, samples: 0, devices: 0, metrics: {}, per_device: [] });
  const losses = [];
  for (let i = 0; i < 40; i++) {
    const loss = 2 - i / 40 + (i % 3) * 0.01;
    losses.push(loss);
    const r = await post('1.0.0', { device_id: `d${i % 4}`, sample_count: 100 + i, metrics: { loss, accuracy: 0.5 + i / 100 } });
    assert.equal(r.status, 201, r.text);
  }
  assert.equal((await post('1.1.0', { device_id: 'd9', sample_count: 5, metrics: { loss: 0.3 } })).status, 201);
  const s = await api(srv, 'GET', `${base}/versions/1.0.0/training-stats`, { token: o.reader });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.updates, 40);
  assert.equal(s.json.samples, 40 * 100 + (39 * 40) / 2);
  assert.equal(s.json.devices, 4);
  const sorted = [...losses].sort((a, b) => a - b);
  const L = s.json.metrics.loss;
  assert.equal(L.p50, exact(sorted, 0.5));
  assert.equal(L.p95, exact(sorted, 0.95));
  assert.equal(L.p99, exact(sorted, 0.99));
  assert.equal(L.min, sorted[0]);
  assert.equal(L.max, sorted[39]);
  assert.ok(Math.abs(L.mean - losses.reduce((a, b) => a + b, 0) / 40) < 1e-9);
  assert.ok(s.json.metrics.accuracy);
  assert.equal(s.json.per_device.length, 4);
  const d0 = s.json.per_device.find((d) => d.device_id === 'd0');
  assert.equal(d0.updates, 10);
  assert.equal(d0.latest_metrics.loss, losses[36]);
  const m = await api(srv, 'GET', `${base}/training-stats`, { token: o.reader });
  assert.equal(m.status, 200, m.text);
  const byV = Object.fromEntries(m.json.versions.map((x) => [x.version, x]));
  assert.equal(byV['1.0.0'].updates, 40);
  assert.equal(byV['1.0.0'].devices, 4);
  assert.equal(byV['1.0.0'].latest_metrics.loss, losses[39]);
  assert.deepEqual(byV['1.1.0'], { ...byV['1.1.0'], version: '1.1.0', updates: 1, samples: 5, devices: 1, latest_metrics: { loss: 0.3 } });
  // Bad input and unknown things.
  assertValidation(await post('1.0.0', { device_id: 'd', sample_count: 1, metrics: { loss: 'low' } }), ['body', 'metrics', 'loss'], 'float_type');
  assertValidation(await post('1.0.0', { device_id: 'd', sample_count: -1, metrics: {} }), ['body', 'sample_count']);
  assertValidation(await post('1.0.0', { device_id: 'd', metrics: {} }), ['body', 'sample_count'], 'missing');
  assertValidation(await post('1.0.0', { device_id: 'd', sample_count: 1, metrics: [] }), ['body', 'metrics']);
  assertValidation(await post('1.0.0', { device_id: 'd', sample_count: 1, metrics: {}, extra: 1 }), ['body', 'extra'], 'extra_forbidden');
  assertError(await post('9.9.9', { device_id: 'd', sample_count: 1, metrics: {} }), 404, 'not_found_error');
  assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/models/nope/versions/1.0.0/training-updates`, { token: o.reader, body: { device_id: 'd', sample_count: 1, metrics: {} } }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `${base}/versions/9.9.9/training-stats`, { token: o.reader }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/models/nope/training-stats`, { token: o.reader }), 404, 'not_found_error');
  const other = await mkOrgWithTokens(srv);
  assertError(await api(srv, 'GET', `${base}/training-stats`, { token: other.reader }), 404, 'not_found_error');
});

test('the events body: JSON grammar, escapes and UTF-8 like any body; 400 for malformed', async () => {
  const name = await model();
  const raw = (text, ct = 'application/json') => api(srv, 'POST', `/api/v1/org/${o.slug}/telemetry/inference`, { token: o.reader, rawBody: text, headers: { 'content-type': ct } });
  // Escapes and non-ASCII device ids decode; numbers in exponent form; whitespace anywhere.
  const ok = await raw(` { "events" : [ {"model":"${name}","version":"1.0.0","device_id":"d\\u00e9v\\ud83d\\ude00-\\"1\\"","latency_ms":1.5e1,"ok":true,"ts":${Date.now()}} ,
    {"model":"${name.replace(/-/g, '\\u002d')}","version":"1.0.0","device_id":"ü","latency_ms":0,"ok":false} ] } `);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.accepted, 2);
  const t = (await query(name)).json;
  assert.equal(t.sessions, 2);
  assert.equal(t.errors, 1);
  assert.equal(t.latency_ms.max, 15);
  for (const bad of ['{"events":[', '{"events":[{"model":1,}]}', '{"events":[]} x', '{"events":[{"a":"\u0001"}]}',
    '{"events":[{"model":"a","model":"b"}]}', '{"events":[],"events":[]}', '{"events":[{"x":"\\q"}]}',
    '{"events":[{"x":"\\ud800"}]}', '{"events":[{"x":01}]}', '{"events":[{"x":tru}]}']) {
    const r = await raw(bad);
    assert.equal(r.status, 400, `${bad}: ${r.status} ${r.text}`);
    assert.equal(r.json.type, 'invalid_error');
  }
  const badUtf8 = await api(srv, 'POST', `/api/v1/org/${o.slug}/telemetry/inference`, { token: o.reader, rawBody: Buffer.from([0x7b, 0x22, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x7b, 0x22, 0x78, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x5d, 0x7d]), headers: { 'content-type': 'application/json' } });
  assert.equal(badUtf8.status, 400, badUtf8.text);
  assert.equal((await raw('{"events":[]}', 'text/plain')).status, 400);
  assertValidation(await raw('[1,2]'), ['body'], 'dict_type');
  assertValidation(await raw(''), ['body', 'events'], 'missing');
  assertValidation(await raw('{"events":[1, {"model":"x","nested":{"a":[1,{"b":null}]}}]}'), ['body', 'events', '0'], 'dict_type');
  assertValidation(await raw(`{"events":[{"model":"${name}","version":"1.0.0","device_id":"d","latency_ms":1,"ok":true,"nested":{"a":[1,{"b":null}]}}]}`), ['body', 'events', '0', 'nested'], 'extra_forbidden');
  assertValidation(await raw(`{"events":[{"model":"${name}","version":"1.0.0","device_id":"d","latency_ms":null,"ok":true}]}`), ['body', 'events', '0', 'latency_ms'], 'float_type');
  assert.equal((await query(name)).json.sessions, 2, 'nothing else was stored');
});
