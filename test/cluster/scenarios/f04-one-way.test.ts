// F4 — a one-way partition: every byte A sends to B is dropped, nothing
// else (B → A, and every link of C, still work), for 30 s.
// Pass: never two primaries for one partition (the nodes that hold a valid
// lease never claim more primaries in total than there are partitions, two
// samples in a row); the availability bounds of F3: requests fail only
// within 3 s of the cut, except on a node in the moment it turns not-ready
// (before the load balancer's next health check); after the heal the
// cluster is whole within 10 s; the checker is clean.
// Method: 3 nodes; a readiness-following router plays the load balancer
// (which node the cluster evicts is its own decision here); the topology is
// sampled from every node's metrics (partitions owned as primary, lease
// validity) throughout.

import { failedRequests } from '../availability.js';
import { READINESS_POLL_MS } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const CUT_MS = 30_000;
const SERVED_WITHIN_MS = 3_000;
/** A health check that takes up to its probe deadline, after the poll interval. */
const HEALTH_CHECK_LAG_MS = READINESS_POLL_MS + 1_000;

scenario('F4: one-way partition A→B: never two primaries, served again within 3 s', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  const topology = ctx.topology();
  const router = ctx.readinessRouter();
  workload.start();
  await sleep(WARMUP_MS);

  await cluster.cut('n1', 'n2');
  const cutAt = clock();
  await sleep(CUT_MS);
  const healedAt = clock();
  await cluster.uncut('n1', 'n2');

  ctx.log(`readiness changes: ${router.changes.filter((c) => c.at >= cutAt).map((c) => `${c.node} ${c.ready ? 'ready' : 'not ready'} at +${Math.round(c.at - cutAt)} ms`).join(', ') || 'none'}`);
  const late = failedRequests(workload.history, { from: cutAt + SERVED_WITHIN_MS, to: healedAt }).filter((e) => !router.sawNotReady(e.node, e.invokeMs, e.invokeMs + HEALTH_CHECK_LAG_MS));
  for (const e of late.slice(-5)) ctx.log(`late failure: ${e.op} on ${e.node} at +${Math.round(e.invokeMs - cutAt)} ms (${Math.round(e.completeMs - e.invokeMs)} ms): ${e.outcome} ${e.status ?? ''} ${e.detail ?? ''}`);
  ctx.within(`cut → last failed request not excused by a readiness change`, late.reduce((max, e) => Math.max(max, e.invokeMs - cutAt), 0), SERVED_WITHIN_MS);

  await ctx.healSettleVerify();
  const doubles = topology.doublePrimaries();
  ctx.expect(topology.rounds.length > 0, 'the topology was sampled');
  ctx.expect(doubles.length === 0, `two primaries for a partition: ${doubles.slice(0, 5).join('; ')}`);
});
