// Small DOM and formatting helpers. Text always goes in as text nodes (never innerHTML), so
// nothing from the API can become markup; the one exception is the model card, whose HTML the
// server has sanitized and the Content-Security-Policy keeps inert.

/** h('tag.class#id', {attrs, on*: handlers}, ...children) */
export function h(sel, attrs = {}, ...kids) {
  const [tag, ...rest] = sel.split(/(?=[.#])/);
  const el = document.createElement(tag || 'div');
  for (const r of rest) {
    if (r[0] === '.') el.classList.add(r.slice(1));
    else el.id = r.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    kids.unshift(attrs);
    attrs = {};
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

/** Replaces el's children. */
export function mount(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = Number(n);
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return `${i ? (Number.isInteger(x) ? x : x.toFixed(x < 10 ? 2 : 1)) : x} ${u[i]}`;
}

export function fmtCount(n) {
  if (n === null || n === undefined) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function fmtDate(s) {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString().slice(0, 10);
}

export function timeEl(s) {
  return s ? h('time', { datetime: s, title: s }, fmtDate(s)) : '—';
}

/** SemVer 2.0.0 precedence: negative if a < b. Build metadata ignored. */
export function semverCmp(a, b) {
  const parse = (v) => {
    const [core, pre] = String(v).split('+')[0].split(/-(.*)/s);
    return { n: core.split('.').map(Number), pre: pre ? pre.split('.') : [] };
  };
  const x = parse(a), y = parse(b);
  for (let i = 0; i < 3; i++) if (x.n[i] !== y.n[i]) return (x.n[i] || 0) - (y.n[i] || 0);
  if (!x.pre.length || !y.pre.length) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i], q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p), qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** A live region announces status changes to screen readers. */
export function announce(text) {
  const r = document.getElementById('live');
  if (r) r.textContent = text;
}

/** A button that copies text, and says so. */
export function copyButton(text, label, caption = 'Copy') {
  const b = h('button.copy', { type: 'button', 'aria-label': label, title: label, 'data-copy': text }, caption);
  b.addEventListener('click', async () => {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else legacyCopy(text); // plain http on a LAN address has no Clipboard API
      b.textContent = 'Copied';
      announce('Copied to the clipboard');
    } catch {
      b.textContent = 'Copy failed';
    }
    setTimeout(() => { b.textContent = caption; }, 1500);
  });
  return b;
}

function legacyCopy(text) {
  const ta = h('textarea', { readonly: true, 'aria-hidden': 'true', class: 'sr-only' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy refused');
}

/** A command line with its copy button. */
export function command(text, label) {
  return h('div.cmd', h('code', text), copyButton(text, label));
}

export const spinner = (text = 'Loading…') => h('p.loading', { role: 'status' }, h('span.spin', { 'aria-hidden': 'true' }), text);
export const errorBox = (text) => h('p.error', { role: 'alert' }, text);
export const empty = (text) => h('p.empty', text);

export function chip(label, value, href) {
  if (value === null || value === undefined || value === '') return null;
  const inner = [h('span.chip-k', label), h('span.chip-v', String(value))];
  return href ? h('a.chip', { href }, inner) : h('span.chip', inner);
}

export function badge(lifecycle) {
  return h(`span.badge.badge-${lifecycle}`, lifecycle);
}

/** Sets the document title and moves focus to the main heading for screen readers. */
export function titled(text) {
  document.title = text ? `${text} · cairn` : 'cairn';
}
