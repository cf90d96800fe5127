// cairn web UI: client-side routes under /ui/, the account (token sign-in), and the views.
import { auth, restore, signIn, signOut, errorText, can } from './api.js';
import { h, mount, errorBox, titled, announce } from './dom.js';
import { browserView } from './browser.js';

const main = document.getElementById('main');
let current = null; // the mounted view's cleanup

/* Routes: [regexp over location.pathname, loader returning the view function]. */
const routes = [
  [/^\/$/, async () => (el) => browserView(el, 'models')],
  [/^\/ui\/?$/, async () => (el) => browserView(el, 'models')],
  [/^\/ui\/capabilities\/?$/, async () => (el) => browserView(el, 'capabilities')],
  [/^\/ui\/signin$/, async () => signInView],
  [/^\/ui\/new$/, async () => (await import('./manage.js')).newModelView],
  [/^\/ui\/tokens$/, async () => (await import('./manage.js')).tokensView],
  [/^\/ui\/models\/([^/]+)\/([^/]+)$/, async (m) => (el) => import('./model.js').then((x) => x.modelView(el, dec(m[1]), dec(m[2])))],
  [/^\/ui\/capabilities\/([^/]+)\/([^/]+)$/, async (m) => (el) => import('./capability.js').then((x) => x.capabilityView(el, dec(m[1]), dec(m[2])))],
];

function dec(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

export async function render() {
  if (typeof current === 'function') current();
  current = null;
  const path = location.pathname;
  for (const [re, load] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    markNav(path);
    try {
      const view = await load(m);
      current = await view(main);
    } catch (e) {
      mount(main, errorBox(errorText(e)));
    }
    return;
  }
  titled('Not found');
  mount(main, h('h1', 'Not found'), h('p', 'No page here. ', h('a', { href: '/', 'data-link': true }, 'Browse models')));
}

function markNav(path) {
  const section = path.startsWith('/ui/capabilities') ? 'capabilities' : path === '/ui/new' ? 'new'
    : path === '/ui/tokens' ? 'tokens' : path.startsWith('/ui/signin') ? '' : 'models';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Client-side navigation (push a history entry and render). */
export function go(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render().then(() => { if (!replace) main.focus({ preventScroll: true }); });
  window.scrollTo(0, 0);
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || a.target || a.hasAttribute('download')) return;
  if (url.pathname !== '/' && !url.pathname.startsWith('/ui/')) return;
  if (url.pathname.startsWith('/ui/assets/')) return;
  ev.preventDefault();
  go(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', () => render());
window.addEventListener('cairn-signed-out', (ev) => {
  renderAccount();
  const box = document.getElementById('account');
  box.prepend(h('span.notice.small-notice', { role: 'alert' }, `Signed out: ${ev.detail || 'the token no longer works'}`));
  render(); // the view again, as the public sees it
});

/* ---- account ---- */

function renderAccount() {
  const box = document.getElementById('account');
  // Org pages need an org: a server-admin token without one (CAIRN_ADMIN_TOKEN) has none.
  for (const el of document.querySelectorAll('.writer-only')) el.hidden = !(auth.token && auth.org && (auth.server_admin || auth.role !== 'reader'));
  for (const el of document.querySelectorAll('.admin-only')) el.hidden = !(auth.token && auth.org && (auth.server_admin || auth.role === 'admin'));
  if (!auth.token) {
    mount(box, h('a.button.small', { href: `/ui/signin?next=${encodeURIComponent(location.pathname + location.search)}`, 'data-link': true }, 'Sign in'));
    return;
  }
  mount(box,
    h('span.who', { 'aria-label': `Signed in to org ${auth.org} as ${auth.role}` },
      h('span.org', auth.org || 'server'), ' ', h('span.role', { 'data-role': auth.role }, auth.server_admin ? 'server admin' : auth.role)),
    h('button.small.ghost', { type: 'button', onclick: () => { signOut(); renderAccount(); announce('Signed out'); go('/'); } }, 'Sign out'));
}

function signInView(el) {
  titled('Sign in');
  const next = new URLSearchParams(location.search).get('next') || '/';
  const msg = h('div', { 'aria-live': 'polite' });
  const input = h('input#token', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'token-help' });
  const form = h('form.card.narrow', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      mount(msg);
      try {
        await signIn(input.value.trim());
        renderAccount();
        announce(`Signed in to ${auth.org} as ${auth.role}`);
        go(next.startsWith('/') && !next.startsWith('//') ? next : '/');
      } catch (e) {
        mount(msg, errorBox(errorText(e)));
      }
    },
  },
  h('h1', 'Sign in'),
  h('label', { for: 'token' }, 'API token'),
  input,
  h('p.help#token-help', 'A token from ', h('code', 'cairnd admin create-token'), ' or from an org admin. It stays in this browser (localStorage) until you sign out.'),
  msg,
  h('button.primary', { type: 'submit' }, 'Sign in'));
  mount(el, form);
  input.focus();
}

export { can, renderAccount };

(async () => {
  try {
    await restore();
  } catch (e) {
    announce(errorText(e));
  }
  renderAccount();
  await render();
  document.documentElement.dataset.ready = '1';
})();
