// Goal: the replication timeout judges a backup by its progress. A backup
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
import { OutboundStream, STALL_FAIL_TIMEOUTS } from '../../src/cluster/replicator.js';
import { CLUSTER_SERVICE, SERVER_OPTIONS, type ReplicateAck, type ReplicateFrame } from '../../src/cluster/wire.js';

const TIMEOUT_MS = 400;
const unimplemented = (call: grpc.ServerDuplexStream<unknown, unknown>): void => {
  call.end();
};

/** A backup whose acknowledgements are decided by `ack` (frame number → delay in ms, or null: never). */
async function backup(ack: (frame: number) => number | null): Promise<{ address: string; close(): void }> {
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(CLUSTER_SERVICE, {
    Link: unimplemented,
    Forward: unimplemented,
    Replicate: (call: grpc.ServerDuplexStream<ReplicateFrame, ReplicateAck>) => {
      call.sendMetadata(new grpc.Metadata());
      // Acknowledged in order, each after the ones before it, like the real backup.
      let chain = Promise.resolve();
      call.on('data', (frame: ReplicateFrame) => {
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
