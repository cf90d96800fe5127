// The catalog browser in Chromium against a real cairnd: scope (public vs signed in), live
// search, disjunctive facets, the URL as the state (reload, back), load more, phone width.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, seeded, shot, ready, results, must, assertNoHorizontalScroll, assertPublicApiOnly } from './lib.mjs';

let env, browser;
before(async () => { env = await seeded(); browser = await launch(); });
after(async () => { await browser?.close(); await env?.s.stop(); });

const facetCount = (page, facet, value) => page.$eval(`fieldset[data-facet="${facet}"] input[data-value="${value}"] ~ .fc`, (e) => Number(e.dataset.count));

test('signed out: the public catalog; signed in: the org\'s private models too, with org and role shown', async () => {
  const page = await openPage(browser, env.s);
  await page.goto('/');
  await ready(page);
  const pub = await results(page);
  assert.deepEqual(pub.slice().sort(), ['acme/llama-chat', 'acme/whisper-tiny', 'beta/mistral-chat', 'beta/vision-net']);
  assert.equal(await page.textContent('#count'), '4 models');
  assert.ok(await page.isVisible('a:has-text("Sign in")'));
  await shot(page, 'browser-signed-out');

  const own = await openPage(browser, env.s, { token: env.acme.reader });
  await own.goto('/');
  await ready(own);
  const mine = await results(own);
  assert.ok(mine.includes('acme/secret-model'), 'own private model listed');
  assert.equal(mine.length, 5);
  assert.equal(await own.textContent('.who .org'), 'acme');
  assert.equal(await own.textContent('.who .role'), 'reader');
  // Signing out clears the token.
  await own.click('button:has-text("Sign out")');
  await own.waitForSelector('a:has-text("Sign in")');
  assert.equal(await own.evaluate(() => localStorage.getItem('cairn.token')), null);
  assert.equal((await results(own)).length, 4);
  assert.deepEqual([...page.errors, ...own.errors], []);
  await assertPublicApiOnly(page, env.s);
  await assertPublicApiOnly(own, env.s);
});

test('sign-in form: a bad token shows the API\'s detail, a good one signs in', async () => {
  const page = await openPage(browser, env.s);
  await page.goto('/ui/signin');
  await ready(page);
  await page.fill('#token', 'cairn_nope');
  await page.click('button[type=submit]');
  const err = await page.waitForSelector('[role=alert]');
  assert.match(await err.textContent(), /token|auth/i);
  await page.fill('#token', env.acme.writer);
  await page.click('button[type=submit]');
  await page.waitForSelector('.who .org');
  assert.equal(await page.textContent('.who .role'), 'writer');
  assert.equal(new URL(page.url()).pathname, '/');
  assert.ok(await page.isVisible('a:has-text("New model")'), 'writers see "New model"');
  await shot(page, 'signin');
});

test('search narrows the results as you type, and goes into the URL', async () => {
  const page = await openPage(browser, env.s);
  await page.goto('/');
  await ready(page);
  assert.equal((await results(page)).length, 4);
  await page.fill('#search', 'chat');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('q') === 'chat');
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 2);
  assert.deepEqual((await results(page)).sort(), ['acme/llama-chat', 'beta/mistral-chat']);
  assert.equal(await page.textContent('#count'), '2 models');
  await page.fill('#search', 'zzzz-nothing');
  await page.waitForSelector('#results .empty');
  assert.match(await page.textContent('#results .empty'), /No models match/);
  await shot(page, 'browser-search-empty');
});

test('a facet click filters, updates the other facets\' counts and the URL; reload and back restore it', async () => {
  const page = await openPage(browser, env.s);
  await page.goto('/');
  await ready(page);
  await page.waitForSelector('fieldset[data-facet="license"]');
  assert.equal(await facetCount(page, 'framework', 'onnx'), 2);
  assert.equal(await facetCount(page, 'license', 'apache-2.0'), 3);
  await page.click('fieldset[data-facet="license"] input[data-value="mit"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('license').join() === 'mit');
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 1);
  assert.deepEqual(await results(page), ['acme/whisper-tiny']);
  // Other facets count within the filter; the license facet stays disjunctive.
  await page.waitForFunction(() => !document.querySelector('fieldset[data-facet="framework"] input[data-value="gguf"]'));
  assert.equal(await facetCount(page, 'framework', 'onnx'), 1);
  assert.equal(await facetCount(page, 'license', 'apache-2.0'), 3, 'other licenses keep their counts');
  assert.ok(await page.isEnabled('fieldset[data-facet="license"] input[data-value="apache-2.0"]'));
  // OR within a facet.
  await page.click('fieldset[data-facet="license"] input[data-value="apache-2.0"]');
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 4);
  await page.click('fieldset[data-facet="framework"] input[data-value="onnx"]');
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 2);
  assert.deepEqual((await results(page)).sort(), ['acme/whisper-tiny', 'beta/vision-net']);
  const url = new URL(page.url());
  assert.deepEqual(url.searchParams.getAll('license'), ['mit', 'apache-2.0']);
  assert.deepEqual(url.searchParams.getAll('framework'), ['onnx']);
  await page.selectOption('#sort', 'name');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('sort') === 'name');
  assert.deepEqual(await results(page), ['beta/vision-net', 'acme/whisper-tiny'], 'by local name');
  await shot(page, 'browser-facets');

  await page.reload();
  await ready(page);
  assert.deepEqual(await results(page), ['beta/vision-net', 'acme/whisper-tiny']);
  await page.waitForSelector('fieldset[data-facet="license"]');
  assert.ok(await page.isChecked('fieldset[data-facet="license"] input[data-value="mit"]'));
  assert.ok(await page.isChecked('fieldset[data-facet="framework"] input[data-value="onnx"]'));
  assert.equal(await page.inputValue('#sort'), 'name');

  await page.goBack(); // before the sort
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('sort'));
  await page.goBack(); // before the framework filter
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 4);
  await page.waitForSelector('fieldset[data-facet="framework"] input[data-value="onnx"]:not(:checked)');
  assert.deepEqual(page.errors, []);
});

test('"load more" pages by cursor without repeats', async () => {
  for (let i = 0; i < 33; i++) {
    await must(env.s, 'POST', `/api/v1/org/${env.beta.slug}/models`, { token: env.beta.writer, body: { name: `bulk-${String(i).padStart(2, '0')}`, is_public: true, license: 'bsd-3-clause' } });
  }
  const page = await openPage(browser, env.s);
  await page.goto('/?license=bsd-3-clause&sort=name');
  await ready(page);
  assert.equal((await results(page)).length, 30);
  await page.click('#load-more');
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 33);
  const all = await results(page);
  assert.equal(new Set(all).size, 33);
  assert.deepEqual(all, all.slice().sort());
  assert.equal(await page.$('#load-more'), null, 'no more pages');
});

test('phone width (360 px): no horizontal scroll, filters above the results; light and dark themes', async () => {
  const backgrounds = [];
  for (const colorScheme of ['light', 'dark']) {
    const page = await openPage(browser, env.s, { viewport: { width: 360, height: 740 }, colorScheme, token: env.acme.admin });
    await page.goto('/?q=chat');
    await ready(page);
    await results(page);
    await page.waitForSelector('.facet', { state: 'attached' });
    assert.equal(await page.isVisible('.facet'), false, 'filters start folded on a phone');
    await assertNoHorizontalScroll(page);
    await page.click('.facets-box > summary');
    await page.waitForSelector('fieldset[data-facet="license"] input[data-value="apache-2.0"]');
    await assertNoHorizontalScroll(page);
    await shot(page, `browser-phone-${colorScheme}`);
    backgrounds.push(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
  }
  // The system preference picks the theme: a light page and a dark one.
  const lum = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, x) => a + Number(x), 0) / 3;
  assert.ok(lum(backgrounds[0]) > 200 && lum(backgrounds[1]) < 60, backgrounds.join(' / '));
});

test('keyboard: skip link to main, search and facets work without a mouse, focus stays put and shows', async () => {
  const page = await openPage(browser, env.s);
  await page.goto('/');
  await ready(page);
  await results(page);
  await page.waitForSelector('fieldset[data-facet="license"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  // Landmarks and labels.
  assert.equal(await page.$$eval('header, nav, main, aside', (x) => x.length), 4);
  const unlabeled = await page.$$eval('input, select', (els) => els.filter((e) => !e.labels || !e.labels.length).map((e) => e.outerHTML));
  assert.deepEqual(unlabeled, []);
  // A facet checkbox by keyboard: focus it, Space toggles, focus survives the re-render.
  await page.focus('fieldset[data-facet="license"] input[data-value="mit"]');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('license') === 'mit');
  await page.waitForFunction(() => document.querySelectorAll('#results li.item').length === 1);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.value), 'mit');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  // Tab from the search box reaches the sort, Enter on a result link opens its page.
  await page.focus('#search');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'sort');
  await page.focus('#results li.item h3 a');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/ui/models/acme/whisper-tiny');
  await page.waitForSelector('h1');
  assert.deepEqual(page.errors, []);
});

test('a token revoked while the page is open: the next call signs out and says why', async () => {
  const tok = await must(env.s, 'POST', `/api/v1/org/${env.acme.slug}/tokens`, { token: env.acme.admin, body: { name: 'short-lived', role: 'reader' } });
  const page = await openPage(browser, env.s, { token: tok.token });
  await page.goto('/');
  await ready(page);
  assert.equal(await page.textContent('.who .role'), 'reader');
  await must(env.s, 'DELETE', `/api/v1/org/${env.acme.slug}/tokens/${tok.id}`, { token: env.acme.admin }, 204);
  await page.fill('#search', 'chat');
  const note = await page.waitForSelector('#account [role=alert]');
  assert.match(await note.textContent(), /Signed out/);
  assert.ok(await page.isVisible('a:has-text("Sign in")'));
  assert.equal(await page.evaluate(() => localStorage.getItem('cairn.token')), null);
  assert.deepEqual((await results(page)).sort(), ['acme/llama-chat', 'beta/mistral-chat'], 'the public results of the same query');
});
