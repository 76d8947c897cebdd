// cluster-failover: how long a node's sessions are unavailable when it dies,
// and whether anything acknowledged is lost.
//
//   failover_seconds_kill9    kill -9 of a node: from the signal to the first
//                             successful refresh of a session whose partition's
//                             primary was the victim, the max over every probed
//                             session (< 3 s)
//   failover_seconds_sigstop  the same with SIGSTOP (a hung node: its sockets
//                             stay open, only the heartbeat's silence tells) (< 5 s)
//   lost_acknowledged         sessions whose login or last rotation was
//                             acknowledged but whose refresh with that token
//                             fails after both faults, the victims' return and
//                             a settle (= 0)
//   uncertain_sessions_failed sessions that failed the same check but whose
//                             latest refresh went unanswered (or got a 5xx)
//                             and the answer is a reuse one (Stale token):
//                             it may have rotated the token, and this realm
//                             (rotation on) treats the kept one as reuse and
//                             ends the client session; not counted as lost
//
// Three nodes (owners 2) and etcd; sessions logged in through every node; a
// background load of refreshes with rotation through the live nodes all along.
// Probed sessions are found from the partition table in etcd just before the
// fault (the `sid` claim's partition, its first owner) and refreshed through
// the survivors only (what a load balancer does once its health check fails),
// each retried every PROBE_RETRY_MS, one request at a time (deadline 5 s: a
// node holds a request up to 2 s while the primary is replaced), until one succeeds.
// After each fault the victim is brought back (kill -9: started again on its
// data directory; SIGSTOP: SIGCONT, and it rejoins) and every node must be
// ready before the next step.

import { performance } from 'node:perf_hooks';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import { percentile } from '../lib/stats.js';
import { CLUSTER_READY_TIMEOUT_MS, primaryOf, withCluster, type ClusterNode, type LocalCluster } from '../lib/cluster.js';
import { clusterRealm, loginSessions, verifySessions, type SessionPool } from '../lib/cluster-sessions.js';
import { describeTally, emptyTally, PROBE_DEADLINE_MS, RefreshWorkload, since } from '../lib/cluster-workload.js';

const NAME = 'cluster-failover';
const NODES = 3;
const SESSIONS = 3_000;
const SESSIONS_QUICK = 300;
/** Sessions of the victim's partitions probed per fault. */
const PROBES = 60;
const PROBES_QUICK = 20;
const PROBE_RETRY_MS = 50;
/** A probe that has not succeeded by then is reported at this value (and the run says so). */
const PROBE_GIVE_UP_MS = 30_000;
const WORKERS = 4;
/** Pause between a worker's requests: ~4 x 40/s of background refreshes. */
const WORKER_PAUSE_MS = 25;
/** Quiet time after the last fault before the check (touch interval and transfers settle). */
const SETTLE_MS = 3_000;
/** How long the hung node stays stopped after the last probe succeeded. */
const STOPPED_EXTRA_MS = 2_000;

export const clusterFailover: Scenario = {
  name: NAME,
  description: 'kill -9 and SIGSTOP of one of 3 nodes under load: time until its sessions are served again; acknowledged sessions lost',
  async run({ quick, log }) {
    return withCluster({ nodes: NODES, realm: clusterRealm(true), name: NAME, log }, async (c, stopFirst) => {
      const pool = await loginSessions(c.nodes.map((n) => n.target), quick ? SESSIONS_QUICK : SESSIONS, 8, 1, log);
      const down = new Set<string>();
      const live = (): ClusterNode[] => c.nodes.filter((n) => !down.has(n.id));
      const workload = new RefreshWorkload(pool, () => live().map((n) => n.target), WORKER_PAUSE_MS);
      stopFirst(workload);
      workload.start(WORKERS);
      await new Promise((r) => setTimeout(r, 1_000));
      const probes = quick ? PROBES_QUICK : PROBES;

      const kill = await fault(c, pool, workload, c.node('n1'), 'SIGKILL', probes, down, log);
      c.node('n1').start();
      down.delete('n1');
      log(`n1 started again: every node ready after ${(await c.waitReady(CLUSTER_READY_TIMEOUT_MS)) / 1000} s`);

      const stop = await fault(c, pool, workload, c.node('n2'), 'SIGSTOP', probes, down, log);
      await new Promise((r) => setTimeout(r, STOPPED_EXTRA_MS));
      await c.node('n2').signal('SIGCONT');
      const resumed = performance.now();
      await c.waitReady(CLUSTER_READY_TIMEOUT_MS);
      down.delete('n2');
      log(`n2 continued: every node ready after ${(since(resumed) / 1000).toFixed(1)} s`);

      await workload.stop();
      log(`background refreshes: ${describeTally(workload.tally)}`);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const check = await verifySessions(c.nodes.map((n) => n.target), pool, 4, 1);
      log(`check: ${check.checked} sessions refreshed with their last acknowledged token in ${check.seconds.toFixed(1)} s, ${check.failed.length} failed, ${check.uncertain.length} uncertain failed${check.samples.length > 0 ? `: ${check.samples.join('; ')}` : ''}`);
      return [
        row(NAME, 'failover_seconds_kill9', kill.maxMs / 1000, 's'),
        row(NAME, 'failover_seconds_sigstop', stop.maxMs / 1000, 's'),
        row(NAME, 'lost_acknowledged', check.failed.length, 'sessions'),
        row(NAME, 'failover_p50_seconds_kill9', kill.p50Ms / 1000, 's'),
        row(NAME, 'failover_p50_seconds_sigstop', stop.p50Ms / 1000, 's'),
        row(NAME, 'failover_probes_given_up', kill.givenUp + stop.givenUp, 'sessions'),
        row(NAME, 'background_refreshes_ok', workload.tally.ok, 'requests'),
        row(NAME, 'background_refreshes_failed', workload.tally.refused + workload.tally.unknown, 'requests'),
        row(NAME, 'sessions_checked', check.checked, 'sessions'),
        row(NAME, 'uncertain_sessions_failed', check.uncertain.length, 'sessions'),
      ] satisfies Row[];
    });
  },
};

interface FaultResult {
  maxMs: number;
  p50Ms: number;
  givenUp: number;
}

/**
 * Signals `victim` and probes sessions whose primary it was until each one
 * refreshes through a survivor; the victim counts as down from the signal on.
 */
async function fault(cluster: LocalCluster, pool: SessionPool, workload: RefreshWorkload, victim: ClusterNode, signal: NodeJS.Signals, probes: number, down: Set<string>, log: (line: string) => void): Promise<FaultResult> {
  const table = await cluster.table();
  const victims: number[] = [];
  for (let i = 0; i < pool.sid.length && victims.length < probes; i++) {
    if (primaryOf(table, pool.sid[i]!) === victim.id) victims.push(i);
  }
  if (victims.length === 0) throw new Error(`no session of the pool has ${victim.id} as its primary`);
  for (const i of victims) workload.reserved.add(i);
  const survivors = cluster.nodes.filter((n) => n.id !== victim.id && !down.has(n.id));
  const tally = emptyTally();
  down.add(victim.id);
  const t0 = performance.now();
  await victim.signal(signal);
  const times = await Promise.all(
    victims.map(async (i, k) => {
      for (let attempt = 0; ; attempt++) {
        const target = survivors[(k + attempt) % survivors.length]!.target;
        if (await workload.refresh(i, target, tally, PROBE_DEADLINE_MS)) return since(t0);
        if (since(t0) > PROBE_GIVE_UP_MS) return Number.POSITIVE_INFINITY;
        await new Promise((r) => setTimeout(r, PROBE_RETRY_MS));
      }
    }),
  );
  for (const i of victims) workload.reserved.delete(i);
  const givenUp = times.filter((t) => !Number.isFinite(t)).length;
  const finite = times.map((t) => (Number.isFinite(t) ? t : PROBE_GIVE_UP_MS));
  const result = { maxMs: Math.max(...finite), p50Ms: percentile(finite, 50), givenUp };
  log(
    `${signal} ${victim.id} (primary of ${table.owners.filter((o) => o[0] === victim.id).length} partitions in table version ${table.version}): ` +
      `${victims.length} of its sessions served again after p50 ${(result.p50Ms / 1000).toFixed(2)} s, max ${(result.maxMs / 1000).toFixed(2)} s` +
      `${givenUp > 0 ? `, ${givenUp} gave up after ${PROBE_GIVE_UP_MS / 1000} s` : ''}; probe requests: ${describeTally(tally)}`,
  );
  return result;
}
