// The model page in Chromium: the card stays inert, versions in SemVer order with the right
// badges and aliases, files with sizes and SHA-256, copy buttons, readers see no write
// controls, phone width.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, api, mkOrgWithTokens } from '../api/harness.mjs';
import { launch, openPage, shot, ready, must, assertNoHorizontalScroll, assertPublicApiOnly } from './lib.mjs';

let s, acme, browser;
const M = '/api/v1/org/acme/models/llama';
const CARD = [
  '---', 'license: apache-2.0', 'tags: [chat]', '---',
  '# Llama chat', '', 'A **small** chat model.', '',
  '<script>window.__pwned = 1</script>', '',
  '<img src="x" onerror="window.__pwned = 2">', '',
  '[click](javascript:window.__pwned=3)', '',
  '| a | b |', '|---|---|', '| 1 | 2 |',
].join('\n');
const WEIGHTS = Buffer.from('weights of 1.10.0 '.repeat(100));

before(async () => {
  s = await startServer();
  acme = await mkOrgWithTokens(s, 'acme');
  const t = { token: acme.writer };
  await must(s, 'POST', '/api/v1/org/acme/models', { ...t, body: { name: 'llama', pretty_name: 'Llama Chat', summary: 'Chat in 1B', framework: 'gguf', task: 'text-generation', size_category: 'small', is_public: true, description: CARD } });
  for (const v of ['1.0.0', '1.10.0', '1.2.0', '2.0.0-rc.1', '2.0.0-alpha', '0.9.0']) {
    await must(s, 'POST', `${M}/versions`, { ...t, body: { version: v, summary: `release ${v}` } });
  }
  for (const v of ['0.9.0', '1.0.0', '1.2.0', '1.10.0']) {
    await must(s, 'PUT', `${M}/versions/${v}/files/model.bin`, { ...t, rawBody: v === '1.10.0' ? WEIGHTS : Buffer.from(`w ${v}`) }, 201);
    if (v === '1.10.0') {
      await must(s, 'PUT', `${M}/versions/${v}/files/config/tokenizer.json`, { ...t, rawBody: Buffer.from('{"a":1}') }, 201);
      // A safetensors header of 2 x 3 F32 (6 parameters): the server derives parameter_count.
      const hdr = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } }));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(hdr.length));
      await must(s, 'PUT', `${M}/versions/${v}/files/extra.safetensors`, { ...t, rawBody: Buffer.concat([len, hdr, Buffer.alloc(24)]) }, 201);
    }
    await must(s, 'POST', `${M}/versions/${v}/publish`, t, 200);
  }
  await must(s, 'POST', `${M}/versions/0.9.0/deprecate`, t, 200);
  await must(s, 'PUT', `${M}/aliases/stable`, { ...t, body: { version: '1.2.0' } }, 200);
  browser = await launch();
});
after(async () => { await browser?.close(); await s?.stop(); });

async function openModel(opts = {}) {
  const page = await openPage(browser, s, { token: acme.reader, ...opts });
  await page.goto('/ui/models/acme/llama');
  await ready(page);
  await page.waitForSelector('#versions, .error');
  return page;
}

test('versions show newest first in SemVer order, with lifecycle badges, aliases and dates', async () => {
  const page = await openModel();
  const rows = await page.$$eval('#versions > li', (lis) => lis.map((li) => ({
    v: li.dataset.version, badge: li.querySelector('.badge').textContent,
    aliases: [...li.querySelectorAll('.badge-alias')].map((b) => b.textContent),
    published: !!li.querySelector('.ver-dates')?.textContent.includes('published'),
    deprecated: !!li.querySelector('.ver-dates')?.textContent.includes('deprecated'),
  })));
  assert.deepEqual(rows.map((r) => r.v), ['2.0.0-rc.1', '2.0.0-alpha', '1.10.0', '1.2.0', '1.0.0', '0.9.0']);
  assert.deepEqual(rows.map((r) => r.badge), ['draft', 'draft', 'published', 'published', 'published', 'deprecated']);
  assert.deepEqual(rows.find((r) => r.v === '1.2.0').aliases, ['stable']);
  assert.ok(rows.find((r) => r.v === '1.10.0').published);
  assert.ok(rows.find((r) => r.v === '0.9.0').deprecated);
  assert.equal(rows.find((r) => r.v === '2.0.0-rc.1').published, false);
  // Header: title, chips, latest = highest published.
  assert.equal(await page.textContent('h1'), 'Llama Chat');
  const chips = await page.$$eval('#chips .chip', (cs) => cs.map((c) => c.textContent));
  for (const c of ['frameworkgguf', 'licenseapache-2.0', 'tasktext-generation', 'sizesmall', 'tagchat', 'parameters6']) assert.ok(chips.includes(c), `chip ${c} in ${chips}`);
  assert.match(await page.textContent('.stats'), /1\.10\.0\s*latest/);
  await shot(page, 'model-page');
  assert.deepEqual(page.errors, []);
  await assertPublicApiOnly(page, s);
});

test('a <script>, an onerror= and a javascript: link in the model card do not run', async () => {
  const page = await openModel();
  await page.waitForSelector('#model-card h1');
  assert.equal(await page.textContent('#model-card h1'), 'Llama chat');
  assert.equal(await page.$$eval('#model-card script, #model-card [onerror]', (x) => x.length), 0);
  const link = await page.$('#model-card a');
  if (link) {
    assert.doesNotMatch(await link.getAttribute('href') || '', /^javascript:/i);
    await link.click();
  }
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  // The CSP itself refuses inline script, whatever the card held.
  const ran = await page.evaluate(() => {
    const sc = document.createElement('script');
    sc.textContent = 'window.__inline = 1';
    document.body.append(sc);
    return window.__inline;
  });
  assert.equal(ran, undefined, 'inline script blocked by the Content-Security-Policy');
});

test('files list sizes and SHA-256; copy buttons copy the cairn pull and curl commands', async () => {
  const page = await openModel({ permissions: ['clipboard-read', 'clipboard-write'] });
  const li = await page.$('#versions > li[data-version="1.10.0"]');
  const files = await li.$$eval('table.files tbody tr', (trs) => trs.map((tr) => ({ path: tr.dataset.path, size: tr.querySelector('td.num').textContent, sha: tr.querySelector('.sha').textContent })));
  const sum = createHash('sha256').update(WEIGHTS).digest('hex');
  assert.deepEqual(files.map((f) => f.path).sort(), ['config/tokenizer.json', 'extra.safetensors', 'model.bin']);
  const w = files.find((f) => f.path === 'model.bin');
  assert.equal(w.sha, sum);
  assert.equal(w.size, '1.76 KiB');
  await (await li.$('.cmd button.copy')).click();
  await page.waitForFunction(() => document.querySelector('#versions > li[data-version="1.10.0"] .cmd button.copy').textContent === 'Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'cairn pull acme/llama@1.10.0');
  await (await li.$('tr[data-path="model.bin"] button.copy:has-text("curl")')).click();
  const curl = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(curl, `curl -fL -H "Authorization: Bearer $CAIRN_TOKEN" -o "model.bin" '${s.url}/api/v1/org/acme/models/llama/versions/1.10.0/files/model.bin'`);
  // The copied curl command works (with a real token) and fetches exactly those bytes.
  const r = await fetch(`${s.url}/api/v1/org/acme/models/llama/versions/1.10.0/files/model.bin`, { headers: { Authorization: `Bearer ${acme.reader}` } });
  assert.equal(createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex'), sum);
  await (await li.$('tr[data-path="model.bin"] button.copy:has-text("Copy")')).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), sum);
  // That download is counted, on the model and on its version.
  await page.reload();
  await ready(page);
  await page.waitForSelector('#versions');
  assert.equal(await page.textContent('#downloads'), '1');
  assert.match(await page.textContent('#versions > li[data-version="1.10.0"] .ver-dates'), /↓ 1/);
  await shot(page, 'model-files');
});

test('a reader sees no write controls', async () => {
  const page = await openModel();
  assert.equal(await page.$('#manage'), null);
  assert.equal(await page.$('.dropzone'), null);
  assert.equal(await page.$$eval('button', (bs) => bs.filter((b) => /Publish|Deprecate|Delete|Save|Create|Restore|Revoke/.test(b.textContent)).length), 0);
  assert.equal(await page.isVisible('a:has-text("New model")'), false);
  assert.equal(await page.isVisible('a:has-text("Tokens")'), false);
  await page.goto('/ui/new');
  await page.waitForSelector('.notice');
  assert.equal(await page.$('form'), null);
  await page.goto('/ui/tokens');
  await page.waitForSelector('.notice');
  assert.equal(await page.$('form'), null);
  await page.goto('/ui/models/acme/llama');
  await page.waitForSelector('#versions');
  await shot(page, 'model-reader');
});

test('signed out: versions and files of a public model come from the public resolve route', async () => {
  const page = await openPage(browser, s);
  await page.goto('/ui/models/acme/llama');
  await ready(page);
  await page.waitForSelector('#versions');
  const vs = await page.$$eval('#versions > li', (lis) => lis.map((li) => li.dataset.version));
  assert.deepEqual(vs, ['1.10.0', '1.2.0', '1.0.0', '0.9.0'], 'published and deprecated versions');
  assert.ok(await page.isVisible('#versions > li[data-version="1.10.0"] tr[data-path="model.bin"]'));
  assert.match(await page.textContent('.notice'), /sign/i);
  assert.deepEqual(page.errors, []);
  await assertPublicApiOnly(page, s);
});

test('an unknown model shows the API\'s detail', async () => {
  const page = await openPage(browser, s, { token: acme.reader });
  await page.goto('/ui/models/acme/nope');
  await ready(page);
  const err = await page.waitForSelector('[role=alert]');
  assert.match(await err.textContent(), /not found/);
});

test('phone width (360 px): the model page does not scroll sideways', async () => {
  for (const colorScheme of ['light', 'dark']) {
    const page = await openModel({ viewport: { width: 360, height: 740 }, colorScheme, token: acme.writer });
    await assertNoHorizontalScroll(page);
    await shot(page, `model-phone-${colorScheme}`);
  }
});

test('signed out: a public model with nothing published shows its catalog entry, not an error', async () => {
  await must(s, 'POST', '/api/v1/org/acme/models', { token: acme.writer, body: { name: 'fresh', is_public: true, summary: 'Coming soon', license: 'mit' } });
  const page = await openPage(browser, s);
  await page.goto('/ui/models/acme/fresh');
  await ready(page);
  await page.waitForSelector('.detail-head');
  assert.equal(await page.$('[role=alert]'), null);
  assert.match(await page.textContent('.detail-head'), /Coming soon/);
  assert.match(await page.textContent('#versions-title + *'), /No versions yet/);
  assert.match(await page.textContent('#use-title + *'), /No published version/);
});
