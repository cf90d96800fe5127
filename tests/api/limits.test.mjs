// Limits that protect the server (issue 4): per-token rate limit, minimum client version,
// monthly version quota, retention window for restore.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { startServer, api, mkOrgWithTokens, assertError, uniq, rawRequest } from './harness.mjs';
import { rss, mkArtifact, mkVersion, putFileOk, publish, verBase, artBase } from './files-lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A client on `from` that sends a request line, then one header line every 200 ms, never
 * ending its headers. Resolves once connected (or refused) with {closed, closedAt, data, stop()}.
 */
function dripper(srv, from) {
  return new Promise((resolve) => {
    const d = { closed: false, closedAt: 0, openedAt: Date.now(), data: '' };
    const sock = net.connect({ port: srv.port, host: '127.0.0.1', localAddress: from });
    let timer = null;
    const done = () => {
      if (d.closed) return;
      d.closed = true;
      d.closedAt = Date.now();
      clearInterval(timer);
      resolve(d);
    };
    d.stop = () => { clearInterval(timer); sock.destroy(); };
    sock.on('data', (b) => { d.data += b.toString('latin1'); });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('end', () => { done(); sock.destroy(); });
    sock.on('connect', () => {
      sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      let i = 0;
      timer = setInterval(() => { if (!sock.destroyed) sock.write(`X-Drip-${i++}: y\r\n`); }, 200);
      resolve(d);
    });
  });
}

/**
 * Holds the catalog's write lock from outside the server (sqlite3 or psql on its database) until
 * release() is called: writes of the server wait for it. Resolves once the lock is held.
 */
function holdWriteLock(srv) {
  const pg = /^postgres:\/\//.test(srv.dbUrl);
  let cmd;
  let args;
  let lockSql;
  if (pg) {
    const u = new URL(srv.dbUrl);
    cmd = 'psql';
    args = ['-qtA', '-h', u.hostname, '-p', u.port, '-U', u.username || 'postgres', '-d', u.pathname.slice(1)];
    lockSql = "BEGIN; LOCK TABLE versions IN EXCLUSIVE MODE; SELECT 'locked';\n";
  } else {
    cmd = 'sqlite3';
    args = [srv.dbUrl.replace(/^sqlite:\/\//, '')];
    lockSql = "BEGIN IMMEDIATE; SELECT 'locked';\n";
  }
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((r) => p.on('exit', r));
  let out = '';
  let errText = '';
  p.stderr.on('data', (d) => { errText += d; });
  return new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => {
      out += d;
      if (out.includes('locked')) resolve({ release: async () => { p.stdin.end('COMMIT;\n'); await exited; } });
    });
    exited.then((code) => reject(new Error(`${cmd} exited (${code}) before taking the lock: ${errText}`)));
    p.stdin.write(lockSql);
  });
}

/** GET path from a given local address; resolves {status, body}. */
function getFrom(srv, from, path) {
  return new Promise((resolve, reject) => {
    const rq = http.get({ host: '127.0.0.1', port: srv.port, path, localAddress: from, agent: false }, (res) => {
      let body = '';
      res.on('data', (b) => { body += b; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    rq.setTimeout(3000, () => rq.destroy(new Error('timeout')));
    rq.on('error', reject);
  });
}

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

describe('one client cannot exhaust the server (--max-connections-per-ip 8 --header-timeout 2)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-connections-per-ip', '8', '--header-timeout', '2'] });
  });
  after(async () => { await srv?.stop(); });

  test('an address dripping headers holds at most 8 sockets, others are served, the drippers are cut at the deadline', async () => {
    // 127.0.0.3 is this test's own address (the harness keeps connections from 127.0.0.1).
    const drips = await Promise.all(Array.from({ length: 8 }, () => dripper(srv, '127.0.0.3')));
    await sleep(400);
    assert.ok(drips.every((d) => !d.closed), 'the first 8 connections are accepted');
    // Past the cap, the same address is refused at once (closed without an answer).
    const extra = await Promise.all(Array.from({ length: 4 }, () => dripper(srv, '127.0.0.3')));
    await until(() => extra.every((d) => d.closed), 1500, 'the extra connections to be refused');
    for (const d of extra) assert.equal(d.data, '', 'a refused connection gets no HTTP answer');
    // Another address is served meanwhile.
    const other = await getFrom(srv, '127.0.0.2', '/healthz');
    assert.equal(other.status, 200, other.body);
    // The drippers keep sending, yet the header deadline closes them (inactivity never would).
    await until(() => drips.every((d) => d.closed), 5000, 'the header deadline to close the drippers');
    for (const d of drips) {
      const held = d.closedAt - d.openedAt;
      assert.ok(held >= 1500 && held <= 4500, `a dripper was held ${held} ms with a 2 s deadline`);
    }
    // The slots are free again for that address, once the server has reaped the closed
    // connections (libmicrohttpd releases an address's count in its cleanup pass, which can
    // run just after the client saw the close: a connection in that gap is still refused).
    await until(async () => (await getFrom(srv, '127.0.0.3', '/healthz').catch(() => null))?.status === 200,
      2000, 'the address to be served again');
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    const cut = Number(/^cairn_http_header_timeouts_total (\d+)$/m.exec(m)?.[1]);
    assert.ok(cut >= 8, `header timeouts counted: ${cut}`);
    for (const d of [...drips, ...extra]) d.stop();
  });

  test('the deadline is for headers only: a body sent slowly for longer is not cut', async () => {
    const o = await mkOrgWithTokens(srv);
    const base = `/api/v1/org/${o.slug}/models/slow/versions/1.0.0`;
    assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models/slow/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
    async function* slow() {
      for (let i = 0; i < 12; i++) {
        yield Buffer.alloc(1000, i);
        await sleep(300);
      }
    }
    const t0 = Date.now();
    const r = await fetch(`${srv.url}${base}/files/slow.bin`, {
      method: 'PUT', body: slow(), duplex: 'half',
      headers: { authorization: `Bearer ${o.writer}`, 'content-type': 'application/octet-stream' },
    });
    const text = await r.text();
    assert.ok(Date.now() - t0 > 3000, 'the upload took longer than the header deadline');
    assert.equal(r.status, 201, text);
    assert.equal(JSON.parse(text).size_bytes, 12000);
  });

  test('a keep-alive connection that answered a request may not then drip the next one', async () => {
    const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
    let data = '';
    let closedAt = 0;
    sock.on('data', (b) => { data += b.toString('latin1'); });
    const closed = new Promise((r) => sock.on('close', () => { closedAt = Date.now(); r(); }));
    sock.on('error', () => {});
    await new Promise((r) => sock.on('connect', r));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => data.includes('{"status":"ok"}'), 2000, 'the first answer');
    const t0 = Date.now();
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const t = setInterval(() => { if (!sock.destroyed) sock.write('X-Drip: y\r\n'); }, 200);
    await Promise.race([closed, sleep(6000)]);
    clearInterval(t);
    assert.ok(closedAt, 'the second, dripped request was cut');
    assert.ok(closedAt - t0 <= 4500, `held ${closedAt - t0} ms`);
    sock.destroy();
  });

  test('a request sent in time is answered even when the server was busy past the deadline (a download count waiting for the database)', async () => {
    // The count of a full GET is written once its answer went out, on the thread that serves the
    // connection; while that write waits for the database, the next request on the kept-alive
    // connection sits unread. It was sent in time: the deadline must not cut it.
    const o = await mkOrgWithTokens(srv);
    const { name } = await mkArtifact(srv, o, 'models');
    await mkVersion(srv, o, 'models', name, '1.0.0');
    const body = Buffer.alloc(1000, 7);
    await putFileOk(srv, o, 'models', name, '1.0.0', 'w.bin', body);
    await publish(srv, o, 'models', name, '1.0.0');
    // The reader token's first use is a write (last_used_at): make it now, not under the lock.
    assert.equal((await api(srv, 'GET', artBase(o, 'models', name), { token: o.reader })).status, 200);
    const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
    let data = Buffer.alloc(0);
    let closedAt = 0;
    sock.on('data', (b) => { data = Buffer.concat([data, b]); });
    const closed = new Promise((r) => sock.on('close', () => { closedAt = Date.now(); r(); }));
    sock.on('error', () => {});
    await new Promise((r) => sock.on('connect', r));
    const lock = await holdWriteLock(srv);
    let released = false;
    try {
      sock.write(`GET ${verBase(o, 'models', name, '1.0.0')}/files/w.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${o.reader}\r\n\r\n`);
      const whole = () => { const h = data.indexOf('\r\n\r\n'); return h >= 0 && data.length >= h + 4 + body.length; };
      await until(whole, 5000, 'the full GET\'s answer');
      assert.match(data.toString('latin1'), /^HTTP\/1\.1 200 /);
      const first = data.length;
      const t0 = Date.now();
      sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      // The count now waits for the lock; keep it waiting well past the 2 s deadline.
      await Promise.race([closed, sleep(3500)]);
      assert.equal(closedAt, 0, `the connection was cut ${closedAt - t0} ms after its request was sent, unanswered`);
      await lock.release();
      released = true;
      await until(() => data.subarray(first).includes('{"status":"ok"}') || closedAt, 5000, 'the second answer');
      assert.match(data.subarray(first).toString('latin1'), /^HTTP\/1\.1 200 /, 'the request sent in time is answered');
    } finally {
      if (!released) await lock.release();
      sock.destroy();
    }
    // and the count was not lost
    await until(async () => (await api(srv, 'GET', verBase(o, 'models', name, '1.0.0'), { token: o.reader })).json.download_count === 1,
      5000, 'the download to be counted');
  });
});

describe('bodies on routes that take none (defaults)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('a body sent to a GET is refused (400) and never buffered', async () => {
    const small = await rawRequest(srv, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789');
    assert.match(small.text, /^HTTP\/1\.1 400 /, small.text.slice(0, 200));
    assert.match(small.text, /"type":"invalid_error"/);
    assert.match(small.text, /takes no request body/);
    const chunked = await rawRequest(srv, 'GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.match(chunked.text, /^HTTP\/1\.1 400 /, chunked.text.slice(0, 200));
    // A declared body too large to drain is answered at once, without waiting for it.
    const t0 = Date.now();
    const big = await rawRequest(srv, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\nxx', { timeoutMs: 3000 });
    assert.match(big.text, /^HTTP\/1\.1 400 /, `${big.error} ${big.text.slice(0, 200)}`);
    assert.ok(Date.now() - t0 < 2500);
    // 10 connections each holding 1 MiB - 1 of a GET body: the server's memory does not grow by it
    // (it grew by about 11 MiB when such bodies were buffered up to --max-body).
    const base = rss(srv.proc.pid);
    const socks = await Promise.all(Array.from({ length: 10 }, () => new Promise((resolve) => {
      const sk = net.connect({ port: srv.port, host: '127.0.0.1' }, () => {
        sk.write('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n');
        sk.write(Buffer.alloc(1048575, 0x61), () => resolve(sk));
      });
      sk.on('error', () => {});
    })));
    await sleep(500);
    const grown = rss(srv.proc.pid) - base;
    for (const sk of socks) sk.destroy();
    assert.ok(grown < 5 * 1048576, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB for 10 MiB of GET bodies`);
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
