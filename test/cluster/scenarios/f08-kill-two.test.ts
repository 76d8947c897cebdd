// F8 — two of three nodes killed at once (`kill -9`).
// Pass: the survivor serves every partition it owned (requests on those
// sessions fail only within 3 s of the kill); the partitions whose owners
// both died are counted lost — exactly the partitions rendezvous hashing
// gave to that pair (about a third) — and start empty; when the dead nodes
// return, nothing they held brings back a session logged out meanwhile, and
// no acknowledged session on a surviving partition is lost (the checker,
// with P1 waived only for sessions logged in before the kill on a lost
// partition).
// Method: 3 nodes, owners 2; the load balancer keeps only the survivor; the
// workload logs sessions out after the kill like before it; the dead nodes
// restart on their data directories.

import { partitionTable } from '../../../src/cluster/hrw.js';
import { partitionOfSessionId, SESSION_ID_LENGTH } from '../../../src/protocol/partition.js';
import { failureWindowMs } from '../availability.js';
import type { HistoryEntry } from '../history-checker.js';
import { METRIC_PARTITIONS_LOST } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const AFTER_KILL_MS = 8_000;
const SERVED_WITHIN_MS = 3_000;

function partitionOf(session: string): number | undefined {
  return session.length === SESSION_ID_LENGTH ? partitionOfSessionId(session) : undefined;
}

scenario('F8: kill 2 of 3 nodes at once: the survivor serves what it owned, lost partitions counted, no resurrection', async (ctx) => {
  const cluster = await ctx.start({ owners: 2 });
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const survivor = 'n1';
  const victims = ['n2', 'n3'];
  const table = partitionTable(cluster.ids, 2);
  const lost = new Set(table.flatMap((owners, p) => (owners.includes(survivor) ? [] : [p])));
  ctx.log(`${lost.size} of ${table.length} partitions have both owners among ${victims.join(', ')}`);

  workload.route([survivor]);
  const killedAt = clock();
  await Promise.all(victims.map((id) => cluster.kill(id, 'SIGKILL')));
  await sleep(AFTER_KILL_MS);
  const onKept = (e: HistoryEntry): boolean => {
    const p = partitionOf(e.session);
    return p !== undefined && !lost.has(p);
  };
  const keptHistory = workload.history.filter(onKept);
  ctx.within('kill → last failed request on a surviving partition', failureWindowMs(keptHistory, killedAt, { nodes: [survivor] }), SERVED_WITHIN_MS);

  const counted = await cluster.node(survivor).metric(METRIC_PARTITIONS_LOST);
  ctx.expect(counted === lost.size, `${METRIC_PARTITIONS_LOST} on ${survivor} is ${counted}, the owner sets say ${lost.size}`);
  const loggedOutMeanwhile = keptHistory.filter((e) => e.op === 'logout' && e.outcome === 'ok' && e.invokeMs > killedAt).length;
  ctx.expect(loggedOutMeanwhile > 0, `sessions on surviving partitions were logged out while the dead nodes were away (${loggedOutMeanwhile})`);

  await Promise.all(victims.map((id) => cluster.restart(id)));
  // Sessions on a lost partition that were acknowledged before the kill may be gone: that is what "lost" means.
  const loggedInBeforeKill = new Set(workload.history.filter((e) => e.op === 'login' && e.invokeMs < killedAt + SERVED_WITHIN_MS).map((e) => e.session));
  await ctx.healSettleVerify({
    exemptFromP1: (session) => {
      const p = partitionOf(session);
      return p !== undefined && lost.has(p) && loggedInBeforeKill.has(session);
    },
  });
});
