// F2 — a hung node: `SIGSTOP` for 10 s, then `SIGCONT`.
// Pass: the others detect it and commit a new view within 2 s; every
// partition is served again within 3 s; after SIGCONT the node answers no
// request with a 2xx until it has rejoined (it was evicted: its lease is
// gone, whatever it remembers is stale); it rejoins and the cluster is fully
// replicated within 10 s of SIGCONT; the checker is clean.
// Method: 3 nodes, the mixed workload keeps sending to every node, the hung
// one included (its answers, or lack of them, are the evidence). "Rejoined"
// = both other nodes count three alive members again (less the lag with
// which that is seen).

import { failureWindowMs, servedBy } from '../availability.js';
import { METRIC_MEMBERS } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const FROZEN_MS = 10_000;
/**
 * The rejoin is seen late: the others learn the new view from their etcd
 * watch, and this test learns it from their metrics. An answer that came this
 * little before the rejoin was seen may have come after it.
 */
const REJOIN_SEEN_LAG_MS = 250;

scenario('F2: SIGSTOP one node for 10 s: detected within 2 s, served within 3 s, nothing stale after SIGCONT', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const victim = 'n3';
  const others = ['n1', 'n2'];
  const before = await ctx.viewRevisions(others);
  const stoppedAt = clock();
  await cluster.kill(victim, 'SIGSTOP');
  ctx.within('SIGSTOP → new view committed on the others', await ctx.viewCommitted(others, before, stoppedAt, 2), 2_000);
  await sleep(FROZEN_MS - (clock() - stoppedAt));

  const resumedAt = clock();
  await cluster.kill(victim, 'SIGCONT');
  let rejoinedAt = 0;
  await cluster.until('the resumed node rejoins', async () => {
    const at = clock();
    const alive = await Promise.all(others.map((id) => cluster.node(id).metric(METRIC_MEMBERS, { state: 'alive' })));
    if (alive.every((n) => n === 3)) rejoinedAt = at;
    return rejoinedAt > 0;
  }, 30_000, 25);
  ctx.log(`SIGCONT → rejoined (both others count 3 alive members): ${Math.round(rejoinedAt - resumedAt)} ms`);

  ctx.within('SIGSTOP → last failed request on the others (every partition served again)', failureWindowMs(workload.history, stoppedAt, { nodes: others, to: resumedAt }), 3_000);
  ctx.expectNone(servedBy(workload.history, victim, stoppedAt, rejoinedAt - REJOIN_SEEN_LAG_MS), `the hung node answered 2xx between SIGSTOP and ${REJOIN_SEEN_LAG_MS} ms before its rejoin was seen`);
  await ctx.converged();
  ctx.within('SIGCONT → rejoined and fully replicated', clock() - resumedAt, 10_000);

  await ctx.healSettleVerify();
});
