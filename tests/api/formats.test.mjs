// API.md §6 format intelligence: .safetensors / .gguf header parsing into the version's
// metadata and the artifact's size_category, hostile headers, and capability manifests
// (capability.json → keywords/components, trust card).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrgWithTokens, assertError, TS_RE, rnd,
} from './harness.mjs';
import {
  sha256, prngBytes, verBase, artBase, mkArtifact, mkVersion, putFile, putFileOk, publish, safetensors, gguf, u32, u64,
  postBundle,
} from './files-lib.mjs';

let srv;
let A;
let B;
before(async () => {
  srv = await startServer();
  A = await mkOrgWithTokens(srv);
  B = await mkOrgWithTokens(srv);
});
after(async () => { await srv?.stop(); });

async function getVersion(o, kind, name, v) {
  const r = await api(srv, 'GET', verBase(o, kind, name, v), { token: o.reader });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
async function getArtifact(o, kind, name) {
  const r = await api(srv, 'GET', artBase(o, kind, name), { token: o.reader });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
async function draft(kind = 'models', extra = {}) {
  const { name } = await mkArtifact(srv, A, kind, extra);
  await mkVersion(srv, A, kind, name, '1.0.0');
  return name;
}
async function healthy() {
  const h = await api(srv, 'GET', '/healthz');
  assert.equal(h.status, 200);
}
/** The file is not part of the version. */
async function notAttached(name, p, kind = 'models') {
  const v = await getVersion(A, kind, name, '1.0.0');
  const paths = v.packages.flatMap((x) => x.resources.map((r) => r.path));
  assert.ok(!paths.includes(p), `${p} attached: ${JSON.stringify(paths)}`);
}

/** A safetensors file whose 8-byte length field is `len` followed by `rest`. */
function stRaw(len, rest) {
  return Buffer.concat([u64(len), Buffer.from(rest)]);
}

describe('safetensors', () => {
  test('tiny valid file → parameter_count 6 in the Version and its metadata; size_category tiny', async () => {
    const name = await draft();
    assert.equal((await getArtifact(A, 'models', name)).size_category, null);
    const file = safetensors();
    assert.equal(file.length, 8 + Buffer.byteLength(JSON.stringify({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } })) + 24);
    const pkg = await putFileOk(srv, A, 'models', name, '1.0.0', 'model.safetensors', file);
    assert.equal(pkg.format, 'safetensors');
    assert.equal(pkg.resources[0].sha256, sha256(file));
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(v.parameter_count, 6, `Version.parameter_count: ${JSON.stringify(v)}`);
    assert.ok(v.metadata && typeof v.metadata === 'object', 'metadata object');
    assert.equal(v.metadata.parameter_count, 6, `metadata: ${JSON.stringify(v.metadata)}`);
    const art = await getArtifact(A, 'models', name);
    assert.equal(art.size_category, 'tiny');
  });

  test('tensor count and dtypes are recorded; parameters add up over tensors', async () => {
    const name = await draft();
    const hdr = {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F16', shape: [4, 4], data_offsets: [0, 32] },
      b: { dtype: 'F16', shape: [4], data_offsets: [32, 40] },
      c: { dtype: 'I8', shape: [2, 2, 2], data_offsets: [40, 48] },
    };
    await putFileOk(srv, A, 'models', name, '1.0.0', 'm.safetensors', safetensors(hdr, 48));
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(v.parameter_count, 16 + 4 + 8);
    const s = JSON.stringify(v.metadata);
    assert.match(s, /"tensor_count":3/, `tensor_count in ${s}`);
    assert.match(s, /"F16":2/, `dtypes in ${s}`);
    assert.match(s, /"I8":1/, `dtypes in ${s}`);
  });

  test('an explicitly set size_category is kept', async () => {
    const name = await draft('models', { size_category: 'large' });
    await putFileOk(srv, A, 'models', name, '1.0.0', 'model.safetensors', safetensors());
    assert.equal((await getArtifact(A, 'models', name)).size_category, 'large');
    assert.equal((await getVersion(A, 'models', name, '1.0.0')).parameter_count, 6);
  });

  test('metadata given at version create is kept next to the parsed fields', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '1.0.0', { metadata: { trained_on: 'x' } });
    await putFileOk(srv, A, 'models', name, '1.0.0', 'model.safetensors', safetensors());
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(v.metadata.trained_on, 'x');
    assert.equal(v.metadata.parameter_count, 6);
  });

  const HOSTILE = {
    'length 0xFFFFFFFFFFFFFFFF': () => Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from('{"w":{}}')]),
    'length 2^63': () => stRaw(2n ** 63n, '{}'),
    'length beyond the file': () => stRaw(1000, '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    'truncated JSON': () => { const j = '{"w":{"dtype":"F32","shape":[2,3],"data_offse'; return Buffer.concat([stRaw(j.length, j), Buffer.alloc(24)]); },
    'JSON array header': () => stRaw(5, '[1,2]'),
    'not JSON': () => stRaw(8, 'garbage!'),
    'shorter than 8 bytes': () => Buffer.from([1, 2, 3]),
    'empty file': () => Buffer.alloc(0),
    'unknown dtype': () => safetensors({ w: { dtype: 'Q99', shape: [2], data_offsets: [0, 8] } }, 8),
    'negative shape': () => safetensors({ w: { dtype: 'F32', shape: [-2, 3], data_offsets: [0, 24] } }, 24),
    'offsets disagree with shape': () => safetensors({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 8] } }, 24),
    'shape overflows 64 bits': () => safetensors({ w: { dtype: 'F32', shape: [4294967296, 4294967296, 16], data_offsets: [0, 24] } }, 24),
    'offsets past the end (2.3e18 parameters in a tiny file)': () => safetensors({ w: { dtype: 'F4', shape: [2305843009213693952], data_offsets: [0, 1152921504606846976] } }, 24),
    'offsets past the end of the data': () => safetensors({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } }, 16),
    'a gap between tensors': () => safetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12),
    'overlapping tensors': () => safetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8),
    'bytes after the last tensor': () => safetensors({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } }, 25),
  };
  for (const [what, mk] of Object.entries(HOSTILE)) {
    test(`hostile header (${what}) → 422 validation_error, not attached, server fine`, async () => {
      const name = await draft();
      const r = await putFile(srv, A, 'models', name, '1.0.0', 'bad.safetensors', mk());
      assertError(r, 422, 'validation_error');
      await notAttached(name, 'bad.safetensors');
      await healthy();
      assert.equal((await getArtifact(A, 'models', name)).size_category, null);
    });
  }

  test('a valid file whose JSON header is past 8 MiB (up to 100 MiB is allowed) → 201, parsed', async () => {
    const name = await draft();
    const hdr = { __metadata__: { note: 'n'.repeat(9 * 1024 * 1024) }, w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } };
    const file = safetensors(hdr, 24);
    assert.ok(file.length > 9 * 1024 * 1024);
    const pkg = await putFileOk(srv, A, 'models', name, '1.0.0', 'big-header.safetensors', file);
    assert.equal(pkg.format, 'safetensors');
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(v.parameter_count, 6);
    assert.equal(v.metadata.files['big-header.safetensors'].header_bytes, file.length - 8 - 24);
  });

  test('every truncation of a valid file → 201 or 422, never a 5xx', async () => {
    const name = await draft();
    const file = safetensors();
    const seen = {};
    for (let n = 0; n < file.length; n++) {
      const r = await putFile(srv, A, 'models', name, '1.0.0', `cut${n}.safetensors`, file.subarray(0, n));
      assert.ok(r.status === 201 || r.status === 422, `${n} bytes: ${r.status} ${r.text.slice(0, 200)}`);
      seen[r.status] = (seen[r.status] || 0) + 1;
    }
    // Cut inside the length or the JSON is always an error.
    for (let n = 0; n < 8 + 10; n++) {
      const r = await api(srv, 'GET', `${verBase(A, 'models', name, '1.0.0')}/files/cut${n}.safetensors`, { token: A.reader });
      assert.equal(r.status, 404, `cut at ${n} was accepted`);
    }
    assert.ok(seen[422] >= 18, JSON.stringify(seen));
    await healthy();
  });

  test('hostile primary in a bundle → 422, nothing attached', async () => {
    const name = await draft();
    const fd = new FormData();
    fd.append('primary', new Blob([Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from('{}')])]), 'model.safetensors');
    fd.append('extras', new Blob([Buffer.from('{}')]), 'config.json');
    fd.append('extras_kind', 'config');
    const r = await postBundle(srv, verBase(A, 'models', name, '1.0.0'), A.writer, fd);
    assertError(r, 422, 'validation_error');
    assert.deepEqual((await getVersion(A, 'models', name, '1.0.0')).packages, []);
  });
});

describe('gguf', () => {
  test('tiny GGUF v3 → metadata architecture llama, parameter_count 16; Version.architecture set', async () => {
    const name = await draft();
    const file = gguf('llama');
    const pkg = await putFileOk(srv, A, 'models', name, '1.0.0', 'model.gguf', file);
    assert.equal(pkg.format, 'gguf');
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(v.metadata.architecture, 'llama', `metadata: ${JSON.stringify(v.metadata)}`);
    assert.equal(v.architecture, 'llama');
    assert.equal(v.parameter_count, 16);
    assert.equal(v.metadata.parameter_count, 16);
    assert.match(JSON.stringify(v.metadata), /"tensor_count":1/);
    assert.equal((await getArtifact(A, 'models', name)).size_category, 'tiny');
  });

  test('an architecture given at version create is not overwritten', async () => {
    const { name } = await mkArtifact(srv, A, 'models');
    await mkVersion(srv, A, 'models', name, '1.0.0', { architecture: 'mine' });
    await putFileOk(srv, A, 'models', name, '1.0.0', 'model.gguf', gguf('qwen2'));
    const v = await getVersion(A, 'models', name, '1.0.0');
    assert.equal(v.architecture, 'mine');
    assert.equal(v.metadata.architecture, 'qwen2');
  });

  const HOSTILE = {
    'kv_count 2^62': () => gguf('llama', { kvCount: 2n ** 62n }),
    'kv_count 2^64-1': () => gguf('llama', { kvCount: 2n ** 64n - 1n }),
    'tensor_count 2^62': () => gguf('llama', { tensorCount: 2n ** 62n }),
    'key length beyond the file': () => gguf('llama', { keyLen: 2n ** 40n }),
    'key length 2^64-1': () => gguf('llama', { keyLen: 2n ** 64n - 1n }),
    'value string length beyond the file': () => Buffer.concat([
      Buffer.from('GGUF'), u32(3), u64(0), u64(1),
      u64(20), Buffer.from('general.architecture'), u32(8), u64(1_000_000), Buffer.from('llama'),
    ]),
    'array of 2^62 elements': () => Buffer.concat([
      Buffer.from('GGUF'), u32(3), u64(0), u64(1),
      u64(3), Buffer.from('arr'), u32(9), u32(4), u64(2n ** 62n),
    ]),
    'unknown value type': () => Buffer.concat([
      Buffer.from('GGUF'), u32(3), u64(0), u64(1),
      u64(3), Buffer.from('key'), u32(999), u32(1),
    ]),
    'bad magic': () => Buffer.concat([Buffer.from('GGUX'), gguf().subarray(4)]),
    'version 99': () => Buffer.concat([Buffer.from('GGUF'), u32(99), gguf().subarray(8)]),
    'only the magic': () => Buffer.from('GGUF'),
    'cut in the kv section': () => gguf().subarray(0, 40),
    'tensor with 1000 dims': () => Buffer.concat([
      Buffer.from('GGUF'), u32(3), u64(1), u64(0),
      u64(1), Buffer.from('t'), u32(1000), u64(1),
    ]),
  };
  for (const [what, mk] of Object.entries(HOSTILE)) {
    test(`hostile GGUF (${what}) → 422 validation_error, server fine`, async () => {
      const name = await draft();
      const r = await putFile(srv, A, 'models', name, '1.0.0', 'bad.gguf', mk());
      assertError(r, 422, 'validation_error');
      await notAttached(name, 'bad.gguf');
      await healthy();
    });
  }

  test('every truncation of a valid GGUF → 201 or 422, never a 5xx', async () => {
    const name = await draft();
    const file = gguf();
    for (let n = 0; n < file.length; n += 3) {
      const r = await putFile(srv, A, 'models', name, '1.0.0', `cut${n}.gguf`, file.subarray(0, n));
      assert.ok(r.status === 201 || r.status === 422, `${n} bytes: ${r.status} ${r.text.slice(0, 200)}`);
    }
    await healthy();
  });
});

describe('capabilities', () => {
  const MANIFEST = { keywords: ['a'], components: [{ name: 'x', type: 'tool', path: 'x.py' }] };

  test('capability.json fills keywords/components/component_counts on publish; trust card lists it all', async () => {
    const name = await draft('capabilities');
    const before = await getArtifact(A, 'capabilities', name);
    assert.deepEqual(before.keywords, []);
    assert.deepEqual(before.components, []);
    const manifest = Buffer.from(JSON.stringify(MANIFEST));
    const code = Buffer.from('def x():\n    return 1\n');
    await putFileOk(srv, A, 'capabilities', name, '1.0.0', 'capability.json', manifest);
    await putFileOk(srv, A, 'capabilities', name, '1.0.0', 'x.py', code);
    const pub = await publish(srv, A, 'capabilities', name, '1.0.0');
    const art = await getArtifact(A, 'capabilities', name);
    assert.deepEqual(art.keywords, ['a']);
    assert.equal(art.components.length, 1);
    assert.equal(art.components[0].name, 'x');
    assert.equal(art.components[0].type, 'tool');
    assert.equal(art.components[0].path, 'x.py');
    assert.deepEqual(art.component_counts, { tool: 1 });
    // The list summary agrees.
    const list = await api(srv, 'GET', `/api/v1/org/${A.slug}/capabilities?limit=500`, { token: A.reader });
    const item = list.json.items.find((i) => i.id === art.id);
    assert.ok(item, 'in the list');
    assert.deepEqual(item.component_counts, { tool: 1 });

    const tc = await api(srv, 'GET', `${verBase(A, 'capabilities', name, '1.0.0')}/trust-card`, { token: A.reader });
    assert.equal(tc.status, 200, tc.text);
    assert.equal(tc.json.publisher_org, A.slug);
    assert.match(tc.json.published_at, TS_RE);
    assert.equal(tc.json.published_at, pub.published_at);
    assert.equal(tc.json.version, '1.0.0');
    assert.deepEqual(tc.json.component_counts, { tool: 1 });
    assert.equal(tc.json.components.length, 1);
    assert.equal(tc.json.components[0].name, 'x');
    assert.equal(tc.json.components[0].type, 'tool');
    assert.deepEqual(tc.json.keywords, ['a']);
    const files = Object.fromEntries(tc.json.files.map((f) => [f.path, f]));
    assert.deepEqual(Object.keys(files).sort(), ['capability.json', 'x.py']);
    assert.equal(files['capability.json'].sha256, sha256(manifest));
    assert.equal(files['x.py'].sha256, sha256(code));
    assert.equal(files['x.py'].size_bytes, code.length);
    assert.ok(tc.headers.get('etag'), 'trust card has an ETag');
  });

  test('trust card: models → 404; other org → 404; no token → 401', async () => {
    const m = await draft('models');
    await putFileOk(srv, A, 'models', m, '1.0.0', 'w.bin', Buffer.from('w'));
    assertError(await api(srv, 'GET', `${verBase(A, 'models', m, '1.0.0')}/trust-card`, { token: A.reader }), 404, 'not_found_error');
    const c = await draft('capabilities');
    await putFileOk(srv, A, 'capabilities', c, '1.0.0', 'capability.json', Buffer.from(JSON.stringify(MANIFEST)));
    await publish(srv, A, 'capabilities', c, '1.0.0');
    assertError(await api(srv, 'GET', `${verBase(A, 'capabilities', c, '1.0.0')}/trust-card`, { token: B.reader }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', `${verBase(A, 'capabilities', c, '1.0.0')}/trust-card`), 401, 'authentication_error');
  });

  test('an invalid capability.json → publish 422, version stays draft, artifact unchanged', async () => {
    for (const bad of [
      '{"components":[{"name":"x","type":"robot"}]}',
      '{"keywords":"a"}',
      'not json',
      '[1]',
      `{"keywords":[${'"k",'.repeat(100)}"k"]}`,
    ]) {
      const name = await draft('capabilities');
      await putFileOk(srv, A, 'capabilities', name, '1.0.0', 'capability.json', Buffer.from(bad));
      const r = await api(srv, 'POST', `${verBase(A, 'capabilities', name, '1.0.0')}/publish`, { token: A.writer });
      assertError(r, 422, 'validation_error');
      const v = await getVersion(A, 'capabilities', name, '1.0.0');
      assert.equal(v.lifecycle, 'draft', bad);
      const art = await getArtifact(A, 'capabilities', name);
      assert.deepEqual(art.keywords, []);
      assert.deepEqual(art.components, []);
    }
  });

  test('a capability without capability.json publishes and keeps its own keywords', async () => {
    const { name } = await mkArtifact(srv, A, 'capabilities', { keywords: ['own'] });
    await mkVersion(srv, A, 'capabilities', name, '1.0.0');
    await putFileOk(srv, A, 'capabilities', name, '1.0.0', 'x.py', Buffer.from('pass'));
    await publish(srv, A, 'capabilities', name, '1.0.0');
    assert.deepEqual((await getArtifact(A, 'capabilities', name)).keywords, ['own']);
  });
});
