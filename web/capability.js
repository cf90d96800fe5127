// The capability page: a trust card for review before install (seed 003): publisher, publish
// date, lifecycle, components grouped by type with their counts and descriptions, and every
// file with its SHA-256. Versions newest first; writers get the same manage tools as models.
import { auth, get, can, errorText, enc, artPath, mapLimit } from './api.js';
import { h, mount, fmtBytes, timeEl, semverCmp, chip, badge, command, copyButton, spinner, errorBox, empty, titled } from './dom.js';
import { safeHtml, pullCommand } from './model.js';

const TYPES = ['agent', 'tool', 'skill', 'mcp_server', 'worker'];
const NAMES = { agent: ['agent', 'agents'], tool: ['tool', 'tools'], skill: ['skill', 'skills'], mcp_server: ['MCP server', 'MCP servers'], worker: ['worker', 'workers'] };
const typeName = (t) => { const n = (NAMES[t] || [t, t])[1]; return n[0].toUpperCase() + n.slice(1); };
const countOf = (t, n) => `${n} ${(NAMES[t] || [t, t])[n === 1 ? 0 : 1]}`;

/** Components grouped by type, in a fixed order, each group with its count. */
export function componentGroups(components, counts = {}) {
  const groups = new Map();
  for (const c of components || []) {
    if (!groups.has(c.type)) groups.set(c.type, []);
    groups.get(c.type).push(c);
  }
  const order = [...TYPES, ...[...groups.keys()].filter((t) => !TYPES.includes(t))];
  return order.filter((t) => groups.has(t) || counts[t]).map((t) => ({ type: t, count: counts[t] ?? (groups.get(t) || []).length, items: groups.get(t) || [] }));
}

function trustCard(card, org, name) {
  const groups = componentGroups(card.components, card.component_counts);
  return h('section.card#trust-card', { 'aria-labelledby': 'trust-title' },
    h('h2#trust-title', 'Trust card ', h('code', `${card.name}@${card.version}`), ' ', badge(card.lifecycle || 'published')),
    h('dl.kv',
      h('dt', 'Publisher'), h('dd#publisher', card.publisher_org),
      h('dt', 'Published'), h('dd#published-at', card.published_at ? timeEl(card.published_at) : 'not published (draft)'),
      (card.keywords || []).length ? [h('dt', 'Keywords'), h('dd', h('div.chips', card.keywords.map((k) => chip('keyword', k))))] : null,
      h('dt', 'Components'), h('dd', groups.length ? groups.map((g) => countOf(g.type, g.count)).join(' · ') : 'none declared')),
    h('h3.sub-h', 'Components'),
    groups.length ? h('div.components', groups.map((g) => h('section.component-group', { 'data-type': g.type, 'aria-label': typeName(g.type) },
      h('h3', typeName(g.type), h('span.count-badge', { 'data-count': g.count }, String(g.count))),
      h('ul', g.items.map((c) => h('li', h('strong', c.name), c.path ? [' ', h('code', c.path)] : null, c.description ? h('div.help', c.description) : null)))))) : empty('This version declares no components (no capability.json).'),
    h('h3.sub-h', 'Files'),
    (card.files || []).length ? h('div.table-wrap', h('table.files#trust-files',
      h('thead', h('tr', h('th', { scope: 'col' }, 'Path'), h('th.num', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'SHA-256'))),
      h('tbody', card.files.map((f) => h('tr', { 'data-path': f.path }, h('td', h('code', f.path)), h('td.num', fmtBytes(f.size_bytes)),
        h('td', h('span.sha', f.sha256), ' ', copyButton(f.sha256, `Copy the SHA-256 of ${f.path}`))))))) : empty('No files.'),
    card.lifecycle !== 'draft' ? command(pullCommand(org, name, card.version), `Copy the cairn pull command for ${card.version}`) : null);
}

export async function capabilityView(el, org, name) {
  const kind = 'capabilities';
  titled(`${org}/${name}`);
  mount(el, spinner());
  const base = artPath(kind, org, name);
  if (!auth.token) { // only the catalog is public: the summary, without files
    try {
      const list = await get(`/api/v1/catalog/${kind}?search=${enc(name)}&limit=50`);
      const it = list.items.find((x) => x.canonical_name === `${org}/${name}`);
      if (!it) throw new Error(`capability '${org}/${name}' not found in the public catalog`);
      const groups = componentGroups(it.components, it.component_counts);
      mount(el, h('div.detail-head', h('div', h('h1', it.pretty_name || name), h('p.sub', h('code', `${org}/${name}`)), it.summary ? h('p', it.summary) : null)),
        h('section.card#trust-card', h('h2', 'Components'), groups.length ? h('div.components', groups.map((g) => h('section.component-group', { 'data-type': g.type },
          h('h3', typeName(g.type), h('span.count-badge', { 'data-count': g.count }, String(g.count))),
          h('ul', g.items.map((c) => h('li', h('strong', c.name), c.description ? h('div.help', c.description) : null)))))) : empty('No components declared.')),
        h('p.notice', 'File digests and the full trust card are shown to signed-in users. ', h('a', { href: `/ui/signin?next=${enc(location.pathname)}` }, 'Sign in')));
    } catch (e) {
      mount(el, h('h1', `${org}/${name}`), errorBox(errorText(e)));
    }
    return;
  }
  let art, list, docs;
  try {
    [art, list, docs] = await Promise.all([get(base), get(`${base}/versions`), get(`${base}/docs`).catch(() => null)]);
  } catch (e) {
    const restore = can('admin', org) ? (await import('./manage.js')).restoreBox(kind, org, name, () => capabilityView(el, org, name)) : null;
    mount(el, h('h1', `${org}/${name}`), errorBox(errorText(e)), restore);
    return;
  }
  const details = await mapLimit(list.versions.slice(0, 200), 6, (v) => get(`${base}/versions/${enc(v)}`).catch(() => ({ version: v, lifecycle: 'unknown' })));
  const versions = details.sort((a, b) => semverCmp(b.version, a.version));
  const wanted = new URLSearchParams(location.search).get('version');
  const current = versions.find((v) => v.version === wanted) || versions.find((v) => v.lifecycle === 'published') || versions[0];
  const manage = can('writer', org) ? await import('./manage.js') : null;
  const reload = () => capabilityView(el, org, name);
  let cardBox = empty('No versions yet.');
  if (current) {
    try {
      cardBox = trustCard(await get(`${base}/versions/${enc(current.version)}/trust-card`), org, name);
    } catch (e) {
      cardBox = errorBox(errorText(e));
    }
  }
  mount(el,
    h('div.detail-head',
      h('div', h('h1', art.pretty_name || name),
        h('p.sub', h('code', `${org}/${name}`), ' ', art.is_public ? h('span.badge.badge-published', 'public') : h('span.badge.badge-private', 'private')),
        art.summary ? h('p', art.summary) : null,
        h('div.chips', chip('license', art.license), (art.tags || []).map((t) => chip('tag', t)))),
      h('div.stats', h('div.stat', h('b', String(art.download_count ?? 0)), h('span', 'downloads')), h('div.stat', h('b', String(versions.length)), h('span', 'versions')))),
    h('div.detail',
      h('div', cardBox,
        docs && docs.html && docs.html.trim() ? h('section', h('h2', 'Description'), h('div.model-card', safeHtml(docs.html))) : null),
      h('div.side',
        h('section.card', { 'aria-labelledby': 'cv-title' }, h('h2#cv-title', 'Versions'),
          versions.length ? h('ol.timeline#versions', versions.map((v) => h(`li.${v.lifecycle}`, { 'data-version': v.version },
            h('div.ver-head', h('h3', v === current ? h('span', { 'aria-current': 'true' }, v.version) : h('a', { href: `${location.pathname}?version=${enc(v.version)}` }, v.version)), badge(v.lifecycle)),
            h('p.ver-dates', v.published_at ? h('span', 'published ', timeEl(v.published_at)) : h('span', 'created ', timeEl(v.created_at))),
            manage ? manage.versionTools(kind, org, name, v, `${base}/versions/${enc(v.version)}`, reload) : null))) : empty('No versions.')),
        manage ? manage.manageBox(kind, org, name, art, versions, {}, reload) : null)));
}
