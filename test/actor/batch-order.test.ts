// Goal: a shard runs request-path batches (what a token request waits for)
// and a backup's records ahead of the state-transfer chunks queued before
// them, keeps each partition's records behind its chunks, and keeps arrival
// order for everything else: role changes, realm commands, records that would
// change a partition it serves, anything malformed.
// Method: batchOrder on hand-made batches against a roles function; then a
// ShardActor in process, fed frames the way its worker port feeds it, with a
// rebalance's worth of chunks queued ahead of one request.

import test from 'ava';
import { batchOrder } from '../../src/actor/batch-order.js';
import { ShardActor } from '../../src/actor/shard-actor.js';
import type { BatchMessage, BootMessage, Command, ReplyMessage, ShardMessage } from '../../src/protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import { MUTATION, type Mutation } from '../../src/protocol/mutations.js';
import { newSessionId } from '../../src/protocol/partition.js';
import { packChunks } from '../../src/protocol/transfer-chunks.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { ManualClock } from '../../src/time/clock.js';
import { unbundled } from '../helpers/engine-harness.js';

const START = 1_800_000_000;
const SERVED = new Set([0, 2]);
const serves = (p: number): boolean => SERVED.has(p);
const batch = (...commands: unknown[]): BatchMessage => ({ kind: 'batch', id: 1, commands: commands as Command[] });

function created(partition: number, i = 0): Mutation {
  return {
    k: MUTATION.sessionCreated, id: newSessionId(partition), partition, realm: 'r', userId: `u${partition}-${i}`, username: `u${i}`, ip: '10.0.0.1',
    authMethod: 'openid-connect', rememberMe: false, started: START, lastSessionRefresh: START, authTime: START, notes: null,
  };
}
const get = { op: OP.sessionGet, id: newSessionId(0), now: START };

test('requests and records are light, chunks and exports heavy, records and digests of passive copies by partition; the rest are barriers', (t) => {
  t.deepEqual(batchOrder(batch(get, { op: OP.codeTake, realm: 'r', code: 'x' }), serves), { heavy: false, requests: true, partitions: [] });
  t.deepEqual(batchOrder(batch({ op: OP.chunkReplay, partition: 4, chunk: new Uint8Array() }), serves), { heavy: true, requests: false, partitions: [4] });
  t.deepEqual(batchOrder(batch({ op: OP.mutationsReplay, mutations: [created(4), created(6), created(4, 1)] }), serves), { heavy: false, requests: false, partitions: [4, 6] });
  t.deepEqual(batchOrder(batch({ op: OP.partitionExport, partition: 0 }), serves), { heavy: true, requests: false, partitions: [] }, 'an export only reads');
  t.deepEqual(batchOrder(batch(get, { op: OP.mutationsReplay, mutations: [created(5)] }), serves), { heavy: false, requests: true, partitions: [5] }, 'requests with records of a passive copy');
  t.deepEqual(batchOrder(batch(), serves), { heavy: false, requests: false, partitions: [] });
  t.deepEqual(batchOrder(batch({ op: OP.partitionDigest, partitions: [4, 6] }), serves), { heavy: false, requests: false, partitions: [4, 6] }, 'digests of copies: behind their records and chunks');

  t.is(batchOrder(batch({ op: OP.chunkReplay, partition: 2, chunk: new Uint8Array() }), serves), null, 'a chunk of a served partition');
  t.is(batchOrder(batch({ op: OP.mutationsReplay, mutations: [created(4), created(0)] }), serves), null, 'records changing a served partition');
  t.is(batchOrder(batch({ op: OP.mutationsReplay, mutations: [{ k: MUTATION.realmCleared, realm: 'r', partition: 4, generation: 1 }] }), serves), null, 'realm-wide');
  t.is(batchOrder(batch(get, { op: OP.partitionRoles, partitions: [4], role: 'primary' }), serves), null, 'a role change');
  t.is(batchOrder(batch({ op: OP.realmPut, realm: 'r', settings: {} }), serves), null, 'realm configuration');
  t.is(batchOrder(batch({ op: OP.realmList, realm: 'r' }), serves), null, 'an admin listing');
  t.is(batchOrder(batch(null), serves), null, 'malformed');
  t.is(batchOrder(batch({ op: OP.mutationsReplay, mutations: 'x' }), serves), null, 'malformed records');
  t.is(batchOrder(batch({ op: OP.mutationsReplay, mutations: [{ k: MUTATION.clientAttached, id: 7 }] }), serves), null, 'a record without a session id');
  t.is(batchOrder(batch({ op: OP.chunkReplay, partition: -1, chunk: new Uint8Array() }), serves), null, 'a chunk of no partition');
  t.is(batchOrder(batch({ op: OP.partitionDigest, partitions: [4, 0] }), serves), null, 'a digest of a served partition');
  t.is(batchOrder(batch({ op: OP.partitionDigest, partitions: 'x' }), serves), null, 'malformed digest partitions');
});

test('a shard answers a request queued behind a rebalance\'s chunks before it applies them, and applies them all', async (t) => {
  const boot: BootMessage = {
    protocolVersion: PROTOCOL_VERSION, shard: 0, shardCount: 1, idleGraceSeconds: 0, clockMode: 'manual', startSecond: START,
    mailboxCommandsMax: 100_000, dataDir: null, offlineCacheEntries: 10, durability: 'snapshot',
  };
  const replies: ReplyMessage[] = [];
  const actor = new ShardActor(boot, new ManualClock(START), (frame) => {
    for (const m of unbundled(decodeFrame<ShardMessage>(frame))) if (m.kind === 'reply') replies.push(m);
  });
  t.teardown(() => actor.close());
  actor.execute({ op: OP.realmPut, realm: 'r', settings: realmSessionSettings({}) });
  actor.execute({ op: OP.partitionRoles, partitions: [4, 6], role: 'passive' });
  const id = newSessionId(0);
  actor.execute({
    op: OP.sessionCreate, id, realm: 'r', userId: 'alice', username: 'alice', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false,
    now: START, client: null, limits: null, notes: null,
  });

  const frame = (n: number, commands: Command[]): Uint8Array => encodeFrame({ kind: 'batch', id: n, commands } satisfies BatchMessage);
  const sendChunks = (from: number, count: number): void => {
    for (let n = from; n < from + count; n++) {
      const records = Array.from({ length: 300 }, (_, i) => created(4, n * 1000 + i));
      actor.receive(frame(n, [{ op: OP.chunkReplay, partition: 4, chunk: packChunks(records)[0]! }]));
    }
  };
  const settled = async (count: number): Promise<number[]> => {
    while (replies.length < count) await new Promise((resolve) => setImmediate(resolve));
    return replies.map((r) => r.id);
  };

  // Forty chunks of partition 4 (a few ms of work each), then a token request and a backup's
  // records for partition 6: they go first. Records for partition 4 stay behind its chunks.
  sendChunks(1, 40);
  actor.receive(frame(101, [{ op: OP.sessionGet, id, now: START }]));
  actor.receive(frame(102, [{ op: OP.mutationsReplay, mutations: [created(6)] }]));
  actor.receive(frame(103, [{ op: OP.mutationsReplay, mutations: [created(4, 99)] }]));
  const first = await settled(43);
  t.deepEqual(first.slice(0, 2), [101, 102], `the request and the other partition's records went first (order ${first.join(' ')})`);
  t.deepEqual(first.slice(2), [...Array.from({ length: 40 }, (_, i) => i + 1), 103], "chunks in arrival order, their partition's records behind them");

  // Behind a role change, a request waits: the change may move the partitions it reads.
  sendChunks(41, 10);
  actor.receive(frame(100, [{ op: OP.partitionRoles, partitions: [8], role: 'passive' }]));
  actor.receive(frame(104, [{ op: OP.sessionGet, id, now: START }]));
  const second = (await settled(55)).slice(43);
  t.deepEqual(second, [...Array.from({ length: 10 }, (_, i) => i + 41), 100, 104], 'arrival order around a barrier');
  t.is(actor.table.partitionSize(4), 50 * 300 + 1, 'every chunk and record applied');
  t.like((replies.find((r) => r.id === 101)!.results[0] as { session: { id: string } }).session, { id });
});
