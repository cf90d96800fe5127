// The catalog browser: search (debounced, live), disjunctive facets with counts, sort, "load
// more" by cursor. The whole query lives in the URL, so it can be shared, and back and reload
// restore it. Signed out: the public catalog; signed in: the org's view plus public artifacts.
import { auth, get, errorText, enc } from './api.js';
import { h, mount, fmtCount, fmtDate, chip, spinner, errorBox, empty, titled, announce } from './dom.js';

export const FACETS = [
  ['task_categories', 'Task', 'task_categories'],
  ['framework', 'Framework', 'frameworks'],
  ['license', 'License', 'licenses'],
  ['size_category', 'Size', 'size_categories'],
  ['tags', 'Tags', 'tags'],
];
const SORTS = [
  ['-updated_at', 'Recently updated'], ['-downloads', 'Most downloads'], ['-created_at', 'Newest'],
  ['name', 'Name'], ['relevance', 'Best match'],
];
const SHOWN = 8; // facet values shown before "show all"
const PAGE = 30;

/** The browser's state, read from the URL. */
function readState() {
  const q = new URLSearchParams(location.search);
  const st = { search: q.get('q') || '', sort: q.get('sort') || '', filters: {} };
  for (const [key] of FACETS) st.filters[key] = q.getAll(key).flatMap((v) => v.split(',')).filter(Boolean);
  return st;
}

function stateQuery(st) {
  const q = new URLSearchParams();
  if (st.search) q.set('q', st.search);
  for (const [key] of FACETS) for (const v of st.filters[key]) q.append(key, v);
  if (st.sort) q.set('sort', st.sort);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function apiQuery(st, extra = {}) {
  const q = new URLSearchParams();
  if (st.search) q.set('search', st.search);
  for (const [key] of FACETS) for (const v of st.filters[key]) q.append(key, v);
  const signedIn = auth.token && auth.org;
  if (signedIn) q.set('include_public', 'true');
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q.toString();
}

function base(kind) {
  return auth.token && auth.org ? `/api/v1/org/${enc(auth.org)}/${kind}` : `/api/v1/catalog/${kind}`;
}

export function itemHref(kind, it) {
  const [org, local] = (it.canonical_name || `${it.org}/${it.name}`).split('/');
  return `/ui/${kind}/${enc(org)}/${enc(local)}`;
}

export function browserView(el, kind) {
  const label = kind === 'models' ? 'Models' : 'Capabilities';
  titled(label);
  let st = readState();
  let ctrl = null; // aborts the previous query's requests
  let cursor = null;
  let debounce = 0;
  const expanded = new Set();

  const search = h('input#search', { type: 'search', name: 'q', value: st.search, placeholder: `Search ${label.toLowerCase()}…`, autocomplete: 'off', 'aria-controls': 'results' });
  const sortSel = h('select#sort', { name: 'sort' }, SORTS.map(([v, t]) => h('option', { value: v }, t)));
  sortSel.value = st.sort || (st.search ? 'relevance' : '-updated_at');
  const count = h('p.count#count', { role: 'status', 'aria-live': 'polite' });
  const list = h('ol.results#results', { 'aria-label': `${label} found`, 'aria-busy': 'true' });
  const more = h('div.more');
  const facetsBox = h('div.facet-groups', spinner('Loading filters…'));
  const clear = h('button.small.ghost#clear-filters', { type: 'button', hidden: true, onclick: () => { for (const [k] of FACETS) st.filters[k] = []; commit(true); } }, 'Clear filters');
  const activeCount = h('span.active-count');
  const scope = auth.token && auth.org ? `Org ${auth.org} and public ${kind}` : `Public ${kind}`;

  mount(el,
    h('div.browser',
      h('aside.facets', { 'aria-labelledby': 'filters-title' },
        h('details.facets-box', { open: !matchMedia('(max-width: 720px)').matches },
          h('summary', h('h2#filters-title', 'Filters'), activeCount),
          h('div.facets-head', clear),
          facetsBox)),
      h('section.listing', { 'aria-labelledby': 'browser-title' },
        h('div.listing-head',
          h('h1#browser-title', label),
          h('p.scope', scope)),
        h('div.toolbar', { role: 'search' },
          h('div.field.grow', h('label', { for: 'search' }, 'Search'), search),
          h('div.field', h('label', { for: 'sort' }, 'Sort by'), sortSel)),
        count, list, more)));

  el.querySelector('.facets-box > summary').addEventListener('click', (ev) => {
    if (!matchMedia('(max-width: 720px)').matches) ev.preventDefault(); // always open when wide
  });
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      st.search = search.value.trim();
      if (!st.search && st.sort === 'relevance') st.sort = '';
      sortSel.value = st.sort || (st.search ? 'relevance' : '-updated_at');
      commit(false);
    }, 250);
  });
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { clearTimeout(debounce); st.search = search.value.trim(); commit(false); }
  });
  sortSel.addEventListener('change', () => { st.sort = sortSel.value; commit(true); });

  /* Writes the state to the URL (push: a history entry, else replace) and reloads. */
  function commit(push) {
    const url = location.pathname + stateQuery(st);
    if (url !== location.pathname + location.search) {
      if (push) history.pushState(null, '', url);
      else history.replaceState(null, '', url);
    }
    load();
  }

  function sortParam() {
    if (st.sort === 'relevance' && !st.search) return '-updated_at';
    return st.sort || (st.search ? 'relevance' : '-updated_at');
  }

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    cursor = null;
    list.setAttribute('aria-busy', 'true');
    list.classList.add('stale');
    if (!list.children.length) mount(list, h('li.placeholder', spinner()));
    const listP = get(`${base(kind)}?${apiQuery(st, { sort: sortParam(), limit: PAGE })}`, { signal });
    const facetP = get(`${base(kind)}/facets?${apiQuery(st)}`, { signal });
    facetP.catch(() => {}); // handled below, unless this query is superseded first
    try {
      const page = await listP;
      renderItems(page, false);
      if (!performance.getEntriesByName('cairn-results').length) performance.mark('cairn-results'); // bench/ui_first_paint.mjs
    } catch (e) {
      if (e.name === 'AbortError') return;
      mount(list, h('li', errorBox(errorText(e))));
      mount(more);
      count.textContent = '';
    } finally {
      if (!signal.aborted) { list.setAttribute('aria-busy', 'false'); list.classList.remove('stale'); }
    }
    try {
      renderFacets(await facetP);
      if (!performance.getEntriesByName('cairn-facets').length) performance.mark('cairn-facets');
    } catch (e) {
      if (e.name !== 'AbortError') mount(facetsBox, errorBox(errorText(e)));
    }
  }

  async function loadMore(btn) {
    btn.disabled = true;
    btn.textContent = 'Loading…';
    try {
      const page = await get(`${base(kind)}?${apiQuery(st, { sort: sortParam(), limit: PAGE, cursor })}`, { signal: ctrl.signal });
      renderItems(page, true);
    } catch (e) {
      if (e.name !== 'AbortError') mount(more, errorBox(errorText(e)));
    }
  }

  function renderItems(page, appendItems) {
    const items = page.items || [];
    if (!appendItems) list.replaceChildren();
    const first = list.children.length;
    for (const it of items) list.append(card(kind, it));
    cursor = page.next_cursor;
    const n = list.querySelectorAll('li.item').length;
    const total = page.total ?? n;
    count.textContent = `${total.toLocaleString('en')} ${total === 1 ? kind.slice(0, -1).replace('capabilitie', 'capability') : kind}`;
    if (!n) {
      const filtered = st.search || FACETS.some(([k]) => st.filters[k].length);
      list.append(h('li.placeholder', empty(filtered ? `No ${kind} match these filters.` : `No ${kind} yet.`)));
    }
    if (cursor) {
      const btn = h('button#load-more', { type: 'button' }, `Load more (${n.toLocaleString('en')} of ${total.toLocaleString('en')} shown)`);
      btn.addEventListener('click', () => loadMore(btn));
      mount(more, btn);
    } else mount(more);
    if (appendItems) {
      const a = list.children[first] && list.children[first].querySelector('a');
      if (a) a.focus();
      announce(`${items.length} more loaded`);
    }
  }

  function renderFacets(f) {
    const active = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    const groups = [];
    for (const [key, title, listKey] of FACETS) {
      const counts = (f.counts && f.counts[key]) || {};
      const values = (f[listKey] || []).slice();
      for (const v of st.filters[key]) if (!values.includes(v)) values.push(v);
      if (!values.length) continue;
      const all = expanded.has(key);
      const shown = all ? values : values.slice(0, SHOWN).concat(values.slice(SHOWN).filter((v) => st.filters[key].includes(v)));
      const id = `facet-${key}`;
      groups.push(h('fieldset.facet', { 'data-facet': key },
        h('legend', title),
        h('ul', shown.map((v, i) => {
          const cid = `${id}-${i}`;
          const on = st.filters[key].includes(v);
          const n = counts[v] ?? 0;
          const box = h('input', { type: 'checkbox', id: cid, checked: on, 'data-key': `${key}=${v}`, 'data-value': v });
          box.addEventListener('change', () => {
            const set = st.filters[key];
            if (box.checked) set.push(v); else st.filters[key] = set.filter((x) => x !== v);
            commit(true);
          });
          return h('li', h('label', { for: cid, class: n === 0 && !on ? 'zero' : null }, box, h('span.fv', v), h('span.fc', { 'data-count': n }, fmtCount(n)), h('span.sr-only', ` ${kind}`)));
        })),
        values.length > SHOWN ? h('button.link', { type: 'button', 'aria-expanded': String(all), onclick: () => { if (all) expanded.delete(key); else expanded.add(key); renderFacets(f); } },
          all ? 'Show fewer' : `Show all ${values.length}`) : null));
    }
    mount(facetsBox, groups.length ? groups : empty('No filters in this scope.'));
    const nActive = FACETS.reduce((n, [k]) => n + st.filters[k].length, 0);
    clear.hidden = !nActive;
    activeCount.textContent = nActive ? ` (${nActive} active)` : '';
    if (active) {
      const again = [...facetsBox.querySelectorAll('input[data-key]')].find((x) => x.dataset.key === active);
      if (again) again.focus();
    }
  }

  load();
  const onPop = () => {
    st = readState();
    search.value = st.search;
    sortSel.value = st.sort || (st.search ? 'relevance' : '-updated_at');
  };
  window.addEventListener('popstate', onPop);
  return () => { window.removeEventListener('popstate', onPop); clearTimeout(debounce); if (ctrl) ctrl.abort(); };
}

function card(kind, it) {
  const href = itemHref(kind, it);
  const canonical = it.canonical_name || it.name;
  const title = it.pretty_name || canonical.split('/').pop();
  const chips = kind === 'models'
    ? [chip('task', it.task || (it.task_categories || [])[0]), chip('framework', it.framework), chip('license', it.license), chip('size', it.size_category)]
    : [chip('license', it.license), ...Object.entries(it.component_counts || {}).map(([t, n]) => chip(t.replace('_', ' '), n))];
  return h('li.item',
    h('article',
      h('h3', h('a', { href }, title)),
      h('p.canonical', h('code', canonical), it.is_public === false ? h('span.badge.badge-private', 'private') : null),
      it.summary ? h('p.summary', it.summary) : null,
      h('div.chips', chips),
      h('p.meta',
        it.version ? h('span', `v${it.version}`) : h('span', 'no published version'),
        h('span', { title: 'downloads' }, `↓ ${fmtCount(it.download_count || 0)}`),
        h('span', `updated ${fmtDate(it.updated_at)}`))));
}
