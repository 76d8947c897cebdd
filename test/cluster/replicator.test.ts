// Goal: shipped commands (auth codes) reach every copy holder, pending owners
// included; and the replication timeout judges a backup by its progress. A backup
// that acknowledges frame after frame, each well within the timeout, is never
// reported, even when the last frame of a long queue is acknowledged long
// after it was sent (a node applying a state transfer); one that stalls past
// the timeout is reported (accused) while its frames keep waiting, and they
// complete if it acknowledges again; one silent for several timeouts fails
// every waiting frame.
// Method: a real gRPC server on 127.0.0.1 playing the backup's Replicate
// side, acknowledging on its own schedule, and the primary's outbound stream
// over a real Peer connection.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { Peer } from '../../src/cluster/peer.js';
import { PARTITION_COUNT } from '../../src/constants.js';
import type { PartitionTable } from '../../src/cluster/partition-table.js';
import { OutboundStream, Replicator, STALL_FAIL_TIMEOUTS } from '../../src/cluster/replicator.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { CLUSTER_SERVICE, SERVER_OPTIONS, type ReplicateAck, type ReplicateFrame } from '../../src/cluster/wire.js';

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
  const peer = new Peer('b', address, 'lease-1', () => {});
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

test('an auth code put on a primary is shipped to its backups and to its pending owners, and the put waits for them', async (t) => {
  const cmds: number[] = [];
  const b = await backup(() => 0, (frame) => cmds.push(...(frame.cmds ?? []).map((c) => c.p)));
  t.teardown(() => b.close());
  const peer = new Peer('b', b.address, 'lease-b', () => {});
  t.teardown(() => peer.close());
  const replicator = new Replicator({
    self: 'a', timeoutMs: TIMEOUT_MS, touchIntervalMs: 60_000, peer: (node) => (node === 'b' ? peer : undefined),
    peerTable: () => 0, // b has not obeyed the table: its transfers wait, live frames flow
    peerProtocol: () => 2, exportPartition: () => new Promise(() => {}), onTimeout: () => {},
  });
  t.teardown(() => replicator.close());
  const owners = Array.from({ length: PARTITION_COUNT }, () => ['a']);
  const pending = Array.from({ length: PARTITION_COUNT }, (): string[] => []);
  owners[6] = ['a', 'b']; // b a backup
  pending[5] = ['b']; // b being filled (a rejoin)
  owners[7] = ['b', 'a']; // a only a backup: it ships nothing
  const table: PartitionTable = { version: 1, viewRevision: 1, members: ['a', 'b'], incarnations: { a: 'lease-a', b: 'lease-b' }, owners, pending };
  replicator.setTable(table);
  const code = (p: number) => ({ op: OP.codePut, id: `session-${p}`, code: `code-${p}`, data: { exp: 0 } }) as never;
  for (const p of [5, 6, 7]) replicator.shipCommand(p, code(p));
  await Promise.all([5, 6, 7].map((p) => replicator.whenReplicated(p)));
  t.deepEqual(cmds.sort(), [5, 6]);
});
