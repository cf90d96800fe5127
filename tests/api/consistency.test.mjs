// Read-your-writes across instances (docs/consistency.md): every write that changes the catalog
// answers with X-Cairn-Revision; a read may ask for that revision or a later one with
// X-Cairn-Min-Revision. The two-instance behaviour of --read-consistency notify is in
// tests/scaleout/notify.test.mjs; this is what every deployment sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, api, mkOrgWithTokens, uniq, assertError, CAIRND } from './harness.mjs';

let srv, o;
before(async () => { srv = await startServer(); o = await mkOrgWithTokens(srv); });
after(async () => { await srv?.stop(); });

const base = () => `/api/v1/org/${o.slug}/models`;
const revOf = (r) => {
  const v = r.headers.get('x-cairn-revision');
  assert.match(v || '', /^[1-9][0-9]*$/, `X-Cairn-Revision: ${v} (${r.status} ${r.text?.slice(0, 200)})`);
  return Number(v);
};

test('catalog writes return the revision they made, increasing; reads and failed writes return none', async () => {
  const name = uniq('r');
  const c = await api(srv, 'POST', base(), { token: o.writer, body: { name } });
  assert.equal(c.status, 201, c.text);
  const r1 = revOf(c);
  const p = await api(srv, 'PATCH', `${base()}/${name}`, { token: o.writer, body: { summary: 'second' } });
  assert.equal(p.status, 200, p.text);
  const r2 = revOf(p);
  assert.ok(r2 > r1, `${r2} > ${r1}`);
  const v = await api(srv, 'POST', `${base()}/${name}/versions`, { token: o.writer, body: { version: '1.0.0' } });
  assert.equal(v.status, 201, v.text);
  assert.ok(revOf(v) > r2);
  const g = await api(srv, 'GET', `${base()}/${name}`, { token: o.reader });
  assert.equal(g.status, 200);
  assert.equal(g.headers.get('x-cairn-revision'), null, 'a read commits nothing');
  const dup = await api(srv, 'POST', base(), { token: o.writer, body: { name } });
  assertError(dup, 409);
  assert.equal(dup.headers.get('x-cairn-revision'), null, 'a refused write commits nothing');
});

test('X-Cairn-Min-Revision: the write\'s revision reads the write; junk is a 400', async () => {
  const name = uniq('m');
  const c = await api(srv, 'POST', base(), { token: o.writer, body: { name } });
  assert.equal(c.status, 201);
  const rev = revOf(c);
  const l = await api(srv, 'GET', `${base()}?limit=500`, { token: o.reader, headers: { 'x-cairn-min-revision': String(rev) } });
  assert.equal(l.status, 200, l.text);
  assert.ok(l.json.items.some((i) => i.name === `${o.slug}/${name}`));
  // A revision not reached yet (a client's typo): the newest answer, not a wait or an error.
  const ahead = await api(srv, 'GET', `${base()}/facets`, { token: o.reader, headers: { 'x-cairn-min-revision': String(rev + 1000000) } });
  assert.equal(ahead.status, 200, ahead.text);
  for (const bad of ['abc', '-1', '1.5', '12a', '9999999999999999999999']) {
    const r = await api(srv, 'GET', `${base()}/facets`, { token: o.reader, headers: { 'x-cairn-min-revision': bad } });
    const e = assertError(r, 400);
    assert.match(e.detail, /X-Cairn-Min-Revision/, bad);
  }
});

test('--read-consistency: a bad value, and notify without PostgreSQL, refuse to start', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-rc-'));
  try {
    const run = (...args) => spawnSync(CAIRND, ['serve', '--listen', '127.0.0.1:1', '--db', `sqlite://${dir}/c.db`, '--blobs', `file://${dir}/b`, ...args], { encoding: 'utf8', timeout: 10000 });
    const bogus = run('--read-consistency', 'eventual');
    assert.equal(bogus.status, 2, bogus.stderr);
    assert.match(bogus.stderr, /--read-consistency must be strict or notify/);
    const lite = run('--read-consistency', 'notify');
    assert.equal(lite.status, 2, lite.stderr);
    assert.match(lite.stderr, /notify needs a PostgreSQL/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
