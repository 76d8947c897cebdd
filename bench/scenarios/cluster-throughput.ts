// cluster-throughput: what clustering costs a refresh on one machine.
//
//   cluster_refresh_rps_ratio   refresh_token grants per second of a 3-node
//                               cluster (etcd + 3 processes, --shards 1 each,
//                               owners 2), load spread evenly over the three
//                               nodes, vs one node alone (no etcd, --shards 1),
//                               in the same run, taking turns (>= 0.6x)
//   forward_added_p50_ms        the p50 of a refresh sent to a node that owns
//                               no copy of the session's partition (it forwards
//                               the session command to the primary over gRPC)
//                               minus the p50 of the same refresh sent to the
//                               primary itself; one request at a time, the two
//                               alternating session by session (< 1 ms)
//
// Refresh-token rotation is off (Keycloak's default, as in http-refresh): a
// refresh moves the session's idle clock, which backups receive every touch
// interval rather than before the answer. Every process shares the same two
// cores, so the cluster's three event loops compete with each other and with
// the generator: the ratio is a floor for what separate machines would give.
//
// Both sides are measured warm: each is loaded in windows of WARMUP_WINDOW_S
// until its rate stops rising (no window WARMUP_RISE above the best before
// it, twice in a row). One node warms within a second or two; three nodes
// compiling the same code on two shared cores, with the load on them, took
// 10-25 s (their first seconds at a third to a half of their later rate),
// and a fixed 2 s warm-up measured that climb rather than the cluster. The
// warm-up's windows are logged.

import { performance } from 'node:perf_hooks';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import { percentile } from '../lib/stats.js';
import { combineLoads, describeLoad, runLoad, type LoadResult } from '../http/load.js';
import { stopAll } from '../http/processes.js';
import { errorRows, httpErrorsRow, latencyRows } from '../http/report.js';
import { httpBench, type HttpBench } from '../http/setup.js';
import { startLocalNode, type LocalNode, type Target } from '../http/target.js';
import { LocalCluster, type TableSnapshot } from '../lib/cluster.js';
import { clusterRealm, loginSessions, refreshCycle, refreshOnce, type SessionPool } from '../lib/cluster-sessions.js';
import { partitionOfSessionId } from '../../src/protocol/partition.js';

const NAME = 'cluster-throughput';
const NODES = 3;
const WARMUP_WINDOW_S = 2;
const WARMUP_QUICK_WINDOW_S = 1;
/** A warm-up window counts as still rising when its rate beats the best window before it by this much. */
const WARMUP_RISE = 1.05;
const WARMUP_MIN_WINDOWS = 3;
const WARMUP_MAX_WINDOWS = 20;
const ROUNDS = 2;
const ROUNDS_QUICK = 1;
/** Sessions timed one refresh at a time through their primary and through a forwarding node. */
const LATENCY_SAMPLES = 600;
const LATENCY_SAMPLES_QUICK = 150;
const LOGIN_CONNECTIONS = 8;
const REQUEST_TIMEOUT_MS = 5_000;

export const clusterThroughput: Scenario = {
  name: NAME,
  description: 'refresh rate of a 3-node cluster on one machine vs one node; latency a forwarding node adds',
  async run(options) {
    const b = httpBench(NAME, options);
    const realm = clusterRealm(false);
    let single: LocalNode | null = null;
    let cluster: LocalCluster | null = null;
    try {
      single = await startLocalNode([realm], b.opts, b.log, ['--shards', '1']);
      cluster = await LocalCluster.start({ nodes: NODES, realm, name: NAME, log: b.log, cpuProf: b.opts.cpuProf });
      const sessions = b.opts.users;
      const singlePool = await loginSessions([single.target], sessions, LOGIN_CONNECTIONS, 1, b.log);
      const clusterPool = await loginSessions(cluster.nodes.map((n) => n.target), sessions, LOGIN_CONNECTIONS, 1, b.log);
      const [alone, together] = await takeTurns(b, single, singlePool, cluster, clusterPool);
      const rows: Row[] = [
        row(NAME, 'cluster_refresh_rps_ratio', together!.rps, 'req/s', alone!.rps),
        ...latencyRows(NAME, 'cluster_refresh', together!, alone!),
        ...errorRows(NAME, 'cluster_refresh', together!),
        ...errorRows(NAME, 'single_refresh', alone!),
      ];
      const forward = await forwardLatency(b, cluster, clusterPool);
      rows.push(row(NAME, 'forward_added_p50_ms', forward.viaOther - forward.viaPrimary, 'ms'));
      rows.push(row(NAME, 'forwarded_refresh_p50_ms', forward.viaOther, 'ms', forward.viaPrimary));
      rows.push(httpErrorsRow(NAME, [alone!, together!]));
      return rows;
    } catch (err) {
      if (cluster !== null) b.log(`node output:\n${cluster.outputs()}`);
      throw err;
    } finally {
      await stopAll([single, cluster]);
    }
  },
};

/**
 * The single node (one autocannon run, all connections) and the cluster
 * (one run per node at once, the connections split evenly) take turns:
 * a warm-up each, then ROUNDS rounds of duration/ROUNDS seconds.
 */
async function takeTurns(b: HttpBench, single: LocalNode, singlePool: SessionPool, cluster: LocalCluster, clusterPool: SessionPool): Promise<[LoadResult, LoadResult]> {
  const connections = b.opts.connections;
  const perNode = Math.max(1, Math.round(connections / NODES));
  const aloneRun = (label: string, durationS: number, progress: boolean): Promise<LoadResult> =>
    runLoad({ label, origin: single.target.origin, connections, durationS, requests: [refreshCycle(single.target, singlePool.refresh)], progress: progress ? b.progress : null, serverPid: single.process.pid });
  const clusterRun = async (label: string, durationS: number, progress: boolean): Promise<LoadResult> => {
    const parts = await Promise.all(
      cluster.nodes.map((n, i) => {
        // Each node's generator starts at its own offset of the shared pool.
        const shift = Math.floor((i * clusterPool.refresh.length) / NODES);
        const tokens = [...clusterPool.refresh.slice(shift), ...clusterPool.refresh.slice(0, shift)];
        return runLoad({ label: `${label} ${n.id}`, origin: n.target.origin, connections: perNode, durationS, requests: [refreshCycle(n.target, tokens)], progress: progress && i === 0 ? b.progress : null, serverPid: n.pid });
      }),
    );
    // Three windows of the same length side by side: the rates add up, the latencies pool.
    const merged = combineLoads(label, parts);
    const serverCores = merged.raw.serverCpu === null ? null : merged.raw.serverCpu / durationS;
    return { ...merged, connections: perNode * NODES, seconds: durationS, rps: merged.ok / durationS, serverCores };
  };
  const window = b.quick ? WARMUP_QUICK_WINDOW_S : WARMUP_WINDOW_S;
  await warmUp(b, 'single', (s) => aloneRun('single (warm-up)', s, false), window);
  await warmUp(b, 'cluster', (s) => clusterRun('cluster (warm-up)', s, false), window);
  const rounds = b.quick ? ROUNDS_QUICK : ROUNDS;
  const aloneParts: LoadResult[] = [];
  const clusterParts: LoadResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    aloneParts.push(await aloneRun(`single (${round}/${rounds})`, b.opts.duration / rounds, true));
    clusterParts.push(await clusterRun(`cluster (${round}/${rounds})`, b.opts.duration / rounds, true));
  }
  const alone = combineLoads('single node, --shards 1', aloneParts);
  const clustered = combineLoads(`cluster of ${NODES}, ${perNode} connections per node`, clusterParts);
  b.log(describeLoad(alone));
  b.log(describeLoad(clustered));
  return [alone, clustered];
}

/** Loads one side in windows until its rate stops rising (see the header); logs the windows' rates. */
async function warmUp(b: HttpBench, side: string, load: (seconds: number) => Promise<LoadResult>, windowS: number): Promise<void> {
  const rates: number[] = [];
  let best = 0;
  let flat = 0;
  while (rates.length < WARMUP_MAX_WINDOWS) {
    const { rps } = await load(windowS);
    rates.push(rps);
    flat = rps > best * WARMUP_RISE ? 0 : flat + 1;
    best = Math.max(best, rps);
    if (rates.length >= WARMUP_MIN_WINDOWS && flat >= 2) break;
  }
  b.log(`${side} warm-up: ${rates.length} windows of ${windowS} s, req/s ${rates.map((r) => Math.round(r)).join(', ')}`);
}

/**
 * One refresh at a time: per sampled session, through its partition's
 * primary and through the node that holds no copy, alternating which goes
 * first; medians of both.
 */
async function forwardLatency(b: HttpBench, cluster: LocalCluster, pool: SessionPool): Promise<{ viaPrimary: number; viaOther: number }> {
  const table = await cluster.table();
  const count = Math.min(pool.sid.length, b.quick ? LATENCY_SAMPLES_QUICK : LATENCY_SAMPLES);
  const viaPrimary: number[] = [];
  const viaOther: number[] = [];
  const timed = async (target: Target, token: string): Promise<number> => {
    const started = performance.now();
    const outcome = await refreshOnce(target, token, REQUEST_TIMEOUT_MS);
    const ms = performance.now() - started;
    if (outcome.status !== 200) throw new Error(`refresh through ${target.origin} answered ${outcome.status}: ${outcome.body.slice(0, 200)}`);
    return ms;
  };
  // A few untimed rounds open every connection and warm the paths.
  for (let i = 0; i < Math.min(30, count); i++) {
    const { primary, other } = roles(cluster, table, pool.sid[i]!);
    await timed(primary, pool.refresh[i]!);
    await timed(other, pool.refresh[i]!);
  }
  for (let i = 0; i < count; i++) {
    const { primary, other } = roles(cluster, table, pool.sid[i]!);
    if (i % 2 === 0) {
      viaPrimary.push(await timed(primary, pool.refresh[i]!));
      viaOther.push(await timed(other, pool.refresh[i]!));
    } else {
      viaOther.push(await timed(other, pool.refresh[i]!));
      viaPrimary.push(await timed(primary, pool.refresh[i]!));
    }
  }
  const result = { viaPrimary: percentile(viaPrimary, 50), viaOther: percentile(viaOther, 50) };
  b.log(
    `one refresh at a time over ${count} sessions: p50 ${result.viaPrimary.toFixed(3)} ms through the primary, ` +
      `${result.viaOther.toFixed(3)} ms through a node without a copy (p99 ${percentile(viaPrimary, 99).toFixed(2)} / ${percentile(viaOther, 99).toFixed(2)} ms); ` +
      `table version ${table.version}`,
  );
  return result;
}

function roles(cluster: LocalCluster, table: TableSnapshot, sid: string): { primary: Target; other: Target } {
  const partition = partitionOfSessionId(sid);
  const owners = table.owners[partition]!;
  const outsider = cluster.nodes.find((n) => !owners.includes(n.id) && !table.pending[partition]!.includes(n.id));
  if (outsider === undefined) throw new Error(`partition ${partition}: every node holds a copy (owners ${owners.join(',')})`);
  return { primary: cluster.node(owners[0]!).target, other: outsider.target };
}
