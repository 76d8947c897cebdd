// Offline sessions through the real engine (two shard workers) on real LMDB
// files in a temp dir: docs/keycloak-semantics.md#offline-sessions and the durability promises of the
// durable-state issue.

import test, { type ExecutionContext } from 'ava';
import { Engine } from '../../src/host/engine.js';
import { openEnv, type LmdbEnv } from '../../src/store/lmdb-env.js';
import { ManualClock } from '../../src/time/clock.js';
import type { ExpiredNotice, SessionFilter, SessionOrder, SessionView } from '../../src/protocol/actor-messages.js';
import { compareSessionIds, newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { MUTATION, type Mutation } from '../../src/protocol/mutations.js';
import { cidrMatcher } from '../../src/util/ip-address.js';
import { tempDir } from '../helpers/temp-dir.js';

const START_S = 1_800_000_000;
const REALM = 'realm-1';
const CLIENT = 'client-1';

async function start(
  env: LmdbEnv,
  clock: ManualClock,
  options: { offlineCacheEntries?: number; shards?: number; realm?: Record<string, unknown>; durability?: 'journal' | 'snapshot' } = {},
): Promise<Engine> {
  const engine = await Engine.start({
    shards: options.shards ?? 2, clock, clockMode: 'manual', env, offlineCacheEntries: options.offlineCacheEntries ?? 100,
    ...(options.durability !== undefined ? { durability: options.durability } : {}),
  });
  await engine.putRealm(REALM, { offlineSessionIdleTimeout: 3600, ...(options.realm ?? {}) });
  await engine.putClient(REALM, CLIENT, {});
  return engine;
}

/** An engine on a fresh data directory, closed with the test. */
async function startFresh(t: ExecutionContext, clock: ManualClock): Promise<Engine> {
  const env = openEnv(tempDir(t));
  const engine = await start(env, clock);
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  return engine;
}

async function offlineSession(engine: Engine, user: string): Promise<string> {
  const { session } = await engine.createSession({ realm: REALM, userId: user, username: user, ip: '10.1.2.3', client: { client: CLIENT, scope: 'openid offline_access' } });
  await engine.grantOffline(session.id, CLIENT, 'openid offline_access');
  return session.id;
}

test('§1.5 an offline session has the online session id and survives logout of the online session', async (t) => {
  const clock = new ManualClock(START_S);
  const engine = await startFresh(t, clock);
  const id = await offlineSession(engine, 'alice');
  t.truthy(await engine.logoutSession(id));
  t.is(await engine.getSession(id), null);
  const offline = await engine.getOfflineSession(id);
  t.is(offline?.session.id, id);
  t.is(offline?.invalid, null);
  t.deepEqual(offline?.session.clients.map((c) => c.client), [CLIENT]);
  t.is(await engine.countClientOfflineSessions(CLIENT), 1);
  t.is(await engine.countRealmOfflineSessions(REALM), 1);
  const refreshed = await engine.refreshOffline({ sessionId: id, realm: REALM, client: CLIENT, userId: 'alice', token: { jti: 'j1', iat: START_S, reuseId: '' } });
  t.true(refreshed.ok, 'refreshing an offline token does not need the online session');
});

test('§1.5 logging a user out leaves offline sessions; admin delete, revocation and user deletion remove them', async (t) => {
  const clock = new ManualClock(START_S);
  const engine = await startFresh(t, clock);
  const a = await offlineSession(engine, 'u1');
  const b = await offlineSession(engine, 'u1');
  const c = await offlineSession(engine, 'u2');
  t.is((await engine.logoutUser(REALM, 'u1')).length, 2);
  t.is((await engine.listUserOfflineSessions(REALM, 'u1')).length, 2);
  t.truthy(await engine.removeOfflineSession(a));
  t.is(await engine.getOfflineSession(a), null);
  const revoked = await engine.removeOfflineClient(b, CLIENT);
  t.true(revoked.removed);
  t.truthy(revoked.ended, 'the last offline client session takes the offline session with it');
  t.is((await engine.removeUserOfflineSessions(REALM, 'u2')).length, 1);
  t.is(await engine.getOfflineSession(c), null);
  t.is(await engine.countClientOfflineSessions(CLIENT), 0);
  t.is(await engine.countRealmOfflineSessions(REALM), 0);
});

test('the offline cache stays within its bound under 50,000 sessions and an evicted session is still found', async (t) => {
  const clock = new ManualClock(START_S);
  const env = openEnv(tempDir(t));
  const engine = await start(env, clock, { offlineCacheEntries: 1000 });
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  const ids: string[] = [];
  const total = 50_000;
  for (let i = 0; i < total; i += 500) {
    const batch = await Promise.all(Array.from({ length: 500 }, (_, k) => offlineSession(engine, `user-${i + k}`)));
    ids.push(...batch);
  }
  const stats = await engine.stats();
  const cached = stats.reduce((sum, s) => sum + s.offlineCached, 0);
  t.true(cached <= 1000, `cache holds ${cached} records, bound is 1000`);
  t.is(await engine.countClientOfflineSessions(CLIENT), total);
  const first = await engine.getOfflineSession(ids[0]!);
  t.is(first?.session.id, ids[0], 'the first session was evicted long ago and is read back from LMDB');
  t.is(first?.session.userId, 'user-0');
  t.is((await engine.listClientOfflineSessions(CLIENT, { first: 100, max: 10 })).length, 10);
});

test('§2.3 offline idle expiry removes the session from LMDB and from the counters', async (t) => {
  const clock = new ManualClock(START_S);
  const engine = await startFresh(t, clock);
  const expired: ExpiredNotice[] = [];
  engine.on('expired', (n: ExpiredNotice) => expired.push(n));
  const idle = await offlineSession(engine, 'idle-user');
  const kept = await offlineSession(engine, 'busy-user');
  await engine.logoutSession(idle);
  await engine.logoutSession(kept);
  // Keep one session alive with a refresh halfway.
  clock.advance(2000);
  t.true((await engine.refreshOffline({ sessionId: kept, realm: REALM, client: CLIENT, userId: 'busy-user', token: { jti: 'k', iat: START_S, reuseId: '' } })).ok);
  clock.advance(3600 + 120 - 2000); // idle 3600 + grace 120 since the start
  await engine.advanceTime(clock.nowSeconds());
  t.is(await engine.getOfflineSession(idle), null);
  t.truthy(await engine.getOfflineSession(kept));
  const offlineExpired = expired.filter((n) => n.offline);
  t.deepEqual(offlineExpired.map((n) => [n.session.id, n.reason]), [[idle, 'idle']]);
  t.is(await engine.countClientOfflineSessions(CLIENT), 1);
  t.is(await engine.countRealmOfflineSessions(REALM), 1);
});

test('§2.3 offline max applies only when offlineSessionMaxLifespanEnabled', async (t) => {
  const clock = new ManualClock(START_S);
  const env = openEnv(tempDir(t));
  const engine = await start(env, clock, { realm: { offlineSessionIdleTimeout: 100_000, offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 5000 } });
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  const id = await offlineSession(engine, 'max-user');
  clock.advance(4999);
  t.true((await engine.refreshOffline({ sessionId: id, realm: REALM, client: CLIENT, userId: 'max-user', token: { jti: 'm', iat: START_S, reuseId: '' } })).ok);
  clock.advance(1);
  const refused = await engine.refreshOffline({ sessionId: id, realm: REALM, client: CLIENT, userId: 'max-user', token: { jti: 'm2', iat: START_S + 4999, reuseId: '' } });
  t.false(refused.ok);
  if (!refused.ok) t.is(refused.error, 'Offline session not active');
  t.is(await engine.getOfflineSession(id), null, 'Keycloak revokes the offline session found expired by a refresh');
});

for (const durability of ['journal', 'snapshot'] as const) {
test(`durability ${durability}: offline and online sessions survive a graceful restart, even onto another shard count`, async (t) => {
  const clock = new ManualClock(START_S);
  const dir = tempDir(t);
  let env = openEnv(dir);
  let engine = await start(env, clock, { durability });
  const offline = await offlineSession(engine, 'carol');
  const { session: online } = await engine.createSession({ realm: REALM, userId: 'dave', username: 'dave', ip: '10.9.9.9', client: { client: CLIENT, scope: 'openid' } });
  t.is(await engine.saveSnapshot(), 2);
  await engine.close();
  await env.close();

  clock.advance(60);
  env = openEnv(dir);
  engine = await start(env, clock, { shards: 3, durability });
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  const restored = await engine.loadSnapshot();
  t.is(restored.loaded, 2);
  t.deepEqual(restored.dropped, []);
  t.true((await engine.validate(online.id, CLIENT)).valid, 'the online session came back, on a node with another shard count');
  t.truthy(await engine.getOfflineSession(offline));
  await engine.logoutSession(online.id);
  // Stop without a shutdown snapshot (as a crash would): what the next start finds depends on the durability.
  await engine.close();
  await env.close();
  env = openEnv(dir);
  engine = await start(env, clock, { shards: 2, durability });
  const again = await engine.loadSnapshot();
  // 'snapshot' consumed its snapshot at start, so nothing comes back; 'journal' kept it as the
  // journal's base (carol's online session is back) and journaled the logout (dave's stays dead).
  t.is(again.loaded, durability === 'journal' ? 1 : 0);
  t.false((await engine.validate(online.id)).valid);
});
}

test('online sessions that expired while the node was down are dropped at start with their reason', async (t) => {
  const clock = new ManualClock(START_S);
  const dir = tempDir(t);
  let env = openEnv(dir);
  let engine = await start(env, clock);
  await engine.createSession({ realm: REALM, userId: 'erin', username: 'erin', ip: '10.0.0.5', client: null });
  await engine.saveSnapshot();
  await engine.close();
  await env.close();
  clock.advance(1800 + 120); // the SSO idle timeout plus grace
  env = openEnv(dir);
  engine = await start(env, clock);
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  const restored = await engine.loadSnapshot();
  t.is(restored.loaded, 0);
  t.deepEqual(restored.dropped.map((d) => [d.session.username, d.reason]), [['erin', 'idle']]);
});

test('offline listings are answered by the shards and merged: pages continue exactly, in the documented orders', async (t) => {
  const clock = new ManualClock(START_S);
  const engine = await startFresh(t, clock);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push(await offlineSession(engine, `user-${String(i).padStart(2, '0')}`));
  const page = async (first: number, max: number) => (await engine.listClientOfflineSessions(CLIENT, { first, max })).map((v) => v.id);
  const pages = [...(await page(0, 7)), ...(await page(7, 7)), ...(await page(14, 7)), ...(await page(21, 7)), ...(await page(28, 7))];
  t.deepEqual(pages, [...ids].sort(), 'client listing: session-id order across both shards');
  const search = async (first: number, max: number, search = '') => (await engine.searchOfflineSessions(REALM, { search, first, max })).map((v) => v.username);
  t.deepEqual([...(await search(0, 11)), ...(await search(11, 11)), ...(await search(22, 11))], Array.from({ length: 30 }, (_, i) => `user-${String(i).padStart(2, '0')}`), 'realm search: user-id order');
  t.deepEqual(await search(0, 10, 'user-1'), Array.from({ length: 10 }, (_, i) => `user-1${i}`));
  t.is(await engine.countClientOfflineSessions(CLIENT), 30);
  t.is(await engine.countOfflineByFilter(REALM, { userId: 'user-03' }), 1);
  t.is(await engine.countOfflineByFilter(REALM, { ipNotIn: ['10.0.0.0/8'] }), 0);
  const ended = await engine.revokeOfflineByFilter(REALM, { client: CLIENT, ipIn: ['10.1.2.0/24'] });
  t.is(ended.length, 30);
  t.is(await engine.countClientOfflineSessions(CLIENT), 0);
  t.is(await engine.countRealmOfflineSessions(REALM), 0);
});

test('sorted, filtered offline listings: every record offered to a bounded heap per shard, merged by the order', async (t) => {
  const clock = new ManualClock(START_S);
  const engine = await startFresh(t, clock);
  const ips = ['10.1.2.3', '192.168.5.5', '2001:db8::7'];
  const ids: string[] = [];
  for (let i = 0; i < 18; i++) {
    const { session } = await engine.createSession({ realm: REALM, userId: `o-${i % 6}`, username: `o-${i % 6}`, ip: ips[i % 3]!, client: { client: CLIENT, scope: 'openid offline_access' } });
    await engine.grantOffline(session.id, CLIENT, 'openid offline_access');
    ids.push(session.id);
    if (i % 2) clock.advance(1);
  }
  clock.advance(10);
  for (const [i, id] of ids.entries()) {
    if (i % 3 === 1) await engine.refreshOffline({ sessionId: id, realm: REALM, client: CLIENT, userId: `o-${i % 6}`, token: { jti: `j${i}`, iat: START_S, reuseId: '' } });
  }
  const views: SessionView[] = [];
  for (const id of ids) views.push((await engine.getOfflineSession(id))!.session);
  const cases: [SessionOrder, SessionFilter][] = [
    [{ by: 'started', desc: false }, {}],
    [{ by: 'started', desc: true }, { ipIn: ['10.0.0.0/8', '2001:db8::/32'] }],
    [{ by: 'lastAccess', desc: true }, {}],
    [{ by: 'lastAccess', desc: false }, { lastAccessFrom: START_S + 5, ipNotIn: ['192.168.0.0/16'] }],
    [{ by: 'lastAccess', desc: true }, { userId: 'o-1', lastAccessBefore: START_S + 30 }],
  ];
  for (const [order, filter] of cases) {
    const key = (v: SessionView): number => (order.by === 'started' ? v.started : v.lastSessionRefresh);
    const expected = views
      .filter((v) => filter.userId === undefined || v.userId === filter.userId)
      .filter((v) => filter.ipIn === undefined || cidrMatcher(filter.ipIn)(v.ip))
      .filter((v) => filter.ipNotIn === undefined || !cidrMatcher(filter.ipNotIn)(v.ip))
      .filter((v) => filter.lastAccessFrom === undefined || v.lastSessionRefresh >= filter.lastAccessFrom)
      .filter((v) => filter.lastAccessBefore === undefined || v.lastSessionRefresh < filter.lastAccessBefore)
      .sort((a, b) => (order.desc ? -1 : 1) * (key(a) - key(b) || compareSessionIds(a.id, b.id)))
      .map((v) => v.id);
    const paged: string[] = [];
    for (let first = 0; first <= expected.length; first += 4) paged.push(...(await engine.listOfflineSessions(REALM, { filter, order, first, max: 4 })).map((v) => v.id));
    t.deepEqual(paged, expected, JSON.stringify([order, filter]));
  }
  t.true(views.some((v) => v.lastSessionRefresh !== v.started), 'refreshes moved some last-access times');
  t.deepEqual((await engine.listOfflineSessions(REALM, { search: 'o-2', max: 100 })).map((v) => v.id).sort(), views.filter((v) => v.username === 'o-2').map((v) => v.id).sort());
});

test('a node down for longer than the idle timeout restarts with every one of its 200,000 sessions dropped', async (t) => {
  const clock = new ManualClock(START_S);
  const dir = tempDir(t);
  let env = openEnv(dir);
  let engine = await start(env, clock, { shards: 1 }); // one shard answers all of them in one reply
  const count = 200_000;
  for (let i = 0; i < count; i += 10_000) {
    const batch: Mutation[] = [];
    for (let j = i; j < i + 10_000; j++) {
      const userId = `user-${j}`;
      const partition = partitionOf(REALM, userId);
      batch.push({ k: MUTATION.sessionCreated, id: newSessionId(partition), partition, realm: REALM, userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, started: START_S, lastSessionRefresh: START_S, authTime: START_S, notes: null });
    }
    await engine.applyMutations(batch);
  }
  await engine.close(); // as a crash: the journal holds them
  await env.close();
  clock.advance(1800 + 120);
  env = openEnv(dir);
  engine = await start(env, clock, { shards: 1 });
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  const restored = await engine.loadSnapshot();
  t.is(restored.loaded, 0);
  t.is(restored.dropped.length, count);
});
