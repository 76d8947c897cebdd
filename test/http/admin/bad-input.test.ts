// Malformed ids, bodies and absurd paging get a 4xx with a JSON body and
// change nothing: after every bad request the demo realm's sessions (online
// and offline, per client), its representation and its users are what they
// were. The admin API's requests are counted by route and outcome on the
// management port's /metrics.

import test from 'ava';
import { DEMO_APP, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;
let alice: string;
let app: string;
let sessionId: string;
let offlineId: string;

test.before(async () => {
  a = await startAdminNode();
  alice = (await a.kc.users.find({ realm: 'demo', username: 'alice', exact: true }))[0]!.id!;
  app = (await a.kc.clients.find({ realm: 'demo', clientId: 'demo-app' }))[0]!.id!;
  sessionId = (await a.login('demo', DEMO_APP, 'alice', 'alice-password')).session_state!;
  await a.login('demo', DEMO_APP, 'alice', 'alice-password', { localAddress: '127.0.0.2' });
  await a.login('demo', DEMO_APP, 'bob', 'bob-password');
  offlineId = (await a.login('demo', DEMO_APP, 'alice', 'alice-password', { scope: 'openid offline_access' })).session_state!;
});
test.after.always(async () => {
  await a?.stop();
});

/** Everything a bad request must not change. */
async function snapshot(): Promise<string> {
  const stats = await a.kc.realms.getClientSessionStats({ realm: 'demo' });
  const realm = (await a.kc.realms.findOne({ realm: 'demo' }))!;
  const users = await a.kc.users.find({ realm: 'demo', max: 1000 });
  const clients = await a.kc.clients.find({ realm: 'demo', max: 1000 });
  const engine = await a.node.engine.stats();
  return JSON.stringify({
    stats,
    realm,
    users: users.map((u) => [u.id, u.username, u.enabled, u.email, u.notBefore]),
    clients: clients.map((c) => [c.id, c.clientId, c.notBefore, c.redirectUris, c.secret]),
    online: engine.map((s) => s.realms).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    aliceSessions: (await a.kc.users.listSessions({ realm: 'demo', id: alice })).map((s) => s.id).sort(),
    aliceOffline: (await a.kc.users.listOfflineSessions({ realm: 'demo', id: alice, clientId: app })).map((s) => s.id),
  });
}

interface Case {
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  status: number;
}

async function expectAll(t: import('ava').ExecutionContext, cases: Case[]): Promise<void> {
  const before = await snapshot();
  for (const c of cases) {
    const res = await a.api(c.method, c.path, { ...(c.body !== undefined ? { body: c.body } : {}), ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : {}) });
    t.is(res.status, c.status, `${c.method} ${c.path} ${c.rawBody ?? JSON.stringify(c.body) ?? ''}: ${res.text}`);
    t.true(typeof res.body === 'object' && res.body !== null && !Array.isArray(res.body), `${c.method} ${c.path}: a JSON error body, got ${res.text}`);
  }
  t.is(await snapshot(), before);
}

test('absurd paging: negative first, huge max, non-numbers are 400', async (t) => {
  const paged = [
    `/demo/clients/${app}/user-sessions`,
    `/demo/clients/${app}/offline-sessions`,
    '/demo/ui-ext/sessions',
    `/demo/ui-ext/sessions/client?clientId=${app}&x=1`,
    '/demo/users',
    '/demo/clients',
    '/demo/events',
    '/demo/admin-events',
  ];
  const cases: Case[] = [];
  for (const path of paged) {
    const sep = path.includes('?') ? '&' : '?';
    for (const q of ['first=-5', 'max=1000000', 'max=abc', 'first=abc', 'first=1e3', 'max=-7', 'first=99999999999999999999'])
      cases.push({ method: 'GET', path: `${path}${sep}${q}`, status: 400 });
  }
  await expectAll(t, cases);
  // The admin client's default (-1) and ordinary pages still work.
  t.is((await a.api('GET', `/demo/clients/${app}/user-sessions?first=-1&max=-1`)).status, 200);
  t.is((await a.kc.clients.listSessions({ realm: 'demo', id: app, first: 0, max: 1 })).length, 1);
});

test('unknown realm, user, client and session ids are 404', async (t) => {
  const nobody = '00000000-0000-4000-8000-000000000000';
  await expectAll(t, [
    { method: 'GET', path: '/no-such-realm', status: 404 },
    { method: 'GET', path: '/no-such-realm/client-session-stats', status: 404 },
    { method: 'POST', path: '/no-such-realm/logout-all', body: {}, status: 404 },
    { method: 'GET', path: `/demo/users/${nobody}`, status: 404 },
    { method: 'GET', path: `/demo/users/${nobody}/sessions`, status: 404 },
    { method: 'GET', path: `/demo/users/${nobody}/offline-sessions/${app}`, status: 404 },
    { method: 'GET', path: `/demo/users/${alice}/offline-sessions/${nobody}`, status: 404 },
    { method: 'GET', path: `/demo/users/${alice}/offline-sessions/demo-app`, status: 404 },
    { method: 'POST', path: `/demo/users/${nobody}/logout`, body: {}, status: 404 },
    { method: 'GET', path: `/demo/users/${nobody}/consents`, status: 404 },
    { method: 'DELETE', path: `/demo/users/${nobody}/consents/demo-app`, status: 404 },
    { method: 'DELETE', path: `/demo/users/${alice}/consents/no-such-client`, status: 404 },
    { method: 'PUT', path: `/demo/users/${nobody}`, body: { firstName: 'x' }, status: 404 },
    { method: 'DELETE', path: `/demo/users/${nobody}`, status: 404 },
    { method: 'GET', path: `/demo/clients/${nobody}`, status: 404 },
    { method: 'GET', path: '/demo/clients/demo-app/user-sessions', status: 404 },
    { method: 'GET', path: `/demo/clients/${nobody}/user-sessions`, status: 404 },
    { method: 'GET', path: `/demo/clients/${nobody}/offline-sessions`, status: 404 },
    { method: 'GET', path: `/demo/clients/${nobody}/session-count`, status: 404 },
    { method: 'GET', path: `/demo/clients/${nobody}/offline-session-count`, status: 404 },
    { method: 'POST', path: `/demo/clients/${nobody}/push-revocation`, body: {}, status: 404 },
    { method: 'DELETE', path: `/demo/clients/${nobody}`, status: 404 },
    { method: 'GET', path: `/demo/ui-ext/sessions/client?clientId=${nobody}`, status: 404 },
    { method: 'DELETE', path: `/demo/sessions/${nobody}`, status: 404 },
    { method: 'DELETE', path: `/demo/sessions/${offlineId}`, status: 404 },
    { method: 'DELETE', path: `/demo/sessions/${sessionId}?isOffline=true`, status: 404 },
    { method: 'GET', path: `/demo/sessions/${nobody}`, status: 404 },
    { method: 'GET', path: `/demo/sessions/${'x'.repeat(90)}`, status: 404 },
    { method: 'GET', path: `/demo/sessions/${'x'.repeat(300)}`, status: 404 },
    { method: 'GET', path: `/demo/users/${'x'.repeat(1000)}`, status: 404 },
    { method: 'DELETE', path: '/demo/sessions/%00%01', status: 404 },
    { method: 'GET', path: '/demo/roles/no-such-role', status: 404 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { clientId: 'no-such-client' }, status: 404 },
    { method: 'GET', path: '/demo/no-such-resource', status: 404 },
  ]);
});

test('malformed JSON bodies are 400', async (t) => {
  await expectAll(t, [
    { method: 'PUT', path: '/demo', rawBody: '{"ssoSessionIdleTimeout": 1', status: 400 },
    { method: 'PUT', path: '/demo', rawBody: 'not json', status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', rawBody: '{', status: 400 },
    { method: 'POST', path: '/demo/users', rawBody: '[', status: 400 },
    { method: 'PUT', path: `/demo/clients/${app}`, rawBody: '{"redirectUris": [}', status: 400 },
    { method: 'POST', path: '', rawBody: '{"realm": ', status: 400 },
    { method: 'POST', path: '/demo/partialImport', rawBody: '{{}', status: 400 },
  ]);
});

test('JSON bodies with prototype-poisoning keys are 400 and poison nothing', async (t) => {
  await expectAll(t, [
    { method: 'PUT', path: '/demo', rawBody: '{"__proto__": {"ssoSessionIdleTimeout": 1}}', status: 400 },
    { method: 'PUT', path: `/demo/users/${alice}`, rawBody: '{"firstName": "x", "__proto__": {"enabled": false}}', status: 400 },
    { method: 'POST', path: '/demo/users', rawBody: '{"username": "eve", "constructor": {"prototype": {"admin": true}}}', status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', rawBody: '{"userId": "x", "a": {"__proto__": {"polluted": true}}}', status: 400 },
  ]);
  t.is(({} as Record<string, unknown>)['polluted'], undefined);
  t.is(({} as Record<string, unknown>)['admin'], undefined);
});

test('wrong types in representations are 400', async (t) => {
  await expectAll(t, [
    { method: 'PUT', path: '/demo', body: { ssoSessionIdleTimeout: 'abc' }, status: 400 },
    { method: 'PUT', path: '/demo', body: { ssoSessionIdleTimeout: 1.5 }, status: 400 },
    { method: 'PUT', path: '/demo', body: { revokeRefreshToken: 'yes' }, status: 400 },
    { method: 'PUT', path: '/demo', body: { notBefore: '1' }, status: 400 },
    { method: 'PUT', path: '/demo', body: { eventsEnabled: 1 }, status: 400 },
    { method: 'PUT', path: '/demo', body: { enabledEventTypes: 'LOGIN' }, status: 400 },
    { method: 'PUT', path: '/demo', body: { eventsExpiration: -1 }, status: 400 },
    { method: 'PUT', path: '/demo', body: { defaultSignatureAlgorithm: 'none' }, status: 400 },
    { method: 'PUT', path: '/demo', body: [], status: 400 },
    { method: 'PUT', path: '/demo', body: 'a string', status: 400 },
    { method: 'PUT', path: `/demo/clients/${app}`, body: { redirectUris: 'http://x' }, status: 400 },
    { method: 'PUT', path: `/demo/clients/${app}`, body: { notBefore: -1 }, status: 400 },
    { method: 'PUT', path: `/demo/clients/${app}`, body: { enabled: 'false' }, status: 400 },
    { method: 'PUT', path: `/demo/clients/${app}`, body: { clientId: '' }, status: 400 },
    { method: 'PUT', path: `/demo/clients/${app}`, body: { attributes: ['x'] }, status: 400 },
    { method: 'POST', path: '/demo/clients', body: { clientId: 42 }, status: 400 },
    { method: 'PUT', path: `/demo/users/${alice}`, body: { enabled: 'true' }, status: 400 },
    { method: 'PUT', path: `/demo/users/${alice}`, body: { email: 'not-an-email' }, status: 400 },
    { method: 'PUT', path: `/demo/users/${alice}`, body: { notBefore: 'now' }, status: 400 },
    { method: 'POST', path: '/demo/users', body: { username: 42 }, status: 400 },
    { method: 'POST', path: '/demo/users', body: { enabled: true }, status: 400 },
    { method: 'PUT', path: `/demo/users/${alice}/reset-password`, body: { value: 12345 }, status: 400 },
    { method: 'POST', path: `/demo/users/${alice}/role-mappings/realm`, body: { name: 'x' }, status: 400 },
    { method: 'POST', path: `/demo/users/${alice}/role-mappings/realm`, body: [{ id: 'x' }], status: 400 },
    { method: 'POST', path: '', body: { realm: 7 }, status: 400 },
    { method: 'POST', path: '', body: { enabled: true }, status: 400 },
    { method: 'POST', path: '/demo/partialImport', body: { ifResourceExists: 'MERGE' }, status: 400 },
    { method: 'PUT', path: '/demo/events/config', body: { eventsEnabled: 'on' }, status: 400 },
  ]);
  // The demo realm's name was not changed to something odd either.
  t.truthy(a.node.store.realmByName('demo'));
});

test('sessions/revoke and sessions/count: empty filter, bad CIDR, bad types are 400', async (t) => {
  await expectAll(t, [
    { method: 'POST', path: '/demo/sessions/revoke', body: {}, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', rawBody: '', status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { type: 'ALL' }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: alice, ipNotIn: ['10.0.0.0/33'] }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: alice, ipNotIn: ['not-an-ip'] }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: alice, ipNotIn: '127.0.0.1/32' }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: alice, ipIn: ['256.1.1.1/32'] }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: alice, ipIn: ['::1/129'] }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: 7 }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { userId: alice, type: 'SOME' }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { lastAccessBefore: 'yesterday' }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { lastAccessBefore: -1 }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { ids: sessionId }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { ids: [1, 2] }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: { ids: [sessionId], type: 'BOTH' }, status: 400 },
    { method: 'POST', path: '/demo/sessions/revoke', body: [sessionId], status: 400 },
    { method: 'GET', path: '/demo/sessions/count?type=NONE', status: 400 },
    { method: 'GET', path: `/demo/sessions/count?userId=${alice}&ipNotIn=10.0.0.0/33`, status: 400 },
    { method: 'GET', path: `/demo/sessions/count?userId=${alice}&ipIn=x`, status: 400 },
    { method: 'GET', path: `/demo/sessions/count?userId=${alice}&type=NONE`, status: 400 },
    { method: 'GET', path: `/demo/sessions/count?lastAccessBefore=abc`, status: 400 },
    { method: 'GET', path: '/demo/ui-ext/sessions?type=NONE', status: 400 },
    { method: 'GET', path: '/demo/ui-ext/sessions/client', status: 400 },
  ]);
  // The same filter, well-formed, does what it says.
  const res = await a.api('GET', `/demo/sessions/count?userId=${alice}&ipNotIn=10.0.0.0/8`);
  t.deepEqual(res.body, { count: 3 });
});

test('ui-ext filters and sort: a bad value is a 400 naming the parameter, in the admin error body', async (t) => {
  const cases: [string, string][] = [
    ['sort=name', 'sort'],
    ['sort=', 'sort'],
    ['order=up', 'order'],
    ['sort=start&order=DESC', 'order'],
    ['ipIn=x', 'ipIn'],
    ['ipIn=10.0.0.0/33', 'ipIn'],
    ['ipNotIn=127.0.0.1/32,', 'ipNotIn'],
    ['lastAccessFrom=abc', 'lastAccessFrom'],
    ['lastAccessFrom=-5', 'lastAccessFrom'],
    ['lastAccessBefore=1e3', 'lastAccessBefore'],
    ['lastAccessBefore=', 'lastAccessBefore'],
  ];
  await expectAll(t, cases.flatMap(([query]) => [
    { method: 'GET', path: `/demo/ui-ext/sessions?${query}`, status: 400 },
    { method: 'GET', path: `/demo/ui-ext/sessions/client?clientId=${app}&${query}`, status: 400 },
  ]));
  for (const [query, field] of cases) {
    const res = await a.api('GET', `/demo/ui-ext/sessions?${query}`);
    t.like(res.body, { field }, query);
    t.is(typeof (res.body as { errorMessage?: unknown }).errorMessage, 'string', query);
  }
  const count = await a.api('GET', '/demo/sessions/count?lastAccessFrom=abc');
  t.is(count.status, 400);
  // Well-formed, they list: alice's two sessions from 127.0.0.1 and .2, bob's from .1.
  const listed = await a.api('GET', '/demo/ui-ext/sessions?type=REGULAR&ipIn=127.0.0.2&sort=lastAccess&order=desc&lastAccessFrom=0');
  t.is(listed.status, 200);
  t.is((listed.body as unknown[]).length, 1);
});

test('admin requests are counted by route and outcome on /metrics', async (t) => {
  await a.api('GET', `/demo/clients/${app}/session-count`);
  await a.api('GET', '/demo/clients/not-a-client/session-count');
  await a.api('GET', '/demo/clients/not-a-client/session-count', { token: null });
  const text = await a.metrics();
  const value = (route: string, outcome: string): number => {
    const line = text.split('\n').find((l) => l.startsWith('sessiond_admin_requests_total{') && l.includes(`route="${route}"`) && l.includes(`outcome="${outcome}"`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };
  t.true(text.includes('# TYPE sessiond_admin_requests_total counter'));
  t.true(text.includes('# TYPE sessiond_sessions_revoked_total counter'));
  t.true(value('/admin/realms/:realm/clients/:id/session-count', 'success') >= 1);
  t.true(value('/admin/realms/:realm/clients/:id/session-count', 'client_error') >= 2, 'the 404 and the 401');
});
