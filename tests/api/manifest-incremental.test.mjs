// The manifest is kept incrementally (only the models that changed are re-serialised and their
// chunks recompressed): after random changes it must equal, byte for byte once decompressed, a
// manifest built from scratch by a fresh server on the same data; its gzip body must be one
// valid stream for node's zlib and for gzip -d, and decode to the plain body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { startServer, api, mkOrgWithTokens, uniq } from './harness.mjs';

function prng(seed) { // mulberry32
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (rand, arr) => arr[Math.floor(rand() * arr.length)];

async function bodies(srv) {
  const plain = await fetch(`${srv.url}/api/v1/manifest`);
  assert.equal(plain.status, 200);
  const text = Buffer.from(await plain.arrayBuffer());
  const gz = await fetch(`${srv.url}/api/v1/manifest`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  // fetch decodes gzip itself; read the raw bytes through a second, undecoded request
  const raw = await rawGzip(srv);
  return { text, raw, etag: plain.headers.get('etag') };
}

async function rawGzip(srv) {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    http.get(`${srv.url}/api/v1/manifest`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts)));
    }).on('error', reject);
  });
}

// The document without generated_at (a fresh build stamps its own time).
const models = (buf) => {
  const s = buf.toString('utf8');
  const i = s.indexOf('"models":');
  assert.ok(i > 0, s.slice(0, 200));
  return s.slice(i);
};

test('incremental manifest equals a from-scratch build after random changes; gzip is one valid stream', { timeout: 240_000 }, async () => {
  const srv = await startServer({ keepDataDir: true });
  try {
    const orgs = [await mkOrgWithTokens(srv, uniq('ma')), await mkOrgWithTokens(srv, uniq('mb'))];
    const rand = prng(20261207);
    const live = [];
    const deleted = [];
    const v = new Map();
    const publishNext = async (m) => {
      const n = (v.get(m.name) || 0) + 1;
      v.set(m.name, n);
      const base = `/api/v1/org/${m.o.slug}/models/${m.name}`;
      const ver = `1.${n}.0`;
      assert.equal((await api(srv, 'POST', `${base}/versions`, { token: m.o.writer, body: { version: ver } })).status, 201);
      const put = await fetch(`${srv.url}${base}/versions/${ver}/files/w-${n}.bin`, {
        method: 'PUT', body: Buffer.from(`${m.name} ${n}`), headers: { authorization: `Bearer ${m.o.writer}` } });
      assert.equal(put.status, 201, await put.text());
      const p = await api(srv, 'POST', `${base}/versions/${ver}/publish`, { token: m.o.writer });
      assert.equal(p.status, 200, p.text);
    };
    // Enough models that the entries span several chunks (64 to 127 entries each).
    for (let i = 0; i < 200; i++) {
      const o = pick(rand, orgs);
      const name = `${['a', 'm', 'z'][i % 3]}${uniq('x')}`;
      const r = await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer,
        body: { name, is_public: rand() < 0.8, framework: pick(rand, ['gguf', 'onnx']), task: 'text-generation' } });
      assert.equal(r.status, 201, r.text);
      const m = { o, name };
      live.push(m);
      if (rand() < 0.8) await publishNext(m);
    }
    let prevEtag = null;
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 6; i++) {
        const op = rand();
        const m = pick(rand, live);
        const base = `/api/v1/org/${m.o.slug}/models/${m.name}`;
        if (op < 0.3) {
          await publishNext(m);
        } else if (op < 0.5) {
          const r = await api(srv, 'PATCH', base, { token: m.o.writer, body: rand() < 0.5 ? { is_public: rand() < 0.6 } : { framework: pick(rand, ['gguf', 'onnx', 'safetensors']), enabled: rand() < 0.8 } });
          assert.equal(r.status, 200, r.text);
        } else if (op < 0.65 && v.get(m.name)) {
          const r = await api(srv, 'POST', `${base}/versions/1.${v.get(m.name)}.0/deprecate`, { token: m.o.writer });
          assert.ok([200, 409].includes(r.status), r.text);
        } else if (op < 0.8 && live.length > 10) {
          live.splice(live.indexOf(m), 1);
          assert.equal((await api(srv, 'DELETE', base, { token: m.o.admin })).status, 204);
          deleted.push(m);
        } else if (deleted.length) {
          const d = deleted.splice(Math.floor(rand() * deleted.length), 1)[0];
          const r = await api(srv, 'POST', `/api/v1/org/${d.o.slug}/models/${d.name}/restore`, { token: d.o.admin });
          assert.equal(r.status, 200, r.text);
          live.push(d);
        }
      }
      const inc = await bodies(srv); // brought up to date incrementally
      const fresh = await startServer({ dataDir: srv.dataDir, keepDataDir: true, adminToken: srv.adminToken });
      let scratch;
      try { scratch = await bodies(fresh); } finally { await fresh.stop(); }
      assert.equal(models(inc.text), models(scratch.text), `round ${round}: incremental differs from a full build`);
      assert.equal(inc.etag, scratch.etag, `round ${round}: same content, same ETag on every instance`);
      const parsed = JSON.parse(inc.text.toString('utf8'));
      assert.ok(Object.keys(parsed.models).length > 0);
      // gzip: node's zlib and gzip -d both read it as one stream equal to the plain body
      assert.deepEqual(gunzipSync(inc.raw), inc.text, `round ${round}: node zlib`);
      assert.deepEqual(execFileSync('gzip', ['-dc'], { input: inc.raw, maxBuffer: 1 << 26 }), inc.text, `round ${round}: gzip -d`);
      if (prevEtag !== null && round > 0) assert.ok(inc.etag);
      prevEtag = inc.etag;
    }
  } finally {
    await srv.stop();
  }
});
