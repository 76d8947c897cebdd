// Session listings, counts and stats of the admin API (docs/keycloak-semantics.md#admin-session-endpoints)
// agree with sessions created through real password grants, read with the
// Keycloak admin client where it has the call and raw HTTP for ui-ext.
//
// The realm (cheap hashing) holds, created over HTTP from three loopback
// source addresses:
//   ann  3 online via app (127.0.0.1), 1 online via other (127.0.0.3),
//        2 offline via app (127.0.0.1; the password grant drops their online session)
//   ben  2 online via app (127.0.0.2), 1 offline via other (127.0.0.2)
// so: online 6 (app 5, other 1), offline 3 (app 2, other 1).

import test from 'ava';
import type UserSessionRepresentation from '@keycloak/keycloak-admin-client/lib/defs/userSessionRepresentation.js';
import { startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;
let realm: string;
let appUuid: string;
let otherUuid: string;
let annId: string;
let benId: string;
const APP: [string, string] = ['app', 'app-secret'];
const OTHER: [string, string] = ['other', 'other-secret'];
const sids = { annApp: [] as string[], annOther: [] as string[], annOffline: [] as string[], benApp: [] as string[], benOffline: [] as string[] };
let before = 0;
let after = 0;

test.before(async () => {
  a = await startAdminNode();
  const r = await a.createRealm({
    clients: [
      { clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true },
      { clientId: 'other', secret: 'other-secret', directAccessGrantsEnabled: true },
    ],
    users: [
      { username: 'ann', password: 'pw' },
      { username: 'ben', password: 'pw' },
    ],
  });
  realm = r.name;
  before = Date.now();
  for (let i = 0; i < 3; i++) sids.annApp.push((await a.login(realm, APP, 'ann', 'pw')).session_state!);
  sids.annOther.push((await a.login(realm, OTHER, 'ann', 'pw', { localAddress: '127.0.0.3' })).session_state!);
  for (let i = 0; i < 2; i++) sids.benApp.push((await a.login(realm, APP, 'ben', 'pw', { localAddress: '127.0.0.2' })).session_state!);
  for (let i = 0; i < 2; i++) sids.annOffline.push((await a.login(realm, APP, 'ann', 'pw', { scope: 'openid offline_access' })).session_state!);
  sids.benOffline.push((await a.login(realm, OTHER, 'ben', 'pw', { localAddress: '127.0.0.2', scope: 'openid offline_access' })).session_state!);
  after = Date.now();
  // Found through the admin client, as a script would.
  appUuid = (await a.kc.clients.find({ realm, clientId: 'app' }))[0]!.id!;
  otherUuid = (await a.kc.clients.find({ realm, clientId: 'other' }))[0]!.id!;
  annId = (await a.kc.users.find({ realm, username: 'ann', exact: true }))[0]!.id!;
  benId = (await a.kc.users.find({ realm, username: 'ben', exact: true }))[0]!.id!;
});
test.after.always(async () => {
  await a?.stop();
});

const ids = (list: { id?: string }[]): string[] => list.map((s) => s.id!).sort();
const sorted = (list: string[]): string[] => [...list].sort();

function assertRep(t: import('ava').ExecutionContext, rep: UserSessionRepresentation & { rememberMe?: boolean }, expected: { user: string; userId: string; ip: string; clients: Record<string, string> }): void {
  t.deepEqual(Object.keys(rep).sort(), ['clients', 'id', 'ipAddress', 'lastAccess', 'rememberMe', 'start', 'transientUser', 'userId', 'username']);
  t.is(rep.username, expected.user);
  t.is(rep.userId, expected.userId);
  t.is(rep.ipAddress, expected.ip);
  t.deepEqual(rep.clients, expected.clients);
  t.is(rep.rememberMe, false);
  t.is(rep.transientUser, false);
  // Milliseconds, whole seconds (the engine keeps seconds), within the run.
  t.is(rep.start! % 1000, 0);
  t.true(rep.start! >= Math.floor(before / 1000) * 1000 && rep.start! <= after, `start ${rep.start} in [${before}, ${after}]`);
  t.true(rep.lastAccess! >= rep.start! && rep.lastAccess! <= after);
}

test('users.listSessions: the online sessions of the user, in Keycloak\'s shape', async (t) => {
  const ann = await a.kc.users.listSessions({ realm, id: annId });
  t.deepEqual(ids(ann), sorted([...sids.annApp, ...sids.annOther]));
  for (const rep of ann) {
    const other = sids.annOther.includes(rep.id!);
    assertRep(t, rep, { user: 'ann', userId: annId, ip: other ? '127.0.0.3' : '127.0.0.1', clients: other ? { [otherUuid]: 'other' } : { [appUuid]: 'app' } });
  }
  const ben = await a.kc.users.listSessions({ realm, id: benId });
  t.deepEqual(ids(ben), sorted(sids.benApp));
  for (const rep of ben) assertRep(t, rep, { user: 'ben', userId: benId, ip: '127.0.0.2', clients: { [appUuid]: 'app' } });
});

test('users.listOfflineSessions: only sessions holding that client (by UUID)', async (t) => {
  const annApp = await a.kc.users.listOfflineSessions({ realm, id: annId, clientId: appUuid });
  t.deepEqual(ids(annApp), sorted(sids.annOffline));
  for (const rep of annApp) assertRep(t, rep, { user: 'ann', userId: annId, ip: '127.0.0.1', clients: { [appUuid]: 'app' } });
  t.deepEqual(await a.kc.users.listOfflineSessions({ realm, id: annId, clientId: otherUuid }), []);
  const benOther = await a.kc.users.listOfflineSessions({ realm, id: benId, clientId: otherUuid });
  t.deepEqual(ids(benOther), sids.benOffline);
  assertRep(t, benOther[0]!, { user: 'ben', userId: benId, ip: '127.0.0.2', clients: { [otherUuid]: 'other' } });
  t.deepEqual(await a.kc.users.listOfflineSessions({ realm, id: benId, clientId: appUuid }), []);
});

test('clients.listSessions / listOfflineSessions, with consistent first/max paging', async (t) => {
  const all = await a.kc.clients.listSessions({ realm, id: appUuid });
  t.deepEqual(ids(all), sorted([...sids.annApp, ...sids.benApp]));
  for (const rep of all) t.deepEqual(rep.clients, { [appUuid]: 'app' });
  // Default paging is first -1 / max 100, like Keycloak; explicit pages concatenate to the whole list.
  const paged: string[] = [];
  for (let first = 0; first < 6; first += 2) {
    const page = await a.kc.clients.listSessions({ realm, id: appUuid, first, max: 2 });
    t.true(page.length <= 2);
    paged.push(...page.map((s) => s.id!));
  }
  t.deepEqual(paged, all.map((s) => s.id!), 'pages concatenate to the full list, same order');
  t.deepEqual(await a.kc.clients.listSessions({ realm, id: appUuid, first: 5, max: 10 }), []);
  t.deepEqual(ids(await a.kc.clients.listSessions({ realm, id: otherUuid })), sids.annOther);

  const offline = await a.kc.clients.listOfflineSessions({ realm, id: appUuid });
  t.deepEqual(ids(offline), sorted(sids.annOffline));
  const offPaged = [...(await a.kc.clients.listOfflineSessions({ realm, id: appUuid, first: 0, max: 1 })), ...(await a.kc.clients.listOfflineSessions({ realm, id: appUuid, first: 1, max: 1 }))];
  t.deepEqual(offPaged.map((s) => s.id), offline.map((s) => s.id));
  t.deepEqual(ids(await a.kc.clients.listOfflineSessions({ realm, id: otherUuid })), sids.benOffline);
});

test('clients.getSessionCount / getOfflineSessionCount: {count}', async (t) => {
  t.deepEqual(await a.kc.clients.getSessionCount({ realm, id: appUuid }), { count: 5 });
  t.deepEqual(await a.kc.clients.getSessionCount({ realm, id: otherUuid }), { count: 1 });
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm, id: appUuid }), { count: 2 });
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm, id: otherUuid }), { count: 1 });
  const rm = (await a.kc.clients.find({ realm, clientId: 'realm-management' }))[0]!;
  t.deepEqual(await a.kc.clients.getSessionCount({ realm, id: rm.id! }), { count: 0 });
});

test('realms.getClientSessionStats: counts as strings, only clients with sessions', async (t) => {
  const stats = await a.kc.realms.getClientSessionStats({ realm });
  const byId = [...stats].sort((x, y) => String(x['clientId']).localeCompare(String(y['clientId'])));
  t.deepEqual(byId, [
    { id: appUuid, clientId: 'app', active: '5', offline: '2' },
    { id: otherUuid, clientId: 'other', active: '1', offline: '1' },
  ]);
});

// ------------------------------------------------------------------ ui-ext

interface Row {
  id: string;
  username: string;
  userId: string;
  ipAddress: string;
  start: number;
  lastAccess: number;
  clients: Record<string, string>;
  transientUser: boolean;
  type: 'REGULAR' | 'OFFLINE';
}

async function uiExt(query: Record<string, string | number>, path = 'ui-ext/sessions'): Promise<Row[]> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const res = await a.api('GET', `/${realm}/${path}${qs === '' ? '' : `?${qs}`}`);
  if (res.status !== 200) throw new Error(`ui-ext ${qs}: ${res.status} ${res.text}`);
  return res.body as Row[];
}
const keyOf = (row: Row): string => `${row.type}:${row.id}`;

test('ui-ext/sessions: type ALL / REGULAR / OFFLINE, SessionRepresentation shape', async (t) => {
  const online = [...sids.annApp, ...sids.annOther, ...sids.benApp];
  const offline = [...sids.annOffline, ...sids.benOffline];
  const all = await uiExt({ max: 100 });
  t.deepEqual(all.map(keyOf).sort(), [...online.map((id) => `REGULAR:${id}`), ...offline.map((id) => `OFFLINE:${id}`)].sort());
  // Regular rows come first, then offline ones.
  const firstOffline = all.findIndex((row) => row.type === 'OFFLINE');
  t.is(firstOffline, online.length);
  for (const row of all) {
    t.deepEqual(Object.keys(row).sort(), ['clients', 'id', 'ipAddress', 'lastAccess', 'start', 'transientUser', 'type', 'userId', 'username']);
  }
  const benOff = all.find((row) => row.id === sids.benOffline[0])!;
  t.like(benOff, { username: 'ben', userId: benId, ipAddress: '127.0.0.2', clients: { [otherUuid]: 'other' }, type: 'OFFLINE', transientUser: false });

  t.deepEqual((await uiExt({ type: 'REGULAR', max: 100 })).map(keyOf).sort(), online.map((id) => `REGULAR:${id}`).sort());
  t.deepEqual((await uiExt({ type: 'OFFLINE', max: 100 })).map(keyOf).sort(), offline.map((id) => `OFFLINE:${id}`).sort());
  // Keycloak's defaults: type ALL, first 0, max 10.
  t.is((await uiExt({})).length, 9);
  t.deepEqual((await uiExt({ max: 4 })).map(keyOf), all.slice(0, 4).map(keyOf));
});

test('ui-ext/sessions search: username, IP address or clientId (trimmed substring)', async (t) => {
  const ben = await uiExt({ search: ' ben ', max: 100 });
  t.deepEqual(ben.map(keyOf).sort(), [...sids.benApp.map((id) => `REGULAR:${id}`), ...sids.benOffline.map((id) => `OFFLINE:${id}`)].sort());
  const byIp = await uiExt({ search: '127.0.0.3', max: 100 });
  t.deepEqual(byIp.map(keyOf), sids.annOther.map((id) => `REGULAR:${id}`));
  const byClient = await uiExt({ search: 'other', max: 100 });
  t.deepEqual(byClient.map(keyOf).sort(), [...sids.annOther.map((id) => `REGULAR:${id}`), ...sids.benOffline.map((id) => `OFFLINE:${id}`)].sort());
  t.deepEqual(await uiExt({ search: 'nobody-matches-this', max: 100 }), []);
  const benOffline = await uiExt({ search: 'ben', type: 'OFFLINE', max: 100 });
  t.deepEqual(benOffline.map(keyOf), sids.benOffline.map((id) => `OFFLINE:${id}`));
});

test('ui-ext/sessions paging: pages of every size concatenate without duplicates or gaps across the regular/offline boundary', async (t) => {
  const all = (await uiExt({ max: 100 })).map(keyOf);
  t.is(all.length, 9);
  for (const size of [1, 2, 4, 5, 6, 7]) {
    const seen: string[] = [];
    for (let first = 0; first < all.length + size; first += size) {
      const page = await uiExt({ first, max: size });
      t.true(page.length <= size);
      seen.push(...page.map(keyOf));
    }
    t.deepEqual(seen, all, `page size ${size}`);
  }
  // A page straddling the boundary: the last regular row, then the first offline one.
  const straddle = await uiExt({ first: 5, max: 2 });
  t.deepEqual(straddle.map((row) => row.type), ['REGULAR', 'OFFLINE']);
  // Paging within a search, too.
  const ben = (await uiExt({ search: 'ben', max: 100 })).map(keyOf);
  const benPaged = [...(await uiExt({ search: 'ben', first: 0, max: 2 })), ...(await uiExt({ search: 'ben', first: 2, max: 2 }))].map(keyOf);
  t.deepEqual(benPaged, ben);
  // OFFLINE pages.
  const off = (await uiExt({ type: 'OFFLINE', max: 100 })).map(keyOf);
  const offPaged = [...(await uiExt({ type: 'OFFLINE', first: 0, max: 2 })), ...(await uiExt({ type: 'OFFLINE', first: 2, max: 2 }))].map(keyOf);
  t.deepEqual(offPaged, off);
});

test('ui-ext/sessions/client: one client\'s sessions (clientId is the UUID), type and search', async (t) => {
  const all = await uiExt({ clientId: appUuid, max: 100 }, 'ui-ext/sessions/client');
  t.deepEqual(all.map(keyOf).sort(), [...sids.annApp, ...sids.benApp].map((id) => `REGULAR:${id}`).concat(sids.annOffline.map((id) => `OFFLINE:${id}`)).sort());
  t.is((await uiExt({ clientId: appUuid, type: 'REGULAR', max: 100 }, 'ui-ext/sessions/client')).length, 5);
  t.deepEqual((await uiExt({ clientId: appUuid, type: 'OFFLINE', max: 100 }, 'ui-ext/sessions/client')).map(keyOf).sort(), sids.annOffline.map((id) => `OFFLINE:${id}`).sort());
  t.deepEqual((await uiExt({ clientId: appUuid, search: 'ben', max: 100 }, 'ui-ext/sessions/client')).map(keyOf).sort(), sids.benApp.map((id) => `REGULAR:${id}`).sort());
  t.deepEqual((await uiExt({ clientId: otherUuid, max: 100 }, 'ui-ext/sessions/client')).map(keyOf).sort(), [`REGULAR:${sids.annOther[0]}`, `OFFLINE:${sids.benOffline[0]}`].sort());
  const seen: string[] = [];
  for (let first = 0; first < 8; first += 3) seen.push(...(await uiExt({ clientId: appUuid, first, max: 3 }, 'ui-ext/sessions/client')).map(keyOf));
  t.deepEqual(seen, all.map(keyOf));
  // An unknown client: 404; a clientId (not a UUID): 404 too, as Keycloak looks it up by id.
  t.is((await a.api('GET', `/${realm}/ui-ext/sessions/client?clientId=app`)).status, 404);
});

test('the listings see the same sessions the engine holds', async (t) => {
  // users.listSessions over every user agrees with clients' counts and the stats.
  const users = await a.kc.users.find({ realm });
  let online = 0;
  for (const u of users) online += (await a.kc.users.listSessions({ realm, id: u.id! })).length;
  t.is(online, 6);
  const stats = await a.kc.realms.getClientSessionStats({ realm });
  t.is(stats.reduce((n, s) => n + Number(s['active']), 0), 6);
  t.is(stats.reduce((n, s) => n + Number(s['offline']), 0), 3);
});
