// The Sessions page. The list is paged by the engine through the ui-ext
// search (first/max: a page costs what it shows, at any realm size); the
// totals and per-client counts come from maintained counters and are polled.

import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api, explain, query } from './api.js';
import { clientsOf, when } from './format.js';

const html = htm.bind(h);
export const PAGE_SIZE = 20;
const POLL_MS = 5000;
const r = (realm) => `/${encodeURIComponent(realm)}`;

function Counts({ realm, refreshKey }) {
  const [counts, setCounts] = useState(null);
  const [stats, setStats] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const [regular, offline, perClient] = await Promise.all([
          api('GET', `${r(realm)}/sessions/count?type=REGULAR`),
          api('GET', `${r(realm)}/sessions/count?type=OFFLINE`),
          api('GET', `${r(realm)}/client-session-stats`),
        ]);
        if (stop) return;
        setCounts({ regular: regular.count, offline: offline.count });
        setStats(perClient);
        setError(null);
      } catch (err) {
        if (!stop) setError(explain(err, 'read session counts'));
      }
    };
    void load();
    const timer = setInterval(load, POLL_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [realm, refreshKey]);
  if (error !== null) return html`<p class="notice" role="status">${error}</p>`;
  return html`
    <section aria-labelledby="counts-title" class="counts">
      <h2 id="counts-title">Live counts</h2>
      <p><strong data-testid="total-regular">${counts?.regular ?? '…'}</strong> regular · <strong data-testid="total-offline">${counts?.offline ?? '…'}</strong> offline sessions (refreshed every ${POLL_MS / 1000} s)</p>
      ${stats.length > 0
        ? html`<table class="compact"><caption>Sessions per client</caption>
            <thead><tr><th scope="col">Client</th><th scope="col">Active</th><th scope="col">Offline</th></tr></thead>
            <tbody>${stats.map((s) => html`<tr><td>${s.clientId}</td><td>${s.active}</td><td>${s.offline}</td></tr>`)}</tbody></table>`
        : null}
    </section>`;
}

function Detail({ realm, id, onClose }) {
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', `${r(realm)}/sessions/${encodeURIComponent(id)}`).then(setDetail, (err) => setError(explain(err, 'read this session')));
  }, [realm, id]);
  return html`
    <section class="detail" aria-labelledby="detail-title">
      <h2 id="detail-title">Session ${id}</h2>
      <button type="button" onClick=${onClose}>Close details</button>
      ${error !== null ? html`<p class="notice" role="alert">${error}</p>` : null}
      ${detail === null
        ? null
        : html`<dl>
            <dt>User</dt><dd>${detail.username}</dd>
            <dt>Type</dt><dd>${detail.type}</dd>
            <dt>IP address</dt><dd>${detail.ipAddress}</dd>
            <dt>Started</dt><dd>${when(detail.start)}</dd>
            <dt>Last access</dt><dd>${when(detail.lastAccess)}</dd>
            <dt>Remember me</dt><dd>${detail.rememberMe ? 'yes' : 'no'}</dd>
            <dt>Valid</dt><dd>${detail.valid ? 'yes' : `no (${detail.invalidReason})`}</dd>
            ${detail.idleExpiresAt ? html`<dt>Idle expiry</dt><dd>${when(detail.idleExpiresAt)}</dd>` : null}
            ${detail.maxExpiresAt ? html`<dt>Max expiry</dt><dd>${when(detail.maxExpiresAt)}</dd>` : null}
          </dl>
          <table class="compact"><caption>Client sessions</caption>
            <thead><tr><th scope="col">Client</th><th scope="col">Started</th><th scope="col">Last access</th><th scope="col">Scope</th></tr></thead>
            <tbody>${(detail.clientSessions ?? []).map((c) => html`<tr><td>${c.clientId}</td><td>${when(c.start)}</td><td>${when(c.lastAccess)}</td><td>${c.scope}</td></tr>`)}</tbody>
          </table>`}
    </section>`;
}

function RevokeByFilter({ realm, clients, onDone }) {
  const [form, setForm] = useState({ username: '', clientId: '', ipIn: '', ipNotIn: '', lastAccessBefore: '', type: 'ALL' });
  const [preview, setPreview] = useState(null);
  const [message, setMessage] = useState(null);
  const set = (key) => (e) => {
    setForm({ ...form, [key]: e.currentTarget.value });
    setPreview(null);
  };
  const filter = async () => {
    const out = { type: form.type };
    if (form.username.trim() !== '') {
      const users = await api('GET', `${r(realm)}/users${query({ username: form.username.trim(), exact: 'true' })}`);
      if (users.length === 0) throw new Error(`no user ${form.username.trim()}`);
      out.userId = users[0].id;
    }
    if (form.clientId !== '') out.clientId = form.clientId;
    const cidrs = (text) => text.split(',').map((x) => x.trim()).filter((x) => x !== '');
    if (cidrs(form.ipIn).length > 0) out.ipIn = cidrs(form.ipIn);
    if (cidrs(form.ipNotIn).length > 0) out.ipNotIn = cidrs(form.ipNotIn);
    if (form.lastAccessBefore !== '') out.lastAccessBefore = new Date(form.lastAccessBefore).getTime();
    return out;
  };
  const doPreview = async (e) => {
    e.preventDefault();
    try {
      const f = await filter();
      const q = { ...f, ipIn: f.ipIn?.join(','), ipNotIn: f.ipNotIn?.join(',') };
      const { count } = await api('GET', `${r(realm)}/sessions/count${query(q)}`);
      setPreview({ filter: f, count });
      setMessage(null);
    } catch (err) {
      setMessage(explain(err, 'count matching sessions'));
    }
  };
  const doRevoke = async () => {
    try {
      const result = await api('POST', `${r(realm)}/sessions/revoke`, preview.filter);
      setMessage(`Revoked ${result.revoked} sessions, ${result.failed} failed.`);
      setPreview(null);
      onDone();
    } catch (err) {
      setMessage(explain(err, 'revoke sessions'));
    }
  };
  return html`
    <form class="panel" aria-labelledby="filter-title" onSubmit=${doPreview}>
      <h2 id="filter-title">Revoke by filter</h2>
      <label>Username <input name="filter-username" value=${form.username} onInput=${set('username')} /></label>
      <label>Client <select name="filter-client" value=${form.clientId} onChange=${set('clientId')}>
        <option value="">any</option>${clients.map((c) => html`<option value=${c.id}>${c.clientId}</option>`)}
      </select></label>
      <label>IP in (CIDR list) <input name="filter-ip-in" value=${form.ipIn} onInput=${set('ipIn')} placeholder="10.0.0.0/8, 2001:db8::/32" /></label>
      <label>IP not in (CIDR list) <input name="filter-ip-not-in" value=${form.ipNotIn} onInput=${set('ipNotIn')} /></label>
      <label>Last access before <input name="filter-last-access" type="datetime-local" value=${form.lastAccessBefore} onInput=${set('lastAccessBefore')} /></label>
      <label>Type <select name="filter-type" value=${form.type} onChange=${set('type')}>
        <option value="ALL">all</option><option value="REGULAR">regular</option><option value="OFFLINE">offline</option>
      </select></label>
      <button type="submit">Preview count</button>
      ${preview !== null
        ? html`<p role="status"><span data-testid="preview-count">${preview.count}</span> sessions match.</p>
            <button type="button" class="danger" disabled=${preview.count === 0} onClick=${doRevoke}>Revoke ${preview.count} sessions</button>`
        : null}
      ${message !== null ? html`<p role="status" data-testid="filter-result">${message}</p>` : null}
    </form>`;
}

function LogoutAll({ realm, onDone }) {
  const [typed, setTyped] = useState('');
  const [message, setMessage] = useState(null);
  const go = async (e) => {
    e.preventDefault();
    try {
      await api('POST', `${r(realm)}/logout-all`, {});
      setMessage(`Every session of realm ${realm} was signed out.`);
      setTyped('');
      onDone();
    } catch (err) {
      setMessage(explain(err, 'sign everyone out'));
    }
  };
  return html`
    <form class="panel" aria-labelledby="logout-all-title" onSubmit=${go}>
      <h2 id="logout-all-title">Sign out everyone</h2>
      <label>Type the realm name (${realm}) to confirm <input name="confirm-realm" value=${typed} onInput=${(e) => setTyped(e.currentTarget.value)} /></label>
      <button type="submit" class="danger" disabled=${typed !== realm}>Sign out all sessions</button>
      ${message !== null ? html`<p role="status">${message}</p>` : null}
    </form>`;
}

export function SessionsPage({ realm, can }) {
  const manage = can('manage-users');
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState({ search: '', type: 'ALL', client: '' });
  const [first, setFirst] = useState(0);
  const [rows, setRows] = useState([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [sort, setSort] = useState(null);
  const [detail, setDetail] = useState(null);
  const [message, setMessage] = useState(null);
  const [clients, setClients] = useState([]);
  const [refreshKey, setRefreshKey] = useState(0);

  useEffect(() => {
    api('GET', `${r(realm)}/client-session-stats`).then(
      (stats) => setClients(stats.map((s) => ({ id: s.id, clientId: s.clientId }))),
      () => setClients([]),
    );
  }, [realm, refreshKey]);

  useEffect(() => {
    const q = query({ type: applied.type, search: applied.search, first, max: PAGE_SIZE + 1, clientId: applied.client });
    const path = applied.client === '' ? `${r(realm)}/ui-ext/sessions${q}` : `${r(realm)}/ui-ext/sessions/client${q}`;
    api('GET', path).then(
      (page) => {
        setRows(page.slice(0, PAGE_SIZE));
        setMore(page.length > PAGE_SIZE);
        setError(null);
      },
      (err) => setError(explain(err, 'list sessions')),
    );
  }, [realm, applied, first, refreshKey]);

  const refresh = () => {
    setSelected(new Set());
    setRefreshKey((k) => k + 1);
  };
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const revokeSelected = async () => {
    try {
      const result = await api('POST', `${r(realm)}/sessions/revoke`, { ids: [...selected], type: 'ALL' });
      setMessage(`Revoked ${result.revoked} sessions, ${result.failed} failed.`);
      refresh();
    } catch (err) {
      setMessage(explain(err, 'revoke sessions'));
    }
  };
  const signOutUser = async (row) => {
    try {
      await api('POST', `${r(realm)}/users/${encodeURIComponent(row.userId)}/logout`, {});
      setMessage(`Signed out ${row.username}.`);
      refresh();
    } catch (err) {
      setMessage(explain(err, 'sign the user out'));
    }
  };
  const shown = sort === null ? rows : [...rows].sort((a, b) => (b[sort] ?? 0) - (a[sort] ?? 0));
  const submit = (e) => {
    e.preventDefault();
    setFirst(0);
    setApplied({ ...applied, search: search.trim() });
  };

  return html`
    <${Counts} realm=${realm} refreshKey=${refreshKey} />
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions in ${realm}</h1>
      <form class="filters" role="search" onSubmit=${submit}>
        <label>Search (username, IP or client) <input name="search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
        <label>Type <select name="type" value=${applied.type} onChange=${(e) => { setFirst(0); setApplied({ ...applied, type: e.currentTarget.value }); }}>
          <option value="ALL">all</option><option value="REGULAR">regular</option><option value="OFFLINE">offline</option>
        </select></label>
        <label>Client <select name="client" value=${applied.client} onChange=${(e) => { setFirst(0); setApplied({ ...applied, client: e.currentTarget.value }); }}>
          <option value="">any</option>${clients.map((c) => html`<option value=${c.id}>${c.clientId}</option>`)}
        </select></label>
        <button type="submit">Search</button>
      </form>
      ${error !== null ? html`<p class="notice" role="alert">${error}</p>` : null}
      ${message !== null ? html`<p role="status" data-testid="session-message">${message}</p>` : null}
      ${manage && selected.size > 0 ? html`<button type="button" class="danger" onClick=${revokeSelected}>Revoke ${selected.size} selected</button>` : null}
      <table data-testid="sessions-table">
        <caption>Sessions ${first + 1}–${first + rows.length}${more ? '' : ' (last page)'}</caption>
        <thead><tr>
          ${manage ? html`<th scope="col"><span class="sr-only">Select</span></th>` : null}
          <th scope="col">User</th><th scope="col">Type</th><th scope="col">IP address</th>
          <th scope="col" aria-sort=${sort === 'start' ? 'descending' : 'none'}><button type="button" class="link" onClick=${() => setSort('start')}>Started</button></th>
          <th scope="col" aria-sort=${sort === 'lastAccess' ? 'descending' : 'none'}><button type="button" class="link" onClick=${() => setSort('lastAccess')}>Last access</button></th>
          <th scope="col">Clients</th><th scope="col">Actions</th>
        </tr></thead>
        <tbody>
          ${shown.map((row) => html`<tr key=${row.id} data-session=${row.id}>
            ${manage ? html`<td><input type="checkbox" aria-label=${`Select session of ${row.username} from ${row.ipAddress}`} checked=${selected.has(row.id)} onChange=${() => toggle(row.id)} /></td>` : null}
            <td>${row.username}</td><td>${row.type}</td><td>${row.ipAddress}</td><td>${when(row.start)}</td><td>${when(row.lastAccess)}</td><td>${clientsOf(row)}</td>
            <td>
              <button type="button" class="link" onClick=${() => setDetail(row.id)} aria-label=${`Details of session ${row.id}`}>Details</button>
              ${manage ? html` <button type="button" class="link" onClick=${() => signOutUser(row)} aria-label=${`Sign out user ${row.username}`}>Sign out user</button>` : null}
            </td>
          </tr>`)}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled=${first === 0} onClick=${() => setFirst(Math.max(0, first - PAGE_SIZE))}>Previous page</button>
        <button type="button" disabled=${!more} onClick=${() => setFirst(first + PAGE_SIZE)}>Next page</button>
      </div>
    </section>
    ${detail !== null ? html`<${Detail} realm=${realm} id=${detail} onClose=${() => setDetail(null)} />` : null}
    ${manage
      ? html`<${RevokeByFilter} realm=${realm} clients=${clients} onDone=${refresh} /><${LogoutAll} realm=${realm} onDone=${refresh} />`
      : html`<p class="notice">Read-only: revoking sessions needs the <code>manage-users</code> role in this realm.</p>`}
  `;
}
