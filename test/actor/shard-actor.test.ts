// Goal: a ShardActor answers every command of a batch in one reply (results
// by index, failures as coded errors by index), never lets one command's
// exception disturb another, holds a time.advance answer until expiry has
// caught up (shipping expiry notices first, when subscribed), ships mutation
// records when subscribed, refuses a batch its mailbox cannot hold with
// ERR_ACTOR_OVERLOADED, and validates what it is sent. Method: the actor in
// process (no worker), frames in through receive(), frames out through a
// recording send; turns run on setImmediate, so tests await turns, not time.

import test, { type ExecutionContext } from 'ava';
import { ShardActor } from '../../src/actor/shard-actor.js';
import type { BatchMessage, BootMessage, Command, ExpiredMessage, RecordsMessage, ReplyMessage, SessionCreateCommand, SessionView, ShardMessage } from '../../src/protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import { MUTATION } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOfSessionId } from '../../src/protocol/partition.js';
import { packChunks } from '../../src/protocol/transfer-chunks.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { ManualClock } from '../../src/time/clock.js';
import { unbundled, waitFor } from '../helpers/engine-harness.js';

const START = 1_800_000_000;

function boot(overrides: Partial<BootMessage> = {}): BootMessage {
  return {
    protocolVersion: PROTOCOL_VERSION, shard: 0, shardCount: 2, idleGraceSeconds: 0, clockMode: 'manual', startSecond: START,
    mailboxCommandsMax: 1000, dataDir: null, offlineCacheEntries: 10, durability: 'snapshot', ...overrides,
  };
}

function harness(t: ExecutionContext, overrides: Partial<BootMessage> = {}) {
  const out: ShardMessage[] = [];
  const actor = new ShardActor(boot(overrides), new ManualClock(START), (frame) => out.push(...unbundled(decodeFrame<ShardMessage>(frame))));
  t.teardown(() => actor.close());
  let nextId = 1;
  const send = (commands: Command[]): number => {
    const id = nextId++;
    actor.receive(encodeFrame({ kind: 'batch', id, commands } satisfies BatchMessage));
    return id;
  };
  const turns = async (n = 3): Promise<void> => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const replies = () => out.filter((m): m is ReplyMessage => m.kind === 'reply');
  return { actor, out, send, turns, replies };
}

/** A session id in an even partition (shard 0 of 2). */
function idOnShard0(): string {
  return newSessionId(Math.floor(Math.random() * 512) * 2);
}

const realmPut = (realm = 'r', settings = {}): Command => ({ op: OP.realmPut, realm, settings: realmSessionSettings({ ssoSessionIdleTimeout: 100, ...settings }) });
const create = (id: string, userId = 'u', now = START): Command => ({
  op: OP.sessionCreate, id, realm: 'r', userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false,
  now, client: { client: 'c', scope: 'openid' }, limits: null, notes: null,
});

test('one reply per batch: results by index, failures as coded errors by index, the rest unaffected', async (t) => {
  const { send, turns, replies } = harness(t);
  const a = idOnShard0();
  const id = send([realmPut(), create(a), { op: 4242 } as unknown as Command, { op: OP.sessionTouch, id: a, now: START + 5 }, create(a), { op: OP.clientSessionCount, realm: 'r', client: 'c' }]);
  await turns();
  const [reply] = replies();
  t.is(reply!.id, id);
  t.is(reply!.results.length, 6);
  t.is(reply!.results[0], null);
  t.is((reply!.results[1] as { session: { id: string } }).session.id, a);
  t.is(reply!.results[2], null);
  t.is(reply!.results[3], true);
  t.is(reply!.results[4], null);
  t.is(reply!.results[5], 1);
  t.deepEqual(reply!.errors!.map(([i, e]) => [i, e.code]), [[2, 'ERR_BAD_COMMAND'], [4, 'ERR_BAD_COMMAND']]);
  t.regex(reply!.errors![1]![1].message, /exists/);
});

test('commands are validated: wrong shard, non-ids, unknown realm, wrong types, non-objects', (t) => {
  const { actor } = harness(t);
  actor.execute(realmPut());
  const code = (command: unknown): string | undefined => {
    try {
      actor.execute(command as Command);
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };
  t.is(code(create(newSessionId(1))), 'ERR_BAD_COMMAND', 'partition 1 belongs to shard 1');
  t.is(code({ ...(create('x') as object) }), 'ERR_BAD_COMMAND', 'not a session id');
  t.is(code({ ...(create(idOnShard0()) as object), realm: 'nope' }), 'ERR_REALM_UNKNOWN');
  t.is(code({ ...(create(idOnShard0()) as object), userId: 7 }), 'ERR_BAD_COMMAND');
  t.is(code({ ...(create(idOnShard0()) as object), now: 1.5 }), 'ERR_BAD_COMMAND');
  t.is(code(null), 'ERR_BAD_COMMAND');
  t.is(code('touch'), 'ERR_BAD_COMMAND');
  t.is(code({ op: OP.sessionRemove, id: idOnShard0(), reason: 'nope' }), undefined, 'an unknown session is simply not found');
  t.is(code({ op: OP.revokeIds, realm: 'r', ids: 'all', reason: 'revoked' }), 'ERR_BAD_COMMAND');
  t.is(code({ op: OP.revokeFilter, realm: 'r', filter: null, reason: 'revoked' }), 'ERR_BAD_COMMAND');
  t.is(code({ op: OP.countFilter, realm: 'r', filter: { ipNotIn: ['1.2.3.4/40'] } }), 'ERR_INVALID_ARGUMENT');
  t.is(code({ op: OP.mutationsReplay, mutations: 'x' }), 'ERR_BAD_RECORD');
  t.is(code({ op: OP.chunkReplay, partition: 0, chunk: 'x' }), 'ERR_BAD_RECORD', 'a chunk is bytes');
  t.is(code({ op: OP.chunkReplay, partition: 0, chunk: Uint8Array.of(0xc1) }), 'ERR_BAD_RECORD', 'a chunk that does not decode');
  t.is(code({ op: OP.chunkReplay, partition: 0, chunk: packChunks([{ k: 42 } as never])[0] }), 'ERR_BAD_RECORD', 'a chunk holding an unknown record');
  const elsewhere = newSessionId(2);
  const created = { k: MUTATION.sessionCreated, id: elsewhere, partition: partitionOfSessionId(elsewhere), realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'pwd', rememberMe: false, started: START, lastSessionRefresh: START, authTime: START, notes: null };
  actor.execute({ op: OP.partitionRoles, partitions: [0, 2], role: 'passive' });
  t.is(code({ op: OP.chunkReplay, partition: 0, chunk: packChunks([created as never])[0] }), 'ERR_BAD_RECORD', 'a chunk of partition 0 holding a record of partition 2');
  t.is(code({ op: OP.chunkReplay, partition: 1024, chunk: packChunks([created as never])[0] }), 'ERR_BAD_COMMAND', 'a chunk of no partition');
  t.is(code({ op: OP.chunkReplay, partition: 2, chunk: packChunks([created as never])[0] }), undefined, 'the same chunk, of its own partition');
  actor.execute({ op: OP.partitionRoles, partitions: [0, 2], role: 'none' });
  t.is(actor.table.size, 0, 'nothing was created by the refused commands');
});

test('time.advance answers only once expiry has caught up, after shipping the expiry notices', async (t) => {
  const { send, turns, out, actor } = harness(t, { mailboxCommandsMax: 10_000 });
  send([{ op: OP.subscribe, expired: true, records: false }, realmPut()]);
  const ids = Array.from({ length: 5000 }, () => idOnShard0());
  send(ids.map((id, i) => create(id, `u${i}`)));
  await turns();
  t.is(actor.table.size, 5000);
  out.length = 0;
  const advanceId = send([{ op: OP.timeAdvance, now: START + 100 }]);
  await turns(1);
  // At most EXPIRY_TURN_MAX (4096) per turn, less when a turn's time (EXPIRY_TURN_MS) runs out:
  // 5000 expiries take two turns or more; no answer after the first.
  t.false(out.some((m) => m.kind === 'reply'), 'not answered while expiry is behind');
  // Expiry runs in paced slices (a pause of real time between two), so the answer comes after some ms.
  await waitFor(() => out.some((m) => m.kind === 'reply'), 'the time.advance answer');
  const replyAt = out.findIndex((m) => m.kind === 'reply');
  t.true(replyAt > 0);
  const reply = out[replyAt] as ReplyMessage;
  t.is(reply.id, advanceId);
  t.deepEqual(reply.results, [START + 100]);
  const notices = out.slice(0, replyAt).filter((m): m is ExpiredMessage => m.kind === 'expired').flatMap((m) => m.notices);
  t.is(notices.length, 5000, 'every notice was shipped before the answer');
  t.true(notices.every((n) => n.reason === 'idle' && n.at === START + 100));
  t.is(actor.table.size, 0);
});

test('without a subscription no notices are shipped; with records subscribed every change leaves with its reply, stamped (partition, seq)', async (t) => {
  const { send, turns, out } = harness(t);
  const a = idOnShard0();
  send([realmPut(), create(a), { op: OP.timeAdvance, now: START + 100 }]);
  await turns(4);
  t.false(out.some((m) => m.kind === 'expired'));
  out.length = 0;
  const b = idOnShard0();
  const batch = send([{ op: OP.subscribe, expired: false, records: true }, create(b), { op: OP.sessionTouch, id: b, now: START + 120 }, { op: OP.sessionRemove, id: b, reason: 'logout' }]);
  await turns();
  const reply = out.find((m): m is ReplyMessage => m.kind === 'reply' && m.id === batch)!;
  const records = reply.records ?? [];
  t.deepEqual(records.map((r) => r.m.k), [MUTATION.sessionCreated, MUTATION.clientAttached, MUTATION.sessionTouched, MUTATION.sessionRemoved]);
  const partition = partitionOfSessionId(b);
  t.true(records.every((r) => r.partition === partition && r.viewRevision === 0));
  // Lifecycle records take the partition's next seq; the touch is unordered (seq 0), and says how far it moved the clock.
  t.deepEqual(records.map((r) => r.seq), [records[0]!.seq, records[0]!.seq + 1, 0, records[0]!.seq + 2]);
  t.is(records[2]!.jump, 120, 'created at START, touched at START + 120');
  t.false(out.some((m) => m.kind === 'records'), 'nothing left over for an unsolicited frame');

  // Background work (expiry) ships its records after the turn.
  out.length = 0;
  const c = idOnShard0();
  send([create(c), { op: OP.timeAdvance, now: START + 10_000 }]);
  await turns(6);
  const expired = out.filter((m): m is RecordsMessage => m.kind === 'records').flatMap((m) => m.records);
  t.true(expired.some((r) => r.m.k === MUTATION.sessionRemoved && r.m.id === c && r.seq > 0));

  out.length = 0;
  send([{ op: OP.subscribe, expired: false, records: false }, create(idOnShard0())]);
  await turns();
  t.true(out.every((m) => m.kind !== 'records' && (m.kind !== 'reply' || m.records === undefined)), 'unsubscribed');
});

test('replayed records are validated as a whole: one malformed record and none is applied', async (t) => {
  const { send, turns, replies, actor } = harness(t);
  const a = idOnShard0();
  send([realmPut()]);
  await turns();
  const good = { k: MUTATION.sessionCreated, id: a, partition: partitionOfSessionId(a), realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, started: START, lastSessionRefresh: START, authTime: START, notes: null };
  const bad: unknown[] = [
    { ...good, partition: (partitionOfSessionId(a) + 1) % 1024 },
    { ...good, started: -1 },
    { k: MUTATION.sessionRemoved, id: a, reason: 'because' },
    { k: 42, id: a },
    { k: MUTATION.realmCleared, realm: 'r', partition: 5000, reason: 'logout_all' },
    { k: MUTATION.sessionAuthenticated, id: a, authTime: 'now' },
  ];
  for (const record of bad) {
    const id = send([{ op: OP.mutationsReplay, mutations: [good, record] } as Command]);
    await turns();
    const reply = replies().find((r) => r.id === id)!;
    t.is(reply.errors?.[0]?.[1].code, 'ERR_BAD_RECORD', JSON.stringify(record));
    t.is(actor.table.slotOf(a), -1, 'the good record before it was not applied either');
  }
  send([{ op: OP.mutationsReplay, mutations: [good, { k: MUTATION.sessionAuthenticated, id: a, authTime: START + 7 }] } as Command]);
  await turns();
  t.true(actor.table.slotOf(a) >= 0);
  t.is(actor.table.view(actor.table.slotOf(a)).authTime, START + 7, 'a re-authentication record moves AUTH_TIME');
});

test('a batch the mailbox cannot hold is refused whole with ERR_ACTOR_OVERLOADED', async (t) => {
  const { send, turns, replies } = harness(t, { mailboxCommandsMax: 8 });
  const first = send(Array.from({ length: 5 }, () => ({ op: OP.statsGet }) as Command));
  const second = send(Array.from({ length: 4 }, () => ({ op: OP.statsGet }) as Command)); // 9 > 8: refused at once
  const third = send(Array.from({ length: 3 }, () => ({ op: OP.statsGet }) as Command));
  const refused = replies();
  t.is(refused.length, 1, 'the refusal does not wait for a turn');
  t.is(refused[0]!.id, second);
  t.deepEqual(refused[0]!.errors!.map(([i, e]) => [i, e.code]), [[0, 'ERR_ACTOR_OVERLOADED'], [1, 'ERR_ACTOR_OVERLOADED'], [2, 'ERR_ACTOR_OVERLOADED'], [3, 'ERR_ACTOR_OVERLOADED']]);
  await turns();
  const answered = replies().slice(1);
  t.deepEqual(answered.map((r) => [r.id, r.errors]), [[first, null], [third, null]]);
});

test('undecodable and malformed frames are dropped with a warning; the actor keeps working', async (t) => {
  const { actor, send, turns, replies } = harness(t);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  actor.receive(new Uint8Array([0x92, 0x01]));
  actor.receive(encodeFrame({ kind: 'batch', id: 'x', commands: 'none' }));
  const id = send([{ op: OP.statsGet }]);
  await turns();
  t.deepEqual(replies().map((r) => r.id), [id]);
  t.true(warnings.some((w) => w.includes('undecodable')), warnings.join('; '));
  t.true(warnings.some((w) => w.includes('malformed')), warnings.join('; '));
});

test('statistics report per-realm counts, expirations and queue depth', async (t) => {
  const { actor } = harness(t);
  actor.execute(realmPut());
  actor.execute(create(idOnShard0(), 'a'));
  actor.execute(create(idOnShard0(), 'b'));
  const stats = actor.execute({ op: OP.statsGet }) as { shard: number; realms: Record<string, number[]>; expirations: Record<string, number[]>; mailboxCommands: number; wheelEntries: number; heapUsedBytes: number };
  t.is(stats.shard, 0);
  t.deepEqual(stats.realms, { r: [2, 2] });
  t.deepEqual(stats.expirations, { r: [0, 0, 0] });
  t.is(stats.mailboxCommands, 0);
  t.is(stats.wheelEntries, 2);
  t.true(stats.heapUsedBytes > 0);
  t.is(actor.mailboxCommands, 0);
});

test('refresh answers Keycloak\'s errors and detaches on reuse, exactly as the engine relies on', (t) => {
  const { actor } = harness(t);
  actor.execute(realmPut('r', { revokeRefreshToken: true, refreshTokenMaxReuse: 0 }));
  const a = idOnShard0();
  actor.execute(create(a));
  const refresh = (jti: string, now: number) =>
    actor.execute({ op: OP.sessionRefresh, id: a, realm: 'r', client: 'c', now, token: { jti, iat: START, reuseId: '' }, user: { enabled: true, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START }) as { ok: boolean; error?: string; detached?: boolean };
  t.true(refresh('j1', START + 1).ok);
  t.deepEqual(refresh('j1', START + 2), { ok: false, error: 'Maximum allowed refresh token reuse exceeded', detached: true, ended: null });
  t.deepEqual(refresh('j2', START + 3), { ok: false, error: "Session doesn't have required client", detached: false, ended: null });
});

test('a create answers the session exactly as the table then holds it: ids, addresses and notes of every shape', (t) => {
  const { actor } = harness(t);
  actor.execute(realmPut());
  const shapes: Partial<SessionCreateCommand>[] = [
    {},
    { userId: '0b3a1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', username: 'alice', ip: '192.168.7.200', rememberMe: true },
    { userId: 'LDAP-User:42', username: 'bob', ip: '2001:db8::1', notes: { KC_DEVICE: 'laptop' } },
    { userId: 'u-no-client', ip: '010.0.0.1', client: null },
    { userId: 'u-client-notes', client: { client: 'c2', scope: 'openid email', ssoAuth: true, notes: { iss: 'x' } } },
  ];
  for (const shape of shapes) {
    const id = idOnShard0();
    const command = { ...(create(id) as SessionCreateCommand), ...shape };
    const created = (actor.execute(command) as { session: SessionView }).session;
    const read = (actor.execute({ op: OP.sessionGet, id, now: START }) as { session: SessionView }).session;
    t.deepEqual(created, read, JSON.stringify(shape));
    // The same key order too: replies share msgpackr structures.
    t.deepEqual(Object.keys(created), Object.keys(read));
    t.deepEqual(created.clients.map(Object.keys), read.clients.map(Object.keys));
  }
});

test('a logout-all ends every session at once; their memory is freed in paced slices while commands keep being answered', async (t) => {
  const { actor, send, turns, replies } = harness(t, { mailboxCommandsMax: 100_000 });
  const sessions = 40_000;
  const commands: Command[] = [realmPut(), realmPut('other')];
  for (let i = 0; i < sessions; i++) commands.push(create(idOnShard0(), `u${i}`));
  send(commands);
  await turns();
  const kept = idOnShard0();
  send([{ ...(create(kept) as SessionCreateCommand), realm: 'other', client: { client: 'c-other', scope: 'openid' } }]);
  send([{ op: OP.realmLogoutAll, realm: 'r', reason: 'logout_all' }]);
  await turns(2);
  t.is(replies().at(-1)!.results[0], sessions);
  t.is(actor.execute({ op: OP.clientSessionCount, realm: 'r', client: 'c' }), 0, 'counted out at once');
  t.true(actor.table.clearing, 'more than one slice to free');
  const asked = send([{ op: OP.sessionGet, id: kept, now: START }]);
  await turns(2);
  t.is(replies().find((r) => r.id === asked)?.errors, null, 'answered while freeing');
  await waitFor(() => !actor.table.clearing, 'every slot freed');
  t.is(actor.table.size, 1);
});
