// The Hugging Face Hub API adapter (/hf, docs/hf.md) driven by the real clients:
// @huggingface/hub and @huggingface/transformers (pinned in tests/package.json), plus a replay
// of the Python huggingface_hub client's request sequence with node fetch (it cannot be
// installed here), asserting the headers it needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  listModels, modelInfo, listFiles, downloadFile, fileExists, snapshotDownload, whoAmI, pathsInfo,
  createRepo, uploadFiles, deleteFile,
} from '@huggingface/hub';
import { startServer, api, mkOrgWithTokens, uniq, REPO, assertCleanCli, S3_MODE } from './harness.mjs';
import { mkArtifact, mkVersion, putFileOk, publish, prngBytes, MiB } from './files-lib.mjs';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

let srv, own, other, hubUrl, tiny, priv;
const files = {
  'config.json': Buffer.from(JSON.stringify({ model_type: 'bert', hidden_size: 8, vocab_size: 6 })),
  'tokenizer.json': Buffer.from(JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0, hello: 1, world: 2, cairn: 3, is: 4, here: 5 }, unk_token: '[UNK]' },
  })),
  'tokenizer_config.json': Buffer.from(JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', unk_token: '[UNK]' })),
  'model.bin': prngBytes('hf-model', 3 * MiB),
  'sub/extra.txt': Buffer.from('extra file\n'),
  'sub/deep/more.txt': Buffer.from('deeper\n'),
  'empty.txt': Buffer.alloc(0),
};
const card = '---\nlicense: apache-2.0\npipeline_tag: text-classification\nlibrary_name: transformers\ntags:\n  - tiny\n  - test\n---\n# Tiny\n';

async function pushVersion(o, name, version, fileset) {
  await mkVersion(srv, o, 'models', name, version);
  for (const [p, b] of Object.entries(fileset)) await putFileOk(srv, o, 'models', name, version, p, b);
  await publish(srv, o, 'models', name, version);
}

before(async () => {
  srv = await startServer();
  hubUrl = `${srv.url}/hf`;
  own = await mkOrgWithTokens(srv, uniq('acme'));
  other = await mkOrgWithTokens(srv, uniq('oth'));
  tiny = (await mkArtifact(srv, own, 'models', { name: uniq('tiny'), is_public: true, description: card })).name;
  await pushVersion(own, tiny, '1.0.0', files);
  await pushVersion(own, tiny, '1.1.0', { ...files, 'config.json': Buffer.from('{"model_type":"bert","v":2}') });
  priv = (await mkArtifact(srv, own, 'models', { name: uniq('priv'), is_public: false })).name;
  await pushVersion(own, priv, '1.0.0', { 'config.json': files['config.json'] });
});
after(async () => { await srv?.stop(); });

const hf = (t) => `hf_${t}`;

test('modelInfo: default revision HEAD is the latest version; a given revision; fields and dates', async () => {
  const repo = `${own.slug}/${tiny}`;
  const head = await modelInfo({ hubUrl, name: repo, additionalFields: ['sha', 'siblings', 'cardData', 'tags', 'library_name'] });
  assert.equal(head.name, repo);
  assert.match(head.sha, /^[0-9a-f]{40}$/);
  const v10 = await modelInfo({ hubUrl, name: repo, revision: '1.0.0', additionalFields: ['sha', 'siblings'] });
  const v11 = await modelInfo({ hubUrl, name: repo, revision: '1.1.0', additionalFields: ['sha'] });
  assert.equal(head.sha, v11.sha, 'HEAD = latest = 1.1.0');
  assert.notEqual(v10.sha, v11.sha);
  // The commit id is stable: asked again, and by itself as a revision.
  const again = await modelInfo({ hubUrl, name: repo, revision: v10.sha, additionalFields: ['sha'] });
  assert.equal(again.sha, v10.sha);
  assert.deepEqual(v10.siblings.map((s) => s.rfilename).sort(), Object.keys(files).sort());
  assert.equal(head.cardData.pipeline_tag, 'text-classification');
  assert.equal(head.cardData.license, 'apache-2.0');
  assert.equal(head.task, 'text-classification', 'pipeline_tag, as the client names it');
  assert.equal(head.library_name, 'transformers');
  assert.ok(head.tags.includes('tiny'));
  // Raw shape: dates in ...Z form (Python parses nothing else), id, private, downloads.
  const r = await api(srv, 'GET', `/hf/api/models/${repo}/revision/1.0.0?blobs=true`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, repo);
  assert.match(r.json.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.match(r.json.lastModified, /Z$/);
  assert.equal(r.json.private, false);
  assert.equal(typeof r.json.downloads, 'number');
  const model = r.json.siblings.find((s) => s.rfilename === 'model.bin');
  assert.equal(model.size, 3 * MiB);
  assert.equal(model.lfs.sha256, sha256(files['model.bin']));
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
});

test('errors: {"error"} + X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound', async () => {
  const repo = `${own.slug}/${tiny}`;
  let r = await api(srv, 'GET', `/hf/api/models/${own.slug}/nope`);
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('x-error-code'), 'RepoNotFound');
  assert.equal(typeof r.json.error, 'string');
  r = await api(srv, 'GET', `/hf/api/models/${repo}/revision/9.9.9`);
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('x-error-code'), 'RevisionNotFound');
  r = await api(srv, 'GET', `/hf/api/models/${repo}/revision/${'a'.repeat(40)}`);
  assert.equal(r.headers.get('x-error-code'), 'RevisionNotFound');
  r = await api(srv, 'GET', `/hf/${repo}/resolve/main/nope.bin`);
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('x-error-code'), 'EntryNotFound');
  assert.match(r.headers.get('x-repo-commit'), /^[0-9a-f]{40}$/, 'a missing file still names the commit');
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  // A bad token: 401 with the message Python reads as bad credentials.
  r = await api(srv, 'GET', `/hf/api/models/${repo}`, { token: 'hf_cairn_bogus' });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('x-error-message'), 'Invalid credentials in Authorization header');
  // The JS client refuses a token without the hf_ prefix before sending anything.
  await assert.rejects(modelInfo({ hubUrl, name: repo, accessToken: own.reader }), TypeError);
  assert.equal(await downloadFile({ hubUrl, repo, path: 'nope.bin' }), null);
});

test('listModels: search, author, filter, sort and several pages through absolute Link URLs', async () => {
  const author = uniq('page');
  const o = await mkOrgWithTokens(srv, author);
  const names = [];
  for (let i = 0; i < 7; i++) {
    const n = `m${i}-${uniq('x')}`;
    await mkArtifact(srv, o, 'models', { name: n, is_public: true, tags: i % 2 ? ['odd'] : ['even'] });
    names.push(`${author}/${n}`);
  }
  const seen = [];
  for await (const m of listModels({ hubUrl, search: { owner: author }, limit: 100, additionalFields: ['tags'] })) seen.push(m.name);
  assert.deepEqual([...seen].sort(), [...names].sort());
  // Small pages: the client follows Link through every page.
  const r = await api(srv, 'GET', `/hf/api/models?author=${author}&limit=3`);
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 3);
  assert.match(r.headers.get('link'), /^<http:\/\/127\.0\.0\.1:\d+\/hf\/api\/models\?author=[^>]*cursor=[^>]+>; rel="next"$/);
  let url = `${hubUrl}/api/models?author=${author}&limit=3`, pages = 0;
  const paged = [];
  while (url) {
    const p = await fetch(url);
    paged.push(...(await p.json()).map((m) => m.id));
    const link = p.headers.get('link');
    url = link ? /<([^>]+)>/.exec(link)[1] : null;
    pages++;
  }
  assert.equal(pages, 3);
  assert.deepEqual([...paged].sort(), [...names].sort());
  // filter = tag, search, sort.
  const odd = [];
  for await (const m of listModels({ hubUrl, search: { owner: author, tags: ['odd'] } })) odd.push(m.name);
  assert.equal(odd.length, 3);
  const q = [];
  for await (const m of listModels({ hubUrl, search: { query: names[2].split('/')[1] } })) q.push(m.name);
  assert.deepEqual(q, [names[2]]);
  const s = await api(srv, 'GET', `/hf/api/models?author=${author}&sort=id`);
  assert.deepEqual(s.json.map((m) => m.id), [...names].sort());
  for (const token of [undefined, srv.adminToken]) {
    const none = await api(srv, 'GET', '/hf/api/models?author=no-such-org', { token });
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.json, []);
  }
  const bad = await api(srv, 'GET', '/hf/api/models?sort=nonsense');
  assert.equal(bad.status, 400);
  // A name HF clients cannot express (Python and transformers.js refuse "--") is served by its
  // exact name but left out of lists (docs/hf.md).
  const odd2 = `x--${uniq('y')}`;
  await mkArtifact(srv, o, 'models', { name: odd2, is_public: true });
  const listed = (await api(srv, 'GET', `/hf/api/models?author=${author}&limit=100`)).json.map((m) => m.id);
  assert.equal(listed.length, 7);
  assert.ok(!listed.includes(`${author}/${odd2}`));
  assert.equal((await api(srv, 'GET', `/hf/api/models/${author}/${odd2}`)).json.id, `${author}/${odd2}`);
  // The private model is listed for its own org only.
  const mine = (await api(srv, 'GET', `/hf/api/models?author=${own.slug}`, { token: hf(own.reader) })).json.map((m) => m.id);
  assert.ok(mine.includes(`${own.slug}/${priv}`));
  const theirs = (await api(srv, 'GET', `/hf/api/models?author=${own.slug}`, { token: hf(other.reader) })).json.map((m) => m.id);
  assert.ok(theirs.includes(`${own.slug}/${tiny}`) && !theirs.includes(`${own.slug}/${priv}`));
});

test('--public-url makes the Link URLs', async () => {
  const s2 = await startServer({ args: ['--public-url', 'https://models.example.com/reg/'] });
  try {
    const o = await mkOrgWithTokens(s2, uniq('pu'));
    for (let i = 0; i < 2; i++) await mkArtifact(s2, o, 'models', { name: `p${i}`, is_public: true });
    const r = await api(s2, 'GET', `/hf/api/models?author=${o.slug}&limit=1`);
    assert.match(r.headers.get('link'), /^<https:\/\/models\.example\.com\/reg\/hf\/api\/models\?author=[^&]+&limit=1&cursor=[^>]+>; rel="next"$/);
  } finally {
    await s2.stop();
  }
});

test('listFiles, pathsInfo, fileExists', async () => {
  const repo = `${own.slug}/${tiny}`;
  const top = [];
  for await (const f of listFiles({ hubUrl, repo, revision: '1.0.0' })) top.push(`${f.type}:${f.path}`);
  assert.deepEqual(top.sort(), ['directory:sub', 'file:config.json', 'file:empty.txt', 'file:model.bin', 'file:tokenizer.json', 'file:tokenizer_config.json']);
  const all = [];
  for await (const f of listFiles({ hubUrl, repo, revision: '1.0.0', recursive: true })) all.push(f);
  assert.deepEqual(all.filter((f) => f.type === 'file').map((f) => f.path).sort(), Object.keys(files).sort());
  assert.ok(all.some((f) => f.type === 'directory' && f.path === 'sub/deep'));
  const mb = all.find((f) => f.path === 'model.bin');
  assert.equal(mb.lfs.oid, sha256(files['model.bin']));
  assert.equal(mb.size, 3 * MiB);
  // oid is git's blob id of the file's LFS pointer, as on the Hub.
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(files['model.bin'])}\nsize ${3 * MiB}\n`;
  assert.equal(mb.oid, createHash('sha1').update(`blob ${pointer.length}\0${pointer}`).digest('hex'));
  assert.equal(mb.lfs.pointerSize, pointer.length);
  const sub = [];
  for await (const f of listFiles({ hubUrl, repo, path: 'sub', revision: '1.0.0' })) sub.push(f.path);
  assert.deepEqual(sub.sort(), ['sub/deep', 'sub/extra.txt']);
  const info = await pathsInfo({ hubUrl, repo, paths: ['config.json', 'sub', 'missing'], revision: '1.0.0', expand: true });
  assert.deepEqual(info.map((x) => `${x.type}:${x.path}`), ['file:config.json', 'directory:sub']);
  assert.equal(await fileExists({ hubUrl, repo, path: 'config.json' }), true);
  assert.equal(await fileExists({ hubUrl, repo, path: 'nope.bin' }), false);
});

test('downloadFile whole and sliced (Range), empty file, build metadata revision', async () => {
  const repo = `${own.slug}/${tiny}`;
  const blob = await downloadFile({ hubUrl, repo, path: 'config.json', revision: '1.0.0' });
  assert.equal(await blob.text(), files['config.json'].toString());
  const info = await modelInfo({ hubUrl, name: repo, revision: '1.0.0', additionalFields: ['sha'] });
  const big = await downloadFile({ hubUrl, repo, path: 'model.bin', revision: info.sha });
  assert.equal(big.size, 3 * MiB);
  const part = Buffer.from(await big.slice(1000, 1010).arrayBuffer());
  assert.deepEqual(part, files['model.bin'].subarray(1000, 1010));
  const whole = Buffer.from(await big.arrayBuffer());
  assert.equal(sha256(whole), sha256(files['model.bin']));
  // Exact single-range 206.
  const r = await fetch(`${hubUrl}/${repo}/resolve/1.0.0/model.bin`, { headers: { Range: 'bytes=5-9' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 5-9/${3 * MiB}`);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), files['model.bin'].subarray(5, 10));
  // The empty file: a Range probe gets 200 with the empty body and size 0 (decision, docs/hf.md).
  const e = await downloadFile({ hubUrl, repo, path: 'empty.txt', revision: '1.0.0' });
  assert.equal(e.size, 0);
  assert.equal((await e.arrayBuffer()).byteLength, 0);
  const er = await fetch(`${hubUrl}/${repo}/resolve/1.0.0/empty.txt`, { headers: { Range: 'bytes=0-0' } });
  assert.equal(er.status, 200);
  assert.equal(er.headers.get('content-range'), 'bytes */0');
  assert.equal(er.headers.get('etag'), `"${sha256(Buffer.alloc(0))}"`);
  // A revision with + build metadata, raw and percent-encoded.
  await pushVersion(own, tiny, '1.2.0-rc.1+b7', { 'config.json': Buffer.from('{"b":7}') });
  for (const rev of ['1.2.0-rc.1+b7', '1.2.0-rc.1%2Bb7']) {
    const x = await fetch(`${hubUrl}/${repo}/resolve/${rev}/config.json`);
    assert.equal(x.status, 200, rev);
    assert.equal(await x.text(), '{"b":7}');
  }
  const mi = await modelInfo({ hubUrl, name: repo, revision: '1.2.0-rc.1+b7', additionalFields: ['sha'] });
  assert.match(mi.sha, /^[0-9a-f]{40}$/);
  const ls = [];
  for await (const f of listFiles({ hubUrl, repo, revision: '1.2.0-rc.1+b7' })) ls.push(f.path);
  assert.deepEqual(ls, ['config.json']);
});

test('snapshotDownload into a cache dir: every file byte-exact', async () => {
  const repo = `${own.slug}/${tiny}`;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-cache-'));
  try {
    const dir = await snapshotDownload({ hubUrl, repo, revision: '1.0.0', cacheDir });
    const info = await modelInfo({ hubUrl, name: repo, revision: '1.0.0', additionalFields: ['sha'] });
    assert.ok(dir.endsWith(info.sha), dir);
    for (const [p, b] of Object.entries(files)) {
      const got = fs.readFileSync(path.join(dir, p));
      assert.equal(sha256(got), sha256(b), p);
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('private model: refused to another org and to no token, never leaked; owner reads it', async () => {
  const repo = `${own.slug}/${priv}`;
  for (const token of [undefined, hf(other.admin)]) {
    const accessToken = token;
    await assert.rejects(modelInfo({ hubUrl, name: repo, accessToken }), (e) => e.statusCode === 404 || e.statusCode === 401);
    const r = await api(srv, 'GET', `/hf/${repo}/resolve/main/config.json`, { token });
    assert.ok(r.status === 404 || r.status === 401, `${r.status}`);
    assert.equal(r.headers.get('x-repo-commit'), null, 'no commit id of a hidden model');
    assert.equal(r.headers.get('x-error-code'), 'RepoNotFound');
    const t = await api(srv, 'GET', `/hf/api/models/${repo}/tree/main`, { token });
    assert.equal(t.status, 404);
  }
  const mine = await modelInfo({ hubUrl, name: repo, accessToken: hf(own.reader), additionalFields: ['sha', 'private'] });
  assert.equal(mine.private, true);
  const b = await downloadFile({ hubUrl, repo, path: 'config.json', accessToken: hf(own.reader) });
  assert.equal(await b.text(), files['config.json'].toString());
});

test('whoAmI, refs, commits, CORS preflight', async () => {
  const me = await whoAmI({ hubUrl, accessToken: hf(own.writer) });
  assert.equal(me.type, 'user');
  assert.ok(me.name);
  const w = await api(srv, 'GET', '/hf/api/whoami-v2', { token: hf(own.writer) });
  assert.equal(w.json.auth.accessToken.role, 'write');
  assert.deepEqual(w.json.orgs.map((x) => x.name), [own.slug]);
  assert.equal((await api(srv, 'GET', '/hf/api/whoami-v2')).status, 401);
  // The hf_ form of a cairn token is the same token on every route, /api/v1 included; only
  // hf_cairn_ is unwrapped (an hf_ token of another shape is just an unknown token).
  const v1 = await api(srv, 'GET', '/api/v1/whoami', { token: hf(own.writer) });
  assert.equal(v1.status, 200, v1.text);
  assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: `hf_${own.writer.slice(6)}` })).status, 401);
  const repo = `${own.slug}/${tiny}`;
  const refs = (await api(srv, 'GET', `/hf/api/models/${repo}/refs`)).json;
  assert.deepEqual(Object.keys(refs).sort(), ['branches', 'converts', 'tags']);
  const v10 = await modelInfo({ hubUrl, name: repo, revision: '1.0.0', additionalFields: ['sha'] });
  assert.equal(refs.tags.find((t) => t.name === '1.0.0').targetCommit, v10.sha);
  assert.equal(refs.tags.find((t) => t.name === '1.0.0').ref, 'refs/tags/1.0.0');
  const head = await modelInfo({ hubUrl, name: repo, additionalFields: ['sha'] });
  assert.equal(refs.branches.find((b) => b.name === 'main').targetCommit, head.sha);
  const commits = (await api(srv, 'GET', `/hf/api/models/${repo}/commits/1.1.0`)).json;
  assert.deepEqual(commits.map((x) => x.title), ['version 1.1.0', 'version 1.0.0']);
  assert.equal(commits[1].id, v10.sha);
  const pre = await fetch(`${hubUrl}/${repo}/resolve/main/config.json`, {
    method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,range' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Range/);
  const g = await fetch(`${hubUrl}/${repo}/resolve/main/config.json`, { headers: { Origin: 'http://app.example' } });
  for (const h of ['ETag', 'Content-Range', 'X-Repo-Commit', 'X-Linked-Etag', 'X-Linked-Size', 'X-Error-Code', 'Link']) {
    assert.match(g.headers.get('access-control-expose-headers'), new RegExp(h));
  }
});

test('Python client replay: HEAD resolve with Accept-Encoding identity, form paths-info, %2F tree paths', async () => {
  const repo = `${own.slug}/${tiny}`;
  const sha = (await api(srv, 'GET', `/hf/api/models/${repo}/revision/1.0.0`)).json.sha;
  // get_hf_file_metadata: HEAD, no redirects followed, identity encoding.
  const h = await fetch(`${hubUrl}/${repo}/resolve/1.0.0/model.bin`, {
    method: 'HEAD', redirect: 'manual', headers: { 'Accept-Encoding': 'identity', authorization: `Bearer ${hf(own.reader)}` } });
  assert.equal(h.status, 200);
  assert.equal(h.headers.get('x-repo-commit'), sha);
  assert.equal(h.headers.get('etag'), `"${sha256(files['model.bin'])}"`);
  assert.equal(h.headers.get('x-linked-etag'), `"${sha256(files['model.bin'])}"`);
  assert.equal(h.headers.get('content-length'), String(3 * MiB), 'HEAD carries the true size');
  assert.equal(h.headers.get('x-linked-size'), String(3 * MiB));
  assert.equal(h.headers.get('content-encoding'), null);
  // snapshot_download then asks by commit sha, percent-encoded revision and path.
  const h2 = await fetch(`${hubUrl}/${repo}/resolve/${sha}/sub%2Fextra.txt`, { method: 'HEAD', headers: { 'Accept-Encoding': 'identity' } });
  assert.equal(h2.status, 200);
  assert.equal(h2.headers.get('content-length'), String(files['sub/extra.txt'].length));
  // A resumed GET: Range bytes=N-.
  const g = await fetch(`${hubUrl}/${repo}/resolve/1.0.0/model.bin`, { headers: { Range: `bytes=${3 * MiB - 4}-` } });
  assert.equal(g.status, 206);
  assert.deepEqual(Buffer.from(await g.arrayBuffer()), files['model.bin'].subarray(3 * MiB - 4));
  // get_paths_info: form-urlencoded body.
  const p = await fetch(`${hubUrl}/api/models/${repo}/paths-info/1.0.0`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'paths=config.json&paths=sub%2Fextra.txt&paths=sub&expand=false' });
  assert.equal(p.status, 200);
  const items = await p.json();
  assert.deepEqual(items.map((x) => `${x.type}:${x.path}`), ['file:config.json', 'file:sub/extra.txt', 'directory:sub']);
  for (const x of items) assert.ok(typeof x.oid === 'string' && x.oid.length === 40, 'RepoFolder needs oid too');
  assert.equal(items[1].lfs.oid, sha256(files['sub/extra.txt']));
  // list_repo_tree: path quoted with safe="" (%2F), revision quoted too.
  const t = await fetch(`${hubUrl}/api/models/${repo}/tree/1.0.0/sub%2Fdeep?recursive=false&expand=false`);
  assert.equal(t.status, 200);
  assert.deepEqual((await t.json()).map((x) => x.path), ['sub/deep/more.txt']);
  const t404 = await fetch(`${hubUrl}/api/models/${repo}/tree/1.0.0/nothere`);
  assert.equal(t404.status, 404);
  assert.equal(t404.headers.get('x-error-code'), 'EntryNotFound');
  // model_info without revision: id and sha are required by Python's ModelInfo.
  const mi = await (await fetch(`${hubUrl}/api/models/${repo}?blobs=true`)).json();
  assert.equal(mi.id, repo);
  assert.match(mi.sha, /^[0-9a-f]{40}$/);
  // list_repo_refs needs every key.
  const refs = await (await fetch(`${hubUrl}/api/models/${repo}/refs?include_prs=1`)).json();
  assert.ok(Array.isArray(refs.pullRequests));
});

test('transformers.js loads AutoConfig and AutoTokenizer of a model pushed to cairn', async () => {
  const { env, AutoConfig, AutoTokenizer } = await import('@huggingface/transformers');
  env.remoteHost = `${hubUrl}/`;
  env.remotePathTemplate = '{model}/resolve/{revision}/';
  env.allowLocalModels = false;
  env.useFSCache = false;
  env.useBrowserCache = false;
  // A model of its own, pushed through /api/v1: transformers.js 4.3.2 reads some tokenizer
  // files at main even when given a revision, so main must hold the tokenizer too.
  const name = (await mkArtifact(srv, own, 'models', { name: uniq('tok'), is_public: true })).name;
  await pushVersion(own, name, '1.0.0', files);
  await pushVersion(own, name, '1.1.0', { ...files, 'config.json': Buffer.from('{"model_type":"bert","v":2}') });
  const repo = `${own.slug}/${name}`;
  const cfg = await AutoConfig.from_pretrained(repo, { revision: '1.0.0' });
  assert.equal(cfg.model_type, 'bert');
  assert.equal(cfg.hidden_size, 8);
  const tok = await AutoTokenizer.from_pretrained(repo, { revision: '1.0.0' });
  const { input_ids } = await tok('hello cairn is here');
  assert.deepEqual(Array.from(input_ids.data, Number), [1, 3, 4, 5]);
  assert.equal(tok.decode([1, 2]), 'hello world');
  // The default revision is main = the latest version (1.1.0 changed config.json).
  const latest = await AutoConfig.from_pretrained(repo);
  assert.equal(latest.v, 2);
  // A private model: transformers.js sends no token to a host other than huggingface.co; with
  // an env.fetch that adds one, the owner loads it; without, it is not found.
  await assert.rejects(AutoConfig.from_pretrained(`${own.slug}/${priv}`));
  const plain = env.fetch;
  env.fetch = (u, init = {}) => fetch(u, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), Authorization: `Bearer ${hf(own.reader)}` } });
  try {
    const pc = await AutoConfig.from_pretrained(`${own.slug}/${priv}`);
    assert.equal(pc.model_type, 'bert');
  } finally {
    env.fetch = plain;
  }
});

const CLI = process.env.CAIRN_CLI || path.join(REPO, 'build', 'cairn');
function cairnCli(args, env) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('CAIRN_')) delete base[k];
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-cli-home-'));
  return new Promise((resolve) => {
    const p = spawn(CLI, args, { env: { ...base, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_STATE_HOME: path.join(home, '.state'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => { fs.rmSync(home, { recursive: true, force: true }); resolve({ code, stdout, stderr }); });
  });
}

test('write side: createRepo + uploadFiles (3 MiB + small) make SemVer versions, read through /api/v1 and cairn pull', async () => {
  const name = uniq('new');
  const repo = `${own.slug}/${name}`;
  const accessToken = hf(own.writer);
  // The JS client refuses a token without hf_ before sending anything.
  await assert.rejects(createRepo({ hubUrl, repo, accessToken: own.writer }), TypeError);
  const created = await createRepo({ hubUrl, repo, accessToken });
  assert.equal(created.repoUrl, `${hubUrl}/${repo}`);
  // Again: 409 whose body still names the url (Python's exist_ok reads it).
  const again = await api(srv, 'POST', '/hf/api/repos/create', { token: accessToken, body: { name, organization: own.slug, type: 'model' } });
  assert.equal(again.status, 409);
  assert.equal(again.json.url, `${hubUrl}/${repo}`);
  // A reader may not create; nor may another org's writer create in this org.
  assert.equal((await api(srv, 'POST', '/hf/api/repos/create', { token: hf(own.reader), body: { name: uniq('r'), organization: own.slug } })).status, 403);
  assert.equal((await api(srv, 'POST', '/hf/api/repos/create', { token: hf(other.writer), body: { name: uniq('r'), organization: own.slug } })).status, 404);
  const big = prngBytes('hf-upload', 3 * MiB);
  const small = Buffer.from('{"a":1}');
  const out = await uploadFiles({ hubUrl, repo, accessToken, branch: '0.1.0', useXet: false,
    files: [{ path: 'config.json', content: new Blob([small]) }, { path: 'w/model.bin', content: new Blob([big]) }] });
  assert.match(out.commit.oid, /^[0-9a-f]{40}$/);
  const info = await modelInfo({ hubUrl, name: repo, revision: '0.1.0', accessToken, additionalFields: ['sha'] });
  assert.equal(info.sha, out.commit.oid, 'the commit id is the version\'s');
  // Through /api/v1: a published version with both files, SHA-256 as stored.
  const v = await api(srv, 'GET', `/api/v1/org/${own.slug}/models/${name}/versions/0.1.0`, { token: own.reader });
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.lifecycle, 'published');
  const res = v.json.packages.flatMap((p) => p.resources);
  assert.deepEqual(res.map((x) => x.path).sort(), ['config.json', 'w/model.bin']);
  assert.equal(res.find((x) => x.path === 'w/model.bin').sha256, sha256(big));
  const f = await fetch(`${srv.url}/api/v1/org/${own.slug}/models/${name}/versions/0.1.0/files/w/model.bin`, { headers: { authorization: `Bearer ${own.reader}` } });
  assert.equal(sha256(Buffer.from(await f.arrayBuffer())), sha256(big));
  // And with cairn pull.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-pull-'));
  try {
    const r = await cairnCli(['pull', `${repo}@0.1.0`, '-o', dir], { CAIRN_SERVER: srv.url, CAIRN_TOKEN: own.reader });
    assertCleanCli(r);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(fs.readFileSync(path.join(dir, 'w', 'model.bin'))), sha256(big));
    assert.equal(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'), '{"a":1}');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // A commit to main is the next patch, carrying the parent's files; the default client path
  // (which offers xet) gets basic.
  const second = await uploadFiles({ hubUrl, repo, accessToken, files: [{ path: 'README.md', content: new Blob(['# new\n']) }] });
  const head = await modelInfo({ hubUrl, name: repo, accessToken, additionalFields: ['sha', 'siblings'] });
  assert.equal(head.sha, second.commit.oid);
  assert.deepEqual(head.siblings.map((x) => x.rfilename).sort(), ['README.md', 'config.json', 'w/model.bin']);
  const refs = (await api(srv, 'GET', `/hf/api/models/${repo}/refs`, { token: own.reader })).json;
  assert.deepEqual(refs.tags.map((t) => t.name).sort(), ['0.1.0', '0.1.1']);
  // Deleting makes another version without the file.
  await deleteFile({ hubUrl, repo, accessToken, path: 'README.md' });
  const third = await modelInfo({ hubUrl, name: repo, revision: '0.1.2', accessToken, additionalFields: ['siblings'] });
  assert.deepEqual(third.siblings.map((x) => x.rfilename).sort(), ['config.json', 'w/model.bin']);
  // Versions are immutable: a commit to an existing version is refused.
  await assert.rejects(uploadFiles({ hubUrl, repo, accessToken, branch: '0.1.0', files: [{ path: 'x.txt', content: new Blob(['x']) }] }), (e) => e.statusCode === 409);
  // The same bytes again are deduplicated: the batch asks for no upload.
  const b = await api(srv, 'POST', `/hf/${repo}.git/info/lfs/objects/batch`, { token: accessToken,
    headers: { 'content-type': 'application/vnd.git-lfs+json' },
    rawBody: JSON.stringify({ operation: 'upload', transfers: ['basic', 'xet'], hash_algo: 'sha_256', objects: [{ oid: sha256(big), size: big.length }, { oid: sha256(Buffer.from('fresh')), size: 5 }] }) });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.transfer, 'basic');
  assert.equal(b.json.objects[0].actions, undefined, 'held bytes need no upload');
  assert.ok(b.json.objects[1].actions.upload.href);
  // Bytes that do not hash to the oid are refused: as they stream through cairn (files), or
  // when the commit claims them (S3 takes any bytes at its own URL; cairn re-hashes them).
  const bad = await fetch(b.json.objects[1].actions.upload.href, { method: 'PUT', body: 'wrong' });
  if (S3_MODE) assert.ok(bad.ok, `${bad.status}`);
  else assert.equal(bad.status, 422);
  const c = await api(srv, 'POST', `/hf/api/models/${repo}/commit/main`, { token: accessToken,
    headers: { 'content-type': 'application/x-ndjson' },
    rawBody: [{ key: 'header', value: { summary: 's' } }, { key: 'lfsFile', value: { path: 'f.txt', algo: 'sha256', oid: sha256(Buffer.from('fresh')), size: 5 } }].map((x) => JSON.stringify(x)).join('\n') });
  if (S3_MODE) {
    assert.equal(c.status, 422, c.text);
    assert.match(c.json.error, /checksum mismatch/);
  } else {
    assert.equal(c.status, 400, c.text);
    assert.match(c.json.error, /not uploaded/);
  }
  const after = await modelInfo({ hubUrl, name: repo, accessToken, additionalFields: ['sha'] });
  assert.equal(after.sha, (await modelInfo({ hubUrl, name: repo, revision: '0.1.2', accessToken, additionalFields: ['sha'] })).sha, 'a refused commit made no version');
  // Another org cannot write (403: the model is public, as v1 answers), nor can a reader.
  await assert.rejects(uploadFiles({ hubUrl, repo, accessToken: hf(other.admin), files: [{ path: 'x', content: new Blob(['x']) }] }), (e) => e.statusCode === 403);
  await assert.rejects(uploadFiles({ hubUrl, repo, accessToken: hf(own.reader), files: [{ path: 'x', content: new Blob(['x']) }] }), (e) => e.statusCode === 403);
});

test('a model pushed with cairn push downloads through /hf like hf_hub_download does', async () => {
  const name = uniq('pushed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-push-'));
  try {
    const body = prngBytes('hf-push', 200_000);
    fs.writeFileSync(path.join(dir, 'weights.bin'), body);
    const r = await cairnCli(['push', `${own.slug}/${name}@2.0.0`, path.join(dir, 'weights.bin'), '--publish'], { CAIRN_SERVER: srv.url, CAIRN_TOKEN: own.writer });
    assertCleanCli(r);
    assert.equal(r.code, 0, r.stderr);
    // hf_hub_download: HEAD resolve at main, then GET by the commit it named.
    const h = await fetch(`${hubUrl}/${own.slug}/${name}/resolve/main/weights.bin`, { method: 'HEAD', headers: { 'Accept-Encoding': 'identity', authorization: `Bearer ${hf(own.reader)}` } });
    assert.equal(h.status, 200);
    const commit = h.headers.get('x-repo-commit');
    const g = await fetch(`${hubUrl}/${own.slug}/${name}/resolve/${commit}/weights.bin`, { headers: { authorization: `Bearer ${hf(own.reader)}` } });
    const got = Buffer.from(await g.arrayBuffer());
    assert.equal(got.length, Number(h.headers.get('content-length')));
    assert.equal(sha256(got), sha256(body));
    assert.equal(h.headers.get('etag'), `"${sha256(body)}"`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('Python client replay, write side: create_repo twice, preupload with shouldIgnore, validate-yaml, LFS batch (hash_algo sha256), bare PUT, commit NDJSON with an empty inline file', async () => {
  const name = uniq('py');
  const repo = `${own.slug}/${name}`;
  const auth = { authorization: `Bearer ${hf(own.writer)}` };
  for (const want of [200, 409]) {
    const r = await fetch(`${hubUrl}/api/repos/create`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name, organization: own.slug, private: true }) });
    assert.equal(r.status, want);
    assert.equal((await r.json()).url, `${hubUrl}/${repo}`);
  }
  const data = prngBytes('py-upload', 3_000_000);
  const pre = await fetch(`${hubUrl}/api/models/${repo}/preupload/0.1.0`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ files: [{ path: 'm.bin', size: data.length, sample: data.subarray(0, 512).toString('base64') }, { path: 'empty.txt', size: 0, sample: '' }], gitIgnore: null }) });
  assert.equal(pre.status, 200);
  const modes = (await pre.json()).files;
  assert.deepEqual(modes.map((f) => [f.path, f.uploadMode, f.shouldIgnore]), [['m.bin', 'lfs', false], ['empty.txt', 'regular', false]]);
  const y = await fetch(`${hubUrl}/api/validate-yaml`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ content: '---\n---\n', repoType: 'model' }) });
  assert.equal(y.status, 200);
  assert.deepEqual(await y.json(), { errors: [], warnings: [] });
  const batch = await fetch(`${hubUrl}/${repo}.git/info/lfs/objects/batch`, { method: 'POST',
    headers: { ...auth, accept: 'application/vnd.git-lfs+json', 'content-type': 'application/vnd.git-lfs+json' },
    body: JSON.stringify({ operation: 'upload', transfers: ['basic', 'multipart'], hash_algo: 'sha256', ref: { name: '0.1.0' }, objects: [{ oid: sha256(data), size: data.length }] }) });
  assert.equal(batch.status, 200);
  const obj = (await batch.json()).objects[0];
  // A bare PUT, no Authorization: the href authorizes itself.
  const put = await fetch(obj.actions.upload.href, { method: 'PUT', body: data });
  assert.ok(put.ok, `${put.status}`);
  const commit = await fetch(`${hubUrl}/api/models/${repo}/commit/0.1.0`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' },
    body: [{ key: 'header', value: { summary: 'Upload m.bin with huggingface_hub', description: '' } },
      { key: 'lfsFile', value: { path: 'm.bin', algo: 'sha256', oid: sha256(data), size: data.length } },
      { key: 'file', value: { content: '', path: 'empty.txt', encoding: 'base64' } }].map((x) => JSON.stringify(x)).join('\n') });
  assert.equal(commit.status, 200);
  const cj = await commit.json();
  assert.match(cj.commitOid, /^[0-9a-f]{40}$/);
  assert.equal(cj.commitUrl, `${hubUrl}/${repo}/commit/${cj.commitOid}`);
  // hf_hub_download of both, by the commit.
  const h = await fetch(`${hubUrl}/${repo}/resolve/${cj.commitOid}/m.bin`, { method: 'HEAD', headers: { ...auth, 'Accept-Encoding': 'identity' } });
  assert.equal(h.headers.get('content-length'), String(data.length));
  const e = await fetch(`${hubUrl}/${repo}/resolve/0.1.0/empty.txt`, { headers: auth });
  assert.equal(e.status, 200);
  assert.equal((await e.arrayBuffer()).byteLength, 0);
  // Private: nobody else sees it.
  assert.equal((await fetch(`${hubUrl}/api/models/${repo}`)).status, 404);
});
