import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, mkOrg, mkToken, assertError, assertValidation, rawRequest, uniq, rnd,
} from './harness.mjs';

let srv;
let small; // started with --max-body 1024
let org;
before(async () => {
  [srv, small] = await Promise.all([startServer(), startServer({ args: ['--max-body', '1024'] })]);
  org = (await mkOrg(srv)).slug;
});
after(async () => {
  const results = await Promise.allSettled([srv?.stop(), small?.stop()]);
  const bad = results.filter((r) => r.status === 'rejected');
  if (bad.length) throw bad[0].reason;
});

const adm = () => ({ token: srv.adminToken });

describe('malformed bodies', () => {
  for (const raw of ['{"slug": ', '{slug: "x"}', '{"slug":"a",}', "{'slug':'x'}", '{"slug":"x"} trailing']) {
    test(`malformed JSON ${JSON.stringify(raw)} → 400 invalid_error`, async () => {
      const r = await api(srv, 'POST', '/api/v1/orgs', {
        ...adm(), rawBody: raw, headers: { 'content-type': 'application/json' },
      });
      assertError(r, 400, 'invalid_error');
    });
  }

  test('invalid UTF-8 inside a JSON string → 400 invalid_error', async () => {
    const raw = Buffer.concat([Buffer.from('{"slug":"ab'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = await api(srv, 'POST', '/api/v1/orgs', {
      ...adm(), rawBody: raw, headers: { 'content-type': 'application/json' },
    });
    assertError(r, 400, 'invalid_error');
  });

  test('wrong content type → 400 invalid_error', async () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await api(srv, 'POST', '/api/v1/orgs', {
        ...adm(), rawBody: JSON.stringify({ slug: uniq() }), headers: { 'content-type': ct },
      });
      assertError(r, 400, 'invalid_error');
    }
  });

  test('application/json; charset=utf-8 is accepted', async () => {
    const slug = uniq();
    const r = await api(srv, 'POST', '/api/v1/orgs', {
      ...adm(), rawBody: JSON.stringify({ slug }), headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.slug, slug);
  });

  for (const raw of ['[]', '[{"slug":"abc"}]', '"abc"', '42', 'null', 'true']) {
    test(`JSON body ${raw} (not an object) → 422 loc ["body"]`, async () => {
      const r = await api(srv, 'POST', '/api/v1/orgs', {
        ...adm(), rawBody: raw, headers: { 'content-type': 'application/json' },
      });
      assertValidation(r, ['body']);
    });
  }

  test('deeply nested JSON does not crash the server', async () => {
    const raw = `{"slug":"abc","display_name":${'['.repeat(50000)}${']'.repeat(50000)}}`;
    const r = await api(srv, 'POST', '/api/v1/orgs', {
      ...adm(), rawBody: raw, headers: { 'content-type': 'application/json' },
    });
    assert.ok(r.status === 400 || r.status === 422, `got ${r.status}`);
    assertError(r, r.status);
    const h = await api(srv, 'GET', '/healthz');
    assert.equal(h.status, 200);
  });
});

describe('field validation (422)', () => {
  test('unknown field → extra_forbidden at ["body", field]', async () => {
    const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: uniq(), slgu: 'typo' } });
    assertValidation(r, ['body', 'slgu'], 'extra_forbidden');
    const t = await api(srv, 'POST', `/api/v1/org/${org}/tokens`, { ...adm(), body: { name: 'x', role: 'reader', scope: 'all' } });
    assertValidation(t, ['body', 'scope'], 'extra_forbidden');
    const a = await api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name: uniq('m'), licence: 'mit' } });
    assertValidation(a, ['body', 'licence'], 'extra_forbidden');
  });

  test('a long non-ASCII unknown field cut inside a character keeps its 422 item whole', async () => {
    // found by tests/fuzz/fuzz_json: loc (63 bytes) and detail (255) cut a character in two;
    // the item then lost its loc, and a detail so cut freed the errors array it still used
    for (const pad of [62, 245]) {
      const key = 'a'.repeat(pad) + 'é'.repeat(10);
      const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: uniq(), [key]: 1 } });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.json.errors.length, 1);
      assert.equal(r.json.errors[0].loc.length, 2, JSON.stringify(r.json));
      assert.equal(r.json.errors[0].loc[0], 'body');
      assert.ok(key.startsWith(r.json.errors[0].loc[1].replace(/\?$/, '')), r.json.errors[0].loc[1]);
      assert.equal(r.json.errors[0].type, 'extra_forbidden');
      assert.ok(r.json.detail.startsWith('body.aaaa'), r.json.detail);
    }
    assert.equal((await api(srv, 'GET', '/healthz')).status, 200);
  });

  test('unknown field is rejected and nothing is created', async () => {
    const slug = uniq();
    const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug, bogus: 1 } });
    assertValidation(r, ['body', 'bogus'], 'extra_forbidden');
    const g = await api(srv, 'GET', `/api/v1/org/${slug}`, adm());
    assertError(g, 404, 'not_found_error');
  });

  test('missing required field → missing', async () => {
    assertValidation(await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: {} }), ['body', 'slug'], 'missing');
    assertValidation(await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { display_name: 'x' } }), ['body', 'slug'], 'missing');
    assertValidation(await api(srv, 'POST', `/api/v1/org/${org}/tokens`, { ...adm(), body: { name: 'x' } }), ['body', 'role'], 'missing');
    assertValidation(await api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { summary: 'x' } }), ['body', 'name'], 'missing');
    assertValidation(await api(srv, 'POST', `/api/v1/org/${org}/capabilities`, { ...adm(), body: {} }), ['body', 'name'], 'missing');
  });

  test('several problems are all reported', async () => {
    const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: 5, bogus: true } });
    assertValidation(r, ['body', 'slug'], 'string_type');
    assertValidation(r, ['body', 'bogus'], 'extra_forbidden');
  });

  test('wrong types → string_type / int_type / bool_type / list_type / dict_type', async () => {
    assertValidation(await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: 123 } }), ['body', 'slug'], 'string_type');
    assertValidation(await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: null } }), ['body', 'slug']);
    assertValidation(await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: uniq(), display_name: ['x'] } }), ['body', 'display_name'], 'string_type');
    for (const bad of ['3', 1.5, true, [3]]) {
      const r = await api(srv, 'POST', `/api/v1/org/${org}/tokens`, { ...adm(), body: { name: 'x', role: 'reader', expires_in_days: bad } });
      assertValidation(r, ['body', 'expires_in_days'], 'int_type');
    }
    const m = (body) => api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name: uniq('m'), ...body } });
    assertValidation(await m({ is_public: 'yes' }), ['body', 'is_public'], 'bool_type');
    assertValidation(await m({ enabled: 1 }), ['body', 'enabled'], 'bool_type');
    assertValidation(await m({ tags: 'a,b' }), ['body', 'tags'], 'list_type');
    assertValidation(await m({ language: 'en' }), ['body', 'language'], 'list_type');
    assertValidation(await m({ attributes: [] }), ['body', 'attributes'], 'dict_type');
    assertValidation(await m({ attributes: 'x' }), ['body', 'attributes'], 'dict_type');
    assertValidation(await m({ origin: 5 }), ['body', 'origin'], 'dict_type');
    assertValidation(await m({ summary: 5 }), ['body', 'summary'], 'string_type');
    assertValidation(await m({ name: 7 }), ['body', 'name'], 'string_type');
  });

  test('wrong type of a list item → error located inside the list', async () => {
    const r = await api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name: uniq('m'), tags: ['ok', 5] } });
    assertError(r, 422, 'validation_error');
    assert.ok(r.json.errors.some((e) => e.loc[0] === 'body' && e.loc[1] === 'tags'), JSON.stringify(r.json.errors));
  });

  test('over-long strings → string_too_long (limits in bytes)', async () => {
    const ok = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: uniq(), display_name: 'é'.repeat(128) } });
    assert.equal(ok.status, 201, ok.text); // 256 bytes
    const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: uniq(), display_name: 'é'.repeat(129) } });
    assertValidation(r, ['body', 'display_name'], 'string_too_long'); // 258 bytes
    const t = await api(srv, 'POST', `/api/v1/org/${org}/tokens`, { ...adm(), body: { name: 'n'.repeat(257), role: 'reader' } });
    assertValidation(t, ['body', 'name'], 'string_too_long');
    const m = (body) => api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name: uniq('m'), ...body } });
    assertValidation(await m({ pretty_name: 'p'.repeat(257) }), ['body', 'pretty_name'], 'string_too_long');
    assertValidation(await m({ license: 'l'.repeat(257) }), ['body', 'license'], 'string_too_long');
    assertValidation(await m({ summary: 's'.repeat(1025) }), ['body', 'summary'], 'string_too_long');
    const sOk = await m({ summary: 's'.repeat(1024), pretty_name: 'p'.repeat(256) });
    assert.equal(sOk.status, 201, sOk.text);
  });

  test('arrays over 100 items and attributes over 64 KiB → 422', async () => {
    const m = (body) => api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name: uniq('m'), ...body } });
    const tags = Array.from({ length: 101 }, (_, i) => `t${i}`);
    const r = await m({ tags });
    assertError(r, 422, 'validation_error');
    assert.ok(r.json.errors.some((e) => e.loc[0] === 'body' && e.loc[1] === 'tags'), JSON.stringify(r.json.errors));
    const ok = await m({ tags: tags.slice(0, 100) });
    assert.equal(ok.status, 201, ok.text);
    const big = await m({ attributes: { blob: 'x'.repeat(70 * 1024) } });
    assertError(big, 422, 'validation_error');
    assert.ok(big.json.errors.some((e) => e.loc[0] === 'body' && e.loc[1] === 'attributes'), JSON.stringify(big.json.errors));
  });

  test('invalid slugs in a body → 422 at ["body","slug"]', async () => {
    for (const slug of ['a', 'Abc', '-ab', 'ab_c', 'ab.c', 'a b', 'x'.repeat(40), 'café', '']) {
      const r = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug } });
      assertValidation(r, ['body', 'slug']);
    }
    const ok = await api(srv, 'POST', '/api/v1/orgs', { ...adm(), body: { slug: `a${rnd(4)}${'b'.repeat(30)}` } });
    assert.equal(ok.status, 201, ok.text); // 39 chars
  });

  test('invalid artifact names in a body → 422 at ["body","name"]', async () => {
    for (const name of ['-x', '.x', '_x', 'a b', 'a/b', 'x'.repeat(97), 'naïve', '']) {
      const r = await api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name } });
      assertValidation(r, ['body', 'name']);
    }
    const ok = await api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name: `M${rnd(4)}${'x'.repeat(87)}` } });
    assert.equal(ok.status, 201, ok.text); // 96 chars, uppercase allowed
  });

  test('a name with an escaped NUL (valid JSON) → 422 at ["body","name"]', async () => {
    const r = await api(srv, 'POST', `/api/v1/org/${org}/models`, {
      ...adm(), rawBody: '{"name":"a\\u0000b"}', headers: { 'content-type': 'application/json' },
    });
    assertValidation(r, ['body', 'name']);
  });

  test('invalid versions in a body → 422 at ["body","version"]', async () => {
    const name = uniq('m');
    const c = await api(srv, 'POST', `/api/v1/org/${org}/models`, { ...adm(), body: { name } });
    assert.equal(c.status, 201, c.text);
    for (const version of ['1', '1.0', 'v1.0.0', '01.0.0', '1.0.0-', '1.0.0-01', '1.0.0+', '1.0.0-a..b', ' 1.0.0', 'latest', '']) {
      const r = await api(srv, 'POST', `/api/v1/org/${org}/models/${name}/versions`, { ...adm(), body: { version } });
      assertValidation(r, ['body', 'version']);
    }
  });

  test('invalid org slug or artifact name in a path → 404', async () => {
    assertError(await api(srv, 'GET', '/api/v1/org/Not_A_Slug', adm()), 404, 'not_found_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${org}/models/-bad-name-`, adm()), 404, 'not_found_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${org}/models/${'x'.repeat(200)}`, adm()), 404, 'not_found_error');
  });

  for (const limit of ['0', '501', '-1', 'abc', '1.5', '']) {
    test(`bad limit=${limit} → 422 at ["query","limit"]`, async () => {
      assertValidation(await api(srv, 'GET', `/api/v1/orgs?limit=${limit}`, adm()), ['query', 'limit']);
      assertValidation(await api(srv, 'GET', `/api/v1/org/${org}/models?limit=${limit}`, adm()), ['query', 'limit']);
      assertValidation(await api(srv, 'GET', `/api/v1/org/${org}/tokens?limit=${limit}`, adm()), ['query', 'limit']);
    });
  }
  for (const cursor of ['garbage', '%00%01', 'eyJmb28iOiJiYXIifQ']) {
    test(`bad cursor=${cursor} → 422 at ["query","cursor"]`, async () => {
      assertValidation(await api(srv, 'GET', `/api/v1/org/${org}/models?cursor=${cursor}`, adm()), ['query', 'cursor']);
      assertValidation(await api(srv, 'GET', `/api/v1/orgs?cursor=${cursor}`, adm()), ['query', 'cursor']);
    });
  }
  test('limit=1 and limit=500 are accepted', async () => {
    for (const limit of ['1', '500']) {
      const ok = await api(srv, 'GET', `/api/v1/org/${org}/models?limit=${limit}`, adm());
      assert.equal(ok.status, 200, ok.text);
    }
  });
});

describe('routing', () => {
  test('unknown route → 404 not_found_error envelope', async () => {
    for (const p of ['/api/v1/definitely-not-a-route', '/api/v1/org', '/api/v2/whoami', `/api/v1/org/${org}/widgets`]) {
      assertError(await api(srv, 'GET', p, adm()), 404, 'not_found_error');
    }
  });

  test('wrong method → 405 invalid_error with Allow', async () => {
    const cases = [
      ['PUT', '/api/v1/whoami', ['GET']],
      ['DELETE', '/api/v1/orgs', ['GET', 'POST']],
      ['POST', '/healthz', ['GET']],
      ['PUT', `/api/v1/org/${org}/tokens`, ['GET', 'POST']],
      ['POST', `/api/v1/org/${org}`, ['GET']],
    ];
    for (const [m, p, allowed] of cases) {
      const r = await api(srv, m, p, { ...adm(), body: m === 'GET' ? undefined : {} });
      assertError(r, 405, 'invalid_error');
      const allow = (r.headers.get('allow') || '').split(',').map((s) => s.trim().toUpperCase());
      for (const a of allowed) assert.ok(allow.includes(a), `${m} ${p}: Allow "${r.headers.get('allow')}" lacks ${a}`);
      assert.ok(!allow.includes(m), `${m} ${p}: Allow must not list ${m}`);
    }
  });

  test('request without auth on a protected route → 401 authentication_error', async () => {
    assertError(await api(srv, 'GET', '/api/v1/whoami'), 401, 'authentication_error');
    assertError(await api(srv, 'GET', '/api/v1/orgs'), 401, 'authentication_error');
    assertError(await api(srv, 'GET', `/api/v1/org/${org}/models`), 401, 'authentication_error');
  });
});

describe('limits', () => {
  test('body over --max-body → 413 invalid_error', async () => {
    const body = { slug: uniq(), display_name: 'x'.repeat(2000) };
    const r = await api(small, 'POST', '/api/v1/orgs', { token: small.adminToken, body });
    assertError(r, 413, 'invalid_error');
    const g = await api(small, 'GET', `/api/v1/org/${body.slug}`, { token: small.adminToken });
    assertError(g, 404, 'not_found_error');
  });

  test('body under --max-body is accepted', async () => {
    const r = await api(small, 'POST', '/api/v1/orgs', { token: small.adminToken, body: { slug: uniq(), display_name: 'x'.repeat(200) } });
    assert.equal(r.status, 201, r.text);
  });

  test('chunked body over --max-body → 413', async () => {
    const payload = JSON.stringify({ slug: uniq(), display_name: 'y'.repeat(4000) });
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < payload.length; i += 500) c.enqueue(new TextEncoder().encode(payload.slice(i, i + 500)));
        c.close();
      },
    });
    const r = await api(small, 'POST', '/api/v1/orgs', {
      token: small.adminToken, rawBody: stream, headers: { 'content-type': 'application/json' },
    });
    assertError(r, 413, 'invalid_error');
    assert.equal((await api(small, 'GET', '/healthz')).status, 200);
  });

  test('declared Content-Length over --max-body → 413 without reading the body', async () => {
    const head = `POST /api/v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${small.adminToken}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n{"slug":';
    const r = await rawRequest(small, head);
    assert.match(r.text, /^HTTP\/1\.[01] 413 /, `got: ${r.text.slice(0, 200)} (${r.error})`);
    assert.equal((await api(small, 'GET', '/healthz')).status, 200);
  });

  test('64 KiB header → 4xx, then the server still serves /healthz', async () => {
    const req = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(srv, req);
    assert.match(r.text, /^HTTP\/1\.[01] 4\d\d /, `got: ${JSON.stringify(r.text.slice(0, 200))} (${r.error})`);
    const h = await api(srv, 'GET', '/healthz');
    assert.equal(h.status, 200);
  });

  test('1 MiB of headers → 4xx (bounded header buffer), server keeps serving', async () => {
    const lines = Array.from({ length: 128 }, (_, i) => `X-H${i}: ${'b'.repeat(8192)}\r\n`).join('');
    const r = await rawRequest(srv, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Connection: close\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.[01] 4\d\d /, `got: ${JSON.stringify(r.text.slice(0, 200))} (${r.error})`);
    assert.equal((await api(srv, 'GET', '/healthz')).status, 200);
  });

  test('pipelined requests on one connection are all answered, in order', async () => {
    const one = (id) => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: pipe-${id}\r\n\r\n`;
    const req = one(1) + one(2) + `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: pipe-3\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(srv, req);
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200'], r.text.slice(0, 500));
    const ids = [...r.text.matchAll(/x-request-id: (pipe-\d)/gi)].map((m) => m[1]);
    assert.deepEqual(ids, ['pipe-1', 'pipe-2', 'pipe-3']);
  });

  test('Expect: 100-continue uploads (as curl sends them) work', async () => {
    const net = await import('node:net');
    const slug = uniq();
    const body = JSON.stringify({ slug, display_name: 'continued' });
    const text = await new Promise((resolve) => {
      let out = '';
      let sent = false;
      const sock = net.connect(srv.port, '127.0.0.1', () => {
        sock.write(`POST /api/v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${srv.adminToken}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
        setTimeout(() => { if (!sent) { sent = true; sock.write(body); } }, 500);
      });
      sock.on('data', (d) => {
        out += d.toString('latin1');
        if (!sent && /^HTTP\/1\.1 100/.test(out)) { sent = true; sock.write(body); }
      });
      sock.on('close', () => resolve(out));
      sock.on('error', () => resolve(out));
      setTimeout(() => sock.destroy(), 5000);
    });
    const finals = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]).filter((c) => c !== '100');
    assert.deepEqual(finals, ['201'], text.slice(0, 500));
    const g = await api(srv, 'GET', `/api/v1/org/${slug}`, adm());
    assert.equal(g.json.display_name, 'continued');
  });

  test('garbage request line → 400, server keeps serving', async () => {
    const r = await rawRequest(srv, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.[01] 400 /, `got: ${JSON.stringify(r.text.slice(0, 200))} (${r.error})`);
    const r2 = await rawRequest(srv, '\x00\x01\x02\xff\r\n\r\n');
    assert.ok(r2.text === '' || /^HTTP\/1\.[01] 4\d\d /.test(r2.text), `got: ${JSON.stringify(r2.text.slice(0, 200))}`);
    assert.equal((await api(srv, 'GET', '/healthz')).status, 200);
  });

  test('client that disconnects mid-request does not hurt the server', async () => {
    await rawRequest(srv, `POST /api/v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\nAuthorization: Bearer ${srv.adminToken}\r\n\r\n{"sl`, { timeoutMs: 200 });
    assert.equal((await api(srv, 'GET', '/healthz')).status, 200);
  });
});

describe('X-Request-Id', () => {
  test('every response carries an X-Request-Id; a sent one is echoed', async () => {
    const calls = [
      ['GET', '/healthz', {}],
      ['GET', '/api/v1/whoami', adm()],
      ['GET', '/api/v1/whoami', {}], // 401
      ['GET', '/api/v1/nope', adm()], // 404
      ['PUT', '/api/v1/whoami', adm()], // 405
      ['POST', '/api/v1/orgs', { ...adm(), body: { nope: 1 } }], // 422
      ['POST', '/api/v1/orgs', { ...adm(), rawBody: '{', headers: { 'content-type': 'application/json' } }], // 400
    ];
    for (const [m, p, o] of calls) {
      const gen = await api(srv, m, p, o);
      const rid = gen.headers.get('x-request-id');
      assert.ok(rid && rid.length > 0, `${m} ${p} (${gen.status}) lacks X-Request-Id`);
      const mine = `req-${rnd(8)}`;
      const echo = await api(srv, m, p, { ...o, headers: { ...(o.headers || {}), 'x-request-id': mine } });
      assert.equal(echo.headers.get('x-request-id'), mine, `${m} ${p} (${echo.status}) does not echo X-Request-Id`);
    }
  });

  test('generated request ids differ between requests', async () => {
    const a = await api(srv, 'GET', '/healthz');
    const b = await api(srv, 'GET', '/healthz');
    assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
  });

  test('X-Request-Id is present on 413 responses', async () => {
    const r = await api(small, 'POST', '/api/v1/orgs', {
      token: small.adminToken, body: { slug: uniq(), display_name: 'z'.repeat(3000) }, headers: { 'x-request-id': 'big-1' },
    });
    assert.equal(r.status, 413);
    assert.equal(r.headers.get('x-request-id'), 'big-1');
  });
});

test('reader token cannot create an artifact → 403 forbidden_error', async () => {
  const reader = await mkToken(srv, org, 'reader');
  const r = await api(srv, 'POST', `/api/v1/org/${org}/models`, { token: reader, body: { name: uniq('m') } });
  assertError(r, 403, 'forbidden_error');
});
