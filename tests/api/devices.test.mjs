// Device intelligence (API.md §8): device profiles (built in and from --device-profiles),
// compatibility and the optimization plan from the version's parameter count, device-aware
// resolve (public and org-scoped) and `cairn devices|compat|pull --device`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, REPO, CAIRND,
} from './harness.mjs';

const CLI = process.env.CAIRN_CLI || path.join(REPO, 'build', 'cairn');
const MiB = 1 << 20;

// Custom devices around the test model: 1M parameters, fp32 4 MB (needs 13.19 MB), fp16 2 MB
// (needs 10.79 MB). Headroom is 70% of memory.
const PROFILES = [
  { id: 'test-small', name: 'Small test board', category: 'sbc', memory_bytes: 16 * MiB, runtimes: ['safetensors', 'tflite'] },
  { id: 'test-large', name: 'Large test box', category: 'laptop', memory_bytes: 1024 * MiB, storage_bytes: 10 * 1024 * MiB, runtimes: ['safetensors'] },
  { id: 'test-tiny', name: 'Tiny MCU', memory_bytes: 8 * MiB, runtimes: ['safetensors', 'tflite'], precisions: ['fp32', 'int8'] },
  { id: 'pixel-6a', name: 'Pixel 6a (overridden)', category: 'phone', memory_bytes: 6 * 1024 * MiB, runtimes: ['tflite', 'safetensors'] },
];

let srv, o, tmp;
const N = 1_000_000;

function safetensors(dtype, bytesPer, n = N) {
  const header = Buffer.from(JSON.stringify({ w: { dtype, shape: [n], data_offsets: [0, bytesPer * n] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, Buffer.alloc(bytesPer * n)]);
}

const base = (n) => `/api/v1/org/${o.slug}/models/${n}`;
async function put(name, v, file, body) {
  const r = await fetch(`${srv.url}${base(name)}/versions/${v}/files/${file}`, { method: 'PUT', body, headers: { authorization: `Bearer ${o.writer}` } });
  assert.equal(r.status, 201, await r.text());
}
async function mkModel(name, { isPublic = true, files = [] } = {}) {
  assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, is_public: isPublic } })).status, 201);
  assert.equal((await api(srv, 'POST', `${base(name)}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
  for (const [f, b] of files) await put(name, '1.0.0', f, b);
  const p = await api(srv, 'POST', `${base(name)}/versions/1.0.0/publish`, { token: o.writer });
  assert.equal(p.status, 200, p.text);
}

const TWO = () => [['model-fp32.safetensors', safetensors('F32', 4)], ['model-fp16.safetensors', safetensors('F16', 2)]];

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-dev-'));
  fs.writeFileSync(path.join(tmp, 'profiles.json'), JSON.stringify({ profiles: PROFILES }));
  srv = await startServer({ args: ['--device-profiles', path.join(tmp, 'profiles.json')] });
  o = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); fs.rmSync(tmp, { recursive: true, force: true }); });

test('GET /device-profiles: the built-in catalog plus the file, which may override', async () => {
  const r = await api(srv, 'GET', '/api/v1/device-profiles');
  assert.equal(r.status, 200, r.text);
  const items = r.json.items;
  assert.ok(items.length >= 15 + 3, `${items.length} profiles`);
  assert.equal(r.json.total, items.length);
  for (const cat of ['phone', 'tablet', 'laptop', 'sbc', 'edge-gpu']) assert.ok(items.some((d) => d.category === cat), cat);
  for (const d of items) {
    for (const k of ['id', 'name', 'memory_bytes', 'storage_bytes', 'accelerators', 'runtimes']) assert.ok(k in d, `${d.id}.${k}`);
    assert.ok(d.runtimes.length > 0);
  }
  const jetson = items.find((d) => d.id === 'jetson-orin-nano-8gb');
  assert.equal(jetson.memory_bytes, 8 * 1024 * MiB);
  assert.equal(jetson.memory_headroom_bytes, Math.floor(8 * 1024 * MiB * 0.7));
  const px = items.filter((d) => d.id === 'pixel-6a');
  assert.equal(px.length, 1);
  assert.equal(px[0].name, 'Pixel 6a (overridden)');
  const tiny = items.find((d) => d.id === 'test-tiny');
  assert.equal(tiny.storage_bytes, 8 * MiB);
  assert.deepEqual(tiny.precisions, ['fp32', 'int8']);
});

test('a bad --device-profiles file stops cairnd with the reason', async () => {
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify([{ id: 'ok', name: 'x', memory_bytes: -5, runtimes: ['onnx'] }]));
  const r = await new Promise((resolve) => {
    const p = spawn(CAIRND, ['serve', '--listen', '127.0.0.1:1', '--db', `sqlite://${tmp}/x.db`, '--blobs', `file://${tmp}/b`, '--device-profiles', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, err }));
  });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /memory_bytes/);
});

test('compatibility: per device, from the header parameter count, with reasons', async () => {
  const name = uniq('cmp');
  await mkModel(name, { isPublic: false, files: [['model.safetensors', safetensors('F32', 4)]] });
  const r = await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { devices: ['test-large', 'test-small', 'coral-dev-board'] } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.parameter_count, N);
  assert.equal(r.json.parameter_source, 'header');
  assert.equal(r.json.source_precision, 'fp32');
  assert.equal(r.json.required_memory_bytes.fp32, Math.ceil(4 * N * 1.2) + 8 * MiB);
  assert.equal(r.json.required_memory_bytes.int4, Math.ceil(N / 2 * 1.2) + 8 * MiB);
  const [large, small, coral] = r.json.devices;
  assert.equal(large.device, 'test-large');
  assert.equal(large.compatible, true);
  assert.deepEqual(large.reasons, []);
  assert.equal(large.runtime, 'safetensors');
  assert.equal(large.precision, 'fp32');
  assert.equal(small.compatible, false);
  assert.ok(small.reasons.some((x) => /headroom/.test(x)), small.reasons.join('|'));
  assert.ok(small.reasons.some((x) => /would fit converted to/.test(x)), small.reasons.join('|'));
  assert.equal(coral.compatible, false);
  assert.ok(coral.reasons.some((x) => /does not run safetensors/.test(x)));
  // Every profile when none is named; the version is chosen explicitly too.
  const all = await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { version: '1.0.0' } });
  assert.equal(all.status, 200);
  assert.ok(all.json.devices.length >= 18);
  assert.ok(all.json.devices.find((d) => d.device === 'macbook-pro-m3-max').compatible);
});

test('compatibility without a parameter count falls back to the size', async () => {
  const name = uniq('bin');
  await mkModel(name, { files: [['weights.onnx', Buffer.alloc(2 * MiB)]] });
  const r = await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { devices: ['pixel-6a'] } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.parameter_source, 'size');
  assert.equal(r.json.parameter_count, 2 * MiB / 4);
  assert.equal(r.json.devices[0].compatible, false); // the overridden pixel-6a runs no onnx
});

test('compatibility and plan: bad input', async () => {
  const name = uniq('bad');
  await mkModel(name, { files: [['model.safetensors', safetensors('F32', 4, 1000)]] });
  assertValidation(await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { devices: ['nope'] } }), ['body', 'devices']);
  assertValidation(await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { devices: 'test-small' } }), ['body', 'devices']);
  assertValidation(await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { device: ['x'] } }), ['body', 'device'], 'extra_forbidden');
  assertError(await api(srv, 'POST', `${base('no-such-model')}/compatibility`, { token: o.reader, body: {} }), 404, 'not_found_error');
  assertError(await api(srv, 'POST', `${base(name)}/compatibility`, { token: o.reader, body: { version: '9.9.9' } }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/capabilities/${name}/optimization-plan`, { token: o.reader }), 404, 'not_found_error');
  assertValidation(await api(srv, 'GET', `${base(name)}/optimization-plan?devices=test-small,nope`, { token: o.reader }), ['query', 'devices']);
  assertError(await api(srv, 'GET', `${base('no-such-model')}/optimization-plan`, { token: o.reader }), 404, 'not_found_error');
});

test('optimization plan: candidate targets per device, recommended first', async () => {
  const name = uniq('plan');
  await mkModel(name, { files: [['model.safetensors', safetensors('F32', 4)]] });
  const r = await api(srv, 'GET', `${base(name)}/optimization-plan?devices=test-small,test-tiny,coral-dev-board`, { token: o.reader });
  assert.equal(r.status, 200, r.text);
  const [small, tiny, coral] = r.json.devices;
  // test-small (11.74 MB headroom): fp16 needs 10.79 MB and fits, in the model's own format.
  assert.equal(small.targets[0].quantization, 'fp16');
  assert.equal(small.targets[0].format, 'safetensors');
  assert.equal(small.targets[0].expected_size_bytes, 2 * N);
  assert.equal(small.targets[0].expected_accuracy_delta, -0.001);
  assert.equal(small.targets[0].fits, true);
  assert.equal(small.targets[0].recommended, true);
  assert.deepEqual(small.recommended, small.targets[0]);
  // int8 and int4 cannot be safetensors: tflite then (int4 is not tflite's either).
  assert.deepEqual(small.targets.map((t) => [t.quantization, t.format]), [['fp16', 'safetensors'], ['int8', 'tflite']]);
  // test-tiny computes only fp32/int8: int8 (9.59 MB) does not fit 5.87 MB of headroom.
  assert.deepEqual(tiny.targets.map((t) => t.quantization), ['int8']);
  assert.equal(tiny.targets[0].fits, false);
  assert.equal(tiny.recommended, null);
  assert.match(tiny.reasons[0], /headroom/);
  assert.deepEqual(coral.targets.map((t) => [t.quantization, t.format, t.fits]), [['int8', 'tflite', true]]);
  assert.equal(coral.targets[0].expected_size_bytes, N);
});

test('device-aware resolve picks the widest package that fits: differently for a small and a large device', async () => {
  const name = uniq('res');
  await mkModel(name, { files: TWO() });
  const plain = await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${name}`);
  assert.equal(plain.status, 200, plain.text);
  assert.equal(plain.json.packages.length, 2);
  assert.equal(plain.json.reasons, undefined);
  const large = await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${name}?device=test-large`);
  assert.equal(large.status, 200, large.text);
  assert.equal(large.json.device, 'test-large');
  assert.equal(large.json.packages.length, 1);
  assert.equal(large.json.packages[0].resources[0].path, 'model-fp32.safetensors');
  assert.equal(large.json.packages[0].precision, 'fp32');
  assert.deepEqual(large.json.reasons, []);
  const small = await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${name}?device=test-small&version=1.0.0`);
  assert.equal(small.status, 200);
  assert.equal(small.json.packages.length, 1);
  assert.equal(small.json.packages[0].resources[0].path, 'model-fp16.safetensors');
  assert.equal(small.json.packages[0].precision, 'fp16');
  assert.notEqual(small.headers.get('etag'), large.headers.get('etag'));
  const tiny = await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${name}?device=test-tiny`);
  assert.equal(tiny.status, 200);
  assert.deepEqual(tiny.json.packages, []);
  assert.ok(tiny.json.reasons.length >= 2, tiny.text);
  assert.ok(tiny.json.reasons.some((x) => /does not compute at fp16/.test(x)), tiny.text);
  assert.ok(tiny.json.reasons.some((x) => /headroom/.test(x)), tiny.text);
  assertValidation(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${name}?device=nope`), ['query', 'device']);
  assertError(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/no-such?device=test-small`), 404, 'not_found_error');
});

test('org-scoped resolve serves private models to the org, 404 to others', async () => {
  const name = uniq('prv');
  await mkModel(name, { isPublic: false, files: TWO() });
  assertError(await api(srv, 'GET', `/api/v1/resolve/${o.slug}/${name}?device=test-small`), 404, 'not_found_error');
  const r = await api(srv, 'GET', `${base(name)}/resolve?device=test-small`, { token: o.reader });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.packages[0].resources[0].path, 'model-fp16.safetensors');
  const other = await mkOrgWithTokens(srv);
  assertError(await api(srv, 'GET', `${base(name)}/resolve?device=test-small`, { token: other.reader }), 404, 'not_found_error');
});

function cairn(args, home) {
  return new Promise((resolve) => {
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    for (const k of Object.keys(env)) if (k.startsWith('CAIRN_')) delete env[k];
    const p = spawn(CLI, ['--server', srv.url, '--token', o.reader, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('cairn devices, cairn compat and cairn pull --device', async () => {
  const name = uniq('cli');
  await mkModel(name, { isPublic: false, files: TWO() });
  const home = fs.mkdtempSync(path.join(tmp, 'home-'));
  const d = await cairn(['devices'], home);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /jetson-orin-nano-8gb\s+edge-gpu/);
  const dj = await cairn(['--json', 'devices'], home);
  assert.ok(JSON.parse(dj.stdout).items.length >= 18);
  const c = await cairn(['compat', `${o.slug}/${name}`, '--device', 'test-small', '--device', 'test-tiny'], home);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /test-small\s+yes.*safetensors fp16/);
  assert.match(c.stdout, /test-tiny\s+no/);
  const bad = await cairn(['compat', `${o.slug}/${name}`, '--device', 'nope'], home);
  assert.equal(bad.code, 4, bad.stderr);
  const out = path.join(home, 'small');
  const p = await cairn(['pull', `${o.slug}/${name}`, '--device', 'test-small', '-o', out], home);
  assert.equal(p.code, 0, p.stderr + p.stdout);
  assert.deepEqual(fs.readdirSync(out).sort(), ['model-fp16.safetensors']);
  const out2 = path.join(home, 'large');
  const p2 = await cairn(['pull', `${o.slug}/${name}@1.0.0`, '--device', 'test-large', '-o', out2], home);
  assert.equal(p2.code, 0, p2.stderr);
  assert.deepEqual(fs.readdirSync(out2).sort(), ['model-fp32.safetensors']);
  const none = await cairn(['pull', `${o.slug}/${name}`, '--device', 'test-tiny', '-o', path.join(home, 'tiny')], home);
  assert.equal(none.code, 4);
  assert.match(none.stderr, /no package .* suits test-tiny/);
});

test('optimized configs: 404 before the first PUT, stored per version and device type as a blob', async () => {
  const name = uniq('cfg');
  await mkModel(name, { isPublic: false, files: [['model.safetensors', safetensors('F32', 4, 1000)]] });
  assert.equal((await api(srv, 'POST', `${base(name)}/versions`, { token: o.writer, body: { version: '1.1.0' } })).status, 201);
  const url = `${base(name)}/optimized-configs/pixel-8-pro`;
  assertError(await api(srv, 'GET', url, { token: o.reader }), 404, 'not_found_error');
  const cfg = { quantization: 'int8', delegate: 'nnapi', threads: 4, calibration: { samples: 128 } };
  const p1 = await api(srv, 'PUT', url, { token: o.writer, body: cfg });
  assert.equal(p1.status, 201, p1.text);
  assert.equal(p1.json.version, '1.0.0'); // latest published
  assert.equal(p1.json.device_type, 'pixel-8-pro');
  assert.match(p1.json.sha256, /^[0-9a-f]{64}$/);
  const g = await api(srv, 'GET', url, { token: o.reader });
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json.config, cfg);
  assert.equal(g.json.sha256, p1.json.sha256);
  assert.ok(g.headers.get('etag'));
  // Replace: 200, new content; another device type and another version stay apart.
  const p2 = await api(srv, 'PUT', url, { token: o.writer, body: { ...cfg, threads: 8 } });
  assert.equal(p2.status, 200, p2.text);
  assert.equal((await api(srv, 'GET', url, { token: o.reader })).json.config.threads, 8);
  assertError(await api(srv, 'GET', `${base(name)}/optimized-configs/iphone-12`, { token: o.reader }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `${url}?version=1.1.0`, { token: o.reader }), 404, 'not_found_error');
  assert.equal((await api(srv, 'PUT', `${url}?version=1.1.0`, { token: o.writer, body: { v: 2 } })).status, 201);
  assert.deepEqual((await api(srv, 'GET', `${url}?version=1.1.0`, { token: o.reader })).json.config, { v: 2 });
  assert.equal((await api(srv, 'GET', url, { token: o.reader })).json.config.threads, 8);
  // Bad input, roles, other orgs.
  assertValidation(await api(srv, 'PUT', url, { token: o.writer, body: [1, 2] }), ['body']);
  assertValidation(await api(srv, 'PUT', `${base(name)}/optimized-configs/bad%20type`, { token: o.writer, body: {} }), ['path', 'device_type']);
  assertError(await api(srv, 'PUT', url, { token: o.reader, body: cfg }), 403, 'forbidden_error');
  assertError(await api(srv, 'PUT', `${base('nope')}/optimized-configs/x`, { token: o.writer, body: cfg }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `${url}?version=3.0.0`, { token: o.reader }), 404, 'not_found_error');
  const other = await mkOrgWithTokens(srv);
  assertError(await api(srv, 'GET', url, { token: other.reader }), 404, 'not_found_error');
  // The blob survives GC (it is referenced by the config row).
  const gc = await api(srv, 'POST', '/api/v1/admin/gc', { token: srv.adminToken });
  assert.equal(gc.status, 200, gc.text);
  assert.equal((await api(srv, 'GET', url, { token: o.reader })).json.config.threads, 8);
});
