// User and admin events (docs/keycloak-semantics.md#events, docs/admin-api.md "Events"):
// enabled through the Keycloak admin client, produced by real logins,
// refreshes, logouts, admin deletes and session expiry, queried with
// realms.findEvents / findAdminEvents and their filters, newest first, and
// expired by housekeeping. The node runs on a ManualClock; tests are serial
// and the event-expiry test comes first, while the node's clock still
// matches the wall clock that stamps events.

import test from 'ava';
import { kcError, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;
let adminId: string;

test.before(async () => {
  a = await startAdminNode({ manualClock: true });
  adminId = (await a.kc.users.find({ realm: 'master', username: 'admin', exact: true }))[0]!.id!;
});
test.after.always(async () => {
  await a?.stop();
});
test.beforeEach(async () => {
  await a.reauth();
});

const APP: [string, string] = ['app', 'app-secret'];
const TYPES = ['LOGIN', 'LOGIN_ERROR', 'REFRESH_TOKEN', 'LOGOUT', 'USER_SESSION_DELETED', 'REVOKE_GRANT'];

async function realm(sessions: Record<string, unknown> = {}, events: Record<string, unknown> = {}) {
  const r = await a.createRealm({
    overrides: { sessions },
    clients: [{ clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true }],
    users: [
      { username: 'ursula', password: 'pw' },
      { username: 'victor', password: 'pw' },
    ],
  });
  // One hour by default: the node's own housekeeping timer (every 60 s of real time) compares
  // wall-clock event times with the manual clock, which these tests move ahead by minutes.
  await a.kc.realms.update({ realm: r.name }, { eventsEnabled: true, adminEventsEnabled: true, adminEventsDetailsEnabled: true, eventsExpiration: 3600, enabledEventTypes: TYPES, ...events });
  await a.settle();
  return { ...r, ursula: r.users.get('ursula')!.id, victor: r.users.get('victor')!.id, app: r.clients.get('app')!.id };
}

async function events(query: Parameters<AdminNode['kc']['realms']['findEvents']>[0]) {
  await a.committed();
  return a.kc.realms.findEvents(query);
}

async function adminEvents(query: Parameters<AdminNode['kc']['realms']['findAdminEvents']>[0]) {
  await a.committed();
  return a.kc.realms.findAdminEvents(query);
}

test.serial('event expiry: housekeeping deletes events older than eventsExpiration, per realm', async (t) => {
  const expiring = await realm({}, { eventsExpiration: 60 });
  const keeping = await realm({}, { eventsExpiration: 0 });
  await a.login(expiring.name, APP, 'ursula', 'pw');
  await a.login(keeping.name, APP, 'ursula', 'pw');
  t.is((await events({ realm: expiring.name })).length, 1);
  await a.node.housekeeping();
  t.is((await events({ realm: expiring.name })).length, 1, 'not old enough yet');
  await a.advance(120);
  await a.reauth();
  await a.node.housekeeping();
  t.deepEqual(await events({ realm: expiring.name }), []);
  t.is((await events({ realm: keeping.name })).length, 1, 'eventsExpiration 0 keeps events');
  // Admin events are not user events: they stay.
  t.true((await adminEvents({ realm: expiring.name })).length >= 1);
});

test.serial('user events: LOGIN, LOGIN_ERROR, REFRESH_TOKEN, LOGOUT, USER_SESSION_DELETED (admin delete); filters and paging, newest first', async (t) => {
  const r = await realm();
  const t0 = a.node.clock.nowMs();
  const first = await a.login(r.name, APP, 'ursula', 'pw', { localAddress: '127.0.0.2' });
  t.is((await a.passwordGrant(r.name, APP, 'ursula', 'wrong')).status, 401);
  const refreshed = await a.refresh(r.name, APP, first.refresh_token!);
  t.is(refreshed.status, 200);
  t.is((await a.logout(r.name, APP, refreshed.body.refresh_token)).status, 204);
  const second = await a.login(r.name, APP, 'victor', 'pw');
  await a.kc.realms.deleteSession({ realm: r.name, session: second.session_state!, isOffline: false });
  const t1 = a.node.clock.nowMs();

  const all = await events({ realm: r.name });
  t.deepEqual(all.map((e) => e.type), ['USER_SESSION_DELETED', 'LOGIN', 'LOGOUT', 'REFRESH_TOKEN', 'LOGIN_ERROR', 'LOGIN']);
  for (let i = 1; i < all.length; i++) t.true(all[i - 1]!.time! >= all[i]!.time!, 'newest first');
  for (const e of all) t.true(e.time! >= t0 && e.time! <= t1);

  const login = all[5]!;
  t.like(login, { type: 'LOGIN', realmId: r.realm.id, clientId: 'app', userId: r.ursula, sessionId: first.session_state, ipAddress: '127.0.0.2' });
  t.like(login.details, { username: 'ursula', grant_type: 'password', auth_method: 'openid-connect' });
  t.like(all[4], { type: 'LOGIN_ERROR', clientId: 'app', error: 'invalid_user_credentials' });
  t.like(all[4]!.details, { username: 'ursula' });
  t.like(all[3], { type: 'REFRESH_TOKEN', clientId: 'app', userId: r.ursula, sessionId: first.session_state });
  t.like(all[2], { type: 'LOGOUT', clientId: 'app', userId: r.ursula, sessionId: first.session_state });
  const deleted = all[0]!;
  t.like(deleted, { type: 'USER_SESSION_DELETED', userId: r.victor, sessionId: second.session_state, ipAddress: '127.0.0.1' });
  t.deepEqual(deleted.details, { reason: 'admin_delete', session_ip: '127.0.0.1', username: 'victor', offline: 'false', admin_user: adminId, admin_realm: 'master' });

  // Filters: type (one or several), client, user, dates; paging.
  t.deepEqual((await events({ realm: r.name, type: 'LOGIN' })).map((e) => e.userId), [r.victor, r.ursula]);
  t.deepEqual((await events({ realm: r.name, type: ['LOGOUT', 'REFRESH_TOKEN'] as never })).map((e) => e.type), ['LOGOUT', 'REFRESH_TOKEN']);
  t.is((await events({ realm: r.name, client: 'app' })).length, 5, 'USER_SESSION_DELETED has no client');
  t.deepEqual((await events({ realm: r.name, user: r.victor })).map((e) => e.type), ['USER_SESSION_DELETED', 'LOGIN']);
  t.deepEqual(await events({ realm: r.name, client: 'no-such-client' }), []);
  t.is((await events({ realm: r.name, dateFrom: String(t0) as never, dateTo: String(t1) as never })).length, 6);
  t.deepEqual(await events({ realm: r.name, dateFrom: String(t1 + 1000) as never }), []);
  const today = new Date(t0).toISOString().slice(0, 10);
  t.is((await events({ realm: r.name, dateFrom: today, dateTo: today })).length, 6, 'yyyy-MM-dd dates');
  const idOf = (e: object): unknown => (e as { id?: string }).id;
  t.deepEqual((await events({ realm: r.name, first: 1, max: 2 })).map(idOf), all.slice(1, 3).map(idOf));
  t.deepEqual((await events({ realm: r.name, type: 'LOGIN', first: 1, max: 5 })).map((e) => e.userId), [r.ursula]);

  // Types outside enabledEventTypes are not stored.
  await a.introspect(r.name, APP, first.access_token);
  t.false((await events({ realm: r.name })).some((e) => e.type === 'INTROSPECT_TOKEN'));
  // view-events is needed.
  const carol = await a.login('demo', ['demo-app', 'demo-secret'], 'carol', 'carol-password');
  t.is((await a.api('GET', '/demo/events', { token: carol.access_token })).status, 403);
});

test.serial('admin events: operation and resource types, resource path, acting admin, representation', async (t) => {
  const r = await realm();
  const login = await a.login(r.name, APP, 'ursula', 'pw');
  await a.login(r.name, APP, 'victor', 'pw', { scope: 'openid offline_access' });
  await a.kc.realms.deleteSession({ realm: r.name, session: login.session_state!, isOffline: false });
  await a.kc.users.logout({ realm: r.name, id: r.ursula });
  await a.kc.users.revokeConsent({ realm: r.name, id: r.victor, clientId: 'app' });
  await a.kc.realms.logoutAll({ realm: r.name });
  await a.kc.clients.update({ realm: r.name, id: r.app }, { description: 'described' });

  const all = await adminEvents({ realm: r.name });
  t.deepEqual(
    all.map((e) => `${e.operationType} ${e.resourceType} ${e.resourcePath}`),
    [
      `UPDATE CLIENT clients/${r.app}`,
      'ACTION REALM logout-all',
      `ACTION USER users/${r.victor}/consents/app`,
      `ACTION USER users/${r.ursula}/logout`,
      `DELETE USER_SESSION sessions/${login.session_state}`,
      // The event settings themselves (realms.update in realm()): the realm's own path is empty.
      'UPDATE REALM ',
    ],
  );
  for (const e of all) t.like(e.authDetails, { realmId: a.node.store.realmByName('master')!.id, userId: adminId, ipAddress: '127.0.0.1' });
  const del = all.find((e) => e.operationType === 'DELETE')!;
  t.deepEqual(JSON.parse(del.representation!), { offline: false });
  t.is(del.realmId, r.realm.id);
  t.like(JSON.parse(all[0]!.representation!), { description: 'described' });

  t.deepEqual((await adminEvents({ realm: r.name, operationTypes: 'DELETE' })).map((e) => e.resourcePath), [`sessions/${login.session_state}`]);
  t.deepEqual((await adminEvents({ realm: r.name, resourceTypes: 'USER_SESSION' })).map((e) => e.operationType), ['DELETE']);
  t.deepEqual((await adminEvents({ realm: r.name, operationTypes: 'ACTION', resourceTypes: 'USER' })).length, 2);
  t.deepEqual((await adminEvents({ realm: r.name, resourcePath: 'users/*' })).map((e) => e.resourcePath), [`users/${r.victor}/consents/app`, `users/${r.ursula}/logout`]);
  t.deepEqual((await adminEvents({ realm: r.name, resourcePath: 'logout-all' })).length, 1);
  t.is((await adminEvents({ realm: r.name, authUser: adminId })).length, all.length);
  t.deepEqual(await adminEvents({ realm: r.name, authUser: r.ursula }), []);
  const idOf = (e: object): unknown => (e as { id?: string }).id;
  t.deepEqual((await adminEvents({ realm: r.name, first: 1, max: 2 })).map(idOf), all.slice(1, 3).map(idOf));

  // Without details, no representation.
  await a.kc.realms.update({ realm: r.name }, { adminEventsDetailsEnabled: false });
  await a.kc.clients.update({ realm: r.name, id: r.app }, { description: 'again' });
  t.is((await adminEvents({ realm: r.name, max: 1 }))[0]!.representation ?? null, null);
  // Bad filters are 400s.
  t.is((await kcError(t, a.kc.realms.findEvents({ realm: r.name, dateFrom: 'yesterday' }))).status, 400);
});

test.serial('session expiry writes USER_SESSION_DELETED with reason idle or max', async (t) => {
  // Idle: 300 s (+120 s idle grace before the engine drops a session); max: 400 s with a long idle.
  const idle = await realm({ ssoSessionIdleTimeout: 300, ssoSessionMaxLifespan: 36000 });
  const max = await realm({ ssoSessionIdleTimeout: 3600, ssoSessionMaxLifespan: 400 });
  const quiet = await a.createRealm({
    overrides: { sessions: { ssoSessionIdleTimeout: 300 } },
    clients: [{ clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true }],
    users: [{ username: 'ursula', password: 'pw' }],
  });
  const offlineIdle = await realm({ offlineSessionIdleTimeout: 300 });
  const offlineLogin = await a.login(offlineIdle.name, APP, 'victor', 'pw', { scope: 'openid offline_access' });
  const idleLogin = await a.login(idle.name, APP, 'ursula', 'pw', { localAddress: '127.0.0.3' });
  const maxLogin = await a.login(max.name, APP, 'victor', 'pw');
  const quietLogin = await a.login(quiet.name, APP, 'ursula', 'pw');
  await a.advance(200);
  // The max-realm session stays in use; the idle one does not.
  t.is((await a.refresh(max.name, APP, maxLogin.refresh_token!)).status, 200);
  await a.advance(300);
  await a.reauth();
  t.is(await a.node.engine.getSession(idleLogin.session_state!), null);
  t.is(await a.node.engine.getSession(maxLogin.session_state!), null);
  t.is(await a.node.engine.getSession(quietLogin.session_state!), null);

  const idleEvents = (await events({ realm: idle.name, type: 'USER_SESSION_DELETED' as never })) as { userId?: string; sessionId?: string; details?: Record<string, string> }[];
  t.is(idleEvents.length, 1);
  t.like(idleEvents[0], { userId: idle.ursula, sessionId: idleLogin.session_state });
  t.deepEqual(idleEvents[0]!.details, { reason: 'idle', session_ip: '127.0.0.3', username: 'ursula', offline: 'false' });
  const maxEvents = (await events({ realm: max.name, type: 'USER_SESSION_DELETED' as never })) as { sessionId?: string; details?: Record<string, string> }[];
  t.is(maxEvents.length, 1);
  t.like(maxEvents[0], { sessionId: maxLogin.session_state, details: { reason: 'max', username: 'victor' } });
  // Offline sessions expire on their own clock, reported as offline.
  t.is(await a.node.engine.getOfflineSession(offlineLogin.session_state!), null);
  const offlineEvents = (await events({ realm: offlineIdle.name, type: 'USER_SESSION_DELETED' as never })) as { sessionId?: string; details?: Record<string, string> }[];
  t.deepEqual(offlineEvents.map((e) => [e.sessionId, e.details]), [[offlineLogin.session_state, { reason: 'idle', session_ip: '127.0.0.1', username: 'victor', offline: 'true' }]]);
  // A realm without events stores none.
  t.deepEqual(await events({ realm: quiet.name }), []);
});
