// Text contrast (WCAG 2 AA, 4.5:1) of every visible text on the main pages, in the light and the
// dark theme: the browser with facets, a model page with every lifecycle badge and the manage
// box, the trust card, the tokens page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, mkOrgWithTokens } from '../api/harness.mjs';
import { launch, openPage, ready, results, must, lowContrast } from './lib.mjs';

let s, acme, browser;
before(async () => {
  s = await startServer();
  acme = await mkOrgWithTokens(s, 'acme');
  const t = { token: acme.writer };
  const M = '/api/v1/org/acme/models/m';
  await must(s, 'POST', '/api/v1/org/acme/models', { ...t, body: { name: 'm', summary: 'A model', license: 'mit', tags: ['x'], task_categories: ['text-generation'], description: '# Card\n\nText with a [link](https://example.com) and `code`.' } });
  for (const v of ['1.0.0', '1.1.0', '2.0.0']) {
    await must(s, 'POST', `${M}/versions`, { ...t, body: { version: v } });
    if (v === '2.0.0') continue;
    await must(s, 'PUT', `${M}/versions/${v}/files/w.bin`, { ...t, rawBody: Buffer.from(v) }, 201);
    await must(s, 'POST', `${M}/versions/${v}/publish`, t, 200);
  }
  await must(s, 'POST', `${M}/versions/1.0.0/deprecate`, t, 200);
  await must(s, 'PUT', `${M}/aliases/stable`, { ...t, body: { version: '1.1.0' } }, 200);
  await must(s, 'POST', '/api/v1/org/acme/capabilities', { ...t, body: { name: 'c' } });
  await must(s, 'POST', '/api/v1/org/acme/capabilities/c/versions', { ...t, body: { version: '1.0.0' } });
  await must(s, 'PUT', '/api/v1/org/acme/capabilities/c/versions/1.0.0/files/capability.json', { ...t, rawBody: Buffer.from(JSON.stringify({ components: [{ name: 'a', type: 'agent', description: 'does things' }] })) }, 201);
  browser = await launch();
});
after(async () => { await browser?.close(); await s?.stop(); });

for (const colorScheme of ['light', 'dark']) {
  test(`text contrast is at least 4.5:1 everywhere (${colorScheme})`, async () => {
    const page = await openPage(browser, s, { token: acme.admin, colorScheme });
    const bad = [];
    const visit = async (url, sel) => {
      await page.goto(url);
      await ready(page);
      await page.waitForSelector(sel);
      bad.push(...(await lowContrast(page)).map((x) => `${url}: ${x}`));
    };
    await visit('/', '.facet');
    await results(page);
    bad.push(...(await lowContrast(page)).map((x) => `/ (settled): ${x}`));
    await visit('/ui/models/acme/m', '#manage');
    await visit('/ui/capabilities/acme/c', '#trust-card');
    await visit('/ui/tokens', '#tokens');
    await visit('/ui/new', 'form');
    await page.goto('/ui/models/acme/nope');
    await page.waitForSelector('[role=alert]');
    bad.push(...(await lowContrast(page)).map((x) => `404: ${x}`));
    assert.deepEqual(bad, []);
  });
}
