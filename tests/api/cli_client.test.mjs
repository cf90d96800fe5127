// The `cairn` command-line client (cli/) against a real cairnd: login and its config file,
// push (single PUT and resumable session) and pull (parallel, resumable, verified), aliases,
// integrity failures, exit codes, --json output and the progress bar.
// Binary: env CAIRN_CLI, default <repo>/build/cairn. Every run gets a temporary HOME.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, mkOrgWithTokens, assertCleanCli, uniq, REPO,
} from './harness.mjs';
import {
  MiB, prngBytes, prngStream, prngSha256, sleep, blobExists, readBlob, writeBlob,
} from './files-lib.mjs';

const CLI = process.env.CAIRN_CLI || path.join(REPO, 'build', 'cairn');

let srv;
let A; // {slug, reader, writer, admin}
let tmp;
let home; // HOME of the logged-in user
const MODEL = uniq('cli');
const SMALL = { name: 'config.json', size: 300_000 };
const BIG = { name: 'weights.bin', size: 70 * MiB + 12_345 }; // > 64 MiB: a resumable session
const SMALL2 = { name: 'config.json' };

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const fileSha = (p) => sha256(fs.readFileSync(p));

/** Runs the CLI with a clean environment (no CAIRN_* from outside). */
function cairn(args, { env = {}, homeDir = home, timeoutMs = 120_000 } = {}) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('CAIRN_')) delete base[k];
  const p = spawn(CLI, args, {
    env: { ...base, HOME: homeDir, XDG_CONFIG_HOME: path.join(homeDir, '.config'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (err) => { clearTimeout(t); resolve({ code: -1, stdout, stderr: stderr + String(err) }); });
    p.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
  });
  done.proc = p;
  return done;
}

function ok(r, what = 'cairn') {
  assertCleanCli(r);
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function json(r) {
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`stdout is not JSON (${e.message}):\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

const freshDir = (name) => fs.mkdtempSync(path.join(tmp, `${name}-`));

async function writeStream(p, seed, total) {
  const fd = fs.openSync(p, 'w');
  try {
    for await (const chunk of prngStream(seed, total)) fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
}

before(async () => {
  srv = await startServer();
  A = await mkOrgWithTokens(srv);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-cli-client-'));
  home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  const src = path.join(tmp, 'src');
  const src2 = path.join(tmp, 'src2');
  fs.mkdirSync(src);
  fs.mkdirSync(src2);
  SMALL.local = path.join(src, SMALL.name);
  fs.writeFileSync(SMALL.local, prngBytes('cli-small', SMALL.size));
  SMALL.sha = fileSha(SMALL.local);
  BIG.local = path.join(src, BIG.name);
  await writeStream(BIG.local, 'cli-big', BIG.size);
  BIG.sha = prngSha256('cli-big', BIG.size);
  SMALL2.local = path.join(src2, SMALL2.name);
  fs.writeFileSync(SMALL2.local, Buffer.from('{"layers": 3}\n'));
  SMALL2.sha = fileSha(SMALL2.local);
});

after(async () => {
  try {
    await srv?.stop();
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('--help documents the commands and every exit code', async () => {
  const r = ok(await cairn(['--help']));
  for (const w of ['login', 'push', 'pull', 'ls', 'search', 'versions', 'publish', 'deprecate', 'manifest', '--json']) {
    assert.ok(r.stdout.includes(w), `help mentions ${w}`);
  }
  assert.match(r.stdout, /exit codes/i);
  for (let c = 0; c <= 6; c++) assert.match(r.stdout, new RegExp(`^\\s+${c}\\s+\\S`, 'm'), `exit code ${c}`);
});

test('usage errors exit 1', async () => {
  for (const args of [[], ['frobnicate'], ['push', `${A.slug}/${MODEL}`, SMALL.local], ['pull'], ['ls', '--publish'], ['pull', 'no-slash']]) {
    const r = await cairn(args, { env: { CAIRN_SERVER: srv.url } });
    assertCleanCli(r);
    assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
  }
});

test('login checks the token, writes the config with mode 0600; later commands use it', async () => {
  const r = ok(await cairn(['login', '--server', srv.url, '--token', A.writer]), 'login');
  assert.match(r.stdout, new RegExp(A.slug));
  const cfg = path.join(home, '.config', 'cairn', 'config');
  const st = fs.statSync(cfg);
  assert.equal(st.mode & 0o777, 0o600, `config mode ${(st.mode & 0o777).toString(8)}`);
  const text = fs.readFileSync(cfg, 'utf8');
  assert.ok(text.includes(srv.url), text);
  assert.ok(text.includes(A.writer));
  const w = json(ok(await cairn(['whoami', '--json'])));
  assert.equal(w.org, A.slug);
  assert.equal(w.role, 'writer');
  // The environment and flags override the config.
  const bad = await cairn(['whoami'], { env: { CAIRN_TOKEN: 'cairn_not_a_real_token' } });
  assert.equal(bad.code, 2, bad.stderr);
  const viaFlag = json(ok(await cairn(['whoami', '--json', '--token', A.reader])));
  assert.equal(viaFlag.role, 'reader');
});

test('login with a bad token exits 2 with the server detail and writes nothing', async () => {
  const h = freshDir('home-bad');
  const expected = await api(srv, 'GET', '/api/v1/whoami', { token: 'cairn_bogus' });
  assert.equal(expected.status, 401);
  const r = await cairn(['login', '--server', srv.url, '--token', 'cairn_bogus'], { homeDir: h });
  assertCleanCli(r);
  assert.equal(r.code, 2, r.stderr);
  assert.ok(r.stderr.includes(expected.json.detail), `stderr ${r.stderr} lacks "${expected.json.detail}"`);
  assert.ok(!fs.existsSync(path.join(h, '.config', 'cairn', 'config')));
});

test('a bad token on any command exits 2 and shows the detail', async () => {
  const expected = await api(srv, 'GET', `/api/v1/org/${A.slug}/models`, { token: 'cairn_wrong' });
  const r = await cairn(['ls', A.slug, '--token', 'cairn_wrong']);
  assertCleanCli(r);
  assert.equal(r.code, 2, r.stderr);
  assert.ok(r.stderr.includes(expected.json.detail), r.stderr);
});

test('a role too low exits 2 (403)', async () => {
  const r = await cairn(['push', `${A.slug}/${uniq('ro')}@1.0.0`, SMALL.local, '--token', A.reader]);
  assertCleanCli(r);
  assert.equal(r.code, 2, r.stderr);
});

test('push: a small file by PUT, a > 64 MiB file by session, then publish; --json summary', async () => {
  const r = ok(await cairn(['push', `${A.slug}/${MODEL}@1.0.0`, SMALL.local, BIG.local, '--publish', '--json']), 'push');
  const s = json(r);
  assert.equal(s.version, '1.0.0');
  assert.equal(s.published, true);
  assert.equal(s.lifecycle, 'published');
  assert.equal(s.bytes_uploaded, SMALL.size + BIG.size);
  const byPath = Object.fromEntries(s.files.map((f) => [f.path, f]));
  assert.equal(byPath[SMALL.name].method, 'put');
  assert.equal(byPath[BIG.name].method, 'session');
  assert.equal(byPath[SMALL.name].sha256, SMALL.sha);
  assert.equal(byPath[BIG.name].sha256, BIG.sha);
  for (const f of s.files) assert.equal(f.status, 'uploaded');
  const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/${MODEL}/versions/1.0.0`, { token: A.reader });
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.lifecycle, 'published');
  const res = v.json.packages.flatMap((p) => p.resources);
  assert.deepEqual(res.map((x) => [x.path, x.sha256, x.size_bytes]).sort(),
    [[BIG.name, BIG.sha, BIG.size], [SMALL.name, SMALL.sha, SMALL.size]].sort());
});

test('push again is idempotent: same files are skipped', async () => {
  const s = json(ok(await cairn(['push', `${A.slug}/${MODEL}@1.0.0`, SMALL.local, '--publish', '--json'])));
  assert.equal(s.files[0].status, 'skipped');
  assert.equal(s.bytes_uploaded, 0);
});

test('push of a different file under an existing name of a published version exits 4', async () => {
  const r = await cairn(['push', `${A.slug}/${MODEL}@1.0.0`, SMALL2.local]);
  assertCleanCli(r);
  assert.equal(r.code, 4, r.stderr);
});

test('a push killed mid-session resumes from the server offset on the next run', async () => {
  const name = uniq('push-resume');
  const state = path.join(home, '.state-push');
  const env = { CAIRN_SERVER: srv.url, CAIRN_TOKEN: A.writer, XDG_STATE_HOME: state };
  const dir = path.join(state, 'cairn', 'sessions');
  const run = cairn(['push', `${A.slug}/${name}@1.0.0`, BIG.local, '--limit-rate', '16M'], { env });
  const deadline = Date.now() + 30_000;
  let held = 0;
  while (Date.now() < deadline && held < 16 * MiB) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    if (files.length === 1) {
      const url = fs.readFileSync(path.join(dir, files[0]), 'utf8').trim();
      const h = await fetch(url, { headers: { authorization: `Bearer ${A.writer}` } });
      held = Number(h.headers.get('upload-offset') || 0);
      await h.arrayBuffer();
    }
    await sleep(50);
  }
  run.proc.kill('SIGKILL');
  const killed = await run;
  assert.equal(killed.signal, 'SIGKILL', `the push ended before it was killed: ${killed.stderr}`);
  assert.ok(held >= 16 * MiB, `the session held ${held} bytes before the kill`);

  const s = json(ok(await cairn(['push', `${A.slug}/${name}@1.0.0`, BIG.local, '--json'], { env }), 'resumed push'));
  const f = s.files[0];
  assert.equal(f.status, 'uploaded');
  assert.ok(f.resumed_from >= held && f.resumed_from < BIG.size, `resumed from ${f.resumed_from}`);
  const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/${name}/versions/1.0.0`, { token: A.reader });
  const res = v.json.packages.flatMap((p) => p.resources);
  assert.deepEqual(res.map((x) => [x.path, x.sha256, x.size_bytes]), [[BIG.name, BIG.sha, BIG.size]]);
  assert.deepEqual(fs.readdirSync(dir), [], 'the saved session is forgotten once committed');
});

test('pull into an empty dir is byte-exact; --json summary', async () => {
  const dir = freshDir('pull');
  const s = json(ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir, '--json']), 'pull'));
  assert.equal(s.ok, true);
  assert.equal(s.version, '1.0.0');
  assert.equal(s.bytes_downloaded, SMALL.size + BIG.size);
  assert.equal(s.bytes_total, SMALL.size + BIG.size);
  for (const f of s.files) assert.equal(f.status, 'downloaded');
  assert.equal(fileSha(path.join(dir, SMALL.name)), SMALL.sha);
  assert.equal(fileSha(path.join(dir, BIG.name)), BIG.sha);
  assert.deepEqual(fs.readdirSync(dir).sort(), [BIG.name, SMALL.name].sort(), 'no .part files left');
  // Again: everything is already there.
  const again = json(ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir, '--json'])));
  assert.equal(again.bytes_downloaded, 0);
  for (const f of again.files) assert.equal(f.status, 'skipped');
});

test('pull of @latest, of no version, and of an alias', async () => {
  ok(await cairn(['push', `${A.slug}/${MODEL}@1.1.0`, SMALL2.local, '--publish']), 'push 1.1.0');
  const al = await api(srv, 'PUT', `/api/v1/org/${A.slug}/models/${MODEL}/aliases/stable`, { token: A.writer, body: { version: '1.0.0' } });
  assert.ok(al.status === 200 || al.status === 201, al.text);
  for (const ref of ['@latest', '']) {
    const dir = freshDir('latest');
    const s = json(ok(await cairn(['pull', `${A.slug}/${MODEL}${ref}`, '-o', dir, '--json'])));
    assert.equal(s.version, '1.1.0');
    assert.deepEqual(fs.readdirSync(dir), [SMALL2.name]);
    assert.equal(fileSha(path.join(dir, SMALL2.name)), SMALL2.sha);
  }
  const dir = freshDir('alias');
  const s = json(ok(await cairn(['pull', `${A.slug}/${MODEL}@stable`, '-o', dir, '--json'])));
  assert.equal(s.version, '1.0.0');
  assert.equal(fileSha(path.join(dir, SMALL.name)), SMALL.sha);
  assert.equal(fileSha(path.join(dir, BIG.name)), BIG.sha);
});

test('an interrupted pull resumes its .part file and ends byte-exact', async () => {
  const dir = freshDir('resume');
  const part = path.join(dir, `${BIG.name}.part`);
  const run = cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir, '--limit-rate', '16M']);
  const deadline = Date.now() + 30_000;
  let size = 0;
  while (Date.now() < deadline) {
    size = fs.existsSync(part) ? fs.statSync(part).size : 0;
    if (size > 4 * MiB) break;
    await sleep(20);
  }
  run.proc.kill('SIGKILL');
  const killed = await run;
  assert.equal(killed.signal, 'SIGKILL', `the pull ended before it was killed: ${killed.stderr}`);
  const kept = fs.statSync(part).size;
  assert.ok(kept > 4 * MiB && kept < BIG.size, `.part holds ${kept} bytes`);
  assert.ok(!fs.existsSync(path.join(dir, BIG.name)));

  const s = json(ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir, '--json']), 'resumed pull'));
  const big = s.files.find((f) => f.path === BIG.name);
  assert.equal(big.status, 'resumed');
  assert.ok(big.resumed_from >= kept, `resumed from ${big.resumed_from}, the .part had ${kept}`);
  assert.equal(big.bytes_downloaded, BIG.size - big.resumed_from);
  assert.ok(s.bytes_downloaded < SMALL.size + BIG.size, 'fewer bytes than a full pull');
  assert.equal(fileSha(path.join(dir, BIG.name)), BIG.sha);
  assert.equal(fileSha(path.join(dir, SMALL.name)), SMALL.sha);
  assert.ok(!fs.existsSync(part));
});

test('a corrupted complete local file is detected and downloaded again', async () => {
  const dir = freshDir('corrupt');
  ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir]));
  const p = path.join(dir, BIG.name);
  const fd = fs.openSync(p, 'r+');
  fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, 1000);
  fs.closeSync(fd);
  assert.notEqual(fileSha(p), BIG.sha);
  const r = ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir, '--json']));
  const s = json(r);
  assert.equal(s.files.find((f) => f.path === BIG.name).status, 'redownloaded');
  assert.equal(s.files.find((f) => f.path === SMALL.name).status, 'skipped');
  assert.match(r.stderr, /does not match/);
  assert.equal(fileSha(p), BIG.sha);
});

test('a .part that does not hash to the sha256 is deleted and the pull exits 5', async () => {
  const dir = freshDir('badpart');
  const part = path.join(dir, `${BIG.name}.part`);
  fs.writeFileSync(part, prngBytes('not-the-weights', 3 * MiB));
  const r = await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir]);
  assertCleanCli(r);
  assert.equal(r.code, 5, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /sha256 mismatch/);
  assert.ok(!fs.existsSync(part), 'the bad .part is deleted');
  assert.ok(!fs.existsSync(path.join(dir, BIG.name)), 'nothing unverified is moved into place');
  // The next pull starts that file over and succeeds.
  ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir]));
  assert.equal(fileSha(path.join(dir, BIG.name)), BIG.sha);
});

test('bytes corrupted on the server are caught: exit 5, nothing left behind', async () => {
  const name = uniq('rot');
  const local = path.join(tmp, `rot-${name}.bin`);
  fs.writeFileSync(local, prngBytes(`rot-${name}`, 50_000));
  const sha = fileSha(local);
  ok(await cairn(['push', `${A.slug}/${name}@1.0.0`, local]));
  // Rot the stored bytes behind cairn's back (a file, or the object in S3 mode, where pull
  // fetches straight from the store).
  assert.ok(await blobExists(srv.dataDir, sha), `blob ${sha} stored`);
  const rotten = await readBlob(srv.dataDir, sha);
  Buffer.from('ROT!').copy(rotten, 100);
  await writeBlob(srv.dataDir, sha, rotten);
  const dir = freshDir('rot');
  const r = await cairn(['pull', `${A.slug}/${name}@1.0.0`, '-o', dir, '--json']);
  assertCleanCli(r);
  assert.equal(r.code, 5, `exit ${r.code}: ${r.stderr}`);
  assert.equal(json(r).ok, false);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('unknown model or version exits 3 with the detail', async () => {
  const name = uniq('missing');
  const expected = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/${name}/versions`, { token: A.reader });
  assert.equal(expected.status, 404);
  for (const args of [['pull', `${A.slug}/${name}`, '-o', freshDir('nf')], ['versions', `${A.slug}/${name}`], ['pull', `${A.slug}/${MODEL}@9.9.9`, '-o', freshDir('nf')], ['publish', `${A.slug}/${name}@1.0.0`]]) {
    const r = await cairn(args);
    assertCleanCli(r);
    assert.equal(r.code, 3, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
  }
  const r = await cairn(['versions', `${A.slug}/${name}`]);
  assert.ok(r.stderr.includes(expected.json.detail), r.stderr);
});

test('publish and deprecate; an illegal move exits 4', async () => {
  ok(await cairn(['push', `${A.slug}/${MODEL}@1.2.0`, SMALL2.local]));
  const p = json(ok(await cairn(['publish', `${A.slug}/${MODEL}@1.2.0`, '--json'])));
  assert.equal(p.lifecycle, 'published');
  const d = ok(await cairn(['deprecate', `${A.slug}/${MODEL}@1.2.0`]));
  assert.match(d.stdout, /deprecated/);
  const again = await cairn(['publish', `${A.slug}/${MODEL}@1.2.0`]);
  assertCleanCli(again);
  assert.equal(again.code, 4, again.stderr);
});

test('--json output of ls, search, versions and manifest parses', async () => {
  const ls = json(ok(await cairn(['ls', '--json'])));
  assert.ok(ls.items.some((m) => m.canonical_name === `${A.slug}/${MODEL}`), JSON.stringify(ls).slice(0, 500));
  const ls2 = json(ok(await cairn(['ls', A.slug, '--json'])));
  assert.equal(ls2.items.length, ls.items.length);
  const human = ok(await cairn(['ls']));
  assert.ok(human.stdout.includes(`${A.slug}/${MODEL}`));
  const se = json(ok(await cairn(['search', MODEL, '--json'])));
  assert.ok(se.items.some((m) => m.canonical_name === `${A.slug}/${MODEL}`));
  const se2 = json(ok(await cairn(['search', MODEL, '--org', A.slug, '--framework', 'no-such-framework', '--json'])));
  assert.equal(se2.items.length, 0);
  const ve = json(ok(await cairn(['versions', `${A.slug}/${MODEL}`, '--json'])));
  assert.ok(Array.isArray(ve.versions) && ve.versions.length >= 3, JSON.stringify(ve).slice(0, 300));
  const vh = ok(await cairn(['versions', `${A.slug}/${MODEL}`]));
  assert.match(vh.stdout, /1\.1\.0\s+published/);
  const man = json(ok(await cairn(['manifest', '--json'])));
  assert.equal(typeof man.models, 'object');
});

const shq = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

test('progress bar on a terminal (script(1) pty), none without one', async () => {
  const dir = freshDir('tty');
  const args = ['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir, '--limit-rate', '64M'];
  const cmd = [CLI, ...args].map(shq).join(' ');
  const out = await new Promise((resolve) => {
    const base = { ...process.env };
    for (const k of Object.keys(base)) if (k.startsWith('CAIRN_')) delete base[k];
    const p = spawn('script', ['-qec', cmd, '/dev/null'], {
      env: { ...base, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { text += d; });
    p.stderr.on('data', (d) => { text += d; });
    p.on('close', (code) => resolve({ code, text }));
  });
  assert.equal(out.code, 0, out.text);
  assert.match(out.text, /\d+%/, `no percentage in: ${JSON.stringify(out.text.slice(-400))}`);
  assert.match(out.text, /\d[\d.]* [kMG]?B\/s/, `no rate in: ${JSON.stringify(out.text.slice(-400))}`);
  assert.match(out.text, /ETA|done/);
  assert.equal(fileSha(path.join(dir, BIG.name)), BIG.sha);

  const dir2 = freshDir('notty');
  const plain = ok(await cairn(['pull', `${A.slug}/${MODEL}@1.0.0`, '-o', dir2, '--limit-rate', '64M']));
  assert.doesNotMatch(plain.stderr, /%|B\/s/, `progress without a terminal: ${plain.stderr}`);
});

/**
 * A proxy in front of cairnd that breaks uploads: it cuts the connection of the second PATCH
 * after ~2 MiB of its body, and answers the first session commit with 503.
 */
function flakyProxy(target) {
  const t = new URL(target);
  const seen = { patch: 0, commit: 0, cut: 0, failed503: 0 };
  const server = http.createServer((req, res) => {
    const isPatch = req.method === 'PATCH';
    const isCommit = req.method === 'PUT' && req.url.includes('/uploads/') && req.url.includes('sha256=');
    if (isPatch) seen.patch++;
    if (isCommit) seen.commit++;
    if (isCommit && seen.commit === 1) {
      seen.failed503++;
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 503, detail: 'try again', type: 'server_error', errors: null }));
      });
      return;
    }
    const up = http.request({
      host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers,
    }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    if (isPatch && seen.patch === 2) {
      let n = 0;
      req.on('data', (d) => {
        n += d.length;
        if (n > 2 * MiB && !req.destroyed) {
          seen.cut++;
          up.destroy();
          req.socket.destroy();
          return;
        }
        up.write(d);
      });
      req.on('end', () => up.end());
    } else {
      req.pipe(up);
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}`, seen }));
  });
}

test('push retries a cut session chunk and a 503 commit, resuming from the server offset', async () => {
  const px = await flakyProxy(srv.url);
  try {
    const name = uniq('flaky');
    const r = ok(await cairn(['push', `${A.slug}/${name}@1.0.0`, BIG.local, '--json', '--server', px.url]), 'flaky push');
    const s = json(r);
    assert.equal(px.seen.cut, 1, `cut ${JSON.stringify(px.seen)}`);
    assert.equal(px.seen.failed503, 1);
    assert.ok(s.files[0].retries >= 2, `retries ${s.files[0].retries}`);
    assert.equal(s.files[0].sha256, BIG.sha);
    const v = await api(srv, 'GET', `/api/v1/org/${A.slug}/models/${name}/versions/1.0.0`, { token: A.reader });
    const res = v.json.packages.flatMap((p) => p.resources);
    assert.deepEqual(res.map((x) => [x.path, x.sha256, x.size_bytes]), [[BIG.name, BIG.sha, BIG.size]]);
    // 5 chunks of 16 MiB at most, plus the one that was cut: the upload was not restarted from 0.
    assert.ok(px.seen.patch <= 7, `PATCH requests: ${px.seen.patch}`);
  } finally {
    px.server.closeAllConnections?.();
    await new Promise((r) => px.server.close(r));
  }
});
