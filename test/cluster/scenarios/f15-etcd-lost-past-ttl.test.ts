// F15 — every node cut from etcd for 6 s, three times the lease TTL, while
// etcd keeps running: etcd expires every member's lease and deletes every
// member key (a network cut between the nodes and etcd, or an etcd whose VM
// froze, looks the same to the nodes).
// Pass: sessions keep working during the cut (every member confirms the
// frozen view, as in F14); after the heal every node joins again as the
// incarnation the partition table names, so no partition is lost
// (sessiond_partitions_lost_total stays 0 on every node) and no node
// restarts; requests fail only within 3 s of the heal (the lapsed leases are
// found and replaced), the cluster is whole again within 10 s, and the checker
// is clean: no acknowledged login, logout or rotation was lost.
// Method: 3 nodes; the proxy in front of etcd of each node blackholes it.

import { failureWindowMs, failedRequests } from '../availability.js';
import { METRIC_PARTITIONS_LOST } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const CUT_MS = 6_000;
/** The frozen view holds once every member reported losing etcd: its renewals time out after 1 s. */
const FROZEN_AFTER_MS = 2_000;
const HEAL_FAILURES_LIMIT_MS = 3_000;

scenario('F15: every node cut from etcd past the lease TTL: the table keeps its members, no partition is lost', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);
  const pids = cluster.nodes.map((n) => n.pid);

  const cutAt = clock();
  for (const id of cluster.ids) await cluster.cutFromEtcd(id);
  await sleep(CUT_MS - (clock() - cutAt));
  const healedAt = clock();
  await cluster.healNetwork();

  const frozen = failedRequests(workload.history, { from: cutAt + FROZEN_AFTER_MS, to: healedAt });
  ctx.expectNone(frozen, `requests failed on the frozen view (later than ${FROZEN_AFTER_MS} ms after the cut, before the heal)`);
  ctx.within('cut → last failed request before the frozen view held', failureWindowMs(workload.history, cutAt, { to: cutAt + FROZEN_AFTER_MS }), FROZEN_AFTER_MS);
  await ctx.healSettleVerify();
  ctx.within('heal → last failed request', failureWindowMs(workload.history, healedAt), HEAL_FAILURES_LIMIT_MS);

  const lost = await cluster.metric(METRIC_PARTITIONS_LOST);
  ctx.expect([...lost.values()].every((n) => n === 0), `no partition lost (${JSON.stringify([...lost])})`);
  ctx.expect(cluster.nodes.every((n, i) => n.pid === pids[i]), 'no node restarted');
  for (const node of cluster.nodes) {
    const rejoins = node.logEntries().filter((e) => typeof e.msg === 'string' && e.msg.startsWith('joined again'));
    ctx.expect(rejoins.length > 0 && rejoins.every((e) => e.kept === true), `${node.id} joined again as the same incarnation (${JSON.stringify(rejoins.map((e) => e.msg))})`);
  }
});
