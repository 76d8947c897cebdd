// Goal: a touch that moved an idle clock by more than the touch interval is
// shipped at once, a shorter one with the interval's flush. Shipped commands
// (auth codes, login failures) reach every copy holder, and a node being
// filled through its transfer behind the codes and login-failure records the
// export carries: a take must never overtake the export that still holds its
// code, and a failure travels as the record it left, so replaying it over the
// export cannot count it twice (a version 2 peer still gets the failure to
// record). The replication timeout judges a backup by its progress: a backup
// that acknowledges frame after frame, each well within the timeout, is never
// reported, even when the last frame of a long queue is acknowledged long
// after it was sent (a node applying a state transfer); one that stalls past
// the timeout is reported (accused) while its frames keep waiting, and they
// complete if it acknowledges again; one silent for several timeouts fails
// every waiting frame. A backup back after replies were released without it
// is sent its partitions again, and they count as unsent (what the
// heartbeats report, and its readiness waits for) until it applied them.
// Method: a real gRPC server on 127.0.0.1 playing the backup's Replicate
// side, acknowledging on its own schedule, and the primary's outbound stream
// over a real Peer connection.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { ShardActor } from '../../src/actor/shard-actor.js';
import { ClusterRouter, type ClusterRouting } from '../../src/cluster/cluster-router.js';
import { Peer } from '../../src/cluster/peer.js';
import { channelCredentials } from '../../src/cluster/cluster-certificates.js';
import { PARTITION_COUNT } from '../../src/constants.js';
import type { PartitionTable } from '../../src/cluster/partition-table.js';
import { OutboundStream, Replicator, STALL_FAIL_TIMEOUTS } from '../../src/cluster/replicator.js';
import type { ActorPool } from '../../src/host/actor-pool.js';
import type { CodePutCommand, CodeTakeCommand, Command, LoginFailurePutCommand, LoginFailureRecordCommand, PartitionExport } from '../../src/protocol/actor-messages.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { bruteForceSettings } from '../../src/session/brute-force.js';
import { ManualClock } from '../../src/time/clock.js';
import { manualBoot } from '../helpers/boot.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { MUTATION, type RecordEnvelope } from '../../src/protocol/mutations.js';
import { CLUSTER_SERVICE, SERVER_OPTIONS, type ReplicateAck, type ReplicateFrame } from '../../src/cluster/wire.js';

const PLAINTEXT = channelCredentials(null);

const TIMEOUT_MS = 400;
const unimplemented = (call: grpc.ServerDuplexStream<unknown, unknown>): void => {
  call.end();
};

/** A backup whose acknowledgements are decided by `ack` (frame number → delay in ms, or null: never); `seen` gets every frame. */
async function backup(ack: (frame: number) => number | null, seen: (frame: ReplicateFrame) => void = () => {}): Promise<{ address: string; close(): void }> {
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(CLUSTER_SERVICE, {
    Link: unimplemented,
    Forward: unimplemented,
    Replicate: (call: grpc.ServerDuplexStream<ReplicateFrame, ReplicateAck>) => {
      call.sendMetadata(new grpc.Metadata());
      // Acknowledged in order, each after the ones before it, like the real backup.
      let chain = Promise.resolve();
      call.on('data', (frame: ReplicateFrame) => {
        seen(frame);
        chain = chain.then(async () => {
          const delay = ack(frame.f);
          if (delay === null) return new Promise<void>(() => {});
          await new Promise((resolve) => setTimeout(resolve, delay));
          call.write({ ack: frame.f });
        });
      });
      call.on('error', () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err))),
  );
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

function outbound(address: string) {
  const peer = new Peer('b', address, 'lease-1', PLAINTEXT, () => {});
  const said: string[] = [];
  const stream = new OutboundStream(peer, 'a', TIMEOUT_MS, {
    onTimeout: () => said.push('timeout'),
    onRecovered: () => said.push('recovered'),
    onAck: () => {},
    onBroken: () => said.push('broken'),
  });
  return { peer, stream, said };
}

test('a backup acknowledging steadily is waited for, however long its queue', async (t) => {
  // Each frame takes a third of the timeout to apply: the tenth is acknowledged ~3 timeouts after it was sent.
  const server = await backup(() => TIMEOUT_MS / 3);
  const { peer, stream, said } = outbound(server.address);
  const frames = Array.from({ length: 10 }, () => stream.send({ table: 1, recs: [] }));
  await t.notThrowsAsync(Promise.all(frames));
  t.deepEqual(said, []);
  stream.close();
  peer.close();
  server.close();
});

test('a backup that stalls past the timeout is reported, and its frames still complete when it acknowledges again', async (t) => {
  const server = await backup((f) => (f === 2 ? TIMEOUT_MS * 1.5 : 0));
  const { peer, stream, said } = outbound(server.address);
  const frames = Array.from({ length: 3 }, () => stream.send({ table: 1, recs: [] }));
  await t.notThrowsAsync(Promise.all(frames));
  t.deepEqual(said, ['timeout', 'recovered']);
  stream.close();
  peer.close();
  server.close();
});

test(`a backup silent for ${STALL_FAIL_TIMEOUTS} timeouts fails every waiting frame`, async (t) => {
  const server = await backup((f) => (f <= 2 ? 0 : null));
  const { peer, stream, said } = outbound(server.address);
  const frames = Array.from({ length: 5 }, () => stream.send({ table: 1, recs: [] }));
  const outcomes = await Promise.allSettled(frames);
  t.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
  const failure = (outcomes[2] as PromiseRejectedResult).reason as Error & { code?: string };
  t.is(failure.code, 'ERR_REPLICATION_FAILED');
  t.regex(failure.message, new RegExp(`acknowledged nothing for ${STALL_FAIL_TIMEOUTS * TIMEOUT_MS} ms`));
  t.deepEqual(said, ['timeout', 'broken'], 'reported (accused) first, failed later');
  stream.close();
  peer.close();
  server.close();
});

for (const version of [3, 2]) {
test(`auth codes and login failures reach backups at once and a node being filled with its transfer: the export's, then those asked since, in order (a version ${version} peer)`, async (t) => {
  const frames: ReplicateFrame[] = [];
  const b = await backup(() => 0, (frame) => frames.push(frame));
  t.teardown(() => b.close());
  const peer = new Peer('b', b.address, 'lease-b', PLAINTEXT, () => {});
  t.teardown(() => peer.close());
  let finishExport!: (exported: PartitionExport) => void;
  let exportStarted!: () => void;
  const exporting = new Promise<void>((resolve) => (exportStarted = resolve));
  const replicator = new Replicator({
    self: 'a', timeoutMs: TIMEOUT_MS, touchIntervalMs: 60_000, peer: (node) => (node === 'b' ? peer : undefined),
    peerTable: () => 1, peerProtocol: () => version, onTimeout: () => {},
    exportPartition: () => new Promise((resolve) => {
      finishExport = resolve;
      exportStarted();
    }),
  });
  t.teardown(() => replicator.close());
  const owners = Array.from({ length: PARTITION_COUNT }, () => ['a']);
  const pending = Array.from({ length: PARTITION_COUNT }, (): string[] => []);
  owners[6] = ['a', 'b']; // b a backup
  pending[5] = ['b']; // b being filled (a rejoin)
  owners[7] = ['b', 'a']; // a only a backup: it ships nothing
  const table: PartitionTable = { version: 1, viewRevision: 1, members: ['a', 'b'], incarnations: { a: 'lease-a', b: 'lease-b' }, owners, pending };
  replicator.shipCommand(5, put(5, 'before')); // b holds nothing of partition 5 yet: the export will carry it
  replicator.setTable(table);
  await exporting;
  // While partition 5 is exported: c2 put, c1 taken (the export captured c1 before the take), u's second failure.
  replicator.shipCommand(5, put(5, 'c2'));
  replicator.shipCommand(5, take(5, 'c1'));
  replicator.shipCommand(5, failures(5, 2), recordFailure(5));
  for (const p of [6, 7]) replicator.shipCommand(p, put(p, `c${p}`));
  await Promise.all([5, 6, 7].map((p) => replicator.whenReplicated(p)));
  t.deepEqual(shipped(frames), ['6 put c6'], 'the backup has its code, and the put waited for it; the node being filled has nothing yet, and was not waited for');

  finishExport({ chunks: [], records: 0, sessions: 0, seq: 0, codes: [put(5, 'before'), put(5, 'c1')], loginFailures: [failures(5, 1)] });
  const started = performance.now();
  while (!frames.some((f) => f.done === 5) && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
  const want = version >= 3
    ? ['6 put c6', '5 put before', '5 put c1', '5 failures u 1', '5 put c2', '5 take c1', '5 failures u 2']
    : ['6 put c6', '5 put before', '5 put c1', '5 put c2', '5 take c1', '5 record u'];
  t.deepEqual(shipped(frames), want, version >= 3 ? 'replayed over the export, c1 stays taken and u has 2 failures' : 'a version 2 peer gets no login-failure records, and counts the failure');
  t.is(frames.at(-1)!.done, 5, 'the transfer completes with them');
});
}

const put = (p: number, code: string) => ({ op: OP.codePut, id: `session-${p}`, code, data: { exp: 0 } }) as CodePutCommand;
const take = (p: number, code: string) => ({ op: OP.codeTake, id: `session-${p}`, code, now: 0 }) as CodeTakeCommand;
const failures = (p: number, n: number): LoginFailurePutCommand => ({
  op: OP.loginFailurePut, realm: `r${p}`, userId: 'u', record: { numFailures: n, numTemporaryLockouts: 0, lastFailure: n, lastIPFailure: null, failedLoginNotBefore: 0 }, expiresAtMs: null,
});
const recordFailure = (p: number) => ({ op: OP.loginFailureRecord, realm: `r${p}`, userId: 'u', nowMs: 0, ip: '', settings: {} }) as unknown as LoginFailureRecordCommand;

/** The shipped commands of `frames`, in order, as `partition what`. */
function shipped(frames: readonly ReplicateFrame[]): string[] {
  return frames.flatMap((f) => (f.cmds ?? []).map(({ p, command: c }) => {
    if (c.op === OP.codePut || c.op === OP.codeTake) return `${p} ${c.op === OP.codePut ? 'put' : 'take'} ${c.code}`;
    if (c.op === OP.loginFailurePut) return `${p} failures ${c.userId} ${c.record.numFailures}`;
    return `${p} ${c.op === OP.loginFailureRecord ? 'record' : 'remove'} ${c.userId}`;
  }));
}

test('a touch that moved an idle clock by more than the touch interval reaches the backups at once; a shorter one waits for the interval', async (t) => {
  const frames: ReplicateFrame[] = [];
  const b = await backup(() => 0, (frame) => frames.push(frame));
  t.teardown(() => b.close());
  const peer = new Peer('b', b.address, 'lease-b', PLAINTEXT, () => {});
  t.teardown(() => peer.close());
  const replicator = new Replicator({
    self: 'a', timeoutMs: TIMEOUT_MS, touchIntervalMs: 60_000, peer: (node) => (node === 'b' ? peer : undefined),
    peerTable: () => 1, peerProtocol: () => 2, onTimeout: () => {}, exportPartition: () => new Promise(() => {}),
  });
  t.teardown(() => replicator.close());
  const owners = Array.from({ length: PARTITION_COUNT }, () => ['a']);
  owners[6] = ['a', 'b'];
  replicator.setTable({ version: 1, viewRevision: 1, members: ['a', 'b'], incarnations: { a: 'lease-a', b: 'lease-b' }, owners, pending: owners.map(() => []) });
  const touch = (id: string, jump: number): RecordEnvelope => ({ partition: 6, seq: 0, viewRevision: 1, m: { k: MUTATION.sessionTouched, id, lastSessionRefresh: 1_000 + jump }, jump });
  // Idle for 61 s, then used: shipped with the turn's frame. Used again 60 s after its last use: coalesced.
  replicator.onRecords([touch('quiet', 61), touch('busy', 60)]);
  const shipped = () => frames.flatMap((f) => (f.recs ?? []).map((e) => (e.m as { id: string }).id));
  const started = performance.now();
  while (frames.length === 0 && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(shipped(), ['quiet'], 'the long jump left at once, alone');
  replicator.flushTouches();
  while (frames.length < 2 && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(shipped(), ['quiet', 'busy'], 'the short one with the interval\'s flush');
});

test('a login failure recorded on the primary reaches its backup as the record it left; a version 2 backup gets the failure to record', async (t) => {
  for (const version of [3, 2]) {
    const frames: ReplicateFrame[] = [];
    const b = await backup(() => 0, (frame) => frames.push(frame));
    const peer = new Peer('b', b.address, 'lease-b', PLAINTEXT, () => {});
    const replicator = new Replicator({
      self: 'a', timeoutMs: TIMEOUT_MS, touchIntervalMs: 60_000, peer: (node) => (node === 'b' ? peer : undefined),
      peerTable: () => 1, peerProtocol: () => version, onTimeout: () => {}, exportPartition: () => new Promise(() => {}),
    });
    const table: PartitionTable = {
      version: 1, viewRevision: 1, members: ['a', 'b'], incarnations: { a: 'lease-a', b: 'lease-b' },
      owners: Array.from({ length: PARTITION_COUNT }, () => ['a', 'b']), pending: Array.from({ length: PARTITION_COUNT }, () => []),
    };
    replicator.setTable(table);
    // The primary's shard, in process: the router runs the command on it, then ships the change.
    const shard = new ShardActor(manualBoot(1_800_000_000), new ManualClock(1_800_000_000), () => {});
    const pool = { size: 1, ask: (_shard: number, command: Command) => Promise.resolve(shard.execute(command)) } as unknown as ActorPool;
    const routing: ClusterRouting = {
      self: 'a', table: () => table, serving: () => true, peer: () => undefined, tableChange: () => Promise.resolve(),
      nowSeconds: () => 1_800_000_000, forwarded: () => {}, wrongOwner: () => {},
    };
    const router = new ClusterRouter(pool, routing, replicator);
    const fail = { op: OP.loginFailureRecord, realm: 'r', userId: 'u', nowMs: 1_800_000_000_000, ip: '10.0.0.9', settings: bruteForceSettings() } as LoginFailureRecordCommand;
    await router.askLocal(partitionOf('r', 'u'), fail);
    await router.askLocal(partitionOf('r', 'u'), fail);
    t.deepEqual(shipped(frames), version >= 3 ? [`${partitionOf('r', 'u')} failures u 1`, `${partitionOf('r', 'u')} failures u 2`] : [`${partitionOf('r', 'u')} record u`, `${partitionOf('r', 'u')} record u`]);
    replicator.close();
    shard.close();
    peer.close();
    b.close();
  }
});

// Goal: after every node restarted, a primary back before one of its
// backups serves on without it (replies are released with the copies that
// remain); that backup comes back as the incarnation the table names, but
// its copy lacks what was changed meanwhile, and this process never knew it
// before: it is sent its partitions again when it is back, as a backup whose
// stream failed is. A peer that missed nothing is not.
test('a backup that was out of the view while replies were released without it is sent its partitions again when it is back', async (t) => {
  const frames: ReplicateFrame[] = [];
  const b = await backup(() => 0, (frame) => frames.push(frame));
  t.teardown(() => b.close());
  const peer = new Peer('b', b.address, 'lease-b', PLAINTEXT, () => {});
  t.teardown(() => peer.close());
  let inView = false;
  const exported: number[] = [];
  let degraded = 0;
  const replicator = new Replicator({
    self: 'a', timeoutMs: TIMEOUT_MS, touchIntervalMs: 60_000, peer: (node) => (node === 'b' && inView ? peer : undefined),
    peerTable: () => 1, peerProtocol: () => 3, onTimeout: () => {}, onDegraded: () => degraded++,
    exportPartition: async (p) => {
      exported.push(p);
      return { chunks: [], records: 0, sessions: 0, seq: 1, codes: [], loginFailures: [] };
    },
  });
  t.teardown(() => replicator.close());
  const owners = Array.from({ length: PARTITION_COUNT }, () => ['a']);
  owners[6] = ['a', 'b'];
  owners[8] = ['a', 'b'];
  owners[9] = ['b', 'a']; // b's own primary: not this node's to send
  replicator.setTable({ version: 1, viewRevision: 1, members: ['a', 'b'], incarnations: { a: 'lease-a', b: 'lease-b' }, owners, pending: owners.map(() => []) });

  replicator.peerBack('c', false); // a peer that missed nothing: nothing to do
  const id = newSessionId(6);
  replicator.onRecords([{ partition: 6, seq: 1, viewRevision: 1, m: { k: MUTATION.sessionRemoved, id, reason: 'logout' } }]);
  await replicator.whenReplicated(6);
  t.is(degraded, 1, 'the reply went without b');
  t.deepEqual(exported, [], 'nothing is sent while b is away');

  inView = true;
  t.deepEqual([...replicator.unsent], [], 'nothing is on its way to b yet');
  replicator.peerBack('b', false);
  t.deepEqual([...replicator.unsent], [['b', 2]], 'its heartbeats now say partitions are on their way to b (b is not ready before they are there)');
  const started = performance.now();
  while (replicator.unsent.size > 0 && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(exported.sort((x, y) => x - y), [6, 8], 'b is sent every partition it holds a copy of from this node, once');
  t.true(frames.some((f) => f.fresh === 6) && frames.some((f) => f.done === 6) && frames.some((f) => f.done === 8), 'as a transfer: the copy drops what the export does not bring');
  t.deepEqual([...replicator.unsent], [], 'once b applied them, nothing is on its way to it');

  exported.length = 0;
  replicator.peerBack('b', false);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.deepEqual(exported, [], 'back again without having missed anything: nothing is sent');
});
