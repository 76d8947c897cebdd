// cluster-rolling-restart: restarting every node in turn, the way an operator
// upgrades a cluster, under load.
//
//   rolling_restart_lost_sessions    sessions whose refresh with their last
//                                    acknowledged token fails after the third
//                                    node is back (= 0); a session whose latest
//                                    refresh went unanswered is counted apart
//                                    (rolling_restart_uncertain_failed: that
//                                    refresh may have rotated the token)
//   rolling_restart_failed_requests  background refresh_token grants (rotation
//                                    on) that failed or got no answer during the
//                                    whole restart (= 0)
//   rolling_restart_not_ready_seconds the time nodes in rotation answered
//                                    /health/ready with 503 while another one
//                                    restarted (polled as a load balancer
//                                    would, every READINESS_POLL_MS; = 0: a
//                                    node that is ready stays ready while
//                                    another leaves or returns)
//
// Three nodes (owners 2) and etcd with SESSIONS sessions (password grants with
// one PBKDF2 iteration, spread over the nodes; the setup time is logged). For
// n1, n2, n3 in turn: take the node out of the load balancer's rotation,
// SIGTERM it (graceful leave), start it again on its data directory, wait
// until every node reports ready (readiness holds while any partition has
// fewer than two copies, so the next node never takes down the last copy),
// and put it back. Background refreshes go to the nodes in rotation all
// along; the rotation does not follow readiness (the metric above says how
// long a load balancer that does would have taken a node out). At the end
// every session is refreshed once (bulk, pipelined) and the failures are
// retried alone before they count.

import { performance } from 'node:perf_hooks';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import { CLUSTER_READY_TIMEOUT_MS, withCluster, type ClusterNode } from '../lib/cluster.js';
import { BULK_LOGIN_CONNECTIONS, clusterRealm, loginSessions, verifySessions } from '../lib/cluster-sessions.js';
import { describeTally, RefreshWorkload, since } from '../lib/cluster-workload.js';

const NAME = 'cluster-rolling-restart';
const NODES = 3;
const SESSIONS = 300_000;
const SESSIONS_QUICK = 3_000;
const LOGIN_PIPELINING = 1;
const VERIFY_CONNECTIONS = 8;
const VERIFY_PIPELINING = 1;
const WORKERS = 4;
/** Pause between a worker's requests: ~4 x 40/s of background refreshes. */
const WORKER_PAUSE_MS = 25;
/** Quiet time after the last restart before the check. */
const SETTLE_MS = 2_000;
/** A load balancer's health-check interval. */
const READINESS_POLL_MS = 250;

export const clusterRollingRestart: Scenario = {
  name: NAME,
  description: 'rolling restart of a 3-node cluster holding 300 k sessions under load: sessions lost, requests failed',
  async run({ quick, log }) {
    return withCluster({ nodes: NODES, realm: clusterRealm(true), name: NAME, log }, async (c, stopFirst) => {
      const sessions = quick ? SESSIONS_QUICK : SESSIONS;
      const setup = performance.now();
      const pool = await loginSessions(c.nodes.map((n) => n.target), sessions, BULK_LOGIN_CONNECTIONS, LOGIN_PIPELINING, log);
      const setupS = since(setup) / 1000;
      const out = new Set<string>();
      const rotation = (): ClusterNode[] => c.nodes.filter((n) => !out.has(n.id));
      const workload = new RefreshWorkload(pool, () => rotation().map((n) => n.target), WORKER_PAUSE_MS);
      stopFirst(workload);
      workload.start(WORKERS);
      const readiness = c.watchReadiness(rotation, READINESS_POLL_MS);
      const readySeconds: number[] = [];
      for (const node of c.nodes) {
        out.add(node.id);
        const t0 = performance.now();
        await node.stop();
        const stoppedMs = since(t0);
        node.start();
        const readyMs = (await c.waitReady(CLUSTER_READY_TIMEOUT_MS)) + stoppedMs;
        out.delete(node.id);
        readySeconds.push(since(t0) / 1000);
        log(`${node.id}: stopped in ${(stoppedMs / 1000).toFixed(1)} s, every node ready ${(readyMs / 1000).toFixed(1)} s after the SIGTERM; background so far: ${describeTally(workload.tally)}`);
      }
      const { notReadyMs, events } = await readiness.stop();
      await workload.stop();
      const notReadyS = [...notReadyMs.values()].reduce((sum, ms) => sum + ms, 0) / 1000;
      log(`nodes in rotation answered not-ready for ${notReadyS.toFixed(2)} s in all${events.length > 0 ? `: ${events.slice(0, 20).join(', ')}${events.length > 20 ? ', …' : ''}` : ''}`);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const check = await verifySessions(c.nodes.map((n) => n.target), pool, VERIFY_CONNECTIONS, VERIFY_PIPELINING);
      log(`check: ${check.checked}/${sessions} sessions refreshed with their last acknowledged token in ${check.seconds.toFixed(1)} s, ${check.failed.length} failed, ${check.uncertain.length} uncertain failed${check.samples.length > 0 ? `: ${check.samples.join('; ')}` : ''}`);
      return [
        row(NAME, 'rolling_restart_lost_sessions', check.failed.length, 'sessions'),
        row(NAME, 'rolling_restart_failed_requests', workload.tally.refused + workload.tally.unknown, 'requests'),
        row(NAME, 'rolling_restart_sessions', sessions, 'sessions'),
        row(NAME, 'rolling_restart_sessions_unchecked', sessions - check.checked, 'sessions'),
        row(NAME, 'rolling_restart_uncertain_failed', check.uncertain.length, 'sessions'),
        row(NAME, 'rolling_restart_requests_ok', workload.tally.ok, 'requests'),
        row(NAME, 'rolling_restart_not_ready_seconds', notReadyS, 's'),
        row(NAME, 'rolling_restart_ready_seconds_max', Math.max(...readySeconds), 's'),
        row(NAME, 'rolling_restart_setup_seconds', setupS, 's'),
      ] satisfies Row[];
    });
  },
};
