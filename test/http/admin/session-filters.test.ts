// sessiond's filters and sort on the admin console's session list
// (`ui-ext/sessions?sort=&order=&ipIn=&ipNotIn=&lastAccessFrom=&lastAccessBefore=`),
// and the same filter in sessions/count and sessions/revoke.
//
// A node on a manual clock; sessions created by real password grants from
// three loopback addresses over several virtual seconds (so starts differ
// and some repeat), some refreshed later (so last access differs from
// start), two of them offline. Every sorted or filtered answer is checked
// against the unfiltered list sorted and filtered here, plainly. Serial: the
// last test revokes sessions.

import test from 'ava';
import { compareSessionIds } from '../../../src/protocol/partition.js';
import { cidrMatcher } from '../../../src/util/ip-address.js';
import { startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

const APP: [string, string] = ['app', 'app-secret'];
const OTHER: [string, string] = ['other', 'other-secret'];
const USERS = ['ann', 'ben', 'cid'];

let a: AdminNode;
let realm: string;
let appUuid: string;

interface Row {
  id: string;
  username: string;
  ipAddress: string;
  start: number;
  lastAccess: number;
  clients: Record<string, string>;
  type: 'REGULAR' | 'OFFLINE';
}

test.before(async () => {
  a = await startAdminNode({ manualClock: true });
  const r = await a.createRealm({
    clients: [
      { clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true },
      { clientId: 'other', secret: 'other-secret', directAccessGrantsEnabled: true },
    ],
    users: USERS.map((username) => ({ username, password: 'pw' })),
  });
  realm = r.name;
  appUuid = r.clients.get('app')!.id;
  const refreshTokens: [string, string][] = [];
  for (let i = 0; i < 12; i++) {
    const client = i % 2 ? OTHER : APP;
    const tokens = await a.login(realm, client, USERS[i % 3]!, 'pw', { localAddress: `127.0.0.${1 + (i % 3)}` });
    refreshTokens.push([client[0], tokens.refresh_token!]);
    if (i % 4 !== 0) await a.advance(1);
  }
  await a.login(realm, APP, 'ann', 'pw', { scope: 'openid offline_access' });
  await a.advance(1);
  await a.login(realm, OTHER, 'ben', 'pw', { localAddress: '127.0.0.2', scope: 'openid offline_access' });
  await a.advance(5);
  for (const i of [1, 4, 7]) await refresh(refreshTokens[i]!);
  await a.advance(3);
  await refresh(refreshTokens[10]!);
});
test.after.always(async () => {
  await a?.stop();
});

async function refresh([clientId, token]: [string, string]): Promise<void> {
  const res = await a.refresh(realm, clientId === 'app' ? APP : OTHER, token);
  if (res.status !== 200) throw new Error(`refresh: ${res.status} ${res.text}`);
}

async function list(query: Record<string, string | number>, path = 'ui-ext/sessions'): Promise<Row[]> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const res = await a.api('GET', `/${realm}/${path}?${qs}`);
  if (res.status !== 200) throw new Error(`${path}?${qs}: ${res.status} ${res.text}`);
  return res.body as Row[];
}

const keyOf = (row: Row): string => `${row.type}:${row.id}`;

/** Every session of the realm, unsorted (Keycloak's listing). */
const everything = (): Promise<Row[]> => list({ max: 1000 });

/** The plain sort: by start or last access, ties by id (then regular before offline), reversed whole when descending. */
function sorted(rows: readonly Row[], sort: 'start' | 'lastAccess', order: 'asc' | 'desc'): Row[] {
  const sign = order === 'desc' ? -1 : 1;
  const typeRank = (row: Row): number => (row.type === 'REGULAR' ? 0 : 1);
  return [...rows].sort((x, y) => sign * (x[sort] - y[sort] || compareSessionIds(x.id, y.id)) || typeRank(x) - typeRank(y));
}

test.serial('the data: starts repeat, last accesses differ from starts, both types present', async (t) => {
  const rows = await everything();
  t.is(rows.length, 14);
  t.true(new Set(rows.map((r) => r.start)).size < rows.length, 'some sessions share a start second');
  t.true(rows.filter((r) => r.lastAccess > r.start).length >= 4, 'refreshed sessions');
  t.deepEqual([...new Set(rows.map((r) => r.type))].sort(), ['OFFLINE', 'REGULAR']);
});

test.serial('sort by start or last access, ascending or descending: the whole list, regular and offline merged, pages concatenating', async (t) => {
  const rows = await everything();
  for (const sort of ['start', 'lastAccess'] as const) {
    for (const order of ['asc', 'desc'] as const) {
      for (const type of ['ALL', 'REGULAR', 'OFFLINE'] as const) {
        const expected = sorted(rows.filter((r) => type === 'ALL' || r.type === type), sort, order).map(keyOf);
        t.deepEqual((await list({ sort, order, type, max: 100 })).map(keyOf), expected, `${sort} ${order} ${type}`);
        const paged: string[] = [];
        for (let first = 0; first <= expected.length; first += 4) paged.push(...(await list({ sort, order, type, first, max: 4 })).map(keyOf));
        t.deepEqual(paged, expected, `${sort} ${order} ${type}, pages of 4`);
      }
    }
  }
  t.deepEqual((await list({ order: 'desc', max: 100 })).map(keyOf), sorted(rows, 'start', 'desc').map(keyOf), 'sort defaults to start');
  t.deepEqual((await list({ sort: 'lastAccess', max: 100 })).map(keyOf), sorted(rows, 'lastAccess', 'asc').map(keyOf), 'order defaults to asc');
});

test.serial('filter by IP address or CIDR, and by a last-access range, with search and client', async (t) => {
  const rows = await everything();
  const ipIs = (cidrs: string[]) => (r: Row): boolean => cidrMatcher(cidrs)(r.ipAddress);
  const expectRows = (keep: (r: Row) => boolean): string[] => sorted(rows.filter(keep), 'start', 'asc').map(keyOf);
  t.deepEqual((await list({ ipIn: '127.0.0.2', max: 100 })).map(keyOf), expectRows(ipIs(['127.0.0.2'])));
  t.deepEqual((await list({ ipIn: '127.0.0.0/31', max: 100 })).map(keyOf), expectRows(ipIs(['127.0.0.0/31'])));
  t.deepEqual((await list({ ipIn: '127.0.0.2,127.0.0.3', ipNotIn: '127.0.0.3/32', max: 100 })).map(keyOf), expectRows(ipIs(['127.0.0.2'])));
  const accesses = [...new Set(rows.map((r) => r.lastAccess))].sort((x, y) => x - y);
  const from = accesses[2]!;
  const before = accesses[accesses.length - 2]!;
  const inRange = (r: Row): boolean => r.lastAccess >= from && r.lastAccess < before;
  t.true(rows.filter(inRange).length > 0 && rows.filter(inRange).length < rows.length);
  t.deepEqual((await list({ lastAccessFrom: from, lastAccessBefore: before, max: 100 })).map(keyOf), expectRows(inRange));
  t.deepEqual((await list({ lastAccessFrom: from + 1, max: 100 })).map(keyOf), expectRows((r) => r.lastAccess > from), 'from is inclusive, to the millisecond');
  t.deepEqual((await list({ lastAccessFrom: from, sort: 'lastAccess', order: 'desc', search: 'ann', max: 100 })).map(keyOf),
    sorted(rows.filter((r) => r.lastAccess >= from && r.username === 'ann'), 'lastAccess', 'desc').map(keyOf));
  const app = (r: Row): boolean => appUuid in r.clients;
  t.deepEqual((await list({ clientId: appUuid, ipIn: '127.0.0.1', max: 100 }, 'ui-ext/sessions/client')).map(keyOf), expectRows((r) => app(r) && ipIs(['127.0.0.1'])(r)));
  t.deepEqual((await list({ ipIn: '10.0.0.0/8', max: 100 })), []);
});

test.serial('the same filter counts (the revoke preview) and revokes what the list shows', async (t) => {
  const filter = { ipIn: '127.0.0.3', lastAccessFrom: String((await everything()).sort((x, y) => x.start - y.start)[3]!.start) };
  const shown = await list({ ...filter, max: 100 });
  t.true(shown.length > 0);
  const count = await a.api('GET', `/${realm}/sessions/count?${new URLSearchParams(filter).toString()}`);
  t.deepEqual(count.body, { count: shown.length });
  const revoked = await a.api('POST', `/${realm}/sessions/revoke`, { body: { ipIn: [filter.ipIn], lastAccessFrom: Number(filter.lastAccessFrom) } });
  t.like(revoked.body, { revoked: shown.length, failed: 0 });
  t.deepEqual(await list({ ...filter, max: 100 }), []);
  const left = (await everything()).map(keyOf);
  for (const row of shown) t.false(left.includes(keyOf(row)), `${keyOf(row)} is gone`);
});
