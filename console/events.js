// The Events page: user events and admin events with Keycloak's filters,
// paged (view-events).

import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api, explain, query } from './api.js';
import { when } from './format.js';

const html = htm.bind(h);
const PAGE = 50;

const USER_FIELDS = [
  ['type', 'Event type (e.g. LOGIN)'],
  ['user', 'User id'],
  ['client', 'Client'],
  ['ipAddress', 'IP address'],
  ['dateFrom', 'From (YYYY-MM-DD)'],
  ['dateTo', 'To (YYYY-MM-DD)'],
];
const ADMIN_FIELDS = [
  ['operationTypes', 'Operation (CREATE, UPDATE, DELETE, ACTION)'],
  ['resourceTypes', 'Resource type (e.g. USER_SESSION)'],
  ['resourcePath', 'Resource path (* wildcards)'],
  ['authUser', 'By user id'],
  ['authClient', 'By client id'],
  ['dateFrom', 'From (YYYY-MM-DD)'],
  ['dateTo', 'To (YYYY-MM-DD)'],
];

export function EventsPage({ realm }) {
  const [kind, setKind] = useState('user');
  const [form, setForm] = useState({});
  const [applied, setApplied] = useState({});
  const [first, setFirst] = useState(0);
  const [rows, setRows] = useState([]);
  const [error, setError] = useState(null);
  const fields = kind === 'user' ? USER_FIELDS : ADMIN_FIELDS;
  useEffect(() => {
    const path = `/${encodeURIComponent(realm)}/${kind === 'user' ? 'events' : 'admin-events'}${query({ ...applied, first, max: PAGE })}`;
    api('GET', path).then(
      (list) => {
        setRows(list);
        setError(null);
      },
      (err) => setError(explain(err, 'read events')),
    );
  }, [realm, kind, applied, first]);
  const switchKind = (next) => {
    setKind(next);
    setForm({});
    setApplied({});
    setFirst(0);
  };
  return html`
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events in ${realm}</h1>
      <div role="group" aria-label="Event kind">
        <button type="button" class=${kind === 'user' ? 'tab active' : 'tab'} aria-pressed=${kind === 'user'} onClick=${() => switchKind('user')}>User events</button>
        <button type="button" class=${kind === 'admin' ? 'tab active' : 'tab'} aria-pressed=${kind === 'admin'} onClick=${() => switchKind('admin')}>Admin events</button>
      </div>
      <form class="filters" role="search" onSubmit=${(e) => { e.preventDefault(); setFirst(0); setApplied({ ...form }); }}>
        ${fields.map(([name, label]) => html`<label>${label} <input name=${`event-${name}`} value=${form[name] ?? ''} onInput=${(e) => setForm({ ...form, [name]: e.currentTarget.value })} /></label>`)}
        <button type="submit">Filter</button>
      </form>
      ${error !== null ? html`<p class="notice" role="alert">${error}</p>` : null}
      ${kind === 'user'
        ? html`<table><caption>User events</caption>
            <thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">User</th><th scope="col">Client</th><th scope="col">IP address</th><th scope="col">Error</th></tr></thead>
            <tbody>${rows.map((e) => html`<tr><td>${when(e.time)}</td><td>${e.type}</td><td>${e.details?.username ?? e.userId ?? '—'}</td><td>${e.clientId ?? '—'}</td><td>${e.ipAddress ?? '—'}</td><td>${e.error ?? ''}</td></tr>`)}</tbody></table>`
        : html`<table><caption>Admin events</caption>
            <thead><tr><th scope="col">Time</th><th scope="col">Operation</th><th scope="col">Resource</th><th scope="col">Path</th><th scope="col">By</th></tr></thead>
            <tbody>${rows.map((e) => html`<tr><td>${when(e.time)}</td><td>${e.operationType}</td><td>${e.resourceType}</td><td>${e.resourcePath}</td><td>${e.authDetails?.userId ?? '—'}</td></tr>`)}</tbody></table>`}
      <div class="pager">
        <button type="button" disabled=${first === 0} onClick=${() => setFirst(Math.max(0, first - PAGE))}>Previous page</button>
        <button type="button" disabled=${rows.length < PAGE} onClick=${() => setFirst(first + PAGE)}>Next page</button>
      </div>
    </section>`;
}
