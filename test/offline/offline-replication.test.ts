// Offline sessions in a cluster: every change on the primary leaves as a
// record (the session whole, or its removal) that a backup writes to its own
// LMDB; a backup's copies are never counted or listed until it is promoted;
// a state transfer carries them; a partition that is no longer held forgets
// them. Two real shard actors, each with its own LMDB environment.

import test, { type ExecutionContext } from 'ava';
import { ShardActor } from '../../src/actor/shard-actor.js';
import type { BatchMessage, BootMessage, Command, PartitionExport, ReplyMessage, ShardMessage } from '../../src/protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import { MUTATION, type RecordEnvelope, type ReplicatedRecord } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOfSessionId } from '../../src/protocol/partition.js';
import { unpackChunk } from '../../src/protocol/transfer-chunks.js';
import { CLIENT_SESSION_DEFAULTS } from '../../src/session/client-settings.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { DB, openEnv } from '../../src/store/lmdb-env.js';
import { ManualClock } from '../../src/time/clock.js';
import { tempDir } from '../helpers/temp-dir.js';
import { unbundled } from '../helpers/engine-harness.js';

const START = 1_800_000_000;

function actorWithEnv(t: ExecutionContext) {
  const env = openEnv(tempDir(t));
  const boot: BootMessage = {
    protocolVersion: PROTOCOL_VERSION, shard: 0, shardCount: 1, idleGraceSeconds: 0, clockMode: 'manual', startSecond: START,
    mailboxCommandsMax: 1000, dataDir: null, offlineCacheEntries: 100, durability: 'snapshot',
  };
  const out: ShardMessage[] = [];
  const actor = new ShardActor(boot, new ManualClock(START), (frame) => out.push(...unbundled(decodeFrame<ShardMessage>(frame))), env);
  t.teardown(async () => {
    await actor.close();
    await env.close();
  });
  let nextId = 1;
  /** Runs commands in one batch; resolves with the reply's results. */
  const run = async (commands: Command[]): Promise<unknown[]> => {
    const id = nextId++;
    actor.receive(encodeFrame({ kind: 'batch', id, commands } satisfies BatchMessage));
    for (let i = 0; i < 200; i++) {
      const reply = out.find((m): m is ReplyMessage => m.kind === 'reply' && m.id === id);
      if (reply !== undefined) {
        if (reply.errors !== null) throw new Error(JSON.stringify(reply.errors));
        return reply.results;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error('no reply');
  };
  /** Every record shipped so far (with replies and in records frames), in order. */
  const records = (): RecordEnvelope[] => out.flatMap((m) => (m.kind === 'reply' ? (m.records ?? []) : m.kind === 'records' ? m.records : []));
  const setup = [
    { op: OP.realmPut, realm: 'r', settings: realmSessionSettings({ offlineSessionIdleTimeout: 100_000, revokeRefreshToken: true }) },
    { op: OP.clientPut, realm: 'r', client: 'c', settings: CLIENT_SESSION_DEFAULTS },
    { op: OP.clientPut, realm: 'r', client: 'd', settings: CLIENT_SESSION_DEFAULTS },
  ] as Command[];
  return { actor, env, run, records, setup };
}


test('a primary ships every offline change; a passive copy applies them, is not counted, and serves once promoted', async (t) => {
  const primary = actorWithEnv(t);
  const backup = actorWithEnv(t);
  await primary.run([...primary.setup, { op: OP.subscribe, expired: false, records: true }]);
  const id = newSessionId(6);
  const partition = partitionOfSessionId(id);
  await backup.run([...backup.setup, { op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);

  await primary.run([{ op: OP.sessionCreate, id, realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, now: START, client: { client: 'c', scope: 'openid' }, limits: null, notes: null }]);
  await primary.run([{ op: OP.offlineGrant, id, client: 'c', scope: 'openid offline_access', now: START + 1 }]);
  await primary.run([{ op: OP.offlineGrant, id, client: 'd', scope: 'openid offline_access', now: START + 2 }]);
  const token = { jti: 'j1', iat: START + 2, reuseId: '' };
  const refreshed = (await primary.run([
    { op: OP.offlineRefresh, id, realm: 'r', client: 'c', now: START + 3, token, user: { enabled: true, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START, offlineAccess: true } as Command,
  ]))[0] as { ok: boolean };
  t.true(refreshed.ok);
  await primary.run([{ op: OP.offlineRemoveClient, id, client: 'd', reason: 'revoked' }]);

  const offline = primary.records().map((e) => e.m).filter((m: ReplicatedRecord) => m.k === MUTATION.offlineWritten || m.k === MUTATION.offlineRemoved);
  t.is(offline.length, 4, 'two grants, one rotation, one client removal');
  const rotation = primary.records().find((e) => e.m.k === MUTATION.offlineWritten && (e.m.record as unknown as { clients: { chains: unknown }[] }).clients.some((c) => c.chains !== null));
  t.true(rotation !== undefined && rotation.seq > 0, 'a rotation is a lifecycle record with a seq');

  await backup.run([{ op: OP.mutationsReplay, mutations: primary.records().map((e) => e.m) }]);
  const [got] = await backup.run([{ op: OP.offlineGet, id, now: START + 4 }]);
  const [want] = await primary.run([{ op: OP.offlineGet, id, now: START + 4 }]);
  t.deepEqual(got, want, 'the copy holds the same offline session');
  t.deepEqual(await backup.run([{ op: OP.offlineClientCount, client: 'c' }]), [0], 'a passive copy is not counted');

  await backup.run([{ op: OP.partitionRoles, partitions: [partition], role: 'primary' }]);
  t.deepEqual(await backup.run([{ op: OP.offlineClientCount, client: 'c' }, { op: OP.offlineClientCount, client: 'd' }]), [1, 0], 'promoted: counted like the primary');

  await primary.run([{ op: OP.offlineRemove, id, reason: 'logout' }]);
  const last = primary.records().at(-1)!.m;
  t.is(last.k, MUTATION.offlineRemoved);
  await backup.run([{ op: OP.mutationsReplay, mutations: [last] }]);
  t.deepEqual(await backup.run([{ op: OP.offlineGet, id, now: START + 5 }, { op: OP.offlineClientCount, client: 'c' }]), [null, 0]);
});

test('a partition export carries its offline sessions; a partition no longer held forgets them', async (t) => {
  const primary = actorWithEnv(t);
  const joiner = actorWithEnv(t);
  await primary.run(primary.setup);
  const id = newSessionId(10);
  const partition = partitionOfSessionId(id);
  await primary.run([{ op: OP.sessionCreate, id, realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, now: START, client: { client: 'c', scope: 'openid' }, limits: null, notes: null }]);
  await primary.run([{ op: OP.offlineGrant, id, client: 'c', scope: 'openid offline_access', now: START + 1 }]);
  const [exported] = (await primary.run([{ op: OP.partitionExport, partition }])) as [PartitionExport];
  t.like(exported, { records: 3, sessions: 1 });
  t.deepEqual(exported.chunks.flatMap((chunk) => (unpackChunk(chunk) as ReplicatedRecord[]).map((m) => m.k)), [MUTATION.sessionCreated, MUTATION.clientAttached, MUTATION.offlineWritten]);

  await joiner.run([...joiner.setup, { op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  t.deepEqual(await joiner.run(exported.chunks.map((chunk) => ({ op: OP.chunkReplay, partition, chunk }))), [2, 1], 'online and offline records travel in chunks of their own');
  await joiner.run([{ op: OP.partitionRoles, partitions: [partition], role: 'primary' }]);
  t.deepEqual(await joiner.run([{ op: OP.offlineGet, id, now: START + 2 }]), await primary.run([{ op: OP.offlineGet, id, now: START + 2 }]));

  await joiner.run([{ op: OP.partitionRoles, partitions: [partition], role: 'none' }]);
  await joiner.run([{ op: OP.partitionRoles, partitions: [partition], role: 'primary' }]);
  t.deepEqual(await joiner.run([{ op: OP.offlineGet, id, now: START + 2 }, { op: OP.offlineClientCount, client: 'c' }]), [null, 0], 'forgotten with the partition');
});

test('a copy sent its partition again drops the offline sessions its primary no longer holds; its digest is then the primary\'s', async (t) => {
  const primary = actorWithEnv(t);
  const backup = actorWithEnv(t);
  await primary.run([...primary.setup, { op: OP.subscribe, expired: false, records: true }]);
  const ids = [newSessionId(12), newSessionId(12)];
  const partition = partitionOfSessionId(ids[0]!);
  await backup.run([...backup.setup, { op: OP.partitionRoles, partitions: [partition], role: 'passive' }]);
  for (const id of ids) {
    await primary.run([{ op: OP.sessionCreate, id, realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, now: START, client: { client: 'c', scope: 'openid' }, limits: null, notes: null }]);
    await primary.run([{ op: OP.offlineGrant, id, client: 'c', scope: 'openid offline_access', now: START + 1 }]);
  }
  await backup.run([{ op: OP.mutationsReplay, mutations: primary.records().map((e) => e.m) }]);
  const digests = async () => [(await primary.run([{ op: OP.partitionDigest, partitions: [partition] }]))[0], (await backup.run([{ op: OP.partitionDigest, partitions: [partition] }]))[0]] as [string[], string[]];
  const [before, copied] = await digests();
  t.deepEqual(copied, before, 'the copy agrees');

  // The second session's offline part ends on the primary, and its record never reaches the copy.
  await primary.run([{ op: OP.offlineRemove, id: ids[1]!, reason: 'logout' }]);
  const [after, stale] = await digests();
  t.notDeepEqual(stale, after, 'the copy differs');

  const [exported] = (await primary.run([{ op: OP.partitionExport, partition }])) as [PartitionExport];
  await backup.run([{ op: OP.copyRefill, partition }]);
  await backup.run(exported.chunks.map((chunk) => ({ op: OP.chunkReplay, partition, chunk })));
  t.deepEqual(await backup.run([{ op: OP.copyFilled, partition }]), [1], 'one session went: the offline one the transfer did not bring');
  const [now, refilled] = await digests();
  t.deepEqual(refilled, now, 'the copy agrees again');
  await backup.run([{ op: OP.partitionRoles, partitions: [partition], role: 'primary' }]);
  t.deepEqual(await backup.run([{ op: OP.offlineGet, id: ids[1]!, now: START + 2 }]), [null], 'promoted, it does not bring the ended session back');
  t.not(((await backup.run([{ op: OP.offlineGet, id: ids[0]!, now: START + 2 }]))[0]), null);
});

test('a plain offline refresh is a touch that says how far it moved the idle clocks; a long move is written at once, a short one coalesced', async (t) => {
  const primary = actorWithEnv(t);
  await primary.run([
    ...primary.setup,
    { op: OP.realmPut, realm: 'r', settings: realmSessionSettings({ offlineSessionIdleTimeout: 100_000 }) },
    { op: OP.subscribe, expired: false, records: true },
  ] as Command[]);
  const id = newSessionId(6);
  await primary.run([{ op: OP.sessionCreate, id, realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, now: START, client: { client: 'c', scope: 'openid' }, limits: null, notes: null }]);
  await primary.run([{ op: OP.offlineGrant, id, client: 'c', scope: 'openid offline_access', now: START + 1 }]);
  const token = { jti: 'j1', iat: START + 1, reuseId: '' };
  const refresh = { op: OP.offlineRefresh, id, realm: 'r', client: 'c', token, user: { enabled: true, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START, offlineAccess: true };
  const stored = async () => {
    // Written in a transaction started on the next setImmediate: one queued behind it commits after it.
    await new Promise((resolve) => setImmediate(resolve));
    await primary.env.root.transaction(() => {});
    return (primary.env.db<{ lastSessionRefresh: number }>(DB.offline).get(id))?.lastSessionRefresh;
  };
  const refreshAt = async (now: number) => t.true(((await primary.run([{ ...refresh, now } as Command]))[0] as { ok: boolean }).ok);
  await refreshAt(START + 2);
  t.is(await stored(), START + 2, 'the first flush of the store\'s life');
  // The shard's clock stays in the same second: only a long move is written before the interval passes.
  await refreshAt(START + 302);
  t.is(await stored(), START + 302, 'a 300 s move is written by its own turn');
  await refreshAt(START + 303);
  t.is(await stored(), START + 302, 'a 1 s move waits for the flush interval');
  const touches = primary.records().filter((e) => e.m.k === MUTATION.offlineWritten && e.m.touch);
  t.deepEqual(touches.map((e) => [e.seq, e.jump]), [[0, 1], [0, 300], [0, 1]], 'unordered (seq 0), each saying how far it moved the clocks');
});
