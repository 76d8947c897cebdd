// The Users page: search users, open one to see their online and offline
// sessions, and sign them out (manage-users).

import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api, explain, query } from './api.js';
import { clientsOf, when } from './format.js';

const html = htm.bind(h);
const r = (realm) => `/${encodeURIComponent(realm)}`;

function UserSessions({ realm, user, manage, onSignedOut }) {
  const [online, setOnline] = useState(null);
  const [offline, setOffline] = useState([]);
  const [message, setMessage] = useState(null);
  const [key, setKey] = useState(0);
  useEffect(() => {
    const base = `${r(realm)}/users/${encodeURIComponent(user.id)}`;
    api('GET', `${base}/sessions`).then(setOnline, (err) => setMessage(explain(err, "read this user's sessions")));
    // Offline sessions are listed per client: those with offline sessions in the realm.
    api('GET', `${r(realm)}/client-session-stats`)
      .then((stats) => Promise.all(stats.filter((s) => Number(s.offline) > 0).map((s) => api('GET', `${base}/offline-sessions/${encodeURIComponent(s.id)}`))))
      .then((lists) => {
        const byId = new Map();
        for (const list of lists) for (const s of list) byId.set(s.id, s);
        setOffline([...byId.values()]);
      }, () => setOffline([]));
  }, [realm, user.id, key]);
  const signOut = async () => {
    try {
      await api('POST', `${r(realm)}/users/${encodeURIComponent(user.id)}/logout`, {});
      setMessage(`Signed out ${user.username}.`);
      setKey((k) => k + 1);
      onSignedOut();
    } catch (err) {
      setMessage(explain(err, 'sign the user out'));
    }
  };
  const table = (rows, caption) => html`
    <table class="compact"><caption>${caption}</caption>
      <thead><tr><th scope="col">Session</th><th scope="col">IP address</th><th scope="col">Started</th><th scope="col">Last access</th><th scope="col">Clients</th></tr></thead>
      <tbody>${rows.map((s) => html`<tr><td><code>${s.id}</code></td><td>${s.ipAddress}</td><td>${when(s.start)}</td><td>${when(s.lastAccess)}</td><td>${clientsOf(s)}</td></tr>`)}</tbody>
    </table>`;
  return html`
    <section class="detail" aria-labelledby="user-title">
      <h2 id="user-title">${user.username}</h2>
      ${manage ? html`<button type="button" class="danger" onClick=${signOut}>Sign out ${user.username}</button>` : null}
      ${message !== null ? html`<p role="status">${message}</p>` : null}
      ${online !== null ? table(online, `Online sessions (${online.length})`) : null}
      ${table(offline, `Offline sessions (${offline.length})`)}
    </section>`;
}

export function UsersPage({ realm, can }) {
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const [users, setUsers] = useState([]);
  const [error, setError] = useState(null);
  const [chosen, setChosen] = useState(null);
  useEffect(() => {
    api('GET', `${r(realm)}/users${query({ search: applied, first: 0, max: 50, briefRepresentation: 'true' })}`).then(
      (list) => {
        setUsers(list);
        setError(null);
      },
      (err) => setError(explain(err, 'list users')),
    );
  }, [realm, applied]);
  return html`
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users in ${realm}</h1>
      <form class="filters" role="search" onSubmit=${(e) => { e.preventDefault(); setApplied(search.trim()); }}>
        <label>Search users <input name="user-search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
        <button type="submit">Search</button>
      </form>
      ${error !== null ? html`<p class="notice" role="alert">${error}</p>` : null}
      <table><caption>Users (first 50 matches)</caption>
        <thead><tr><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Enabled</th><th scope="col">Actions</th></tr></thead>
        <tbody>${users.map((u) => html`<tr><td>${u.username}</td><td>${u.email ?? '—'}</td><td>${u.enabled ? 'yes' : 'no'}</td>
          <td><button type="button" class="link" onClick=${() => setChosen(u)} aria-label=${`Sessions of ${u.username}`}>Sessions</button></td></tr>`)}</tbody>
      </table>
    </section>
    ${chosen !== null ? html`<${UserSessions} key=${chosen.id} realm=${realm} user=${chosen} manage=${can('manage-users')} onSignedOut=${() => {}} />` : null}
  `;
}
