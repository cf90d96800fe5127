// The access matrix: every route of the table (`cairnd routes`) is called by every kind of
// caller, and each gets the status class the table's declaration promises: 401 without a
// token, 403 for a role too low or an org token on a server-admin route, 404 for another org's
// org-private routes and private artifacts, 403 for another org's writes to a public artifact.
// The expectations are derived here from `access` and `scope` alone, independently of the C
// code that enforces them (src/http/server.c access_check) and prints docs/access.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CAIRND, REPO, startServer, api, mkOrgWithTokens, mkToken, uniq } from './harness.mjs';

const routes = JSON.parse(execFileSync(CAIRND, ['routes'], { encoding: 'utf8' }));
const ROLE = { reader: 1, writer: 2, admin: 3 };
const NEED = { reader: 1, writer: 2, admin: 3 };
const FAKE_UUID = '0190d000-0000-7000-8000-000000000000';

// Callers: [label, which org ('own' | 'other' | null), role, token getter].
function callers(own, other, adminToken) {
  return [
    ['no token', null, 0, null],
    ['other reader', 'other', 1, other.reader],
    ['other writer', 'other', 2, other.writer],
    ['other admin', 'other', 3, other.admin],
    ['own reader', 'own', 1, own.reader],
    ['own writer', 'own', 2, own.writer],
    ['own admin', 'own', 3, own.admin],
    ['server admin', 'sa', 3, adminToken],
  ];
}

// What the table promises: 'ok' (access lets it through: anything but 401/403, and 404 only
// where the handler may legitimately not find the thing), or a status.
function promise(rt, who, isPublic) {
  const [, org, role] = who;
  if (rt.access === 'public') return 'ok';
  if (rt.access === 'signed') return 'unsigned';
  if (org === null) return 401;
  if (rt.access === 'token') return 'ok';
  if (rt.access === 'server_admin') return org === 'sa' ? 'ok' : 403;
  if (org === 'sa') return 'ok';
  if (org === 'other' && rt.scope === 'org') return 404;
  if (org === 'other' && rt.scope === 'artifact') {
    if (!isPublic) return 404;
    return NEED[rt.access] > 1 ? 403 : 'ok';
  }
  return role >= NEED[rt.access] ? 'ok' : 403;
}

function fill(pattern, p) {
  return pattern.replace(/\{([a-z_]+)\*?\}/g, (_, k) => {
    if (k in p) return p[k];
    throw new Error(`access test: no value for {${k}} in ${pattern}`);
  });
}

test('every route × every caller gets the status class the route table promises', { timeout: 240_000 }, async () => {
  const s = await startServer();
  try {
    const own = await mkOrgWithTokens(s, uniq('own'));
    const other = await mkOrgWithTokens(s, uniq('oth'));
    const who = callers(own, other, s.adminToken);
    assert.ok(routes.length >= 50, `route table has ${routes.length} routes`);
    let checked = 0;
    const failures = [];
    for (const rt of routes) {
      // A fresh private and public artifact per route, so a mutation allowed for one caller
      // (delete, say) does not change what the next route sees.
      const kind = 'models';
      const names = { priv: uniq('priv'), pub: uniq('pub') };
      for (const [which, name] of Object.entries(names)) {
        const c = await api(s, 'POST', `/api/v1/org/${own.slug}/${kind}`, {
          token: own.admin, body: { name, is_public: which === 'pub' } });
        assert.equal(c.status, 201, c.text);
        const v = await api(s, 'POST', `/api/v1/org/${own.slug}/${kind}/${name}/versions`, {
          token: own.admin, body: { version: '1.0.0' } });
        assert.equal(v.status, 201, v.text);
      }
      const hasArtifact = /\{name\}/.test(rt.pattern) && rt.scope === 'artifact';
      for (const isPublic of hasArtifact ? [false, true] : [false]) {
        for (const w of who) {
          const params = {
            org: own.slug, kind, name: isPublic ? names.pub : names.priv, version: '1.0.0',
            version_id: FAKE_UUID, session: FAKE_UUID, id: FAKE_UUID, alias: 'stable',
            path: 'weights.bin', key: 'sha256/aa/' + 'a'.repeat(64), upload_id: FAKE_UUID,
          };
          const url = fill(rt.pattern, params);
          const opts = { token: w[3] };
          if (['POST', 'PUT', 'PATCH'].includes(rt.method) && !/files|blobs|bundle|uploads\/\{session\}/.test(rt.pattern)) {
            opts.body = {};
          }
          const r = await api(s, rt.method, url, opts);
          const want = promise(rt, w, isPublic);
          let good;
          if (want === 'ok') good = r.status !== 401 && r.status !== 403 && r.status < 500;
          else if (want === 'unsigned') good = r.status === 401 || r.status === 403;
          else good = r.status === want;
          checked++;
          if (!good) {
            failures.push(`${rt.method} ${rt.pattern} [${rt.access}/${rt.scope}${hasArtifact ? (isPublic ? ', public' : ', private') : ''}] as ${w[0]}: want ${want}, got ${r.status} ${r.text.slice(0, 160)}`);
          }
        }
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${checked} calls broke the table's promise`);
    assert.ok(checked >= routes.length * 8, `checked ${checked} calls`);
  } finally {
    await s.stop();
  }
});

test('a role below the table\'s floor is refused before the handler runs', async () => {
  const s = await startServer();
  try {
    const own = await mkOrgWithTokens(s, uniq('own'));
    // A reader may not create a model: 403 even though the body is invalid (the role check
    // comes before body validation, which is the handler's).
    const r = await api(s, 'POST', `/api/v1/org/${own.slug}/models`, { token: own.reader, body: { bogus: 1 } });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.type, 'forbidden_error');
    // A writer's token for a server-admin route.
    const g = await api(s, 'POST', '/api/v1/admin/gc', { token: own.writer });
    assert.equal(g.status, 403, g.text);
    // Another org's token on an org-private route: 404 (the org's existence is not revealed).
    const other = await mkToken(s, (await mkOrgWithTokens(s, uniq('oth'))).slug, 'admin');
    const t = await api(s, 'GET', `/api/v1/org/${own.slug}/tokens`, { token: other });
    assert.equal(t.status, 404, t.text);
  } finally {
    await s.stop();
  }
});

test('docs/access.md is the matrix generated from the route table', () => {
  const generated = execFileSync(CAIRND, ['routes', '--markdown'], { encoding: 'utf8' });
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'access.md'), 'utf8');
  assert.ok(doc.includes(generated), 'docs/access.md is stale: regenerate the table with `cairnd routes --markdown`');
});
