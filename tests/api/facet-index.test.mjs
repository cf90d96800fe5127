// The in-memory facet index (src/index/) counts exactly what SQL's GROUP BY and COUNT(*) count
// (facets, and the total of lists without a search): after
// randomized create / update / delete / restore / publish sequences, through two servers on
// one database (one counting from bitmaps, one with --facet-index off, i.e. by SQL), every
// facet query gives the same totals and counts on both. Writes made through the SQL-counting
// server must show in the index server's counts too (it catches up from the change feed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, mkOrgWithTokens, uniq } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function prng(seed) { // mulberry32: the same sequence on every run
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TAGS = ['chat', 'vision', 'code', 'audio', 'rag', 'tiny', 'moe', 'edge'];
const LICENSES = ['mit', 'apache-2.0', 'llama3', 'cc-by-4.0'];
const TASKS = ['text-generation', 'image-classification', 'summarization', 'translation'];
const FRAMEWORKS = ['safetensors', 'gguf', 'onnx'];

function pick(rand, arr) { return arr[Math.floor(rand() * arr.length)]; }
function some(rand, arr, max) {
  const n = Math.floor(rand() * (max + 1));
  return [...new Set(Array.from({ length: n }, () => pick(rand, arr)))];
}

function queries(rand, orgs) {
  const qs = [];
  for (const kind of ['models', 'capabilities']) {
    qs.push([null, `/api/v1/catalog/${kind}/facets`]);
    for (const o of orgs) {
      const base = `/api/v1/org/${o.slug}/${kind}/facets`;
      qs.push([o.reader, base], [o.reader, `${base}?include_public=true`]);
      qs.push([o.reader, `${base}?tags=${pick(rand, TAGS)}`]);
      qs.push([o.reader, `${base}?include_public=true&tags=${pick(rand, TAGS)},${pick(rand, TAGS)}&license=${pick(rand, LICENSES)}&framework=${pick(rand, FRAMEWORKS)}`]);
      qs.push([o.reader, `${base}?task_categories=${pick(rand, TASKS)}&license=${pick(rand, LICENSES)}`]);
      qs.push([o.reader, `${base}?tags=no-such-tag`]);
      // searches by relevance: matches read without the catalog join, filtered by the index
      qs.push([o.reader, `${base}?search=${pick(rand, TAGS)}`]);
      qs.push([o.reader, `${base}?include_public=true&search=m&license=${pick(rand, LICENSES)}&limit=3`]);
    }
    qs.push([null, `/api/v1/catalog/${kind}/facets?license=${pick(rand, LICENSES)}&tags=${pick(rand, TAGS)}`]);
    qs.push([null, `/api/v1/catalog/${kind}/facets?search=${pick(rand, TAGS)}%20m`]);
  }
  return qs;
}

async function compare(bitmaps, sql, rand, orgs, round) {
  for (const [token, url] of queries(rand, orgs)) {
    const [a, b] = await Promise.all([api(bitmaps, 'GET', url, { token }), api(sql, 'GET', url, { token })]);
    assert.equal(a.status, 200, `${url}: ${a.text}`);
    assert.equal(b.status, 200, `${url}: ${b.text}`);
    const ctx = `round ${round}, ${url}`;
    // The list's total is counted by the index too (no search): same as SQL's COUNT(*).
    const listUrl = url.replace('/facets', '');
    const [la, lb] = await Promise.all([api(bitmaps, 'GET', listUrl, { token }), api(sql, 'GET', listUrl, { token })]);
    assert.equal(la.status, 200, `${listUrl}: ${la.text}`);
    assert.equal(la.json.total, lb.json.total, `list total, ${ctx}`);
    assert.equal(la.json.total, a.json.filtered_total, `list total = facets filtered_total, ${ctx}`);
    assert.deepEqual(la.json.items.map((i) => i.id), lb.json.items.map((i) => i.id), `list items, ${ctx}`);
    if (la.json.next_cursor) { // the next page too (relevance pages by offset)
      const next = `${listUrl}${listUrl.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(la.json.next_cursor)}`;
      const [pa, pb] = await Promise.all([api(bitmaps, 'GET', next, { token }), api(sql, 'GET', next, { token })]);
      assert.equal(pa.status, 200, `${next}: ${pa.text}`);
      assert.deepEqual(pa.json.items.map((i) => i.id), pb.json.items.map((i) => i.id), `next page, ${ctx}`);
    }
    assert.equal(a.json.total, b.json.total, `total, ${ctx}`);
    assert.equal(a.json.filtered_total, b.json.filtered_total, `filtered_total, ${ctx}`);
    assert.deepEqual(a.json.counts, b.json.counts, `counts, ${ctx}`);
    for (const k of ['tags', 'licenses', 'task_categories', 'frameworks', 'size_categories']) {
      assert.deepEqual([...a.json[k]].sort(), [...b.json[k]].sort(), `${k}, ${ctx}`);
      // most frequent first
      const c = a.json.counts[{ licenses: 'license', frameworks: 'framework', size_categories: 'size_category' }[k] || k];
      for (let i = 1; i < a.json[k].length; i++) assert.ok(c[a.json[k][i - 1]] >= c[a.json[k][i]], `${k} order, ${ctx}`);
    }
  }
}

test('facet counts from bitmaps equal SQL GROUP BY after random changes, across two servers', { timeout: 180_000 }, async () => {
  const bitmaps = await startServer({ keepDataDir: true });
  let sql;
  try {
    sql = await startServer({ dataDir: bitmaps.dataDir, keepDataDir: true, adminToken: bitmaps.adminToken,
      args: ['--facet-index', 'off'] });
    const orgs = [await mkOrgWithTokens(bitmaps, uniq('fa')), await mkOrgWithTokens(bitmaps, uniq('fb'))];
    const rand = prng(20261205);
    const live = [];
    const deleted = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 14; i++) {
        const srv = rand() < 0.3 ? sql : bitmaps; // a share of writes lands on the other server
        const op = rand();
        if (op < 0.45 || live.length < 4) {
          const o = pick(rand, orgs);
          const kind = rand() < 0.7 ? 'models' : 'capabilities';
          const name = uniq('m');
          const r = await api(srv, 'POST', `/api/v1/org/${o.slug}/${kind}`, { token: o.writer, body: {
            name, tags: some(rand, TAGS, 3), license: pick(rand, LICENSES), framework: pick(rand, FRAMEWORKS),
            task_categories: some(rand, TASKS, 2), is_public: rand() < 0.5 } });
          assert.equal(r.status, 201, r.text);
          live.push({ o, kind, name });
        } else if (op < 0.75) {
          const m = pick(rand, live);
          const body = rand() < 0.5 ? { tags: some(rand, TAGS, 3), license: pick(rand, LICENSES) }
            : rand() < 0.5 ? { is_public: rand() < 0.5 } : { enabled: rand() < 0.7, task_categories: some(rand, TASKS, 2) };
          const r = await api(srv, 'PATCH', `/api/v1/org/${m.o.slug}/${m.kind}/${m.name}`, { token: m.o.writer, body });
          assert.equal(r.status, 200, r.text);
        } else if (op < 0.88) {
          const k = Math.floor(rand() * live.length);
          const [m] = live.splice(k, 1);
          const r = await api(srv, 'DELETE', `/api/v1/org/${m.o.slug}/${m.kind}/${m.name}`, { token: m.o.admin });
          assert.equal(r.status, 204, r.text);
          deleted.push(m);
        } else if (deleted.length) {
          const [m] = deleted.splice(Math.floor(rand() * deleted.length), 1);
          const r = await api(srv, 'POST', `/api/v1/org/${m.o.slug}/${m.kind}/${m.name}/restore`, { token: m.o.admin });
          assert.equal(r.status, 200, r.text);
          live.push(m);
        } else {
          // publish a version: the artifact row changes (latest, version_count)
          const m = pick(rand, live);
          const v = await api(srv, 'POST', `/api/v1/org/${m.o.slug}/${m.kind}/${m.name}/versions`, { token: m.o.writer, body: { version: `1.0.${round}` } });
          assert.ok([201, 409].includes(v.status), v.text);
        }
      }
      // Another process's commits reach a SQLite server's revision within 100 ms.
      await sleep(150);
      await compare(bitmaps, sql, rand, orgs, round);
    }
  } finally {
    if (sql) await sql.stop();
    await bitmaps.stop();
  }
});

test('a restarted server rebuilds the index from the store with the same counts', { timeout: 60_000 }, async () => {
  const first = await startServer({ keepDataDir: true });
  const o = await mkOrgWithTokens(first, uniq('fr'));
  for (const tags of [['a', 'b'], ['b'], ['b', 'c'], []]) {
    const r = await api(first, 'POST', `/api/v1/org/${o.slug}/models`, { token: o.writer, body: { name: uniq('r'), tags } });
    assert.equal(r.status, 201, r.text);
  }
  const before = await api(first, 'GET', `/api/v1/org/${o.slug}/models/facets?tags=b`, { token: o.reader });
  await first.stop();
  const again = await startServer({ dataDir: first.dataDir, adminToken: first.adminToken });
  try {
    const after = await api(again, 'GET', `/api/v1/org/${o.slug}/models/facets?tags=b`, { token: o.reader });
    assert.equal(after.status, 200, after.text);
    assert.deepEqual(after.json.counts, before.json.counts);
    assert.deepEqual(after.json.counts.tags, { a: 1, b: 3, c: 1 });
    assert.equal(after.json.total, 4);
    assert.equal(after.json.filtered_total, 3);
  } finally {
    await again.stop();
  }
});

// Relevance search on the index server reads its matches from the in-memory side (SQLite: the
// FTS5 rows; PostgreSQL: the search cache, caught up from the change feed). A search repeated
// after the text of its matches changed, written through the other server, gives the new
// matches, with the same total, order and pages as SQL on the other server.
test('a repeated search follows text changes made through another server', { timeout: 60_000 }, async () => {
  const idx = await startServer({ keepDataDir: true });
  let sql;
  try {
    sql = await startServer({ dataDir: idx.dataDir, keepDataDir: true, adminToken: idx.adminToken,
      args: ['--facet-index', 'off'] });
    const o = await mkOrgWithTokens(idx, uniq('fs'));
    const word = `qz${Date.now().toString(36)}`;
    const base = `/api/v1/org/${o.slug}/models`;
    const mk = async (name, summary) => {
      const r = await api(sql, 'POST', base, { token: o.writer, body: { name, summary, tags: ['chat'] } });
      assert.equal(r.status, 201, r.text);
    };
    const patch = async (name, body) => {
      const r = await api(sql, 'PATCH', `${base}/${name}`, { token: o.writer, body });
      assert.equal(r.status, 200, r.text);
    };
    const n = { a: uniq('alpha'), b: `${word}-${uniq('beta')}`, c: uniq('gamma') };
    await mk(n.a, `about ${word} things`);
    await mk(n.b, 'named after it');
    await mk(n.c, 'nothing to see');
    const names = async (srv, q) => {
      const r = await api(srv, 'GET', `${base}?${q}`, { token: o.reader });
      assert.equal(r.status, 200, r.text);
      return { total: r.json.total, names: r.json.items.map((i) => i.name.split('/').pop()), next: r.json.next_cursor };
    };
    // both servers, every page of one item: same matches, order and total
    const check = async (want, ctx) => {
      const a = await names(idx, `search=${word}`);
      const b = await names(sql, `search=${word}`);
      assert.deepEqual([...a.names].sort(), [...want].sort(), `matches, ${ctx}`);
      assert.equal(a.total, want.length, `total, ${ctx}`);
      assert.deepEqual(a, b, `index server = SQL server, ${ctx}`);
      const paged = [];
      let cursor = null;
      do {
        const p = await names(idx, `search=${word}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        paged.push(...p.names);
        cursor = p.next;
      } while (cursor);
      assert.deepEqual(paged, a.names, `pages, ${ctx}`);
      const f = await names(idx, `search=${word}&tags=chat&framework=gguf`);
      assert.equal(f.total, 0, `filtered by a facet nobody has, ${ctx}`);
    };
    await check([n.a, n.b], 'created');
    await patch(n.c, { summary: `now ${word} too` });
    await sleep(150); // another process's commits reach a SQLite server's revision within 100 ms
    await check([n.a, n.b, n.c], 'a summary gained the word');
    await patch(n.a, { summary: 'about other things' });
    await sleep(150);
    await check([n.b, n.c], 'a summary lost the word');
    let r = await api(sql, 'DELETE', `${base}/${n.b}`, { token: o.admin });
    assert.equal(r.status, 204, r.text);
    await sleep(150);
    await check([n.c], 'the name match deleted');
    r = await api(sql, 'POST', `${base}/${n.b}/restore`, { token: o.admin });
    assert.equal(r.status, 200, r.text);
    await sleep(150);
    await check([n.b, n.c], 'restored');
  } finally {
    if (sql) await sql.stop();
    await idx.stop();
  }
});
