// Shared pieces of the browser tests: Debian's chromium driven by playwright-core (no browser
// download), a real cairnd (tests/api/harness.mjs) seeded through the public API, screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer, api, mkOrgWithTokens } from '../api/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHOTS = path.join(here, 'screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}

/** A page of a fresh context; opts: viewport, colorScheme, token (signed in), permissions. */
export async function openPage(browser, server, opts = {}) {
  const ctx = await browser.newContext({
    baseURL: server.url, viewport: opts.viewport || { width: 1280, height: 900 },
    colorScheme: opts.colorScheme || 'light', permissions: opts.permissions || [],
  });
  if (opts.token) await ctx.addInitScript((t) => localStorage.setItem('cairn.token', t), opts.token);
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  page.apiCalls = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === server.url && !u.pathname.startsWith('/ui/') && u.pathname !== '/') page.apiCalls.push(`${r.method()} ${u.pathname}`);
  });
  return page;
}

let documented = null;
/** Asserts that every request the page made to cairnd (besides the UI's own files) is a route of
 * the public API, as docs/openapi.yaml (served at /api/v1/openapi.json) documents it. */
export async function assertPublicApiOnly(page, server) {
  if (!documented) {
    const doc = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
    documented = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).filter((m) => m !== 'parameters').map((m) => {
      const re = p.replace(/[.]/g, '\\.').replace(/\{(path|key)\}/g, '.+').replace(/\{[a-z_]+\}/g, '[^/]+');
      return [m.toUpperCase(), new RegExp(`^${re}$`)];
    }));
  }
  assert.ok(page.apiCalls.length > 0, 'the page called the API');
  const stray = page.apiCalls.filter((c) => {
    const [m, p] = c.split(' ');
    return !documented.some(([dm, re]) => (dm === m || (m === 'HEAD' && dm === 'GET')) && re.test(p) && p.startsWith('/api/v1/'));
  });
  assert.deepEqual(stray, [], 'calls outside the public /api/v1 API');
}

/** Saves a screenshot under tests/ui/screenshots/NAME.png. */
export async function shot(page, name, fullPage = true) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** Waits for the app to finish its first render. */
export async function ready(page) {
  await page.waitForSelector('html[data-ready="1"]');
}

/** Waits until the results list is settled (not busy) and returns the canonical names shown. */
export async function results(page) {
  await page.waitForSelector('#results[aria-busy="false"]');
  return page.$$eval('#results li.item .canonical code', (els) => els.map((e) => e.textContent));
}

/** POST/PUT… through the API, asserting the status. */
export async function must(s, method, p, opts, status) {
  const r = await api(s, method, p, opts);
  assert.equal(r.status, status ?? (method === 'POST' && !/publish|deprecate|restore/.test(p) ? 201 : 200), `${method} ${p}: ${r.text}`);
  return r.json;
}

/**
 * A server with two orgs and a catalog with known facets:
 * acme (private and public models), beta (public models only). Returns {s, acme, beta}.
 */
export async function seeded() {
  const s = await startServer();
  const acme = await mkOrgWithTokens(s, 'acme');
  const beta = await mkOrgWithTokens(s, 'beta');
  const models = [
    [acme, 'llama-chat', { is_public: true, license: 'apache-2.0', framework: 'gguf', task_categories: ['text-generation'], tags: ['chat', 'llm'], summary: 'A chat model', size_category: 'medium' }],
    [acme, 'whisper-tiny', { is_public: true, license: 'mit', framework: 'onnx', task_categories: ['speech-recognition'], tags: ['audio'], summary: 'Speech to text', size_category: 'tiny' }],
    [acme, 'secret-model', { is_public: false, license: 'proprietary', framework: 'safetensors', task_categories: ['text-generation'], tags: ['internal'], summary: 'Internal only' }],
    [beta, 'vision-net', { is_public: true, license: 'apache-2.0', framework: 'onnx', task_categories: ['image-classification'], tags: ['vision'], summary: 'Classifies images', size_category: 'small' }],
    [beta, 'mistral-chat', { is_public: true, license: 'apache-2.0', framework: 'safetensors', task_categories: ['text-generation'], tags: ['chat'], summary: 'Another chat model', size_category: 'medium' }],
  ];
  for (const [org, name, body] of models) {
    await must(s, 'POST', `/api/v1/org/${org.slug}/models`, { token: org.writer, body: { name, ...body } });
  }
  return { s, acme, beta };
}

/** Lays out a page: the page must not scroll sideways. */
export async function assertNoHorizontalScroll(page) {
  const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  assert.ok(m.sw <= m.cw, `horizontal scroll: scrollWidth ${m.sw} > clientWidth ${m.cw}`);
}

/**
 * WCAG 2 contrast of every visible text element of the page against the background it sits on
 * (the first opaque background up its ancestors). Returns the ones under `min`, as strings.
 */
export async function lowContrast(page, min = 4.5) {
  return page.evaluate((minRatio) => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.9)) return c;
      }
      return [255, 255, 255];
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      const st = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || st.visibility === 'hidden' || el.closest('[hidden], .sr-only, option, [aria-hidden="true"]')) continue;
      if (el.closest('button:disabled, .results.stale')) continue; // disabled controls are exempt (WCAG 1.4.3)
      const fg = rgb(st.color), bg = bgOf(el);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      if (ratio < minRatio) bad.push(`${el.tagName.toLowerCase()}.${el.className} "${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return bad;
  }, min);
}
