// The UI's pure modules, run in node: the incremental SHA-256 that resumable uploads rely on
// (against node's crypto, across block boundaries and odd piece sizes, clone()), and the
// SemVer ordering of the version timeline (the spec's own example chain).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Sha256 } from '../../web/sha256.js';
import { semverCmp } from '../../web/dom.js';

test('Sha256 matches node crypto for every length around the block edges, fed in odd pieces', () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 65_537, 1_000_003]) {
    const b = randomBytes(n);
    const h = new Sha256();
    for (let i = 0, k = 1; i < n; i += k, k = (k * 7) % 97 + 1) h.update(b.subarray(i, Math.min(n, i + k)));
    assert.equal(h.hex(), createHash('sha256').update(b).digest('hex'), `length ${n}`);
  }
  assert.equal(new Sha256().update(new TextEncoder().encode('abc')).hex(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('Sha256.clone() forks the state: a retried piece is hashed once', () => {
  const a = randomBytes(100), b = randomBytes(70);
  const h = new Sha256().update(a);
  const saved = h.clone();
  h.update(randomBytes(33)); // a piece that failed on the wire
  const again = saved.update(b);
  assert.equal(again.hex(), createHash('sha256').update(Buffer.concat([a, b])).digest('hex'));
});

test('semverCmp orders versions by SemVer 2.0.0 precedence', () => {
  const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0', '2.0.0-rc.1', '2.0.0'];
  const shuffled = [7, 2, 11, 0, 9, 4, 1, 10, 6, 3, 8, 5].map((i) => chain[i]);
  assert.deepEqual(shuffled.sort(semverCmp), chain);
  assert.deepEqual(chain.slice().reverse().sort(semverCmp), chain);
  assert.equal(semverCmp('1.0.0+build.5', '1.0.0+build.9'), 0, 'build metadata is ignored');
  assert.ok(semverCmp('1.0.0-rc.1+b', '1.0.0') < 0);
});

test('web/vendor/uplot/ is the pinned uplot package, byte for byte, and the build embeds it', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const root = path.join(import.meta.dirname, '..', '..');
  const pin = JSON.parse(fs.readFileSync(path.join(root, 'tests', 'package.json'), 'utf8')).dependencies.uplot;
  assert.match(pin, /^\d+\.\d+\.\d+$/, 'pinned exactly');
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'tests', 'package-lock.json'), 'utf8'));
  assert.equal(lock.packages['node_modules/uplot'].version, pin, 'the lock file agrees');
  const pkg = path.join(root, 'tests', 'node_modules', 'uplot');
  assert.equal(JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version, pin, 'installed by tools/deps.sh test');
  for (const [mine, theirs] of [['uPlot.esm.js', 'dist/uPlot.esm.js'], ['uPlot.min.css', 'dist/uPlot.min.css'], ['LICENSE', 'LICENSE']]) {
    const a = fs.readFileSync(path.join(root, 'web', 'vendor', 'uplot', mine));
    const b = fs.readFileSync(path.join(pkg, theirs));
    assert.equal(createHash('sha256').update(a).digest('hex'), createHash('sha256').update(b).digest('hex'), `${mine} is ${theirs} of uplot ${pin}`);
  }
  assert.match(fs.readFileSync(path.join(root, 'web', 'vendor', 'uplot', 'README.md'), 'utf8'), new RegExp(`uplot@${pin.replace(/\./g, '\\.')}`), 'the note names the version');
  const meson = fs.readFileSync(path.join(root, 'meson.build'), 'utf8');
  for (const f of ['web/devices.js', 'web/vendor/uplot/uPlot.esm.js', 'web/vendor/uplot/uPlot.min.css']) assert.ok(meson.includes(`'${f}'`), `meson.build embeds ${f}`);
});
