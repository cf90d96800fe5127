// Write controls, loaded only for roles that can use them: create and edit models, versions,
// drag-and-drop uploads with per-file progress (resumable sessions for large files), publish,
// deprecate, aliases, delete and restore; token management for admins. Every failure shows
// the API's `detail`.
import { auth, call, get, can, errorText, upload, enc, artPath, SESSION_THRESHOLD } from './api.js';
import { h, mount, fmtBytes, fmtDate, errorBox, spinner, titled, announce, empty } from './dom.js';
import { go } from './app.js';

const splitList = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

/* Runs fn with btn disabled; shows the API's error in box (or a success text). */
async function act(btn, box, fn, ok) {
  if (btn) btn.disabled = true;
  mount(box);
  try {
    await fn();
    if (ok) { mount(box, h('p.success', { role: 'status' }, ok)); announce(ok); }
    return true;
  } catch (e) {
    mount(box, errorBox(errorText(e)));
    return false;
  } finally {
    if (btn) btn.disabled = false;
  }
}

let uid = 0;
function field(label, input, help) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  const hid = help ? `${id}-help` : null;
  if (hid) input.setAttribute('aria-describedby', hid);
  return h('div.field', h('label', { for: id }, label), input, help ? h('p.help', { id: hid }, help) : null);
}

function checkbox(label, checked, name) {
  const id = `f${++uid}`;
  return h('div.field.inline', h('input', { type: 'checkbox', id, name, checked }), h('label', { for: id }, label));
}

/* ---- model page: side box ---- */

export function manageBox(kind, org, name, art, versions, aliases, reload) {
  const base = artPath(kind, org, name);
  return h('section.card#manage', { 'aria-labelledby': 'manage-title' },
    h('h2#manage-title', 'Manage'),
    editDialog(kind === 'models' ? 'Edit details and card' : 'Edit details and description', editForm(base, art, reload, kind)),
    h('details.manage', { open: versions.length === 0 }, h('summary', 'New version'), newVersionForm(base, versions, reload)),
    versions.length ? h('details.manage', h('summary', 'Aliases'), aliasForm(base, versions, aliases, reload)) : null,
    can('admin', org) ? h('details.manage', h('summary', 'Danger zone'), deleteBox(kind, org, name, reload)) : null);
}

/* A button that opens form in a modal dialog (wide enough for a model card; Escape closes). */
function editDialog(label, form) {
  const close = h('button.small.ghost', { type: 'button', 'aria-label': 'Close' }, 'Close');
  const dlg = h('dialog.editor', { 'aria-label': label }, h('div.dialog-head', h('h2', label), close), form);
  close.addEventListener('click', () => dlg.close());
  const open = h('button#edit-open', { type: 'button', onclick: () => { document.body.append(dlg); dlg.showModal(); } }, label);
  dlg.addEventListener('close', () => dlg.remove());
  return h('div.actions.edit-open', open);
}

function editForm(base, art, reload, kind) {
  const box = h('div', { 'aria-live': 'polite' });
  const f = {
    pretty_name: h('input', { name: 'pretty_name', value: art.pretty_name || '' }),
    summary: h('input', { name: 'summary', value: art.summary || '' }),
    license: h('input', { name: 'license', value: art.license || '' }),
    task: h('input', { name: 'task', value: art.task || '' }),
    framework: h('input', { name: 'framework', value: art.framework || '' }),
    tags: h('input', { name: 'tags', value: (art.tags || []).join(', ') }),
    task_categories: h('input', { name: 'task_categories', value: (art.task_categories || []).join(', ') }),
    language: h('input', { name: 'language', value: (art.language || []).join(', ') }),
    base_model: h('input', { name: 'base_model', value: art.base_model || '' }),
    architecture: h('input', { name: 'architecture', value: art.architecture || '' }),
    size_category: h('select', { name: 'size_category' }, h('option', { value: '' }, '(from the parameter count)'),
      ['tiny', 'small', 'medium', 'large', 'xlarge'].map((x) => h('option', { value: x }, x))),
    description: h('textarea', { name: 'description' }),
  };
  f.size_category.value = art.size_category || '';
  f.description.value = art.description || '';
  const pub = checkbox('Public (listed in the public catalog)', !!art.is_public, 'is_public');
  const save = h('button.primary', { type: 'submit' }, 'Save');
  return h('form.card-form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      const body = { expected_revision: art.revision, tags: splitList(f.tags.value), task_categories: splitList(f.task_categories.value),
        language: splitList(f.language.value), is_public: pub.querySelector('input').checked, description: f.description.value };
      for (const k of ['pretty_name', 'summary', 'license', 'task', 'framework', 'base_model', 'architecture', 'size_category']) body[k] = f[k].value.trim() || null;
      if (!body.framework) delete body.framework;
      if (!body.size_category) delete body.size_category;
      act(save, box, () => call('PATCH', base, { body }), 'Saved.').then((ok) => ok && setTimeout(() => { const d = save.closest('dialog'); if (d) d.close(); reload(); }, 400));
    },
  },
  field('Display name', f.pretty_name), field('Summary', f.summary),
  h('div.form-grid', field('License', f.license), field('Task', f.task), field('Framework', f.framework),
    field('Size', f.size_category), field('Base model', f.base_model), field('Architecture', f.architecture)),
  field('Tags', f.tags, 'Comma-separated.'), field('Task categories', f.task_categories, 'Comma-separated, e.g. text-generation.'),
  field('Languages', f.language, 'Comma-separated codes, e.g. en, fr.'), pub,
  field(kind === 'models' ? 'Model card (Markdown)' : 'Description (Markdown)', f.description, 'YAML front matter (license, tags, pipeline_tag…) fills empty fields.'),
  box, h('div.actions', save));
}

function newVersionForm(base, versions, reload) {
  const box = h('div', { 'aria-live': 'polite' });
  const ver = h('input', { name: 'version', required: true, placeholder: '1.0.0', pattern: '\\S+', autocomplete: 'off' });
  const summary = h('input', { name: 'summary' });
  const changelog = h('textarea', { name: 'changelog', rows: 4 });
  const btn = h('button.primary', { type: 'submit' }, 'Create draft');
  return h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      const body = { version: ver.value.trim() };
      if (summary.value.trim()) body.summary = summary.value.trim();
      if (changelog.value.trim()) body.changelog = changelog.value;
      act(btn, box, () => call('POST', `${base}/versions`, { body }), `Draft ${body.version} created: drop its files below.`).then((ok) => ok && setTimeout(reload, 300));
    },
  }, field('Version (SemVer)', ver, versions.length ? `Newest: ${versions[0].version}` : 'For example 1.0.0 or 2.0.0-rc.1'),
  field('Summary', summary), field('Changelog', changelog), box, h('div.actions', btn));
}

function aliasForm(base, versions, aliases, reload) {
  const box = h('div', { 'aria-live': 'polite' });
  const alias = h('input', { name: 'alias', required: true, placeholder: 'stable', autocomplete: 'off' });
  const sel = h('select', { name: 'version' }, versions.filter((v) => v.lifecycle !== 'draft').concat(versions.filter((v) => v.lifecycle === 'draft'))
    .map((v) => h('option', { value: v.version }, `${v.version} (${v.lifecycle})`)));
  const btn = h('button.primary', { type: 'submit' }, 'Point alias');
  const list = Object.entries(aliases);
  return h('div',
    list.length ? h('ul.alias-list', list.map(([a, v]) => h('li', h('span.badge.badge-alias', a), ` → ${v} `,
      h('button.small.danger', { type: 'button', 'aria-label': `Remove alias ${a}`, onclick: (ev) => act(ev.target, box, () => call('DELETE', `${base}/aliases/${enc(a)}`), `Alias ${a} removed.`).then((ok) => ok && setTimeout(reload, 300)) }, 'Remove')))) : h('p.help', 'No aliases yet.'),
    h('form', {
      onsubmit: (ev) => {
        ev.preventDefault();
        const a = alias.value.trim();
        act(btn, box, () => call('PUT', `${base}/aliases/${enc(a)}`, { body: { version: sel.value } }), `Alias ${a} → ${sel.value}.`).then((ok) => ok && setTimeout(reload, 300));
      },
    }, h('div.form-grid', field('Alias', alias), field('Version', sel)), box, h('div.actions', btn)));
}

function deleteBox(kind, org, name, reload) {
  const box = h('div', { 'aria-live': 'polite' });
  const btn = h('button.danger', { type: 'button' }, `Delete ${org}/${name}`);
  btn.addEventListener('click', async () => {
    if (!window.confirm(`Delete ${org}/${name} and all its versions? It can be restored during the retention window.`)) return;
    await act(btn, box, () => call('DELETE', artPath(kind, org, name)), null) && mount(document.getElementById('main'),
      h('h1', `${org}/${name}`), h('p.success', { role: 'status' }, 'Deleted.'), restoreBox(kind, org, name, reload));
  });
  return h('div', h('p.help', 'Deleting hides the model and its versions; an admin can restore it until the retention window ends.'), box, btn);
}

/** A "Restore" button for a deleted artifact (admins). */
export function restoreBox(kind, org, name, reload) {
  const box = h('div', { 'aria-live': 'polite' });
  const btn = h('button.primary#restore', { type: 'button' }, `Restore ${org}/${name}`);
  btn.addEventListener('click', () => act(btn, box, () => call('POST', `${artPath(kind, org, name)}/restore`), 'Restored.').then((ok) => ok && setTimeout(reload, 300)));
  return h('div.card', h('p', 'If it was deleted during the retention window, an admin can restore it.'), box, btn);
}

/* ---- per version ---- */

export function versionTools(kind, org, name, v, verPath, reload) {
  const box = h('div', { 'aria-live': 'polite' });
  const buttons = [];
  if (v.lifecycle === 'draft') {
    buttons.push(h('button.primary.small', { type: 'button', onclick: (ev) => act(ev.target, box, () => call('POST', `${verPath}/publish`), `${v.version} published.`).then((ok) => ok && setTimeout(reload, 300)) }, `Publish ${v.version}`));
  }
  if (v.lifecycle === 'published') {
    buttons.push(h('button.small', { type: 'button', onclick: (ev) => act(ev.target, box, () => call('POST', `${verPath}/deprecate`), `${v.version} deprecated.`).then((ok) => ok && setTimeout(reload, 300)) }, `Deprecate ${v.version}`));
  }
  if (can('admin', org)) {
    buttons.push(h('button.small.danger', { type: 'button', onclick: (ev) => {
      if (window.confirm(`Delete version ${v.version}?`)) act(ev.target, box, () => call('DELETE', verPath), `${v.version} deleted.`).then((ok) => ok && setTimeout(reload, 300));
    } }, `Delete ${v.version}`));
  }
  return h('div.version-tools',
    v.lifecycle === 'draft' ? dropzone(verPath, reload) : null,
    box, h('div.actions', buttons));
}

/** Drag-and-drop (or choose) files into a draft version, with a progress bar per file. */
const uploadLists = new Map(); // verPath → its list of uploads, kept across re-renders

export function dropzone(verPath, reload) {
  const input = h('input', { type: 'file', multiple: true, hidden: true });
  if (!uploadLists.has(verPath)) uploadLists.set(verPath, h('ul.uploads', { 'aria-label': 'Uploads' }));
  const list = uploadLists.get(verPath);
  const pick = h('button.small', { type: 'button', onclick: () => input.click() }, 'Choose files');
  const zone = h('div.dropzone', { 'data-verpath': verPath },
    h('p', 'Drop files here or ', pick),
    h('p.help', `Files above ${fmtBytes(SESSION_THRESHOLD)} upload in resumable pieces; each file's SHA-256 is checked by the server.`));
  let pending = 0;
  async function send(files) {
    for (const file of files) {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
      const state = h('span.state', '0%');
      const row = h('li', { 'data-file': file.name }, h('span', h('code', file.name), ` ${fmtBytes(file.size)}`), state, bar);
      list.append(row);
      pending++;
      try {
        const res = await upload(verPath, file.name, file, (sent, total) => {
          const pct = total ? Math.floor((sent / total) * 100) : 100;
          bar.value = pct;
          state.textContent = `${pct}%`;
        });
        bar.value = 100;
        const sha = ((res && res.resources && res.resources[0]) || {}).sha256 || '';
        state.textContent = '100% ✓';
        row.dataset.sha256 = sha;
        row.append(h('span.sha', `sha256 ${sha}`));
        announce(`${file.name} uploaded`);
      } catch (e) {
        state.textContent = 'failed';
        row.append(errorBox(`${file.name}: ${errorText(e)}`));
      }
      pending--;
    }
    if (!pending && !list.querySelector('.error')) setTimeout(reload, 800);
  }
  input.addEventListener('change', () => send([...input.files]));
  zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    send([...(ev.dataTransfer ? ev.dataTransfer.files : [])]);
  });
  return h('div', zone, input, list);
}

/* ---- pages ---- */

export function newModelView(el) {
  titled('New model');
  if (!can('writer') || !auth.org) {
    mount(el, h('h1', 'New model'), h('p.notice', auth.token ? 'Your role cannot create models.' : 'Sign in with a writer or admin token to create models.'));
    return;
  }
  const box = h('div', { 'aria-live': 'polite' });
  const name = h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,95}', autocomplete: 'off' });
  const pretty = h('input', { name: 'pretty_name' });
  const summary = h('input', { name: 'summary' });
  const license = h('input', { name: 'license', placeholder: 'apache-2.0' });
  const task = h('input', { name: 'task', placeholder: 'text-generation' });
  const tags = h('input', { name: 'tags' });
  const desc = h('textarea', { name: 'description' });
  const pub = checkbox('Public (listed in the public catalog)', false, 'is_public');
  const btn = h('button.primary', { type: 'submit' }, 'Create model');
  mount(el, h('form.card.narrow', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { name: name.value.trim(), is_public: pub.querySelector('input').checked };
      for (const [k, inp] of [['pretty_name', pretty], ['summary', summary], ['license', license], ['task', task], ['description', desc]]) if (inp.value.trim()) body[k] = inp.value;
      if (tags.value.trim()) body.tags = splitList(tags.value);
      let made = null;
      if (await act(btn, box, async () => { made = await call('POST', `/api/v1/org/${enc(auth.org)}/models`, { body }); }, null)) {
        go(`/ui/models/${enc(made.org || auth.org)}/${enc(body.name)}`);
      }
    },
  },
  h('h1', 'New model'),
  h('p.help', `In org ${auth.org}.`),
  field('Name', name, 'Letters, digits, ".", "_" and "-"; unique in the org.'),
  field('Display name', pretty), field('Summary', summary),
  h('div.form-grid', field('License', license), field('Task', task)),
  field('Tags', tags, 'Comma-separated.'), pub,
  field('Model card (Markdown)', desc), box, h('div.actions', btn)));
  name.focus();
}

export async function tokensView(el) {
  titled('Tokens');
  if (!can('admin') || !auth.org) {
    mount(el, h('h1', 'Tokens'), h('p.notice', 'Only org admins manage tokens.'));
    return;
  }
  const base = `/api/v1/org/${enc(auth.org)}/tokens`;
  const box = h('div', { 'aria-live': 'polite' });
  const tableBox = h('div', spinner());
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ['reader', 'writer', 'admin'].map((r) => h('option', { value: r }, r)));
  const days = h('input', { name: 'expires_in_days', type: 'number', min: 1, max: 3650, inputmode: 'numeric' });
  const btn = h('button.primary', { type: 'submit' }, 'Create token');
  async function refresh() {
    try {
      const items = [];
      let cursor = null;
      do {
        const page = await get(`${base}?limit=500${cursor ? `&cursor=${enc(cursor)}` : ''}`);
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      mount(tableBox, items.length ? h('div.table-wrap', h('table.list#tokens',
        h('thead', h('tr', ['Name', 'Role', 'Created', 'Expires', 'Last used', ''].map((t) => h('th', { scope: 'col' }, t || h('span.sr-only', 'Actions'))))),
        h('tbody', items.map((t) => h('tr', { 'data-token-id': t.id },
          h('td.tname', t.name), h('td', { 'data-label': 'role' }, t.role), h('td', { 'data-label': 'created' }, fmtDate(t.created_at)),
          h('td', { 'data-label': 'expires' }, t.expires_at ? fmtDate(t.expires_at) : 'never'),
          h('td', { 'data-label': 'last used' }, t.last_used_at ? fmtDate(t.last_used_at) : 'never'),
          h('td.tact', h('button.small.danger', { type: 'button', 'aria-label': `Revoke token ${t.name}`, onclick: async (ev) => {
            if (!window.confirm(`Revoke ${t.name}? It stops working at once.`)) return;
            if (await act(ev.target, box, () => call('DELETE', `${base}/${enc(t.id)}`), `Token ${t.name} revoked.`)) refresh();
          } }, 'Revoke'))))))) : empty('No tokens.'));
    } catch (e) {
      mount(tableBox, errorBox(errorText(e)));
    }
  }
  mount(el, h('h1', 'Tokens'), h('p.help', `API tokens of org ${auth.org}. A token's secret is shown once, when it is created.`),
    h('form.card', {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { name: name.value.trim(), role: role.value };
        if (days.value) body.expires_in_days = Number(days.value);
        let made = null;
        if (await act(btn, box, async () => { made = await call('POST', base, { body }); }, null)) {
          const { copyButton } = await import('./dom.js');
          mount(box, h('div.success#new-token', { role: 'status' },
            h('p', h('strong', `Token ${made.name} (${made.role}) created.`), ' Copy it now: it is not shown again.'),
            h('div.cmd', h('code.secret', made.token), copyButton(made.token, 'Copy the new token'))));
          name.value = '';
          refresh();
        }
      },
    }, h('h2', 'New token'), h('div.form-grid', field('Name', name), field('Role', role), field('Expires in days', days, 'Empty: never.')), box, h('div.actions', btn)),
    h('h2', 'Tokens'), tableBox);
  refresh();
}
