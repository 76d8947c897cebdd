// F1 — `kill -9` one node under load.
// Pass: the checker is clean (no acknowledged login, logout or rotation
// lost); the survivors commit a new view within 1 s of the kill; requests
// fail only inside the failover window, which ends within 3 s (target 1.5 s)
// of the kill; the survivors report ready throughout, from the kill until
// the killed node is back (a load balancer keeps them while the failover and
// the new copies run); the killed node restarts on its data directory and the
// cluster is whole again within 10 s.
// Method: 3 nodes, owners 2, the mixed workload through random nodes; the
// victim is the coordinator (the worst node to lose: the survivors must take
// the role over before anyone evicts it, not wait for its lease to lapse);
// the load balancer drops the victim at the kill (requests to a dead node are
// not the cluster's failures); availability measured on the survivors.

import { failedRequests, failureWindowMs } from '../availability.js';
import { METRIC_IS_COORDINATOR, watchReadiness } from '../topology.js';
import { clock, REQUEST_DEADLINE_MS } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

/** Load kept up after the kill, so the failover window is measured under load. */
const AFTER_KILL_MS = 6_000;

scenario('F1: kill -9 one node under load: nothing acknowledged is lost, failover within 3 s', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const roles = await cluster.metric(METRIC_IS_COORDINATOR);
  const victim = cluster.ids.find((id) => roles.get(id) === 1);
  if (victim === undefined) throw new Error(`no node reports itself coordinator: ${JSON.stringify([...roles])}`);
  const survivors = cluster.ids.filter((id) => id !== victim);
  ctx.log(`victim: ${victim}, the coordinator`);
  const before = await ctx.viewRevisions(survivors);
  workload.route(survivors);
  const killedAt = clock();
  await cluster.kill(victim, 'SIGKILL');
  const readiness = watchReadiness(cluster, survivors, killedAt);
  ctx.within('kill → new view committed on the survivors', await ctx.viewCommitted(survivors, before, killedAt, 2), 1_000);
  await sleep(AFTER_KILL_MS - (clock() - killedAt));

  ctx.within('kill → last failed request on the survivors (every partition served again)', failureWindowMs(workload.history, killedAt, { nodes: survivors }), 3_000, 1_500);
  ctx.expectNone(failedRequests(workload.history, { to: killedAt - REQUEST_DEADLINE_MS }), 'requests failed before the kill');

  await cluster.restart(victim);
  const notReady = await readiness.stop();
  ctx.expect(notReady.length === 0, `a survivor reported not-ready (a load balancer would drop it): ${notReady.slice(0, 5).join(', ')}`);
  await ctx.healSettleVerify();
});
