// Goal: SessionTable holds exactly the sessions its mutation records say,
// with correct indexes (user, realm, client), maintained counters, listings in
// their documented orders, and a timer wheel that ends sessions (or detaches
// client sessions) exactly when Keycloak's rules make them invalid.
// Method: unit tests per rule; a replay test (records collected from a
// ShardActor driven by a random workload, applied to a fresh table, must
// reproduce every view, chain, count and future expiry); and a seeded
// fast-check comparison against a naive model made of plain Maps
// (FC_SEED / FC_NUM_RUNS override; the seed prints on failure).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ShardActor } from '../../src/actor/shard-actor.js';
import { SessionTable } from '../../src/actor/session-table.js';
import { INTERNED_STRINGS_MAX } from '../../src/constants.js';
import type { Command, EndReason, SessionView } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { MUTATION, sessionRecords, type ClientAttachedMutation, type Mutation, type SessionCreatedMutation } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOf, partitionOfSessionId } from '../../src/protocol/partition.js';
import { CLIENT_SESSION_DEFAULTS, clientSessionSettings, type ClientSessionSettings } from '../../src/session/client-settings.js';
import { realmSessionSettings, type RealmSessionSettings } from '../../src/session/realm-settings.js';
import { clientSessionInvalidReason, userSessionInvalidReason } from '../../src/session/validity.js';
import { ManualClock } from '../../src/time/clock.js';
import { cidrMatcher } from '../../src/util/ip-address.js';
import { formatUuid, textIdWords } from '../../src/util/uuid.js';
import { manualBoot } from '../helpers/boot.js';
import { compareTables, lcg } from '../helpers/table-compare.js';

const START = 1_800_000_000;
const seed = Number(process.env.FC_SEED ?? 20_251_129);
const numRuns = Number(process.env.FC_NUM_RUNS ?? 150);

function created(id: string, o: Partial<SessionCreatedMutation> = {}): SessionCreatedMutation {
  return {
    k: MUTATION.sessionCreated,
    id,
    partition: Math.max(0, partitionOfSessionId(id)),
    realm: 'r',
    userId: 'u',
    username: 'alice',
    ip: '10.0.0.1',
    authMethod: 'openid-connect',
    rememberMe: false,
    started: START,
    lastSessionRefresh: START,
    authTime: START,
    notes: null,
    ...o,
  };
}

function attached(id: string, client: string, o: Partial<ClientAttachedMutation> = {}): ClientAttachedMutation {
  return { k: MUTATION.clientAttached, id, client, started: START, timestamp: START, scope: 'openid', ssoAuth: false, notes: null, userRefresh: -1, ...o };
}

function newTable(realm: Partial<RealmSessionSettings> = {}, graceSeconds = 120): SessionTable {
  const table = new SessionTable({ graceSeconds, startSecond: START });
  table.putRealm('r', realmSessionSettings({ ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 3600, ...realm }));
  return table;
}

const sessionIds = new Map<number, string>();
/** The test's session id number n (the same id every time it is asked for). */
function sid(n: number): string {
  let id = sessionIds.get(n);
  if (id === undefined) sessionIds.set(n, (id = newSessionId(n % 1024)));
  return id;
}
const viewOf = (table: SessionTable, id: string): SessionView => table.view(table.slotOf(id));
const idsOf = (views: readonly SessionView[]) => views.map((v) => v.id);

// ---------------------------------------------------------------------------
// Unit tests

test('a created session with client sessions is visible through every index and counter', (t) => {
  const table = newTable();
  table.putClient('r', 'c1', CLIENT_SESSION_DEFAULTS);
  const a = sid(1);
  t.true(table.apply(created(a, { notes: { k: 'v' }, rememberMe: true })));
  t.true(table.apply(attached(a, 'c1', { scope: 'openid email', ssoAuth: true, notes: { nonce: 'n' } })));
  t.true(table.apply(attached(a, 'c2', { started: START + 5, timestamp: START + 5 })));
  const slot = table.slotOf(a);
  t.true(slot >= 0);
  t.is(table.size, 1);
  t.is(table.idOf(slot), a);
  t.is(table.realmIdOf(slot), 'r');
  t.is(table.userIdOf(slot), 'u');
  t.is(table.startedOf(slot), START);
  t.is(table.lastRefreshOf(slot), START);
  t.true(table.rememberMeOf(slot));
  t.true(table.holdsClient(slot, 'c1'));
  t.false(table.holdsClient(slot, 'c3'));
  t.deepEqual(table.view(slot), {
    id: a, realm: 'r', userId: 'u', username: 'alice', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: true,
    started: START, lastSessionRefresh: START, authTime: START, notes: { k: 'v' },
    clients: [
      { client: 'c2', started: START + 5, timestamp: START + 5, scope: 'openid', ssoAuth: false, notes: null },
      { client: 'c1', started: START, timestamp: START, scope: 'openid email', ssoAuth: true, notes: { nonce: 'n' } },
    ],
  });
  t.deepEqual(table.view(slot, table.clientSlotOf(slot, 'c1')).clients.map((c) => c.client), ['c1'], 'a view with one client session');
  t.deepEqual(table.userSlots('r', 'u'), [slot]);
  t.deepEqual(table.userSlots('r', 'nobody'), []);
  t.deepEqual(table.userSlots('nope', 'u'), []);
  t.is(table.clientSessionCount('c1'), 1);
  t.is(table.clientSessionCount('c2'), 1, 'a client first seen in a record gets defaults');
  t.is(table.clientSessionCount('zzz'), 0);
  t.deepEqual(table.realmClientStats('r').sort(), [['c1', 1], ['c2', 1]]);
  t.deepEqual(table.stats().realms, { r: [1, 2] });
  t.is(table.wheelEntries, 1, 'one wheel entry per session');
  t.is(table.slotOf('missing'), -1);
});

test('records naming unknown sessions change nothing and report false', (t) => {
  const table = newTable();
  const sink: Mutation[] = [];
  table.onMutation((m) => sink.push(m));
  const ghost = sid(2);
  t.false(table.apply(attached(ghost, 'c1')));
  t.false(table.apply({ k: MUTATION.sessionTouched, id: ghost, lastSessionRefresh: START + 1 }));
  t.false(table.apply({ k: MUTATION.clientRefreshed, id: ghost, client: 'c1', at: START + 1, chainKey: null, chain: null }));
  t.false(table.apply({ k: MUTATION.clientDetached, id: ghost, client: 'c1' }));
  t.false(table.apply({ k: MUTATION.sessionRemoved, id: ghost, reason: 'logout' }));
  t.false(table.remove(ghost, 'logout', START));
  const a = sid(3);
  t.true(table.apply(created(a)));
  t.false(table.apply(created(a, { username: 'other' })), 'a duplicate create is refused');
  t.is(viewOf(table, a).username, 'alice');
  t.false(table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c9', at: START + 50, chainKey: null, chain: null }), 'refresh of a client it does not hold');
  t.is(viewOf(table, a).lastSessionRefresh, START, 'and the user clock did not move');
  t.is(sink.length, 1, 'the sink sees applied records only');
  t.throws(() => table.apply({ k: 99 } as unknown as Mutation), { instanceOf: TypeError });
});

test('a touch tells the sink how far it moved the idle clock it moves furthest; a late touch moves nothing', (t) => {
  const table = newTable();
  const jumps: number[] = [];
  table.onMutation((_m, jump) => jumps.push(jump));
  const a = sid(4);
  table.apply(created(a));
  table.apply(attached(a, 'c1'));
  table.apply(attached(a, 'c2'));
  table.apply({ k: MUTATION.sessionTouched, id: a, lastSessionRefresh: START + 40 });
  table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c1', at: START + 100, chainKey: null, chain: null });
  table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c2', at: START + 101, chainKey: null, chain: null });
  table.apply({ k: MUTATION.sessionTouched, id: a, lastSessionRefresh: START + 90 });
  t.deepEqual(jumps, [0, 0, 0, 40, 100, 101, 0], 'c1 and c2 had not been refreshed since START: their own clocks moved furthest');
});

test('attach with the same start reuses the client session; a new start restarts it at the end of the client list', (t) => {
  const table = newTable();
  const [a, b] = [sid(4), sid(5)];
  table.apply(created(a));
  table.apply(created(b, { userId: 'v' }));
  table.apply(attached(a, 'c1'));
  table.apply(attached(b, 'c1', { started: START + 1, timestamp: START + 1 }));
  table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c1', at: START + 2, chainKey: 'x', chain: { tokenId: 'j', useCount: 1, lastRefresh: START + 2 } });
  t.deepEqual(idsOf(table.clientSessions('c1', 10)), [a, b]);

  table.apply(attached(a, 'c1', { timestamp: START + 3, scope: 'openid profile', userRefresh: START + 3 }));
  const slotA = table.slotOf(a);
  const csA = table.clientSlotOf(slotA, 'c1');
  t.deepEqual(idsOf(table.clientSessions('c1', 10)), [a, b], 'reuse keeps the position');
  t.deepEqual(table.chainOf(csA, 'x'), { tokenId: 'j', useCount: 1, lastRefresh: START + 2 }, 'and the chains');
  t.is(viewOf(table, a).lastSessionRefresh, START + 3, 'userRefresh moves the user clock');
  t.is(viewOf(table, a).clients[0]!.scope, 'openid profile');

  table.apply(attached(a, 'c1', { started: START + 10, timestamp: START + 10 }));
  t.deepEqual(idsOf(table.clientSessions('c1', 10)), [b, a], 'restart moves it to the end');
  t.is(table.chainOf(table.clientSlotOf(slotA, 'c1'), 'x'), undefined, 'a restart forgets the chains');
  t.is(table.clientSessionCount('c1'), 2);
  t.deepEqual(idsOf(table.clientSessions('c1', 1)), [b], 'limit');
});

test('refresh moves the user clock, never moves the client clock backwards, and stores the chain', (t) => {
  const table = newTable();
  const a = sid(6);
  table.apply(created(a));
  table.apply(attached(a, 'c1', { timestamp: START + 100 }));
  table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c1', at: START + 50, chainKey: null, chain: null });
  let v = viewOf(table, a);
  t.is(v.lastSessionRefresh, START + 50);
  t.is(v.clients[0]!.timestamp, START + 100, 'client timestamp is monotonic');
  table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c1', at: START + 200, chainKey: '', chain: { tokenId: 't', useCount: 1, lastRefresh: START + 200 } });
  v = viewOf(table, a);
  t.is(v.clients[0]!.timestamp, START + 200);
  const slot = table.slotOf(a);
  t.deepEqual(table.chainOf(table.clientSlotOf(slot, 'c1'), ''), { tokenId: 't', useCount: 1, lastRefresh: START + 200 });
  t.deepEqual(table.chainsOf(slot), { c1: { '': { tokenId: 't', useCount: 1, lastRefresh: START + 200 } } });
});

test('detach and remove unlink everything and free users, with the ended listener told why and when', (t) => {
  const table = newTable();
  const ended: [string, string, number][] = [];
  table.onEnded((view, reason, at) => ended.push([view.id, reason, at]));
  const [a, b, c] = [sid(7), sid(8), sid(9)];
  table.apply(created(a));
  table.apply(created(b));
  table.apply(created(c, { userId: 'w', username: 'wendy' }));
  for (const id of [a, b, c]) table.apply(attached(id, 'c1'));
  table.apply(attached(a, 'c2'));

  t.true(table.apply({ k: MUTATION.clientDetached, id: a, client: 'c1' }));
  t.deepEqual(viewOf(table, a).clients.map((x) => x.client), ['c2']);
  t.is(table.clientSessionCount('c1'), 2);
  t.deepEqual(table.stats().realms, { r: [3, 3] });

  t.true(table.remove(a, 'logout', START + 9));
  t.true(table.apply({ k: MUTATION.sessionRemoved, id: b, reason: 'admin_delete' }));
  t.deepEqual(ended, [[a, 'logout', START + 9], [b, 'admin_delete', -1]]);
  t.is(table.slotOf(a), -1);
  t.deepEqual(table.userSlots('r', 'u'), [], 'the user is gone with its last session');
  t.is(table.size, 1);
  t.is(table.clientSessionCount('c2'), 0);
  t.deepEqual(table.realmClientStats('r'), [['c1', 1]]);
  t.deepEqual(table.stats().realms, { r: [1, 1] });
  t.is(table.wheelEntries, 1);
  t.deepEqual(idsOf(table.search('r', '', [], null, 10)), [c]);

  // Slots are reused: a new session of user u must not inherit anything.
  const d = sid(10);
  table.apply(created(d, { username: 'alice2' }));
  t.deepEqual(viewOf(table, d).clients, []);
  t.is(viewOf(table, d).notes, null);
  t.is(viewOf(table, d).username, 'alice2');
});

test('a user slot freed by a text id and reused by a UUID (and back) answers with the id it now holds', (t) => {
  const table = newTable();
  const uuid = '0b3a1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
  const [a, b, c, d] = [sid(40), sid(41), sid(42), sid(43)];
  table.apply(created(a, { userId: 'f:ldap:alice' }));
  t.true(table.apply({ k: MUTATION.sessionRemoved, id: a, reason: 'logout' }));
  table.apply(created(b, { userId: uuid }));
  t.is(viewOf(table, b).userId, uuid);
  t.deepEqual(table.userSlots('r', 'f:ldap:alice'), [], 'the freed text id no longer names a user');
  t.true(table.apply({ k: MUTATION.sessionRemoved, id: b, reason: 'logout' }));
  table.apply(created(c, { userId: 'f:ldap:bob' }));
  table.apply(created(d, { userId: 'f:ldap:alice' }));
  t.is(viewOf(table, c).userId, 'f:ldap:bob');
  t.is(viewOf(table, d).userId, 'f:ldap:alice');
  t.deepEqual(table.userSlots('r', uuid), []);
  t.deepEqual(table.userSlots('r', 'f:ldap:bob').map((slot) => table.idOf(slot)), [c]);
});

test('a UUID whose words equal a text id\'s hashed words names another user: each keeps its own sessions', (t) => {
  const table = newTable();
  const text = 'f:ldap:carol';
  const words = new Uint32Array(4);
  textIdWords(text, words, 0);
  const uuid = formatUuid(words, 0); // the worst case a hash allows: the very words of a UUID
  const [a, b, c] = [sid(44), sid(45), sid(46)];
  table.apply(created(a, { userId: text }));
  table.apply(created(b, { userId: uuid }));
  table.apply(created(c, { userId: text }));
  t.deepEqual(table.userSlots('r', text).map((slot) => table.idOf(slot)).sort(), [a, c].sort());
  t.deepEqual(table.userSlots('r', uuid).map((slot) => table.idOf(slot)), [b]);
  t.is(viewOf(table, b).userId, uuid);
  t.true(table.apply({ k: MUTATION.sessionRemoved, id: a, reason: 'logout' }));
  t.true(table.apply({ k: MUTATION.sessionRemoved, id: c, reason: 'logout' }));
  t.deepEqual(table.userSlots('r', text), [], 'the text user is gone');
  t.deepEqual(table.userSlots('r', uuid).map((slot) => table.idOf(slot)), [b], 'the UUID user stays');
});

test('a freed session or client session leaves nothing to what reuses its slot: no notes, no chains', (t) => {
  const table = newTable();
  const [a, b] = [sid(13), sid(14)];
  table.apply(created(a, { notes: { k: 'v' } }));
  table.apply(attached(a, 'c1', { notes: { nonce: 'n' } }));
  table.apply({ k: MUTATION.clientRefreshed, id: a, client: 'c1', at: START + 2, chainKey: 'x', chain: { tokenId: 'j', useCount: 1, lastRefresh: START + 2 } });
  const [slotA, csA] = [table.slotOf(a), table.clientSlotOf(table.slotOf(a), 'c1')];
  t.true(table.apply({ k: MUTATION.sessionRemoved, id: a, reason: 'logout' }));

  table.apply(created(b));
  table.apply(attached(b, 'c1'));
  const slotB = table.slotOf(b);
  t.deepEqual([slotB, table.clientSlotOf(slotB, 'c1')], [slotA, csA], 'the freed slots are the ones reused');
  t.is(viewOf(table, b).notes, null);
  t.is(viewOf(table, b).clients[0]!.notes, null);
  t.is(table.chainOf(csA, 'x'), undefined);
  t.is(table.chainsOf(slotB), null);
  t.deepEqual(table.partitionRecords(table.partitionOf(slotB)).map((m) => m.k), [MUTATION.sessionCreated, MUTATION.clientAttached], 'no chain record either');
});

test("a user's newest username shows on all of that user's sessions", (t) => {
  const table = newTable();
  const [a, b] = [sid(11), sid(12)];
  table.apply(created(a, { username: 'old' }));
  table.apply(created(b, { username: 'new' }));
  t.is(viewOf(table, a).username, 'new');
});

test("a partition's records are what sessionRecords makes of each session's view and chains, in the partition's order", (t) => {
  const table = newTable();
  table.putRealm('other', realmSessionSettings({}));
  const partition = 77;
  const ids = Array.from({ length: 5 }, () => newSessionId(partition));
  table.apply(created(ids[0]!));
  table.apply(created(ids[1]!, { userId: '0b3a1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', username: 'bob', ip: '2001:db8::1', rememberMe: true, notes: { KC_DEVICE: 'x' } }));
  table.apply(attached(ids[1]!, 'c1', { notes: { iss: 'y' }, ssoAuth: true }));
  table.apply(attached(ids[1]!, 'c2', { scope: 'openid email', timestamp: START + 5 }));
  table.apply({ k: MUTATION.clientRefreshed, id: ids[1]!, client: 'c2', at: START + 9, chainKey: '', chain: { tokenId: 't1', useCount: 1, lastRefresh: START + 9 } });
  table.apply({ k: MUTATION.clientRefreshed, id: ids[1]!, client: 'c2', at: START + 9, chainKey: 'reuse-1', chain: { tokenId: 't2', useCount: 0, lastRefresh: START + 9 } });
  table.apply(created(ids[2]!, { realm: 'other', userId: 'LDAP:7', authMethod: 'saml' }));
  table.apply(created(ids[3]!));
  table.remove(ids[3]!, 'logout', START);
  table.apply(created(ids[4]!, { ip: '' }));
  table.apply(created(newSessionId(partition + 1)));

  const expected = table.partitionSlots(partition).flatMap((slot) => sessionRecords(table.view(slot), table.chainsOf(slot)));
  t.deepEqual(table.partitionRecords(partition), expected);
  t.is(expected.filter((m) => m.k === MUTATION.sessionCreated).length, 4);
});

test('IP addresses: IPv4 packed, anything else kept verbatim as text', (t) => {
  const table = newTable();
  const ips = ['10.0.0.1', '2001:db8::1', '::ffff:10.0.0.1', '010.0.0.1', 'unknown', ''];
  ips.forEach((ip, i) => table.apply(created(sid(20 + i), { ip, userId: `u${i}` })));
  t.deepEqual(ips.map((_, i) => viewOf(table, sid(20 + i)).ip), ips);
  // a slot reused by an IPv4 session does not keep the previous text
  table.remove(sid(21), 'logout', START);
  table.apply(created(sid(40), { ip: '192.168.0.1' }));
  t.is(viewOf(table, sid(40)).ip, '192.168.0.1');
});

test('search walks the realm in creation order, matching username, IP and listed clients, up to the limit', (t) => {
  const table = newTable();
  table.putRealm('other', realmSessionSettings());
  const rows: [string, string, string, string][] = [
    [sid(50), 'alice', '10.0.0.1', 'c1'],
    [sid(51), 'bob', '192.168.1.10', 'c2'],
    [sid(52), 'malice', '10.0.0.2', 'c1'],
    [sid(53), 'carol', '2001:db8::abc', 'c3'],
  ];
  rows.forEach(([id, username, ip, client], i) => {
    table.apply(created(id, { username, ip, userId: `u${i}`, started: START + i }));
    table.apply(attached(id, client));
  });
  table.apply(created(sid(54), { realm: 'other', username: 'alice', userId: 'x' }));
  const s = (search: string, clients: string[] = [], only: string | null = null, limit = 10) =>
    table.search('r', search, clients, only, limit).map((v) => v.username);
  t.deepEqual(s(''), ['alice', 'bob', 'malice', 'carol']);
  t.deepEqual(s('alice'), ['alice', 'malice']);
  t.deepEqual(s('10.0.0'), ['alice', 'malice']);
  t.deepEqual(s('abc'), ['carol'], 'hex-looking text matches IPv6 text');
  t.deepEqual(s('zzz', ['c2']), ['bob'], 'listed clients match');
  t.deepEqual(s('', [], 'c1'), ['alice', 'malice'], 'only sessions holding c1');
  t.deepEqual(s('mal', [], 'c1'), ['malice']);
  t.deepEqual(s('', [], 'c-unknown'), []);
  t.deepEqual(s('', [], null, 2), ['alice', 'bob']);
  t.deepEqual(s('', [], null, 0), []);
  t.deepEqual(table.search('missing', '', [], null, 10), []);
});

test('a realm-scoped client filter never returns sessions of another realm', (t) => {
  const table = newTable();
  table.putRealm('other', realmSessionSettings());
  table.putClient('other', 'c-other', CLIENT_SESSION_DEFAULTS);
  const mine = sid(60);
  const theirs = sid(61);
  table.apply(created(mine));
  table.apply(attached(mine, 'c-other')); // a client of another realm in this session (a misbehaving caller)
  table.apply(created(theirs, { realm: 'other', userId: 'x' }));
  table.apply(attached(theirs, 'c-other'));
  t.deepEqual(table.filterSlots('r', { client: 'c-other' }).map((s) => table.idOf(s)), [mine]);
  t.deepEqual(table.filterSlots('other', { client: 'c-other' }).map((s) => table.idOf(s)), [theirs]);
  t.deepEqual(idsOf(table.search('r', '', [], 'c-other', 10)), [mine]);
  t.deepEqual(idsOf(table.search('other', '', [], 'c-other', 10)), [theirs]);
});

test('filterSlots combines user, client, CIDR and last-access (range) conditions', (t) => {
  const table = newTable();
  const rows: [string, string, string, number, string | null][] = [
    [sid(70), 'u1', '10.1.0.1', START, 'c1'],
    [sid(71), 'u1', '192.168.0.1', START + 10, 'c1'],
    [sid(72), 'u1', '8.8.8.8', START + 20, null],
    [sid(73), 'u2', '10.2.0.1', START + 30, 'c2'],
  ];
  for (const [id, userId, ip, at, client] of rows) {
    table.apply(created(id, { userId, ip, started: at, lastSessionRefresh: at }));
    if (client !== null) table.apply(attached(id, client, { started: at, timestamp: at }));
  }
  const f = (filter: Parameters<SessionTable['filterSlots']>[1]) => table.filterSlots('r', filter).map((s) => table.idOf(s)).sort();
  const ids = rows.map((r) => r[0]);
  t.deepEqual(f({}), [...ids].sort());
  t.deepEqual(f({ userId: 'u1' }), ids.slice(0, 3).sort());
  t.deepEqual(f({ userId: 'u1', ipNotIn: cidrMatcher(['10.0.0.0/8']) }), [ids[1]!, ids[2]!].sort());
  t.deepEqual(f({ ipIn: cidrMatcher(['10.0.0.0/8']) }), [ids[0]!, ids[3]!].sort());
  t.deepEqual(f({ client: 'c1' }), ids.slice(0, 2).sort());
  t.deepEqual(f({ client: 'c1', userId: 'u2' }), []);
  t.deepEqual(f({ lastAccessBefore: START + 20 }), ids.slice(0, 2).sort(), 'strictly before');
  t.deepEqual(f({ lastAccessFrom: START + 20 }), ids.slice(2).sort(), 'at or after');
  t.deepEqual(f({ lastAccessFrom: START + 10, lastAccessBefore: START + 30 }), ids.slice(1, 3).sort(), 'a range');
  t.deepEqual(f({ client: 'missing' }), []);
  t.deepEqual(table.filterSlots('missing', {}), []);
});

// ---------------------------------------------------------------------------
// Expiry

test('expire ends a session at idle + grace with reason idle, counting it', (t) => {
  const table = newTable({}, 120);
  const ended: [string, string, number][] = [];
  table.onEnded((v, reason, at) => ended.push([v.id, reason, at]));
  const a = sid(80);
  table.apply(created(a));
  t.true(table.expire(START + 719, 100));
  t.deepEqual(ended, []);
  t.true(table.expire(START + 720, 100));
  t.deepEqual(ended, [[a, 'idle', START + 720]]);
  t.is(table.size, 0);
  t.is(table.wheelEntries, 0);
  t.deepEqual(table.stats().expirations, { r: [1, 0, 0] });
});

test('a touch is picked up lazily: the entry fires, sees the newer clock and re-arms', (t) => {
  const table = newTable({}, 0);
  const a = sid(81);
  table.apply(created(a));
  table.apply({ k: MUTATION.sessionTouched, id: a, lastSessionRefresh: START + 500 });
  table.expire(START + 600, 100);
  t.not(table.slotOf(a), -1, 'touched: still alive at the old deadline');
  table.expire(START + 1099, 100);
  t.not(table.slotOf(a), -1);
  table.expire(START + 1100, 100);
  t.is(table.slotOf(a), -1);
});

test('max lifespan ends a session whatever its idle clock; reason max', (t) => {
  const table = newTable({ ssoSessionMaxLifespan: 1000 });
  const reasons: string[] = [];
  table.onEnded((_v, reason) => reasons.push(reason));
  const a = sid(82);
  table.apply(created(a));
  for (let at = START + 500; at < START + 1000; at += 400) {
    table.apply({ k: MUTATION.sessionTouched, id: a, lastSessionRefresh: at });
    table.expire(at, 100);
  }
  table.expire(START + 999, 100);
  t.deepEqual(reasons, []);
  table.expire(START + 1000, 100);
  t.deepEqual(reasons, ['max']);
  t.deepEqual(table.stats().expirations, { r: [0, 1, 0] });
});

test('a client session past its own timeout is detached; the user session lives on', (t) => {
  const table = newTable();
  table.putClient('r', 'short', clientSessionSettings({ 'client.session.idle.timeout': '60' }));
  const a = sid(83);
  const ended: string[] = [];
  table.onEnded((v) => ended.push(v.id));
  const sink: Mutation[] = [];
  table.onMutation((m) => sink.push(m));
  table.apply(created(a));
  table.apply(attached(a, 'short'));
  table.apply(attached(a, 'long'));
  table.expire(START + 179, 100);
  t.is(table.clientSessionCount('short'), 1);
  table.expire(START + 180, 100);
  t.is(table.clientSessionCount('short'), 0);
  t.deepEqual(viewOf(table, a).clients.map((c) => c.client), ['long']);
  t.deepEqual(ended, []);
  t.deepEqual(sink.slice(-1), [{ k: MUTATION.clientDetached, id: a, client: 'short' }], 'the detach is a record too');
  table.expire(START + 720, 100);
  t.deepEqual(ended, [a]);
});

test('budget: expire fires at most `budget` entries per call and reports whether it caught up', (t) => {
  const table = newTable();
  for (let i = 0; i < 10; i++) table.apply(created(sid(100 + i), { userId: `u${i}` }));
  t.false(table.expire(START + 720, 4));
  t.is(table.size, 6);
  t.false(table.expire(START + 720, 4));
  t.true(table.expire(START + 720, 4));
  t.is(table.size, 0);
});

test('settings changes re-arm: a shorter realm idle, a shorter client idle, and realm rememberMe turned off', (t) => {
  const table = newTable({ ssoSessionIdleTimeout: 3000, rememberMe: true });
  const reasons = new Map<string, string>();
  table.onEnded((v, reason) => reasons.set(v.id, reason));
  const [plain, rm] = [sid(120), sid(121)];
  table.apply(created(plain));
  table.apply(created(rm, { rememberMe: true, userId: 'v' }));
  table.apply(attached(plain, 'c1'));
  table.putClient('r', 'c1', clientSessionSettings({ 'client.session.idle.timeout': '30' }));
  table.expire(START + 150, 100);
  t.is(table.clientSessionCount('c1'), 0, 'client idle 30 + 120 grace');
  table.putRealm('r', realmSessionSettings({ ssoSessionIdleTimeout: 3000, rememberMe: false }));
  table.expire(START + 150, 100);
  t.is(reasons.get(rm), 'remember_me_disabled', 'remember-me sessions end at once');
  t.true(table.slotOf(plain) >= 0);
  table.putRealm('r', realmSessionSettings({ ssoSessionIdleTimeout: 10 }));
  table.expire(START + 150, 100);
  t.is(reasons.get(plain), 'idle');
  t.deepEqual(table.stats().expirations, { r: [1, 0, 1] }, 'remember-me endings are counted apart from idle/max expirations');
});

test('a new client session with a shorter deadline moves the wheel entry earlier', (t) => {
  const table = newTable();
  table.putClient('r', 'short', clientSessionSettings({ 'client.session.idle.timeout': '10' }));
  const a = sid(130);
  table.apply(created(a));
  table.apply(attached(a, 'short', { started: START + 100, timestamp: START + 100 }));
  table.expire(START + 229, 100);
  t.is(table.clientSessionCount('short'), 1);
  table.expire(START + 230, 100);
  t.is(table.clientSessionCount('short'), 0);
});

test('a failed record (too many distinct strings) leaves no half-applied state', (t) => {
  const table = newTable();
  const a = sid(140);
  table.apply(created(a));
  // Fill the intern table: 'openid-connect' (the session's auth method) is already in it.
  for (let i = 0; i < INTERNED_STRINGS_MAX - 1; i++) table.apply(attached(a, 'c1', { scope: `scope-${i}` }));
  const before = { size: table.size, stats: table.stats().realms, view: viewOf(table, a) };
  t.throws(() => table.apply(attached(a, 'c-new', { scope: 'one-too-many' })), { instanceOf: RangeError });
  t.is(table.clientSessionCount('c-new'), 0, 'no half-attached client session');
  t.deepEqual(viewOf(table, a), before.view);
  t.deepEqual(table.stats().realms, before.stats);
  const b = sid(141);
  t.throws(() => table.apply(created(b, { userId: 'v', authMethod: 'never-seen-method' })), { instanceOf: RangeError });
  t.is(table.slotOf(b), -1, 'no half-created session');
  t.is(table.size, before.size);
  t.deepEqual(table.stats().realms, before.stats);
  t.deepEqual(table.userSlots('r', 'v'), []);
});

test('the table grows past its initial capacity and reuses freed slots without mixing sessions', (t) => {
  const table = newTable();
  const n = 5000;
  for (let i = 0; i < n; i++) {
    table.apply(created(sid(i), { userId: `u${i % 700}`, ip: `10.${(i >> 8) & 255}.${i & 255}.1`, started: START + i, lastSessionRefresh: START + i }));
    table.apply(attached(sid(i), `c${i % 3}`, { started: START + i, timestamp: START + i }));
  }
  t.is(table.size, n);
  for (let i = 0; i < n; i += 2) table.remove(sid(i), 'logout', START);
  for (let i = 0; i < n; i += 2) table.apply(created(sid(i), { userId: 'again', ip: '1.1.1.1', started: START + n, lastSessionRefresh: START + n }));
  t.is(table.size, n);
  t.is(table.clientSessionCount('c0') + table.clientSessionCount('c1') + table.clientSessionCount('c2'), n / 2);
  t.is(table.userSlots('r', 'again').length, n / 2);
  for (let i = 1; i < n; i += 2) {
    const v = viewOf(table, sid(i));
    if (v.started !== START + i || v.clients.length !== 1 || v.clients[0]!.client !== `c${i % 3}`) {
      t.fail(`session ${i} was disturbed`);
      return;
    }
  }
  t.is(table.search('r', '', [], null, n + 1).length, n);
});

// ---------------------------------------------------------------------------
// Replay: a replica applying the same records holds the same state.

const BOOT = manualBoot(START);

type LogEntry = { config: (table: SessionTable) => void } | { mutation: Mutation };


test('replay: records from a random workload on a ShardActor rebuild the same state in a fresh table', (t) => {
  const clock = new ManualClock(START);
  const actor = new ShardActor(BOOT, clock, () => {});
  t.teardown(() => actor.close());
  const log: LogEntry[] = [];
  actor.table.onMutation((m) => log.push({ mutation: structuredClone(m) }));
  const random = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const realms = ['r1', 'r2'];
  const clients = ['a', 'b', 'c', 'short'];
  const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
  let now = START;
  const config = (command: Command, apply: (table: SessionTable) => void) => {
    actor.execute(command);
    log.push({ config: apply });
  };
  const realmSettings = (i: number) =>
    realmSessionSettings({ ssoSessionIdleTimeout: 300 + 100 * i, ssoSessionMaxLifespan: 3000, revokeRefreshToken: i === 0, refreshTokenMaxReuse: 1, rememberMe: true, ssoSessionIdleTimeoutRememberMe: 2000 });
  realms.forEach((realm, i) => config({ op: OP.realmPut, realm, settings: realmSettings(i) }, (tb) => tb.putRealm(realm, realmSettings(i))));
  for (const client of clients) {
    const settings: ClientSessionSettings = client === 'short' ? clientSessionSettings({ 'client.session.idle.timeout': '90' }) : CLIENT_SESSION_DEFAULTS;
    config({ op: OP.clientPut, realm: 'r1', client, settings }, (tb) => tb.putClient('r1', client, settings));
  }

  const live = (): string[] => actor.table.allSlots().map((s) => actor.table.idOf(s));
  const tokens = new Map<string, { jti: string; iat: number; reuseId: string }[]>();
  let executed = 0;
  let failed = 0;
  for (let step = 0; step < 3000; step++) {
    const ids = live();
    const r = random();
    const realm = pick(realms);
    let command: Command | null = null;
    if (r < 0.25 || ids.length === 0) {
      const userId = pick(users);
      const limited = random() < 0.2;
      command = {
        op: OP.sessionCreate, id: newSessionId(partitionOf(realm, userId)), realm, userId, username: `name-${userId}-${Math.floor(random() * 2)}`,
        ip: pick(['10.0.0.1', '10.9.8.7', '192.168.1.1', '2001:db8::7']), authMethod: pick(['openid-connect', 'client_auth']),
        rememberMe: random() < 0.2, now, client: random() < 0.8 ? { client: pick(clients), scope: pick(['openid', 'openid email']) } : null,
        limits: limited ? { realmLimit: 2, clientLimit: 1, behavior: pick(['deny', 'terminate_oldest'] as const) } : null, notes: random() < 0.2 ? { n: String(step) } : null,
      };
    } else {
      const id = pick(ids);
      const client = pick(clients);
      const x = random();
      if (x < 0.25) command = { op: OP.sessionAttachClient, id, realm, now, client: { client, scope: 'openid', ssoAuth: random() < 0.5 }, touchUser: random() < 0.5 };
      else if (x < 0.5) {
        const chain = tokens.get(`${id}/${client}`) ?? [{ jti: `j-${step}`, iat: now, reuseId: pick(['', 'tab']) }];
        const token = random() < 0.7 ? chain[chain.length - 1]! : pick(chain);
        command = { op: OP.sessionRefresh, id, realm, client, now, token, user: { enabled: random() < 0.95, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START };
        chain.push({ jti: `j-${step}`, iat: now, reuseId: token.reuseId });
        tokens.set(`${id}/${client}`, chain);
      } else if (x < 0.65) command = { op: OP.sessionTouch, id, now };
      else if (x < 0.72) command = { op: OP.sessionDetachClient, id, client, removeIfEmpty: random() < 0.5 };
      else if (x < 0.77) command = { op: OP.sessionRemove, id, reason: 'logout' as EndReason };
      else if (x < 0.8) command = { op: OP.userLogout, realm, userId: actor.table.userIdOf(actor.table.slotOf(id)), reason: 'user_logout' };
      else if (x < 0.82) command = { op: OP.revokeFilter, realm, filter: { ipNotIn: ['10.0.0.0/8'], client }, reason: 'revoked' };
      else if (x < 0.83) command = { op: OP.clientRemove, realm: 'r1', client: 'b' };
      else if (x < 0.835) {
        const settings = realmSessionSettings({ ...realmSettings(1), rememberMe: random() < 0.5 });
        config({ op: OP.realmPut, realm: 'r2', settings }, (tb) => tb.putRealm('r2', settings));
      } else {
        now += Math.floor(random() * 120);
        actor.table.expire(now, 1e9);
      }
    }
    if (command === null) continue;
    try {
      actor.execute(command);
      executed++;
    } catch {
      failed++; // session limit "deny", unknown session after expiry: refused commands change nothing
    }
  }
  t.true(executed > 2000, `executed ${executed}, failed ${failed}`);
  t.true(actor.table.size > 0, 'something is left to compare');
  t.true(log.length > 3000);

  const replica = new SessionTable({ graceSeconds: 120, startSecond: START });
  for (const entry of log) {
    if ('config' in entry) entry.config(replica);
    else replica.apply(entry.mutation);
  }
  compareTables(t, actor.table, replica, clients, realms);
  for (const slot of actor.table.allSlots()) {
    const id = actor.table.idOf(slot);
    const other = replica.slotOf(id);
    for (const at of [now, now + 200, now + 1000, now + 2500]) {
      t.is(replica.sessionInvalidReason(other, at), actor.table.sessionInvalidReason(slot, at), `validity of ${id} at ${at}`);
      t.deepEqual(replica.clientsInvalid(other, at), actor.table.clientsInvalid(slot, at));
    }
  }
  // Both expire the same sessions from here on.
  for (const at of [now + 150, now + 400, now + 900, now + 2100, now + 4000]) {
    actor.table.expire(at, 1e9);
    replica.expire(at, 1e9);
    compareTables(t, actor.table, replica, clients, realms);
  }
  t.is(actor.table.size, 0);
});

// ---------------------------------------------------------------------------
// Model-based property: SessionTable against plain Maps.

interface MClient { client: string; started: number; timestamp: number; scope: string; ssoAuth: boolean; seq: number }
interface MSession {
  id: string; realm: string; userId: string; ip: string; authMethod: string; rememberMe: boolean;
  started: number; last: number; seq: number; clients: MClient[]; // session list order: newest first
}

class Model {
  readonly sessions = new Map<string, MSession>();
  readonly usernames = new Map<string, string>();
  readonly realmSettings = new Map<string, RealmSessionSettings>();
  readonly clientSettings = new Map<string, ClientSessionSettings>();
  seq = 0;

  view(s: MSession): SessionView {
    return {
      id: s.id, realm: s.realm, userId: s.userId, username: this.usernames.get(`${s.realm}/${s.userId}`)!, ip: s.ip,
      authMethod: s.authMethod, rememberMe: s.rememberMe, started: s.started, lastSessionRefresh: s.last, authTime: s.started,
      clients: s.clients.map((c) => ({ client: c.client, started: c.started, timestamp: c.timestamp, scope: c.scope, ssoAuth: c.ssoAuth, notes: null })),
      notes: null,
    };
  }

  expire(now: number, grace: number): void {
    for (const s of [...this.sessions.values()]) {
      const realm = this.realmSettings.get(s.realm)!;
      const times = { started: s.started, lastSessionRefresh: s.last, rememberMe: s.rememberMe };
      if (userSessionInvalidReason(realm, times, false, now, grace) !== null) {
        this.sessions.delete(s.id);
        continue;
      }
      s.clients = s.clients.filter(
        (c) => clientSessionInvalidReason(realm, this.clientSettings.get(c.client) ?? CLIENT_SESSION_DEFAULTS, times, c, false, now, grace) === null,
      );
    }
  }
}

type Op =
  | { kind: 'create'; realm: number; user: number; name: number; ip: number; rm: boolean }
  | { kind: 'attach'; session: number; client: number; restart: boolean; touchUser: boolean; scope: number; sso: boolean }
  | { kind: 'touch'; session: number }
  | { kind: 'refresh'; session: number; client: number }
  | { kind: 'detach'; session: number; client: number }
  | { kind: 'remove'; session: number }
  | { kind: 'tick'; seconds: number }
  | { kind: 'realm'; realm: number; idle: number; rememberMe: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create' as const), realm: fc.nat(1), user: fc.nat(4), name: fc.nat(1), ip: fc.nat(3), rm: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('attach' as const), session: fc.nat(), client: fc.nat(3), restart: fc.boolean(), touchUser: fc.boolean(), scope: fc.nat(2), sso: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('touch' as const), session: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refresh' as const), session: fc.nat(), client: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('detach' as const), session: fc.nat(), client: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), session: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('realm' as const), realm: fc.nat(1), idle: fc.constantFrom(60, 300, 900), rememberMe: fc.boolean() }) },
);

const REALMS = ['r1', 'r2'];
const CLIENT_NAMES = ['a', 'b', 'short', 'maxed'];
/** Client ids are per realm, as Keycloak's client UUIDs are. */
const CLIENTS = REALMS.flatMap((r) => CLIENT_NAMES.map((c) => `${r}-${c}`));
const clientOf = (s: { realm: string }, i: number) => `${s.realm}-${CLIENT_NAMES[i]}`;
const IPS = ['10.0.0.1', '10.0.0.2', '192.168.0.9', 'fe80::1'];
const SCOPES = ['openid', 'openid email', 'openid profile'];

function checkAgainstModel(table: SessionTable, model: Model): void {
  assert.equal(table.size, model.sessions.size, 'size');
  const byRealm = new Map<string, MSession[]>();
  for (const s of model.sessions.values()) {
    const slot = table.slotOf(s.id);
    assert.ok(slot >= 0, `session ${s.id} missing`);
    assert.deepEqual(table.view(slot), model.view(s), `view of ${s.id}`);
    (byRealm.get(s.realm) ?? byRealm.set(s.realm, []).get(s.realm)!).push(s);
  }
  for (const realm of REALMS) {
    const sessions = (byRealm.get(realm) ?? []).sort((x, y) => x.seq - y.seq);
    assert.deepEqual(table.search(realm, '', [], null, 1e6).map((v) => v.id), sessions.map((s) => s.id), `creation order of ${realm}`);
    const clientSessions = sessions.reduce((n, s) => n + s.clients.length, 0);
    assert.deepEqual(table.stats().realms[realm] ?? [0, 0], [sessions.length, clientSessions], `counters of ${realm}`);
    const users = new Set(sessions.map((s) => s.userId));
    for (let u = 0; u < 5; u++) {
      const userId = `u${u}`;
      const mine = sessions.filter((s) => s.userId === userId).map((s) => s.id).sort();
      assert.deepEqual(table.userSlots(realm, userId).map((slot) => table.idOf(slot)).sort(), mine, `sessions of ${realm}/${userId}`);
      if (!users.has(userId)) assert.equal(mine.length, 0);
    }
    const stats = new Map<string, number>();
    for (const s of sessions) for (const c of s.clients) stats.set(c.client, (stats.get(c.client) ?? 0) + 1);
    assert.deepEqual(new Map(table.realmClientStats(realm)), stats, `client stats of ${realm}`);
  }
  for (const client of CLIENTS) {
    const holding = [...model.sessions.values()]
      .flatMap((s) => s.clients.filter((c) => c.client === client).map((c) => ({ id: s.id, seq: c.seq })))
      .sort((x, y) => x.seq - y.seq);
    assert.equal(table.clientSessionCount(client), holding.length, `count of ${client}`);
    assert.deepEqual(table.clientSessions(client, 1e6).map((v) => v.id), holding.map((h) => h.id), `attach order of ${client}`);
  }
}

function runModel(ops: readonly Op[], grace: number): void {
  const table = new SessionTable({ graceSeconds: grace, startSecond: START });
  const model = new Model();
  let now = START;
  let n = 0;
  const realm = (i: number, idle: number, rememberMe: boolean) => {
    const settings = realmSessionSettings({ ssoSessionIdleTimeout: idle, ssoSessionMaxLifespan: 2000, rememberMe, ssoSessionIdleTimeoutRememberMe: 1200 });
    table.putRealm(REALMS[i]!, settings);
    model.realmSettings.set(REALMS[i]!, settings);
  };
  realm(0, 600, true);
  realm(1, 300, false);
  const clientConfig: Record<string, ClientSessionSettings> = {
    short: clientSessionSettings({ 'client.session.idle.timeout': '45' }),
    maxed: clientSessionSettings({ 'client.session.max.lifespan': '500' }),
  };
  for (const r of REALMS) {
    for (const [client, settings] of Object.entries(clientConfig)) {
      table.putClient(r, `${r}-${client}`, settings);
      model.clientSettings.set(`${r}-${client}`, settings);
    }
  }
  const nth = (i: number): MSession | undefined => {
    const all = [...model.sessions.values()];
    return all.length === 0 ? undefined : all[i % all.length];
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'create': {
        const id = newSessionId(n++ % 1024);
        // Half the users have Keycloak's UUID ids (kept as binary), half ids of another shape (kept as text).
        const userId = op.user % 2 === 0 ? `u${op.user}` : `00000000-0000-4000-8000-00000000000${op.user}`;
        const r = REALMS[op.realm]!;
        const m = created(id, { realm: r, userId, username: `name${op.name}`, ip: IPS[op.ip]!, rememberMe: op.rm, started: now, lastSessionRefresh: now, authTime: now });
        assert.equal(table.apply(m), true);
        model.sessions.set(id, { id, realm: r, userId, ip: IPS[op.ip]!, authMethod: 'openid-connect', rememberMe: op.rm, started: now, last: now, seq: model.seq++, clients: [] });
        model.usernames.set(`${r}/${userId}`, `name${op.name}`);
        break;
      }
      case 'attach': {
        const s = nth(op.session);
        if (s === undefined) break;
        const client = clientOf(s, op.client);
        const existing = s.clients.find((c) => c.client === client);
        const started = existing !== undefined && !op.restart ? existing.started : now;
        assert.equal(table.apply(attached(s.id, client, { started, timestamp: now, scope: SCOPES[op.scope]!, ssoAuth: op.sso, userRefresh: op.touchUser ? now : -1 })), true);
        if (existing === undefined) s.clients.unshift({ client, started, timestamp: now, scope: SCOPES[op.scope]!, ssoAuth: op.sso, seq: model.seq++ });
        else {
          if (existing.started !== started) existing.seq = model.seq++;
          Object.assign(existing, { started, timestamp: now, scope: SCOPES[op.scope]!, ssoAuth: op.sso });
        }
        if (op.touchUser) s.last = now;
        break;
      }
      case 'touch': {
        const s = nth(op.session);
        if (s === undefined) break;
        assert.equal(table.apply({ k: MUTATION.sessionTouched, id: s.id, lastSessionRefresh: now }), true);
        s.last = now;
        break;
      }
      case 'refresh': {
        const s = nth(op.session);
        if (s === undefined) break;
        const c = s.clients.find((x) => x.client === clientOf(s, op.client));
        assert.equal(table.apply({ k: MUTATION.clientRefreshed, id: s.id, client: clientOf(s, op.client), at: now, chainKey: null, chain: null }), c !== undefined);
        if (c !== undefined) {
          s.last = now;
          c.timestamp = Math.max(c.timestamp, now);
        }
        break;
      }
      case 'detach': {
        const s = nth(op.session);
        if (s === undefined) break;
        const before = s.clients.length;
        s.clients = s.clients.filter((c) => c.client !== clientOf(s, op.client));
        assert.equal(table.apply({ k: MUTATION.clientDetached, id: s.id, client: clientOf(s, op.client) }), s.clients.length < before);
        break;
      }
      case 'remove': {
        const s = nth(op.session);
        if (s === undefined) break;
        assert.equal(table.apply({ k: MUTATION.sessionRemoved, id: s.id, reason: 'logout' }), true);
        model.sessions.delete(s.id);
        break;
      }
      case 'tick':
        now += op.seconds;
        table.expire(now, 1e9);
        model.expire(now, grace);
        break;
      case 'realm':
        realm(op.realm, op.idle, op.rememberMe);
        // A realm change re-arms at once; its effects show at the next expiry.
        table.expire(now, 1e9);
        model.expire(now, grace);
        break;
    }
    checkAgainstModel(table, model);
  }
}

for (const grace of [0, 120]) {
  test(`property (grace ${grace} s): SessionTable agrees with a naive Map model under random sequences`, (t) => {
    t.log(`fast-check seed ${seed}, ${numRuns} runs (FC_SEED / FC_NUM_RUNS to override)`);
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => runModel(ops, grace)),
      { seed, numRuns, includeErrorInReport: true },
    );
    t.pass();
  });
}

test('clearing a realm (logout-all) kills every session at once and frees memory in slices', (t) => {
  const table = new SessionTable({ graceSeconds: 120, startSecond: 1_800_000_000 });
  table.putRealm('a', realmSessionSettings());
  table.putRealm('b', realmSessionSettings());
  const records: unknown[] = [];
  table.onMutation((m) => records.push(m));
  const make = (realm: string, i: number): string => {
    const id = newSessionId(partitionOf(realm, `u${i}`));
    table.apply({ k: MUTATION.sessionCreated, id, partition: partitionOf(realm, `u${i}`), realm, userId: `u${i}`, username: `user${i}`, ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, started: 1_800_000_000, lastSessionRefresh: 1_800_000_000, authTime: 1_800_000_000, notes: null });
    table.apply({ k: MUTATION.clientAttached, id, client: 'c1', started: 1_800_000_000, timestamp: 1_800_000_000, scope: 'openid', ssoAuth: false, notes: null, userRefresh: -1 });
    return id;
  };
  const doomed = Array.from({ length: 1000 }, (_, i) => make('a', i));
  const kept = Array.from({ length: 10 }, (_, i) => make('b', i));
  t.deepEqual(table.stats().realms['a'], [1000, 1000]);
  t.is(table.clearRealm('a', 'logout_all', [3, 700]), 1000);
  t.is(table.size, 10);
  t.deepEqual(table.stats().realms['a'], [0, 0], 'sessions and client sessions counted out at once, before the memory is freed');
  t.true(doomed.every((id) => table.slotOf(id) === -1), 'no cleared session is visible');
  t.deepEqual(table.userSlots('a', 'u1'), []);
  t.true(kept.every((id) => table.slotOf(id) >= 0));
  // A user of the cleared realm logs in again before the memory is freed.
  const again = make('a', 1);
  t.is(table.userSlots('a', 'u1').length, 1);
  t.false(table.clearSlice(100), 'freed in slices');
  t.true(table.clearSlice(1_000_000));
  t.is(table.slotOf(again), table.userSlots('a', 'u1')[0]);
  t.is(table.clientSessionCount('c1'), 11);
  t.deepEqual(table.stats().realms['a'], [1, 1], 'the session started after the clear, and nothing counted twice');
  // One record per partition the table holds: what a replica applies, partition by partition.
  t.deepEqual(records.filter((m) => (m as { k: number }).k === MUTATION.realmCleared), [
    { k: MUTATION.realmCleared, realm: 'a', partition: 3, reason: 'logout_all' },
    { k: MUTATION.realmCleared, realm: 'a', partition: 700, reason: 'logout_all' },
  ]);
});
