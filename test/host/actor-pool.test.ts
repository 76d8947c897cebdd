// Goal: the shard actors behave as docs/architecture.md promises, with two real
// worker threads: sessions route by partition (a user's sessions all live on
// shard partitionOf(realm, user) % 2, and a session id names its partition),
// per-user work and realm-wide merges span both shards, a command that
// throws is answered with its error code while the worker keeps serving, a
// killed worker is restarted by its supervisor with its configuration
// replayed, and a full mailbox answers ERR_ACTOR_OVERLOADED instead of
// queueing without bound. Method: an ActorPool driven directly (to send
// malformed commands and read worker thread ids) and an Engine (the public
// API) with a ManualClock; the only wait is a bounded poll for a restart.

import test from 'ava';
import { ActorPool } from '../../src/host/actor-pool.js';
import { Engine } from '../../src/host/engine.js';
import type { CommandOutcome, ShardObserver } from '../../src/host/shard-channel.js';
import type { Command } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { newSessionId, partitionOf, partitionOfSessionId } from '../../src/protocol/partition.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { START_S, codeOf, startEngine, userOnShard, waitFor } from '../helpers/engine-harness.js';

const R = 'demo';

function quietObserver(): ShardObserver & { outcomes: CommandOutcome[] } {
  const outcomes: CommandOutcome[] = [];
  return { outcomes, commandDone: (_op, o) => outcomes.push(o), workerExited: () => {}, workerStarted: () => {}, expired: () => {}, records: () => {} };
}

async function startPool(t: Parameters<typeof startEngine>[0]): Promise<{ pool: ActorPool; observer: ReturnType<typeof quietObserver> }> {
  const observer = quietObserver();
  const pool = new ActorPool({
    shards: 2, idleGraceSeconds: 120, clockMode: 'manual', startSecond: START_S, mailboxCommandsMax: 1000, dataDir: null, offlineCacheEntries: 10, durability: 'snapshot', nowSeconds: () => START_S, observer,
  });
  t.teardown(() => pool.close());
  await pool.start();
  return { pool, observer };
}

test('a user\'s sessions land on shard partitionOf(realm, user) % 2, and each session id encodes that partition', async (t) => {
  const { engine } = await startEngine(t);
  await engine.putRealm(R, {});
  const expected = [0, 0];
  const byUser = new Map<string, string[]>();
  for (let u = 0; u < 60; u++) {
    const userId = `route-${u}`;
    const partition = partitionOf(R, userId);
    for (let k = 0; k < 2; k++) {
      const { session } = await engine.createSession({ realm: R, userId, username: userId, ip: '10.0.0.1' });
      t.is(partitionOfSessionId(session.id), partition, 'the id encodes the user\'s partition');
      byUser.set(userId, [...(byUser.get(userId) ?? []), session.id]);
      expected[partition % 2]!++;
    }
  }
  const stats = await engine.stats();
  t.deepEqual(stats.map((s) => s.shard), [0, 1]);
  t.deepEqual(stats.map((s) => s.realms[R]?.[0] ?? 0), expected, 'each shard holds exactly its users\' sessions');
  t.true(expected[0]! > 20 && expected[1]! > 20, 'users spread over both shards');

  for (const [userId, ids] of byUser) t.deepEqual((await engine.listUserSessions(R, userId)).map((v) => v.id).sort(), [...ids].sort(), userId);
  let loggedOut = 0;
  const remaining = [0, 0];
  for (const [userId, ids] of byUser) {
    if (Number(userId.split('-')[1]) % 2 === 0) loggedOut += (await engine.logoutUser(R, userId)).length;
    else remaining[partitionOf(R, userId) % 2]! += ids.length;
  }
  t.is(loggedOut, 60);
  t.deepEqual((await engine.stats()).map((s) => s.realms[R]?.[0] ?? 0), remaining);
  t.is(await engine.countByFilter(R, {}), 60, 'realm-wide count merges both shards');
  t.is((await engine.searchSessions(R, { max: 100 })).length, 60, 'realm-wide search merges both shards');
});

test('a command that throws is answered with its error code; the worker stays alive and keeps serving', async (t) => {
  const { pool, observer } = await startPool(t);
  const threads = pool.channels.map((c) => c.threadId);
  t.true(threads.every((id) => id > 0));
  const idOnShard = (shard: number): string => newSessionId(shard === 0 ? 2 : 3);
  const codeSession = idOnShard(1);
  const bad: [string, number, Command, string][] = [
    ['unknown op', 0, { op: 9999 } as unknown as Command, 'ERR_BAD_COMMAND'],
    ['create in a realm the shard does not know', 0, {
      op: OP.sessionCreate, id: idOnShard(0), realm: 'nowhere', userId: 'u', username: 'u', ip: '1.1.1.1', authMethod: 'openid-connect',
      rememberMe: false, now: START_S, client: null, limits: null, notes: null,
    }, 'ERR_REALM_UNKNOWN'],
    ['a bad CIDR that reached the shard', 1, { op: OP.countFilter, realm: 'r', filter: { ipIn: ['10.0.0.0/99'] } }, 'ERR_INVALID_ARGUMENT'],
    ['a field of the wrong type', 1, { op: OP.sessionTouch, id: 42, now: START_S } as unknown as Command, 'ERR_BAD_COMMAND'],
    ['a negative time', 0, { op: OP.sessionTouch, id: idOnShard(0), now: -1 }, 'ERR_BAD_COMMAND'],
    ['an unknown end reason', 0, { op: OP.userLogout, realm: 'r', userId: 'u', reason: 'because' } as unknown as Command, 'ERR_BAD_COMMAND'],
    ['a replayed record of an unknown kind', 1, { op: OP.mutationsReplay, mutations: [{ k: 77 }] } as unknown as Command, 'ERR_BAD_RECORD'],
    ['taking a code stored without data (a plain exception)', 1, { op: OP.codeTake, id: codeSession, code: 'c', now: START_S }, 'ERR_COMMAND_FAILED'],
    ['a session id of the other shard', 0, {
      op: OP.sessionCreate, id: idOnShard(1), realm: 'r', userId: 'u', username: 'u', ip: '1.1.1.1', authMethod: 'openid-connect',
      rememberMe: false, now: START_S, client: null, limits: null, notes: null,
    }, 'ERR_BAD_COMMAND'],
  ];
  await pool.broadcastSticky('realm:r', { op: OP.realmPut, realm: 'r', settings: realmSessionSettings() });
  // Two codes without data: taking one sweeps the other, whose missing data throws a plain TypeError.
  await pool.ask(1, { op: OP.codePut, id: codeSession, code: 'c', data: null as never });
  await pool.ask(1, { op: OP.codePut, id: codeSession, code: 'd', data: null as never });
  // All in flight together: errors in one batch do not disturb the good commands around them.
  const good = [pool.ask(0, { op: OP.statsGet }), pool.ask(1, { op: OP.statsGet })];
  const answers = await Promise.allSettled(bad.map(([, shard, command]) => pool.ask(shard, command)));
  answers.forEach((a, i) => {
    const [name, , , code] = bad[i]!;
    t.is(a.status, 'rejected', name);
    if (a.status === 'rejected') t.is((a.reason as { code?: string }).code, code, name);
  });
  const [s0, s1] = (await Promise.all(good)) as { shard: number }[];
  t.deepEqual([s0!.shard, s1!.shard], [0, 1]);

  t.deepEqual(pool.channels.map((c) => c.threadId), threads, 'same worker threads');
  t.deepEqual(pool.channels.map((c) => c.restarts), [0, 0]);
  t.true(pool.ready);
  t.is(observer.outcomes.filter((o) => o === 'error').length, bad.length);
  const created = (await pool.ask(0, {
    op: OP.sessionCreate, id: idOnShard(0), realm: 'r', userId: 'u', username: 'u', ip: '1.1.1.1', authMethod: 'openid-connect',
    rememberMe: false, now: START_S, client: null, limits: null, notes: null,
  })) as { session: { realm: string } };
  t.is(created.session.realm, 'r', 'later commands succeed');
});

test('at the Engine API, a failing command never costs a worker', async (t) => {
  const { engine } = await startEngine(t);
  await engine.putRealm(R, {});
  const { session } = await engine.createSession({ realm: R, userId: 'u', username: 'u', ip: '1.1.1.1' });
  t.is(await codeOf(t, () => engine.applyMutations([{ k: 42 as 1, id: session.id } as never])), 'ERR_BAD_RECORD');
  t.is(await codeOf(t, () => engine.attachClient(newSessionId(partitionOfSessionId(session.id)), R, { client: 'c', scope: '' })), 'ERR_SESSION_NOT_FOUND');
  t.deepEqual(engine.restarts(), [0, 0]);
  t.true((await engine.validate(session.id)).valid);
});

test('a killed worker is restarted: in-flight commands fail with ERR_ACTOR_RESTARTED, then the shard serves with its realm and client configuration replayed', async (t) => {
  const started: [number, number][] = [];
  const exits: string[] = [];
  const { engine, advance, expired } = await startEngine(t, {
    observer: { workerStarted: (shard, restarts) => started.push([shard, restarts]), workerExited: (shard, detail) => exits.push(`${shard}: ${detail}`) },
  });
  await engine.putRealm(R, { ssoSessionIdleTimeout: 600 });
  await engine.putClient(R, 'c-short', { attributes: { 'client.session.idle.timeout': '60' } });
  const u0 = userOnShard(R, 0, 'zero-');
  const u1 = userOnShard(R, 1, 'one-');
  const lost = (await engine.createSession({ realm: R, userId: u0, username: u0, ip: '10.0.0.1' })).session.id;
  const kept = (await engine.createSession({ realm: R, userId: u1, username: u1, ip: '10.0.0.2' })).session.id;

  // Put work in flight on shard 0 so that the crash lands in the middle of it:
  // statistics first (each reads the process's memory use, ~15 us on the
  // worker, ~1 us to send: ~150 ms of work queued in ~10 ms), the touches
  // queued behind them. The crash must come before the worker gets through
  // all of it, so the window is wide even on a loaded machine.
  const slow = Array.from({ length: 10_000 }, () => engine.stats());
  const inFlight = Array.from({ length: 2_000 }, () => engine.touch(lost));
  await new Promise((resolve) => setImmediate(resolve)); // the batches leave in the check phase
  await engine.crashShard(0);
  const settled = await Promise.allSettled(inFlight);
  await Promise.all(slow); // stats() falls back to the last answer of a shard that died
  const codes = new Set(settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason.code as string));
  const failed = settled.filter((s) => s.status === 'rejected').length;
  t.true(failed > 0, 'some commands were in flight when the worker died');
  t.deepEqual([...codes], ['ERR_ACTOR_RESTARTED']);
  t.log(`${failed} of ${inFlight.length} in-flight commands failed with ERR_ACTOR_RESTARTED`);

  // Asked while the worker is down: queued for the new worker, not failed.
  const whileDown = engine.createSession({ realm: R, userId: u0, username: u0, ip: '10.0.0.3', client: { client: 'c-short', scope: 'openid' } });
  whileDown.catch(() => {}); // awaited below; a failure must not surface as an unhandled rejection first
  await waitFor(() => engine.ready && engine.restarts()[0] === 1, () => `shard 0 to be restarted (supervisor: ${JSON.stringify({ exits, started })}, restarts ${engine.restarts().join()}, ready ${engine.ready}, failed ${failed})`, 30_000);
  const { session: fresh } = await whileDown;
  t.is(partitionOfSessionId(fresh.id) % 2, 0);
  t.deepEqual(engine.restarts(), [1, 0]);
  t.deepEqual(started.filter(([shard]) => shard === 0), [[0, 0], [0, 1]]);

  t.is(await engine.getSession(lost), null, 'online sessions of the dead worker are gone (no replica in a single node)');
  t.true((await engine.validate(kept)).valid, 'the other shard was not touched');
  const again = await engine.createSession({ realm: R, userId: u0, username: u0, ip: '10.0.0.4' });
  t.is(again.session.realm, R, 'the realm was replayed to the new worker');

  // The client's 60 s idle (not the realm's 600 s) applies: its settings were replayed too,
  // and so was the expiry subscription.
  await advance(180);
  const v = await engine.getSession(fresh.id);
  t.deepEqual(v?.session.clients, [], 'client session expired by its own replayed timeout');
  await advance(600);
  t.true(expired.some((n) => n.session.id === fresh.id && n.reason === 'idle'), 'expiry notices still flow from the restarted shard');
});

test('a full mailbox answers ERR_ACTOR_OVERLOADED at once; nothing hangs, memory stays bounded, service resumes', async (t) => {
  const outcomes: CommandOutcome[] = [];
  const { engine } = await startEngine(t, { mailboxCommandsMax: 8, observer: { commandDone: (_op, o) => outcomes.push(o) } });
  await engine.putRealm(R, {});
  const burst = Array.from({ length: 100 }, (_, i) => engine.createSession({ realm: R, userId: `burst-${i}`, username: 'b', ip: '10.0.0.1' }));
  const depths = engine.mailboxDepths();
  t.true(depths.every((d) => d <= 8), `depths ${depths.join(',')}`);
  const settled = await Promise.race([
    Promise.allSettled(burst),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('commands of the burst hung')), 10_000).unref()),
  ]);
  const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  const accepted = settled.length - rejected.length;
  t.true(rejected.length >= 100 - 16, `${rejected.length} refused`);
  t.true(accepted >= 1, `${accepted} accepted`);
  t.deepEqual([...new Set(rejected.map((r) => r.reason.code))], ['ERR_ACTOR_OVERLOADED']);
  t.is(rejected[0]!.reason.status, 503);
  t.is(outcomes.filter((o) => o === 'overloaded').length, rejected.length);
  t.is(await engine.countByFilter(R, {}), accepted, 'exactly the accepted commands took effect');
  t.deepEqual(engine.mailboxDepths(), [0, 0]);
  const after = await engine.createSession({ realm: R, userId: 'after', username: 'a', ip: '10.0.0.9' });
  t.is(after.session.userId, 'after');
  t.deepEqual(engine.restarts(), [0, 0]);
});

test('the engine reports its shards, start time and clock', async (t) => {
  const { engine, clock } = await startEngine(t, { listenExpired: false });
  t.is(engine.shards, 2);
  t.is(engine.startedAt, START_S);
  t.is(engine.clock, clock);
  t.true(engine.ready);
  t.deepEqual(engine.mailboxDepths(), [0, 0]);
  t.deepEqual(engine.restarts(), [0, 0]);
  t.is(await codeOf(t, () => engine.crashShard(5)), 'ERR_INVALID_ARGUMENT');
});

test('Engine.start with one shard routes everything to it', async (t) => {
  const engine = await Engine.start({ shards: 1 });
  t.teardown(() => engine.close());
  await engine.putRealm(R, {});
  for (let i = 0; i < 10; i++) await engine.createSession({ realm: R, userId: `one-${i}`, username: 'x', ip: '1.1.1.1' });
  t.deepEqual((await engine.stats()).map((s) => s.realms[R]?.[0]), [10]);
});

test('a shard that cannot start fails the start, and the shards that did start are stopped', async (t) => {
  const started: number[] = [];
  const pool = new ActorPool({
    shards: 3, idleGraceSeconds: 120, clockMode: 'manual', startSecond: START_S, mailboxCommandsMax: 1000, dataDir: null, offlineCacheEntries: 10, durability: 'snapshot', nowSeconds: () => START_S,
    observer: { commandDone: () => {}, workerExited: () => {}, workerStarted: (shard) => started.push(shard), expired: () => {}, records: () => {} },
    workerUrl: new URL('../fixtures/last-shard-fails.js', import.meta.url),
  });
  t.teardown(() => pool.close());
  t.is(await codeOf(t, () => pool.start()), 'ERR_ACTOR_UNAVAILABLE');
  t.deepEqual([...new Set(started)].sort(), [0, 1], 'the other shards had started');
  t.false(pool.ready);
  // Their workers are gone: every shard refuses work as a closed engine does.
  for (const shard of [0, 1, 2]) t.is(await codeOf(t, () => pool.ask(shard, { op: OP.statsGet })), 'ERR_ENGINE_CLOSED', `shard ${shard}`);
});
