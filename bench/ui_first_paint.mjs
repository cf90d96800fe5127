// bench/ui_first_paint.mjs DB_URL [RUNS]: how fast the web UI's browser page shows a large
// catalog. Starts cairnd on DB_URL (seeded by cairn-bench-seed: org "bench"), loads / in
// headless Chromium signed out (the public catalog) and signed in with a reader token of
// "bench" (the org's models plus public ones), and prints for each the median over RUNS loads of:
// first contentful paint, and the time until the first page of results and the facet counts are
// on screen (performance marks "cairn-results" and "cairn-facets"), all from
// navigation start, on loopback.
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../tests/ui/lib.mjs';
import { freePort } from '../tests/api/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CAIRND = process.env.CAIRND || path.join(ROOT, 'build', 'cairnd');
const [db, runsArg] = process.argv.slice(2);
if (!db) { console.error('usage: node bench/ui_first_paint.mjs DB_URL [RUNS]'); process.exit(2); }
const runs = Number(runsArg || 7);
const blobs = `file://${path.join(path.dirname(db.replace(/^sqlite:\/\//, '')), 'blobs')}`;

const token = execFileSync(CAIRND, ['admin', 'create-token', '--org', 'bench', '--role', 'reader', '--name', `ui-bench-${Date.now()}`, '--db', db], { encoding: 'utf8' }).trim();
const port = await freePort();
const srv = spawn(CAIRND, ['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--blobs', blobs], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CAIRN_ADMIN_TOKEN: 'x'.repeat(40) } });
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try { if ((await fetch(`${url}/readyz`)).ok) break; } catch { /* not yet */ }
  if (i > 300) throw new Error('cairnd did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const browser = await launch();
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  for (const [label, tok] of [['signed out (public catalog)', null], ['signed in (org bench + public)', token]]) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (tok) await ctx.addInitScript((t) => localStorage.setItem('cairn.token', t), tok);
    const page = await ctx.newPage();
    const fcp = [], res = [], fac = [];
    let total = '';
    for (let i = 0; i < runs + 1; i++) {
      await page.goto(`${url}/`);
      await page.waitForFunction(() => performance.getEntriesByName('cairn-results').length && performance.getEntriesByName('cairn-facets').length);
      const m = await page.evaluate(() => ({
        fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
        res: performance.getEntriesByName('cairn-results')[0].startTime,
        fac: performance.getEntriesByName('cairn-facets')[0].startTime,
        total: document.getElementById('count').textContent,
      }));
      total = m.total;
      if (i === 0) continue; // the first load warms caches (browser and server)
      fcp.push(m.fcp); res.push(m.res); fac.push(m.fac);
    }
    console.log(`${label}: ${total}; median of ${runs}: first contentful paint ${median(fcp).toFixed(0)} ms, ` +
      `results on screen ${median(res).toFixed(0)} ms, facet counts on screen ${median(fac).toFixed(0)} ms (max results ${Math.max(...res).toFixed(0)} ms)`);
    await ctx.close();
  }
} finally {
  await browser.close();
  srv.kill('SIGTERM');
}
