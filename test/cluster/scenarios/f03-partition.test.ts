// F3 — a network partition {A} | {B, C} for 30 s (every gRPC link between A
// and the others blackholed both ways; etcd still reachable by all).
// Pass: A is evicted; A answers no request invoked later than 2.5 s after
// the cut with a 2xx (no write acknowledged, no read served from a minority)
// and reports not-ready from then until the heal; B and C serve every
// partition within 3 s; after the heal A rejoins and the cluster is fully
// replicated within 10 s; the checker is clean.
// Method: 3 nodes; A is the coordinator when a node reports itself as one
// (the harder case: the minority side holds the election), else n1; the
// workload keeps sending to all three nodes.

import { failureWindowMs, servedBy } from '../availability.js';
import { coordinatorOr, METRIC_IS_COORDINATOR } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const SPLIT_MS = 30_000;
/** A must have stopped serving this long after the cut. */
const FENCED_AFTER_MS = 2_500;
/** How often A's readiness is probed during the split. */
const PROBE_MS = 250;

scenario('F3: partition {A} | {B,C} for 30 s: A fenced within 2.5 s, B and C serve everything within 3 s', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const a = await coordinatorOr(cluster, 'n1');
  const others = cluster.ids.filter((id) => id !== a);
  ctx.log(`isolating ${a} (coordinator: ${(await cluster.metric(METRIC_IS_COORDINATOR)).get(a) === 1})`);
  const before = await ctx.viewRevisions(others);
  await cluster.partition([a], others);
  const cutAt = clock(); // every link cut
  ctx.log(`cut → new view on ${others.join(', ')}: ${Math.round(await ctx.viewCommitted(others, before, cutAt, 2))} ms`);

  await sleep(FENCED_AFTER_MS - (clock() - cutAt));
  const readyDuringSplit: number[] = [];
  while (clock() - cutAt < SPLIT_MS) {
    if (await cluster.node(a).ready()) readyDuringSplit.push(Math.round(clock() - cutAt));
    await sleep(PROBE_MS);
  }
  const healedAt = clock();

  ctx.expect(readyDuringSplit.length === 0, `${a} reported ready during the split at ${readyDuringSplit.slice(0, 5).join(', ')} ms after the cut`);
  ctx.expectNone(servedBy(workload.history, a, cutAt + FENCED_AFTER_MS, healedAt), `${a} answered 2xx later than ${FENCED_AFTER_MS} ms after the cut`);
  ctx.within(`cut → last failed request on ${others.join(', ')} (every partition served)`, failureWindowMs(workload.history, cutAt, { nodes: others, to: healedAt }), 3_000);

  await ctx.healSettleVerify();
});
