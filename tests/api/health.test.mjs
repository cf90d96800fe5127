import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

test('GET /healthz → 200 {"status":"ok"} without auth', async () => {
  const r = await api(srv, 'GET', '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  assert.ok(r.headers.get('x-request-id'), 'X-Request-Id on /healthz');
});

test('GET /readyz → 200 {"status":"ready"} without auth', async () => {
  const r = await api(srv, 'GET', '/readyz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ready' });
});

test('many sequential and concurrent /healthz calls all answer 200', async () => {
  for (let i = 0; i < 20; i++) {
    const r = await api(srv, 'GET', '/healthz');
    assert.equal(r.status, 200);
  }
  const rs = await Promise.all(Array.from({ length: 40 }, () => api(srv, 'GET', '/healthz')));
  for (const r of rs) assert.equal(r.status, 200);
  const ids = new Set(rs.map((r) => r.headers.get('x-request-id')));
  assert.equal(ids.size, rs.length, 'generated X-Request-Ids are unique');
});

test('server stderr is JSON log lines', async () => {
  await api(srv, 'GET', '/healthz');
  const lines = srv.stderr().split('\n').filter((l) => l.trim().length);
  assert.ok(lines.length > 0, 'server logs something on stderr');
  for (const l of lines) {
    assert.doesNotThrow(() => JSON.parse(l), `stderr line is not JSON: ${l}`);
  }
});
