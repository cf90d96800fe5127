import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, api, runCli, assertCleanCli, assertError, uniq, UUID_RE, TOKEN_RE, backendFor,
} from './harness.mjs';

let dir;
let db;
let srv;
const slug = uniq('cli');
let orgId;
const tokens = {};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-cli-'));
  db = (await backendFor(dir)).db; // the database a server on dir will use (SQLite or PostgreSQL)
});
after(async () => {
  try {
    await srv?.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// These tests run in order: the CLI works on a database no server uses, then a server is started on it.

test('admin create-org prints the new org id', async () => {
  const r = await runCli(['admin', 'create-org', slug, '--db', db]);
  assertCleanCli(r);
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  const out = r.stdout.trim();
  assert.equal(out.split('\n').length, 1, `one line: ${JSON.stringify(r.stdout)}`);
  assert.match(out, UUID_RE);
  orgId = out;
});

test('admin create-org with a taken slug fails', async () => {
  const r = await runCli(['admin', 'create-org', slug, '--db', db]);
  assertCleanCli(r);
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stdout, UUID_RE);
});

test('admin create-org with an invalid slug fails', async () => {
  for (const bad of ['Bad_Slug', 'a', '-x']) {
    const r = await runCli(['admin', 'create-org', bad, '--db', db]);
    assertCleanCli(r);
    assert.notEqual(r.code, 0, `slug ${bad} accepted`);
    assert.ok(r.stderr.length > 0, 'an explanation on stderr');
  }
});

for (const role of ['reader', 'writer', 'admin']) {
  test(`admin create-token --role ${role} prints only the token`, async () => {
    const r = await runCli(['admin', 'create-token', '--org', slug, '--role', role, '--name', `ci-${role}`, '--db', db]);
    assertCleanCli(r);
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    const out = r.stdout.trim();
    assert.equal(out.split('\n').length, 1, `one line: ${JSON.stringify(r.stdout)}`);
    assert.match(out, TOKEN_RE);
    tokens[role] = out;
  });
}

test('admin create-token without --name works', async () => {
  const r = await runCli(['admin', 'create-token', '--org', slug, '--role', 'reader', '--db', db]);
  assertCleanCli(r);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim(), TOKEN_RE);
  tokens.unnamed = r.stdout.trim();
});

test('admin create-token --server-admin', async () => {
  const r = await runCli(['admin', 'create-token', '--org', slug, '--role', 'admin', '--server-admin', '--name', 'root', '--db', db]);
  assertCleanCli(r);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim(), TOKEN_RE);
  tokens.server = r.stdout.trim();
});

test('admin create-token for an unknown org or with a bad role fails', async () => {
  const r1 = await runCli(['admin', 'create-token', '--org', uniq('nx'), '--role', 'reader', '--db', db]);
  assertCleanCli(r1);
  assert.notEqual(r1.code, 0);
  assert.doesNotMatch(r1.stdout, /cairn_/);
  const r2 = await runCli(['admin', 'create-token', '--org', slug, '--role', 'owner', '--db', db]);
  assertCleanCli(r2);
  assert.notEqual(r2.code, 0);
  assert.doesNotMatch(r2.stdout, /cairn_/);
  const r3 = await runCli(['admin', 'create-token', '--org', slug, '--db', db]);
  assertCleanCli(r3);
  assert.notEqual(r3.code, 0, 'missing --role');
});

test('unknown admin subcommand fails', async () => {
  const r = await runCli(['admin', 'no-such-thing', '--db', db]);
  assertCleanCli(r);
  assert.notEqual(r.code, 0);
});

test('a server started on that database accepts the CLI tokens', async () => {
  assert.ok(tokens.writer && orgId, 'earlier CLI tests produced a token and an org');
  srv = await startServer({ dataDir: dir, keepDataDir: true });
  for (const role of ['reader', 'writer', 'admin']) {
    const w = await api(srv, 'GET', '/api/v1/whoami', { token: tokens[role] });
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json.org, slug);
    assert.equal(w.json.role, role);
    assert.equal(w.json.server_admin, false);
    assert.match(w.json.token_id, UUID_RE);
  }
  const x = await api(srv, 'GET', '/api/v1/whoami', { apiKey: tokens.unnamed });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.role, 'reader');
});

test('the CLI org is the one the server serves', async () => {
  const g = await api(srv, 'GET', `/api/v1/org/${slug}`, { token: tokens.reader });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.id, orgId);
  assert.equal(g.json.slug, slug);
  assert.equal(g.json.display_name, slug);
});

test('CLI token roles are enforced', async () => {
  const name = uniq('m');
  assertError(await api(srv, 'POST', `/api/v1/org/${slug}/models`, { token: tokens.reader, body: { name } }), 403, 'forbidden_error');
  const c = await api(srv, 'POST', `/api/v1/org/${slug}/models`, { token: tokens.writer, body: { name } });
  assert.equal(c.status, 201, c.text);
  const l = await api(srv, 'GET', `/api/v1/org/${slug}/tokens`, { token: tokens.admin });
  assert.equal(l.status, 200, l.text);
  const names = l.json.items.map((t) => t.name);
  for (const n of ['ci-reader', 'ci-writer', 'ci-admin']) assert.ok(names.includes(n), `${n} in ${names}`);
  assert.ok(!l.text.includes(tokens.writer));
});

test('--server-admin token acts as server admin', async () => {
  const w = await api(srv, 'GET', '/api/v1/whoami', { token: tokens.server });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.server_admin, true);
  assert.equal(w.json.role, 'admin');
  const o = await api(srv, 'GET', '/api/v1/orgs', { token: tokens.server });
  assert.equal(o.status, 200, o.text);
  assert.ok(o.json.items.some((x) => x.slug === slug));
  const other = uniq('o');
  const c = await api(srv, 'POST', '/api/v1/orgs', { token: tokens.server, body: { slug: other } });
  assert.equal(c.status, 201, c.text);
});

test('an org admin neither lists nor revokes a server-admin token attached to its org', async () => {
  const w = await api(srv, 'GET', '/api/v1/whoami', { token: tokens.server });
  const id = w.json.token_id;
  assert.match(id, UUID_RE);
  const l = await api(srv, 'GET', `/api/v1/org/${slug}/tokens?limit=500`, { token: tokens.admin });
  assert.equal(l.status, 200, l.text);
  assert.ok(!l.json.items.some((t) => t.id === id), 'server-admin token listed to an org admin');
  assert.equal(l.json.total, l.json.items.length);
  assertError(await api(srv, 'DELETE', `/api/v1/org/${slug}/tokens/${id}`, { token: tokens.admin }), 404, 'not_found_error');
  const still = await api(srv, 'GET', '/api/v1/whoami', { token: tokens.server });
  assert.equal(still.status, 200, still.text);
  assert.equal(still.json.server_admin, true);
  // A server admin sees it.
  const la = await api(srv, 'GET', `/api/v1/org/${slug}/tokens?limit=500`, { token: srv.adminToken });
  assert.ok(la.json.items.some((t) => t.id === id));
  assert.equal(la.json.total, l.json.total + 1);
});

test('CAIRN_ADMIN_TOKEN still works next to CLI tokens', async () => {
  const w = await api(srv, 'GET', '/api/v1/whoami', { token: srv.adminToken });
  assert.equal(w.status, 200);
  assert.deepEqual(w.json, { org: null, role: 'admin', token_id: null, server_admin: true });
});

test('create-org accepts a plain path for --db', async () => {
  const d2 = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-cli2-'));
  try {
    const s2 = uniq('plain');
    const r = await runCli(['admin', 'create-org', s2, '--db', path.join(d2, 'cairn.db')]);
    assertCleanCli(r);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), UUID_RE);
    const t = await runCli(['admin', 'create-token', '--org', s2, '--role', 'reader', '--db', `sqlite://${path.join(d2, 'cairn.db')}`]);
    assertCleanCli(t);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout.trim(), TOKEN_RE);
  } finally {
    fs.rmSync(d2, { recursive: true, force: true });
  }
});
