// Goal: a node that is briefly not serving (a lease renewal in flight when
// etcd comes back after an outage) holds a request until it serves again,
// instead of refusing it at once; a node that stays unable to serve refuses
// with ERR_NOT_SERVING once the wait is over.
// Method: a ClusterRouter whose routing says it serves or not, forwarding to
// a real gRPC server on 127.0.0.1 that plays the partition's primary
// (forwarding-primary.ts).

import test, { type ExecutionContext } from 'ava';
import { ClusterRouter } from '../../src/cluster/cluster-router.js';
import type { ClusterRouting } from '../../src/cluster/cluster-router.js';
import { Peer } from '../../src/cluster/peer.js';
import { channelCredentials } from '../../src/cluster/cluster-certificates.js';
import type { Replicator } from '../../src/cluster/replicator.js';
import type { ActorPool } from '../../src/host/actor-pool.js';
import { PARTITION_COUNT } from '../../src/constants.js';
import type { PartitionTable } from '../../src/cluster/partition-table.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { forwardingPrimary } from './forwarding-primary.js';

const PLAINTEXT = channelCredentials(null);

const TABLE: PartitionTable = {
  version: 1, viewRevision: 1, members: ['a', 'b'], incarnations: {},
  owners: Array.from({ length: PARTITION_COUNT }, () => ['b', 'a']), pending: Array.from({ length: PARTITION_COUNT }, () => []),
};

/** A Peer connected to a fresh primary, both closed when the test ends. */
async function primaryPeer(t: ExecutionContext): Promise<Peer> {
  const b = await forwardingPrimary('answered by b');
  const peer = new Peer('b', b.address, 'lease-1', PLAINTEXT, () => {});
  t.teardown(() => {
    peer.close();
    b.close();
  });
  return peer;
}

function router(peer: Peer, serving: () => boolean): ClusterRouter {
  const routing: ClusterRouting = {
    self: 'a',
    table: () => TABLE,
    serving,
    peer: (node) => (node === 'b' ? peer : undefined),
    tableChange: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    nowSeconds: () => Math.floor(Date.now() / 1000),
    forwarded: () => {},
    wrongOwner: () => {},
  };
  // This node owns no partition: the pool and the replicator are never reached.
  return new ClusterRouter({} as ActorPool, routing, {} as Replicator);
}

const GET = { op: OP.sessionGet, id: 'x', now: 0 } as const;

test('a request that arrives while the node is briefly not serving is answered once it serves again', async (t) => {
  const peer = await primaryPeer(t);
  let serving = false;
  const answer = router(peer, () => serving).ask(7, GET);
  setTimeout(() => (serving = true), 100); // the renewal lands
  t.is((await answer) as unknown, 'answered by b');
});

test('a node that does not serve again refuses the request with ERR_NOT_SERVING', async (t) => {
  const peer = await primaryPeer(t);
  const refused = await t.throwsAsync(router(peer, () => false).ask(7, GET));
  t.is((refused as Error & { code?: string }).code, 'ERR_NOT_SERVING');
});
