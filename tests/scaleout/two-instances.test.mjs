// Scale-out (issue 7): two cairnd instances on one database and one blob store, as behind a
// load balancer. tests/run.sh runs this on PostgreSQL + S3 (CAIRN_TEST_PG, CAIRN_TEST_S3); the
// same scenarios hold on a shared SQLite file and blob directory, where it can be run by hand.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  startServer, api, mkOrg, mkToken, assertError, uniq, rnd, dropBackend,
} from '../api/harness.mjs';
import {
  MiB, sha256, prngBytes, artBase, verBase, fetchBuf, listBlobs, sleep,
} from '../api/files-lib.mjs';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-two-'));
const adminToken = `adm_${rnd(16)}`;
const start = () => startServer({ dataDir, keepDataDir: true, adminToken });

let A, B; // the two instances
let o; // {slug, reader, writer, admin}

before(async () => {
  A = await start();
  B = await start();
  const org = await mkOrg(A, uniq('two'));
  o = { slug: org.slug };
  // Tokens made on one instance authenticate on the other.
  o.writer = await mkToken(B, org.slug, 'writer');
  o.reader = await mkToken(A, org.slug, 'reader');
  o.admin = await mkToken(B, org.slug, 'admin');
});

after(async () => {
  try {
    await Promise.all([A, B].map((s) => s?.stop().catch(() => {})));
  } finally {
    await dropBackend(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// Runs one SQL statement on the instances' database, behind cairn's back.
const sql = (srv, stmt) => {
  const r = srv.dbUrl.startsWith('postgres')
    ? spawnSync('psql', ['-qtA', srv.dbUrl, '-c', stmt], { encoding: 'utf8' })
    : spawnSync('sqlite3', [srv.dbUrl.replace(/^sqlite:\/\//, ''), stmt], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${stmt}: ${r.stderr}`);
  return r.stdout;
};
const ok = (r, code = 200) => { assert.equal(r.status, code, `${r.status} ${r.text?.slice(0, 300)}`); return r.json; };
const createModel = (srv, name, extra = {}) => api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name, ...extra } });
const putBytes = (srv, name, v, p, buf) => api(srv, 'PUT', `${verBase(o, 'models', name, v)}/files/${p}`, {
  token: o.writer, rawBody: buf, headers: { 'content-type': 'application/octet-stream' },
});

describe('a write on one instance is read on the other at once', () => {
  test('artifact, list, search, facets and catalog, with the other side\'s caches warm', async () => {
    for (let i = 0; i < 10; i++) {
      const fw = `fw${rnd(3)}`;
      // Warm B's caches for exactly the pages the write changes.
      const paths = [
        `/api/v1/org/${o.slug}/models`,
        `/api/v1/org/${o.slug}/models/facets`,
        `/api/v1/org/${o.slug}/models?search=scaleout`,
      ];
      for (const p of paths) ok(await api(B, 'GET', p, { token: o.reader }));
      ok(await api(B, 'GET', '/api/v1/catalog/models/facets'));
      const name = uniq('m');
      ok(await createModel(A, name, { framework: fw, summary: 'scaleout probe', is_public: true }), 201);

      ok(await api(B, 'GET', artBase(o, 'models', name), { token: o.reader }));
      const list = ok(await api(B, 'GET', paths[0], { token: o.reader }));
      assert.ok(list.items.some((m) => m.name === `${o.slug}/${name}`), `round ${i}: B's list shows the model A just made`);
      const facets = ok(await api(B, 'GET', paths[1], { token: o.reader }));
      assert.ok(facets.frameworks.includes(fw), `round ${i}: B's facets count ${fw}: ${JSON.stringify(facets.frameworks)}`);
      const search = ok(await api(B, 'GET', paths[2], { token: o.reader }));
      assert.ok(search.items.some((m) => m.name === `${o.slug}/${name}`), `round ${i}: B's search finds it`);
      const pub = ok(await api(B, 'GET', '/api/v1/catalog/models/facets'));
      assert.ok(pub.frameworks.includes(fw), `round ${i}: B's public facets count it`);
    }
  });

  test('publish on A shows in B\'s manifest and resolve at once; deprecate on B shows on A', async () => {
    const name = uniq('man');
    ok(await createModel(A, name, { is_public: true }), 201);
    ok(await api(B, 'GET', '/api/v1/manifest')); // warm B's manifest
    ok(await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: '1.0.0' } }), 201);
    ok(await putBytes(A, name, '1.0.0', 'w.bin', Buffer.from('weights')), 201);
    ok(await api(A, 'POST', `${verBase(o, 'models', name, '1.0.0')}/publish`, { token: o.writer }));
    const m = ok(await api(B, 'GET', '/api/v1/manifest'));
    const e = m.models[`${o.slug}/${name}`];
    assert.ok(e, 'B\'s manifest lists the model A just published');
    assert.equal(e.latest, '1.0.0');
    const r = ok(await api(B, 'GET', `/api/v1/resolve/${o.slug}/${name}`));
    assert.equal(r.version, '1.0.0');

    ok(await api(A, 'GET', '/api/v1/manifest')); // warm A's
    ok(await api(B, 'POST', `${verBase(o, 'models', name, '1.0.0')}/deprecate`, { token: o.writer }));
    const m2 = ok(await api(A, 'GET', '/api/v1/manifest'));
    assert.deepEqual(m2.models[`${o.slug}/${name}`].versions.map((v) => [v.version, v.deprecated]), [['1.0.0', true]]);
  });

  test('an admin refresh on A repairs B\'s facet index too (the refreshed artifacts go into the change feed)', async () => {
    const name = uniq('drift');
    const fw = `fw${rnd(3)}`, fixed = `fw${rnd(3)}`;
    ok(await createModel(A, name, { framework: fw }), 201);
    const facets = () => api(B, 'GET', `/api/v1/org/${o.slug}/models/facets`, { token: o.reader });
    assert.ok(ok(await facets()).frameworks.includes(fw), 'B\'s index counts the model');
    // The artifact row changed behind cairn's back (a manual repair in the database): its
    // facet rows, and every instance's index, still say fw until a refresh.
    sql(A, `UPDATE artifacts SET framework = '${fixed}' WHERE name = '${name}'`);
    const rep = ok(await api(A, 'POST', '/api/v1/admin/refresh', { token: adminToken, body: {} }));
    assert.ok(rep.artifacts >= 1, JSON.stringify(rep));
    const after = ok(await facets()).frameworks;
    assert.ok(after.includes(fixed), `B's facets after A's refresh: ${JSON.stringify(after)}`);
    assert.ok(!after.includes(fw), `B's facets still count the old value: ${JSON.stringify(after)}`);
  });

  test('a presigned download URL issued by one instance works through the other', async () => {
    const name = uniq('url');
    const body = prngBytes(`url-${rnd()}`, 100_000);
    ok(await createModel(A, name), 201);
    ok(await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: '1.0.0' } }), 201);
    ok(await putBytes(B, name, '1.0.0', 'x.bin', body), 201);
    ok(await api(B, 'POST', `${verBase(o, 'models', name, '1.0.0')}/publish`, { token: o.writer }));
    const d = ok(await api(A, 'GET', `${artBase(o, 'models', name)}/download-url`, { token: o.reader }));
    const u = new URL(d.url);
    // A cairn URL is replayed against B (same path, B's address); an S3 URL goes to the store.
    const target = u.port === String(A.port) ? `${B.url}${u.pathname}${u.search}` : d.url;
    const g = await fetchBuf(target);
    assert.equal(g.status, 200, g.text.slice(0, 300));
    assert.equal(sha256(g.buf), sha256(body));
  });
});

describe('races between instances', () => {
  test('the same SemVer created on both at once: exactly one 201 and one 409, every time', async () => {
    const name = uniq('race');
    ok(await createModel(A, name), 201);
    for (let i = 0; i < 15; i++) {
      const v = `1.${i}.0`;
      const rs = await Promise.all([A, B].map((s) => api(s, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: v } })));
      const codes = rs.map((r) => r.status).sort();
      assert.deepEqual(codes, [201, 409], `round ${i}: ${rs.map((r) => r.text).join(' | ')}`);
      assertError(rs.find((r) => r.status === 409), 409, 'already_exists_error');
    }
    for (const s of [A, B]) {
      const list = ok(await api(s, 'GET', `${artBase(o, 'models', name)}/versions`, { token: o.reader }));
      assert.equal(list.versions.length, 15, `one version per SemVer: ${JSON.stringify(list.versions)}`);
      assert.equal(new Set(list.versions).size, 15);
    }
  });

  test('the same artifact name created on both at once: one 201, one 409', async () => {
    for (let i = 0; i < 10; i++) {
      const name = uniq('dup');
      const rs = await Promise.all([A, B].map((s) => createModel(s, name)));
      assert.deepEqual(rs.map((r) => r.status).sort(), [201, 409], rs.map((r) => r.text).join(' | '));
    }
  });

  test('an alias moved on both at once ends on one of the two versions, consistently on both', async () => {
    const name = uniq('alias');
    ok(await createModel(A, name), 201);
    for (const v of ['1.0.0', '2.0.0']) {
      ok(await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: v } }), 201);
      ok(await putBytes(A, name, v, 'a.bin', Buffer.from(v)), 201);
      ok(await api(A, 'POST', `${verBase(o, 'models', name, v)}/publish`, { token: o.writer }));
    }
    for (let i = 0; i < 8; i++) {
      const rs = await Promise.all([[A, '1.0.0'], [B, '2.0.0']].map(([s, v]) => api(s, 'PUT', `${artBase(o, 'models', name)}/aliases/prod`, { token: o.writer, body: { version: v } })));
      for (const r of rs) assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
      const [ra, rb] = await Promise.all([A, B].map((s) => api(s, 'GET', `/api/v1/resolve/${o.slug}/${name}?version=prod`, { token: o.reader })));
      assert.equal(ra.status, 200, ra.text);
      assert.equal(ra.json.version, rb.json.version, 'both instances agree on where the alias points');
      assert.ok(['1.0.0', '2.0.0'].includes(ra.json.version));
    }
  });

  test('the same content uploaded through both at once is stored once, and both reads are exact', async () => {
    const name = uniq('dedup');
    ok(await createModel(A, name), 201);
    for (const v of ['1.0.0', '2.0.0']) ok(await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: v } }), 201);
    const body = prngBytes(`dedup-${rnd()}`, 12 * MiB + 321);
    const hex = sha256(body);
    const [ra, rb] = await Promise.all([putBytes(A, name, '1.0.0', 'w.bin', body), putBytes(B, name, '2.0.0', 'w.bin', body)]);
    assert.equal(ra.status, 201, ra.text);
    assert.equal(rb.status, 201, rb.text);
    assert.equal(ra.json.resources[0].sha256, hex);
    assert.equal(rb.json.resources[0].sha256, hex);
    const copies = (await listBlobs(dataDir)).filter((h) => h === hex);
    assert.equal(copies.length, 1, 'one stored copy of the content');
    for (const [s, v] of [[A, '2.0.0'], [B, '1.0.0']]) {
      const g = await fetchBuf(`${s.url}${verBase(o, 'models', name, v)}/files/w.bin`, { headers: { authorization: `Bearer ${o.reader}` } });
      assert.equal(g.status, 200);
      assert.equal(sha256(g.buf), hex, `read of ${v} through the other instance`);
    }
  });

  test('a resumable upload session continues on the other instance', async () => {
    const name = uniq('sess');
    ok(await createModel(A, name), 201);
    ok(await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: '1.0.0' } }), 201);
    const total = 2 * MiB + 99;
    const body = prngBytes(`sess-${rnd()}`, total);
    const s = ok(await api(A, 'POST', `${verBase(o, 'models', name, '1.0.0')}/uploads/sessions`, { token: o.writer, body: { path: 's.bin', size: total } }), 201);
    const surl = s.session_url.startsWith('http') ? new URL(s.session_url).pathname : s.session_url;
    const patch = (srv, a, b) => fetchBuf(srv.url + surl, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${o.writer}`, 'content-type': 'application/octet-stream', 'content-range': `bytes ${a}-${b - 1}/${total}` },
      body: body.subarray(a, b),
    });
    let r = await patch(A, 0, MiB);
    assert.equal(r.status, 200, r.text);
    const h = await fetch(B.url + surl, { method: 'HEAD', headers: { authorization: `Bearer ${o.writer}` } });
    assert.equal(h.headers.get('upload-offset'), String(MiB), 'B sees the offset A accepted');
    r = await patch(B, MiB, total);
    assert.equal(r.status, 200, r.text);
    const c = await api(A, 'PUT', `${surl}?sha256=${sha256(body)}`, { token: o.writer });
    assert.equal(c.status, 201, c.text);
    const g = await fetchBuf(`${B.url}${verBase(o, 'models', name, '1.0.0')}/files/s.bin`, { headers: { authorization: `Bearer ${o.reader}` } });
    assert.equal(sha256(g.buf), sha256(body));
  });
});

describe('an instance dies', () => {
  test('SIGKILL of one instance mid-traffic loses no acknowledged write; the other serves on', async () => {
    const acked = []; // {name, sha}
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const name = `k${i}-${rnd(3)}`;
        const body = prngBytes(`kill-${name}`, 64 * 1024 + i);
        try {
          const c = await createModel(A, name);
          if (c.status !== 201) continue;
          const v = await api(A, 'POST', `${artBase(o, 'models', name)}/versions`, { token: o.writer, body: { version: '1.0.0' } });
          if (v.status !== 201) { acked.push({ name }); continue; }
          const p = await putBytes(A, name, '1.0.0', 'f.bin', body);
          acked.push({ name, version: true, sha: p.status === 201 ? sha256(body) : null });
        } catch {
          return; // A is gone: whatever was not answered was not acknowledged
        }
      }
    })();
    await sleep(700);
    A.proc.kill('SIGKILL');
    stop = true;
    await writer;
    await A.stop().catch(() => {}); // reaps it; its exit by SIGKILL is expected
    A = null;
    assert.ok(acked.length >= 3, `some writes were acknowledged before the kill (${acked.length})`);
    for (const w of acked) {
      ok(await api(B, 'GET', artBase(o, 'models', w.name), { token: o.reader }));
      if (w.version) ok(await api(B, 'GET', verBase(o, 'models', w.name, '1.0.0'), { token: o.reader }));
      if (w.sha) {
        const g = await fetchBuf(`${B.url}${verBase(o, 'models', w.name, '1.0.0')}/files/f.bin`, { headers: { authorization: `Bearer ${o.reader}` } });
        assert.equal(g.status, 200, `${w.name}: ${g.text.slice(0, 200)}`);
        assert.equal(sha256(g.buf), w.sha, `${w.name} bytes`);
      }
    }
    // B keeps taking writes, and a restarted A sees all of them.
    const after = uniq('after');
    ok(await createModel(B, after), 201);
    A = await start();
    ok(await api(A, 'GET', artBase(o, 'models', after), { token: o.reader }));
    for (const w of acked) ok(await api(A, 'GET', artBase(o, 'models', w.name), { token: o.reader }));
  });
});

describe('the database drops connections', () => {
  // Only meaningful on PostgreSQL (tests/run.sh always runs this suite there).
  test('every cairnd connection terminated by the server: the next requests reconnect and succeed', { skip: !process.env.CAIRN_TEST_PG && 'needs CAIRN_TEST_PG' }, async () => {
    const { spawnSync } = await import('node:child_process');
    const db = new URL(A.dbUrl);
    const name = uniq('rc');
    ok(await createModel(A, name), 201);
    const kill = spawnSync('psql', ['-qtA', '-h', db.hostname, '-p', db.port, '-U', 'postgres', '-d', 'postgres', '-c',
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db.pathname.slice(1)}' AND pid <> pg_backend_pid()`]);
    assert.equal(kill.status, 0, String(kill.stderr));
    assert.ok(Number(String(kill.stdout).trim()) >= 2, `terminated cairnd's connections: ${kill.stdout}`);
    for (const s of [A, B]) {
      ok(await api(s, 'GET', artBase(o, 'models', name), { token: o.reader }));
      ok(await api(s, 'GET', `/api/v1/org/${o.slug}/models/facets`, { token: o.reader }));
      ok(await createModel(s, uniq('after-rc')), 201);
    }
  });
});
