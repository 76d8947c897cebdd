// Every session endpoint of Keycloak's admin API (docs/keycloak-semantics.md#admin-session-endpoints) with its
// exact shape, the realm-wide session search of the admin console (ui-ext,
// paged inside the engine), and the extensions only sessiond has: bulk
// revoke by ids or by filter, filtered counts, and one session in full.
//
// Every termination is auditable: a USER_SESSION_DELETED user event per
// session (session id, user id, the session's IP, the reason and the acting
// admin) when the realm stores events, an admin event for the request, and
// sessiond_sessions_revoked_total{realm,cause}.

import { NEVER, userSessionIdleExpiry, userSessionMaxExpiry } from '../../session/expiry.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { END_REASON, type EndedSession, type SessionFilter, type SessionOrder, type SessionView } from '../../protocol/actor-messages.js';
import { sessionComparator } from '../../protocol/session-order.js';
import { mergeOrderedBy } from '../../host/merge-ordered.js';
import { notifyAdminUrls } from '../../logout/admin-url-notifier.js';
import type { RealmRecord } from '../../realm/model.js';
import { parseCidr } from '../../util/ip-address.js';
import type { FacadeContext } from '../context.js';
import { issuerOf } from '../oidc/request-context.js';
import { allowed } from './admin-auth.js';
import { adminOf, auditAdmin, targetRealm } from './admin-routes.js';
import { badRequest, notFound } from './admin-error.js';
import { clientOf } from './clients.js';
import { pageQuery } from './paging.js';
import { requireObject, sessionToRep } from './representations.js';
import { userOf } from './users.js';

type SessionType = 'ALL' | 'REGULAR' | 'OFFLINE';

function sessionType(value: string | undefined): SessionType {
  if (value === undefined || value === '') return 'ALL';
  const upper = value.toUpperCase();
  if (upper !== 'ALL' && upper !== 'REGULAR' && upper !== 'OFFLINE') throw badRequest(`type must be ALL, REGULAR or OFFLINE`, 'type');
  return upper;
}

/** Ends sessions on behalf of an admin: back-channel logout, events, metrics. */
export function recordTermination(
  ctx: FacadeContext,
  request: FastifyRequest,
  realm: RealmRecord,
  ended: readonly EndedSession[],
  cause: string,
  options: { backchannel: boolean; offline?: boolean },
): void {
  if (ended.length === 0) return;
  if (options.backchannel) ctx.backchannel.notify(realm.id, issuerOf(ctx, request, realm), ended, ctx.clock.nowSeconds());
  ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause }, ended.length);
  if (!ctx.events.stores(realm.id, 'USER_SESSION_DELETED')) return;
  const admin = adminOf(request);
  for (const { session, reason } of ended) {
    ctx.events.emit({
      type: 'USER_SESSION_DELETED',
      realmId: realm.id,
      clientId: null,
      userId: session.userId,
      sessionId: session.id,
      ipAddress: admin.ipAddress,
      error: null,
      details: {
        reason,
        session_ip: session.ip,
        username: session.username,
        offline: String(options.offline === true),
        admin_user: admin.user.id,
        admin_realm: admin.realm.name,
      },
    });
  }
}

export function registerSessionRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  const clientIdOf = (uuid: string): string | undefined => ctx.store.clientById(uuid)?.clientId;
  const lastAccessOfClient = (clientUuid: string) => (view: SessionView): number =>
    view.clients.find((c) => c.client === clientUuid)?.timestamp ?? view.lastSessionRefresh;

  // ----------------------------------------------------------------- per user
  app.get('/:realm/users/:id/sessions', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const user = userOf(ctx, realm, request);
    const views = await ctx.engine.listUserSessions(realm.id, user.id);
    return views.map((v) => sessionToRep(v, clientIdOf));
  });

  app.get('/:realm/users/:id/offline-sessions/:clientUuid', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const user = userOf(ctx, realm, request);
    const client = clientOf(ctx, realm, { params: { id: (request.params as { clientUuid: string }).clientUuid } } as FastifyRequest);
    const views = await ctx.engine.listUserOfflineSessions(realm.id, user.id);
    return views.filter((v) => v.clients.some((c) => c.client === client.id)).map((v) => sessionToRep(v, clientIdOf, lastAccessOfClient(client.id)));
  });

  app.post('/:realm/users/:id/logout', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const now = ctx.clock.nowSeconds();
    // Keycloak sets the user's not-before so that offline tokens stop working too (§4.2).
    await ctx.store.putUser({ ...user, notBefore: now });
    const ended = await ctx.engine.logoutUser(realm.id, user.id, END_REASON.userLogout);
    recordTermination(ctx, request, realm, ended, 'user_logout', { backchannel: true });
    auditAdmin(ctx, request, realm, 'ACTION', 'USER', `users/${user.id}/logout`, undefined, { sessions: String(ended.length) });
    return reply.code(204).send();
  });

  app.get('/:realm/users/:id/consents', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const user = userOf(ctx, realm, request);
    const offline = await ctx.engine.listUserOfflineSessions(realm.id, user.id);
    const clients = new Set<string>();
    for (const view of offline) for (const c of view.clients) clients.add(c.client);
    const out: unknown[] = [];
    for (const uuid of clients) {
      const client = ctx.store.clientById(uuid);
      if (client === undefined) continue;
      // An offline grant without a stored consent: Keycloak's UserResource.getConsents
      // (toConsent) gives no scopes and null dates, only the "Offline Token" grant.
      out.push({
        clientId: client.clientId,
        grantedClientScopes: [],
        createdDate: null,
        lastUpdatedDate: null,
        additionalGrants: [{ client: client.id, key: 'Offline Token' }],
      });
    }
    return out;
  });

  app.delete('/:realm/users/:id/consents/:clientId', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const client = ctx.store.clientByClientId(realm.id, (request.params as { clientId: string }).clientId);
    if (client === undefined) throw notFound('Client not found');
    const offline = await ctx.engine.listUserOfflineSessions(realm.id, user.id);
    const holding = offline.filter((v) => v.clients.some((c) => c.client === client.id));
    if (holding.length === 0) throw notFound('Consent nor offline token not found');
    const ended: EndedSession[] = [];
    for (const view of holding) {
      const removed = await ctx.engine.removeOfflineClient(view.id, client.id, END_REASON.consentRevoked);
      if (removed.ended !== null) ended.push(removed.ended);
    }
    recordTermination(ctx, request, realm, ended, 'consent_revoked', { backchannel: false, offline: true });
    ctx.events.emit({ type: 'REVOKE_GRANT', realmId: realm.id, clientId: client.clientId, userId: user.id, sessionId: null, ipAddress: request.ip, error: null, details: { revoked_client: client.clientId } });
    auditAdmin(ctx, request, realm, 'ACTION', 'USER', `users/${user.id}/consents/${client.clientId}`);
    return reply.code(204).send();
  });

  // --------------------------------------------------------------- per client
  app.get('/:realm/clients/:id/user-sessions', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    const page = pageQuery(request.query as { first?: string; max?: string }, 100);
    const views = await ctx.engine.listClientSessions(realm.id, client.id, page);
    return views.map((v) => sessionToRep(v, clientIdOf));
  });

  app.get('/:realm/clients/:id/offline-sessions', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    const page = pageQuery(request.query as { first?: string; max?: string }, 100);
    return (await ctx.engine.listClientOfflineSessions(client.id, page)).map((v) => sessionToRep(v, clientIdOf, lastAccessOfClient(client.id)));
  });

  app.get('/:realm/clients/:id/session-count', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    return { count: await ctx.engine.countClientSessions(realm.id, client.id) };
  });

  app.get('/:realm/clients/:id/offline-session-count', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    return { count: await ctx.engine.countClientOfflineSessions(client.id) };
  });

  app.post('/:realm/clients/:id/push-revocation', async (request) => {
    const realm = targetRealm(ctx, request, 'manage-clients');
    const client = clientOf(ctx, realm, request);
    const result = await notifyAdminUrls(ctx.keys, realm, [client], 'PUSH_NOT_BEFORE', (c) => c.notBefore, ctx.clock.nowSeconds());
    auditAdmin(ctx, request, realm, 'ACTION', 'CLIENT', `clients/${client.id}/push-revocation`);
    return result;
  });

  // ---------------------------------------------------------------- per realm
  app.delete('/:realm/sessions/:session', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const id = (request.params as { session: string }).session;
    const offline = ((request.query as { isOffline?: string }).isOffline ?? 'false') === 'true';
    const session = offline ? await ctx.engine.getOfflineSession(id) : await ctx.engine.getSession(id);
    if (session === null || session.session.realm !== realm.id) throw notFound('Sesssion not found');
    const ended = offline ? await ctx.engine.removeOfflineSession(id, END_REASON.adminDelete) : await ctx.engine.logoutSession(id, END_REASON.adminDelete);
    if (ended === null) throw notFound('Sesssion not found');
    recordTermination(ctx, request, realm, [ended], 'admin_delete', { backchannel: true, offline });
    auditAdmin(ctx, request, realm, 'DELETE', 'USER_SESSION', `sessions/${id}`, { offline });
    return reply.code(204).send();
  });

  app.post('/:realm/logout-all', async (request) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const now = ctx.clock.nowSeconds();
    const count = await ctx.engine.logoutAll(realm.id);
    if (count > 0) ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause: 'logout_all' }, count);
    // Offline sessions stay stored; the realm not-before makes every token issued before now stale (§4.2).
    const updated = { ...realm, sessions: { ...realm.sessions, notBefore: now } };
    await ctx.store.updateRealm(updated);
    const result = await notifyAdminUrls(ctx.keys, updated, ctx.store.clients(realm.id), 'LOGOUT', () => now, now);
    auditAdmin(ctx, request, realm, 'ACTION', 'REALM', 'logout-all', undefined, { sessions: String(count) });
    return result;
  });

  app.post('/:realm/push-revocation', async (request) => {
    const realm = targetRealm(ctx, request, 'manage-realm');
    const result = await notifyAdminUrls(ctx.keys, realm, ctx.store.clients(realm.id), 'PUSH_NOT_BEFORE', () => realm.sessions.notBefore, ctx.clock.nowSeconds());
    auditAdmin(ctx, request, realm, 'ACTION', 'REALM', 'push-revocation');
    return result;
  });

  app.get('/:realm/client-session-stats', async (request) => {
    const realm = targetRealm(ctx, request, 'view-realm');
    const active = await ctx.engine.clientSessionStats(realm.id);
    const out: { id: string; clientId: string; active: string; offline: string }[] = [];
    const clients = ctx.store.clients(realm.id);
    const offlineCounts = await Promise.all(clients.map((client) => ctx.engine.countClientOfflineSessions(client.id)));
    for (const [i, client] of clients.entries()) {
      const online = active.get(client.id) ?? 0;
      const offline = offlineCounts[i]!;
      if (online === 0 && offline === 0) continue;
      out.push({ id: client.id, clientId: client.clientId, active: String(online), offline: String(offline) });
    }
    return out;
  });

  // --------------------------------------------------------------- ui-ext search
  const search = async (request: FastifyRequest, clientUuid: string | null): Promise<unknown[]> => {
    const realm = targetRealm(ctx, request, clientUuid === null ? 'view-realm' : 'view-clients');
    const admin = adminOf(request);
    // Rows are users' data: an admin without view-users sees none.
    if (!allowed(admin, realm, 'view-users')) return [];
    const q = request.query as { type?: string; search?: string; first?: string; max?: string };
    const type = sessionType(q.type);
    const { first, max } = pageQuery(q, 10);
    const text = (q.search ?? '').trim();
    const searchClients = text === '' ? [] : ctx.store.clients(realm.id).filter((c) => c.clientId.includes(text)).map((c) => c.id);
    const sorted = await sortedRows(ctx, realm, request.query as Record<string, string | undefined>, { type, first, max, search: text, searchClients, client: clientUuid });
    if (sorted !== null) return sorted.map(({ view, type: rowType }) => uiExtRow(sessionToRep(view, clientIdOf), rowType));
    const rows: unknown[] = [];
    let regularReturned = 0;
    if (type !== 'OFFLINE') {
      const views = await ctx.engine.searchSessions(realm.id, { search: text, searchClients, client: clientUuid, first, max });
      for (const v of views) rows.push(uiExtRow(sessionToRep(v, clientIdOf), 'REGULAR'));
      if (views.length < max) {
        // Fewer than a page: the regular sessions ran out, so count how many exist before `first`.
        regularReturned = views.length === 0 && first > 0 ? await countRegular(ctx, realm, text, searchClients, clientUuid, first) : first + views.length;
      } else {
        return rows;
      }
    }
    if (type !== 'REGULAR') {
      const offset = type === 'OFFLINE' ? first : Math.max(0, first - regularReturned);
      const views = await ctx.engine.searchOfflineSessions(realm.id, { search: text, searchClients, client: clientUuid, first: offset, max: max - rows.length });
      for (const v of views) rows.push(uiExtRow(sessionToRep(v, clientIdOf), 'OFFLINE'));
    }
    return rows;
  };
  app.get('/:realm/ui-ext/sessions', async (request) => search(request, null));
  app.get('/:realm/ui-ext/sessions/client', async (request) => {
    const clientId = (request.query as { clientId?: string }).clientId;
    if (clientId === undefined || clientId === '') throw badRequest('clientId is required', 'clientId');
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, { params: { id: clientId } } as FastifyRequest);
    return search(request, client.id);
  });

  // ------------------------------------------------------- beyond Keycloak
  app.post('/:realm/sessions/revoke', async (request) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const body = requireObject(request.body);
    const report = { revoked: 0, failed: 0, failures: [] as { id: string; reason: string }[] };
    let ended: EndedSession[] = [];
    let endedOffline: EndedSession[] = [];
    if (body['ids'] !== undefined) {
      const ids = body['ids'];
      if (!Array.isArray(ids) || ids.length > 10_000 || ids.some((id) => typeof id !== 'string')) throw badRequest('ids must be an array of at most 10000 session ids', 'ids');
      const type = sessionType(typeof body['type'] === 'string' ? body['type'] : 'REGULAR');
      if (type !== 'OFFLINE') {
        const result = await ctx.engine.revokeSessions(realm.id, ids as string[], END_REASON.revoked);
        ended.push(...result.ended);
        report.failures.push(...(type === 'ALL' ? [] : result.failures));
      }
      if (type !== 'REGULAR') {
        for (const id of ids as string[]) {
          const got = await ctx.engine.getOfflineSession(id);
          if (got === null || got.session.realm !== realm.id) {
            if (type === 'OFFLINE' || !ended.some((e) => e.session.id === id)) report.failures.push({ id, reason: 'not_found' });
            continue;
          }
          const removed = await ctx.engine.removeOfflineSession(id, END_REASON.revoked);
          if (removed === null) report.failures.push({ id, reason: 'not_found' });
          else endedOffline.push(removed);
        }
      }
    } else {
      const { filter, type } = parseFilter(ctx, realm, body);
      // Whole lists, not push(...): a filter can match a million sessions.
      if (type !== 'OFFLINE') ended = (await ctx.engine.revokeByFilter(realm.id, filter, END_REASON.revoked)).ended;
      if (type !== 'REGULAR') endedOffline = await ctx.engine.revokeOfflineByFilter(realm.id, filter, END_REASON.revoked);
    }
    recordTermination(ctx, request, realm, ended, 'bulk_revoke', { backchannel: true });
    recordTermination(ctx, request, realm, endedOffline, 'bulk_revoke', { backchannel: false, offline: true });
    report.revoked = ended.length + endedOffline.length;
    report.failed = report.failures.length;
    auditAdmin(ctx, request, realm, 'ACTION', 'USER_SESSION', 'sessions/revoke', body, { revoked: String(report.revoked), failed: String(report.failed) });
    return report;
  });

  app.get('/:realm/sessions/count', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const query = request.query as Record<string, string | undefined>;
    const fields = queryFilter(query, FILTER_KEYS);
    // No filter: the realm's totals from the maintained counters (no scan), as the console polls them.
    if (Object.keys(fields).length === 0) {
      const type = sessionType(query['type'] ?? 'ALL');
      let count = 0;
      for (const shard of await ctx.engine.stats()) {
        if (type !== 'OFFLINE') count += shard.realms[realm.id]?.[0] ?? 0;
        if (type !== 'REGULAR') count += shard.offlineRealms[realm.id] ?? 0;
      }
      return { count };
    }
    const { filter, type } = parseFilter(ctx, realm, { ...fields, ...(query['type'] !== undefined ? { type: query['type'] } : {}) });
    let count = 0;
    if (type !== 'OFFLINE') count += await ctx.engine.countByFilter(realm.id, filter);
    if (type !== 'REGULAR') count += await ctx.engine.countOfflineByFilter(realm.id, filter);
    return { count };
  });

  app.get('/:realm/sessions/:id', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const id = (request.params as { id: string }).id;
    let got = await ctx.engine.getSession(id);
    let type = 'REGULAR';
    if (got === null) {
      got = await ctx.engine.getOfflineSession(id);
      type = 'OFFLINE';
    }
    if (got === null || got.session.realm !== realm.id) throw notFound('Session not found');
    const s = got.session;
    return {
      ...sessionToRep(s, clientIdOf),
      type,
      authMethod: s.authMethod,
      authTime: s.authTime * 1000,
      // The realm's expiry rules applied to this session (remember-me and offline included); -1 = never.
      ...expiryTimes(realm, s, type === 'OFFLINE'),
      valid: got.invalid === null,
      invalidReason: got.invalid,
      clientSessions: s.clients.map((c) => ({
        clientUuid: c.client,
        clientId: clientIdOf(c.client) ?? null,
        start: c.started * 1000,
        lastAccess: c.timestamp * 1000,
        scope: c.scope,
        valid: got.clientsInvalid[c.client] === null,
        invalidReason: got.clientsInvalid[c.client] ?? null,
      })),
    };
  });
}

/** When a session expires idle and at the latest, in epoch ms (-1 = never), by its realm's settings. */
function expiryTimes(realm: RealmRecord, s: SessionView, offline: boolean): { idleExpiresAt: number; maxExpiresAt: number } {
  const idle = userSessionIdleExpiry(realm.sessions, s, offline);
  const max = userSessionMaxExpiry(realm.sessions, s, offline);
  return { idleExpiresAt: idle === NEVER ? -1 : idle * 1000, maxExpiresAt: max === NEVER ? -1 : max * 1000 };
}

/** ui-ext's SessionRepresentation: UserSessionRepresentation without rememberMe, with the type. */
function uiExtRow(rep: Record<string, unknown>, type: 'REGULAR' | 'OFFLINE'): Record<string, unknown> {
  const { rememberMe: _rememberMe, ...rest } = rep;
  return { ...rest, type };
}

/** How many regular sessions match, up to `limit` (to place the offline part of an ALL page). */
async function countRegular(ctx: FacadeContext, realm: RealmRecord, search: string, searchClients: string[], client: string | null, limit: number): Promise<number> {
  const views = await ctx.engine.searchSessions(realm.id, { search, searchClients, client, first: 0, max: limit });
  return views.length;
}

/** The filter fields of sessions/count and sessions/revoke. */
const FILTER_KEYS = ['userId', 'clientId', 'ipIn', 'ipNotIn', 'lastAccessFrom', 'lastAccessBefore'] as const;
/** The filter fields of the ui-ext list (its client is the route's). */
const LIST_FILTER_KEYS = ['userId', 'ipIn', 'ipNotIn', 'lastAccessFrom', 'lastAccessBefore'] as const;
const START_ORDER: SessionOrder = { by: 'started', desc: false };

/** Query parameters of a filter in the body's shape: CIDR lists comma-separated, times as decimal epoch ms. */
function queryFilter(query: Record<string, string | undefined>, keys: readonly (typeof FILTER_KEYS)[number][]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const key of keys) {
    const value = query[key];
    if (value === undefined) continue;
    if (key === 'ipIn' || key === 'ipNotIn') body[key] = value.split(',');
    else if (key === 'lastAccessFrom' || key === 'lastAccessBefore') body[key] = /^\d{1,15}$/.test(value) ? Number(value) : value;
    else body[key] = value;
  }
  return body;
}

/** `sort` (start, lastAccess) and `order` (asc, desc) of the ui-ext list, or null when neither is given. */
function listOrder(query: Record<string, string | undefined>): SessionOrder | null {
  const { sort, order } = query;
  if (sort === undefined && order === undefined) return null;
  if (sort !== undefined && sort !== 'start' && sort !== 'lastAccess') throw badRequest('sort must be start or lastAccess', 'sort');
  if (order !== undefined && order !== 'asc' && order !== 'desc') throw badRequest('order must be asc or desc', 'order');
  return { by: sort === 'lastAccess' ? 'lastAccess' : 'started', desc: order === 'desc' };
}

interface TypedView {
  view: SessionView;
  type: 'REGULAR' | 'OFFLINE';
}

interface ListPageQuery {
  type: SessionType;
  first: number;
  max: number;
  search: string;
  searchClients: string[];
  client: string | null;
}

/**
 * The ui-ext page when the request filters (IP, last access, user) or sorts,
 * else null (Keycloak's listing: regular sessions in start order, then
 * offline ones). Sorted, the regular and offline lists merge by the order:
 * each gives its first first + max.
 */
async function sortedRows(ctx: FacadeContext, realm: RealmRecord, query: Record<string, string | undefined>, page: ListPageQuery): Promise<TypedView[] | null> {
  const order = listOrder(query);
  const fields = queryFilter(query, LIST_FILTER_KEYS);
  if (order === null && Object.keys(fields).length === 0) return null;
  const filter = filterFields(ctx, realm, fields);
  if (page.client !== null) filter.client = page.client;
  const input = { search: page.search, searchClients: page.searchClients, filter, order: order ?? START_ORDER, first: 0, max: page.first + page.max };
  const [regular, offline] = await Promise.all([
    page.type === 'OFFLINE' ? [] : ctx.engine.listSessions(realm.id, input),
    page.type === 'REGULAR' ? [] : ctx.engine.listOfflineSessions(realm.id, input),
  ]);
  const typed = (views: SessionView[], type: 'REGULAR' | 'OFFLINE'): TypedView[] => views.map((view) => ({ view, type }));
  const compare = sessionComparator(input.order);
  return mergeOrderedBy([typed(regular, 'REGULAR'), typed(offline, 'OFFLINE')], (a, b) => compare(a.view, b.view), input.max).slice(page.first);
}

/** An epoch-ms filter field as epoch seconds: the first whole second at or after it. */
function epochSecondsField(body: Record<string, unknown>, key: 'lastAccessFrom' | 'lastAccessBefore'): number | undefined {
  const ms = body[key];
  if (ms === undefined) return undefined;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw badRequest(`${key} must be epoch milliseconds`, key);
  return Math.ceil(ms / 1000);
}

/** The bulk filter of the extensions: `userId`, `clientId` (clientId or UUID), `type`, CIDR lists, `lastAccessFrom` / `lastAccessBefore` (epoch ms). */
function parseFilter(ctx: FacadeContext, realm: RealmRecord, body: Record<string, unknown>): { filter: SessionFilter; type: SessionType } {
  const filter = filterFields(ctx, realm, body);
  if (Object.keys(filter).length === 0) {
    throw badRequest('give ids, or at least one filter: userId, clientId, ipIn, ipNotIn, lastAccessFrom, lastAccessBefore');
  }
  const type = sessionType(typeof body['type'] === 'string' ? body['type'] : undefined);
  return { filter, type };
}

/** The filter fields present in `body`, checked; an empty filter is the caller's to allow or refuse. */
function filterFields(ctx: FacadeContext, realm: RealmRecord, body: Record<string, unknown>): SessionFilter {
  const filter: SessionFilter = {};
  if (body['userId'] !== undefined) {
    if (typeof body['userId'] !== 'string') throw badRequest('userId must be a string', 'userId');
    filter.userId = body['userId'];
  }
  if (body['clientId'] !== undefined) {
    if (typeof body['clientId'] !== 'string') throw badRequest('clientId must be a string', 'clientId');
    const client = ctx.store.clientByClientId(realm.id, body['clientId']) ?? ctx.store.clientById(body['clientId']);
    if (client === undefined || client.realmId !== realm.id) throw notFound('Could not find client');
    filter.client = client.id;
  }
  for (const key of ['ipIn', 'ipNotIn'] as const) {
    const list = body[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length > 1000 || list.some((c) => typeof c !== 'string' || parseCidr(c) === null)) {
      throw badRequest(`${key} must be an array of CIDR blocks`, key);
    }
    filter[key] = list as string[];
  }
  // Whole seconds: from = the first second at or after it (inclusive), before = strictly before it.
  const from = epochSecondsField(body, 'lastAccessFrom');
  if (from !== undefined) filter.lastAccessFrom = from;
  const before = epochSecondsField(body, 'lastAccessBefore');
  if (before !== undefined) filter.lastAccessBefore = before;
  return filter;
}


