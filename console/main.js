// The sessiond admin console: a single-page app (Preact + htm) that signs in
// through the realm's security-admin-console client and then works only
// through the admin REST API. Pages: Sessions (engine-paged list, search and
// filters, detail, bulk and filtered revoke, sign-outs, per-client counts
// polled live), Users (search, a user's sessions, sign out) and Events (user
// and admin events with Keycloak's filters). Controls that need manage-users
// are shown only to admins who hold it.

import { h, options, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import './styles.css';
import { LOGIN_REALM, finishLogin, login, logout, onTokens, silentLogin } from './auth.js';
import { api, explain, prefetch, settled } from './api.js';
import { SessionsPage, sessionsPageRequests } from './sessions.js';
import { UsersPage } from './users.js';
import { EventsPage } from './events.js';

const html = htm.bind(h);
// Effects (which start the API calls) run on the next task rather than after the next frame:
// the data is asked for as soon as a view exists, not one paint later.
options.requestAnimationFrame = (callback) => setTimeout(callback, 0);
/** The realm the URL names (#realm=NAME): a link to it survives the login. */
const linkedRealm = () => new URLSearchParams(location.hash.slice(1)).get('realm');

// The sign-in starts as soon as this module runs, not after a first render:
// back from the login page, the code exchange; else, with the browser's SSO
// session, a code fetched without leaving the page and its exchange (auth.js
// silentLogin); else straight to the login page. Signed in, whoami and, at the
// same time, the first requests of the sessions page of the realm the page
// will most likely show (the one named in the URL, else the login realm). The
// page takes their answers (api.js prefetch) instead of asking after whoami;
// the console appears once the list's answer is there too, so its first
// render has the rows.
const signedIn = (async () => {
  if (!(await finishLogin()) && !(await silentLogin())) {
    await login();
    return null;
  }
  const first = sessionsPageRequests(linkedRealm() ?? LOGIN_REALM);
  for (const path of first) prefetch(path);
  const whoami = await api('GET', `/admin/${encodeURIComponent(LOGIN_REALM)}/console/whoami`);
  await settled(first[0]);
  return whoami;
})();
signedIn.catch(() => {}); // Root reports it

const PAGES = [
  ['sessions', 'Sessions'],
  ['users', 'Users'],
  ['events', 'Events'],
];

function App({ whoami }) {
  const realms = Object.keys(whoami.realm_access).sort();
  const linked = linkedRealm();
  const [realm, setRealmState] = useState(realms.includes(linked) ? linked : realms.includes(LOGIN_REALM) ? LOGIN_REALM : realms[0] ?? LOGIN_REALM);
  const [page, setPage] = useState('sessions');
  const setRealm = (next) => {
    // The realm's sessions page is asked for now, before the old page is taken down and the new one
    // rendered (its effects would ask a task or two later); the page takes these answers (api.js prefetch).
    if (page === 'sessions') for (const path of sessionsPageRequests(next)) prefetch(path);
    history.replaceState(null, '', `#realm=${encodeURIComponent(next)}`);
    setRealmState(next);
  };
  const roles = new Set(whoami.realm_access[realm] ?? []);
  const can = (role) => roles.has(role);
  return html`
    <header class="bar">
      <span class="brand">sessiond console</span>
      <span class="realm-picker"><label for="realm-select">Realm</label>
        <select id="realm-select" value=${realm} onChange=${(e) => setRealm(e.currentTarget.value)}>
          ${realms.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
      </span>
      <nav aria-label="Pages">
        ${PAGES.map(([id, label]) => html`<button type="button" class=${page === id ? 'tab active' : 'tab'} aria-current=${page === id ? 'page' : undefined} onClick=${() => setPage(id)}>${label}</button>`)}
      </nav>
      <span class="who">${whoami.displayName} (${whoami.realm})</span>
      <button type="button" onClick=${logout}>Sign out</button>
    </header>
    <main>
      ${roles.size === 0 ? html`<p class="notice" role="alert">You have no admin role in realm ${realm}: nothing here is visible to you.</p>` : null}
      ${page === 'sessions' ? html`<${SessionsPage} key=${realm} realm=${realm} can=${can} />` : null}
      ${page === 'users' ? html`<${UsersPage} key=${realm} realm=${realm} can=${can} />` : null}
      ${page === 'events' ? html`<${EventsPage} key=${realm} realm=${realm} can=${can} />` : null}
    </main>
  `;
}

function Root() {
  const [state, setState] = useState({ phase: 'loading' });
  useEffect(() => {
    let cancelled = false;
    signedIn.then(
      (whoami) => {
        if (!cancelled && whoami !== null) setState({ phase: 'ready', whoami });
      },
      (err) => {
        if (!cancelled) setState({ phase: 'error', message: explain(err, 'sign in') });
      },
    );
    const off = onTokens((tokens) => {
      if (tokens === null) setState({ phase: 'error', message: 'Your session ended; sign in again.' });
    });
    return () => {
      cancelled = true;
      off();
    };
  }, []);
  if (state.phase === 'loading') return html`<p class="boot">Signing in…</p>`;
  if (state.phase === 'error') {
    return html`<main><p class="notice" role="alert">${state.message}</p><button type="button" onClick=${() => void login()}>Sign in</button></main>`;
  }
  return html`<${App} whoami=${state.whoami} />`;
}

render(html`<${Root} />`, document.getElementById('app'));
