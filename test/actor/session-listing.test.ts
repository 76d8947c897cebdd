// Goal: a shard's sorted, filtered listing (OP.realmList, session-listing.ts)
// answers exactly the first `limit` sessions of the realm that match the
// search and the filter, in the asked order (start or last access, either
// way, ties by session id), whichever strategy serves the order: the walk of
// the start-ordered realm list that stops at the boundary second, the
// bounded heap over the whole realm, or the user's own list.
// Method: a ShardActor in process (one shard holding every partition), fed
// sessions through its commands with start seconds that repeat (ties), then
// seeded fast-check runs compare each answer with a naive oracle: every view
// of the realm, filtered with plain predicates and sorted with a plain
// comparator (FC_SEED / FC_NUM_RUNS override; the seed prints on failure).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ShardActor } from '../../src/actor/shard-actor.js';
import type { Command, SessionFilter, SessionOrder, SessionView } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { compareSessionIds, newSessionId } from '../../src/protocol/partition.js';
import { CLIENT_SESSION_DEFAULTS } from '../../src/session/client-settings.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { ManualClock } from '../../src/time/clock.js';
import { cidrMatcher } from '../../src/util/ip-address.js';
import { manualBoot } from '../helpers/boot.js';

const START = 1_800_000_000;
const seed = Number(process.env.FC_SEED ?? 20_260_105);
const numRuns = Number(process.env.FC_NUM_RUNS ?? 200);
const USERS = ['u0', 'u1', 'u2', 'u3'];
const NAMES: Record<string, string> = { u0: 'alice', u1: 'alina', u2: 'bob', u3: 'carol' };
const IPS = ['10.0.0.1', '10.0.1.7', '192.168.1.2', '2001:db8::1', '2001:db8:1::5'];
const CLIENTS = ['c0', 'c1'];

interface Spec {
  user: number;
  ip: number;
  client: number; // CLIENTS index, or CLIENTS.length for none
  startGap: number; // 0: the same second as the previous session (a tie)
  idle: number; // seconds from start to the last access
  removed: boolean;
}

/** An actor holding the sessions of `specs` in realm r (and one in realm other); the views of r's live sessions. */
function build(specs: readonly Spec[]): { actor: ShardActor; views: SessionView[] } {
  const actor = new ShardActor(manualBoot(START), new ManualClock(START), () => {});
  for (const realm of ['r', 'other']) {
    actor.execute({ op: OP.realmPut, realm, settings: realmSessionSettings({ ssoSessionIdleTimeout: 36_000, ssoSessionMaxLifespan: 72_000 }) });
  }
  for (const client of CLIENTS) actor.execute({ op: OP.clientPut, realm: 'r', client, settings: CLIENT_SESSION_DEFAULTS });
  actor.execute({ op: OP.clientPut, realm: 'other', client: 'other-app', settings: CLIENT_SESSION_DEFAULTS });
  const create = (realm: string, userId: string, ip: string, client: string | undefined, now: number): string => {
    // Two partitions only, so that ties reach the ids' random words.
    const id = newSessionId(7 + Math.floor(Math.random() * 2));
    actor.execute({
      op: OP.sessionCreate, id, realm, userId, username: NAMES[userId] ?? userId, ip, authMethod: 'openid-connect', rememberMe: false, now,
      client: client === undefined ? null : { client, scope: 'openid' }, limits: null, notes: null,
    });
    return id;
  };
  create('other', 'u0', IPS[0]!, 'other-app', START);
  let started = START;
  const live: string[] = [];
  const touches: [string, number][] = [];
  for (const spec of specs) {
    started += spec.startGap;
    const id = create('r', USERS[spec.user]!, IPS[spec.ip]!, CLIENTS[spec.client], started);
    if (spec.idle > 0) touches.push([id, started + spec.idle]);
    if (spec.removed) touches.push([id, -1]);
    else live.push(id);
  }
  for (const [id, at] of touches) {
    actor.execute(at < 0 ? { op: OP.sessionRemove, id, reason: 'logout' } : { op: OP.sessionTouch, id, now: at });
  }
  const views = live.map((id) => (actor.execute({ op: OP.sessionGet, id, now: START }) as { session: SessionView }).session);
  return { actor, views };
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  user: fc.nat(USERS.length - 1),
  ip: fc.nat(IPS.length - 1),
  client: fc.nat(CLIENTS.length),
  startGap: fc.constantFrom(0, 0, 0, 1, 2),
  idle: fc.nat(6),
  removed: fc.nat(4).map((n) => n === 0),
});

interface Query {
  order: SessionOrder;
  limit: number;
  search: string;
  filter: SessionFilter;
}

const queryArb: fc.Arbitrary<Query> = fc.record({
  order: fc.record({ by: fc.constantFrom('started' as const, 'lastAccess' as const), desc: fc.boolean() }),
  limit: fc.nat(14),
  search: fc.constantFrom('', '', 'ali', 'bob', '10.0', 'db8', 'c1'),
  filter: fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    { weight: 3, arbitrary: filterArb() },
  ),
});

function filterArb(): fc.Arbitrary<SessionFilter> {
  return fc.record(
    {
      userId: fc.constantFrom(...USERS),
      client: fc.constantFrom(...CLIENTS, 'missing'),
      ipIn: fc.constantFrom(['10.0.0.0/16'], ['192.168.1.2'], ['2001:db8::/48'], ['10.0.1.0/24', '2001:db8:1::/48']),
      ipNotIn: fc.constantFrom(['10.0.0.0/8'], ['2001:db8::/32']),
      lastAccessFrom: fc.integer({ min: START, max: START + 30 }),
      lastAccessBefore: fc.integer({ min: START, max: START + 40 }),
    },
    { requiredKeys: [] },
  );
}

/** The oracle: every view of the realm, filtered and sorted plainly. */
function expected(views: readonly SessionView[], q: Query): string[] {
  const f = q.filter;
  const inList = (list: string[] | undefined, ip: string): boolean => list !== undefined && cidrMatcher(list)(ip);
  const searchClients = q.search === '' ? [] : CLIENTS.filter((c) => c.includes(q.search));
  const ipSearch = /^[0-9a-fA-F.:]+$/.test(q.search);
  const matches = (v: SessionView): boolean =>
    (f.userId === undefined || v.userId === f.userId) &&
    (f.client === undefined || v.clients.some((c) => c.client === f.client)) &&
    (f.ipIn === undefined || inList(f.ipIn, v.ip)) &&
    (f.ipNotIn === undefined || !inList(f.ipNotIn, v.ip)) &&
    (f.lastAccessFrom === undefined || v.lastSessionRefresh >= f.lastAccessFrom) &&
    (f.lastAccessBefore === undefined || v.lastSessionRefresh < f.lastAccessBefore) &&
    (q.search === '' || v.username.includes(q.search) || (ipSearch && v.ip.includes(q.search)) || v.clients.some((c) => searchClients.includes(c.client)));
  const key = (v: SessionView): number => (q.order.by === 'started' ? v.started : v.lastSessionRefresh);
  const sign = q.order.desc ? -1 : 1;
  return views
    .filter(matches)
    .sort((a, b) => sign * (key(a) - key(b) || compareSessionIds(a.id, b.id)))
    .slice(0, q.limit)
    .map((v) => v.id);
}

function listed(actor: ShardActor, q: Query): string[] {
  const searchClients = q.search === '' ? [] : CLIENTS.filter((c) => c.includes(q.search));
  const views = actor.execute({ op: OP.realmList, realm: 'r', search: q.search, searchClients, filter: q.filter, order: q.order, limit: q.limit }) as SessionView[];
  return views.map((v) => v.id);
}

test('by start, a page ends with every session of its last second, sorted by id', (t) => {
  const specs: Spec[] = [0, 1, 0, 0, 1].map((startGap, i) => ({ user: i % 4, ip: 0, client: 0, startGap, idle: 0, removed: false }));
  const { actor, views } = build(specs);
  t.teardown(() => actor.close());
  for (const desc of [false, true]) {
    for (let limit = 0; limit <= 6; limit++) {
      const q: Query = { order: { by: 'started', desc }, limit, search: '', filter: {} };
      t.deepEqual(listed(actor, q), expected(views, q), `desc ${desc}, limit ${limit}`);
    }
  }
});

test('other realms never show; an unknown realm lists nothing; a bad order is refused', (t) => {
  const { actor, views } = build([{ user: 0, ip: 0, client: 0, startGap: 0, idle: 0, removed: false }]);
  t.teardown(() => actor.close());
  const q: Query = { order: { by: 'lastAccess', desc: true }, limit: 10, search: '', filter: {} };
  t.deepEqual(listed(actor, q), views.map((v) => v.id));
  t.deepEqual(actor.execute({ op: OP.realmList, realm: 'nowhere', search: '', searchClients: [], filter: {}, order: q.order, limit: 5 }), []);
  const bad = { op: OP.realmList, realm: 'r', search: '', searchClients: [], filter: {}, order: { by: 'ip', desc: false }, limit: 5 } as unknown as Command;
  t.throws(() => actor.execute(bad), { message: /order must be/ });
});

test('property: the listing equals the naive oracle for every order, limit, search and filter', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  fc.assert(
    fc.property(fc.array(specArb, { maxLength: 40 }), fc.array(queryArb, { minLength: 1, maxLength: 8 }), (specs, queries) => {
      const { actor, views } = build(specs);
      try {
        for (const q of queries) assert.deepEqual(listed(actor, q), expected(views, q), JSON.stringify(q));
      } finally {
        void actor.close();
      }
    }),
    { seed, numRuns },
  );
  t.pass();
});
