// Goal: the journal (durability 'journal') rebuilds exactly the table a shard
// held when it stopped without a snapshot: every view, refresh chain, counter
// and listing order, whatever mix of compactions happened meanwhile; and a
// reply is sent only once its records are committed.
// Method: a ShardActor on a real LMDB environment in a temp dir, driven
// through its real loop (packed frames, turns) by a seeded random workload of
// logins, attaches, rotations, touches, detaches, logouts, user logouts and
// logout-all; few users, so partitions pass the compaction threshold many
// times. The actor is then closed without a snapshot (as a crash, but with the
// last second of touches flushed) and a fresh actor on the same directory
// loads snapshot + journal; tables are compared (test/helpers/table-compare).
// Directories written in the previous on-disk layouts (schema versions 1 and
// 2) are written with lmdb-js directly, as those versions did, and must load.

import test, { type ExecutionContext } from 'ava';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Journal, JOURNAL_COMPACT_RECORDS_MIN, JOURNAL_LOG_RECORDS_MIN, JOURNAL_FRAME_RECORDS_MAX } from '../../src/actor/journal.js';
import { ShardActor } from '../../src/actor/shard-actor.js';
import { Engine } from '../../src/host/engine.js';
import type { BatchMessage, BootMessage, Command, ReplyMessage, ShardMessage, SnapshotLoadResult } from '../../src/protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { CLIENT_SESSION_DEFAULTS } from '../../src/session/client-settings.js';
import { clearOnlineSessions, journalDirOf, rekeyJournalLog, type LogEntry } from '../../src/store/journal-log.js';
import { listSegments, readSegment } from '../../src/store/journal-segments.js';
import { DB, ENV_FILE, SCHEMA_VERSION, openEnv, type LmdbEnv } from '../../src/store/lmdb-env.js';
import { MUTATION, type ReplicatedRecord } from '../../src/protocol/mutations.js';
import { packChunks, unpackChunk } from '../../src/protocol/transfer-chunks.js';
import { unbundled, waitFor } from '../helpers/engine-harness.js';
import { ManualClock } from '../../src/time/clock.js';
import { compareTables, lcg } from '../helpers/table-compare.js';
import { tempDir } from '../helpers/temp-dir.js';

const START = 1_800_000_000;
const seed = Number(process.env.FC_SEED ?? 20_251_204);
const REALMS = ['r1', 'r2'];
const CLIENTS = ['a', 'b', 'c'];
const USERS = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? `user-${i}` : `00000000-0000-4000-8000-00000000000${i}`));

function boot(dataDir: string): BootMessage {
  return {
    protocolVersion: PROTOCOL_VERSION, shard: 0, shardCount: 1, idleGraceSeconds: 120, clockMode: 'manual', startSecond: START,
    mailboxCommandsMax: 100_000, dataDir, offlineCacheEntries: 16, durability: 'journal',
  };
}

/** An actor on `env`, driven through frames; `ask` resolves with the batch's reply. */
function actorOn(t: ExecutionContext, env: LmdbEnv, dir: string) {
  const replies = new Map<number, (reply: ReplyMessage) => void>();
  const frames: ShardMessage[] = [];
  const actor = new ShardActor(boot(dir), new ManualClock(START), (frame) => {
    const message = decodeFrame<ShardMessage>(frame);
    frames.push(message);
    for (const inner of unbundled(message)) if (inner.kind === 'reply') replies.get(inner.id)?.(inner);
  }, env);
  let nextId = 1;
  const ask = (commands: Command[]): Promise<ReplyMessage> => {
    const id = nextId++;
    const answered = new Promise<ReplyMessage>((resolve) => replies.set(id, resolve));
    actor.receive(encodeFrame({ kind: 'batch', id, commands } satisfies BatchMessage));
    return answered;
  };
  t.teardown(() => actor.close());
  return { actor, ask, frames };
}

const configure: Command[] = [
  ...REALMS.map((realm): Command => ({ op: OP.realmPut, realm, settings: realmSessionSettings({ revokeRefreshToken: realm === 'r1', refreshTokenMaxReuse: 1, rememberMe: true }) })),
  ...CLIENTS.map((client): Command => ({ op: OP.clientPut, realm: 'r1', client, settings: CLIENT_SESSION_DEFAULTS })),
];

/** A configured actor on a fresh environment in a temp dir. */
async function freshActor(t: ExecutionContext) {
  const dir = tempDir(t);
  const env = openEnv(dir);
  t.teardown(() => env.close());
  const driven = actorOn(t, env, dir);
  await driven.ask(configure);
  return { dir, env, ...driven };
}

/** A configured actor that loaded what `env` holds, with what the load reported. */
async function reloaded(t: ExecutionContext, env: LmdbEnv, dir: string, now: number) {
  const driven = actorOn(t, env, dir);
  await driven.ask(configure);
  const loaded = (await driven.ask([{ op: OP.snapshotLoad, now }])).results[0] as SnapshotLoadResult;
  return { ...driven, loaded };
}

/** A login in r1: a session of `userId`, with a fresh id in its partition unless given. */
function createCommand(userId: string, id = newSessionId(partitionOf('r1', userId)), now = START): Command {
  return { op: OP.sessionCreate, id, realm: 'r1', userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, now, client: null, limits: null, notes: null };
}

/** Shard 0's log as frames of records (one per turn), in order, read from its segment files as another reader would. */
function logValues(env: LmdbEnv): LogEntry[][] {
  const frames: LogEntry[][] = [];
  for (const segment of listSegments(journalDirOf(env)).filter((s) => s.shard === 0)) readSegment(segment, (_, entries) => frames.push(entries));
  return frames;
}

test('snapshot + journal + touches rebuild the table exactly, across many compactions', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const random = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const table = first.actor.table;
  const chains = new Map<string, { jti: string; iat: number; reuseId: string }>();
  let now = START;
  let step = 0;
  for (let round = 0; round < 60; round++) {
    const commands: Command[] = [];
    const ids = table.allSlots().map((slot) => table.idOf(slot));
    for (let i = 0; i < 100; i++, step++) {
      const realm = pick(REALMS);
      const r = random();
      if (r < 0.3 || ids.length === 0) {
        const userId = pick(USERS);
        commands.push({
          op: OP.sessionCreate, id: newSessionId(partitionOf(realm, userId)), realm, userId, username: userId, ip: pick(['10.0.0.1', '2001:db8::7']),
          authMethod: 'openid-connect', rememberMe: random() < 0.2, now, client: { client: pick(CLIENTS), scope: 'openid' }, limits: null,
          notes: random() < 0.2 ? { n: String(step) } : null,
        });
        continue;
      }
      const id = pick(ids);
      const client = pick(CLIENTS);
      const x = random();
      if (x < 0.3) commands.push({ op: OP.sessionAttachClient, id, realm, now, client: { client, scope: 'openid', ssoAuth: random() < 0.5 }, touchUser: random() < 0.5 });
      else if (x < 0.6) {
        const key = `${id}/${client}`;
        const token = chains.get(key) ?? { jti: `j-${step}`, iat: now, reuseId: '' };
        commands.push({ op: OP.sessionRefresh, id, realm, client, now, token, user: { enabled: true, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START });
        chains.set(key, { jti: `j-${step}`, iat: now, reuseId: '' });
      } else if (x < 0.8) commands.push({ op: OP.sessionTouch, id, now });
      else if (x < 0.88) commands.push({ op: OP.sessionDetachClient, id, client, removeIfEmpty: random() < 0.5 });
      else if (x < 0.96) commands.push({ op: OP.sessionRemove, id, reason: 'logout' });
      else if (x < 0.995) commands.push({ op: OP.userLogout, realm, userId: pick(USERS), reason: 'user_logout' });
      else commands.push({ op: OP.realmLogoutAll, realm: 'r2', reason: 'logout_all' });
    }
    await first.ask(commands);
    now += Math.floor(random() * 5);
  }
  t.true(step > 5000 && table.size > 0, `${table.size} sessions left after ${step} commands`);
  await first.actor.close();
  // No shutdown snapshot was taken: whatever the snapshot holds, compactions wrote.
  const compacted = new Set([...env.db(DB.onlineSeq).getKeys()]);
  t.true(compacted.size >= 2, `partitions compacted: ${compacted.size} (threshold ${JOURNAL_COMPACT_RECORDS_MIN} records)`);

  const { loaded, ...second } = await reloaded(t, env, dir, now);
  t.is(loaded.loaded, table.size);
  t.deepEqual(loaded.dropped, []);
  compareTables(t, table, second.actor.table, CLIENTS, REALMS, 'byStart');
});

test('a reply that changed state leaves only after the journal wrote it', async (t) => {
  const { env, ask } = await freshActor(t);
  const id = newSessionId(partitionOf('r1', 'u'));
  const reply = await ask([createCommand('u', id)]);
  t.is(reply.errors, null);
  // Read from the segment file by another reader the moment the reply arrived: already written.
  t.true(logValues(env).flat().some((entry) => (entry.m as { id?: string }).id === id));
});

test('idle clocks are written at most a second apart, but a session used again after a while is written at once', async (t) => {
  const { env, ask } = await freshActor(t);
  const [a, b] = ['user-0', 'user-2'].map((user) => newSessionId(partitionOf('r1', user)));
  await ask([createCommand('user-0', a), createCommand('user-2', b)]);
  const touches = env.db<number>(DB.journalTouches);
  const clock = (id: string) => touches.get([partitionOf('r1', id === a ? 'user-0' : 'user-2'), id, '']);
  const touch = (id: string, now: number): Command => ({ op: OP.sessionTouch, id, now });
  await ask([touch(a, START + 1)]); // the first flush of the shard's life: written
  await touches.committed;
  t.is(clock(a), START + 1);
  await ask([touch(a, START + 2)]); // moved 1 s, in the same second of the shard's clock: coalesced
  await touches.committed;
  t.is(clock(a), START + 1, 'a 1 s move waits for the interval');
  await ask([touch(b, START + 300)]); // b idle for 300 s, then used: written at once, alone
  await touches.committed;
  t.deepEqual([clock(a), clock(b)], [START + 1, START + 300], 'a\'s short move still waits for the interval');
});

test('a data directory of schema version 1 (a snapshot value per session) still loads, and its next compaction rewrites it', async (t) => {
  const dir = tempDir(t);
  const userId = 'user-0';
  const partition = partitionOf('r1', userId);
  const [kept, removed, journaled] = [newSessionId(partition), newSessionId(partition), newSessionId(partition)];
  const session = (id: string, started: number) => ({
    id, realm: 'r1', userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, started,
    lastSessionRefresh: started + 5, authTime: started, notes: null,
  });
  const chain = { tokenId: 'jti-1', useCount: 1, lastRefresh: START + 5 };
  // Written as schema version 1 did: plain lmdb-js values, each carrying its own shape.
  const legacy = open({ path: join(dir, ENV_FILE), maxDbs: 32 });
  const db = (name: string) => legacy.openDB({ name, compression: false });
  await db(DB.meta).put('schemaVersion', 1);
  await db(DB.online).put([partition, kept], { v: 1, session: { ...session(kept, START), clients: [{ client: 'a', started: START, timestamp: START + 5, scope: 'openid', ssoAuth: false, notes: null }] }, chains: { a: { '': chain } } });
  await db(DB.online).put([partition, removed], { v: 1, session: { ...session(removed, START + 1), clients: [] }, chains: null });
  await db(DB.onlineSeq).put(partition, 10);
  await db(DB.journal).put([partition, 11], { k: MUTATION.sessionCreated, partition, ...session(journaled, START + 2) });
  await db(DB.journal).put([partition, 12], { k: MUTATION.sessionRemoved, id: removed, reason: 'logout', at: START + 3 });
  await legacy.close();

  const env = openEnv(dir);
  t.teardown(() => env.close());
  t.is(env.db<number>(DB.meta).get('schemaVersion'), SCHEMA_VERSION);
  const expectLoaded = async () => {
    const { actor, loaded } = await reloaded(t, env, dir, START + 10);
    t.is(loaded.loaded, 2);
    const table = actor.table;
    t.deepEqual(table.allSlots().map((slot) => table.idOf(slot)).sort(), [kept, journaled].sort());
    const slot = table.slotOf(kept);
    t.deepEqual(table.view(slot).clients.map((c) => c.client), ['a']);
    t.deepEqual(table.chainOf(table.clientSlotOf(slot, 'a'), ''), chain);
    return actor;
  };
  const first = await expectLoaded();
  // The partition replayed journal records, so the next turns compact it: chunks replace the old values.
  await waitFor(() => [...env.db(DB.online).getKeys()].length === 0, 'the schema version 1 snapshot values replaced');
  t.true([...env.db(DB.onlineChunks).getKeys({ start: [partition], end: [partition + 1] })].length > 0);
  await first.close();
  await expectLoaded();
});

test('a turn of more records than one frame holds is written as several, and comes back whole', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const count = JOURNAL_FRAME_RECORDS_MAX + 100;
  await first.ask(Array.from({ length: count }, (_, i) => createCommand(`bulk-${i}`)));
  const values = logValues(env).map((frame) => frame.length);
  t.true(values.length >= 2 && values.every((n) => n <= JOURNAL_FRAME_RECORDS_MAX), `frames of ${values.join(', ')} records`);
  await first.actor.close();
  const { loaded } = await reloaded(t, env, dir, START);
  t.is(loaded.loaded, count);
});

/** Creation records of `count` sessions of `userId` in `realm` (r1), as a primary ships them; in the user's partition unless given. */
function createdRecords(userId: string, count: number, realm = 'r1', partition = partitionOf(realm, userId)) {
  return Array.from({ length: count }, (_, i) => ({
    k: MUTATION.sessionCreated, partition, id: newSessionId(partition), realm, userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect',
    rememberMe: false, started: START + i, lastSessionRefresh: START + i, authTime: START + i, notes: null,
  }));
}

function journaledIn(env: LmdbEnv, partition: number): number {
  return logValues(env).flat().filter((e) => e.p === partition).length;
}

test('a passive copy journals the records it applies (the acknowledgement waits for the commit), and comes back after a restart', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const userId = 'copied-user';
  const created = createdRecords(userId, 3);
  const partition = created[0]!.partition;
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  await first.ask([{ op: OP.mutationsReplay, mutations: created }]);
  t.is(journaledIn(env, partition), 3, 'committed before the reply');
  const [kept, touched, removed] = created.map((m) => m.id);
  await first.ask([{ op: OP.mutationsReplay, mutations: [{ k: MUTATION.sessionTouched, id: touched!, lastSessionRefresh: START + 500 }, { k: MUTATION.sessionRemoved, id: removed!, reason: 'logout' }] }]);
  await first.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START + 600);
  t.is(loaded.loaded, 2);
  t.true(actor.table.slotOf(kept!) >= 0);
  t.is(actor.table.view(actor.table.slotOf(touched!)).lastSessionRefresh, START + 500, 'the idle clock move is on disk too');
  t.is(actor.table.slotOf(removed!), -1, 'a removal on the copy stays removed');
});

test('a copy filled by a state transfer is on disk only once the transfer is done: never part of it', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const older = createdRecords('filled-user', 2);
  const partition = older[0]!.partition;
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  await first.ask([{ op: OP.mutationsReplay, mutations: older }]);
  const transfer = createdRecords('filled-user', 4);
  await first.ask([{ op: OP.chunkReplay, partition, chunk: packChunks(transfer.slice(0, 2))[0]! }]);
  await first.ask([{ op: OP.mutationsReplay, mutations: createdRecords('filled-user', 1) }]);
  await first.actor.close();
  // Stopped mid-transfer: the older copy was erased at the first chunk, and nothing of the transfer was kept.
  const middle = await reloaded(t, env, dir, START);
  t.is(middle.loaded.loaded, 0);
  await middle.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  await middle.ask([{ op: OP.chunkReplay, partition, chunk: packChunks(transfer)[0]! }]);
  await middle.ask([{ op: OP.copyFilled, partition }]);
  await waitFor(() => env.db(DB.onlineSeq).get(partition) !== undefined && env.db(DB.onlineChunks).get([partition, 0]) !== undefined, 'the filled copy snapshotted');
  const live = createdRecords('filled-user', 1);
  await middle.ask([{ op: OP.mutationsReplay, mutations: live }]);
  await middle.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START);
  t.is(loaded.loaded, 5, 'the transfer and the records after it');
  for (const m of [...transfer, ...live]) t.true(actor.table.slotOf(m.id) >= 0);
  for (const m of older) t.is(actor.table.slotOf(m.id), -1, 'the copy the transfer replaced is gone');
});

test('a promoted copy keeps its disk as it is; a demoted primary keeps its disk; a partition no longer held is forgotten on disk', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const promotedRecords = createdRecords('promoted-user', 2);
  const promoted = promotedRecords[0]!.partition;
  const demotedRecords = createdRecords('demoted-user', 1);
  const demoted = demotedRecords[0]!.partition;
  const droppedRecords = createdRecords('dropped-user', 1);
  const dropped = droppedRecords[0]!.partition;
  t.true(new Set([promoted, demoted, dropped]).size === 3);
  await first.ask([{ op: OP.partitionRoles, partitions: [promoted, dropped], role: 'passive' }]);
  await first.ask([{ op: OP.mutationsReplay, mutations: [...promotedRecords, ...droppedRecords] }]);
  await first.ask([{ op: OP.partitionRoles, partitions: [promoted], role: 'primary' }]);
  await first.ask(demotedRecords.map((m) => createCommand(m.userId, m.id)));
  await first.ask([{ op: OP.partitionRoles, partitions: [demoted], role: 'passive' }]);
  await first.ask([{ op: OP.partitionRoles, partitions: [dropped], role: 'none' }]);
  await first.ask([{ op: OP.sessionTouch, id: promotedRecords[0]!.id, now: START + 3 }]); // a turn: compactions wanted would start
  t.is(env.db(DB.onlineSeq).get(promoted), undefined, 'the promotion wrote no snapshot: the copy\'s journal is the partition');
  await first.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START + 10);
  t.is(loaded.loaded, 3);
  for (const m of [...promotedRecords, ...demotedRecords]) t.true(actor.table.slotOf(m.id) >= 0);
  t.is(actor.table.slotOf(droppedRecords[0]!.id), -1);
});

test('a copy promoted with the grace moving its idle clocks is snapshotted with the moved clocks', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const records = createdRecords('graced-user', 2);
  const partition = records[0]!.partition;
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  await first.ask([{ op: OP.mutationsReplay, mutations: records }]);
  // A window longer than the realm's idle timeout: every idle deadline falls in it, so every clock moves.
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'primary', holdIdleSeconds: 3600 }]);
  const moved = records.map((m) => first.actor.table.view(first.actor.table.slotOf(m.id)).lastSessionRefresh);
  t.true(moved.every((at, i) => at > records[i]!.lastSessionRefresh), 'the grace moved the clocks');
  await waitFor(() => env.db(DB.onlineSeq).get(partition) !== undefined, 'the promoted partition snapshotted');
  await first.actor.close();
  const { actor } = await reloaded(t, env, dir, START + 10);
  t.deepEqual(records.map((m) => actor.table.view(actor.table.slotOf(m.id)).lastSessionRefresh), moved);
});

test('a filled copy\'s snapshot is the chunks it was filled with, then the records applied since: it rebuilds the table exactly', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const sessions = createdRecords('chunked-user', 6);
  const partition = sessions[0]!.partition;
  const r2 = createdRecords('chunked-user', 2, 'r2', partition);
  const attached = (m: { id: string }, client: string, at: number) => ({ k: MUTATION.clientAttached, id: m.id, client, started: at, timestamp: at, scope: 'openid', ssoAuth: false, notes: null, userRefresh: at });
  const chunks = [packChunks([...sessions.slice(0, 3), attached(sessions[0]!, 'a', START + 1)])[0]!, packChunks([...sessions.slice(3), ...r2])[0]!];
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  await first.ask([{ op: OP.copyRefill, partition }]);
  await first.ask([{ op: OP.chunkReplay, partition, chunk: chunks[0]! }]);
  // Live records between the chunks and after them, touches among them: kept in order.
  const between: ReplicatedRecord[] = [{ k: MUTATION.sessionTouched, id: sessions[0]!.id, lastSessionRefresh: START + 7 }, { k: MUTATION.sessionRemoved, id: sessions[1]!.id, reason: 'logout' }];
  await first.ask([{ op: OP.mutationsReplay, mutations: between }]);
  await first.ask([{ op: OP.chunkReplay, partition, chunk: chunks[1]! }]);
  const last: ReplicatedRecord[] = [attached(sessions[3]!, 'b', START + 8)];
  await first.ask([{ op: OP.mutationsReplay, mutations: last }]);
  await first.ask([{ op: OP.copyFilled, partition }]);
  await waitFor(() => env.db(DB.onlineSeq).get(partition) !== undefined, 'the filled copy snapshotted');
  const stored = [...env.db<Uint8Array>(DB.onlineChunks).getRange({ start: [partition], end: [partition + 1] })].map(({ value }) => Buffer.from(value));
  t.true(stored[0]!.equals(Buffer.from(chunks[0]!)), 'the first chunk is stored as it arrived, not packed again');
  t.true(stored[2]!.equals(Buffer.from(chunks[1]!)), 'so is the second, after the records between them');
  const records = (bytes: Uint8Array): unknown[] => unpackChunk(bytes) as unknown[];
  t.deepEqual(stored.flatMap(records), [...records(chunks[0]!), ...between, ...records(chunks[1]!), ...last], 'each record once, in the order applied');
  // After the snapshot, a copy's records are journaled as usual (a realm's logout-all too); the promotion writes nothing.
  const after: ReplicatedRecord[] = [
    { k: MUTATION.sessionRemoved, id: sessions[4]!.id, reason: 'logout' },
    { k: MUTATION.sessionTouched, id: sessions[5]!.id, lastSessionRefresh: START + 9 },
    { k: MUTATION.realmCleared, realm: 'r2', partition, reason: 'logout_all' },
  ];
  await first.ask([{ op: OP.mutationsReplay, mutations: after }]);
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'primary' }]);
  const table = first.actor.table;
  t.deepEqual(table.allSlots().map((slot) => table.idOf(slot)).sort(), [sessions[0], sessions[2], sessions[3], sessions[5]].map((m) => m!.id).sort());
  await first.actor.close();
  const second = await reloaded(t, env, dir, START + 10);
  compareTables(t, table, second.actor.table, CLIENTS, REALMS, 'byStart');
});

test('a copy that held sessions the transfer does not replace is snapshotted from its table', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const older = createdRecords('mixed-user', 2);
  const partition = older[0]!.partition;
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  await first.ask([{ op: OP.mutationsReplay, mutations: older }]);
  // An older sender's transfer: no refill first, so the copy keeps what it held, and a chunk holds a session it has.
  const brought = createdRecords('mixed-user', 2);
  const chunk = packChunks([older[0]!, ...brought])[0]!;
  await first.ask([{ op: OP.chunkReplay, partition, chunk }]);
  await first.ask([{ op: OP.copyFilled, partition }]);
  await waitFor(() => env.db(DB.onlineSeq).get(partition) !== undefined, 'the filled copy snapshotted');
  const stored = [...env.db<Uint8Array>(DB.onlineChunks).getRange({ start: [partition], end: [partition + 1] })].map(({ value }) => Buffer.from(value));
  t.false(stored.some((bytes) => bytes.equals(Buffer.from(chunk))), 'captured from the table, not the chunk');
  await first.ask([{ op: OP.partitionRoles, partitions: [partition], role: 'primary' }]);
  const table = first.actor.table;
  t.is(table.size, 4);
  await first.actor.close();
  const second = await reloaded(t, env, dir, START + 10);
  compareTables(t, table, second.actor.table, CLIENTS, REALMS, 'byStart');
});

test('a cleared disk holds no online session of what it held, and what follows is journaled from there', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  await first.ask(['user-0', 'user-2'].map((userId) => createCommand(userId)));
  await first.ask([{ op: OP.snapshotSave }]);
  await first.ask([createCommand('user-4')]);
  await first.actor.close();
  await clearOnlineSessions(env);
  const second = actorOn(t, env, dir);
  await second.ask(configure);
  t.is(((await second.ask([{ op: OP.snapshotLoad, now: START }])).results[0] as SnapshotLoadResult).loaded, 0);
  const after = createCommand('user-0');
  await second.ask([after]);
  await second.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START);
  t.is(loaded.loaded, 1);
  t.true(actor.table.slotOf((after as { id: string }).id) >= 0);
});

test('a log of schema version 2 (a value per record) still loads, and new turns continue after it', async (t) => {
  const dir = tempDir(t);
  const userId = 'user-0';
  const partition = partitionOf('r1', userId);
  const [first, second] = [newSessionId(partition), newSessionId(partition)];
  const created = (id: string, started: number) => ({
    k: MUTATION.sessionCreated, partition, id, realm: 'r1', userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect',
    rememberMe: false, started, lastSessionRefresh: started, authTime: started, notes: null,
  });
  const legacy = open({ path: join(dir, ENV_FILE), maxDbs: 32 });
  const db = (name: string) => legacy.openDB({ name, compression: false });
  await db(DB.meta).put('schemaVersion', 2);
  await db(DB.meta).put('journalShards', 1);
  await db(DB.journalLog).put([0, 0], { p: partition, s: 1, m: created(first, START) });
  await db(DB.journalLog).put([0, 1], { p: partition, s: 2, m: created(second, START + 1) });
  await db(DB.journalLog).put([0, 2], { p: partition, s: 3, m: { k: MUTATION.sessionRemoved, id: first, reason: 'logout', at: START + 2 } });
  await legacy.close();

  const env = openEnv(dir);
  t.teardown(() => env.close());
  const load = async (expected: number) => {
    const loading = await reloaded(t, env, dir, START + 10);
    t.is(loading.loaded.loaded, expected);
    return loading;
  };
  const before = await load(1);
  t.true(before.actor.table.slotOf(second) >= 0);
  const third = newSessionId(partition);
  await before.ask([createCommand(userId, third, START + 10)]);
  await before.actor.close();
  const after = await load(2);
  t.true(after.actor.table.slotOf(third) >= 0);
});

/** An engine on `dir` with `shards` shards, realm r1 and client a; stop() closes it without a snapshot. */
async function engineOn(dir: string, shards: number) {
  const env = openEnv(dir);
  const engine = await Engine.start({ shards, clock: new ManualClock(START), clockMode: 'manual', env });
  await engine.putRealm('r1', {});
  await engine.putClient('r1', 'a', {});
  return { env, engine, stop: async () => { await engine.close(); await env.close(); } };
}

/** `count` logins on a 2-shard engine on `dir`, every `logoutEvery`-th logged out, then a stop with everything in the journal. */
async function journaledSessions(dir: string, count: number, logoutEvery: number) {
  const node = await engineOn(dir, 2);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { session } = await node.engine.createSession({ realm: 'r1', userId: `user-${i}`, username: `user-${i}`, ip: '10.0.0.1', client: { client: 'a', scope: 'openid' } });
    ids.push(session.id);
  }
  const loggedOut = ids.filter((_, i) => i % logoutEvery === 0);
  for (const id of loggedOut) await node.engine.logoutSession(id);
  await node.stop(); // no shutdown snapshot: everything is in the journal
  return { ids, loggedOut, env: node.env };
}

/** An engine with `shards` shards loads `dir`: every session but the logged-out ones is back, and valid. */
async function expectRestored(t: ExecutionContext, dir: string, shards: number, ids: readonly string[], loggedOut: readonly string[]): Promise<void> {
  const node = await engineOn(dir, shards);
  t.is((await node.engine.loadSnapshot()).loaded, ids.length - loggedOut.length, `${shards} shards`);
  for (const id of ids) t.is((await node.engine.validate(id, 'a')).valid, !loggedOut.includes(id));
  await node.stop();
}

test('a journal no snapshot covered comes back whole when the shard count changes (2, then 3, then 1 shards)', async (t) => {
  const dir = tempDir(t);
  const { ids, loggedOut } = await journaledSessions(dir, 300, 7);
  for (const shards of [3, 1]) await expectRestored(t, dir, shards, ids, loggedOut);
});

test('a re-keying interrupted before it deleted the segments it moved loses nothing and brings no logged-out session back', async (t) => {
  const dir = tempDir(t);
  const { ids, loggedOut, env: stopped } = await journaledSessions(dir, 200, 5);
  // The re-keying's transaction committed, then the process died before deleting the segments it moved.
  const segments = listSegments(journalDirOf(stopped)).map((s) => ({ path: s.path, bytes: readFileSync(s.path) }));
  const env = openEnv(dir);
  await rekeyJournalLog(env, 3);
  await env.close();
  for (const { path, bytes } of segments) writeFileSync(path, bytes);
  await expectRestored(t, dir, 3, ids, loggedOut);
});

test('a partition written once long ago does not hold the log back: it is compacted so the log head moves on', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  const quiet = newSessionId(partitionOf('r1', 'quiet'));
  await first.ask([createCommand('quiet', quiet)]);
  const busyUser = USERS[0]!;
  const busyPartition = partitionOf('r1', busyUser);
  t.not(busyPartition, partitionOf('r1', 'quiet'));
  for (let round = 0; round < 80; round++) {
    const commands: Command[] = [];
    for (let i = 0; i < 500; i++) {
      const id = newSessionId(busyPartition);
      commands.push(createCommand(busyUser, id));
      commands.push({ op: OP.sessionRemove, id, reason: 'logout' });
    }
    await first.ask(commands);
  }
  t.true(80 * 1000 > JOURNAL_LOG_RECORDS_MIN + JOURNAL_COMPACT_RECORDS_MIN, 'the busy partition wrote more than the log holds before its head moves on');
  t.true(env.db(DB.onlineSeq).get(partitionOf('r1', 'quiet')) !== undefined, 'the quiet partition was compacted');
  await first.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START);
  t.is(loaded.loaded, 1);
  t.true(actor.table.slotOf(quiet) >= 0);
});

test('the segments the log\'s head has passed are deleted once the snapshots that replace them are on disk', async (t) => {
  const dir = tempDir(t);
  const env = openEnv(dir);
  t.teardown(() => env.close());
  const journal = new Journal(env, 0, 1, 4096);
  const [quiet] = createdRecords('quiet', 1);
  const busy = createdRecords('busy', 600);
  const [quietPartition, busyPartition] = [quiet!.partition, busy[0]!.partition];
  journal.append(quietPartition, 1, quiet!);
  journal.flush();
  busy.forEach((m, i) => {
    journal.append(busyPartition, i + 1, m);
    if (i % 20 === 19) journal.flush();
  });
  journal.flush();
  const segments = () => listSegments(journalDirOf(env)).length;
  const written = segments();
  t.true(written >= 4, `${written} segments`);
  await journal.compact(busyPartition, busy.length, []);
  await env.root.flushed;
  t.is(segments(), written, 'the quiet partition\'s record, in the first segment, still holds the head');
  await journal.compact(quietPartition, 1, []);
  await waitFor(() => segments() === 1, 'every segment but the last deleted');
  await journal.close();
});

test('a snapshot of everything (a graceful stop\'s) leaves no segment behind; the next record starts a new one', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  await first.ask(['user-0', 'user-2'].map((userId) => createCommand(userId)));
  const segments = () => listSegments(journalDirOf(env)).length;
  t.is(segments(), 1);
  await first.ask([{ op: OP.snapshotSave }]);
  await waitFor(() => segments() === 0, 'every segment deleted once the snapshots are on disk');
  const later = createCommand('user-4');
  await first.ask([later]);
  t.is(segments(), 1);
  await first.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START);
  t.is(loaded.loaded, 3);
  t.true(actor.table.slotOf((later as { id: string }).id) >= 0);
});

test('a turn whose records cannot be written fails its commands with ERR_JOURNAL_WRITE; its change reaches the disk with the next turn', async (t) => {
  const { dir, env, ...first } = await freshActor(t);
  // The first segment's file cannot be created: its name is taken by a directory.
  const blocked = join(journalDirOf(env), `1-0-${'0'.padStart(16, '0')}.log`);
  mkdirSync(blocked);
  const [failed, later] = ['user-0', 'user-2'].map((user) => newSessionId(partitionOf('r1', user)));
  // A time.advance in the same batch answers after the turn, and fails with it.
  const refused = await first.ask([createCommand('user-0', failed), { op: OP.timeAdvance, now: START }]);
  t.deepEqual(refused.errors?.map(([i, e]) => [i, e.code]), [[0, 'ERR_JOURNAL_WRITE'], [1, 'ERR_JOURNAL_WRITE']]);
  t.true(first.actor.table.slotOf(failed!) >= 0, 'the change is made');
  rmdirSync(blocked);
  const answered = await first.ask([createCommand('user-2', later)]);
  t.is(answered.errors, null);
  await first.actor.close();
  const { actor, loaded } = await reloaded(t, env, dir, START);
  t.is(loaded.loaded, 2);
  t.true(actor.table.slotOf(failed!) >= 0 && actor.table.slotOf(later!) >= 0);
});

test('the replies of one turn leave in one frame, in order, after its journal frame', async (t) => {
  const { ask, frames } = await freshActor(t);
  frames.length = 0;
  // Three batches in one turn: each writes, each waits for the frame that holds its records.
  const answers = await Promise.all([ask([createCommand('a')]), ask([createCommand('b')]), ask([createCommand('c')])]);
  t.deepEqual(answers.map((a) => a.errors), [null, null, null]);
  t.is(frames.length, 1);
  const [bundle] = frames;
  t.is(bundle!.kind, 'bundle');
  if (bundle!.kind === 'bundle') t.deepEqual(bundle.messages.map((m) => (m.kind === 'reply' ? m.id : -1)), answers.map((a) => a.id));
});
