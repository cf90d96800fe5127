// The web UI as cairnd serves it: GET / and /ui/..., embedded files (or --web-dir), ETag/304,
// Content-Type, the Content-Security-Policy, index.html for client-side routes, and no
// shadowing of the API. The UI itself is tested in a browser by tests/ui/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, api, rawRequest, runCli, REPO } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

const get = (p, headers = {}) => fetch(srv.url + p, { headers });

test('GET / is the UI page, with a strict CSP, nosniff and a strong ETag; If-None-Match gives 304', async () => {
  const r = await get('/');
  const body = await r.text();
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(body, fs.readFileSync(path.join(REPO, 'web', 'index.html'), 'utf8'), 'the embedded index.html is web/index.html');
  const csp = r.headers.get('content-security-policy') || '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  const etag = r.headers.get('etag');
  assert.match(etag || '', /^"[0-9a-f]{32}"$/);
  const r2 = await get('/', { 'If-None-Match': etag });
  assert.equal(r2.status, 304);
  assert.equal((await r2.text()).length, 0);
  const r3 = await get('/', { 'If-None-Match': '"0000"' });
  assert.equal(r3.status, 200);
  await r3.text();
});

test('assets come with their Content-Type and bytes; a missing one is a JSON 404', async () => {
  for (const [file, type] of [['app.js', 'text/javascript; charset=utf-8'], ['style.css', 'text/css; charset=utf-8'], ['favicon.svg', 'image/svg+xml']]) {
    const r = await get(`/ui/assets/${file}`);
    assert.equal(r.status, 200, file);
    assert.equal(r.headers.get('content-type'), type, file);
    assert.equal(Buffer.from(await r.arrayBuffer()).toString(), fs.readFileSync(path.join(REPO, 'web', file), 'utf8'), file);
    assert.ok(r.headers.get('etag'), file);
  }
  const r = await api(srv, 'GET', '/ui/assets/nope.js');
  assert.equal(r.status, 404);
  assert.equal(r.json.type, 'not_found_error');
  // Sent raw: fetch would resolve the dot segments itself.
  for (const p of ['/ui/assets/../../web/index.html', '/ui/assets/%2e%2e/index.html', '/ui/assets/./app.js']) {
    const raw = await rawRequest(srv, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(raw.text, /^HTTP\/1\.1 404 /, p);
  }
});

test('every client-side route under /ui/ gets index.html; HEAD works', async () => {
  const index = await (await get('/')).text();
  for (const p of ['/ui/models/acme/llama-3.1', '/ui/capabilities/acme/tools', '/ui/tokens', '/ui/new', '/ui/signin?next=%2F']) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8', p);
    assert.equal(await r.text(), index, p);
  }
  const h = await fetch(srv.url + '/ui/assets/app.js', { method: 'HEAD' });
  assert.equal(h.status, 200);
});

test('the UI routes shadow no API route: /api/v1 and ops routes answer as before', async () => {
  let r = await api(srv, 'GET', '/api/v1/no-such-route');
  assert.equal(r.status, 404);
  assert.equal(r.json.type, 'not_found_error');
  r = await api(srv, 'GET', '/healthz');
  assert.equal(r.json.status, 'ok');
  r = await api(srv, 'GET', '/api/v1/catalog/models');
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.json.items));
  r = await api(srv, 'POST', '/');
  assert.equal(r.status, 405);
});

test('--web-dir serves the UI from disk (edits show without a rebuild); files outside it are not served', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-web-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>dev</title>');
  fs.writeFileSync(path.join(dir, 'app.js'), 'export const x = 1;\n');
  fs.writeFileSync(path.join(path.dirname(dir), `secret-${path.basename(dir)}.txt`), 'TOP-SECRET-CONTENT');
  fs.symlinkSync('/etc/hostname', path.join(dir, 'link.txt'));
  const s = await startServer({ args: ['--web-dir', dir] });
  try {
    let r = await fetch(s.url + '/ui/models/a/b');
    assert.equal(await r.text(), '<!doctype html><title>dev</title>');
    const etag = r.headers.get('etag');
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>dev 2</title>');
    r = await fetch(s.url + '/', { headers: { 'If-None-Match': etag } });
    assert.equal(r.status, 200, 'a changed file has a new ETag');
    assert.equal(await r.text(), '<!doctype html><title>dev 2</title>');
    r = await fetch(s.url + '/ui/assets/app.js');
    assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await r.text(), 'export const x = 1;\n');
    for (const p of ['/ui/assets/link.txt', '/ui/assets/style.css']) {
      r = await fetch(s.url + p);
      assert.equal(r.status, 404, p);
      await r.text();
    }
    for (const p of [`/ui/assets/../secret-${path.basename(dir)}.txt`, `/ui/assets/%2e%2e/secret-${path.basename(dir)}.txt`]) {
      const raw = await rawRequest(s, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(raw.text, /^HTTP\/1\.1 404 /, p);
      assert.doesNotMatch(raw.text, /TOP-SECRET-CONTENT/);
    }
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(path.dirname(dir), `secret-${path.basename(dir)}.txt`), { force: true });
  }
});

test('--web-dir that is not a directory stops cairnd at start with a message', async () => {
  const r = await runCli(['serve', '--listen', '127.0.0.1:1', '--web-dir', '/nonexistent/web', '--db', 'sqlite:///nonexistent/x.db']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--web-dir \/nonexistent\/web is not a directory/);
});
