// F13 — one node cut from etcd only (its etcd connections blackholed; every
// link between the nodes works), for 15 s.
// Pass: the cut node stops serving at its lease deadline — no request
// invoked later than 2.5 s after the cut gets a 2xx from it, and it reports
// not-ready from then until the heal (the others still reach etcd, so they
// cannot all confirm a lost etcd and freeze the view); the other two serve
// every partition within 3 s; after the heal it rejoins and the cluster is
// whole within 10 s; the checker is clean.
// Method: 3 nodes, the workload keeps sending to all three.

import { failureWindowMs, servedBy } from '../availability.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const CUT_MS = 15_000;
const FENCED_AFTER_MS = 2_500;
const PROBE_MS = 250;

scenario('F13: one node cut from etcd: fenced at its lease deadline, the others serve within 3 s', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const cut = 'n2';
  const others = cluster.ids.filter((id) => id !== cut);
  await cluster.cutFromEtcd(cut);
  const cutAt = clock();
  await sleep(FENCED_AFTER_MS - (clock() - cutAt));
  const readyWhileCut: number[] = [];
  while (clock() - cutAt < CUT_MS) {
    if (await cluster.node(cut).ready()) readyWhileCut.push(Math.round(clock() - cutAt));
    await sleep(PROBE_MS);
  }
  const healedAt = clock();

  ctx.expect(readyWhileCut.length === 0, `${cut} reported ready while cut from etcd, at ${readyWhileCut.slice(0, 5).join(', ')} ms after the cut`);
  ctx.expectNone(servedBy(workload.history, cut, cutAt + FENCED_AFTER_MS, healedAt), `${cut} answered 2xx later than ${FENCED_AFTER_MS} ms after losing etcd`);
  ctx.within(`cut → last failed request on ${others.join(', ')}`, failureWindowMs(workload.history, cutAt, { nodes: others, to: healedAt }), 3_000);

  await ctx.healSettleVerify();
});
