// --read-consistency notify (docs/consistency.md): two cairnd instances on one PostgreSQL, each
// learning the catalog revision and credential changes from LISTEN/NOTIFY instead of a read per
// request. The weaker promise, checked here: a client that sends back the X-Cairn-Revision its
// write returned (as X-Cairn-Min-Revision) reads that write on any instance at once; everybody
// else sees it once the notification arrives (within a second here); a revoked token stops
// working everywhere just as fast; a lost listener connection falls back to per-request reads
// and comes back by itself. tests/run.sh runs this on PostgreSQL + S3.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, api, mkOrg, mkToken, uniq, rnd, dropBackend } from '../api/harness.mjs';
import { artBase, verBase, sleep } from '../api/files-lib.mjs';

const PG = Boolean(process.env.CAIRN_TEST_PG);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-notify-'));
const adminToken = `adm_${rnd(16)}`;
const start = () => startServer({ dataDir, keepDataDir: true, adminToken, args: ['--read-consistency', 'notify'] });

let A, B;
let o;

const ok = (r, code = 200) => { assert.equal(r.status, code, `${r.status} ${r.text?.slice(0, 300)}`); return r.json; };
const revOf = (r) => {
  const v = r.headers.get('x-cairn-revision');
  assert.match(v || '', /^[1-9][0-9]*$/, `X-Cairn-Revision on a write: ${v}`);
  return Number(v);
};
const metric = async (srv, name) => {
  const r = await api(srv, 'GET', '/metrics');
  const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} present`);
  return Number(line.split(' ')[1]);
};
// Polls fn until it returns true; returns the ms it took, or fails after limitMs.
const within = async (limitMs, what, fn) => {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    assert.ok(Date.now() - t0 < limitMs, `${what}: not within ${limitMs} ms`);
    await sleep(10);
  }
};
const listNames = async (srv, extra = {}) => ok(await api(srv, 'GET', `/api/v1/org/${o.slug}/models`, { token: o.reader, ...extra })).items.map((m) => m.name);

describe('notify mode on two instances', { skip: !PG && 'needs CAIRN_TEST_PG' }, () => {
  before(async () => {
    A = await start();
    B = await start();
    const org = await mkOrg(A, uniq('ntf'));
    o = { slug: org.slug };
    o.writer = await mkToken(A, org.slug, 'writer');
    o.reader = await mkToken(A, org.slug, 'reader');
  });

  after(async () => {
    try {
      await Promise.all([A, B].map((s) => s?.stop().catch(() => {})));
    } finally {
      await dropBackend(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a write returns its revision; sent back to the other instance, the read shows the write at once', async () => {
    let last = 0;
    for (let i = 0; i < 15; i++) {
      await listNames(B); // B's cache warm for the page the write changes
      const name = uniq('n');
      const fw = `fw${rnd(3)}`;
      const r = await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, framework: fw } });
      ok(r, 201);
      const rev = revOf(r);
      assert.ok(rev > last, `revisions increase: ${rev} after ${last}`);
      last = rev;
      const names = await listNames(B, { headers: { 'x-cairn-min-revision': String(rev) } });
      assert.ok(names.includes(`${o.slug}/${name}`), `round ${i}: B shows A's write when asked for revision ${rev}`);
      const facets = ok(await api(B, 'GET', `/api/v1/org/${o.slug}/models/facets`, { token: o.reader, headers: { 'x-cairn-min-revision': String(rev) } }));
      assert.ok(facets.frameworks.includes(fw), `round ${i}: B's facets count ${fw}`);
    }
  });

  test('without the revision, the other instance shows the write once notified (under a second), with no revision read per request', async () => {
    const before = await metric(B, 'cairn_catalog_notifications_total');
    let worst = 0;
    for (let i = 0; i < 10; i++) {
      await listNames(B);
      const name = uniq('w');
      ok(await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name } }), 201);
      worst = Math.max(worst, await within(1000, `round ${i}: B's list shows ${name}`, async () => (await listNames(B)).includes(`${o.slug}/${name}`)));
    }
    assert.ok(await metric(B, 'cairn_catalog_notifications_total') >= before + 10, 'B heard of every commit by NOTIFY');
    assert.equal(await metric(B, 'cairn_catalog_listener_up'), 1);
    const lag = await metric(B, 'cairn_catalog_notify_lag_max_seconds');
    assert.ok(lag >= 0 && lag < 1, `notification lag ${lag} s`);
    // Warm reads with a cached token cost no database read of the revision.
    await listNames(B);
    const db0 = Number((await api(B, 'GET', '/metrics')).text.match(/cairn_catalog_revision_reads_total\{source="database"\} (\d+)/)[1]);
    for (let i = 0; i < 20; i++) await listNames(B);
    const m = (await api(B, 'GET', '/metrics')).text;
    assert.equal(Number(m.match(/cairn_catalog_revision_reads_total\{source="database"\} (\d+)/)[1]), db0, 'no revision read from the database');
    assert.ok(Number(m.match(/cairn_catalog_revision_reads_total\{source="pushed"\} (\d+)/)[1]) >= 20);
    assert.ok(worst < 1000, `slowest convergence ${worst} ms`);
  });

  test('a token revoked on one instance stops working on the other within a second, and at once on the first', async () => {
    const tok = await mkToken(A, o.slug, 'reader');
    const id = mkToken.last.id;
    for (const s of [A, B]) ok(await api(s, 'GET', `/api/v1/org/${o.slug}/models`, { token: tok })); // cached on both
    ok(await api(A, 'DELETE', `/api/v1/org/${o.slug}/tokens/${id}`, { token: adminToken }), 204);
    assert.equal((await api(A, 'GET', `/api/v1/org/${o.slug}/models`, { token: tok })).status, 401, 'refused at once where it was revoked');
    await within(1000, 'B refuses the revoked token', async () => (await api(B, 'GET', `/api/v1/org/${o.slug}/models`, { token: tok })).status === 401);
  });

  test('the listener connection killed: reads stay right and it reconnects by itself', async () => {
    const db = new URL(B.dbUrl);
    const psql = (sql) => spawnSync('psql', ['-qtA', '-h', db.hostname, '-p', db.port, '-U', 'postgres', '-d', 'postgres', '-c', sql]);
    const kill = psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'cairn-listen' AND datname = '${db.pathname.slice(1)}'`);
    assert.equal(kill.status, 0, String(kill.stderr));
    assert.equal(Number(String(kill.stdout).trim()), 2, `one listener per instance terminated: ${kill.stdout}`);
    const name = uniq('k');
    ok(await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name } }), 201);
    await within(2000, 'B shows a write made while its listener was away', async () => (await listNames(B)).includes(`${o.slug}/${name}`));
    await within(5000, 'both listeners back', async () => (await metric(A, 'cairn_catalog_listener_up')) === 1 && (await metric(B, 'cairn_catalog_listener_up')) === 1 &&
      (B.stderr().match(/listen\.up/g) || []).length >= 2);
    const name2 = uniq('k2');
    const r = await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name: name2 } });
    ok(r, 201);
    assert.ok((await listNames(B, { headers: { 'x-cairn-min-revision': String(revOf(r)) } })).includes(`${o.slug}/${name2}`));
    await within(1000, 'B notified again', async () => (await listNames(B)).includes(`${o.slug}/${name2}`));
  });

  test('a revision not heard of yet is read from the database; one heard of is not', async () => {
    const db = new URL(B.dbUrl);
    // Bumped behind the instances' backs: no NOTIFY, so B has not heard of it.
    const bump = spawnSync('psql', ['-qtA', '-h', db.hostname, '-p', db.port, '-U', 'postgres', '-d', db.pathname.slice(1), '-c',
      'UPDATE catalog_revision SET rev = rev + 1 WHERE id = 1 RETURNING rev']);
    assert.equal(bump.status, 0, String(bump.stderr));
    const rev = Number(String(bump.stdout).trim().split('\n')[0]);
    assert.ok(rev > 0, `bumped to ${bump.stdout}`);
    const reads = async () => Number((await api(B, 'GET', '/metrics')).text.match(/cairn_catalog_revision_reads_total\{source="database"\} (\d+)/)[1]);
    const before = await reads();
    await listNames(B, { headers: { 'x-cairn-min-revision': String(rev) } });
    assert.equal(await reads(), before + 1, 'asked for an unheard-of revision: B read it from the database');
    await listNames(B, { headers: { 'x-cairn-min-revision': String(rev) } });
    await listNames(B, { headers: { 'x-cairn-min-revision': String(rev - 1) } });
    assert.equal(await reads(), before + 1, 'once read, the revision is known: no more database reads');
  });

  test('the manifest follows the revision a client asks for', async () => {
    const name = uniq('pub');
    ok(await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, is_public: true } }), 201);
    ok(await api(B, 'GET', '/api/v1/manifest')); // warm
    ok(await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: '1.0.0' } }), 201);
    ok(await api(A, 'PUT', `${verBase(o, 'models', name, '1.0.0')}/files/w.bin`, {
      token: o.writer, rawBody: Buffer.from('weights'), headers: { 'content-type': 'application/octet-stream' },
    }), 201);
    const r = await api(A, 'POST', `${verBase(o, 'models', name, '1.0.0')}/publish`, { token: o.writer });
    ok(r);
    const m = ok(await api(B, 'GET', '/api/v1/manifest', { headers: { 'x-cairn-min-revision': String(revOf(r)) } }));
    assert.equal(m.models[`${o.slug}/${name}`]?.latest, '1.0.0', 'B\'s manifest lists the version A just published');
  });
});
