// cluster-coordinator-stop: the coordinator hangs in the middle of a
// rebalance. The coordinator is the member whose key in etcd is oldest (etcd's
// election recipe); it computes every partition table. One of the two other
// nodes leaves (SIGTERM) and comes back empty; while it is being sent its
// partitions, the coordinator gets SIGSTOP (a hung process: its sockets stay
// open, only silence tells). It stays stopped until the rebalance is over,
// then SIGCONT: it finds its lease gone and joins again as a new member.
//
//   coordinator_failover_seconds  SIGSTOP → one of the two others reports itself
//                                 coordinator (sessiond_cluster_is_coordinator) (< 3 s)
//   rebalance_completed           1 when the two others became whole without the
//                                 stopped node (both ready, both counting two alive
//                                 members, no partition pending or under-replicated)
//                                 within REBALANCE_GIVE_UP_MS of the SIGSTOP, else 0 (= 1)
//   rebalance_seconds             SIGSTOP → that
//   lost_acknowledged             bulk sessions whose acknowledged login no longer
//                                 refreshes at the end (= 0)
//   checker_violations            the history checker over the mixed workload (= 0)
//
// The bulk sessions (logged in before the load, in a realm of their own, one
// PBKDF2 iteration) are what the returning node is sent; the mixed workload
// runs through the nodes that report ready, as a load balancer would route it.

import type { NodeHandle } from '../../test/cluster/harness.js';
import { METRIC_PARTITIONS_OWNED } from '../../test/cluster/topology.js';
import { clock } from '../../test/cluster/workload.js';
import { BULK_LOGIN_CONNECTIONS, clusterRealm, loginSessions, type SessionPool, verifySessions } from '../lib/cluster-sessions.js';
import { finalRows, sleep, WARMUP_MS, withFaultCluster, type FaultRun } from '../lib/fault-cluster.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';

const NAME = 'cluster-coordinator-stop';
const SESSIONS = 30_000;
const SESSIONS_QUICK = 6_000;
const POLL_MS = 25;
/** How long the returning node may take to start receiving partitions. */
const TRANSFER_START_GIVE_UP_MS = 60_000;
/** A coordinator not replaced by then is reported at this value. */
const COORDINATOR_GIVE_UP_MS = 30_000;
const REBALANCE_GIVE_UP_MS = 60_000;
const TRANSFERRED = 'sessiond_state_transfer_sessions_total';
const BULK_REALM = clusterRealm(true);

/** The three roles of the run. */
interface Cast {
  coordinator: NodeHandle;
  /** Stays up all along and keeps sending. */
  sender: NodeHandle;
  /** Leaves, comes back empty, and is being sent its partitions when the coordinator stops. */
  returning: NodeHandle;
}

export const clusterCoordinatorStop: Scenario = {
  name: NAME,
  description: 'SIGSTOP of the coordinator while a returning node is being sent its partitions: time to a new coordinator, the rebalance completes, history checker clean',
  async run({ quick, log }) {
    return withFaultCluster({ name: NAME, log, realms: [BULK_REALM] }, async (run) => {
      const targets = run.cluster.ids.map((id) => run.target(id, BULK_REALM));
      const pool = await loginSessions(targets, quick ? SESSIONS_QUICK : SESSIONS, BULK_LOGIN_CONNECTIONS, 1, log);
      run.startLoad(true);
      await sleep(WARMUP_MS);
      const cast = await castOf(run);
      await leaveAndReturn(run, cast);
      const stoppedAt = await stopCoordinatorDuringTransfer(run, cast);
      const failoverMs = await newCoordinatorAfter(run, cast, stoppedAt);
      const rebalanceMs = await run.whole([cast.sender.id, cast.returning.id], REBALANCE_GIVE_UP_MS).then(
        () => clock() - stoppedAt,
        (err: unknown) => {
          log(`the rebalance did not complete: ${String(err)}`);
          return null;
        },
      );
      await cast.coordinator.kill('SIGCONT');
      log(`${cast.coordinator.id} continued (SIGCONT)`);
      const check = await run.finish();
      const lost = await verifyBulk(run, pool, log);
      return [
        row(NAME, 'coordinator_failover_seconds', failoverMs / 1000, 's'),
        row(NAME, 'rebalance_completed', rebalanceMs === null ? 0 : 1, 'bool'),
        row(NAME, 'rebalance_seconds', (rebalanceMs ?? REBALANCE_GIVE_UP_MS) / 1000, 's'),
        row(NAME, 'lost_acknowledged', lost, 'sessions'),
        row(NAME, 'bulk_sessions', pool.refresh.length, 'sessions'),
        ...finalRows(NAME, check),
      ] satisfies Row[];
    });
  },
};

/** The coordinator, and the two others: the one that will leave and come back is the last by id. */
async function castOf(run: FaultRun): Promise<Cast> {
  let coordinator: string | undefined;
  await run.cluster.until('a node reports itself coordinator', async () => (coordinator = await run.coordinator()) !== undefined, 10_000);
  const others = run.cluster.nodes.filter((n) => n.id !== coordinator);
  const cast = { coordinator: run.cluster.node(coordinator!), sender: others[0]!, returning: others[1]! };
  run.log(`coordinator ${cast.coordinator.id}; ${cast.returning.id} leaves and comes back, ${cast.sender.id} stays`);
  return cast;
}

/** The returning node leaves gracefully, the two others become whole, and it is started again (empty). */
async function leaveAndReturn(run: FaultRun, cast: Cast): Promise<void> {
  const left = clock();
  await cast.returning.kill('SIGTERM');
  const wholeMs = await run.whole([cast.coordinator.id, cast.sender.id]);
  run.log(`${cast.returning.id} left (SIGTERM, exited after ${Math.round(clock() - left - wholeMs)} ms); the two others whole ${Math.round(wholeMs)} ms later`);
  await cast.returning.spawn();
}

/**
 * Polls until the returning node holds pending partitions and the senders
 * have started sending, then stops the coordinator; returns when (the
 * history's clock). Throws when the transfer never showed or ended first.
 */
async function stopCoordinatorDuringTransfer(run: FaultRun, cast: Cast): Promise<number> {
  const senders = [cast.coordinator, cast.sender];
  const before = await transferred(senders);
  const started = clock();
  for (;;) {
    const [pending, sent] = [(await cast.returning.metric(METRIC_PARTITIONS_OWNED, { role: 'pending' })) ?? 0, (await transferred(senders)) - before];
    if (pending > 0 && sent > 0) {
      await cast.coordinator.kill('SIGSTOP');
      const at = clock();
      run.log(`SIGSTOP ${cast.coordinator.id} ${Math.round(at - started)} ms after ${cast.returning.id} started: it had ${pending} partitions pending, ${sent} sessions sent so far`);
      return at;
    }
    if (await cast.returning.ready()) throw new Error(`${cast.returning.id} was ready before a transfer to it was seen under way: too few sessions to stop the coordinator during the rebalance`);
    if (clock() - started > TRANSFER_START_GIVE_UP_MS) throw new Error(`no transfer to ${cast.returning.id} within ${TRANSFER_START_GIVE_UP_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** SIGSTOP → one of the others reports itself coordinator (the give-up value when none does). */
async function newCoordinatorAfter(run: FaultRun, cast: Cast, stoppedAt: number): Promise<number> {
  const ids = [cast.sender.id, cast.returning.id];
  for (;;) {
    const coordinator = await run.coordinator(ids);
    const ms = clock() - stoppedAt;
    if (coordinator !== undefined) {
      run.log(`${coordinator} is coordinator ${Math.round(ms)} ms after the SIGSTOP`);
      return ms;
    }
    if (ms > COORDINATOR_GIVE_UP_MS) {
      run.log(`no new coordinator within ${COORDINATOR_GIVE_UP_MS} ms`);
      return COORDINATOR_GIVE_UP_MS;
    }
    await sleep(POLL_MS);
  }
}

/** Sessions the nodes sent to new owners so far (a node that does not answer counts 0). */
async function transferred(nodes: readonly NodeHandle[]): Promise<number> {
  const counts = await Promise.all(nodes.map((n) => n.metric(TRANSFERRED)));
  return counts.reduce<number>((sum, c) => sum + (c ?? 0), 0);
}

/** Refreshes every bulk session once; returns how many failed for certain. */
async function verifyBulk(run: FaultRun, pool: SessionPool, log: (line: string) => void): Promise<number> {
  const check = await verifySessions(run.cluster.ids.map((id) => run.target(id, BULK_REALM)), pool, 4, 1);
  log(`bulk sessions: ${check.checked} refreshed in ${check.seconds.toFixed(1)} s, ${check.failed.length} failed${check.samples.length > 0 ? `: ${check.samples.join('; ')}` : ''}`);
  return check.failed.length;
}
