// GET /metrics (API.md §11): Prometheus text that moves with traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, mkOrgWithTokens } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

const scrape = async () => {
  const r = await fetch(`${srv.url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') || '', /^text\/plain/);
  return r.text();
};
const value = (text, re) => { const m = text.match(re); return m ? Number(m[1]) : 0; };

test('request counters, histograms, bytes and blob store size follow the traffic', async () => {
  const o = await mkOrgWithTokens(srv);
  const t0 = await scrape();
  for (let i = 0; i < 3; i++) assert.equal((await api(srv, 'GET', '/healthz')).status, 200);
  assert.equal((await api(srv, 'GET', '/api/v1/nope')).status, 404);
  assert.equal((await api(srv, 'POST', `/api/v1/org/${o.slug}/models/m/versions`, { token: o.writer, body: { version: '1.0.0' } })).status, 201);
  const body = Buffer.alloc(4096, 7);
  const put = await fetch(`${srv.url}/api/v1/org/${o.slug}/models/m/versions/1.0.0/files/w.bin`, { method: 'PUT', body, headers: { authorization: `Bearer ${o.writer}` } });
  assert.equal(put.status, 201);
  const t1 = await scrape();
  const hz = /cairn_http_requests_total\{route="healthz",status="2xx"\} (\d+)/;
  assert.equal(value(t1, hz) - value(t0, hz), 3);
  assert.ok(value(t1, /cairn_http_requests_total\{route="unmatched",status="4xx"\} (\d+)/) >= 1);
  assert.match(t1, /cairn_http_request_duration_seconds_bucket\{route="healthz",le="\+Inf"\} \d+/);
  assert.match(t1, /cairn_http_request_duration_seconds_count\{route="files.put"\} 1/);
  assert.ok(value(t1, /cairn_http_received_bytes_total (\d+)/) - value(t0, /cairn_http_received_bytes_total (\d+)/) >= 4096);
  assert.equal(value(t1, /cairn_blob_store_bytes (\d+)/), 4096);
  assert.equal(value(t1, /cairn_blob_store_blobs (\d+)/), 1);
  assert.equal(value(t1, /cairn_uploads_in_flight (-?\d+)/), 0, 'finished uploads leave the gauge');
});
