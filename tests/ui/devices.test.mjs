// The model page's Devices, Telemetry and Training sections in Chromium, over data seeded
// through the public API: a model of two versions with real safetensors weights (1M F32
// parameters), three devices' heartbeats, a batch of inference events over the last hour and
// training updates. Checks the compatibility table against the API, the optimization plan
// of a device chosen with the keyboard, the uPlot charts' series (data the page exposes, not
// pixels), fleet counts, the reader's read-only view, non-members, 360 px, both themes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, mkOrgWithTokens } from '../api/harness.mjs';
import { safetensors } from '../api/files-lib.mjs';
import path from 'node:path';
import { SHOTS, launch, openPage, shot, ready, must, assertNoHorizontalScroll, assertPublicApiOnly, lowContrast } from './lib.mjs';

let s, acme, beta, browser;
const M = '/api/v1/org/acme/models/edge-net';
const N = 1_000_000;
const VERSIONS = ['1.0.0', '1.1.0'];
let events = [];

before(async () => {
  s = await startServer();
  acme = await mkOrgWithTokens(s, 'acme');
  beta = await mkOrgWithTokens(s, 'beta');
  const t = { token: acme.writer };
  await must(s, 'POST', '/api/v1/org/acme/models', { ...t, body: { name: 'edge-net', summary: 'A model for devices', framework: 'safetensors', is_public: true } });
  const weights = safetensors({ w: { dtype: 'F32', shape: [N], data_offsets: [0, 4 * N] } }, 4 * N);
  for (const v of VERSIONS) {
    await must(s, 'POST', `${M}/versions`, { ...t, body: { version: v } });
    await must(s, 'PUT', `${M}/versions/${v}/files/model.safetensors`, { ...t, rawBody: weights }, 201);
    await must(s, 'POST', `${M}/versions/${v}/publish`, t, 200);
  }
  for (const d of ['phone-1', 'phone-2', 'board-1']) {
    const r = await api(s, 'POST', '/api/v1/org/acme/devices/heartbeat', { token: acme.reader, body: { device_id: d, app_version: '3.1' } });
    assert.ok(r.status === 200 || r.status === 201 || r.status === 204, r.text);
  }
  // 240 events over the last 55 minutes: 1.0.0 slower (30-49 ms) with 24 errors in 120, 1.1.0
  // faster (8-16 ms) with 6 errors in 120.
  const now = Date.now();
  events = Array.from({ length: 240 }, (_, i) => {
    const v = VERSIONS[i % 2];
    return {
      model: 'edge-net', version: v, device_id: `phone-${1 + (i % 3)}`,
      latency_ms: v === '1.0.0' ? 30 + (i % 20) : 8 + (i % 9), ok: v === '1.0.0' ? i % 10 !== 0 : i % 40 !== 1,
      ts: now - 55 * 60e3 + Math.floor(i * (54 * 60e3) / 240), event_id: `e${i}`,
    };
  });
  const r = await api(s, 'POST', '/api/v1/org/acme/telemetry/inference', { token: acme.reader, body: { events } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 240);
  for (const [v, dev, n, acc] of [['1.0.0', 'phone-1', 100, 0.81], ['1.0.0', 'phone-2', 50, 0.83], ['1.1.0', 'phone-1', 70, 0.88]]) {
    const u = await api(s, 'POST', `${M}/versions/${v}/training-updates`, { token: acme.reader, body: { device_id: dev, sample_count: n, metrics: { accuracy: acc, loss: 1 - acc } } });
    assert.ok(u.status === 200 || u.status === 201, u.text);
  }
  browser = await launch();
});
after(async () => { await browser?.close(); await s?.stop(); });

async function openEdge(opts = {}) {
  const page = await openPage(browser, s, { token: acme.reader, ...opts });
  await page.goto('/ui/models/acme/edge-net');
  await ready(page);
  await page.waitForSelector('#compat-table, #devices .error');
  await page.waitForSelector('#telemetry-body[aria-busy="false"]');
  await page.waitForSelector('#training-table, #training .empty, #training .error');
  return page;
}

test('the compatibility table lists every device profile, devices it runs on or an optimized target fits first, with the plan\'s recommended target', async () => {
  const page = await openEdge();
  const profiles = (await api(s, 'GET', '/api/v1/device-profiles')).json.items;
  const plan = (await api(s, 'GET', `${M}/optimization-plan`, { token: acme.reader })).json;
  const compat = (await api(s, 'POST', `${M}/compatibility`, { token: acme.reader, body: {} })).json;
  const rows = await page.$$eval('#compat-table tbody tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.device, compatible: tr.dataset.compatible === 'true', rec: tr.querySelector('td.rec').textContent,
    head: [...tr.closest('table').querySelectorAll('thead th')].map((th) => th.textContent),
  })));
  assert.deepEqual(rows.map((r) => r.id).sort(), profiles.map((p) => p.id).sort(), 'one row per profile');
  assert.equal(rows[0].head[1], 'Recommended target');
  const planOf = Object.fromEntries(plan.devices.map((d) => [d.device, d]));
  const compatOf = Object.fromEntries(compat.devices.map((d) => [d.device, d]));
  const rank = (id) => (compatOf[id].compatible ? 0 : planOf[id].recommended ? 1 : 2);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i], p = planOf[r.id];
    assert.equal(r.compatible, compatOf[r.id].compatible, r.id);
    if (p.recommended) assert.ok(r.rec.startsWith(`${p.recommended.quantization} · ${p.recommended.format}`), `${r.id}: ${r.rec}`);
    else assert.equal(r.rec, 'none fits', r.id);
    if (i) assert.ok(rank(rows[i - 1].id) <= rank(r.id), `order at ${r.id}`);
  }
  assert.ok(rows.some((r) => r.compatible) && rows.some((r) => !r.compatible), 'the 4 MB model fits some devices, not all');
  assert.ok(await page.isVisible('text=1.0M parameters (from the weights headers)'), 'the sizing line reads the safetensors header');

  // The plan of a device chosen with the keyboard: its targets, the recommended one first.
  await page.focus('#plan-device');
  const chosen = rows[rows.length - 1].id;
  await page.selectOption('#plan-device', chosen);
  const targets = await page.$$eval('#plan tbody tr', (trs) => trs.map((tr) => ({ t: tr.querySelector('th').textContent, rec: tr.dataset.recommended === 'true' })));
  const want = planOf[chosen].targets;
  assert.equal(targets.length, want.length);
  targets.forEach((x, i) => assert.ok(x.t.startsWith(`${want[i].quantization} · ${want[i].format}`), x.t));
  if (planOf[chosen].recommended) assert.ok(targets[0].rec && targets.slice(1).every((x) => !x.rec));
  const first = rows[0].id;
  await page.keyboard.press('Home'); // the select has focus: the first device
  await page.waitForFunction((id) => document.querySelector('#plan-device').value === id, first);
  const firstTargets = await page.$$eval('#plan tbody tr', (trs) => trs.map((tr) => tr.dataset.recommended));
  assert.equal(firstTargets[0], 'true', 'the first device has a recommended target, shown first');
  assert.deepEqual(page.errors, []);
  await assertPublicApiOnly(page, s);
});

test('telemetry: latency and error-rate charts by version, the summary and the fleet', async () => {
  const page = await openEdge();
  const series = async (id) => JSON.parse(await page.getAttribute(`#${id}`, 'data-series'));
  const points = async (id) => JSON.parse(await page.getAttribute(`#${id}`, 'data-points'));
  assert.deepEqual(await series('latency-chart'), ['1.1.0 p50', '1.1.0 p95', '1.1.0 p99', '1.0.0 p50', '1.0.0 p95', '1.0.0 p99']);
  assert.deepEqual(await series('error-chart'), ['1.1.0 error rate', '1.0.0 error rate']);
  const legend = await page.$$eval('#latency-chart .u-legend .u-label', (els) => els.map((e) => e.textContent));
  assert.deepEqual(legend.slice(1), await series('latency-chart'), 'the legend names the series');
  // The legend toggles a series from the keyboard, and says whether it is shown.
  const p99 = page.locator('#error-chart .u-legend tr.u-series').nth(2).locator('th');
  assert.equal(await p99.getAttribute('aria-pressed'), 'true');
  await p99.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#error-chart .u-legend tr.u-series')[2].classList.contains('u-off'));
  assert.equal(await p99.getAttribute('aria-pressed'), 'false');
  await page.keyboard.press(' ');
  await page.waitForFunction(() => !document.querySelectorAll('#error-chart .u-legend tr.u-series')[2].classList.contains('u-off'));
  assert.equal(await p99.getAttribute('aria-pressed'), 'true');
  const canvas = await page.$eval('#latency-chart canvas', (c) => ({ w: c.width, h: c.height }));
  assert.ok(canvas.w > 200 && canvas.h > 100, JSON.stringify(canvas));
  // Last 24 hours: the events of the last hour fall in the last one or two of 12 steps.
  for (const n of await points('latency-chart')) assert.ok(n >= 1 && n <= 2, `24 h: ${n} steps with data`);
  const text = async (sel) => (await page.textContent(sel)).trim();
  assert.equal(await text('#t-sessions'), '240');
  assert.equal(await text('#t-errors'), '12.5%');
  assert.equal(await text('#fleet-total'), '3');
  assert.equal(await text('#fleet-healthy'), '3');
  assert.equal(await text('#fleet-stale'), '0');
  assert.equal(await text('#fleet-offline'), '0');
  const byVersion = await page.$$eval('#telemetry-versions tbody tr', (trs) => trs.map((tr) => [tr.dataset.version, ...[...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)]));
  assert.deepEqual(byVersion, [['1.1.0', '120', '6'], ['1.0.0', '120', '24']]);
  await shot(page, 'devices-telemetry-24h');

  // The last hour: the events spread over most of the 12 five-minute steps; p99 above p50.
  await page.selectOption('#telemetry-window', '1h');
  await page.waitForSelector('#telemetry-body[aria-busy="false"] #latency-chart');
  for (const n of await points('latency-chart')) assert.ok(n >= 10, `1 h: ${n} steps with data`);
  const data = await page.evaluate(async () => {
    const r = await fetch('/api/v1/org/acme/models/edge-net/telemetry', { headers: { Authorization: `Bearer ${localStorage.getItem('cairn.token')}` } });
    return r.json();
  });
  assert.ok(data.by_version['1.0.0'].latency_ms.p50 > data.by_version['1.1.0'].latency_ms.p99, 'the seeded versions differ');
  await shot(page, 'devices-telemetry-1h');
  assert.deepEqual(page.errors, []);
  await assertPublicApiOnly(page, s);
});

test('training metrics per version', async () => {
  const page = await openEdge();
  const rows = await page.$$eval('#training-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.version, ...[...tr.querySelectorAll('td')].slice(0, 5).map((td) => td.textContent)]));
  const head = await page.$$eval('#training-table thead th', (ths) => ths.map((th) => th.textContent));
  assert.deepEqual(head.slice(0, 6), ['Version', 'Updates', 'Samples', 'Devices', 'accuracy', 'loss']);
  const byV = Object.fromEntries(rows.map((r) => [r[0], r.slice(1)]));
  assert.deepEqual(byV['1.0.0'].slice(0, 4), ['2', '150', '2', '0.83']);
  assert.deepEqual(byV['1.1.0'].slice(0, 4), ['1', '70', '1', '0.88']);
  // The distribution of each metric over a version's updates, for a version chosen in the picker.
  assert.deepEqual(rows.map((r) => r[0]), await page.$$eval('#training-version option', (os) => os.map((o) => o.value)));
  await page.selectOption('#training-version', '1.0.0');
  await page.waitForSelector('#training-metric-table[data-version="1.0.0"]');
  const acc = await page.$$eval('#training-metric-table tr[data-metric="accuracy"] td', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(acc, ['2', '0.81', '0.83', '0.83', '0.82', '0.81', '0.83'], 'updates, p50, p95, p99, mean, min, max');
  assert.deepEqual(await page.$$eval('#training-metric-table tbody tr', (trs) => trs.map((tr) => tr.dataset.metric)), ['accuracy', 'loss']);
  assert.match(await page.textContent('#training-metrics .help'), /^2 updates, 150 samples from 2 devices\.$/);
  await page.locator('#training').screenshot({ path: path.join(SHOTS, 'devices-training.png') });
  assert.deepEqual(page.errors, []);
});

test('a reader gets read-only views; non-members and the signed-out public do not see them', async () => {
  const page = await openEdge();
  const controls = await page.$$eval('#devices, #telemetry, #training', (secs) => secs.flatMap((s) => [...s.querySelectorAll('button, input, textarea, form')].filter((e) => !e.closest('.u-legend')).map((e) => e.outerHTML.slice(0, 80))));
  assert.deepEqual(controls, [], 'only the device, window and version pickers');
  assert.equal(await page.$$eval('#devices select, #telemetry select, #training select', (x) => x.length), 3);
  for (const id of ['plan-device', 'telemetry-window', 'training-version']) {
    assert.ok(await page.$eval(`#${id}`, (el) => !!(el.labels && el.labels.length && el.labels[0].textContent.trim())), `${id} is labelled`);
  }
  for (const [token, who] of [[beta.reader, 'another org'], [undefined, 'signed out']]) {
    const p = await openPage(browser, s, { token });
    await p.goto('/ui/models/acme/edge-net');
    await ready(p);
    await p.waitForSelector('h1');
    await p.waitForLoadState('networkidle');
    assert.equal(await p.$('#devices, #telemetry, #training'), null, who);
    assert.ok(!p.apiCalls.some((c) => /telemetry|compatibility|optimization-plan|training-stats/.test(c)), `${who}: ${p.apiCalls}`);
    assert.deepEqual(p.errors, []);
  }
});

test('360 px wide: no horizontal scroll, charts fit; both themes keep text contrast', async () => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await openEdge({ viewport: { width: 360, height: 800 }, colorScheme });
    await assertNoHorizontalScroll(page);
    const w = await page.$eval('#latency-chart canvas', (c) => c.getBoundingClientRect().width);
    assert.ok(w > 200 && w <= 360, `chart width ${w}`);
    assert.deepEqual(await lowContrast(page), [], colorScheme);
    await shot(page, `devices-360-${colorScheme}`);
    for (const id of ['devices', 'telemetry']) await page.locator(`#${id}`).screenshot({ path: path.join(SHOTS, `devices-360-${colorScheme}-${id}.png`) });
    assert.deepEqual(page.errors, []);
  }
  const wide = await openEdge({ colorScheme: 'dark' });
  assert.deepEqual(await lowContrast(wide), [], 'dark, wide');
  await shot(wide, 'devices-dark');
});

test('empty states: a model without events or training updates says so', async () => {
  await must(s, 'POST', '/api/v1/org/acme/models', { token: acme.writer, body: { name: 'quiet' } });
  await must(s, 'POST', '/api/v1/org/acme/models/quiet/versions', { token: acme.writer, body: { version: '0.1.0' } });
  await must(s, 'PUT', '/api/v1/org/acme/models/quiet/versions/0.1.0/files/model.safetensors', { token: acme.writer, rawBody: safetensors() }, 201);
  await must(s, 'POST', '/api/v1/org/acme/models/quiet/versions/0.1.0/publish', { token: acme.writer }, 200);
  const page = await openPage(browser, s, { token: acme.reader });
  await page.goto('/ui/models/acme/quiet');
  await ready(page);
  await page.waitForSelector('#telemetry-body[aria-busy="false"]');
  await page.waitForSelector('#training .empty');
  assert.equal(await page.textContent('#telemetry .empty'), 'No inference events in this window.');
  assert.equal(await page.textContent('#training .empty'), 'No training updates yet.');
  assert.equal(await page.$('#latency-chart'), null);
  assert.equal(await page.textContent('#fleet-healthy'), '3', 'fleet health is the org\'s, whatever the model');
  assert.deepEqual(page.errors, []);
});

test('error states: a failing telemetry or compatibility call shows the API\'s detail, the rest of the page stays', async () => {
  const page = await openPage(browser, s, { token: acme.reader });
  const fail = (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ code: 503, type: 'unavailable_error', detail: 'the telemetry store is down', errors: [] }) });
  await page.route('**/models/edge-net/telemetry?*', fail);
  await page.route('**/models/edge-net/compatibility', fail);
  await page.goto('/ui/models/acme/edge-net');
  await ready(page);
  await page.waitForSelector('#telemetry .error');
  await page.waitForSelector('#devices .error');
  assert.equal(await page.textContent('#telemetry .error'), 'Telemetry is not available: the telemetry store is down');
  assert.equal(await page.textContent('#devices .error'), 'Device compatibility is not available: the telemetry store is down');
  assert.equal(await page.getAttribute('#telemetry-body', 'aria-busy'), 'false');
  await page.waitForSelector('#training-table');
  assert.ok(await page.isVisible('#versions'));
  await shot(page, 'devices-errors');
  assert.deepEqual(page.errors, []);
});
