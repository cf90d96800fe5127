// Conversion jobs (API.md §8): POST .../convert → 202 one job per target, GET /org/{org}/jobs[/{id}],
// external converters per pair (no shell, own directory, timeout, output cap, stderr tail), the
// built-in safetensors F32 → F16/BF16 converter on a real file, 422 listing the pairs, another
// org's job → 404, and jobs surviving a restart (SIGTERM: re-queued; SIGKILL: lease taken over).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, mkOrgWithTokens, assertError, assertValidation, uniq, REPO,
} from './harness.mjs';

const CONV = path.join(REPO, 'tests', 'support', 'converter.sh');
const conv = (pair, mode, extra = '') => ['--converter', `${pair}=sh ${CONV} ${mode} {in} {out}${extra ? ' ' + extra : ''}`];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

let srv, o;
before(async () => {
  srv = await startServer({
    args: [
      ...conv('onnx:tflite', 'ok', '$HOME;x'), ...conv('onnx:coreml', 'fail'),
      ...conv('onnx:slow', 'sleep', '30'), ...conv('onnx:big', 'big'),
      '--converter-timeout', '2', '--converter-max-output', '1000000', '--converter-workers', '2',
    ],
  });
  o = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); });

function safetensors(tensors, metadata) {
  // tensors: [{name, dtype, shape, bytes: Buffer}] in data order
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) { header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] }; off += t.bytes.length; }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, ...tensors.map((t) => t.bytes)]);
}
function parseSt(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  return { n, header: JSON.parse(buf.subarray(8, 8 + n).toString()), data: buf.subarray(8 + n) };
}
const f32 = (vals) => { const b = Buffer.alloc(4 * vals.length); vals.forEach((v, i) => b.writeFloatLE(v, i * 4)); return b; };

async function model(files, name = uniq('cv')) {
  const base = `/api/v1/org/${o.slug}/models/${name}`;
  assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, is_public: true } })).status, 201);
  assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
  for (const [p, b] of files) {
    const r = await fetch(`${srv.url}${base}/versions/1.0.0/files/${p}`, { method: 'PUT', body: b, headers: { authorization: `Bearer ${o.writer}` } });
    assert.equal(r.status, 201, await r.text());
  }
  return { name, base };
}
async function convert(m, source_path, targets, token = o.writer) {
  return api(srv, 'POST', `${m.base}/versions/1.0.0/convert`, { token, body: { source_path, targets } });
}
async function waitJob(id, s = srv, org = o, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await api(s, 'GET', `/api/v1/org/${org.slug}/jobs/${id}`, { token: org.reader });
    assert.equal(r.status, 200, r.text);
    if (r.json.status === 'succeeded' || r.json.status === 'failed') return r.json;
    if (Date.now() > end) throw new Error(`job ${id} still ${r.json.status}`);
    await sleep(100);
  }
}
async function download(m, p, s = srv, token = o.reader) {
  const r = await fetch(`${s.url}${m.base}/versions/1.0.0/files/${p}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, p);
  return Buffer.from(await r.arrayBuffer());
}

test('built-in safetensors F32 → F16 and → BF16: dtype, size, offsets, correctly rounded values', async () => {
  const vals = [1, -2.5, 65520, 1e-8, Infinity, 3.14159274, -0, 5.960464477539063e-8, 1 + 2 ** -11, NaN];
  const ints = Buffer.alloc(16); ints.writeBigInt64LE(7n, 0); ints.writeBigInt64LE(-9n, 8);
  const src = safetensors([
    { name: 'w', dtype: 'F32', shape: [2, 5], bytes: f32(vals) },
    { name: 'ids', dtype: 'I64', shape: [2], bytes: ints },
    { name: 'big', dtype: 'F32', shape: [300000], bytes: f32(Array.from({ length: 300000 }, (_, i) => i / 7)) },
  ], { format: 'pt' });
  const m = await model([['model.safetensors', src]]);
  const r = await convert(m, 'model.safetensors', ['safetensors-fp16', 'safetensors-bf16', 'safetensors-fp16']);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.jobs.length, 2, 'duplicate targets make one job');
  assert.equal(r.json.status, 'queued');
  assert.equal(r.json.id, r.json.jobs[0].id);
  for (const j of r.json.jobs) {
    const done = await waitJob(j.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.attempts, 1);
    assert.match(done.package_id, /^[0-9a-f-]{36}$/);
  }
  const f16 = await download(m, 'model-fp16.safetensors');
  const p16 = parseSt(f16);
  assert.equal(p16.n % 8, 0, 'header padded to 8 bytes');
  assert.deepEqual(p16.header.__metadata__, { format: 'pt' });
  assert.deepEqual(p16.header.w, { dtype: 'F16', shape: [2, 5], data_offsets: [0, 20] });
  assert.deepEqual(p16.header.ids, { dtype: 'I64', shape: [2], data_offsets: [20, 36] });
  assert.deepEqual(p16.header.big, { dtype: 'F16', shape: [300000], data_offsets: [36, 600036] });
  assert.equal(f16.length, 8 + p16.n + 600036);
  const h = [...Array(10).keys()].map((i) => p16.data.readUInt16LE(2 * i));
  // 1, -2.5, 65520 ties to even = inf, 1e-8 → 0, inf, pi, -0, 2^-24 (smallest subnormal), 1+2^-11 ties to 1, NaN
  assert.deepEqual(h.slice(0, 9), [0x3c00, 0xc100, 0x7c00, 0x0000, 0x7c00, 0x4248, 0x8000, 0x0001, 0x3c00]);
  assert.equal(h[9] & 0x7c00, 0x7c00); assert.notEqual(h[9] & 0x3ff, 0);
  assert.equal(p16.data.readBigInt64LE(20), 7n);
  assert.equal(p16.data.readBigInt64LE(28), -9n);
  // i/7 for i = 70000 is 10000 → 0x70e2 exactly.
  assert.equal(p16.data.readUInt16LE(36 + 2 * 70000), 0x70e2);
  const bf = parseSt(await download(m, 'model-bf16.safetensors'));
  assert.equal(bf.header.w.dtype, 'BF16');
  const b = [...Array(9).keys()].map((i) => bf.data.readUInt16LE(2 * i));
  assert.deepEqual(b, [0x3f80, 0xc020, 0x4780, 0x322c, 0x7f80, 0x4049, 0x8000, 0x3380, 0x3f80]);
  // The version lists a `converted` package per target, digests verified.
  const v = await api(srv, 'GET', `${m.base}/versions/1.0.0`, { token: o.reader });
  const conv16 = v.json.packages.find((p) => p.format === 'safetensors-fp16');
  assert.equal(conv16.kind, 'converted');
  assert.equal(conv16.resources[0].sha256, sha256(f16));
  assert.equal(conv16.resources[0].sha256_verified ?? true, true);
  // Converting again to an existing output fails cleanly.
  const again = await convert(m, 'model.safetensors', ['safetensors-fp16']);
  assert.equal(again.status, 202);
  const failed = await waitJob(again.json.id);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error, /already exists/);
});

test('external converter: runs without a shell ($HOME;x arrives literally), in its own directory', async () => {
  const m = await model([['model.onnx', Buffer.from('ONNX-BYTES')]]);
  const r = await convert(m, 'model.onnx', ['tflite']);
  assert.equal(r.status, 202, r.text);
  const j = await waitJob(r.json.id);
  assert.equal(j.status, 'succeeded', JSON.stringify(j));
  assert.equal(j.output_path, 'model.tflite');
  assert.equal(j.source_format, 'onnx');
  assert.match(j.stderr_tail, /converter: done/);
  const out = (await download(m, 'model.tflite')).toString();
  assert.match(out, /^converted:ONNX-BYTES\|args:\[\$HOME;x\]\|/);
  const home = /home:([^|]*)/.exec(out)[1];
  assert.match(home, /cairn-job-/);
  assert.equal(/pwd:(.*)$/.exec(out)[1], home, 'runs in its directory, which is also HOME');
  assert.ok(!fs.existsSync(home), 'the job directory is removed');
});

test('external converter: failure with the stderr tail, timeout, output cap', async () => {
  const m = await model([['model.onnx', Buffer.from('x')]]);
  const r = await convert(m, 'model.onnx', ['coreml', 'slow', 'big']);
  assert.equal(r.status, 202, r.text);
  const [fail, slow, big] = await Promise.all(r.json.jobs.map((j) => waitJob(j.id)));
  assert.equal(fail.status, 'failed');
  assert.match(fail.error, /exited with status 3/);
  assert.match(fail.stderr_tail, /loading the graph\nfatal: unsupported operator Foo/);
  assert.equal(slow.status, 'failed');
  assert.match(slow.error, /timed out after 2 s/);
  assert.equal(big.status, 'failed');
  assert.match(big.error, /exceeded 1000000 bytes/);
  const v = await api(srv, 'GET', `${m.base}/versions/1.0.0`, { token: o.reader });
  assert.equal(v.json.packages.length, 1, 'failed conversions store nothing');
});

test('convert: bad input, pairs without a converter, roles, other orgs', async () => {
  const m = await model([['model.onnx', Buffer.from('x')]]);
  const none = await convert(m, 'model.onnx', ['tflite', 'mlir']);
  const item = assertValidation(none, ['body', 'targets']);
  assert.match(item.msg, /onnx:mlir/);
  assert.match(item.msg, /onnx:tflite/);
  assert.match(item.msg, /safetensors:safetensors-fp16/);
  assertValidation(await convert(m, 'nope.onnx', ['tflite']), ['body', 'source_path']);
  assertValidation(await convert(m, 'model.onnx', []), ['body', 'targets']);
  assertValidation(await api(srv, 'POST', `${m.base}/versions/1.0.0/convert`, { token: o.writer, body: { targets: ['tflite'] } }), ['body', 'source_path']);
  assertValidation(await api(srv, 'POST', `${m.base}/versions/1.0.0/convert`, { token: o.writer, body: { source_path: 'model.onnx', targets: ['tflite'], force: true } }), ['body', 'force'], 'extra_forbidden');
  assertError(await api(srv, 'POST', `${m.base}/versions/9.9.9/convert`, { token: o.writer, body: { source_path: 'model.onnx', targets: ['tflite'] } }), 404, 'not_found_error');
  assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/models/nope/versions/1.0.0/convert`, { token: o.writer, body: { source_path: 'model.onnx', targets: ['tflite'] } }), 404, 'not_found_error');
  assertError(await convert(m, 'model.onnx', ['tflite'], o.reader), 403, 'forbidden_error');
  // Jobs are org-private: another org's token gets 404 for the job and sees none in its list.
  const ok = await convert(m, 'model.onnx', ['tflite']);
  assert.equal(ok.status, 202);
  await waitJob(ok.json.id);
  const other = await mkOrgWithTokens(srv);
  assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/jobs/${ok.json.id}`, { token: other.admin }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${other.slug}/jobs/${ok.json.id}`, { token: other.admin }), 404, 'not_found_error');
  assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/jobs/0190d000-0000-7000-8000-000000000000`, { token: o.reader }), 404, 'not_found_error');
  const list = await api(srv, 'GET', `/api/v1/org/${o.slug}/jobs?status=succeeded&limit=2`, { token: o.reader });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.items.length, 2);
  assert.ok(list.json.items.every((j) => j.status === 'succeeded'));
  assert.ok(list.json.next_cursor);
  const page2 = await api(srv, 'GET', `/api/v1/org/${o.slug}/jobs?status=succeeded&limit=2&cursor=${encodeURIComponent(list.json.next_cursor)}`, { token: o.reader });
  assert.equal(page2.status, 200);
  assert.ok(!page2.json.items.some((j) => list.json.items.some((x) => x.id === j.id)));
  assertValidation(await api(srv, 'GET', `/api/v1/org/${o.slug}/jobs?status=bogus`, { token: o.reader }), ['query', 'status']);
  assert.equal((await api(srv, 'GET', `/api/v1/org/${other.slug}/jobs`, { token: other.reader })).json.items.length, 0);
});

test('jobs survive a restart: SIGTERM re-queues the running one, SIGKILL is taken over after the lease', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-jobs-'));
  const adminToken = `adm_${uniq('t')}`;
  const args = [...conv('onnx:s1', 'sleep', '1'), ...conv('onnx:s2', 'sleep', '1'), ...conv('onnx:s3', 'sleep', '1')];
  let s = await startServer({ dataDir, keepDataDir: true, adminToken, args });
  try {
    const org = await mkOrgWithTokens(s);
    const base = `/api/v1/org/${org.slug}/models/r`;
    assert.equal((await api(s, 'POST', `/api/v1/org/${org.slug}/models`, { token: org.writer, body: { name: 'r' } })).status, 201);
    assert.equal((await api(s, 'POST', `${base}/versions`, { token: org.writer, body: { version: '1.0.0' } })).status, 201);
    assert.equal((await fetch(`${s.url}${base}/versions/1.0.0/files/m.onnx`, { method: 'PUT', body: 'abc', headers: { authorization: `Bearer ${org.writer}` } })).status, 201);
    const r = await api(s, 'POST', `${base}/versions/1.0.0/convert`, { token: org.writer, body: { source_path: 'm.onnx', targets: ['s1', 's2', 's3'] } });
    assert.equal(r.status, 202, r.text);
    await sleep(300); // the one worker is running s1; s2 and s3 wait
    await s.stop();
    s = await startServer({ dataDir, keepDataDir: true, adminToken, args });
    const done = [];
    for (const j of r.json.jobs) done.push(await waitJob(j.id, s, org, 20000));
    assert.deepEqual(done.map((j) => j.status), ['succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(done.map((j) => j.output_path).sort(), ['m.s1', 'm.s2', 'm.s3']);
    // SIGKILL while converting: the lease runs out and the new instance takes the job over.
    const k = await api(s, 'POST', `${base}/versions/1.0.0/convert`, { token: org.writer, body: { source_path: 'm.s1', targets: ['s2'] } });
    assert.equal(k.status, 422, 'm.s1 has format s1, which has no converter');
    const r2 = await api(s, 'POST', `${base}/versions/1.0.0/convert`, { token: org.writer, body: { source_path: 'm.onnx', targets: ['s1'] } });
    assert.equal(r2.status, 202);
    for (let i = 0; i < 50; i++) {
      const st = (await api(s, 'GET', `/api/v1/org/${org.slug}/jobs/${r2.json.id}`, { token: org.reader })).json.status;
      if (st === 'running') break;
      await sleep(20);
    }
    s.proc.kill('SIGKILL');
    await new Promise((res) => s.proc.once('exit', res));
    s = await startServer({ dataDir, keepDataDir: true, adminToken, args });
    const t = await waitJob(r2.json.id, s, org, 25000);
    assert.equal(t.status, 'failed', 'the output path m.s1 exists already');
    assert.equal(t.attempts, 2, 'taken over after the dead worker\'s lease');
    assert.match(t.error, /already exists/);
  } finally {
    await s.stop().catch(() => {});
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('cairn convert --wait and cairn jobs', async () => {
  const { spawn } = await import('node:child_process');
  const CLI = process.env.CAIRN_CLI || path.join(REPO, 'build', 'cairn');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-cli-'));
  const run = (args) => new Promise((resolve) => {
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    for (const k of Object.keys(env)) if (k.startsWith('CAIRN_')) delete env[k];
    const p = spawn(CLI, ['--server', srv.url, '--token', o.writer, ...args], { env });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  try {
    const m = await model([['w.safetensors', safetensors([{ name: 'x', dtype: 'F32', shape: [4], bytes: f32([1, 2, 3, 4]) }])]]);
    const r = await run(['convert', `${o.slug}/${m.name}@1.0.0`, 'w.safetensors', '--target', 'safetensors-bf16', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /succeeded .* w\.safetensors -> safetensors-bf16 = w-bf16\.safetensors/);
    const f = await run(['convert', `${o.slug}/${m.name}@1.0.0`, 'w.safetensors', '--target', 'safetensors-bf16', '--wait']);
    assert.equal(f.code, 4, f.stdout + f.stderr);
    assert.match(f.stdout, /failed .*already exists/);
    const bad = await run(['convert', `${o.slug}/${m.name}@1.0.0`, 'w.safetensors', '--target', 'tflite']);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /configured pairs/);
    const id = /^(\S+)/.exec(r.stdout)[1];
    const one = await run(['jobs', id]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^${id} succeeded`));
    const all = await run(['jobs']);
    assert.equal(all.code, 0, all.stderr);
    assert.ok(all.stdout.includes(id));
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
