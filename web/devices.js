// The model page's edge views, for members of the model's org (the routes are org-private):
// Devices (compatibility over every device profile with the recommended optimization target,
// and the optimization plan of a chosen device), Telemetry (latency percentiles and error rate
// over a chosen window, by version, and fleet health) and Training (on-device training updates
// per version). Charts are uPlot (web/vendor/uplot/, pinned and vendored: no CDN).
import { get, call, enc, errorText } from './api.js';
import { h, mount, fmtBytes, fmtCount, timeEl, spinner, errorBox, empty, semverCmp } from './dom.js';
import uPlot from './vendor/uplot/uPlot.esm.js';

if (!document.querySelector('link[data-uplot]')) {
  document.head.append(h('link', { rel: 'stylesheet', href: '/ui/assets/vendor/uplot/uPlot.min.css', 'data-uplot': '1' }));
}

const base = (org, name) => `/api/v1/org/${enc(org)}/models/${enc(name)}`;
const pct = (x) => `${(x * 100).toFixed(x && x < 0.001 ? 3 : 1)}%`;
const ms = (x) => (x === null || x === undefined ? '—' : `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`);
const iso = (t) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

/* ---- Devices ---- */

export function devicesSection(org, name) {
  const body = h('div#devices-body', spinner('Checking devices…'));
  const sec = h('section.card.edge#devices', { 'aria-labelledby': 'devices-title' },
    h('h2#devices-title', 'Devices'),
    h('p.help', 'Whether the latest version runs on each device profile as it is, and the optimized target recommended for it (the first that fits, smallest accuracy loss).'),
    body);
  loadDevices(body, org, name);
  return sec;
}

async function loadDevices(body, org, name) {
  let profiles, compat, plan;
  try {
    [profiles, compat, plan] = await Promise.all([
      get('/api/v1/device-profiles'),
      call('POST', `${base(org, name)}/compatibility`, { body: {} }),
      get(`${base(org, name)}/optimization-plan`),
    ]);
  } catch (e) {
    mount(body, errorBox(`Device compatibility is not available: ${errorText(e)}`));
    return;
  }
  const byId = Object.fromEntries(profiles.items.map((p) => [p.id, p]));
  const planOf = Object.fromEntries((plan.devices || []).map((d) => [d.device, d]));
  const rows = compat.devices.map((d, i) => ({ d, p: byId[d.device] || { id: d.device, name: d.device }, plan: planOf[d.device], i }));
  // Devices that run it as it is first, then those an optimized target fits, then the rest.
  const rank = (r) => (r.d.compatible ? 0 : r.plan && r.plan.recommended ? 1 : 2);
  rows.sort((a, b) => rank(a) - rank(b) || a.i - b.i);
  const target = (t) => (t ? `${t.quantization} · ${t.format} · ${fmtBytes(t.expected_size_bytes)}` : null);

  const sizing = h('p.help', `Version ${compat.version}: ${fmtCount(compat.parameter_count)} parameters (${compat.parameter_source === 'header' ? 'from the weights headers' : 'estimated from the size'}), ${compat.source_precision || 'unknown precision'}, ${compat.format || 'no format'}, ${fmtBytes(compat.size_bytes)}.`);
  const table = h('div.table-wrap', h('table.compat#compat-table',
    h('caption.sr-only', 'Compatibility of the latest version with every device profile'),
    h('thead', h('tr', h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Recommended target'),
      h('th', { scope: 'col' }, 'As is'), h('th.num', { scope: 'col' }, 'Memory needed / usable'), h('th', { scope: 'col' }, 'Notes'))),
    h('tbody', rows.map(({ d, p, plan: pl }) => h('tr', { 'data-device': d.device, 'data-compatible': String(d.compatible) },
      h('th', { scope: 'row' }, p.name || d.device, h('div.help', h('code', d.device))),
      h('td.rec', pl && pl.recommended ? target(pl.recommended) : h('span.muted', 'none fits')),
      h('td', d.compatible ? h('span.badge.badge-published', 'runs') : h('span.badge.badge-deprecated', 'no'),
        d.runtime ? h('div.help', `${d.runtime}${d.precision ? ` ${d.precision}` : ''}`) : null),
      h('td.num', `${fmtBytes(d.required_memory_bytes)} / ${fmtBytes(d.memory_headroom_bytes ?? (pl && pl.memory_headroom_bytes))}`),
      h('td.reasons', (d.reasons || []).length ? d.reasons.join('; ') : '—'))))));

  const select = h('select#plan-device', rows.map(({ d, p }) => h('option', { value: d.device }, p.name || d.device)));
  const planBox = h('div#plan');
  const showPlan = () => {
    const pl = planOf[select.value];
    if (!pl) { mount(planBox, empty('No plan for this device.')); return; }
    mount(planBox,
      (pl.targets || []).length ? h('div.table-wrap', h('table.plan',
        h('caption.sr-only', `Optimization targets for ${pl.name || pl.device}, recommended first`),
        h('thead', h('tr', h('th', { scope: 'col' }, 'Target'), h('th.num', { scope: 'col' }, 'Size'),
          h('th.num', { scope: 'col' }, 'Memory'), h('th.num', { scope: 'col' }, 'Accuracy Δ'), h('th', { scope: 'col' }, 'Fits'))),
        h('tbody', pl.targets.map((t) => h('tr', { 'data-recommended': String(!!t.recommended) },
          h('th', { scope: 'row' }, `${t.quantization} · ${t.format}`, t.recommended ? [' ', h('span.badge.badge-published', 'recommended')] : null),
          h('td.num', fmtBytes(t.expected_size_bytes)),
          h('td.num', fmtBytes(t.required_memory_bytes)),
          h('td.num', t.expected_accuracy_delta.toFixed(3)),
          h('td', t.fits ? 'yes' : 'no')))))) : empty('No candidate targets.'),
      (pl.reasons || []).length ? h('p.help', pl.reasons.join('; ')) : null);
  };
  select.addEventListener('change', showPlan);
  mount(body, sizing, table,
    h('h3', 'Optimization plan'),
    h('div.field.inline', h('label', { for: 'plan-device' }, 'Device'), select),
    planBox);
  showPlan();
}

/* ---- Telemetry ---- */

const WINDOWS = [['1h', 'Last hour', 3600e3], ['24h', 'Last 24 hours', 86400e3], ['7d', 'Last 7 days', 7 * 86400e3], ['30d', 'Last 30 days', 30 * 86400e3]];
const BUCKETS = 12; // the API answers one window at a time: the charts ask for 12 sub-windows
const PALETTE = ['#2b7bb9', '#d9730d', '#2f9e5b', '#b8457d', '#7a5cc4', '#8c6d1f'];
const DASH = { p50: undefined, p95: [6, 4], p99: [2, 3] };

export function telemetrySection(org, name) {
  const select = h('select#telemetry-window', WINDOWS.map(([v, label]) => h('option', { value: v, selected: v === '24h' }, label)));
  const body = h('div#telemetry-body');
  const sec = h('section.card.edge#telemetry', { 'aria-labelledby': 'telemetry-title' },
    h('h2#telemetry-title', 'Telemetry'),
    h('div.field.inline', h('label', { for: 'telemetry-window' }, 'Window'), select),
    body);
  let gen = 0;
  const load = () => loadTelemetry(body, org, name, WINDOWS.find((w) => w[0] === select.value)[2], ++gen, () => gen);
  select.addEventListener('change', load);
  load();
  return sec;
}

async function loadTelemetry(body, org, name, span, mine, current) {
  body.setAttribute('aria-busy', 'true');
  mount(body, spinner('Loading telemetry…'));
  const until = Math.ceil(Date.now() / 60e3) * 60e3;
  const since = until - span;
  const step = span / BUCKETS;
  const q = (a, b) => get(`${base(org, name)}/telemetry?since=${enc(iso(a))}&until=${enc(iso(b))}`);
  let all, parts;
  try {
    all = await q(since, until);
    parts = all.sessions ? await Promise.all(Array.from({ length: BUCKETS }, (_, i) => q(since + i * step, since + (i + 1) * step))) : [];
  } catch (e) {
    if (mine !== current()) return;
    body.setAttribute('aria-busy', 'false');
    mount(body, errorBox(`Telemetry is not available: ${errorText(e)}`));
    return;
  }
  if (mine !== current()) return; // a newer window was chosen meanwhile
  body.setAttribute('aria-busy', 'false');
  const f = all.fleet || {};
  const fleet = h('div.fleet#fleet', { 'aria-label': 'Fleet health' },
    stat('fleet-total', f.devices_total, 'devices'), stat('fleet-healthy', f.healthy, 'healthy', 'ok'),
    stat('fleet-stale', f.stale, 'stale', 'warn'), stat('fleet-offline', f.offline, 'offline', 'err'));
  const fleetNote = h('p.help', 'Fleet health of the whole organization by heartbeat age: healthy under 5 minutes, stale under an hour, offline after.');
  if (!all.sessions) {
    mount(body, h('h3', 'Fleet'), fleet, fleetNote, h('h3', 'Inference'), empty('No inference events in this window.'));
    return;
  }
  const versions = Object.keys(all.by_version || {}).sort((a, b) => semverCmp(b, a));
  const summary = h('div.fleet#telemetry-summary',
    stat('t-sessions', all.sessions, 'sessions'), stat('t-errors', pct(all.error_rate), 'error rate'),
    stat('t-p50', ms(all.latency_ms.p50), 'p50'), stat('t-p95', ms(all.latency_ms.p95), 'p95'), stat('t-p99', ms(all.latency_ms.p99), 'p99'));
  const xs = Array.from({ length: BUCKETS }, (_, i) => Math.round((since + (i + 0.5) * step) / 1000));
  const val = (i, v, fn) => { const s = parts[i].by_version && parts[i].by_version[v]; return s && s.sessions ? fn(s) : null; };
  const latSeries = [], latData = [], errSeries = [], errData = [];
  versions.forEach((v, k) => {
    const color = PALETTE[k % PALETTE.length];
    for (const p of ['p50', 'p95', 'p99']) {
      latSeries.push({ label: `${v} ${p}`, stroke: color, dash: DASH[p], width: 2, spanGaps: false, points: { show: true, size: 4 }, value: (u, y) => (y == null ? '—' : ms(y)) });
      latData.push(xs.map((_, i) => val(i, v, (s) => s.latency_ms[p])));
    }
    errSeries.push({ label: `${v} error rate`, stroke: color, width: 2, points: { show: true, size: 4 }, value: (u, y) => (y == null ? '—' : pct(y)) });
    errData.push(xs.map((_, i) => val(i, v, (s) => s.error_rate)));
  });
  const latChart = chartBox('latency-chart', `Latency p50, p95 and p99 over the window, by version (${versions.join(', ')})`, 'ms', [xs, ...latData], latSeries);
  const errChart = chartBox('error-chart', `Error rate over the window, by version (${versions.join(', ')})`, '%', [xs, ...errData], errSeries, (v) => pct(v));
  const table = h('div.table-wrap', h('table#telemetry-versions',
    h('caption.sr-only', 'Inference telemetry over the whole window, by version'),
    h('thead', h('tr', h('th', { scope: 'col' }, 'Version'), ...['Sessions', 'Errors', 'Error rate', 'p50', 'p95', 'p99', 'Mean'].map((t) => h('th.num', { scope: 'col' }, t)))),
    h('tbody', versions.map((v) => {
      const s = all.by_version[v];
      return h('tr', { 'data-version': v }, h('th', { scope: 'row' }, v), h('td.num', fmtCount(s.sessions)), h('td.num', fmtCount(s.errors)),
        h('td.num', pct(s.error_rate)), h('td.num', ms(s.latency_ms.p50)), h('td.num', ms(s.latency_ms.p95)), h('td.num', ms(s.latency_ms.p99)), h('td.num', ms(s.latency_ms.mean)));
    }))));
  mount(body, h('h3', 'Fleet'), fleet, fleetNote,
    h('h3', 'Inference'), summary,
    h('div.charts', h('div', h('h4', 'Latency'), latChart.el), h('div', h('h4', 'Error rate'), errChart.el)),
    h('h4', 'By version, whole window'), table,
    h('p.help', `Window ${all.window.since} to ${all.window.until}, in ${BUCKETS} steps of ${Math.round(step / 60e3)} minutes; a gap is a step without events of that version.`));
  latChart.draw();
  errChart.draw();
}

function stat(id, value, label, tone) {
  return h(`div.stat${tone ? `.tone-${tone}` : ''}`, h(`b#${id}`, value === undefined || value === null ? '—' : String(value)), h('span', label));
}

/** A uPlot chart in a box that follows its width; the series it draws are on data-series. */
function chartBox(id, label, unit, data, series, fmt) {
  const el = h(`figure.chart#${id}`, { 'data-series': JSON.stringify(series.map((s) => s.label)), 'data-points': JSON.stringify(data.slice(1).map((d) => d.filter((x) => x !== null).length)) },
    h('figcaption.sr-only', `${label}. The table below has the same numbers.`));
  let u = null;
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--muted').trim() || '#5a6360';
  const grid = css.getPropertyValue('--line').trim() || '#d9ddda';
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const width = () => Math.max(240, Math.floor(el.clientWidth || 320));
  const ro = new ResizeObserver(() => { if (u && Math.abs(u.width - width()) > 2) u.setSize({ width: width(), height: 220 }); });
  return {
    el,
    draw() {
      u = new uPlot({
        width: width(), height: 220,
        series: [{ label: 'time' }, ...series],
        axes: [{ ...axis }, { ...axis, size: 64, values: (self, ticks) => ticks.map((t) => (fmt ? fmt(t) : `${+t.toFixed(2)} ${unit}`)) }],
        scales: { y: { range: (self, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      }, data, el);
      u.root.querySelector('canvas')?.setAttribute('aria-hidden', 'true');
      // uPlot's legend hides or shows a series on a click of its name: the keyboard too.
      u.root.querySelectorAll('.u-legend tr.u-series').forEach((row, i) => {
        const th = row.querySelector('th');
        if (!i || !th) return; // the time row
        const sync = () => th.setAttribute('aria-pressed', String(!row.classList.contains('u-off')));
        Object.assign(th, { tabIndex: 0, title: 'Show or hide this series' });
        th.setAttribute('role', 'button');
        sync();
        th.addEventListener('click', sync); // after uPlot's own listener, which toggled the row
        th.addEventListener('keydown', (ev) => {
          if (ev.key !== 'Enter' && ev.key !== ' ') return;
          ev.preventDefault();
          th.click();
        });
      });
      ro.observe(el);
    },
  };
}

/* ---- Training ---- */

export function trainingSection(org, name) {
  const body = h('div#training-body', spinner('Loading training updates…'));
  const sec = h('section.card.edge#training', { 'aria-labelledby': 'training-title' },
    h('h2#training-title', 'Training'),
    h('p.help', 'On-device and federated training updates reported for each version: rounds, samples, devices and the latest metrics.'),
    body);
  (async () => {
    let st;
    try {
      st = await get(`${base(org, name)}/training-stats`);
    } catch (e) {
      mount(body, errorBox(`Training statistics are not available: ${errorText(e)}`));
      return;
    }
    const items = st.versions || [];
    if (!items.length) { mount(body, empty('No training updates yet.')); return; }
    const names = [...new Set(items.flatMap((x) => Object.keys(x.latest_metrics || {})))].sort();
    const select = h('select#training-version', items.map((x) => h('option', { value: x.version }, x.version)));
    const detail = h('div#training-metrics');
    let gen = 0;
    const showVersion = async () => {
      const mine = ++gen;
      detail.setAttribute('aria-busy', 'true');
      mount(detail, spinner());
      let v;
      try {
        v = await get(`${base(org, name)}/versions/${enc(select.value)}/training-stats`);
      } catch (e) {
        if (mine === gen) { detail.setAttribute('aria-busy', 'false'); mount(detail, errorBox(errorText(e))); }
        return;
      }
      if (mine !== gen) return;
      detail.setAttribute('aria-busy', 'false');
      const mets = Object.entries(v.metrics || {}).sort(([a], [b]) => (a < b ? -1 : 1));
      const f = (x) => (typeof x === 'number' ? String(+x.toFixed(4)) : '—');
      mount(detail, mets.length ? h('div.table-wrap', h('table#training-metric-table', { 'data-version': select.value },
        h('caption.sr-only', `Distribution of each metric over the training updates of ${select.value}`),
        h('thead', h('tr', h('th', { scope: 'col' }, 'Metric'), ...['Updates', 'p50', 'p95', 'p99', 'Mean', 'Min', 'Max'].map((t) => h('th.num', { scope: 'col' }, t)))),
        h('tbody', mets.map(([k, m]) => h('tr', { 'data-metric': k }, h('th', { scope: 'row' }, k), h('td.num', fmtCount(m.count)),
          ...['p50', 'p95', 'p99', 'mean', 'min', 'max'].map((q) => h('td.num', f(m[q])))))))) : empty('No metrics reported for this version.'),
        h('p.help', `${fmtCount(v.updates)} updates, ${fmtCount(v.samples)} samples from ${fmtCount(v.devices)} devices.`));
    };
    mount(body, h('div.table-wrap', h('table#training-table',
      h('caption.sr-only', 'Training updates per version'),
      h('thead', h('tr', h('th', { scope: 'col' }, 'Version'), h('th.num', { scope: 'col' }, 'Updates'), h('th.num', { scope: 'col' }, 'Samples'),
        h('th.num', { scope: 'col' }, 'Devices'), names.map((n) => h('th.num.metric', { scope: 'col' }, n)), h('th', { scope: 'col' }, 'Latest'))),
      h('tbody', items.map((x) => h('tr', { 'data-version': x.version },
        h('th', { scope: 'row' }, x.version), h('td.num', fmtCount(x.updates)), h('td.num', fmtCount(x.samples)), h('td.num', fmtCount(x.devices)),
        names.map((n) => h('td.num', x.latest_metrics && typeof x.latest_metrics[n] === 'number' ? String(+x.latest_metrics[n].toFixed(4)) : '—')),
        h('td', timeEl(x.latest_at))))))),
    h('p.help', 'Metric columns show the latest value reported for each version.'),
    h('h3', 'Metrics of a version'),
    h('div.field.inline', h('label', { for: 'training-version' }, 'Version'), select),
    detail);
    select.addEventListener('change', showVersion);
    showVersion();
  })();
  return sec;
}
