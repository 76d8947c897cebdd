// Who may call the admin API (docs/admin-api.md#who-may-call-it, docs/keycloak-semantics.md#admin-tokens-and-roles): no or
// a bad token is 401 and a token without the role is 403 on EVERY admin
// route. The route list is read from the route modules' source
// (`app.<method>('<path>'`) and each entry is checked to be registered on the
// node, so a new route is covered without editing this file. carol
// (realm-management view-users + view-realm in demo) can read sessions but
// not end them, and sees nothing of other realms.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { DEMO_APP, KcAdminClient, kcError, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

const ADMIN_SRC = fileURLToPath(new URL('../../../../src/http/admin/', import.meta.url));

interface Route {
  method: string;
  path: string;
}

function adminRoutes(): Route[] {
  const routes: Route[] = [];
  for (const file of readdirSync(ADMIN_SRC).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(`${ADMIN_SRC}${file}`, 'utf8');
    for (const m of text.matchAll(/\bapp\.(get|post|put|delete|patch)\(\s*'([^']*)'/g)) routes.push({ method: m[1]!.toUpperCase(), path: m[2]! });
  }
  return routes;
}

let a: AdminNode;
let bob: string;
let carol: string;
let carolKc: KcAdminClient;
let params: Record<string, string>;
let sessionId: string;
let otherRealm: string;

test.before(async () => {
  a = await startAdminNode();
  const demo = a.node.store.realmByName('demo')!;
  const alice = a.node.store.userByUsername(demo.id, 'alice')!;
  const app = a.node.store.clientByClientId(demo.id, 'demo-app')!;
  sessionId = (await a.login('demo', DEMO_APP, 'alice', 'alice-password')).session_state!;
  bob = (await a.login('demo', DEMO_APP, 'bob', 'bob-password')).access_token;
  carol = (await a.login('demo', DEMO_APP, 'carol', 'carol-password')).access_token;
  carolKc = new KcAdminClient({ baseUrl: a.baseUrl, realmName: 'demo' });
  await carolKc.auth({ username: 'carol', password: 'carol-password', grantType: 'password', clientId: DEMO_APP[0], clientSecret: DEMO_APP[1] });
  otherRealm = (await a.createRealm({ users: [{ username: 'x', password: 'pw' }] })).name;
  // Syntactically valid values for every path parameter (existing resources where that matters).
  params = { realm: 'demo', id: alice.id, session: sessionId, clientUuid: app.id, client: app.id, clientId: 'demo-app', role: 'offline_access' };
});
test.after.always(async () => {
  await a?.stop();
});

function concrete(route: Route, overrides: Record<string, string> = {}): string {
  let path = route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = overrides[name] ?? params[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${route.path}`);
    return encodeURIComponent(value);
  });
  // Client routes take the client's UUID as :id.
  if (/^\/:realm\/clients\/:id/.test(route.path)) path = path.replace(encodeURIComponent(params['id']!), encodeURIComponent(params['client']!));
  if (route.path.endsWith('/ui-ext/sessions/client')) path += `?clientId=${params['client']}`;
  return path;
}

/** A syntactically valid body: role mappings take an array, other writes an object, reads and deletes none. */
function bodyFor(route: Route): unknown {
  if (route.method === 'GET') return undefined;
  if (route.path.endsWith('/role-mappings/realm') || route.path.includes('/role-mappings/clients/')) return [];
  return route.method === 'DELETE' ? undefined : {};
}

async function sessionCounts(): Promise<string> {
  const stats = await a.kc.realms.getClientSessionStats({ realm: 'demo' });
  return JSON.stringify(stats.sort((x, y) => String(x['id']).localeCompare(String(y['id']))));
}

test('the route list read from the source matches what the node serves', (t) => {
  const routes = adminRoutes();
  t.true(routes.length >= 55, `found ${routes.length} routes`);
  for (const route of routes) t.true(a.node.server.hasRoute({ method: route.method as 'GET', url: `/admin/realms${route.path === '/' ? '' : route.path}` }) || a.node.server.hasRoute({ method: route.method as 'GET', url: `/admin/realms${route.path}` }), `${route.method} ${route.path}`);
  // Every session endpoint of docs/keycloak-semantics.md#admin-session-endpoints and the extensions are among them.
  const listed = new Set(routes.map((r) => `${r.method} ${r.path}`));
  for (const expected of [
    'GET /:realm/users/:id/sessions', 'GET /:realm/users/:id/offline-sessions/:clientUuid', 'POST /:realm/users/:id/logout',
    'GET /:realm/users/:id/consents', 'DELETE /:realm/users/:id/consents/:clientId', 'GET /:realm/clients/:id/user-sessions',
    'GET /:realm/clients/:id/offline-sessions', 'GET /:realm/clients/:id/session-count', 'GET /:realm/clients/:id/offline-session-count',
    'POST /:realm/clients/:id/push-revocation', 'DELETE /:realm/sessions/:session', 'POST /:realm/logout-all', 'POST /:realm/push-revocation',
    'GET /:realm/client-session-stats', 'GET /:realm/ui-ext/sessions', 'GET /:realm/ui-ext/sessions/client',
    'POST /:realm/sessions/revoke', 'GET /:realm/sessions/count', 'GET /:realm/sessions/:id',
  ]) t.true(listed.has(expected), expected);
});

test('no token, a malformed token, a forged token: 401 on every admin route, and nothing changes', async (t) => {
  const before = await sessionCounts();
  const forged = (() => {
    const [h, p] = a.token.split('.');
    return `${h}.${p}.${Buffer.from('not the signature').toString('base64url')}`;
  })();
  for (const route of adminRoutes()) {
    const path = concrete(route);
    const body = bodyFor(route);
    for (const token of [null, 'not-a-jwt', forged]) {
      const res = await a.api(route.method, path, { token, ...(body !== undefined ? { body } : {}) });
      t.is(res.status, 401, `${route.method} ${path} with ${token === null ? 'no token' : token.slice(0, 12)}: ${res.text}`);
      t.deepEqual(res.body, { error: 'HTTP 401 Unauthorized' });
    }
  }
  // Basic auth is not a bearer token.
  const basic = await fetch(`${a.baseUrl}/admin/realms/demo/users`, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
  t.is(basic.status, 401);
  t.is(await sessionCounts(), before);
  t.truthy(await a.node.engine.getSession(sessionId));
});

test('bob (no admin roles): 403 on every admin route, and nothing changes', async (t) => {
  const before = await sessionCounts();
  const users = (await a.kc.users.count({ realm: 'demo' })) as number;
  for (const route of adminRoutes()) {
    for (const realm of ['demo', 'master', otherRealm]) {
      if (realm !== 'demo' && route.path === '/') continue;
      const path = concrete(route, { realm });
      const body = bodyFor(route);
      const res = await a.api(route.method, path, { token: bob, ...(body !== undefined ? { body } : {}) });
      t.is(res.status, 403, `${route.method} ${path}: ${res.status} ${res.text}`);
    }
  }
  // An unknown realm is looked up before permissions, as Keycloak's getRealmAdmin does: 404 for anyone authenticated.
  for (const token of [bob, a.token]) {
    const res = await a.api('GET', '/no-such-realm/users', { token });
    t.deepEqual([res.status, res.body], [404, { error: 'Realm not found.' }]);
  }
  t.is(await sessionCounts(), before);
  t.is(await a.kc.users.count({ realm: 'demo' }), users);
  t.truthy(await a.node.engine.getSession(sessionId));
  t.truthy(a.node.store.realmByName('demo'));
});

test('carol (view-users, view-realm): lists sessions of her realm', async (t) => {
  const alice = (await carolKc.users.find({ username: 'alice', exact: true }))[0]!;
  t.deepEqual((await carolKc.users.listSessions({ id: alice.id! })).map((s) => s.id).includes(sessionId), true);
  const stats = await carolKc.realms.getClientSessionStats({ realm: 'demo' });
  t.true(stats.some((s) => s['clientId'] === 'demo-app'));
  const ui = await a.api('GET', '/demo/ui-ext/sessions?max=100', { token: carol });
  t.is(ui.status, 200);
  t.true((ui.body as { id: string }[]).some((row) => row.id === sessionId));
  t.is((await a.api('GET', '/demo/sessions/count?userId=' + alice.id, { token: carol })).status, 200);
  t.is((await a.api('GET', `/demo/sessions/${sessionId}`, { token: carol })).status, 200);
  t.deepEqual((await carolKc.realms.find()).map((r) => r.realm), ['demo']);
  t.is((await carolKc.realms.findOne({ realm: 'demo' }))!.realm, 'demo');
});

test('carol: 403 on logout-all, DELETE sessions/{id}, user logout, revoke, client listings, and on other realms', async (t) => {
  const before = await sessionCounts();
  const alice = a.node.store.userByUsername(a.node.store.realmByName('demo')!.id, 'alice')!;
  const app = a.node.store.clientByClientId(a.node.store.realmByName('demo')!.id, 'demo-app')!;
  t.is((await kcError(t, carolKc.realms.logoutAll({ realm: 'demo' }))).status, 403);
  t.is((await kcError(t, carolKc.realms.deleteSession({ realm: 'demo', session: sessionId, isOffline: false }))).status, 403);
  t.is((await kcError(t, carolKc.users.logout({ id: alice.id }))).status, 403);
  t.is((await kcError(t, carolKc.users.revokeConsent({ id: alice.id, clientId: 'demo-app' }))).status, 403);
  t.is((await kcError(t, carolKc.realms.pushRevocation({ realm: 'demo' }))).status, 403);
  // Client sessions need view-clients, which carol lacks.
  t.is((await kcError(t, carolKc.clients.listSessions({ id: app.id }))).status, 403);
  t.is((await kcError(t, carolKc.clients.getSessionCount({ id: app.id }))).status, 403);
  t.is((await a.api('POST', '/demo/sessions/revoke', { token: carol, body: { userId: alice.id } })).status, 403);
  t.is((await a.api('PUT', '/demo', { token: carol, body: { notBefore: 1 } })).status, 403);
  // Other realms: nothing, whatever the endpoint.
  for (const realm of ['master', otherRealm]) {
    t.is((await kcError(t, carolKc.realms.getClientSessionStats({ realm }))).status, 403);
    t.is((await kcError(t, carolKc.realms.findOne({ realm }))).status, 403);
    t.is((await kcError(t, carolKc.realms.logoutAll({ realm }))).status, 403);
    t.is((await a.api('GET', `/${realm}/ui-ext/sessions`, { token: carol })).status, 403);
    t.is((await a.api('GET', `/${realm}/users`, { token: carol })).status, 403);
  }
  t.is((await kcError(t, carolKc.realms.create({ realm: 'carols-realm' }))).status, 403);
  t.is(await sessionCounts(), before);
  t.truthy(await a.node.engine.getSession(sessionId));
});

test('the master admin reaches every realm; a master user without the admin role does not', async (t) => {
  t.is((await a.api('GET', `/${otherRealm}/client-session-stats`)).status, 200);
  t.is((await a.api('GET', '/demo/client-session-stats')).status, 200);
  const master = a.node.store.realmByName('master')!;
  await a.kc.users.create({ realm: 'master', username: 'plain', enabled: true, credentials: [{ type: 'password', value: 'plain-pw', temporary: false }] });
  t.truthy(a.node.store.userByUsername(master.id, 'plain'));
  const plain = await a.login('master', ['admin-cli', null], 'plain', 'plain-pw');
  t.is((await a.api('GET', '/demo/client-session-stats', { token: plain.access_token })).status, 403);
  t.is((await a.api('GET', '/master/users', { token: plain.access_token })).status, 403);
});

test.serial('a bearer token whose session was ended is 401 (Keycloak checks the user session behind admin tokens)', async (t) => {
  const login = await a.login('demo', DEMO_APP, 'carol', 'carol-password');
  t.is((await a.api('GET', '/demo/client-session-stats', { token: login.access_token })).status, 200);
  await a.kc.realms.deleteSession({ realm: 'demo', session: login.session_state!, isOffline: false });
  const res = await a.api('GET', '/demo/client-session-stats', { token: login.access_token });
  t.deepEqual([res.status, res.body], [401, { error: 'HTTP 401 Unauthorized' }]);
});
