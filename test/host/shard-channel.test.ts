// Goal: a ShardChannel batches what is asked in one turn (replicated work in
// batches of its own, never ahead of a barrier), bounds what is in flight,
// matches replies to callers, enforces its deadline, and supervises its
// worker: a dead worker fails its in-flight commands with
// ERR_ACTOR_RESTARTED and is started again with the replay commands first;
// a worker that cannot start is given up after a bounded number of tries.
// Method: channels over a scripted fake worker (test/fixtures/fake-shard.ts),
// so that "in flight" and "never answers" are deterministic, plus the real
// worker entry for the protocol-version check. Deadlines are driven by
// calling expireOverdue() with a later time, never by waiting.

import test, { type ExecutionContext } from 'ava';
import { threadId as mainThreadId } from 'node:worker_threads';
import { BATCH_COMMANDS_MAX } from '../../src/constants.js';
import { ShardChannel, type CommandOutcome, type ShardObserver } from '../../src/host/shard-channel.js';
import type { BootMessage, Command } from '../../src/protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';
import { waitFor } from '../helpers/engine-harness.js';

const FAKE_URL = new URL('../fixtures/fake-shard.js', import.meta.url);
const REAL_URL = new URL('../../src/actor/worker-entry.js', import.meta.url);

interface Recorder extends ShardObserver {
  outcomes: CommandOutcome[];
  exits: string[];
  starts: number[];
}

function recorder(): Recorder {
  const r: Recorder = {
    outcomes: [],
    exits: [],
    starts: [],
    commandDone: (_op, outcome) => r.outcomes.push(outcome),
    workerExited: (_shard, detail) => r.exits.push(detail),
    workerStarted: (_shard, restarts) => r.starts.push(restarts),
    expired: () => {},
    records: () => {},
  };
  return r;
}

function channel(
  t: ExecutionContext,
  options: { mode?: string; mailboxCommandsMax?: number; replay?: () => Command[]; url?: URL; protocolVersion?: number } = {},
): { ch: ShardChannel; obs: Recorder } {
  const obs = recorder();
  const boot = {
    protocolVersion: options.protocolVersion ?? PROTOCOL_VERSION,
    shard: 0,
    shardCount: 1,
    idleGraceSeconds: 120,
    clockMode: 'manual',
    startSecond: 1_800_000_000,
    mailboxCommandsMax: options.mailboxCommandsMax ?? 1000,
    dataDir: null,
    offlineCacheEntries: 10, durability: 'snapshot',
    fakeMode: options.mode ?? 'echo',
  } as BootMessage;
  const ch = new ShardChannel({ boot, workerUrl: options.url ?? FAKE_URL, observer: obs, replay: options.replay ?? (() => []), timeoutMs: 5_000 });
  t.teardown(() => ch.terminate());
  return { ch, obs };
}

const touch = (n: number): Command => ({ op: OP.sessionTouch, id: `id-${n}`, now: n });
type Echo = { op: number; batchSize: number; threadId: number; seq: number };

test('commands asked in one turn travel in batches of at most BATCH_COMMANDS_MAX, answered in order', async (t) => {
  const { ch, obs } = channel(t);
  await ch.start();
  t.true(ch.ready);
  t.not(ch.threadId, mainThreadId);
  const n = BATCH_COMMANDS_MAX * 2 + 10;
  const asks = Array.from({ length: n }, (_, i) => ch.ask(touch(i)));
  t.is(ch.depth, n);
  const results = (await Promise.all(asks)) as Echo[];
  t.deepEqual(results.map((r) => r.seq), Array.from({ length: n }, (_, i) => i), 'each caller gets its own answer, in order');
  t.deepEqual([...new Set(results.map((r) => r.batchSize))].sort((a, b) => a - b), [10, BATCH_COMMANDS_MAX]);
  t.is(ch.depth, 0);
  t.is(obs.outcomes.filter((o) => o === 'ok').length, n);
  t.deepEqual(obs.starts, [0]);
});

test('askAlone sends its command in a batch of its own', async (t) => {
  const { ch } = channel(t);
  await ch.start();
  const before = [ch.ask(touch(1)), ch.ask(touch(2))];
  const alone = ch.askAlone(touch(3));
  const after = ch.ask(touch(4));
  const [a, b, c, d] = (await Promise.all([...before, alone, after])) as Echo[];
  t.deepEqual([a!.batchSize, b!.batchSize, c!.batchSize, d!.batchSize], [2, 2, 1, 1]);
});

test('replicated work leaves in a batch of its own ahead of the requests of the same turn, but never ahead of a barrier asked before it', async (t) => {
  const { ch } = channel(t);
  await ch.start();
  const records = (n: number): Command => ({ op: OP.mutationsReplay, mutations: [], n } as unknown as Command);
  const asks = [ch.ask(touch(1)), ch.ask(records(1)), ch.ask(touch(2)), ch.ask({ op: OP.statsGet }), ch.ask(records(2)), ch.ask(touch(3))];
  const [q1, r1, q2, barrier, r2, q3] = (await Promise.all(asks)) as Echo[];
  t.deepEqual([r1, q1, q2, barrier, r2, q3].map((e) => e!.seq), [0, 1, 2, 3, 4, 5], 'the first records first; the second behind the barrier');
  t.deepEqual([r1, q1, r2].map((e) => e!.batchSize), [1, 5, 5]);
});

test('the bound on queued plus in-flight commands refuses one more with ERR_ACTOR_OVERLOADED at once', async (t) => {
  const { ch, obs } = channel(t, { mode: 'silent', mailboxCommandsMax: 5 });
  await ch.start();
  const accepted = Array.from({ length: 5 }, (_, i) => ch.ask(touch(i)));
  for (const p of accepted) p.catch(() => {});
  const refused = await t.throwsAsync(ch.ask(touch(99)));
  t.is((refused as { code?: string }).code, 'ERR_ACTOR_OVERLOADED');
  t.is(ch.depth, 5);
  t.deepEqual(obs.outcomes, ['overloaded']);
});

test('a command past its deadline fails with ERR_ACTOR_TIMEOUT and frees its place', async (t) => {
  const { ch, obs } = channel(t, { mode: 'silent', mailboxCommandsMax: 3 });
  await ch.start();
  const asks = Array.from({ length: 3 }, (_, i) => ch.ask(touch(i)));
  await new Promise((resolve) => setImmediate(resolve)); // the batch leaves in the check phase
  ch.expireOverdue(Date.now()); // not yet due
  t.is(ch.depth, 3);
  ch.expireOverdue(Date.now() + 5_000);
  for (const p of asks) t.is(((await t.throwsAsync(p)) as { code?: string }).code, 'ERR_ACTOR_TIMEOUT');
  t.is(ch.depth, 0);
  t.deepEqual(obs.outcomes, ['timeout', 'timeout', 'timeout']);
  ch.ask(touch(9)).catch(() => {});
  t.is(ch.depth, 1, 'room again');
});

test('a crashed worker fails in-flight commands with ERR_ACTOR_RESTARTED and comes back with the replay first', async (t) => {
  const replay: Command[] = [{ op: OP.realmPut, realm: 'r', settings: {} as never }, { op: OP.subscribe, expired: true, records: false }];
  const { ch, obs } = channel(t, { mode: 'silent', replay: () => replay });
  await ch.start();
  const firstThread = ch.threadId;
  const inFlight = [ch.ask(touch(1)), ch.ask(touch(2))];
  await new Promise((resolve) => setImmediate(resolve));
  await ch.terminate(true);
  for (const p of inFlight) t.is(((await t.throwsAsync(p)) as { code?: string }).code, 'ERR_ACTOR_RESTARTED');
  t.is(ch.depth, 0);
  t.false(ch.ready);
  t.is(ch.restarts, 1);
  t.true(obs.exits.some((d) => d.startsWith('exited with code')), obs.exits.join('; '));
  // Commands asked while the worker is down wait for the new one (none are lost).
  const queued = ch.ask(touch(3));
  queued.catch(() => {});
  t.is(ch.depth, 1);
  await waitFor(() => ch.ready, 'the supervisor to restart the worker');
  t.not(ch.threadId, firstThread);
  t.deepEqual(obs.starts, [0, 1]);
  t.is(ch.depth, replay.length + 1, 'replay sent ahead of the queued command');
});

test('the replay reaches a restarted worker before anything queued meanwhile', async (t) => {
  const replay: Command[] = [{ op: OP.statsGet }];
  const { ch } = channel(t, { replay: () => replay });
  await ch.start();
  const first = ch.threadId;
  await ch.terminate(true);
  const queued = ch.ask(touch(7)) as Promise<Echo>;
  const answer = await queued;
  t.not(answer.threadId, first);
  t.is(answer.seq, replay.length, 'the replayed commands were answered first');
});

test('closing fails queued and in-flight commands with ERR_ENGINE_CLOSED and refuses new ones', async (t) => {
  const { ch } = channel(t, { mode: 'silent' });
  await ch.start();
  const inFlight = ch.ask(touch(1));
  await new Promise((resolve) => setImmediate(resolve));
  const queued = ch.ask(touch(2));
  await ch.terminate();
  t.is(((await t.throwsAsync(queued)) as { code?: string }).code, 'ERR_ENGINE_CLOSED');
  t.is(((await t.throwsAsync(inFlight)) as { code?: string }).code, 'ERR_ENGINE_CLOSED', 'not "restarted": nothing will restart');
  t.is(((await t.throwsAsync(ch.ask(touch(3)))) as { code?: string }).code, 'ERR_ENGINE_CLOSED');
  t.false(ch.ready);
  t.is(ch.threadId, -1);
});

test('a worker that cannot start is given up after a bounded number of tries: ERR_ACTOR_UNAVAILABLE', async (t) => {
  const { ch, obs } = channel(t, { mode: 'fail' });
  const err = await t.throwsAsync(ch.start());
  t.is((err as { code?: string }).code, 'ERR_ACTOR_UNAVAILABLE');
  t.false(ch.ready);
  t.is(obs.exits.filter((d) => d.startsWith('exited')).length, 5);
  t.true(obs.exits.some((d) => d.includes('fake shard refuses to start')), 'the error is reported');
  t.is(((await t.throwsAsync(ch.ask(touch(1)))) as { code?: string }).code, 'ERR_ACTOR_UNAVAILABLE');
});

test('a real shard worker refuses a boot message of another protocol version', async (t) => {
  const { ch, obs } = channel(t, { url: REAL_URL, protocolVersion: PROTOCOL_VERSION + 1 });
  const err = await t.throwsAsync(ch.start());
  t.is((err as { code?: string }).code, 'ERR_ACTOR_UNAVAILABLE');
  t.true(obs.exits.some((d) => d.includes('ERR_PROTOCOL_VERSION')), obs.exits.join('; '));
});

test('an undecodable frame from a worker is reported, and the channel keeps working', async (t) => {
  const { ch, obs } = channel(t, { mode: 'garbage' });
  await ch.start();
  const answer = (await ch.ask(touch(1))) as Echo;
  t.is(answer.op, OP.sessionTouch);
  t.true(obs.exits.some((d) => d.includes('undecodable frame')), obs.exits.join('; '));
});
