// F16 — every node killed at once (`kill -9`: a power cut, a crashed host
// running all of them), then restarted on its data directory.
// Pass: (a) all three restarted together: each comes back as the incarnation
// the partition table names and loads its partitions from its disk (its
// primaries and its copies), so no partition is lost
// (sessiond_partitions_lost_total stays 0) and the checker is clean: every
// login, logout and rotation acknowledged before the kill is there after it;
// requests succeed again within 20 s of the restart. (b) Only two of them
// restarted: after the restart grace the coordinator drops the third and
// promotes the copies the other two loaded, so again nothing acknowledged is
// lost; when the third comes back later its table is gone and it joins as a
// new member, dropping what its disk held (no session logged out meanwhile
// comes back).
// (c) Every node stopped gracefully, one after another (each once the others
// are whole again), then started in the order they were stopped: the first
// ones back find a table naming only the last one stopped and wait for it
// instead of dropping it, so again nothing acknowledged is lost.
// Method: 3 nodes, owners 2; the workload runs throughout (requests fail
// while every node is down); SIGKILL to all three at once; the leases lapse
// (3 s); restart. (c): SIGTERM in turn, then start in turn, a second apart.

import { RESTART_GRACE_MS } from '../../../src/cluster/cluster-member.js';
import { LEASE_TTL_S } from '../../../src/cluster/control-plane.js';
import { failureWindowMs } from '../availability.js';
import type { Cluster } from '../harness.js';
import { METRIC_PARTITIONS_LOST } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS, type ScenarioContext } from './scenario.js';

/** Down long enough for etcd to expire every lease: the restart finds no member key. */
const DOWN_MS = LEASE_TTL_S * 1000 + 1_000;
const SERVED_AGAIN_LIMIT_MS = 20_000;

async function killAll(ctx: ScenarioContext): Promise<{ cluster: Cluster; killedAt: number }> {
  const cluster = await ctx.start({ owners: 2 });
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);
  const killedAt = clock();
  await Promise.all(cluster.ids.map((id) => cluster.kill(id, 'SIGKILL')));
  await sleep(DOWN_MS);
  return { cluster, killedAt };
}

/** The restart of `id` came back as the incarnation it was (true) or as a new one (false), per its log. */
function cameBackKept(cluster: Cluster, id: string): boolean | null {
  const said = cluster.node(id).logEntries().filter((e) => (e.msg === 'joined the cluster' && typeof e.restart === 'string') || String(e.msg).startsWith('the partition table changed since this node last ran'));
  const last = said.at(-1);
  return last === undefined ? null : String(last.restart).startsWith('same incarnation');
}

async function noPartitionLost(ctx: ScenarioContext, cluster: Cluster): Promise<void> {
  const lost = await cluster.metric(METRIC_PARTITIONS_LOST);
  ctx.expect([...lost.values()].every((n) => n === 0), `no partition lost (${JSON.stringify([...lost])})`);
}

scenario('F16: every node killed at once and restarted: each loads its partitions from disk, nothing acknowledged is lost', async (ctx) => {
  const { cluster, killedAt } = await killAll(ctx);
  const restartAt = clock();
  await Promise.all(cluster.ids.map((id) => cluster.restart(id)));
  ctx.log(`all restarted and ready ${Math.round(clock() - restartAt)} ms after the restart began (${Math.round(restartAt - killedAt)} ms down)`);
  // A change in flight at the kill (never acknowledged) may be on one owner's disk only: the copy checks may refill it.
  await ctx.healSettleVerify({ copiesMayDiffer: true });
  // Read once the run is over: a log line may reach the test's pipe after the node answered ready.
  for (const id of cluster.ids) ctx.expect(cameBackKept(cluster, id) === true, `${id} came back as the incarnation the table names`);
  ctx.within('restart → last failed request', failureWindowMs(ctx.workload!.history, restartAt), SERVED_AGAIN_LIMIT_MS);
  await noPartitionLost(ctx, cluster);
});

scenario('F16b: every node killed, two restarted: the third is dropped after the restart grace and its partitions are served from the copies on disk', async (ctx) => {
  const { cluster } = await killAll(ctx);
  const [late, ...back] = [cluster.ids[2]!, cluster.ids[0]!, cluster.ids[1]!];
  ctx.workload!.route(back);
  const restartAt = clock();
  await Promise.all(back.map((id) => cluster.restart(id)));
  await sleep(RESTART_GRACE_MS + 5_000 - (clock() - restartAt));
  ctx.within('restart → last failed request (the grace, then the copies promoted)', failureWindowMs(ctx.workload!.history, restartAt + RESTART_GRACE_MS), SERVED_AGAIN_LIMIT_MS);
  await cluster.restart(late);
  await ctx.healSettleVerify({ copiesMayDiffer: true });
  for (const id of back) ctx.expect(cameBackKept(cluster, id) === true, `${id} came back as the incarnation the table names`);
  ctx.expect(cameBackKept(cluster, late) === false, `${late}, back after the table dropped it, came back as a new member`);
  await noPartitionLost(ctx, cluster);
});

scenario('F16c: every node stopped gracefully in turn, started again in the same order: the first ones back wait for the last one stopped', async (ctx) => {
  const cluster = await ctx.start({ owners: 2 });
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);
  const order = [...cluster.ids];
  for (let i = 0; i < order.length; i++) {
    const left = order.slice(i + 1);
    if (left.length > 0) workload.route(left);
    await cluster.kill(order[i]!, 'SIGTERM');
    if (left.length > 0) await ctx.converged(left);
  }
  const restartAt = clock();
  await Promise.all(order.map((id, i) => sleep(i * 1_000).then(() => cluster.restart(id))));
  ctx.log(`all started again and ready ${Math.round(clock() - restartAt)} ms after the first start`);
  await ctx.healSettleVerify();
  const last = order.at(-1)!;
  ctx.expect(cameBackKept(cluster, last) === true, `${last}, stopped last, came back as the incarnation the table names`);
  await noPartitionLost(ctx, cluster);
});
