// The capability page in Chromium: the trust card (components grouped by type with their
// counts and descriptions, file digests, publisher, publish date), the capability browser, and
// the signed-out view from the public catalog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, mkOrgWithTokens } from '../api/harness.mjs';
import { launch, openPage, shot, ready, results, must, assertNoHorizontalScroll, assertPublicApiOnly } from './lib.mjs';

let s, acme, browser, published;
const C = '/api/v1/org/acme/capabilities/support-kit';
const MANIFEST = JSON.stringify({
  name: 'support-kit', description: 'Everything a support desk agent needs', keywords: ['support', 'tickets'],
  components: [
    { name: 'triage', type: 'agent', path: 'agents/triage.md', description: 'Routes tickets to the right queue' },
    { name: 'search', type: 'tool', path: 'tools/search.py', description: 'Searches the knowledge base' },
    { name: 'refund', type: 'tool', path: 'tools/refund.py' },
    { name: 'kb', type: 'mcp_server', description: 'Knowledge-base MCP server' },
    { name: 'tone', type: 'skill', path: 'skills/tone.md', description: 'Keeps replies polite' },
  ],
});
const TOOL = Buffer.from('def search(q):\n    return []\n');

before(async () => {
  s = await startServer();
  acme = await mkOrgWithTokens(s, 'acme');
  const t = { token: acme.writer };
  await must(s, 'POST', '/api/v1/org/acme/capabilities', { ...t, body: { name: 'support-kit', pretty_name: 'Support kit', summary: 'A support desk agent', license: 'mit', is_public: true } });
  await must(s, 'POST', `${C}/versions`, { ...t, body: { version: '1.0.0' } });
  await must(s, 'PUT', `${C}/versions/1.0.0/files/capability.json`, { ...t, rawBody: Buffer.from(MANIFEST) }, 201);
  await must(s, 'PUT', `${C}/versions/1.0.0/files/tools/search.py`, { ...t, rawBody: TOOL }, 201);
  published = (await must(s, 'POST', `${C}/versions/1.0.0/publish`, t, 200)).published_at;
  await must(s, 'POST', `${C}/versions`, { ...t, body: { version: '1.1.0-beta.1' } });
  browser = await launch();
});
after(async () => { await browser?.close(); await s?.stop(); });

test('trust card: components grouped by type with counts and descriptions, digests, publisher, date', async () => {
  const page = await openPage(browser, s, { token: acme.reader });
  await page.goto('/ui/capabilities/acme/support-kit');
  await ready(page);
  await page.waitForSelector('#trust-card');
  const groups = await page.$$eval('#trust-card .component-group', (gs) => gs.map((g) => ({
    type: g.dataset.type, count: Number(g.querySelector('.count-badge').dataset.count),
    names: [...g.querySelectorAll('li strong')].map((x) => x.textContent),
    text: g.textContent,
  })));
  assert.deepEqual(groups.map((g) => [g.type, g.count, g.names]), [
    ['agent', 1, ['triage']], ['tool', 2, ['search', 'refund']], ['skill', 1, ['tone']], ['mcp_server', 1, ['kb']],
  ]);
  assert.match(groups[0].text, /Routes tickets to the right queue/);
  assert.match(groups[1].text, /Searches the knowledge base/);
  assert.equal(await page.textContent('#publisher'), 'acme');
  assert.equal(await page.getAttribute('#published-at time', 'datetime'), published);
  const files = await page.$$eval('#trust-files tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.path, tr.querySelector('.sha').textContent])));
  assert.equal(files['tools/search.py'], createHash('sha256').update(TOOL).digest('hex'));
  assert.equal(files['capability.json'], createHash('sha256').update(MANIFEST).digest('hex'));
  // Versions newest first; the card is of the latest published one, another is a click away.
  const vs = await page.$$eval('#versions > li', (lis) => lis.map((li) => [li.dataset.version, li.querySelector('.badge').textContent]));
  assert.deepEqual(vs, [['1.1.0-beta.1', 'draft'], ['1.0.0', 'published']]);
  assert.match(await page.textContent('#trust-title'), /acme\/support-kit@1\.0\.0/);
  await shot(page, 'capability-trust-card');
  await page.click('#versions a:has-text("1.1.0-beta.1")');
  await page.waitForSelector('#trust-title:has-text("1.1.0-beta.1")');
  assert.match(await page.textContent('#published-at'), /draft/);
  assert.deepEqual(page.errors, []);
  await assertPublicApiOnly(page, s);
});

test('the capability browser lists it with its component counts; signed out shows the catalog view', async () => {
  const page = await openPage(browser, s);
  await page.goto('/ui/capabilities');
  await ready(page);
  assert.deepEqual(await results(page), ['acme/support-kit']);
  assert.match(await page.textContent('#results li.item'), /tool\s*2/);
  await page.click('#results li.item h3 a');
  await page.waitForSelector('#trust-card .component-group');
  assert.equal(await page.$$eval('#trust-card .component-group', (g) => g.length), 4);
  assert.match(await page.textContent('.notice'), /sign/i);
  await assertNoHorizontalScroll(page);
  assert.deepEqual(page.errors, []);
});

test('phone width (360 px): the trust card does not scroll sideways', async () => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await openPage(browser, s, { token: acme.writer, viewport: { width: 360, height: 740 }, colorScheme });
    await page.goto('/ui/capabilities/acme/support-kit');
    await ready(page);
    await page.waitForSelector('#trust-card');
    await assertNoHorizontalScroll(page);
    await shot(page, `capability-phone-${colorScheme}`);
  }
});

test('a writer drops a capability.json on a draft and publishes it: the trust card lists the new components', async () => {
  const page = await openPage(browser, s, { token: acme.writer });
  await page.goto('/ui/capabilities/acme/support-kit?version=1.1.0-beta.1');
  await ready(page);
  await page.waitForSelector('#trust-title:has-text("1.1.0-beta.1")');
  const manifest = JSON.stringify({ components: [{ name: 'summarize', type: 'worker', description: 'Summarizes threads' }] });
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], 'capability.json', { type: 'application/json' }));
    return d;
  }, manifest);
  await page.dispatchEvent('#versions > li[data-version="1.1.0-beta.1"] .dropzone', 'drop', { dataTransfer: dt });
  await page.waitForSelector('.uploads li[data-sha256]');
  await page.click('button:has-text("Publish 1.1.0-beta.1")');
  await page.waitForSelector('#versions > li[data-version="1.1.0-beta.1"] .badge-published');
  await page.waitForSelector('#trust-card .component-group[data-type="worker"]', { timeout: 15_000 });
  assert.match(await page.textContent('#trust-card .component-group[data-type="worker"]'), /summarize\s*Summarizes threads/);
  assert.equal(await page.$eval('#trust-files tr[data-path="capability.json"] .sha', (e) => e.textContent), createHash('sha256').update(manifest).digest('hex'));
  assert.deepEqual(page.errors, []);
});
