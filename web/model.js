// The model page: card (the server's sanitized HTML), metadata chips, version timeline newest
// first with lifecycle badges and aliases, files with sizes and SHA-256, copyable `cairn pull`
// and `curl` commands, download counts; writers and admins also get the manage controls.
import { auth, get, can, errorText, enc, encPath, artPath, ApiError, mapLimit } from './api.js';
import { h, mount, fmtBytes, fmtCount, timeEl, semverCmp, chip, badge, command, copyButton, spinner, errorBox, empty, titled } from './dom.js';

/** Keeps only harmless markup of an already sanitized card (defence in depth: CSP too). */
export function safeHtml(html) {
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  for (const bad of doc.body.querySelectorAll('script,style,iframe,object,embed,link,meta,form,base,frame,frameset')) bad.remove();
  for (const el of doc.body.querySelectorAll('*')) {
    for (const a of [...el.attributes]) {
      const v = a.value.trim().toLowerCase();
      if (a.name.startsWith('on') || a.name === 'style' || a.name === 'srcdoc' || ((a.name === 'href' || a.name === 'src' || a.name === 'xlink:href') && /^(javascript|vbscript|data):/.test(v.replace(/\s/g, '')))) el.removeAttribute(a.name);
    }
    if (el.tagName === 'A') { el.setAttribute('rel', 'noopener noreferrer nofollow'); }
  }
  const frag = document.createDocumentFragment();
  frag.append(...doc.body.childNodes);
  return frag;
}

export function pullCommand(org, name, version) {
  return `cairn pull ${org}/${name}@${version}`;
}

export function curlCommand(kind, org, name, version, path) {
  return `curl -fL -H "Authorization: Bearer $CAIRN_TOKEN" -o ${JSON.stringify(path.split('/').pop())} '${location.origin}${artPath(kind, org, name)}/versions/${enc(version)}/files/${encPath(path)}'`;
}

/** Loads what a page about org/name shows. Signed out, only the public resolve route answers. */
async function loadModel(kind, org, name) {
  const base = artPath(kind, org, name);
  if (!auth.token) {
    const list = await get(`/api/v1/catalog/${kind}?search=${enc(name)}&limit=50`).catch(() => ({ items: [] }));
    const listed = list.items.find((x) => x.canonical_name === `${org}/${name}`);
    let r;
    try {
      r = await get(`/api/v1/resolve/${enc(org)}/${enc(name)}`);
    } catch (e) { // public but nothing published yet: the catalog still lists it
      if (!(e instanceof ApiError && e.status === 404 && listed)) throw e;
      return { art: listed, docs: null, versions: [], aliases: {}, public: true };
    }
    const versions = await mapLimit(r.versions, 6, async (v) => {
      const one = v.version === r.version ? r : await get(`/api/v1/resolve/${enc(org)}/${enc(name)}?version=${enc(v.version)}`).catch(() => null);
      return { version: v.version, lifecycle: v.lifecycle, packages: one ? one.packages.map((p) => ({ format: p.format, resources: p.resources })) : null };
    });
    const summary = listed || { name: `${org}/${name}`, framework: r.framework, task: r.task, size_category: r.size_category };
    return { art: { ...summary, canonical_name: `${org}/${name}`, org }, docs: null, versions, aliases: {}, public: true };
  }
  const [art, docs, list] = await Promise.all([get(base), get(`${base}/docs`), get(`${base}/versions`)]);
  const names = list.versions.slice(0, 200);
  const versions = await mapLimit(names, 6, (v) => get(`${base}/versions/${enc(v)}`).catch(() => ({ version: v, lifecycle: 'unknown', packages: [] })));
  const aliases = {};
  await Promise.all((art.aliases || []).map(async (a) => {
    try { aliases[a] = (await get(`${base}/versions/${enc(a)}`)).version; } catch { /* dangling */ }
  }));
  return { art, docs, versions, aliases };
}

export async function modelView(el, org, name, kind = 'models') {
  titled(`${org}/${name}`);
  mount(el, spinner());
  let data;
  try {
    data = await loadModel(kind, org, name);
  } catch (e) {
    titled('Not found');
    const restore = e instanceof ApiError && e.status === 404 && can('admin', org)
      ? (await import('./manage.js')).restoreBox(kind, org, name, () => modelView(el, org, name, kind)) : null;
    mount(el, h('h1', `${org}/${name}`), errorBox(errorText(e)), restore,
      !auth.token && e instanceof ApiError && e.status === 404 ? h('p', 'Private models are visible after you ', h('a', { href: `/ui/signin?next=${enc(location.pathname)}` }, 'sign in'), '.') : null);
    return;
  }
  const { art, docs } = data;
  const versions = data.versions.slice().sort((a, b) => semverCmp(b.version, a.version));
  const byVersion = {};
  for (const [a, v] of Object.entries(data.aliases)) (byVersion[v] = byVersion[v] || []).push(a);
  const latest = versions.find((v) => v.lifecycle === 'published');
  const write = can('writer', org);
  const manage = write ? await import('./manage.js') : null;
  const reload = () => modelView(el, org, name, kind);
  // Devices, telemetry and training are org-private routes: members of the org see them.
  const edge = kind === 'models' && can('reader', org) && !data.public ? await import('./devices.js') : null;
  const totalDownloads = art.download_count ?? versions.reduce((s, v) => s + (v.download_count || 0), 0);
  const paramCount = (versions.find((v) => v.parameter_count) || {}).parameter_count;

  const header = h('div.detail-head',
    h('div',
      h('h1', art.pretty_name || name),
      h('p.sub', h('code', `${org}/${name}`), ' ', art.is_public === false ? h('span.badge.badge-private', 'private') : h('span.badge.badge-published', 'public'),
        art.enabled === false ? h('span.badge.badge-deprecated', 'disabled') : null),
      art.summary ? h('p', art.summary) : null,
      h('div.chips#chips',
        chip('framework', art.framework), chip('license', art.license), chip('task', art.task),
        (art.task_categories || []).map((t) => chip('category', t, `/?task_categories=${enc(t)}`)),
        chip('size', art.size_category), chip('parameters', paramCount ? fmtCount(paramCount) : null),
        chip('base model', art.base_model), chip('architecture', art.architecture),
        (art.tags || []).map((t) => chip('tag', t, `/?tags=${enc(t)}`)))),
    h('div.stats',
      h('div.stat', h('b#downloads', fmtCount(totalDownloads)), h('span', 'downloads')),
      h('div.stat', h('b', String(versions.length)), h('span', versions.length === 1 ? 'version' : 'versions')),
      h('div.stat', h('b', latest ? latest.version : '—'), h('span', 'latest'))));

  const card = data.public
    ? h('p.notice', 'The model card is shown to signed-in users. ', h('a', { href: `/ui/signin?next=${enc(location.pathname)}` }, 'Sign in'))
    : docs && docs.html && docs.html.trim() ? h('div.model-card#model-card', safeHtml(docs.html)) : empty('No model card yet.');

  const timeline = versions.length
    ? h('ol.timeline#versions', versions.map((v) => versionItem(kind, org, name, v, byVersion[v.version] || [], v === latest || (manage && v.lifecycle === 'draft'), manage, reload)))
    : empty(write ? 'No versions yet: create one to upload files.' : 'No versions yet.');

  const use = h('section.card', { 'aria-labelledby': 'use-title' },
    h('h2#use-title', 'Use this ' + (kind === 'models' ? 'model' : 'capability')),
    latest ? [command(pullCommand(org, name, latest.version), `Copy the cairn pull command for ${latest.version}`),
      h('p.help', 'Pulls the files of the latest published version and verifies their SHA-256.')]
      : h('p.help', 'No published version yet.'));

  const meta = h('section.card', { 'aria-labelledby': 'meta-title' }, h('h2#meta-title', 'Details'),
    h('dl.kv',
      h('dt', 'Name'), h('dd', h('code', `${org}/${name}`)),
      art.id ? [h('dt', 'Id'), h('dd', h('code', art.id))] : null,
      art.created_at ? [h('dt', 'Created'), h('dd', timeEl(art.created_at))] : null,
      art.updated_at ? [h('dt', 'Updated'), h('dd', timeEl(art.updated_at))] : null,
      (art.language || []).length ? [h('dt', 'Language'), h('dd', art.language.join(', '))] : null,
      Object.keys(data.aliases).length ? [h('dt', 'Aliases'), h('dd', Object.entries(data.aliases).map(([a, v]) => h('span', h('span.badge.badge-alias', a), ` → ${v} `)))] : null));

  mount(el,
    header,
    h('div.detail',
      h('div',
        h('section', { 'aria-labelledby': 'card-title' }, h('h2#card-title', kind === 'models' ? 'Model card' : 'Description'), card),
        h('section', { 'aria-labelledby': 'versions-title' }, h('h2#versions-title', 'Versions'), timeline)),
      h('div.side', use, meta, manage ? manage.manageBox(kind, org, name, art, versions, data.aliases, reload) : null)),
    edge && versions.length ? h('div.edge-views', edge.devicesSection(org, name), edge.telemetrySection(org, name), edge.trainingSection(org, name)) : null);
}

function versionItem(kind, org, name, v, aliases, open, manage, reload) {
  const files = (v.packages || []).flatMap((p) => (p.resources || []).map((r) => ({ ...r, format: p.format })));
  const verPath = `${artPath(kind, org, name)}/versions/${enc(v.version)}`;
  return h(`li.${v.lifecycle}`, { 'data-version': v.version },
    h('div.ver-head',
      h('h3', v.version), badge(v.lifecycle), aliases.map((a) => h('span.badge.badge-alias', { title: `alias ${a}` }, a))),
    v.summary ? h('p', v.summary) : null,
    h('p.ver-dates',
      v.created_at ? h('span', 'created ', timeEl(v.created_at)) : null,
      v.published_at ? h('span', 'published ', timeEl(v.published_at)) : null,
      v.deprecated_at ? h('span', 'deprecated ', timeEl(v.deprecated_at)) : null,
      v.size_bytes !== undefined && v.size_bytes !== null ? h('span', fmtBytes(v.size_bytes)) : null,
      v.download_count !== undefined ? h('span', `↓ ${fmtCount(v.download_count)}`) : null),
    v.changelog ? h('details', h('summary', 'Changelog'), h('pre', v.changelog)) : null,
    v.lifecycle !== 'draft' && v.lifecycle !== 'unknown' ? command(pullCommand(org, name, v.version), `Copy the cairn pull command for ${v.version}`) : null,
    h('details.ver-files', { open },
      h('summary', `${files.length} ${files.length === 1 ? 'file' : 'files'}`),
      files.length ? h('div.table-wrap', h('table.files',
        h('thead', h('tr', h('th', { scope: 'col' }, 'Path'), h('th.num', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'SHA-256'), h('th', { scope: 'col' }, h('span.sr-only', 'Commands')))),
        h('tbody', files.map((f) => h('tr', { 'data-path': f.path },
          h('td', h('code', f.path), h('div.help', f.format || '')),
          h('td.num', fmtBytes(f.size_bytes)),
          h('td', h('span.sha', f.sha256), ' ', copyButton(f.sha256, `Copy the SHA-256 of ${f.path}`)),
          h('td', copyCurl(kind, org, name, v.version, f.path))))))) : empty(v.lifecycle === 'draft' ? 'No files yet.' : 'No files.'),
      manage ? manage.versionTools(kind, org, name, v, verPath, reload) : null));
}

function copyCurl(kind, org, name, version, path) {
  return copyButton(curlCommand(kind, org, name, version, path), `Copy a curl command that downloads ${path}`, 'curl');
}
