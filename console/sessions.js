// The Sessions page. The list is paged by the engine through the ui-ext
// search (first/max: a page costs what it shows, at any realm size), filtered
// by IP or CIDR and a last-access range and sorted by start or last access
// over the whole list (sessiond's ui-ext parameters); the totals and
// per-client counts come from maintained counters and are polled.

import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api, arrived, explain, query } from './api.js';
import { clientsOf, utcMs, when } from './format.js';

const html = htm.bind(h);
export const PAGE_SIZE = 20;
const POLL_MS = 5000;
const r = (realm) => `/${encodeURIComponent(realm)}`;
/** The list's filters before any is set: Keycloak's listing (start order, regular sessions first). */
const NO_FILTER = { search: '', type: 'ALL', client: '', ip: '', lastFrom: '', lastBefore: '' };
const SORT_NAMES = { start: 'start', lastAccess: 'last access' };

const countPath = (realm, type) => `${r(realm)}/sessions/count?type=${type}`;
const statsPath = (realm) => `${r(realm)}/client-session-stats`;
/** "10.0.0.0/8, 192.168.1.7" → "10.0.0.0/8,192.168.1.7" (the API's comma-separated list). */
const cidrList = (text) => text.split(',').map((x) => x.trim()).filter((x) => x !== '').join(',');

/** The ui-ext request of one page of the list; `sort` null: the engine's own order. */
function listPath(realm, filter, sort, first) {
  const q = query({
    type: filter.type,
    search: filter.search,
    first,
    max: PAGE_SIZE + 1,
    clientId: filter.client,
    ipIn: cidrList(filter.ip),
    lastAccessFrom: utcMs(filter.lastFrom),
    lastAccessBefore: utcMs(filter.lastBefore),
    sort: sort?.by,
    order: sort?.order,
  });
  return filter.client === '' ? `${r(realm)}/ui-ext/sessions${q}` : `${r(realm)}/ui-ext/sessions/client${q}`;
}

/** What the page asks for first: the sign-in starts these before the page exists (api.js prefetch). */
export function sessionsPageRequests(realm) {
  return [listPath(realm, NO_FILTER, null, 0), countPath(realm, 'REGULAR'), countPath(realm, 'OFFLINE'), statsPath(realm)];
}

function Counts({ realm, refreshKey, onStats }) {
  const [counts, setCounts] = useState(null);
  const [stats, setStats] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const [regular, offline, perClient] = await Promise.all([
          api('GET', countPath(realm, 'REGULAR')),
          api('GET', countPath(realm, 'OFFLINE')),
          api('GET', statsPath(realm)),
        ]);
        if (stop) return;
        setCounts({ regular: regular.count, offline: offline.count });
        setStats(perClient);
        onStats(perClient);
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

const NO_REVOKE_FILTER = { username: '', clientId: '', ipIn: '', ipNotIn: '', lastAccessFrom: '', lastAccessBefore: '', type: 'ALL' };

function RevokeByFilter({ realm, clients, listFilter, onDone }) {
  const [form, setForm] = useState(NO_REVOKE_FILTER);
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
    if (cidrList(form.ipIn) !== '') out.ipIn = cidrList(form.ipIn).split(',');
    if (cidrList(form.ipNotIn) !== '') out.ipNotIn = cidrList(form.ipNotIn).split(',');
    if (form.lastAccessFrom !== '') out.lastAccessFrom = utcMs(form.lastAccessFrom);
    if (form.lastAccessBefore !== '') out.lastAccessBefore = utcMs(form.lastAccessBefore);
    return out;
  };
  // The list's filters (all but its search, which is no revoke filter) into this form.
  const copyList = () => {
    const f = listFilter;
    setForm({ ...NO_REVOKE_FILTER, clientId: f.client, ipIn: f.ip, lastAccessFrom: f.lastFrom, lastAccessBefore: f.lastBefore, type: f.type });
    setPreview(null);
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
      <label>Last access from (UTC) <input name="filter-last-access-from" type="datetime-local" step="1" value=${form.lastAccessFrom} onInput=${set('lastAccessFrom')} /></label>
      <label>Last access before (UTC) <input name="filter-last-access" type="datetime-local" step="1" value=${form.lastAccessBefore} onInput=${set('lastAccessBefore')} /></label>
      <label>Type <select name="filter-type" value=${form.type} onChange=${set('type')}>
        <option value="ALL">all</option><option value="REGULAR">regular</option><option value="OFFLINE">offline</option>
      </select></label>
      <button type="button" onClick=${copyList}>Copy the list's filters</button>
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

/** A sortable column header: aria-sort says the order shown; a click sorts by it, newest first, then flips. */
function SortHeader({ label, by, sort, onSort }) {
  const state = sort?.by !== by ? 'none' : sort.order === 'asc' ? 'ascending' : 'descending';
  const arrow = state === 'none' ? '' : state === 'ascending' ? ' ▲' : ' ▼';
  return html`<th scope="col" aria-sort=${state}><button type="button" class="link" onClick=${() => onSort(by)}>${label}<span aria-hidden="true">${arrow}</span></button></th>`;
}

/** The list's search and filters: the text fields apply on Search, the selects at once. */
function ListFilters({ applied, onApply, clients }) {
  const [draft, setDraft] = useState(applied);
  const set = (key) => (e) => setDraft({ ...draft, [key]: e.currentTarget.value });
  const applyNow = (key) => (e) => {
    const next = { ...draft, [key]: e.currentTarget.value };
    setDraft(next);
    onApply({ ...applied, [key]: next[key] });
  };
  const submit = (e) => {
    e.preventDefault();
    onApply({ ...draft, search: draft.search.trim() });
  };
  const clear = () => {
    setDraft(NO_FILTER);
    onApply(NO_FILTER);
  };
  return html`
    <form class="filters" role="search" onSubmit=${submit}>
      <label>Search (username, IP or client) <input name="search" value=${draft.search} onInput=${set('search')} /></label>
      <label>Type <select name="type" value=${draft.type} onChange=${applyNow('type')}>
        <option value="ALL">all</option><option value="REGULAR">regular</option><option value="OFFLINE">offline</option>
      </select></label>
      <label>Client <select name="client" value=${draft.client} onChange=${applyNow('client')}>
        <option value="">any</option>${clients.map((c) => html`<option value=${c.id}>${c.clientId}</option>`)}
      </select></label>
      <label>IP address or CIDR <input name="ip" value=${draft.ip} onInput=${set('ip')} placeholder="10.0.0.0/8, 2001:db8::1" /></label>
      <label>Last access from (UTC) <input name="last-access-from" type="datetime-local" step="1" value=${draft.lastFrom} onInput=${set('lastFrom')} /></label>
      <label>Last access before (UTC) <input name="last-access-before" type="datetime-local" step="1" value=${draft.lastBefore} onInput=${set('lastBefore')} /></label>
      <button type="submit">Search</button>
      <button type="button" onClick=${clear}>Clear filters</button>
    </form>`;
}

export function SessionsPage({ realm, can }) {
  const manage = can('manage-users');
  const [applied, setApplied] = useState(NO_FILTER);
  const [sort, setSort] = useState(null);
  const [first, setFirst] = useState(0);
  // The page shown: its rows and one more (is there a next page?), and where and in what order it
  // was asked for. The first may have come with the sign-in (main.js).
  const [shown, setShown] = useState(() => ({ page: arrived(listPath(realm, NO_FILTER, null, 0)) ?? [], first: 0, sort: null }));
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [detail, setDetail] = useState(null);
  const [message, setMessage] = useState(null);
  const [clients, setClients] = useState([]);
  const [refreshKey, setRefreshKey] = useState(0);

  useEffect(() => {
    let stale = false;
    api('GET', listPath(realm, applied, sort, first)).then(
      (page) => {
        if (stale) return;
        setShown({ page, first, sort });
        setError(null);
      },
      (err) => {
        if (!stale) setError(explain(err, 'list sessions'));
      },
    );
    return () => {
      stale = true;
    };
  }, [realm, applied, sort, first, refreshKey]);

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
  const apply = (next) => {
    setFirst(0);
    setApplied(next);
  };
  const sortBy = (by) => {
    setFirst(0);
    setSort(sort?.by === by ? { by, order: sort.order === 'asc' ? 'desc' : 'asc' } : { by, order: 'desc' });
  };
  const rows = shown.page.slice(0, PAGE_SIZE);
  const more = shown.page.length > PAGE_SIZE;
  const order = shown.sort === null ? '' : `, by ${SORT_NAMES[shown.sort.by]}, ${shown.sort.order === 'desc' ? 'newest' : 'oldest'} first`;

  return html`
    <${Counts} realm=${realm} refreshKey=${refreshKey} onStats=${(stats) => setClients(stats.map((s) => ({ id: s.id, clientId: s.clientId })))} />
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions in ${realm}</h1>
      <${ListFilters} applied=${applied} onApply=${apply} clients=${clients} />
      ${error !== null ? html`<p class="notice" role="alert">${error}</p>` : null}
      ${message !== null ? html`<p role="status" data-testid="session-message">${message}</p>` : null}
      ${manage && selected.size > 0 ? html`<button type="button" class="danger" onClick=${revokeSelected}>Revoke ${selected.size} selected</button>` : null}
      <table data-testid="sessions-table">
        <caption>Sessions ${shown.first + 1}–${shown.first + rows.length}${more ? '' : ' (last page)'}${order}</caption>
        <thead><tr>
          ${manage ? html`<th scope="col"><span class="sr-only">Select</span></th>` : null}
          <th scope="col">User</th><th scope="col">Type</th><th scope="col">IP address</th>
          <${SortHeader} label="Started" by="start" sort=${shown.sort} onSort=${sortBy} />
          <${SortHeader} label="Last access" by="lastAccess" sort=${shown.sort} onSort=${sortBy} />
          <th scope="col">Clients</th><th scope="col">Actions</th>
        </tr></thead>
        <tbody>
          ${rows.map((row) => html`<tr key=${`${row.type}:${row.id}`} data-session=${row.id}>
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
      ? html`<${RevokeByFilter} realm=${realm} clients=${clients} listFilter=${applied} onDone=${refresh} /><${LogoutAll} realm=${realm} onDone=${refresh} />`
      : html`<p class="notice">Read-only: revoking sessions needs the <code>manage-users</code> role in this realm.</p>`}
  `;
}
