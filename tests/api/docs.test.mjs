// The repository's own HTTP reference stays true to the code: docs/api.md's route sections are
// what tools/apiref.py renders from the built-in OpenAPI document, and no document links to a
// file outside the repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CAIRND, REPO } from './harness.mjs';

test('docs/api.md is rendered from the current openapi.yaml', () => {
  const doc = execFileSync(CAIRND, ['openapi'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const r = spawnSync('python3', [path.join(REPO, 'tools', 'apiref.py'), '-', path.join(REPO, 'docs', 'api.md'), '--check'],
    { input: doc, encoding: 'utf8' });
  assert.equal(r.status, 0, `apiref --check: ${r.stderr} (run \`make docs\`)`);
  const text = fs.readFileSync(path.join(REPO, 'docs', 'api.md'), 'utf8');
  for (const p of Object.keys(JSON.parse(doc).paths)) assert.ok(text.includes(p), `docs/api.md lacks ${p}`);
});

test('README and docs/ link only files inside the repository', () => {
  const files = ['README.md', ...fs.readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const bad = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(REPO, f), 'utf8');
    for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // absolute URLs (none point at ../shared)
      const abs = path.resolve(path.dirname(path.join(REPO, f)), target);
      if (!abs.startsWith(REPO + path.sep) || !fs.existsSync(abs)) bad.push(`${f}: ${target}`);
    }
    if (/\.\.\/shared\//.test(text)) bad.push(`${f}: mentions ../shared/`);
  }
  assert.deepEqual(bad, []);
});
