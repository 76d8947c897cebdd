// cluster-slow-link: one slow link between two nodes. The fault proxies hold
// every byte n1 and n2 send each other for 200 ms, both ways (the link's round
// trip grows by 400 ms); every other link and etcd stay as they are.
//
//   false_suspicions           `peer suspected` warnings any node logged during the run (= 0)
//   view_changes               members joined or left, summed over every node's
//                              sessiond_cluster_view_changes_total across the run (= 0: no eviction)
//   failed_requests            requests of the mixed workload and of the write probes
//                              the service failed (= 0)
//   write_p50_ms_affected      p50 of a write sent to its partition's primary, for the
//                              partitions whose two copies are n1 and n2 (the backup is
//                              across the slow link), while the link is slow; baseline: the
//                              same writes while it is not, taking turns
//   write_p50_ms_unaffected    the same for every other partition (≈ 1x)
//   write_added_ms_affected    affected p50 slow minus affected p50 normal; baseline: the
//                              round trip the proxies added (2 × 200 ms) (≈ 1x)
//   write_added_ms_unaffected  the same for the other partitions (≈ 0)
//   workload_p99_ms_link_slow  p99 of the mixed workload's requests while the link was slow;
//                              baseline: the rest of the run (no target: shows what forwarding
//                              across the slow link costs a request that runs several engine commands)
//
// The write is a refresh_token grant with rotation (a lifecycle change the
// primary replicates to its backup before it answers), sent to the
// partition's primary (read from the table in etcd), so that forwarding adds
// nothing: what moves is the replication's wait. One session per user of the
// workload's realm, classified by its partition's owners; 25 writes per second
// per class, whatever their latency, so both phases load the machine alike.
// The mixed workload runs through every node all along (no load balancer: a
// node that stopped serving would show as failures).
// Phases: normal, slow, normal, slow (quick: one of each).

import { partitionOfSessionId } from '../../src/protocol/partition.js';
import type { HistoryEntry } from '../../test/cluster/history-checker.js';
import { CLUSTER_USERS, clock, passwordLogin, refreshGrant } from '../../test/cluster/workload.js';
import { finalRows, sleep, WARMUP_MS, withFaultCluster, type FaultRun } from '../lib/fault-cluster.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';
import { percentile } from '../lib/stats.js';

const NAME = 'cluster-slow-link';
const LINK = ['n1', 'n2'] as const;
/** Added to every byte, each way. */
const DELAY_MS = 200;
const ROUNDS = 2;
const ROUNDS_QUICK = 1;
const PHASE_MS = 12_000;
const PHASE_QUICK_MS = 6_000;
/** Probe logins in flight. */
const LOGIN_CONCURRENCY = 8;
/**
 * The mixed workload's virtual users: enough that its 150 requests/s hold
 * while a third of them wait for the slow link (with the default 16 the rate
 * falls by a third, and the other writes are measured on a lighter machine).
 */
const VIRTUAL_USERS = 64;
/** One write of each class this often (25/s each): the slow class's writes overlap. */
const PROBE_INTERVAL_MS = 40;

interface Probe {
  sid: string;
  refresh: string;
  primary: string;
  /** Its partition's copies are the two ends of the slow link. */
  affected: boolean;
}

/** Write latencies (ms) by class of partition. */
interface Samples {
  affected: number[];
  unaffected: number[];
}

/** The probe sessions of each class not in flight, in turn. */
interface ProbeQueues {
  affected: Probe[];
  unaffected: Probe[];
}

/** What the phases measured. */
interface Phases {
  normal: Samples;
  slow: Samples;
  /** [from, to] of each slow phase, on the history's clock. */
  slowWindows: Array<[number, number]>;
  /** Probe writes that failed. */
  failures: string[];
}

export const clusterSlowLink: Scenario = {
  name: NAME,
  description: '200 ms each way on one inter-node link: no false suspicion, no error, writes slower by one round trip only where a copy is across it',
  async run({ quick, log }) {
    return withFaultCluster({ name: NAME, log, virtualUsers: VIRTUAL_USERS }, async (run) => {
      run.startLoad(false);
      const since = Date.now();
      const changesBefore = await viewChanges(run);
      await sleep(WARMUP_MS);
      const phases = await runPhases(run, await loginProbes(run), quick ? ROUNDS_QUICK : ROUNDS, quick ? PHASE_QUICK_MS : PHASE_MS);
      const suspicions = run.suspicions(since);
      const changes = (await viewChanges(run)) - changesBefore;
      log(`view changes during the run: ${changes}; suspicions: ${suspicions.length}${suspicions.length > 0 ? ` (${suspicions.slice(0, 5).map((s) => JSON.stringify(s)).join('; ')})` : ''}`);
      if (phases.failures.length > 0) log(`failed probe writes: ${phases.failures.length} (${phases.failures.slice(0, 5).join('; ')})`);
      const check = await run.finish();
      return [
        row(NAME, 'false_suspicions', suspicions.length, 'warnings'),
        row(NAME, 'view_changes', changes, 'changes'),
        row(NAME, 'failed_requests', check.failed + phases.failures.length, 'requests'),
        ...writeRows(phases, log),
        ...workloadRows(run.workload.history, phases.slowWindows, log),
        ...finalRows(NAME, check),
      ] satisfies Row[];
    });
  },
};

/** Normal and slow phases, taking turns. */
async function runPhases(run: FaultRun, probes: Probe[], rounds: number, phaseMs: number): Promise<Phases> {
  const queues: ProbeQueues = { affected: probes.filter((p) => p.affected), unaffected: probes.filter((p) => !p.affected) };
  const send = sender(run);
  const phases: Phases = { normal: { affected: [], unaffected: [] }, slow: { affected: [], unaffected: [] }, slowWindows: [], failures: [] };
  const phase = async (slow: boolean): Promise<void> => {
    const samples = await probePhase(queues, send, phaseMs, phases.failures);
    const into = slow ? phases.slow : phases.normal;
    into.affected.push(...samples.affected);
    into.unaffected.push(...samples.unaffected);
    run.log(`${slow ? 'slow' : 'normal'} phase: write p50 affected ${p50(samples.affected).toFixed(1)} ms (${samples.affected.length}), unaffected ${p50(samples.unaffected).toFixed(1)} ms (${samples.unaffected.length})`);
  };
  for (let round = 0; round < rounds; round++) {
    await phase(false);
    await slowLink(run, DELAY_MS);
    const from = clock();
    await phase(true);
    await slowLink(run, 0);
    phases.slowWindows.push([from, clock()]);
  }
  return phases;
}

function p50(values: number[]): number {
  return values.length > 0 ? percentile(values, 50) : Number.NaN;
}

function writeRows(phases: Phases, log: (line: string) => void): Row[] {
  const { normal, slow } = phases;
  const [affected, affectedBase] = [p50(slow.affected), p50(normal.affected)];
  const [unaffected, unaffectedBase] = [p50(slow.unaffected), p50(normal.unaffected)];
  log(`write p50 (samples): affected ${affectedBase.toFixed(1)} ms (${normal.affected.length}) → ${affected.toFixed(1)} ms (${slow.affected.length}); unaffected ${unaffectedBase.toFixed(1)} ms (${normal.unaffected.length}) → ${unaffected.toFixed(1)} ms (${slow.unaffected.length})`);
  return [
    row(NAME, 'write_p50_ms_affected', affected, 'ms', affectedBase),
    row(NAME, 'write_p50_ms_unaffected', unaffected, 'ms', unaffectedBase),
    row(NAME, 'write_added_ms_affected', affected - affectedBase, 'ms', 2 * DELAY_MS),
    row(NAME, 'write_added_ms_unaffected', unaffected - unaffectedBase, 'ms'),
    row(NAME, 'write_probes', normal.affected.length + normal.unaffected.length + slow.affected.length + slow.unaffected.length, 'requests'),
  ];
}

/**
 * The mixed workload's p99 while the link was slow, beside the rest of the
 * run: requests that enter on one end of the link for a partition whose
 * primary is on the other pay its round trip per engine command they forward.
 */
function workloadRows(history: readonly HistoryEntry[], slowWindows: ReadonlyArray<[number, number]>, log: (line: string) => void): Row[] {
  const load = history.filter((e) => e.op !== 'verify');
  const slow = (e: HistoryEntry): boolean => slowWindows.some(([from, to]) => e.invokeMs >= from && e.invokeMs < to);
  const ms = (entries: HistoryEntry[]): number[] => entries.map((e) => e.completeMs - e.invokeMs);
  const [during, outside] = [ms(load.filter(slow)), ms(load.filter((e) => !slow(e)))];
  const slowest = load.filter(slow).sort((a, b) => b.completeMs - b.invokeMs - (a.completeMs - a.invokeMs)).slice(0, 5);
  log(`slowest requests of the mixed workload while the link was slow: ${slowest.map((e) => `${e.op} via ${e.node} ${Math.round(e.completeMs - e.invokeMs)} ms ${e.outcome}`).join('; ')}`);
  return [row(NAME, 'workload_p99_ms_link_slow', percentile(during, 99), 'ms', percentile(outside, 99))];
}

/** Members that joined or left, summed over every node's counter. */
async function viewChanges(run: FaultRun): Promise<number> {
  const counts = await Promise.all(run.cluster.ids.map((id) => run.viewChanges(id)));
  return counts.reduce((sum, c) => sum + c.join + c.leave, 0);
}

/** One session per user of the workload's realm, each with its partition's primary and class. */
async function loginProbes(run: FaultRun): Promise<Probe[]> {
  const table = await run.table();
  const probes: Probe[] = [];
  const users = [...CLUSTER_USERS];
  const login = async (k: number): Promise<void> => {
    for (let user = users.pop(); user !== undefined; user = users.pop()) {
      const target = run.cluster.nodes[k % run.cluster.nodes.length]!.target;
      const { status, body } = await passwordLogin(target, user);
      if (status !== 200) throw new Error(`probe login of ${user} through ${target.id}: ${status} ${JSON.stringify(body)}`);
      const sid = String(body['session_state']);
      const owners = table.owners[partitionOfSessionId(sid)]!;
      probes.push({ sid, refresh: String(body['refresh_token']), primary: owners[0]!, affected: LINK.every((id) => owners.includes(id)) });
    }
  };
  await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, (_, k) => login(k)));
  const affected = probes.filter((p) => p.affected).length;
  run.log(`${probes.length} probe sessions (table version ${table.version}): ${affected} in partitions whose copies are ${LINK.join(' and ')}, ${probes.length - affected} in others`);
  if (affected === 0 || affected === probes.length) throw new Error('the probe sessions do not cover both classes of partition');
  return probes;
}

/**
 * Both classes' writes for `ms`, paced alike whatever their latency (one of
 * each class every PROBE_INTERVAL_MS, each on a probe session not in flight),
 * so that the machine carries the same load in either phase. A probe whose
 * write failed is dropped: its token may be used up.
 */
async function probePhase(queues: ProbeQueues, send: (probe: Probe) => Promise<{ ms: number } | { error: string }>, ms: number, failures: string[]): Promise<Samples> {
  const samples: Samples = { affected: [], unaffected: [] };
  const until = clock() + ms;
  const inFlight: Promise<void>[] = [];
  const write = async (probe: Probe, queue: Probe[], into: number[]): Promise<void> => {
    const result = await send(probe);
    if ('ms' in result) {
      into.push(result.ms);
      queue.push(probe);
    } else {
      failures.push(result.error);
    }
  };
  while (clock() < until) {
    for (const [queue, into] of [[queues.affected, samples.affected], [queues.unaffected, samples.unaffected]] as const) {
      const probe = queue.shift();
      if (probe !== undefined) inFlight.push(write(probe, queue, into));
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  await Promise.all(inFlight);
  return samples;
}

/** One write of a probe session to its partition's primary: its latency, or why it failed. */
function sender(run: FaultRun): (probe: Probe) => Promise<{ ms: number } | { error: string }> {
  return async (probe) => {
    const started = clock();
    const { status, body } = await refreshGrant(run.cluster.node(probe.primary).target, probe.refresh);
    if (status !== 200) return { error: `${probe.primary} ${status} ${JSON.stringify(body).slice(0, 120)}` };
    probe.refresh = String(body['refresh_token']);
    return { ms: clock() - started };
  };
}

/** Delays (ms > 0) or restores (0) every byte between the link's two nodes, both ways. */
async function slowLink(run: FaultRun, ms: number): Promise<void> {
  const [a, b] = LINK;
  for (const id of LINK) await run.cluster.requireKnownSources(id);
  const action = ms > 0 ? { kind: 'delay' as const, ms, jitterMs: 0 } : { kind: 'heal' as const };
  await run.cluster.linkFault(a, b, 'both', action);
  await run.cluster.linkFault(b, a, 'both', action);
  run.log(`${a}↔${b}: ${ms > 0 ? `${ms} ms added each way` : 'restored'} at ${Math.round(clock())} ms (the history's clock)`);
}

