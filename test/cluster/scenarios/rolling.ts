// A rolling restart as a load balancer and an operator do it: each node in
// turn drained by the load balancer, sent SIGTERM (graceful leave), restarted
// on its data directory, waited for until ready, put back. What each step
// must show is checked on the way (F6, S5b).

import type { Cluster } from '../harness.js';
import { watchReadiness } from '../topology.js';
import { clock, type Workload } from '../workload.js';
import { sleep, type ScenarioContext } from './scenario.js';

/** The load balancer's drain: requests already sent to the node finish before SIGTERM. */
const DRAIN_MS = 500;

/**
 * Restarts every node in turn. Per step: the leave exits 0, the node is
 * ready again within `readyAgainLimitMs` of its SIGTERM (a timing check), and
 * the other nodes report ready throughout.
 */
export async function rollingRestart(ctx: ScenarioContext, cluster: Cluster, workload: Workload, readyAgainLimitMs: number): Promise<void> {
  for (const id of cluster.ids) {
    const others = cluster.ids.filter((x) => x !== id);
    workload.route(others);
    await sleep(DRAIN_MS);
    const stoppedAt = clock();
    const readiness = watchReadiness(cluster, others, stoppedAt);
    await cluster.kill(id, 'SIGTERM');
    const exit = await cluster.node(id).exited();
    ctx.expect(exit?.code === 0, `${id} left gracefully with exit code 0 (got ${JSON.stringify(exit)})`);
    ctx.log(`${id}: graceful leave took ${Math.round(clock() - stoppedAt)} ms`);
    await cluster.restart(id);
    ctx.within(`${id}: SIGTERM → ready again`, clock() - stoppedAt, readyAgainLimitMs);
    const notReady = await readiness.stop();
    ctx.expect(notReady.length === 0, `while ${id} restarted, another node reported not-ready: ${notReady.slice(0, 5).join(', ')}`);
    workload.route(cluster.ids);
  }
}
