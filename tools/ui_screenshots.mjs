// tools/ui_screenshots.mjs: remakes the README's screenshots (docs/screenshots/) from a
// freshly seeded cairnd (build/cairnd) in headless Chromium: `node tools/ui_screenshots.mjs`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, openPage, seeded, ready, results, must } from '../tests/ui/lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { s, acme, beta } = await seeded();
const card = `# Llama chat\n\nA 1B-parameter chat model tuned for short, helpful answers.\n\n## Use\n\n\`\`\`sh\ncairn pull acme/llama-chat@1.2.0\n\`\`\`\n\n## Training\n\nFine-tuned on public instruction data. Evaluated on MT-bench.\n`;
await must(s, 'PATCH', '/api/v1/org/acme/models/llama-chat', { token: acme.writer, body: { description: card, pretty_name: 'Llama Chat 1B' } }, 200);
for (const [org, name, vs] of [[acme, 'llama-chat', ['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc.1']], [acme, 'whisper-tiny', ['0.3.0']], [beta, 'vision-net', ['3.1.0']], [beta, 'mistral-chat', ['0.9.2']]]) {
  for (const v of vs) {
    const M = `/api/v1/org/${org.slug}/models/${name}`;
    await must(s, 'POST', `${M}/versions`, { token: org.writer, body: { version: v, summary: v === '1.2.0' ? 'Longer context (8k)' : undefined } });
    if (v.includes('rc')) continue;
    await must(s, 'PUT', `${M}/versions/${v}/files/model.bin`, { token: org.writer, rawBody: Buffer.alloc(1000 + v.length * 3000, v) }, 201);
    await must(s, 'PUT', `${M}/versions/${v}/files/tokenizer.json`, { token: org.writer, rawBody: Buffer.from(`{"v":"${v}"}`) }, 201);
    await must(s, 'POST', `${M}/versions/${v}/publish`, { token: org.writer }, 200);
  }
}
await must(s, 'POST', '/api/v1/org/acme/models/llama-chat/versions/1.0.0/deprecate', { token: acme.writer }, 200);
await must(s, 'PUT', '/api/v1/org/acme/models/llama-chat/aliases/stable', { token: acme.writer, body: { version: '1.1.0' } }, 200);
const b = await launch();
let p = await openPage(b, s, { token: acme.reader, viewport: { width: 1200, height: 760 } });
await p.goto('/?task_categories=text-generation'); await ready(p); await results(p); await p.waitForSelector('.facet');
await p.screenshot({ path: path.join(ROOT, 'docs/screenshots/browser.png') });
p = await openPage(b, s, { token: acme.reader, viewport: { width: 1200, height: 1000 }, colorScheme: 'dark' });
await p.goto('/ui/models/acme/llama-chat'); await ready(p); await p.waitForSelector('#versions');
await p.screenshot({ path: path.join(ROOT, 'docs/screenshots/model-dark.png') });
// Telemetry: three devices, 600 inference events over the last hour, a training round.
for (const d of ['pixel-a', 'pixel-b', 'jetson-1']) await must(s, 'POST', '/api/v1/org/acme/devices/heartbeat', { token: acme.reader, body: { device_id: d } }, 200);
const now = Date.now();
const events = Array.from({ length: 600 }, (_, i) => {
  const v = i % 3 ? '1.2.0' : '1.1.0';
  const wave = 1 + 0.3 * Math.sin(i / 40);
  return { model: 'llama-chat', version: v, device_id: ['pixel-a', 'pixel-b', 'jetson-1'][i % 3], ts: now - 58 * 60e3 + i * 5600,
    latency_ms: (v === '1.1.0' ? 42 : 27) * wave + (i % 17) * 1.5 + (i % 50 === 0 ? 60 : 0), ok: i % (v === '1.1.0' ? 12 : 31) !== 0 };
});
await must(s, 'POST', '/api/v1/org/acme/telemetry/inference', { token: acme.reader, body: { events } }, 200);
for (const [v, n, acc] of [['1.1.0', 120, 0.79], ['1.2.0', 200, 0.84], ['1.2.0', 90, 0.86]]) {
  await must(s, 'POST', `/api/v1/org/acme/models/llama-chat/versions/${v}/training-updates`, { token: acme.reader, body: { device_id: 'pixel-a', sample_count: n, metrics: { accuracy: acc } } }, 201);
}
p = await openPage(b, s, { token: acme.reader, viewport: { width: 1200, height: 1000 } });
await p.goto('/ui/models/acme/llama-chat'); await ready(p);
await p.selectOption('#telemetry-window', '1h');
await p.waitForSelector('#telemetry-body[aria-busy="false"] #latency-chart');
await p.locator('#telemetry').screenshot({ path: path.join(ROOT, 'docs/screenshots/telemetry.png') });
await b.close(); await s.stop();
