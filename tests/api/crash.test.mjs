// Crash safety: cairnd is SIGKILLed five times in the middle of large uploads (raw PUTs, a
// presigned PUT, a resumable session PATCH) while other uploads complete and are acknowledged.
// Afterwards fsck passes, every acknowledged file downloads byte-exact, no killed upload shows
// up in a version, and a resumable session interrupted by the crash can be resumed.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer, api, mkOrgWithTokens, runCli, assertCleanCli, rnd, backendFor, dropBackend, S3_MODE,
} from './harness.mjs';
import {
  MiB, sha256, prngBytes, prngCipher, prngStream, prngSha256, verBase, mkArtifact, mkVersion, putFile, fetchSha, sleep,
} from './files-lib.mjs';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-crash-'));
const adminToken = `adm_${rnd(16)}`;
const start = () => startServer({ dataDir, keepDataDir: true, adminToken });
const ROUNDS = 5;

let srv = null;
let A;
let M;
const acked = []; // {version, path, sha256, size}
const killed = []; // {version, path}
const sessions = []; // {url, seed, total, version, path}

/** A body that sends `first` pseudo-random bytes, then stalls until aborted. */
function stallingBody(seed, first, signal) {
  return (async function* body() {
    const c = prngCipher(seed);
    const zeros = Buffer.alloc(MiB);
    for (let sent = 0; sent < first; sent += MiB) yield c.update(zeros);
    await new Promise((resolve, reject) => {
      if (signal.aborted) reject(new Error('aborted'));
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
  })();
}

/** Bytes currently under DATADIR/blobs/tmp (temporaries and sessions). */
function tmpBytes() {
  const dir = path.join(dataDir, 'blobs', 'tmp');
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    try { n += fs.statSync(path.join(dir, f)).size; } catch { /* raced */ }
  }
  return n;
}

/* Bytes the server has read from each of its client connections (peer → bytes), from the
 * kernel's TCP counters: with S3 an upload in flight sits in the server's part buffer, not in
 * a file, so this is how much of the stalled bodies it took in. */
function socketBytesIn(port) {
  const out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const lines = out.split('\n');
  const m = new Map();
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i].trim().split(/\s+/);
    if (head.length < 4 || !/^\d+$/.test(head[0])) continue;
    const got = /bytes_received:(\d+)/.exec(lines[i + 1]);
    m.set(head[3], (got ? Number(got[1]) : 0) - Number(head[0])); // received minus still queued
    i++;
  }
  return m;
}

/** A mark to measure what the server takes in from now on (see takenInSince). */
const takenInMark = () => (S3_MODE ? socketBytesIn(srv.port) : tmpBytes());

/** Bytes of upload bodies the server took in since mark: in its temporaries on files (earlier
 * kills' leftovers stay until GC), read off its sockets with S3. */
function takenInSince(mark) {
  if (!S3_MODE) return tmpBytes() - mark;
  let n = 0;
  for (const [peer, got] of socketBytesIn(srv.port)) n += got - (mark.get(peer) || 0);
  return n;
}

async function sigkill(s) {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    const exited = new Promise((r) => s.proc.once('exit', r));
    s.proc.kill('SIGKILL');
    await exited;
  }
  try {
    await s.stop();
  } catch (e) {
    // stop() reports the non-zero exit we caused; anything else (sanitizer output) is real.
    assert.match(e.message, /signal SIGKILL/);
    assert.ok(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(e.message), e.message);
  }
}

async function completeUpload(version, p, seed, size) {
  const want = prngSha256(seed, size);
  const r = await putFile(srv, A, 'models', M, version, p, prngStream(seed, size, 256 * 1024), { headers: { 'x-checksum-sha256': want } });
  assert.equal(r.status, 201, `${p}: ${r.status} ${r.text}`);
  assert.equal(r.json.resources[0].sha256, want);
  acked.push({ version, path: p, sha256: want, size });
}

async function download(version, p) {
  return fetchSha(`${srv.url}${verBase(A, 'models', M, version)}/files/${p}`, { headers: { authorization: `Bearer ${A.reader}` } });
}

before(async () => {
  srv = await start();
  A = await mkOrgWithTokens(srv);
  ({ name: M } = await mkArtifact(srv, A, 'models'));
});

after(async () => {
  try { if (srv) await srv.stop(); } finally { fs.rmSync(dataDir, { recursive: true, force: true }); await dropBackend(dataDir); }
});

describe('SIGKILL during uploads', () => {
  for (let round = 0; round < ROUNDS; round++) {
    test(`round ${round + 1}: acknowledged uploads, then a kill in the middle of large ones`, async () => {
      const version = `${round + 1}.0.0`;
      await mkVersion(srv, A, 'models', M, version);
      await completeUpload(version, 'small.bin', `small-${round}`, 1000 + round);
      await completeUpload(version, 'big.bin', `big-${round}`, 3 * MiB + round);

      const mark = takenInMark();
      const ac = new AbortController();
      const inflight = [];
      // Two raw PUTs of "large" files that stall after 8 MiB.
      for (let k = 0; k < 2; k++) {
        const p = `killed-${k}.bin`;
        killed.push({ version, path: p });
        inflight.push(fetch(`${srv.url}${verBase(A, 'models', M, version)}/files/${p}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${A.writer}`, 'content-type': 'application/octet-stream' },
          body: stallingBody(`killed-${round}-${k}`, 8 * MiB, ac.signal),
          duplex: 'half',
          signal: ac.signal,
        }).then((r) => r.status, (e) => e.cause?.code || e.name));
      }
      // A presigned PUT that stalls.
      const pre = prngBytes(`pre-${round}`, 9 * MiB);
      const t = await api(srv, 'POST', `${verBase(A, 'models', M, version)}/uploads`, { token: A.writer, body: { path: 'presigned.bin', size: pre.length, sha256: sha256(pre) } });
      assert.equal(t.status, 201, t.text);
      killed.push({ version, path: 'presigned.bin' });
      // Files: the PUT goes to cairn; S3 mode: straight to the store, past cairn.
      const u = new URL(t.json.upload_url);
      inflight.push(fetch(S3_MODE ? u.href : srv.url + u.pathname + u.search, {
        method: 'PUT', body: (async function* b() { yield pre.subarray(0, 8 * MiB); await new Promise((res, rej) => ac.signal.addEventListener('abort', () => rej(new Error('aborted')))); })(), duplex: 'half', signal: ac.signal,
      }).then((r) => r.status, (e) => e.cause?.code || e.name));
      // A resumable session whose PATCH stalls after 8 MiB of 12 MiB.
      const total = 12 * MiB;
      const s = await api(srv, 'POST', `${verBase(A, 'models', M, version)}/uploads/sessions`, { token: A.writer, body: { path: 'resumed.bin', size: total } });
      assert.equal(s.status, 201, s.text);
      sessions.push({ url: s.json.session_url, seed: `sess-${round}`, total, version, path: 'resumed.bin' });
      inflight.push(fetch(srv.url + s.json.session_url, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${A.writer}`, 'content-range': `bytes 0-${total - 1}/${total}`, 'content-type': 'application/octet-stream' },
        body: stallingBody(`sess-${round}`, 8 * MiB, ac.signal),
        duplex: 'half',
        signal: ac.signal,
      }).then((r) => r.status, (e) => e.cause?.code || e.name));

      // While those hang: another upload completes and is acknowledged.
      await completeUpload(version, 'during.bin', `during-${round}`, 2 * MiB + 17);

      // Let the server take in most of the stalled bodies, then kill it.
      const deadline = Date.now() + 10_000;
      while (takenInSince(mark) < 24 * MiB && Date.now() < deadline) await sleep(20);
      await sleep(50 * round); // vary the moment a little
      const inTmp = takenInSince(mark);
      if (process.env.CRASH_DEBUG) console.log(`round ${round}: ${inTmp} bytes in tmp at the kill`);
      assert.ok(inTmp >= 8 * MiB, `the server had taken in only ${inTmp} bytes of the stalled uploads`);
      await sigkill(srv);
      ac.abort();
      const outcomes = await Promise.all(inflight);
      for (const o of outcomes) assert.notEqual(o, 201, 'a stalled upload cannot have completed');

      srv = await start();
      // Everything acknowledged so far is there, byte-exact.
      for (const f of acked.filter((x) => x.version === version)) {
        const g = await download(f.version, f.path);
        assert.equal(g.status, 200, `${f.version}/${f.path} after restart`);
        assert.equal(g.sha256, f.sha256, `${f.version}/${f.path} bytes`);
      }
      // Nothing killed shows up.
      for (const f of killed.filter((x) => x.version === version)) {
        const g = await api(srv, 'GET', `${verBase(A, 'models', M, f.version)}/files/${f.path}`, { token: A.reader });
        assert.equal(g.status, 404, `killed upload ${f.version}/${f.path} is visible`);
      }
    });
  }

  test('interrupted sessions resume from their committed offset and commit byte-exact', async () => {
    for (const s of sessions) {
      const h = await api(srv, 'GET', s.url, { token: A.writer });
      assert.equal(h.status, 200, h.text);
      const off = h.json.offset;
      if (process.env.CRASH_DEBUG) console.log(`session resumes at ${off}`);
      assert.ok(Number.isInteger(off) && off >= 0 && off <= 8 * MiB, `offset ${off}`);
      assert.equal(h.headers.get('upload-offset'), String(off));
      const all = prngBytes(s.seed, s.total);
      const p = await fetch(srv.url + s.url, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${A.writer}`, 'content-range': `bytes ${off}-${s.total - 1}/${s.total}`, 'content-type': 'application/octet-stream' },
        body: all.subarray(off),
      });
      assert.equal(p.status, 200, await p.text());
      const c = await api(srv, 'PUT', `${s.url}?sha256=${sha256(all)}`, { token: A.writer });
      assert.equal(c.status, 201, `commit after crash (resumed at ${off}): ${c.text}`);
      acked.push({ version: s.version, path: s.path, sha256: sha256(all), size: s.total });
    }
  });

  test('clean stop, fsck exit 0, restart: every acknowledged file byte-exact', async () => {
    await srv.stop();
    srv = null;
    const be = await backendFor(dataDir);
    const f = await runCli(['fsck', '--db', be.db, '--blobs', be.blobs], be.env);
    assertCleanCli(f);
    assert.equal(f.code, 0, `fsck after crashes: ${f.code}\n${f.stdout}\n${f.stderr}`);
    srv = await start();
    assert.ok(acked.length >= ROUNDS * 3 + ROUNDS, `acked ${acked.length}`);
    for (const x of acked) {
      const g = await download(x.version, x.path);
      assert.equal(g.status, 200, `${x.version}/${x.path}`);
      assert.equal(g.size, x.size, `${x.version}/${x.path} size`);
      assert.equal(g.sha256, x.sha256, `${x.version}/${x.path} bytes`);
    }
    for (const x of killed) {
      const g = await api(srv, 'GET', `${verBase(A, 'models', M, x.version)}/files/${x.path}`, { token: A.reader });
      assert.equal(g.status, 404, `${x.version}/${x.path}`);
    }
    // The versions still publish normally.
    const r = await api(srv, 'POST', `${verBase(A, 'models', M, '1.0.0')}/publish`, { token: A.writer });
    assert.equal(r.status, 200, r.text);
  });
});
