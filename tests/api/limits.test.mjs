// Limits that protect the server (issue 4): per-token rate limit, minimum client version,
// monthly version quota, retention window for restore.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, mkOrgWithTokens, assertError, uniq } from './harness.mjs';

describe('rate limit (--rate-limit 5)', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--rate-limit', '5'] }); });
  after(async () => { await srv?.stop(); });

  test('a burst over the bucket gets 429 usage_limit_exceeded_error with Retry-After', async () => {
    const o = await mkOrgWithTokens(srv);
    const codes = [];
    let limited;
    for (let i = 0; i < 30; i++) {
      const r = await api(srv, 'GET', '/api/v1/whoami', { token: o.reader });
      codes.push(r.status);
      if (r.status === 429 && !limited) limited = r;
    }
    assert.ok(codes.includes(200), 'the first requests pass');
    assert.ok(limited, `no 429 in ${codes.join(',')}`);
    assertError(limited, 429, 'usage_limit_exceeded_error');
    const ra = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(ra) && ra >= 1, `Retry-After ${ra}`);
    // Another token has its own bucket.
    const other = await api(srv, 'GET', '/api/v1/whoami', { token: o.writer });
    assert.equal(other.status, 200);
    // The bucket refills.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: o.reader })).status, 200);
  });
});

describe('minimum client version (--min-client-version 2.1.0)', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--min-client-version', '2.1.0'] }); });
  after(async () => { await srv?.stop(); });

  test('older X-Client-Version → 426 upgrade_required_error; same or newer or absent passes', async () => {
    const o = await mkOrgWithTokens(srv);
    for (const v of ['2.0.9', '1.0.0', '2.1.0-rc.1', 'garbage']) {
      const r = await api(srv, 'GET', '/api/v1/whoami', { token: o.reader, headers: { 'X-Client-Version': v } });
      assertError(r, 426, 'upgrade_required_error');
    }
    for (const v of ['2.1.0', '2.1.1', '10.0.0']) {
      const r = await api(srv, 'GET', '/api/v1/whoami', { token: o.reader, headers: { 'X-Client-Version': v } });
      assert.equal(r.status, 200, `${v}: ${r.text}`);
    }
    assert.equal((await api(srv, 'GET', '/api/v1/whoami', { token: o.reader })).status, 200);
  });
});

describe('monthly version quota (--quota-versions-monthly 3)', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--quota-versions-monthly', '3'] }); });
  after(async () => { await srv?.stop(); });

  test('the 4th version in a month → 429 with Retry-After; deleting does not give quota back', async () => {
    const o = await mkOrgWithTokens(srv);
    const org = await api(srv, 'GET', `/api/v1/org/${o.slug}`, { token: o.reader });
    assert.equal(org.json.quotas.model_versions_monthly, 3);
    const base = `/api/v1/org/${o.slug}/models/q1/versions`;
    for (const v of ['1.0.0', '1.0.1', '1.0.2']) {
      assert.equal((await api(srv, 'POST', base, { token: o.writer, body: { version: v } })).status, 201);
    }
    assert.equal((await api(srv, 'DELETE', `${base}/1.0.2`, { token: o.admin })).status, 204);
    const r = await api(srv, 'POST', base, { token: o.writer, body: { version: '1.0.3' } });
    assertError(r, 429, 'usage_limit_exceeded_error');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    // Another org has its own quota.
    const p = await mkOrgWithTokens(srv);
    assert.equal((await api(srv, 'POST', `/api/v1/org/${p.slug}/models/q1/versions`, { token: p.writer, body: { version: '1.0.0' } })).status, 201);
  });
});

describe('monthly version quota and duplicate (--quota-versions-monthly 3)', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--quota-versions-monthly', '3'] }); });
  after(async () => { await srv?.stop(); });

  test('duplicate with include_versions counts the copies: over the quota → 429, nothing copied', async () => {
    const o = await mkOrgWithTokens(srv);
    const base = `/api/v1/org/${o.slug}/models/q1`;
    for (const v of ['1.0.0', '1.0.1']) {
      assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: v } })).status, 201);
    }
    const copy = uniq('copy');
    const r = await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: copy, include_versions: true } });
    assertError(r, 429, 'usage_limit_exceeded_error');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assertError(await api(srv, 'GET', `/api/v1/org/${o.slug}/models/${copy}`, { token: o.reader }), 404, 'not_found_error');
    // Without versions the copy costs nothing; the one version left still fits.
    assert.equal((await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: copy } })).status, 201);
    assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: '1.0.2' } })).status, 201);
    assertError(await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: '1.0.3' } }), 429, 'usage_limit_exceeded_error');
  });

  test('duplicate with include_versions within the quota works', async () => {
    const o = await mkOrgWithTokens(srv);
    const base = `/api/v1/org/${o.slug}/models/q2`;
    assert.equal((await api(srv, 'POST', `${base}/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
    const copy = uniq('copy');
    const r = await api(srv, 'POST', `${base}/duplicate`, { token: o.writer, body: { new_name: copy, include_versions: true } });
    assert.equal(r.status, 201, r.text);
    const v = await api(srv, 'GET', `/api/v1/org/${o.slug}/models/${copy}/versions`, { token: o.reader });
    assert.deepEqual(v.json.versions, ['1.0.0']);
  });
});

describe('retention window (--retention 0)', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--retention', '0'] }); });
  after(async () => { await srv?.stop(); });

  test('with a zero-day window a deleted artifact cannot be restored', async () => {
    const o = await mkOrgWithTokens(srv);
    const name = uniq('gone');
    assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name } })).status, 201);
    assert.equal((await api(srv, 'DELETE', `/api/v1/org/${o.slug}/models/${name}`, { token: o.admin })).status, 204);
    await new Promise((r) => setTimeout(r, 10));
    assertError(await api(srv, 'POST', `/api/v1/org/${o.slug}/models/${name}/restore`, { token: o.admin }), 404, 'not_found_error');
  });
});
