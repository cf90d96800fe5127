// Garbage collection and fsck of the blob store: `cairnd gc --retention 0` on a stopped
// server's data dir removes unreferenced blobs only; `cairnd fsck` passes on a healthy store and
// fails on a corrupted or missing blob. Also POST /api/v1/admin/gc.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, mkOrgWithTokens, assertError, runCli, assertCleanCli, rnd, backendFor, dropBackend, S3_MODE,
} from './harness.mjs';
import {
  sha256, prngBytes, verBase, artBase, mkArtifact, mkVersion, putFile, putFileOk, publish, fetchBuf, blobExists,
  listBlobs, safetensors, readBlob, writeBlob, removeBlob, pendingUploads,
} from './files-lib.mjs';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-gc-'));
const adminToken = `adm_${rnd(16)}`;
const cli = async (cmd, ...extra) => {
  const be = await backendFor(dataDir); // the same database and blob store the server uses
  return runCli([cmd, '--db', be.db, '--blobs', be.blobs, ...extra], be.env);
};

let srv = null;
let A;
let M; // model name
let M2;
const K = prngBytes(`keep-${rnd()}`, 40_000); // in 1.0.0 (published)
const S = prngBytes(`shared-${rnd()}`, 30_000); // in 1.0.0 and 2.0.0
const D = prngBytes(`drop-${rnd()}`, 20_000); // only in 2.0.0 (deleted)
const G = prngBytes(`gone-${rnd()}`, 10_000); // only in M2 (artifact deleted)
const O = prngBytes(`orphan-${rnd()}`, 5_000); // presigned PUT, never confirmed

const start = () => startServer({ dataDir, keepDataDir: true, adminToken });

before(async () => {
  srv = await start();
  A = await mkOrgWithTokens(srv);
  ({ name: M } = await mkArtifact(srv, A, 'models'));
  await mkVersion(srv, A, 'models', M, '1.0.0');
  await putFileOk(srv, A, 'models', M, '1.0.0', 'keep.bin', K);
  await putFileOk(srv, A, 'models', M, '1.0.0', 'shared.bin', S);
  await publish(srv, A, 'models', M, '1.0.0');
  await mkVersion(srv, A, 'models', M, '2.0.0');
  await putFileOk(srv, A, 'models', M, '2.0.0', 'drop.bin', D);
  await putFileOk(srv, A, 'models', M, '2.0.0', 'shared-again.bin', S);
  ({ name: M2 } = await mkArtifact(srv, A, 'models'));
  await mkVersion(srv, A, 'models', M2, '1.0.0');
  await putFileOk(srv, A, 'models', M2, '1.0.0', 'gone.bin', G);
  const t = await api(srv, 'POST', `${verBase(A, 'models', M, '2.0.0')}/uploads`, { token: A.writer, body: { path: 'o.bin', size: O.length, sha256: sha256(O) } });
  assert.equal(t.status, 201, t.text);
  const put = await fetchBuf(t.json.upload_url, { method: 'PUT', body: O });
  assert.ok(put.status >= 200 && put.status < 300, put.text);
  // Files: a presigned PUT lands in the blob store at once. S3: it waits under uploads/ for a
  // confirm (swept after hours), and is no blob.
  for (const b of S3_MODE ? [K, S, D, G] : [K, S, D, G, O]) assert.ok(await blobExists(dataDir, sha256(b)), 'blob stored before GC');
  if (S3_MODE) assert.equal((await pendingUploads(dataDir)).length, 1, 'the unconfirmed upload waits');
});

after(async () => {
  try { await srv?.stop(); } finally { fs.rmSync(dataDir, { recursive: true, force: true }); await dropBackend(dataDir); }
});

describe('gc and fsck', () => {
  test('POST /api/v1/admin/gc: org admin 403; server admin 200 with a report, nothing referenced removed', async () => {
    assertError(await api(srv, 'POST', '/api/v1/admin/gc', { token: A.admin }), 403, 'forbidden_error');
    assertError(await api(srv, 'POST', '/api/v1/admin/gc'), 401, 'authentication_error');
    const r = await api(srv, 'POST', '/api/v1/admin/gc', { token: srv.adminToken });
    assert.equal(r.status, 200, r.text);
    for (const k of ['blobs_removed', 'blobs_kept', 'rows_purged']) assert.equal(typeof r.json[k], 'number', `${k} in ${r.text}`);
    // Default retention (7 days): nothing is old enough to go.
    for (const b of S3_MODE ? [K, S, D, G] : [K, S, D, G, O]) assert.ok(await blobExists(dataDir, sha256(b)));
  });

  test('a blob missing on disk: download-urls reports it as skipped (200, not 500); the file GET is 404', async () => {
    const hex = sha256(K);
    const saved = await readBlob(dataDir, hex);
    await removeBlob(dataDir, hex);
    try {
      const r = await api(srv, 'GET', `${verBase(A, 'models', M, '1.0.0')}/download-urls`, { token: A.reader });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.resources.map((x) => x.path), ['shared.bin']);
      assert.ok(JSON.stringify(r.json).includes('keep.bin'), `skipped file reported: ${r.text}`);
      assertError(await api(srv, 'GET', `${verBase(A, 'models', M, '1.0.0')}/files/keep.bin`, { token: A.reader }), 404, 'not_found_error');
    } finally {
      await writeBlob(dataDir, hex, saved);
    }
    const g = await fetchBuf(`${srv.url}${verBase(A, 'models', M, '1.0.0')}/files/keep.bin`, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.ok(g.buf.equals(K));
  });

  test('delete a version and an artifact (soft)', async () => {
    const dv = await api(srv, 'DELETE', verBase(A, 'models', M, '2.0.0'), { token: A.admin });
    assert.equal(dv.status, 204, dv.text);
    const da = await api(srv, 'DELETE', artBase(A, 'models', M2), { token: A.admin });
    assert.equal(da.status, 204, da.text);
    // Blobs stay for the retention window.
    for (const b of [D, G]) assert.ok(await blobExists(dataDir, sha256(b)), 'soft delete keeps the blob');
  });

  test('fsck on the stopped, healthy store → exit 0', async () => {
    await srv.stop();
    srv = null;
    const r = await cli('fsck');
    assertCleanCli(r);
    assert.equal(r.code, 0, `fsck: ${r.code}\n${r.stdout}\n${r.stderr}`);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.mismatched, 0);
    assert.equal(rep.missing, 0);
    assert.ok(rep.blobs_checked >= (S3_MODE ? 4 : 5), r.stdout); // S3: O is no blob yet
  });

  test('gc --retention 0 removes exactly the unreferenced blobs', async () => {
    const beforeSet = new Set(await listBlobs(dataDir));
    const r = await cli('gc', '--retention', '0');
    assertCleanCli(r);
    assert.equal(r.code, 0, `gc: ${r.code}\n${r.stdout}\n${r.stderr}`);
    const rep = JSON.parse(r.stdout);
    assert.ok(rep.blobs_removed >= (S3_MODE ? 2 : 3), r.stdout);
    for (const b of [K, S]) assert.ok(await blobExists(dataDir, sha256(b)), 'referenced blob kept');
    for (const b of [D, G, O]) assert.equal(await blobExists(dataDir, sha256(b)), false, 'unreferenced blob removed');
    // S3: the unconfirmed upload is no blob; it goes with the temporaries, hours later.
    if (S3_MODE) assert.equal((await pendingUploads(dataDir)).length, 1);
    const afterSet = new Set(await listBlobs(dataDir));
    assert.equal(beforeSet.size - afterSet.size, rep.blobs_removed, 'report matches the disk');
    // A second run has nothing left to do.
    const again = await cli('gc', '--retention', '0');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).blobs_removed, 0);
  });

  test('after gc: fsck 0, and a restarted server serves the kept files byte-exact', async () => {
    const f = await cli('fsck');
    assert.equal(f.code, 0, `fsck after gc: ${f.stdout}\n${f.stderr}`);
    srv = await start();
    for (const [p, buf] of [['keep.bin', K], ['shared.bin', S]]) {
      const g = await fetchBuf(`${srv.url}${verBase(A, 'models', M, '1.0.0')}/files/${p}`, { headers: { authorization: `Bearer ${A.reader}` } });
      assert.equal(g.status, 200, p);
      assert.ok(g.buf.equals(buf), p);
    }
    assertError(await api(srv, 'GET', verBase(A, 'models', M, '2.0.0'), { token: A.reader }), 404, 'not_found_error');
    assertError(await api(srv, 'GET', artBase(A, 'models', M2), { token: A.reader }), 404, 'not_found_error');
    // New uploads of previously collected bytes work (the blob comes back).
    await mkVersion(srv, A, 'models', M, '3.0.0');
    await putFileOk(srv, A, 'models', M, '3.0.0', 'drop.bin', D);
    const g = await fetchBuf(`${srv.url}${verBase(A, 'models', M, '3.0.0')}/files/drop.bin`, { headers: { authorization: `Bearer ${A.reader}` } });
    assert.ok(g.buf.equals(D));
    await srv.stop();
    srv = null;
  });

  test('fsck fails on a corrupted blob and names it', async () => {
    const hex = sha256(K);
    const orig = await readBlob(dataDir, hex);
    const bad = Buffer.from(orig);
    bad[1234] ^= 0x01;
    await writeBlob(dataDir, hex, bad);
    const r = await cli('fsck');
    assertCleanCli(r);
    assert.notEqual(r.code, 0, `fsck passed a corrupted store:\n${r.stdout}`);
    assert.ok(r.stdout.includes(hex), `report names the blob:\n${r.stdout}`);
    assert.equal(JSON.parse(r.stdout).mismatched, 1);
    await writeBlob(dataDir, hex, orig);
    assert.equal((await cli('fsck')).code, 0, 'repaired store passes again');
  });

  test('fsck fails on a missing referenced blob', async () => {
    const hex = sha256(S);
    const orig = await readBlob(dataDir, hex);
    await removeBlob(dataDir, hex);
    const r = await cli('fsck');
    assert.notEqual(r.code, 0, `fsck passed with a missing blob:\n${r.stdout}`);
    assert.ok(r.stdout.includes(hex), r.stdout);
    assert.equal(JSON.parse(r.stdout).missing, 1);
    await writeBlob(dataDir, hex, orig);
    assert.equal((await cli('fsck')).code, 0);
  });

  test('a hostile upload leaves nothing fsck or gc complain about', async () => {
    srv = await start();
    await mkVersion(srv, A, 'models', M, '4.0.0');
    const hostile = Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from(`{"x":"${rnd()}"}`)]);
    const r = await putFile(srv, A, 'models', M, '4.0.0', 'h.safetensors', hostile);
    assertError(r, 422, 'validation_error');
    await putFileOk(srv, A, 'models', M, '4.0.0', 'ok.safetensors', safetensors());
    await srv.stop();
    srv = null;
    assert.equal((await cli('fsck')).code, 0);
    await cli('gc', '--retention', '0');
    assert.equal(await blobExists(dataDir, sha256(hostile)), false, 'the rejected bytes are not kept after gc');
    assert.ok(await blobExists(dataDir, sha256(safetensors())));
    assert.equal((await cli('fsck')).code, 0);
  });
});
