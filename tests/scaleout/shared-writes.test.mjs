// Version creation is a shared catalog write (src/api/versions.c, store_tx_begin_shared): on
// PostgreSQL, creations in different artifacts run side by side, on every instance, under the
// locks of what they change (the artifact, a name about to be created, the org when a quota
// counts) instead of the one catalog-wide lock. Checked here on two instances at once: no
// version lost or doubled, a missing model created once by racing creators, the org's monthly
// quota exact under a burst, and every other instance reading the result at once.
// tests/run.sh runs this on PostgreSQL + S3; it holds on a shared SQLite file too.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, api, mkOrg, mkToken, assertError, uniq, rnd, dropBackend } from '../api/harness.mjs';
import { artBase } from '../api/files-lib.mjs';

const QUOTA = 100; // above what the other tests make in their own org
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-shared-'));
const adminToken = `adm_${rnd(16)}`;
const start = () => startServer({ dataDir, keepDataDir: true, adminToken, args: ['--quota-versions-monthly', String(QUOTA)] });

let A, B;
const orgs = [];

const ok = (r, code = 200) => { assert.equal(r.status, code, `${r.status} ${r.text?.slice(0, 300)}`); return r.json; };
// A fresh org (its own quota) with a writer and a reader token.
const newOrg = async () => {
  const org = await mkOrg(A, uniq('shw'));
  const o = { slug: org.slug, writer: await mkToken(B, org.slug, 'writer'), reader: await mkToken(A, org.slug, 'reader') };
  orgs.push(o);
  return o;
};
const createVersion = (srv, o, name, version) => api(srv, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version } });
const versionsOf = async (srv, o, name) => ok(await api(srv, 'GET', `${artBase(o, 'models', name)}/versions`, { token: o.reader })).versions;

before(async () => {
  A = await start();
  B = await start();
});

after(async () => {
  try {
    await Promise.all([A, B].map((s) => s?.stop().catch(() => {})));
  } finally {
    await dropBackend(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('version creation on two instances at once', () => {
  test('a burst into many models through both: every version 201, each once, read on both at once', async () => {
    const o = await newOrg();
    const names = Array.from({ length: 8 }, () => uniq('many'));
    for (const n of names) ok(await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name: n } }), 201);
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      names.forEach((n, k) => jobs.push(createVersion(k % 2 ? A : B, o, n, `${i}.0.0`), createVersion(k % 2 ? B : A, o, n, `${i}.1.0`)));
    }
    const rs = await Promise.all(jobs);
    for (const r of rs) ok(r, 201);
    for (const srv of [A, B]) {
      for (const n of names) {
        const vs = await versionsOf(srv, o, n);
        assert.equal(vs.length, 10, `${n}: ${JSON.stringify(vs)}`);
        assert.equal(new Set(vs).size, 10);
      }
    }
  });

  test('versions of one missing model sent to both at once: the model is created once and holds both', async () => {
    const o = await newOrg();
    for (let i = 0; i < 8; i++) {
      const name = uniq('auto');
      const rs = await Promise.all([createVersion(A, o, name, '1.0.0'), createVersion(B, o, name, '2.0.0')]);
      for (const r of rs) ok(r, 201);
      assert.equal(rs[0].json.artifact_id, rs[1].json.artifact_id,
        `round ${i}: both versions in one model: ${rs.map((r) => r.text).join(' | ')}`);
      for (const srv of [A, B]) assert.deepEqual((await versionsOf(srv, o, name)).slice().sort(), ['1.0.0', '2.0.0']);
      const list = ok(await api(B, 'GET', `/api/v1/org/${o.slug}/models?search=${name}`, { token: o.reader }));
      assert.equal(list.items.filter((m) => m.name === `${o.slug}/${name}`).length, 1, `round ${i}: one model named ${name}`);
    }
  });

  test(`the org's monthly quota (${QUOTA}) under a burst through both: exactly ${QUOTA} created, the rest 429`, async () => {
    const o = await newOrg();
    for (let k = 0; k < 6; k++) ok(await api(A, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name: `q-${k}` } }), 201);
    const jobs = [];
    for (let i = 0; i < 2 * QUOTA; i++) jobs.push(createVersion(i % 2 ? A : B, o, `q-${i % 6}`, `1.0.${i}`));
    const rs = await Promise.all(jobs);
    const created = rs.filter((r) => r.status === 201).length;
    for (const r of rs.filter((x) => x.status !== 201)) assertError(r, 429, 'usage_limit_exceeded_error');
    assert.equal(created, QUOTA, rs.map((r) => r.status).join(','));
    let stored = 0;
    for (let k = 0; k < 6; k++) {
      stored += (await versionsOf(A, o, `q-${k}`)).length;
    }
    assert.equal(stored, QUOTA, 'the versions stored are the ones answered 201');
    assertError(await createVersion(A, o, 'q-0', '9.9.9'), 429, 'usage_limit_exceeded_error');
  });

  test('the same SemVer of one model sent to both at once, many times: one 201 and one 409 each', async () => {
    const o = await newOrg();
    const name = uniq('same');
    ok(await createVersion(A, o, name, '0.0.1'), 201);
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => [createVersion(A, o, name, `1.${i}.0`), createVersion(B, o, name, `1.${i}.0`)]).flat());
    for (let i = 0; i < 10; i++) {
      const codes = [rs[2 * i].status, rs[2 * i + 1].status].sort();
      assert.deepEqual(codes, [201, 409], `1.${i}.0: ${rs[2 * i].text} | ${rs[2 * i + 1].text}`);
    }
    assert.equal((await versionsOf(B, o, name)).length, 11);
  });
});
