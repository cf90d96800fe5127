// OCI Distribution (/v2/, docs/oci.md) with the real client users run: Debian's skopeo
// (containers/image 5.23), then the same skopeo commands against Debian's docker-registry as a
// reference, and raw HTTP for the corners skopeo does not show.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  startServer, api, mkOrgWithTokens, uniq, freePort, rnd, S3_MODE, s3PrefixFor, s3List,
} from './harness.mjs';
import { sha256, prngBytes, blobExists } from './files-lib.mjs';

const CLI = process.env.CAIRN_CLI || path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'build', 'cairn');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-oci-'));

/** Runs a command; resolves {code, stdout, stderr} (never blocks the event loop: the server's
 * log pipe must keep draining). */
function run(cmd, args, { env = {}, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = Buffer.alloc(0);
    let stderr = '';
    p.stdout.on('data', (d) => { stdout = Buffer.concat([stdout, d]); });
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => { clearTimeout(t); resolve({ code: -1, stdout, stderr: stderr + String(e) }); });
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

const skopeo = (args) => run('skopeo', ['--insecure-policy', ...args]);

/** An OCI image layout holding one ModelPack artifact (raw layers, both path annotations). */
function modelPackLayout(dir, tag, files) {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (buf) => {
    const h = sha256(buf);
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', h), buf);
    return { digest: `sha256:${h}`, size: buf.length };
  };
  const layers = Object.entries(files).map(([p, buf]) => ({
    mediaType: p.endsWith('.safetensors') ? 'application/vnd.cncf.model.weight.v1.raw' : 'application/vnd.cncf.model.doc.v1.raw',
    ...put(buf),
    annotations: { 'org.cncf.model.filepath': p, 'org.opencontainers.image.title': p },
  }));
  const config = Buffer.from(JSON.stringify({
    descriptor: { name: 'tiny', version: tag },
    config: { format: 'safetensors' },
    modelfs: { type: 'layers', diffIds: layers.map((l) => l.digest) },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.cncf.model.manifest.v1+json',
    config: { mediaType: 'application/vnd.cncf.model.config.v1+json', ...put(config) },
    layers,
  }, null, 2));
  const m = put(manifest);
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return { manifest, digest: m.digest, config };
}

/** A valid safetensors file of n bytes of U8 data (cairn reads its header on upload). */
function safetensors(seed, n) {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [n], data_offsets: [0, n] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, prngBytes(seed, n)]);
}

/** A tar archive (ustar; a pax header for names past 100 bytes) of entries
 * {name, data?, type? ('0' file, '5' dir, '2' symlink, '3' char device), link?}. */
function tarOf(entries) {
  const blocks = [];
  const header = (name, size, type, link = '') => {
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 100), 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write(type, 156);
    h.write(link, 157);
    h.write('ustar\x0000', 257, 'binary');
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return h;
  };
  const data = (b) => [b, Buffer.alloc((512 - (b.length % 512)) % 512)];
  for (const e of entries) {
    const type = e.type || '0';
    const body = e.data || Buffer.alloc(0);
    if (Buffer.byteLength(e.name) > 100) {
      const rec = (len) => `${len} path=${e.name}\n`;
      let len = rec(0).length;
      while (rec(len).length !== len) len = rec(len).length;
      const pax = Buffer.from(rec(len));
      blocks.push(header('PaxHeaders/long', pax.length, 'x'), ...data(pax));
    }
    blocks.push(header(e.name, type === '0' ? body.length : 0, type, e.link));
    if (type === '0') blocks.push(...data(body));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const KIT_CONFIG = 'application/vnd.kitops.modelkit.config.v1+json';

/** An OCI image layout holding a KitOps ModelKit as kit writes it: no mediaType field in the
 * manifest, the Kitfile as config, one tar(+gzip) layer per Kitfile entry. */
function kitLayout(dir, tag, layers) {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (buf) => {
    const h = sha256(buf);
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', h), buf);
    return { digest: `sha256:${h}`, size: buf.length };
  };
  const descs = layers.map(({ mediaType, blob }) => ({ mediaType, ...put(blob) }));
  const config = Buffer.from(JSON.stringify({
    manifestVersion: '1.0.0', package: { name: 'kitm', version: tag },
    model: { path: 'model/weights.safetensors', diffId: descs[0].digest },
    docs: [{ path: 'README.md' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    config: { mediaType: KIT_CONFIG, ...put(config) },
    layers: descs,
    annotations: { 'ml.kitops.modelkit.cli-version': '1.3.0' },
  }));
  const m = put(manifest);
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return { manifest };
}

const FILES = {
  'model.safetensors': safetensors('oci-weights', 300_000),
  'README.md': Buffer.from('# tiny\n'),
  'sub/notes.txt': Buffer.from('nested path\n'),
};

let srv;
let A;
let B;
let R; // host:port
let layout;
let lay;
const creds = (tok) => `x:${tok}`;

before(async () => {
  srv = await startServer({ args: ['--retention', '0', '--tmp-age', '0'] });
  R = `127.0.0.1:${srv.port}`;
  [A, B] = await Promise.all([mkOrgWithTokens(srv, uniq('oa')), mkOrgWithTokens(srv, uniq('ob'))]);
  layout = path.join(tmp, 'layout');
  lay = modelPackLayout(layout, '1.0.0', FILES);
});

after(async () => {
  await srv?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('skopeo against cairn', () => {
  test('skopeo copy of an OCI layout (ModelPack) pushes it and it becomes a published cairn version', async () => {
    const r = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(A.writer),
      `oci:${layout}:1.0.0`, `docker://${R}/${A.slug}/tiny:1.0.0`]);
    assert.equal(r.code, 0, r.stderr);
    const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/tiny/versions/1.0.0`, { token: A.reader });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.lifecycle, 'published');
    const files = v.json.packages.flatMap((p) => p.resources).map((x) => [x.path, x.sha256]).sort();
    assert.deepEqual(files, Object.entries(FILES).map(([p, b]) => [p, sha256(b)]).sort());
    // The bytes were stored once: the file download is the pushed layer.
    const f = await fetch(`${srv.url}/api/v1/org/${A.slug}/models/tiny/versions/1.0.0/files/sub/notes.txt`, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.equal(f.status, 200);
    assert.ok(Buffer.from(await f.arrayBuffer()).equals(FILES['sub/notes.txt']));
  });

  test('skopeo copy of a KitOps ModelKit (tar+gzip and tar layers) makes a version of the tar entries; cairn pull gives them', async () => {
    const longDoc = `docs/${'d'.repeat(130)}.md`;
    const KIT = {
      'model/weights.safetensors': safetensors('kit-weights', 250_000),
      'README.md': Buffer.from(`# kit model ${rnd()}\n`),
      [longDoc]: Buffer.from('a name only a pax header holds\n'),
    };
    const modelTar = zlib.gzipSync(tarOf([{ name: 'model/', type: '5' }, { name: 'model/weights.safetensors', data: KIT['model/weights.safetensors'] }]));
    const docsTar = tarOf([{ name: './README.md', data: KIT['README.md'] }, { name: 'docs/', type: '5' }, { name: longDoc, data: KIT[longDoc] }]);
    const dir = path.join(tmp, 'kitlayout');
    const kl = kitLayout(dir, '1.0.0', [
      { mediaType: 'application/vnd.kitops.modelkit.model.v1.tar+gzip', blob: modelTar },
      { mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar', blob: docsTar },
    ]);
    const r = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(A.writer),
      `oci:${dir}:1.0.0`, `docker://${R}/${A.slug}/kitm:1.0.0`]);
    assert.equal(r.code, 0, r.stderr);
    const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/kitm/versions/1.0.0`, { token: A.reader });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.lifecycle, 'published');
    const files = v.json.packages.flatMap((p) => p.resources).map((x) => [x.path, x.sha256, x.size_bytes]).sort();
    assert.deepEqual(files, Object.entries(KIT).map(([p, b]) => [p, sha256(b), b.length]).sort());
    for (const [p, b] of Object.entries(KIT)) {
      const f = await fetch(`${srv.url}/api/v1/org/${A.slug}/models/kitm/versions/1.0.0/files/${p}`, { headers: { authorization: `Bearer ${A.reader}` } });
      assert.equal(f.status, 200, p);
      assert.equal(sha256(Buffer.from(await f.arrayBuffer())), sha256(b), p);
    }
    const out = path.join(tmp, 'kitpull');
    const p = await run(CLI, ['pull', `${A.slug}/kitm@1.0.0`, '-o', out], { env: { CAIRN_SERVER: srv.url, CAIRN_TOKEN: A.reader, XDG_STATE_HOME: path.join(tmp, 'state') } });
    assert.equal(p.code, 0, p.stderr + p.stdout);
    for (const [f, b] of Object.entries(KIT)) assert.ok(fs.readFileSync(path.join(out, f)).equals(b), f);
    // The pushed ModelKit itself stays pullable byte for byte (kit pull reads it back).
    const g = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/kitm:1.0.0`]);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(g.stdout.equals(kl.manifest));
    // Pushing it again is accepted and changes nothing.
    const again = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(A.writer),
      `oci:${dir}:1.0.0`, `docker://${R}/${A.slug}/kitm:1.0.0`]);
    assert.equal(again.code, 0, again.stderr);
  });

  test('skopeo inspect --raw gives the pushed manifest byte for byte', async () => {
    const r = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/tiny:1.0.0`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(lay.manifest), `got ${r.stdout.toString().slice(0, 300)}`);
    const byDigest = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/tiny@${lay.digest}`]);
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.ok(byDigest.stdout.equals(lay.manifest));
  });

  test('skopeo copy back out to dir: gives every file byte for byte', async () => {
    const out = path.join(tmp, 'out1');
    const r = await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds(A.reader), `docker://${R}/${A.slug}/tiny:1.0.0`, `dir:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    for (const buf of Object.values(FILES)) assert.ok(fs.readFileSync(path.join(out, sha256(buf))).equals(buf));
    assert.ok(fs.readFileSync(path.join(out, 'manifest.json')).equals(lay.manifest));
    assert.ok(fs.readFileSync(path.join(out, sha256(lay.config))).equals(lay.config));
    // A pull (GET of the manifest) counts as a download of the version, as /api/v1's do.
    let n = 0;
    for (let i = 0; i < 50 && n === 0; i++) {
      n = (await api(srv, 'GET', `/api/v1/org/${A.slug}/models/tiny/versions/1.0.0`, { token: A.reader })).json.download_count;
      if (n === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(n >= 1, `download_count ${n}`);
  });

  test('a copy between two repositories mounts the layers (no layer byte sent again)', async () => {
    const before = srv.stderr().length;
    const r = await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds(A.writer), '--dest-creds', creds(A.writer),
      `docker://${R}/${A.slug}/tiny:1.0.0`, `docker://${R}/${A.slug}/tiny2:1.0.0`]);
    assert.equal(r.code, 0, r.stderr);
    const log = srv.stderr().slice(before);
    // c/image mounts each layer its blob-info cache saw in the source repository; the config
    // it has read anyway is uploaded (one PATCH).
    assert.equal((log.match(/"route":"oci\.upload_start","status":201/g) || []).length, Object.keys(FILES).length, 'every layer mounted');
    assert.ok((log.match(/"route":"oci\.upload_patch"/g) || []).length <= 1, 'no layer uploaded again');
    const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/tiny2/versions/1.0.0`, { token: A.reader });
    assert.equal(v.status, 200, v.text);
  });

  test('skopeo list-tags lists pushed tags, versions (+ as _) and aliases', async () => {
    const c = await api(srv, 'POST', `/api/v1/org/${A.slug}/models/tiny/versions`, { token: A.writer, body: { version: '1.1.0+b7' } });
    assert.equal(c.status, 201, c.text);
    const al = await api(srv, 'PUT', `/api/v1/org/${A.slug}/models/tiny/aliases/stable`, { token: A.writer, body: { version: '1.0.0' } });
    assert.equal(al.status, 200, al.text);
    const r = await skopeo(['list-tags', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/tiny`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Tags, ['1.0.0', '1.1.0_b7', 'stable']);
  });

  test('a private repository is refused to another org\'s credentials and to no credentials', async () => {
    const other = await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds(B.admin), `docker://${R}/${A.slug}/tiny:1.0.0`, `dir:${path.join(tmp, 'x1')}`]);
    assert.notEqual(other.code, 0);
    const anon = await skopeo(['copy', '--src-tls-verify=false', `docker://${R}/${A.slug}/tiny:1.0.0`, `dir:${path.join(tmp, 'x2')}`]);
    assert.notEqual(anon.code, 0);
    const push = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(B.admin), `oci:${layout}:1.0.0`, `docker://${R}/${A.slug}/tiny:9.0.0`]);
    assert.notEqual(push.code, 0);
    const reader = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(A.reader), `oci:${layout}:1.0.0`, `docker://${R}/${A.slug}/tiny:9.0.0`]);
    assert.notEqual(reader.code, 0, 'a reader may not push');
  });

  test('a version made with cairn push is pulled by skopeo, each file byte for byte, the manifest stable', async () => {
    const dir = path.join(tmp, 'cp');
    fs.mkdirSync(dir);
    const w = prngBytes('cairn-push', 200_000);
    fs.writeFileSync(path.join(dir, 'w.safetensors.bin'), w);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"a":1}\n');
    const env = { CAIRN_SERVER: srv.url, CAIRN_TOKEN: A.writer, XDG_STATE_HOME: path.join(tmp, 'state') };
    const p = await run(CLI, ['push', `${A.slug}/pushed@2.0.0+b1`, path.join(dir, 'w.safetensors.bin'), path.join(dir, 'config.json'), '--publish'], { env });
    assert.equal(p.code, 0, p.stderr + p.stdout);
    const out = path.join(tmp, 'out2');
    const r = await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds(A.reader), `docker://${R}/${A.slug}/pushed:2.0.0_b1`, `dir:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(path.join(out, sha256(w))).equals(w));
    assert.equal(fs.readFileSync(path.join(out, sha256(Buffer.from('{"a":1}\n'))), 'utf8'), '{"a":1}\n');
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json')));
    assert.equal(m.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
    assert.deepEqual(m.layers.map((l) => [l.annotations['org.opencontainers.image.title'], l.annotations['org.cncf.model.filepath'], l.digest]),
      [['config.json', 'config.json', `sha256:${sha256(Buffer.from('{"a":1}\n'))}`], ['w.safetensors.bin', 'w.safetensors.bin', `sha256:${sha256(w)}`]]);
    const i1 = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/pushed:2.0.0_b1`]);
    const i2 = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.admin), `docker://${R}/${A.slug}/pushed:latest`]);
    assert.ok(i1.stdout.equals(fs.readFileSync(path.join(out, 'manifest.json'))), 'the same bytes every time');
    assert.ok(i2.stdout.equals(i1.stdout), 'latest names the same version');
  });
});

describe('the image-shaped view (<org>/<name>/image)', () => {
  test('a version as an image: skopeo inspect reads its config, copy gives tar layers that extract to the files', async () => {
    const dir = path.join(tmp, 'img');
    fs.mkdirSync(dir);
    const w = safetensors('img-weights', 5000);
    fs.writeFileSync(path.join(dir, 'm.safetensors'), w);
    fs.writeFileSync(path.join(dir, 'README.md'), '# img\n');
    const env = { CAIRN_SERVER: srv.url, CAIRN_TOKEN: A.writer, XDG_STATE_HOME: path.join(tmp, 'state') };
    const p = await run(CLI, ['push', `${A.slug}/imgm@1.0.0`, path.join(dir, 'm.safetensors'), path.join(dir, 'README.md'), '--publish'], { env });
    assert.equal(p.code, 0, p.stderr + p.stdout);
    const ins = await skopeo(['inspect', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/imgm/image:1.0.0`]);
    assert.equal(ins.code, 0, ins.stderr);
    const info = JSON.parse(ins.stdout);
    assert.equal(info.Os, 'linux');
    assert.equal(info.Layers.length, 2);
    assert.deepEqual(info.RepoTags, ['1.0.0']);
    const out = path.join(tmp, 'imgout');
    const cp = await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds(A.reader), `docker://${R}/${A.slug}/imgm/image:1.0.0`, `dir:${out}`]);
    assert.equal(cp.code, 0, cp.stderr); // skopeo checks every layer against its digest
    const root = path.join(tmp, 'imgroot');
    fs.mkdirSync(root);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json')));
    assert.equal(m.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    for (const l of m.layers) {
      assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar');
      const t = await run('tar', ['-xf', path.join(out, l.digest.slice(7)), '-C', root]);
      assert.equal(t.code, 0, t.stderr);
    }
    assert.ok(fs.readFileSync(path.join(root, 'models', 'm.safetensors')).equals(w));
    assert.equal(fs.readFileSync(path.join(root, 'models', 'README.md'), 'utf8'), '# img\n');
    // The same bytes on every pull (the layer digests are kept, the headers fixed).
    const again = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/imgm/image:1.0.0`]);
    assert.ok(again.stdout.equals(fs.readFileSync(path.join(out, 'manifest.json'))));
    // Another org sees nothing of a private model's image either.
    const other = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(B.reader), `docker://${R}/${A.slug}/imgm/image:1.0.0`]);
    assert.notEqual(other.code, 0);
  });
});

describe('skopeo delete', () => {
  test('deletes pushed content (admins only); a cairn version is refused (UNSUPPORTED) and stays', async () => {
    const repo = `${A.slug}/deleteme`;
    const push = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(A.writer), `oci:${layout}:1.0.0`, `docker://${R}/${repo}:scratch`]);
    assert.equal(push.code, 0, push.stderr);
    const byWriter = await skopeo(['delete', '--tls-verify=false', '--creds', creds(A.writer), `docker://${R}/${repo}:scratch`]);
    assert.notEqual(byWriter.code, 0, 'a writer may not delete');
    const del = await skopeo(['delete', '--tls-verify=false', '--creds', creds(A.admin), `docker://${R}/${repo}:scratch`]);
    assert.equal(del.code, 0, del.stderr);
    const gone = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${repo}:scratch`]);
    assert.notEqual(gone.code, 0);
    const ver = await skopeo(['delete', '--tls-verify=false', '--creds', creds(A.admin), `docker://${R}/${A.slug}/pushed:2.0.0_b1`]);
    assert.notEqual(ver.code, 0);
    assert.match(ver.stderr, /cairn version/);
    const still = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/pushed:2.0.0_b1`]);
    assert.equal(still.code, 0, still.stderr);
  });
});

describe('raw HTTP corners', () => {
  const basic = (tok) => ({ authorization: `Basic ${Buffer.from(`any:${tok}`).toString('base64')}` });
  const req = (method, p, opts = {}) => fetch(`${srv.url}${p}`, { method, redirect: 'manual', ...opts, ...(opts.body && typeof opts.body.getReader === 'function' ? { duplex: 'half' } : {}) });
  const errCode = async (res) => {
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    const j = await res.json();
    assert.ok(Array.isArray(j.errors) && j.errors.length === 1, JSON.stringify(j));
    assert.deepEqual(Object.keys(j.errors[0]).sort(), ['code', 'detail', 'message']);
    return j.errors[0].code;
  };

  test('/v2/: 401 + WWW-Authenticate Bearer without credentials (also Basic Og==), 200 with Basic or Bearer', async () => {
    for (const h of [{}, { authorization: 'Basic Og==' }]) {
      const r = await req('GET', '/v2/', { headers: h });
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate'), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/v2\/token",service="cairn"$/);
      assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0', 'once');
      assert.equal(await errCode(r), 'UNAUTHORIZED');
    }
    assert.equal((await req('GET', '/v2/', { headers: basic(A.reader) })).status, 200);
    assert.equal((await req('GET', '/v2/', { headers: { authorization: `Bearer ${A.reader}` } })).status, 200);
    const bad = await req('GET', '/v2/', { headers: basic('cairn_nope') });
    assert.equal(bad.status, 401);
    // Repository routes challenge with their scope.
    const m = await req('GET', `/v2/${A.slug}/tiny/manifests/1.0.0`);
    assert.equal(m.status, 401);
    assert.match(m.headers.get('www-authenticate'), new RegExp(`scope="repository:${A.slug}/tiny:pull"`));
  });

  test('token endpoint: Basic credentials give a bearer token that works; none is 401 with a Basic challenge', async () => {
    const r = await req('GET', `/v2/token?service=cairn&scope=repository:${A.slug}/tiny:pull`, { headers: basic(A.reader) });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(typeof j.token, 'string');
    assert.equal(j.access_token, j.token);
    assert.ok(j.expires_in >= 60);
    assert.match(j.issued_at, /^\d{4}-\d\d-\d\dT/);
    const m = await req('HEAD', `/v2/${A.slug}/tiny/manifests/1.0.0`, { headers: { authorization: `Bearer ${j.token}` } });
    assert.equal(m.status, 200);
    const none = await req('GET', '/v2/token');
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Basic realm=/);
  });

  test('HEAD manifest by tag: Docker-Content-Digest, Content-Length and the media type; unknown tag MANIFEST_UNKNOWN', async () => {
    const h = await req('HEAD', `/v2/${A.slug}/tiny/manifests/1.0.0`, { headers: basic(A.reader) });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('docker-content-digest'), lay.digest);
    assert.equal(Number(h.headers.get('content-length')), lay.manifest.length);
    assert.equal(h.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
    const u = await req('GET', `/v2/${A.slug}/tiny/manifests/7.7.7`, { headers: basic(A.reader) });
    assert.equal(u.status, 404);
    assert.equal(u.headers.get('docker-distribution-api-version'), 'registry/2.0', 'the header once');
    assert.equal(await errCode(u), 'MANIFEST_UNKNOWN');
    const n = await req('GET', `/v2/${A.slug}/nosuch/manifests/1.0.0`, { headers: basic(A.reader) });
    assert.equal(n.status, 404);
    assert.equal(await errCode(n), 'NAME_UNKNOWN');
  });

  test('blobs: HEAD digest, Range GET 206, unknown BLOB_UNKNOWN', async () => {
    const w = FILES['model.safetensors'];
    const d = `sha256:${sha256(w)}`;
    const h = await req('HEAD', `/v2/${A.slug}/tiny/blobs/${d}`, { headers: basic(A.reader) });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('docker-content-digest'), d);
    assert.equal(Number(h.headers.get('content-length')), w.length);
    const g = await req('GET', `/v2/${A.slug}/tiny/blobs/${d}`, { headers: { ...basic(A.reader), range: 'bytes=100-199' } });
    assert.equal(g.status, 206);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(w.subarray(100, 200)));
    const u = await req('GET', `/v2/${A.slug}/tiny/blobs/sha256:${'0'.repeat(64)}`, { headers: basic(A.reader) });
    assert.equal(u.status, 404);
    assert.equal(await errCode(u), 'BLOB_UNKNOWN');
    // A blob of another repository is not this one's.
    const o = await req('HEAD', `/v2/${A.slug}/pushed/blobs/${d}`, { headers: basic(A.reader) });
    assert.equal(o.status, 404);
  });

  test('uploads: POST 202 + Location, PATCH without Content-Range (streamed) 202 + Location + Range, PUT ?digest= 201 + Location', async () => {
    const data = prngBytes('raw-upload', 150_000);
    const d = `sha256:${sha256(data)}`;
    const repo = `/v2/${A.slug}/raw`;
    const p = await req('POST', `${repo}/blobs/uploads/`, { headers: basic(A.writer) });
    assert.equal(p.status, 202, await p.clone().text());
    const loc = p.headers.get('location');
    assert.match(loc, new RegExp(`^${repo}/blobs/uploads/[0-9a-f-]+$`));
    assert.equal(p.headers.get('range'), '0-0');
    // First half streamed with chunked encoding and no Content-Range (what c/image sends).
    const half = 70_000;
    const stream = new ReadableStream({ start(c) { c.enqueue(data.subarray(0, 1000)); c.enqueue(data.subarray(1000, half)); c.close(); } });
    const a = await req('PATCH', loc, { headers: { ...basic(A.writer), 'content-type': 'application/octet-stream' }, body: stream });
    assert.equal(a.status, 202);
    assert.equal(a.headers.get('location'), loc);
    assert.equal(a.headers.get('range'), `0-${half - 1}`);
    // An out-of-order chunk: 416, nothing kept.
    const bad = await req('PATCH', loc, { headers: { ...basic(A.writer), 'content-range': `${half + 5}-${half + 9}` }, body: data.subarray(half + 5, half + 10) });
    assert.equal(bad.status, 416);
    assert.equal(await errCode(bad), 'BLOB_UPLOAD_INVALID');
    // A body shorter than its Content-Range: refused, nothing kept.
    const short = await req('PATCH', loc, { headers: { ...basic(A.writer), 'content-range': `${half}-${half + 99}` }, body: data.subarray(half, half + 50) });
    assert.equal(short.status, 400);
    assert.equal(await errCode(short), 'BLOB_UPLOAD_INVALID');
    // Second chunk with Content-Range.
    const b = await req('PATCH', loc, { headers: { ...basic(A.writer), 'content-range': `${half}-${data.length - 2}` }, body: data.subarray(half, data.length - 1) });
    assert.equal(b.status, 202);
    const st = await req('GET', loc, { headers: basic(A.writer) });
    assert.equal(st.status, 204);
    assert.equal(st.headers.get('range'), `0-${data.length - 2}`);
    // A wrong digest: DIGEST_INVALID, the session stays.
    const wrong = await req('PUT', `${loc}?digest=sha256:${'1'.repeat(64)}`, { headers: basic(A.writer), body: data.subarray(data.length - 1) });
    assert.equal(wrong.status, 400);
    assert.equal(await errCode(wrong), 'DIGEST_INVALID');
    // The last byte rode in the refused PUT; the session now holds it: finish with an empty PUT.
    const fin = await req('PUT', `${loc}?digest=${d}`, { headers: basic(A.writer) });
    assert.equal(fin.status, 201, await fin.clone().text());
    assert.equal(fin.headers.get('location'), `${repo}/blobs/${d}`);
    assert.equal(fin.headers.get('docker-content-digest'), d);
    const g = await req('GET', `${repo}/blobs/${d}`, { headers: basic(A.reader) });
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(data));
    assert.equal((await req('GET', loc, { headers: basic(A.writer) })).status, 404, 'the session is gone');
  });

  test('monolithic POST ?digest=, a manifest with a missing blob (MANIFEST_BLOB_UNKNOWN), subject and referrers', async () => {
    const repo = `/v2/${A.slug}/arts`;
    const cfg = Buffer.from('{}');
    const blob = Buffer.from(`plain artifact ${rnd()}`);
    for (const b of [cfg, blob]) {
      const r = await req('POST', `${repo}/blobs/uploads/?digest=sha256:${sha256(b)}`, { headers: { ...basic(A.writer), 'content-type': 'application/octet-stream' }, body: b });
      assert.equal(r.status, 201, await r.clone().text());
      assert.equal(r.headers.get('docker-content-digest'), `sha256:${sha256(b)}`);
    }
    const badMono = await req('POST', `${repo}/blobs/uploads/?digest=sha256:${'2'.repeat(64)}`, { headers: basic(A.writer), body: blob });
    assert.equal(badMono.status, 400);
    assert.equal(await errCode(badMono), 'DIGEST_INVALID');
    const desc = (b, mt) => ({ mediaType: mt, digest: `sha256:${sha256(b)}`, size: b.length });
    const base = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.example.thing', config: desc(cfg, 'application/vnd.oci.empty.v1+json'), layers: [desc(blob, 'application/octet-stream')] };
    const mt = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    const missing = await req('PUT', `${repo}/manifests/v1`, { headers: { ...basic(A.writer), ...mt }, body: JSON.stringify({ ...base, layers: [desc(Buffer.from('nope'), 'application/octet-stream')] }) });
    assert.equal(missing.status, 404);
    assert.equal(await errCode(missing), 'MANIFEST_BLOB_UNKNOWN');
    const body = Buffer.from(JSON.stringify(base));
    const put = await req('PUT', `${repo}/manifests/v1`, { headers: { ...basic(A.writer), ...mt }, body });
    assert.equal(put.status, 201, await put.clone().text());
    const d = `sha256:${sha256(body)}`;
    assert.equal(put.headers.get('docker-content-digest'), d);
    assert.equal(put.headers.get('location'), `${repo}/manifests/${d}`);
    // Not SemVer, not a model: plain OCI content, no cairn version.
    const vs = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/arts/versions`, { token: A.reader });
    assert.deepEqual(vs.json.versions, []);
    // Referrers: none yet (an empty index, never 404), then the signature-like one.
    const empty = await req('GET', `${repo}/referrers/${d}`, { headers: basic(A.reader) });
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual((await empty.json()).manifests, []);
    const sig = Buffer.from(JSON.stringify({ ...base, artifactType: 'application/vnd.example.sig', subject: { mediaType: base.mediaType, digest: d, size: body.length } }));
    const ps = await req('PUT', `${repo}/manifests/sha256:${sha256(sig)}`, { headers: { ...basic(A.writer), ...mt }, body: sig });
    assert.equal(ps.status, 201);
    assert.equal(ps.headers.get('oci-subject'), d);
    const ref = await (await req('GET', `${repo}/referrers/${d}`, { headers: basic(A.reader) })).json();
    assert.deepEqual(ref.manifests, [{ mediaType: base.mediaType, digest: `sha256:${sha256(sig)}`, size: sig.length, artifactType: 'application/vnd.example.sig' }]);
    const filtered = await req('GET', `${repo}/referrers/${d}?artifactType=application/vnd.other`, { headers: basic(A.reader) });
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual((await filtered.json()).manifests, []);
    // A digest reference must match the body.
    const mism = await req('PUT', `${repo}/manifests/sha256:${'3'.repeat(64)}`, { headers: { ...basic(A.writer), ...mt }, body });
    assert.equal(mism.status, 400);
    assert.equal(await errCode(mism), 'DIGEST_INVALID');
    // Deletes are for admins: a writer is DENIED, an admin deletes the tag then the manifest.
    const wdel = await req('DELETE', `${repo}/manifests/v1`, { headers: basic(A.writer) });
    assert.equal(wdel.headers.get('docker-distribution-api-version'), 'registry/2.0', 'the header once');
    assert.equal(wdel.status, 403);
    assert.equal(await errCode(wdel), 'DENIED');
    assert.equal((await req('DELETE', `${repo}/manifests/v1`, { headers: basic(A.admin) })).status, 202);
    assert.equal((await req('GET', `${repo}/manifests/v1`, { headers: basic(A.reader) })).status, 404);
    assert.equal((await req('GET', `${repo}/manifests/${d}`, { headers: basic(A.reader) })).status, 200, 'by digest it stays');
    assert.equal((await req('DELETE', `${repo}/manifests/${d}`, { headers: basic(A.admin) })).status, 202);
    assert.equal((await req('GET', `${repo}/manifests/${d}`, { headers: basic(A.reader) })).status, 404);
  });

  test('tags list pages with n/last and a Link header; _catalog lists the org\'s repositories only', async () => {
    const p1 = await req('GET', `/v2/${A.slug}/tiny/tags/list?n=2`, { headers: basic(A.reader) });
    assert.deepEqual((await p1.json()).tags, ['1.0.0', '1.1.0_b7']);
    assert.equal(p1.headers.get('link'), `</v2/${A.slug}/tiny/tags/list?n=2&last=1.1.0_b7>; rel="next"`);
    const p2 = await req('GET', `/v2/${A.slug}/tiny/tags/list?n=2&last=1.1.0_b7`, { headers: basic(A.reader) });
    assert.deepEqual((await p2.json()).tags, ['stable']);
    assert.equal(p2.headers.get('link'), null);
    const ca = await (await req('GET', '/v2/_catalog', { headers: basic(A.reader) })).json();
    for (const n of ['tiny', 'tiny2', 'pushed', 'raw', 'arts']) assert.ok(ca.repositories.includes(`${A.slug}/${n}`), JSON.stringify(ca));
    assert.ok(ca.repositories.every((x) => x.startsWith(`${A.slug}/`)));
    const pg = await req('GET', '/v2/_catalog?n=1', { headers: basic(A.reader) });
    const first = (await pg.json()).repositories;
    assert.equal(first.length, 1);
    assert.equal(pg.headers.get('link'), `</v2/_catalog?n=1&last=${first[0]}>; rel="next"`);
    const pg2 = await (await req('GET', `/v2/_catalog?n=1&last=${first[0]}`, { headers: basic(A.reader) })).json();
    assert.ok(pg2.repositories[0] > first[0]);
    const cb = await (await req('GET', '/v2/_catalog', { headers: basic(B.reader) })).json();
    assert.ok(cb.repositories.every((x) => x.startsWith(`${B.slug}/`)), JSON.stringify(cb));
  });

  test('GC keeps every blob and manifest a repository holds; a blob whose hold is deleted goes', async () => {
    const keep = Buffer.from(`held by OCI only ${rnd()}`);
    const drop = Buffer.from(`dropped ${rnd()}`);
    const repo = `/v2/${A.slug}/gc`;
    for (const b of [keep, drop]) {
      const r = await req('POST', `${repo}/blobs/uploads/?digest=sha256:${sha256(b)}`, { headers: basic(A.writer), body: b });
      assert.equal(r.status, 201);
    }
    // A session with bytes in it survives GC while it is live.
    const s = await req('POST', `${repo}/blobs/uploads/`, { headers: basic(A.writer) });
    const loc = s.headers.get('location');
    assert.equal((await req('PATCH', loc, { headers: basic(A.writer), body: keep.subarray(0, 5) })).status, 202);
    // And one whose single PATCH held the whole blob (c/image's way), finished after GC.
    const whole = Buffer.from(`whole in one PATCH ${rnd()}`);
    const s2 = await req('POST', `${repo}/blobs/uploads/`, { headers: basic(A.writer) });
    const loc2 = s2.headers.get('location');
    assert.equal((await req('PATCH', loc2, { headers: basic(A.writer), body: whole })).status, 202);
    assert.equal((await req('DELETE', `${repo}/blobs/sha256:${sha256(drop)}`, { headers: basic(A.admin) })).status, 202);
    const g = await api(srv, 'POST', '/api/v1/admin/gc', { token: srv.adminToken });
    assert.equal(g.status, 200, g.text);
    assert.ok(await blobExists(srv.dataDir, sha256(keep)), 'held blob kept');
    assert.ok(await blobExists(srv.dataDir, sha256(lay.config)), 'pushed config kept');
    assert.ok(await blobExists(srv.dataDir, sha256(lay.manifest)), 'pushed manifest kept');
    assert.ok(!(await blobExists(srv.dataDir, sha256(drop))), 'unheld blob removed');
    const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${A.slug}/tiny:1.0.0`]);
    assert.ok(inspect.stdout.equals(lay.manifest), 'still pullable after GC');
    const fin = await req('PUT', `${loc}?digest=sha256:${sha256(keep)}`, { headers: basic(A.writer), body: keep.subarray(5) });
    assert.equal(fin.status, 201, 'the live session kept its bytes through GC');
    const fin2 = await req('PUT', `${loc2}?digest=sha256:${sha256(whole)}`, { headers: basic(A.writer) });
    assert.equal(fin2.status, 201, 'the whole-blob session kept its blob through GC');
    const back = await req('GET', `${repo}/blobs/sha256:${sha256(whole)}`, { headers: basic(A.reader) });
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(whole));
  });
});

describe('what a push becomes', () => {
  const basic = (tok) => ({ authorization: `Basic ${Buffer.from(`any:${tok}`).toString('base64')}` });
  const MT = 'application/vnd.oci.image.manifest.v1+json';
  const desc = (b, mediaType, annotations) => ({ mediaType, digest: `sha256:${sha256(b)}`, size: b.length, ...(annotations ? { annotations } : {}) });
  async function pushBlobs(repo, tok, blobs) {
    for (const b of blobs) {
      const r = await fetch(`${srv.url}/v2/${repo}/blobs/uploads/?digest=sha256:${sha256(b)}`, { method: 'POST', headers: basic(tok), body: b });
      assert.equal(r.status, 201, await r.text());
    }
  }
  const putManifest = (repo, ref, tok, body, ct = MT) => fetch(`${srv.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { ...basic(tok), ...(ct ? { 'content-type': ct } : {}) }, body });
  const code = async (r) => (await r.json()).errors[0].code;

  test('an ORAS push (empty config, title annotations, its default layer type) becomes a version', async () => {
    const repo = `${A.slug}/oras`;
    const empty = Buffer.from('{}');
    const file = Buffer.from(`oras file ${rnd()}`);
    await pushBlobs(repo, A.writer, [empty, file]);
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT, artifactType: 'application/vnd.unknown.artifact.v1',
      config: desc(empty, 'application/vnd.oci.empty.v1+json'),
      layers: [desc(file, 'application/vnd.oci.image.layer.v1.tar', { 'org.opencontainers.image.title': 'data/file.txt' })] }));
    const r = await putManifest(repo, '0.1.0', A.writer, m);
    assert.equal(r.status, 201, await r.clone().text());
    const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/oras/versions/0.1.0`, { token: A.reader });
    assert.equal(v.status, 200, v.text);
    assert.deepEqual(v.json.packages.flatMap((p) => p.resources).map((x) => [x.path, x.sha256]), [['data/file.txt', sha256(file)]]);
  });

  test('a ModelKit under a tag that is not SemVer is stored as OCI content only, pulled back byte for byte', async () => {
    const repo = `${A.slug}/kit`;
    const cfg = Buffer.from(JSON.stringify({ manifestVersion: '1.0.0', package: { name: 'kit' } }));
    const tar = tarOf([{ name: 'model.bin', data: Buffer.from('weights') }]);
    await pushBlobs(repo, A.writer, [cfg, tar]);
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc(cfg, KIT_CONFIG),
      layers: [desc(tar, 'application/vnd.kitops.modelkit.model.v1.tar')], annotations: { 'ml.kitops.modelkit.cli-version': '1.0.0' } }));
    const r = await putManifest(repo, 'nightly', A.writer, m);
    assert.equal(r.status, 201, await r.clone().text());
    // A compression cairn does not read (zstd) under a SemVer tag: stored, not imported.
    const mz = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc(cfg, KIT_CONFIG),
      layers: [desc(tar, 'application/vnd.kitops.modelkit.model.v1.tar+zstd')] }));
    const rz = await putManifest(repo, '2.0.0', A.writer, mz);
    assert.equal(rz.status, 201, await rz.clone().text());
    const vs = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/kit/versions`, { token: A.reader });
    assert.deepEqual(vs.json.versions, [], 'not a SemVer tag, or zstd: no version');
    // Content that is not a version's may not take a tag that names one.
    await pushBlobs(`${A.slug}/tiny`, A.writer, [cfg, tar]);
    for (const t of ['stable', 'latest']) {
      const r2 = await putManifest(`${A.slug}/tiny`, t, A.writer, m);
      assert.equal(r2.status, 409, t);
      assert.equal(await code(r2), 'DENIED');
    }
    assert.equal((await putManifest(`${A.slug}/tiny`, 'kit-1', A.writer, m)).status, 201);
    const g = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${repo}:nightly`]);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(g.stdout.equals(m));
  });

  test('a ModelKit whose tar holds a link, a device, an absolute path or ".." (or is no tar) is MANIFEST_INVALID and makes no version', async () => {
    const repo = `${A.slug}/kitbad`;
    const cfg = Buffer.from(JSON.stringify({ manifestVersion: '1.0.0', package: { name: 'kitbad' } }));
    const ok = { name: 'ok.txt', data: Buffer.from('fine') };
    const cases = [
      ['symlink', tarOf([ok, { name: 'evil', type: '2', link: '/etc/passwd' }]), /links/],
      ['hard link', tarOf([ok, { name: 'evil', type: '1', link: 'ok.txt' }]), /links/],
      ['device', tarOf([ok, { name: 'dev/null', type: '3' }]), /devices/],
      ['absolute', tarOf([ok, { name: '/etc/cron.d/x', data: Buffer.from('x') }]), /absolute/],
      ['dotdot', tarOf([ok, { name: 'a/../../x', data: Buffer.from('x') }]), /'\.\.'/],
      ['bad path', tarOf([{ name: 'ctl\x01char', data: Buffer.from('x') }]), /not a valid file path/],
      ['not a tar', Buffer.alloc(2048, 7), /checksum/],
      ['bad gzip', Buffer.from('not gzip at all'), /gzip/],
      ['truncated gzip', zlib.gzipSync(tarOf([ok])).subarray(0, 40), /gzip|truncated/],
    ];
    for (const [what, blob, why] of cases) {
      await pushBlobs(repo, A.writer, [cfg, blob]);
      const gz = what.includes('gzip');
      const m = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc(cfg, KIT_CONFIG),
        layers: [desc(blob, `application/vnd.kitops.modelkit.model.v1.tar${gz ? '+gzip' : ''}`)] }));
      const r = await putManifest(repo, '1.0.0', A.writer, m);
      assert.equal(r.status, 400, what);
      const body = await r.json();
      assert.equal(body.errors[0].code, 'MANIFEST_INVALID', what);
      assert.match(body.errors[0].message + (body.errors[0].detail || ''), why, `${what}: ${JSON.stringify(body)}`);
    }
    const vs = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/kitbad/versions`, { token: A.writer });
    assert.deepEqual(vs.json.versions, [], 'no version, not even a draft');
    // Two layers holding the same path are refused too.
    const t1 = tarOf([{ name: 'same.txt', data: Buffer.from('one') }]);
    const t2 = tarOf([{ name: 'same.txt', data: Buffer.from('two') }]);
    await pushBlobs(repo, A.writer, [t1, t2]);
    const m2 = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc(cfg, KIT_CONFIG),
      layers: [desc(t1, 'application/vnd.kitops.modelkit.model.v1.tar'), desc(t2, 'application/vnd.kitops.modelkit.docs.v1.tar')] }));
    const r2 = await putManifest(repo, '1.0.0', A.writer, m2);
    assert.equal(r2.status, 400);
    assert.equal(await code(r2), 'MANIFEST_INVALID');
  });

  test('a layer cairn refuses fails the push with MANIFEST_INVALID and no tag; the next push resumes the draft', async () => {
    const repo = `${A.slug}/refused`;
    const empty = Buffer.from('{}');
    const good = Buffer.from('fine\n');
    const bad = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.from('junk')]);
    await pushBlobs(repo, A.writer, [empty, good, bad]);
    const layer = (b, p) => desc(b, 'application/vnd.cncf.model.weight.v1.raw', { 'org.cncf.model.filepath': p });
    const m1 = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT, config: desc(empty, 'application/vnd.cncf.model.config.v1+json'),
      layers: [layer(good, 'a.txt'), layer(bad, 'w.safetensors')] }));
    const r1 = await putManifest(repo, '1.0.0', A.writer, m1);
    assert.equal(r1.status, 400);
    assert.equal(await code(r1), 'MANIFEST_INVALID');
    // No tag points at the refused manifest: the tag names the draft it left (the org sees it).
    const t = await fetch(`${srv.url}/v2/${repo}/manifests/1.0.0`, { headers: basic(A.reader) });
    assert.notEqual(t.headers.get('docker-content-digest'), `sha256:${sha256(m1)}`);
    const m2 = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT, config: desc(empty, 'application/vnd.cncf.model.config.v1+json'),
      layers: [layer(good, 'a.txt')] }));
    const r2 = await putManifest(repo, '1.0.0', A.writer, m2);
    assert.equal(r2.status, 201, await r2.clone().text());
    const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/refused/versions/1.0.0`, { token: A.reader });
    assert.equal(v.json.lifecycle, 'published');
    assert.deepEqual(v.json.packages.flatMap((p) => p.resources).map((x) => x.path), ['a.txt']);
    // Published now: another manifest under that tag is refused, the same one again accepted.
    const m3 = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT, config: desc(empty, 'application/vnd.cncf.model.config.v1+json'),
      layers: [layer(empty, 'b.txt')] }));
    const r3 = await putManifest(repo, '1.0.0', A.writer, m3);
    assert.equal(r3.status, 409);
    assert.equal(await code(r3), 'DENIED');
    assert.equal((await putManifest(repo, '1.0.0', A.writer, m2)).status, 201);
    const g = await fetch(`${srv.url}/v2/${repo}/manifests/1.0.0`, { headers: basic(A.reader) });
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(m2));
  });

  test('a Docker schema 2 manifest and an OCI index are stored and served with their media types', async () => {
    const repo = `${A.slug}/dock`;
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.from(`layer ${rnd()}`);
    await pushBlobs(repo, A.writer, [cfg, layer]);
    const DMT = 'application/vnd.docker.distribution.manifest.v2+json';
    const dm = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DMT, config: desc(cfg, 'application/vnd.docker.container.image.v1+json'),
      layers: [desc(layer, 'application/vnd.docker.image.rootfs.diff.tar.gzip')] }));
    const r = await putManifest(repo, 'img', A.writer, dm, DMT);
    assert.equal(r.status, 201, await r.clone().text());
    const g = await fetch(`${srv.url}/v2/${repo}/manifests/img`, { headers: basic(A.reader) });
    assert.equal(g.headers.get('content-type'), DMT);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(dm));
    const IMT = 'application/vnd.oci.image.index.v1+json';
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: IMT, manifests: [{ mediaType: DMT, digest: `sha256:${sha256(dm)}`, size: dm.length, platform: { architecture: 'amd64', os: 'linux' } }] }));
    const ri = await putManifest(repo, 'multi', A.writer, idx, IMT);
    assert.equal(ri.status, 201, await ri.clone().text());
    const gi = await fetch(`${srv.url}/v2/${repo}/manifests/multi`, { method: 'HEAD', headers: basic(A.reader) });
    assert.equal(gi.headers.get('content-type'), IMT);
    assert.equal(gi.headers.get('docker-content-digest'), `sha256:${sha256(idx)}`);
    // An index naming a manifest the repository lacks.
    const lost = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: IMT, manifests: [{ mediaType: DMT, digest: `sha256:${'4'.repeat(64)}`, size: 1 }] }));
    const rl = await putManifest(repo, 'lost', A.writer, lost, IMT);
    assert.equal(rl.status, 404);
    assert.equal(await code(rl), 'MANIFEST_BLOB_UNKNOWN');
    // The skopeo view of the image: inspect (not --raw) reads its config.
    const ins = await skopeo(['inspect', '--tls-verify=false', '--creds', creds(A.reader), `docker://${R}/${repo}:img`]);
    assert.equal(ins.code, 0, ins.stderr);
    assert.equal(JSON.parse(ins.stdout).Os, 'linux');
  });

  test('manifests up to 4 MiB are taken whatever --max-body (1 MiB here) says; larger is SIZE_INVALID', async () => {
    const repo = `${A.slug}/big`;
    const cfg = Buffer.from('{}');
    await pushBlobs(repo, A.writer, [cfg]);
    const base = { schemaVersion: 2, mediaType: MT, config: desc(cfg, 'application/vnd.oci.empty.v1+json'), layers: [] };
    const big = Buffer.from(JSON.stringify({ ...base, annotations: { pad: 'x'.repeat(3 << 20) } }));
    const r = await putManifest(repo, 'big', A.writer, big);
    assert.equal(r.status, 201, await r.clone().text());
    const g = await fetch(`${srv.url}/v2/${repo}/manifests/big`, { headers: basic(A.reader) });
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(big));
    const huge = Buffer.from(JSON.stringify({ ...base, annotations: { pad: 'x'.repeat(5 << 20) } }));
    const h = await putManifest(repo, 'huge', A.writer, huge);
    assert.equal(h.status, 413);
    assert.equal(await code(h), 'SIZE_INVALID');
  });

  test('a push to a name cairn does not take as a model name is NAME_INVALID', async () => {
    const r = await fetch(`${srv.url}/v2/${A.slug}/${'a'.repeat(200)}/blobs/uploads/`, { method: 'POST', headers: basic(A.writer) });
    assert.equal(r.status, 400, await r.clone().text());
    assert.equal(await code(r), 'NAME_INVALID');
  });

  test('a manifest that is not one: MANIFEST_INVALID', async () => {
    for (const [body, ct] of [['not json', MT], ['{"schemaVersion":1}', MT], ['{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}', MT]]) {
      const r = await putManifest(`${A.slug}/tiny`, 'x1', A.writer, body, ct);
      assert.equal(r.status, 400, body);
      assert.equal(await code(r), 'MANIFEST_INVALID');
    }
  });
});

describe('quotas count OCI pushes (--quota-versions-monthly 1)', () => {
  let q;
  let Q;
  before(async () => {
    q = await startServer({ args: ['--quota-versions-monthly', '1'] });
    Q = await mkOrgWithTokens(q, uniq('oq'));
  });
  after(async () => { await q?.stop(); });

  test('the second version pushed in a month is TOOMANYREQUESTS with Retry-After, and skopeo fails', async () => {
    const host = `127.0.0.1:${q.port}`;
    const ok = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(Q.writer), `oci:${layout}:1.0.0`, `docker://${host}/${Q.slug}/m:1.0.0`]);
    assert.equal(ok.code, 0, ok.stderr);
    const r = await fetch(`${q.url}/v2/${Q.slug}/m/manifests/2.0.0`, { method: 'PUT', headers: { authorization: `Bearer ${Q.writer}`, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: lay.manifest });
    assert.equal(r.status, 429);
    assert.ok(r.headers.get('retry-after'));
    assert.equal((await r.json()).errors[0].code, 'TOOMANYREQUESTS');
    const again = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds(Q.writer), `oci:${layout}:1.0.0`, `docker://${host}/${Q.slug}/m:3.0.0`]);
    assert.notEqual(again.code, 0);
  });
});

// The same skopeo commands against Debian's docker-registry (distribution 2.8.2): the
// reference for exit codes and bytes.
describe('upload sessions expire (--oci-upload-ttl 4)', () => {
  const TTL = 4;
  let t;
  let T;
  before(async () => {
    t = await startServer({ args: ['--oci-upload-ttl', String(TTL), '--tmp-age', '0', '--retention', '0'] });
    T = await mkOrgWithTokens(t, uniq('ot'));
  });
  after(async () => { await t?.stop(); });
  const auth = (tok) => ({ authorization: `Bearer ${tok}` });
  /** True if the store holds bytes of upload session id (a session file, or S3 chunks). */
  async function sessionBytes(id) {
    if (S3_MODE) return (await s3List(`${s3PrefixFor(t.dataDir)}sessions/${id}/`)).length > 0;
    return fs.existsSync(path.join(t.dataDir, 'blobs', 'tmp', `session-${id}`));
  }
  /** A session holding `a` then `b` (two PATCHes: session bytes), and one whose single PATCH
   * held a whole blob (c/image's way). */
  async function sessions(repo, a, b, whole) {
    const s = await fetch(`${t.url}${repo}/blobs/uploads/`, { method: 'POST', headers: auth(T.writer) });
    assert.equal(s.status, 202);
    const loc = s.headers.get('location');
    const p1 = await fetch(`${t.url}${loc}`, { method: 'PATCH', headers: { ...auth(T.writer), 'content-range': `0-${a.length - 1}` }, body: a });
    assert.equal(p1.status, 202);
    const p2 = await fetch(`${t.url}${loc}`, { method: 'PATCH', headers: { ...auth(T.writer), 'content-range': `${a.length}-${a.length + b.length - 1}` }, body: b });
    assert.equal(p2.status, 202, await p2.text());
    const s2 = await fetch(`${t.url}${repo}/blobs/uploads/`, { method: 'POST', headers: auth(T.writer) });
    const loc2 = s2.headers.get('location');
    assert.equal((await fetch(`${t.url}${loc2}`, { method: 'PATCH', headers: auth(T.writer), body: whole })).status, 202);
    return { loc, loc2, id: s.headers.get('docker-upload-uuid') };
  }

  test('a session past its TTL is unknown and GC sweeps its bytes; a live one survives GC and completes', async () => {
    const repo = `/v2/${T.slug}/ttl`;
    const oldWhole = Buffer.from(`old whole ${rnd()}`);
    const old = await sessions(repo, Buffer.from(`old-a ${rnd()}`), Buffer.from(`old-b ${rnd()}`), oldWhole);
    assert.equal((await fetch(`${t.url}${old.loc}`, { headers: auth(T.writer) })).status, 204, 'the session answers while live');
    assert.ok(await sessionBytes(old.id), 'the session holds bytes');
    assert.ok(await blobExists(t.dataDir, sha256(oldWhole)), 'the whole-blob session holds its blob');
    await new Promise((res) => { setTimeout(res, TTL * 1000 + 300); });
    const a = Buffer.from(`new-a ${rnd()}`);
    const b = Buffer.from(`new-b ${rnd()}`);
    const whole = Buffer.from(`new whole ${rnd()}`);
    const live = await sessions(repo, a, b, whole);
    for (const loc of [old.loc, old.loc2]) {
      const g = await fetch(`${t.url}${loc}`, { headers: auth(T.writer) });
      assert.equal(g.status, 404);
      assert.equal((await g.json()).errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
    }
    const gc = await api(t, 'POST', '/api/v1/admin/gc', { token: t.adminToken });
    assert.equal(gc.status, 200, gc.text);
    assert.ok(!(await sessionBytes(old.id)), 'the expired session\'s bytes are swept');
    assert.ok(!(await blobExists(t.dataDir, sha256(oldWhole))), 'the expired whole-blob session\'s blob is swept');
    assert.ok(await sessionBytes(live.id), 'the live session\'s bytes are kept');
    // The live ones complete after GC.
    const all = Buffer.concat([a, b]);
    const fin = await fetch(`${t.url}${live.loc}?digest=sha256:${sha256(all)}`, { method: 'PUT', headers: auth(T.writer) });
    assert.equal(fin.status, 201, await fin.text());
    const fin2 = await fetch(`${t.url}${live.loc2}?digest=sha256:${sha256(whole)}`, { method: 'PUT', headers: auth(T.writer) });
    assert.equal(fin2.status, 201, await fin2.text());
    const back = await fetch(`${t.url}${repo}/blobs/sha256:${sha256(all)}`, { headers: auth(T.reader) });
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(all));
  });
});

describe('skopeo against docker-registry (reference)', () => {
  let reg;
  let RR;
  before(async () => {
    const port = await freePort();
    RR = `127.0.0.1:${port}`;
    const dir = path.join(tmp, 'registry');
    fs.mkdirSync(dir);
    const cfg = path.join(tmp, 'registry.yml');
    fs.writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}\n  delete:\n    enabled: true\nhttp:\n  addr: ${RR}\n`);
    reg = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`http://${RR}/v2/`)).status === 200) return; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('docker-registry did not start');
  });
  after(() => { reg?.kill('SIGKILL'); });

  test('push, inspect --raw, copy out, list-tags: same exit codes and bytes as cairn', async () => {
    const cmds = (host, repo, who) => [
      ['copy', '--dest-tls-verify=false', '--dest-creds', creds(who), `oci:${layout}:1.0.0`, `docker://${host}/${repo}:1.0.0`],
      ['inspect', '--raw', '--tls-verify=false', '--creds', creds(who), `docker://${host}/${repo}:1.0.0`],
      ['copy', '--src-tls-verify=false', '--src-creds', creds(who), `docker://${host}/${repo}:1.0.0`, `dir:${path.join(tmp, `d-${host.replace(/[:.]/g, '')}`)}`],
      ['list-tags', '--tls-verify=false', '--creds', creds(who), `docker://${host}/${repo}`],
      ['inspect', '--raw', '--tls-verify=false', '--creds', creds(who), `docker://${host}/${repo}:9.9.9`],
    ];
    const org = await mkOrgWithTokens(srv, uniq('ref'));
    const ours = [];
    const theirs = [];
    for (const c of cmds(R, `${org.slug}/tiny`, org.writer)) ours.push(await skopeo(c));
    for (const c of cmds(RR, 'ref/tiny', 'x')) theirs.push(await skopeo(c));
    assert.deepEqual(ours.map((r) => r.code), theirs.map((r) => r.code), ours.map((r) => r.stderr).join('\n'));
    assert.deepEqual(ours.map((r) => r.code), [0, 0, 0, 0, 1]);
    assert.ok(ours[1].stdout.equals(theirs[1].stdout), 'inspect --raw bytes');
    assert.ok(ours[1].stdout.equals(lay.manifest));
    assert.deepEqual(JSON.parse(ours[3].stdout).Tags, JSON.parse(theirs[3].stdout).Tags);
    const a = path.join(tmp, `d-${R.replace(/[:.]/g, '')}`);
    const b = path.join(tmp, `d-${RR.replace(/[:.]/g, '')}`);
    assert.deepEqual(fs.readdirSync(a).sort(), fs.readdirSync(b).sort());
    for (const f of fs.readdirSync(a)) assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), f);
  });
});

