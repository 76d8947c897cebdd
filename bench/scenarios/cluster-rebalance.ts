// cluster-rebalance: how fast a returning node is given its partitions, and
// what the transfer costs the requests going on meanwhile.
//
//   transfer_sessions_per_s        sessions the returning node was sent
//                                  (the senders' sessiond_state_transfer_sessions_total)
//                                  divided by the transfer's duration (>= 100 k/s)
//   token_p99_ms_during_transfer   p99 latency of the refresh_token grants
//                                  (rotation on) that ended while the transfer
//                                  ran, sent through the two other nodes (< 50 ms)
//
// Three nodes (owners 2) and etcd; SESSIONS sessions logged in (password
// grants with one PBKDF2 iteration, spread over the nodes). n3 leaves
// gracefully (SIGTERM); once n1 and n2 are ready again they hold every
// partition. n3 is then started again on its data directory: a cluster member
// takes its sessions from the other owners, so it is sent about two thirds of
// them. The transfer's window comes from polling the senders' counter every
// POLL_MS (a scrape of that metric alone): from the last poll before it moved
// to the first poll that saw its final value (so the rate errs low by up to
// two polls).

import { performance } from 'node:perf_hooks';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import { percentile } from '../lib/stats.js';
import { CLUSTER_READY_TIMEOUT_MS, LocalCluster, metricSum, withCluster, type ClusterNode } from '../lib/cluster.js';
import { BULK_LOGIN_CONNECTIONS, clusterRealm, loginSessions } from '../lib/cluster-sessions.js';
import { describeTally, RefreshWorkload, since } from '../lib/cluster-workload.js';

const NAME = 'cluster-rebalance';
const NODES = 3;
const SESSIONS = 300_000;
const SESSIONS_QUICK = 3_000;
const LOGIN_PIPELINING = 1;
const POLL_MS = 100;
const WORKERS = 4;
/** Pause between a worker's requests: a steady ~4 x 50/s of refreshes, not a saturating load. */
const WORKER_PAUSE_MS = 20;
const TRANSFERRED = 'sessiond_state_transfer_sessions_total';

export const clusterRebalance: Scenario = {
  name: NAME,
  description: 'a node rejoining a 3-node cluster: sessions per second it is sent, token p99 during the transfer',
  async run({ quick, log }) {
    return withCluster({ nodes: NODES, realm: clusterRealm(true), name: NAME, log }, async (c, stopFirst) => {
      const sessions = quick ? SESSIONS_QUICK : SESSIONS;
      const pool = await loginSessions(c.nodes.map((n) => n.target), sessions, BULK_LOGIN_CONNECTIONS, LOGIN_PIPELINING, log);
      const returning = c.node('n3');
      const senders = c.nodes.filter((n) => n !== returning);
      const workload = new RefreshWorkload(pool, () => senders.map((n) => n.target), WORKER_PAUSE_MS);
      stopFirst(workload);
      workload.start(WORKERS);

      const left = performance.now();
      await returning.stop();
      // Ready answers at once, from the table before the leave: wait for the table without n3 and every copy made.
      await settledWithout(c, returning.id);
      const leaveMs = await c.waitReady(CLUSTER_READY_TIMEOUT_MS, senders);
      log(`n3 left (SIGTERM, exit in ${(since(left) / 1000 - leaveMs / 1000).toFixed(1)} s); n1 and n2 ready with every partition after ${(leaveMs / 1000).toFixed(1)} s more`);

      const before = await transferred(senders);
      workload.recordSamples = true;
      const timeline: { t: number; total: number }[] = [{ t: performance.now(), total: before }];
      const restarted = performance.now();
      returning.start();
      let ready = false;
      const readyAt = c.waitReady(CLUSTER_READY_TIMEOUT_MS).then((ms) => {
        ready = true;
        return ms;
    });
    while (!ready) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      timeline.push({ t: performance.now(), total: await transferred(senders) });
    }
    const readyMs = await readyAt;
    timeline.push({ t: performance.now(), total: await transferred(senders) });
    workload.recordSamples = false;
    await workload.stop();

    const final = timeline.at(-1)!.total;
    const sent = final - before;
    if (sent === 0) throw new Error('the returning node was sent no sessions');
    const start = timeline.filter((p) => p.total === before).at(-1)!.t;
    const end = timeline.find((p) => p.total === final)!.t;
    const seconds = (end - start) / 1000;
    const during = workload.samples.filter((s) => s.end >= start && s.end <= end);
    const failedDuring = during.filter((s) => !s.ok).length;
    const p99 = during.length > 0 ? percentile(during.map((s) => s.ms), 99) : Number.NaN;
    const outside = workload.samples.filter((s) => s.end < start || s.end > end);
    const p99Outside = outside.length > 0 ? percentile(outside.map((s) => s.ms), 99) : Number.NaN;
    log(
      `n3 started again: sent ${sent} sessions in ${seconds.toFixed(2)} s (${Math.round(sent / seconds)}/s), transfer began ${((start - restarted) / 1000).toFixed(1)} s after the start, ` +
        `every node ready after ${(readyMs / 1000).toFixed(1)} s; ${during.length} refreshes during the transfer (${failedDuring} failed), p99 ${p99.toFixed(1)} ms; ` +
        `outside it ${outside.length}, p99 ${p99Outside.toFixed(1)} ms; all background refreshes: ${describeTally(workload.tally)}`,
    );
    return [
      row(NAME, 'transfer_sessions_per_s', sent / seconds, 'sessions/s'),
      row(NAME, 'token_p99_ms_during_transfer', p99, 'ms', Number.isNaN(p99Outside) ? null : p99Outside),
      row(NAME, 'transfer_sessions', sent, 'sessions'),
      row(NAME, 'transfer_seconds', seconds, 's'),
      row(NAME, 'rejoin_ready_seconds', readyMs / 1000, 's'),
      row(NAME, 'token_requests_during_transfer', during.length, 'requests'),
      row(NAME, 'token_errors_during_rebalance', workload.tally.refused + workload.tally.unknown, 'requests'),
    ] satisfies Row[];
    });
  },
};

async function settledWithout(cluster: LocalCluster, node: string): Promise<void> {
  const deadline = performance.now() + CLUSTER_READY_TIMEOUT_MS;
  for (;;) {
    const table = await cluster.table();
    if (!table.members.includes(node) && table.pending.every((p) => p.length === 0)) return;
    if (performance.now() > deadline) throw new Error(`the table still lists ${node} or pending copies after ${CLUSTER_READY_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function transferred(senders: readonly ClusterNode[]): Promise<number> {
  const texts = await Promise.all(senders.map((n) => n.metrics([TRANSFERRED])));
  return texts.reduce((sum, text) => sum + metricSum(text, TRANSFERRED), 0);
}
