// sessiond's extensions (docs/admin-api.md "Beyond Keycloak"): bulk revoke by
// filter or by id list, filtered counts, one session in full. Sessions come
// from real password grants sent from different loopback source addresses
// (127.0.0.1 / .2 / .3: Linux routes all of 127.0.0.0/8 to lo), standing in
// for "inside / outside the corporate network". The node runs on a
// ManualClock so that "expired meanwhile" is a step of the test, not a sleep.

import test from 'ava';
import { claims, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;

test.before(async () => {
  a = await startAdminNode({ manualClock: true });
});
test.after.always(async () => {
  await a?.stop();
});
test.beforeEach(async () => {
  await a.reauth();
});

const APP: [string, string] = ['app', 'app-secret'];
const OTHER: [string, string] = ['other', 'other-secret'];

async function realm(sessions: Record<string, unknown> = {}) {
  const r = await a.createRealm({
    overrides: { sessions },
    clients: [
      { clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true },
      { clientId: 'other', secret: 'other-secret', directAccessGrantsEnabled: true },
    ],
    users: [
      { username: 'mallory', password: 'pw' },
      { username: 'walter', password: 'pw' },
    ],
  });
  return { ...r, mallory: r.users.get('mallory')!.id, walter: r.users.get('walter')!.id, app: r.clients.get('app')!.id, other: r.clients.get('other')!.id };
}

async function count(realmName: string, query: Record<string, string>): Promise<number> {
  const res = await a.api('GET', `/${realmName}/sessions/count?${new URLSearchParams(query).toString()}`);
  if (res.status !== 200) throw new Error(`count: ${res.status} ${res.text}`);
  return (res.body as { count: number }).count;
}

async function revoke(realmName: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await a.api('POST', `/${realmName}/sessions/revoke`, { body });
  return { status: res.status, body: res.body };
}

const onlineIds = async (realmName: string, userId: string): Promise<string[]> => (await a.kc.users.listSessions({ realm: realmName, id: userId })).map((s) => s.id!).sort();

test.serial('revoke {userId, ipNotIn}: exactly the sessions outside the CIDRs end; counts agree before and after', async (t) => {
  const r = await realm();
  const inside = [await a.login(r.name, APP, 'mallory', 'pw'), await a.login(r.name, OTHER, 'mallory', 'pw')];
  const outside = [
    await a.login(r.name, APP, 'mallory', 'pw', { localAddress: '127.0.0.2' }),
    await a.login(r.name, APP, 'mallory', 'pw', { localAddress: '127.0.0.2' }),
    await a.login(r.name, OTHER, 'mallory', 'pw', { localAddress: '127.0.0.3' }),
  ];
  const offlineOutside = await a.login(r.name, APP, 'mallory', 'pw', { localAddress: '127.0.0.3', scope: 'openid offline_access' });
  const bystander = await a.login(r.name, APP, 'walter', 'pw', { localAddress: '127.0.0.2' });
  const sessionsOf = (list: { session_state?: string }[]) => list.map((x) => x.session_state!).sort();

  // What a revoke would hit, first: the filter is "mallory, not from 127.0.0.1".
  const filter = { userId: r.mallory, ipNotIn: '127.0.0.1/32' };
  t.is(await count(r.name, filter), 4, '3 online + 1 offline (type ALL is the default for filters)');
  t.is(await count(r.name, { ...filter, type: 'REGULAR' }), 3);
  t.is(await count(r.name, { ...filter, type: 'OFFLINE' }), 1);
  t.is(await count(r.name, { userId: r.mallory, ipIn: '127.0.0.2/32,127.0.0.3/32' }), 4);
  t.is(await count(r.name, { userId: r.mallory, ipIn: '127.0.0.0/30' }), 6, '127.0.0.0/30 holds .1, .2 and .3: all of them');
  t.is(await count(r.name, { userId: r.mallory, ipIn: '10.0.0.0/8' }), 0);
  t.is(await count(r.name, { ipIn: '127.0.0.2/32' }), 3, 'two of mallory, one of walter');
  t.is(await count(r.name, { userId: r.mallory, clientId: 'other' }), 2);
  t.is(await count(r.name, { userId: r.mallory, clientId: r.other, ipNotIn: '127.0.0.1/32' }), 1, 'clientId takes the UUID too');

  // Only the regular ones first.
  const regular = await revoke(r.name, { userId: r.mallory, ipNotIn: ['127.0.0.1/32'], type: 'REGULAR' });
  t.deepEqual(regular, { status: 200, body: { revoked: 3, failed: 0, failures: [] } });
  t.deepEqual(await onlineIds(r.name, r.mallory), sessionsOf(inside));
  t.deepEqual(await onlineIds(r.name, r.walter), [bystander.session_state]);
  t.is(await count(r.name, { ...filter, type: 'REGULAR' }), 0);
  t.is(await count(r.name, filter), 1, 'the offline session is still there');
  for (const s of outside) {
    const res = await a.refresh(r.name, claims(s.refresh_token!)['azp'] === 'app' ? APP : OTHER, s.refresh_token!);
    t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Session not active' });
  }
  for (const s of inside) t.is((await a.refresh(r.name, claims(s.refresh_token!)['azp'] === 'app' ? APP : OTHER, s.refresh_token!)).status, 200);
  t.is((await a.refresh(r.name, APP, offlineOutside.refresh_token!)).status, 200);

  // Then the default (ALL) takes the offline one too.
  const all = await revoke(r.name, { userId: r.mallory, ipNotIn: ['127.0.0.1/32'] });
  t.deepEqual(all, { status: 200, body: { revoked: 1, failed: 0, failures: [] } });
  t.deepEqual(await a.kc.users.listOfflineSessions({ realm: r.name, id: r.mallory, clientId: r.app }), []);
  t.deepEqual((await a.refresh(r.name, APP, offlineOutside.refresh_token!)).body, { error: 'invalid_grant', error_description: 'Offline user session not found' });
  t.is(await count(r.name, filter), 0);
  t.is(await count(r.name, { userId: r.mallory }), 2);
  t.deepEqual(await onlineIds(r.name, r.mallory), sessionsOf(inside));
  // Nothing left to hit: zero, not an error.
  t.deepEqual(await revoke(r.name, { userId: r.mallory, ipNotIn: ['127.0.0.1/32'] }), { status: 200, body: { revoked: 0, failed: 0, failures: [] } });
  t.deepEqual(await onlineIds(r.name, r.walter), [bystander.session_state]);
});

test.serial('revoke {ids}: unknown ids and sessions that expired meanwhile are failures, not errors', async (t) => {
  // Sessions idle out after 300 s (+ the node's 120 s idle grace before the engine drops them).
  const r = await realm({ ssoSessionIdleTimeout: 300 });
  const keep = await a.login(r.name, APP, 'mallory', 'pw');
  const target = await a.login(r.name, APP, 'mallory', 'pw', { localAddress: '127.0.0.2' });
  const lapsing = await a.login(r.name, OTHER, 'mallory', 'pw');
  const offline = await a.login(r.name, APP, 'walter', 'pw', { scope: 'openid offline_access' });
  await a.advance(200);
  // keep and target stay in use; lapsing does not.
  const kept = await a.refresh(r.name, APP, keep.refresh_token!);
  t.is(kept.status, 200);
  const targetRefreshed = await a.refresh(r.name, APP, target.refresh_token!);
  t.is(targetRefreshed.status, 200);
  await a.advance(250);
  await a.reauth();
  t.is(await a.node.engine.getSession(lapsing.session_state!), null, 'the engine dropped the idle session');

  const unknown = '00000000-dead-4000-8000-000000000000';
  const res = await revoke(r.name, { ids: [target.session_state, unknown, lapsing.session_state] });
  t.is(res.status, 200);
  t.is(res.body.revoked, 1);
  t.is(res.body.failed, 2);
  const byId = (x: { id: string }, y: { id: string }): number => x.id.localeCompare(y.id);
  t.deepEqual([...(res.body.failures as { id: string }[])].sort(byId), [{ id: unknown, reason: 'not_found' }, { id: lapsing.session_state!, reason: 'not_found' }].sort(byId));
  t.deepEqual(await onlineIds(r.name, r.mallory), [keep.session_state]);
  t.deepEqual((await a.refresh(r.name, APP, targetRefreshed.body.refresh_token)).body, { error: 'invalid_grant', error_description: 'Session not active' });
  t.is((await a.refresh(r.name, APP, kept.body.refresh_token)).status, 200);

  // An offline id is not found among regular sessions (the default type); with type OFFLINE it is.
  const notRegular = await revoke(r.name, { ids: [offline.session_state] });
  t.deepEqual(notRegular.body, { revoked: 0, failed: 1, failures: [{ id: offline.session_state, reason: 'not_found' }] });
  const asOffline = await revoke(r.name, { ids: [offline.session_state, keep.session_state], type: 'OFFLINE' });
  t.deepEqual(asOffline.body, { revoked: 1, failed: 1, failures: [{ id: keep.session_state, reason: 'not_found' }] });
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm: r.name, id: r.app }), { count: 0 });
  // ALL finds either kind; an id of another realm is not found here.
  const elsewhere = await realm();
  const foreign = await a.login(elsewhere.name, APP, 'mallory', 'pw');
  const mixed = await revoke(r.name, { ids: [keep.session_state, foreign.session_state], type: 'ALL' });
  t.deepEqual(mixed.body, { revoked: 1, failed: 1, failures: [{ id: foreign.session_state, reason: 'not_found' }] });
  t.truthy(await a.node.engine.getSession(foreign.session_state!));
  t.deepEqual(await onlineIds(r.name, r.mallory), []);
});

test.serial('GET /sessions/{id}: the session with its client sessions and their timestamps', async (t) => {
  const r = await realm();
  const started = a.now();
  const login = await a.login(r.name, APP, 'mallory', 'pw', { localAddress: '127.0.0.2' });
  await a.advance(5);
  const refreshed = await a.refresh(r.name, APP, login.refresh_token!);
  t.is(refreshed.status, 200);
  const res = await a.api('GET', `/${r.name}/sessions/${login.session_state}`);
  t.is(res.status, 200, res.text);
  t.like(res.body, {
    id: login.session_state,
    username: 'mallory',
    userId: r.mallory,
    ipAddress: '127.0.0.2',
    start: started * 1000,
    lastAccess: (started + 5) * 1000,
    rememberMe: false,
    clients: { [r.app]: 'app' },
    transientUser: false,
    type: 'REGULAR',
    authTime: started * 1000,
    valid: true,
    invalidReason: null,
  });
  t.deepEqual(res.body.clientSessions, [
    { clientUuid: r.app, clientId: 'app', start: started * 1000, lastAccess: (started + 5) * 1000, scope: res.body.clientSessions[0].scope, valid: true, invalidReason: null },
  ]);
  t.regex(res.body.clientSessions[0].scope, /openid/);

  const offline = await a.login(r.name, OTHER, 'walter', 'pw', { scope: 'openid offline_access' });
  const off = await a.api('GET', `/${r.name}/sessions/${offline.session_state}`);
  t.like(off.body, { id: offline.session_state, type: 'OFFLINE', username: 'walter', clients: { [r.other]: 'other' } });
  t.is(off.body.clientSessions[0].clientId, 'other');

  t.deepEqual((await a.api('GET', `/${r.name}/sessions/00000000-dead-4000-8000-000000000000`)).status, 404);
  // Not through another realm.
  const elsewhere = await realm();
  t.is((await a.api('GET', `/${elsewhere.name}/sessions/${login.session_state}`)).status, 404);
});

test.serial('revocations are counted in sessiond_sessions_revoked_total{realm,cause}; admin requests in sessiond_admin_requests_total{route,outcome}', async (t) => {
  const r = await realm();
  for (let i = 0; i < 3; i++) await a.login(r.name, APP, 'walter', 'pw', { localAddress: '127.0.0.2' });
  const deleted = await a.login(r.name, APP, 'mallory', 'pw');
  t.deepEqual((await revoke(r.name, { userId: r.walter, ipIn: ['127.0.0.2/32'] })).body, { revoked: 3, failed: 0, failures: [] });
  await a.kc.realms.deleteSession({ realm: r.name, session: deleted.session_state!, isOffline: false });
  t.is((await revoke(r.name, {})).status, 400);
  const metrics = parseMetrics(await a.metrics());
  t.is(metrics.get(key('sessiond_sessions_revoked_total', { realm: r.name, cause: 'bulk_revoke' })), 3);
  t.is(metrics.get(key('sessiond_sessions_revoked_total', { realm: r.name, cause: 'admin_delete' })), 1);
  t.true((metrics.get(key('sessiond_admin_requests_total', { route: '/admin/realms/:realm/sessions/revoke', outcome: 'success' })) ?? 0) >= 1);
  t.true((metrics.get(key('sessiond_admin_requests_total', { route: '/admin/realms/:realm/sessions/revoke', outcome: 'client_error' })) ?? 0) >= 1);
  t.true((metrics.get(key('sessiond_admin_requests_total', { route: '/admin/realms/:realm/sessions/:session', outcome: 'success' })) ?? 0) >= 1);
});

/** Prometheus text to a map from `name{k="v",...}` (labels sorted) to value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    out.set(key(m[1]!, labels), Number(m[3]));
  }
  return out;
}

function key(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(',')}}`;
}

test.serial('count without a filter: the realm totals by type, from the counters', async (t) => {
  const r = await realm();
  t.is(await count(r.name, {}), 0);
  await a.login(r.name, APP, 'mallory', 'pw');
  await a.login(r.name, APP, 'walter', 'pw');
  await a.login(r.name, APP, 'walter', 'pw', { scope: 'openid offline_access' });
  t.is(await count(r.name, { type: 'REGULAR' }), 2);
  t.is(await count(r.name, { type: 'OFFLINE' }), 1);
  t.is(await count(r.name, {}), 3);
});
