// Goal: a partition's digest (what the cluster's copy checks compare) is the
// same on two copies that hold the same sessions, whatever order their tables
// list them in and however far their idle clocks lag (touches travel
// coalesced), and differs as soon as one copy misses a lifecycle change: a
// session, a client session, a refresh-token rotation, a re-authentication;
// offline sessions likewise, by their records.
// Method: a shard runs a random workload; a second table is rebuilt from the
// records in another order of sessions (each session's records in order) and
// without any of the touches; then one change at a time is made to the copy.

import test from 'ava';
import { partitionDigest } from '../../src/actor/partition-digest.js';
import { SessionTable } from '../../src/actor/session-table.js';
import type { OfflineSessionRecord } from '../../src/offline/offline-store.js';
import { ShardActor } from '../../src/actor/shard-actor.js';
import type { Command } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { isTouchRecord, MUTATION, partitionOfRecord, type Mutation } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { CLIENT_SESSION_DEFAULTS } from '../../src/session/client-settings.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { ManualClock } from '../../src/time/clock.js';
import { manualBoot } from '../helpers/boot.js';
import { lcg } from '../helpers/table-compare.js';

const START = 1_800_000_000;
const REALM = 'r1';
const CLIENTS = ['a', 'b'];
const USERS = ['u1', 'u2', 'u3'];
const SETTINGS = realmSessionSettings({ ssoSessionIdleTimeout: 3600, ssoSessionMaxLifespan: 36_000, revokeRefreshToken: true });

function newTable(): SessionTable {
  const table = new SessionTable({ graceSeconds: 120, startSecond: START });
  table.putRealm(REALM, SETTINGS);
  for (const client of CLIENTS) table.putClient(REALM, client, CLIENT_SESSION_DEFAULTS);
  return table;
}

/** A primary after a random workload, the records it applied, and a copy rebuilt from them without touches, sessions in reverse order. */
function primaryAndCopy(t: { teardown(fn: () => void): void }, seed: number): { primary: ShardActor; copy: SessionTable; partitions: number[] } {
  const random = lcg(seed);
  const primary = new ShardActor(manualBoot(START), new ManualClock(START), () => {});
  t.teardown(() => primary.close());
  for (const client of CLIENTS) primary.table.putClient(REALM, client, CLIENT_SESSION_DEFAULTS);
  primary.table.putRealm(REALM, SETTINGS);
  primary.execute({ op: OP.realmPut, realm: REALM, settings: SETTINGS });
  const records: Mutation[] = [];
  primary.table.onMutation((m) => records.push(structuredClone(m)));
  let now = START;
  for (let step = 0; step < 400; step++) {
    now += Math.floor(random() * 5);
    try {
      primary.execute(randomCommand(random, primary, now, step));
    } catch {
      // refused commands change nothing
    }
  }
  const copy = newTable();
  const bySession = new Map<string, Mutation[]>();
  for (const m of records) {
    if (isTouchRecord(m)) continue;
    const id = (m as { id: string }).id;
    bySession.set(id, [...(bySession.get(id) ?? []), m]);
  }
  for (const list of [...bySession.values()].reverse()) for (const m of list) copy.apply(m);
  const partitions = [...new Set(USERS.map((u) => partitionOf(REALM, u)))];
  return { primary, copy, partitions };
}

function randomCommand(random: () => number, actor: ShardActor, now: number, step: number): Command {
  const ids = actor.table.allSlots().map((s) => actor.table.idOf(s));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  if (random() < 0.3 || ids.length === 0) {
    const userId = pick(USERS);
    return {
      op: OP.sessionCreate, id: newSessionId(partitionOf(REALM, userId)), realm: REALM, userId, username: userId, ip: '10.0.0.1',
      authMethod: 'openid-connect', rememberMe: false, now, client: { client: pick(CLIENTS), scope: 'openid' }, limits: null, notes: { b: '2', a: '1' },
    };
  }
  const id = pick(ids);
  const x = random();
  if (x < 0.3) return { op: OP.sessionAttachClient, id, realm: REALM, now, client: { client: pick(CLIENTS), scope: 'openid email' }, touchUser: true };
  if (x < 0.6) {
    return { op: OP.sessionRefresh, id, realm: REALM, client: pick(CLIENTS), now, token: { jti: `j-${step}`, iat: now, reuseId: '' }, user: { enabled: true, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START };
  }
  if (x < 0.9) return { op: OP.sessionTouch, id, now };
  return { op: OP.sessionRemove, id, reason: 'logout' };
}

const digestOf = (table: SessionTable, p: number): string => partitionDigest(table.partitionRecords(p));

test('two copies holding the same sessions have the same digest, whatever their order and idle clocks', (t) => {
  for (const seed of [1, 2, 3]) {
    const { primary, copy, partitions } = primaryAndCopy(t, seed);
    t.true(primary.table.size > 10, 'sessions to compare');
    for (const p of partitions) t.is(digestOf(copy, p), digestOf(primary.table, p), `partition ${p} (seed ${seed})`);
  }
});

test('a copy that misses a lifecycle change differs, in that partition only', (t) => {
  const { primary, copy, partitions } = primaryAndCopy(t, 7);
  const slot = primary.table.allSlots().find((s) => primary.table.view(s).clients.length > 0)!;
  const view = primary.table.view(slot);
  const changed = primary.table.partitionOf(slot);
  const before = new Map(partitions.map((p) => [p, digestOf(copy, p)]));
  const changes: [string, Mutation][] = [
    ['a re-authentication', { k: MUTATION.sessionAuthenticated, id: view.id, authTime: view.authTime + 60 }],
    ['a rotation', { k: MUTATION.clientRefreshed, id: view.id, client: view.clients[0]!.client, at: view.lastSessionRefresh, chainKey: '', chain: { tokenId: 'other', useCount: 1, lastRefresh: START + 1 } }],
    ['a client session ended', { k: MUTATION.clientDetached, id: view.id, client: view.clients[0]!.client }],
    ['a session ended', { k: MUTATION.sessionRemoved, id: view.id, reason: 'logout' }],
  ];
  for (const [what, m] of changes) {
    t.is(partitionOfRecord(m), changed);
    copy.apply(m);
    const now = digestOf(copy, changed);
    t.not(now, before.get(changed), what);
    before.set(changed, now);
  }
  for (const p of partitions) if (p !== changed) t.is(digestOf(copy, p), digestOf(primary.table, p), `partition ${p} unchanged`);
  // An idle clock moved on the copy alone changes nothing.
  const other = copy.allSlots()[0]!;
  const digest = digestOf(copy, copy.partitionOf(other));
  copy.apply({ k: MUTATION.sessionTouched, id: copy.idOf(other), lastSessionRefresh: START + 9999 });
  t.is(digestOf(copy, copy.partitionOf(other)), digest);
});

test('the shard answers digests of the partitions it holds and null for the others', (t) => {
  const { primary, partitions } = primaryAndCopy(t, 3);
  primary.execute({ op: OP.partitionRoles, partitions: [partitions[0]!], role: 'none', budget: 1_000_000 });
  const answer = primary.execute({ op: OP.partitionDigest, partitions }) as (string | null)[];
  t.is(answer[0], null);
  for (let i = 1; i < partitions.length; i++) t.is(answer[i], digestOf(primary.table, partitions[i]!));
  t.regex(answer[1]!, /^\d+:[0-9a-f]{16}$/);
});

/** The record with `key` changed (a string lengthened, a number moved, a flag flipped, notes or a chain changed). */
function changed(m: Mutation, key: string): Mutation {
  const value = (m as unknown as Record<string, unknown>)[key];
  const other =
    typeof value === 'string' ? `${value}x` :
    typeof value === 'number' ? value + 1 :
    typeof value === 'boolean' ? !value :
    value === null ? (key === 'chain' ? { tokenId: 't', useCount: 1, lastRefresh: 1 } : { note: 'n' }) :
    key === 'chain' ? { ...(value as object), useCount: (value as { useCount: number }).useCount + 1 } :
    { ...(value as object), added: 'n' };
  return { ...m, [key]: other } as Mutation;
}

test('every field of every record a partition is made of counts in its digest, except the idle clocks', (t) => {
  const { primary } = primaryAndCopy(t, 5);
  const records = primary.table.allSlots().flatMap((s) => primary.table.partitionRecords(primary.table.partitionOf(s)));
  const clocks: Record<number, string[]> = { [MUTATION.sessionCreated]: ['lastSessionRefresh'], [MUTATION.clientAttached]: ['timestamp'], [MUTATION.clientRefreshed]: ['at'] };
  const kinds = new Set<number>();
  for (const m of records) {
    if (kinds.has(m.k) && !(m.k === MUTATION.clientRefreshed && (m.chain === null || m.chain.tokenId === null))) continue;
    kinds.add(m.k);
    for (const key of Object.keys(m).filter((k) => k !== 'k')) {
      const same = partitionDigest([changed(m, key)]) === partitionDigest([m]);
      t.is(same, (clocks[m.k] ?? []).includes(key), `kind ${m.k}, field ${key}`);
    }
  }
  t.deepEqual([...kinds].sort(), [MUTATION.sessionCreated, MUTATION.clientAttached, MUTATION.clientRefreshed].sort());
});

test('an offline session counts by every field of its record except its idle clocks (last refresh, client timestamps, deadline)', (t) => {
  const record: OfflineSessionRecord = {
    v: 1, id: 'o1', partition: 5, realm: REALM, userId: 'u1', username: 'u1', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false,
    started: START, lastSessionRefresh: START + 5, authTime: START, notes: { b: '2', a: '1' }, deadline: START + 1000,
    clients: [
      { client: 'a', started: START, timestamp: START + 5, scope: 'openid offline_access', notes: null, chains: { '': { tokenId: 't', useCount: 1, lastRefresh: START + 5 } } },
      { client: 'b', started: START + 1, timestamp: START + 2, scope: 'openid offline_access', notes: { x: 'y' }, chains: null },
    ],
  };
  const digest = (r: OfflineSessionRecord): string => partitionDigest([], [r]);
  const clocks = new Set(['lastSessionRefresh', 'deadline']);
  for (const key of Object.keys(record) as (keyof OfflineSessionRecord)[]) {
    if (key === 'clients') continue;
    const value = record[key];
    const other = typeof value === 'string' ? `${value}x` : typeof value === 'number' ? value + 1 : typeof value === 'boolean' ? !value : { ...value, added: 'n' };
    t.is(digest({ ...record, [key]: other } as OfflineSessionRecord) === digest(record), clocks.has(key), `field ${key}`);
  }
  const client = (change: Partial<OfflineSessionRecord['clients'][number]>): OfflineSessionRecord => ({ ...record, clients: [{ ...record.clients[0]!, ...change }, record.clients[1]!] });
  t.is(digest(client({ timestamp: START + 99 })), digest(record), 'a client timestamp is an idle clock');
  for (const [what, change] of [
    ['started', { started: START + 9 }], ['scope', { scope: 'openid' }], ['notes', { notes: { n: 'v' } }], ['chain', { chains: { '': { tokenId: 'u', useCount: 1, lastRefresh: START + 5 } } }], ['no chain', { chains: null }],
  ] as const) t.not(digest(client(change)), digest(record), `client ${what}`);
  t.is(digest({ ...record, clients: [...record.clients].reverse() }), digest(record), 'clients in another order');
  t.not(digest({ ...record, clients: [record.clients[0]!] }), digest(record), 'a client fewer');
  t.is(partitionDigest([], [record, { ...record, id: 'o2' }]).split(':')[0], '2');
});
