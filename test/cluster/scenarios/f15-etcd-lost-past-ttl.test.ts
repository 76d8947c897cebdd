// F15 — etcd out of every node's reach for 6 s, three times the lease TTL,
// and expiring every member's lease meanwhile: (a) every node cut from etcd
// while etcd keeps running (it expires the leases as their TTL passes);
// (b) etcd paused with SIGSTOP, a frozen VM (it finds them expired when it
// runs again). Either way every member key is deleted.
// Pass: sessions keep working during the cut (every member confirms the
// frozen view, as in F14); after the heal every node joins again as the
// incarnation the partition table names, so no partition is lost
// (sessiond_partitions_lost_total stays 0 on every node) and no node
// restarts; requests fail only within 3 s of the heal (the lapsed leases are
// found and replaced), the cluster is whole again within 10 s, and the checker
// is clean: no acknowledged login, logout or rotation was lost.
// Method: 3 nodes; (a) the proxy in front of etcd of each node blackholes
// it, then heals; (b) SIGSTOP to etcd, then SIGCONT.

import { failureWindowMs, failedRequests } from '../availability.js';
import { METRIC_PARTITIONS_LOST } from '../topology.js';
import type { Cluster } from '../harness.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS, type ScenarioContext } from './scenario.js';

const OUTAGE_MS = 6_000;
/** The frozen view holds once every member reported losing etcd: its renewals time out after 1 s. */
const FROZEN_AFTER_MS = 2_000;
const BACK_FAILURES_LIMIT_MS = 3_000;

/** Takes etcd out of every node's reach and brings it back. */
interface Outage {
  begin(cluster: Cluster): Promise<void>;
  end(cluster: Cluster): Promise<void>;
}

async function outlivedLeases(ctx: ScenarioContext, outage: Outage): Promise<void> {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);
  const pids = cluster.nodes.map((n) => n.pid);

  const lostAt = clock();
  await outage.begin(cluster);
  await sleep(OUTAGE_MS - (clock() - lostAt));
  const backAt = clock();
  await outage.end(cluster);

  const frozen = failedRequests(workload.history, { from: lostAt + FROZEN_AFTER_MS, to: backAt });
  ctx.expectNone(frozen, `requests failed on the frozen view (later than ${FROZEN_AFTER_MS} ms after etcd was lost, before it was back)`);
  ctx.within('etcd lost → last failed request before the frozen view held', failureWindowMs(workload.history, lostAt, { to: lostAt + FROZEN_AFTER_MS }), FROZEN_AFTER_MS);
  await ctx.healSettleVerify();
  ctx.within('etcd back → last failed request', failureWindowMs(workload.history, backAt), BACK_FAILURES_LIMIT_MS);

  const lost = await cluster.metric(METRIC_PARTITIONS_LOST);
  ctx.expect([...lost.values()].every((n) => n === 0), `no partition lost (${JSON.stringify([...lost])})`);
  ctx.expect(cluster.nodes.every((n, i) => n.pid === pids[i]), 'no node restarted');
  for (const node of cluster.nodes) {
    const rejoins = node.logEntries().filter((e) => typeof e.msg === 'string' && e.msg.startsWith('joined again'));
    ctx.expect(rejoins.length > 0 && rejoins.every((e) => e.kept === true), `${node.id} joined again as the same incarnation (${JSON.stringify(rejoins.map((e) => e.msg))})`);
  }
}

scenario('F15: every node cut from etcd past the lease TTL: the table keeps its members, no partition is lost', (ctx) =>
  outlivedLeases(ctx, {
    begin: async (cluster) => {
      for (const id of cluster.ids) await cluster.cutFromEtcd(id);
    },
    end: (cluster) => cluster.healNetwork(),
  }),
);

scenario('F15b: etcd paused (SIGSTOP) past the lease TTL: the table keeps its members, no partition is lost', (ctx) =>
  outlivedLeases(ctx, {
    begin: async (cluster) => cluster.etcd.signal('SIGSTOP'),
    end: async (cluster) => cluster.etcd.signal('SIGCONT'),
  }),
);
