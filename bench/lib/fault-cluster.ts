// The cluster of the fault scenarios (cluster-coordinator-stop,
// cluster-slow-link, cluster-link-flapping, cluster-touch-lag): the CI
// harness's cluster rather than lib/cluster.ts's, because these faults need
// its network. The same real etcd and 3 node processes (`--shards 1 --owners 2`),
// with a fault proxy on every inter-node link and in front of etcd
// (test/cluster/harness.ts), the CI's bounded mixed workload through random
// nodes with its per-request history (test/cluster/workload.ts), and its
// per-session checker (test/cluster/history-checker.ts). Every scenario ends
// the same way: heal every fault, wait until the cluster is whole (timed),
// stop the load, ask every node about every session, run the checker.
//
// Each run keeps the nodes' logs, etcd's and the workload's history in
// bench/results/<scenario>-logs/, and kills what it started however it ends
// (an exit hook covers a runner that dies midway).

import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createCluster, type Cluster } from '../../test/cluster/harness.js';
import { describe, failedRequests } from '../../test/cluster/availability.js';
import type { Violation } from '../../test/cluster/history-checker.js';
import { ReadinessRouter, waitConverged, METRIC_IS_COORDINATOR, METRIC_VIEW_CHANGES } from '../../test/cluster/topology.js';
import { CLUSTER_REALM_DIR, clock, Workload } from '../../test/cluster/workload.js';
import { tempDir } from '../http/processes.js';
import { writeRealmFile, type RealmSpec } from '../http/realm-file.js';
import type { Target } from '../http/target.js';
import { freshLogDir, readTable, realmTarget, type TableSnapshot } from './cluster.js';
import { row, type Row } from './scenario.js';

/** The workload's realm file, imported beside the scenario's own realms. */
const WORKLOAD_REALM_FILE = 'cluster-realm.json';
/** Three nodes, importing realms and forming the table, on two shared cores. */
const WHOLE_TIMEOUT_MS = 120_000;
/** Load before a fault, so every node holds sessions and every link carries traffic. */
export const WARMUP_MS = 3_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface FaultClusterOptions {
  /** The scenario's name: its log directory. */
  name: string;
  log: (line: string) => void;
  /** Generated realms imported beside the workload's (bulk sessions, probes). */
  realms?: readonly RealmSpec[];
  /** Added to every node's command line. */
  extraArgs?: readonly string[];
  /** The mixed workload's virtual users (default 16); its rate stays at most 150 requests/s. */
  virtualUsers?: number;
}

/** What the end of a run found. */
export interface FinalCheck {
  /** Heal → every node ready, every member alive, nothing pending or under-replicated. */
  settleMs: number;
  violations: Violation[];
  /** Requests of the mixed workload, and those the service failed (5xx, no answer, an unexpected 4xx). */
  requests: number;
  failed: number;
}

/** One scenario's cluster and mixed workload. */
export class FaultRun {
  readonly cluster: Cluster;
  readonly workload: Workload;
  readonly log: (line: string) => void;
  readonly #etcd: Etcd3;
  #router: ReadinessRouter | null = null;

  constructor(cluster: Cluster, log: (line: string) => void, virtualUsers?: number) {
    this.cluster = cluster;
    this.log = log;
    this.workload = new Workload({ targets: cluster.targets(), ...(virtualUsers !== undefined ? { virtualUsers } : {}) });
    this.#etcd = new Etcd3({ hosts: cluster.etcd.clientUrl });
  }

  /**
   * Starts the mixed workload: through the ready nodes only, as a load
   * balancer's health check would route it (`balanced`), or through every node.
   */
  startLoad(balanced: boolean): void {
    this.log(`mixed workload seed ${this.workload.seed} (SESSIOND_WORKLOAD_SEED repeats it), ${balanced ? 'through the ready nodes' : 'through every node'}`);
    this.workload.start();
    if (balanced) {
      this.#router = new ReadinessRouter(this.cluster, this.workload);
      this.#router.start();
    }
  }

  /** The partition table the coordinator last wrote. */
  table(): Promise<TableSnapshot> {
    return readTable(this.#etcd, this.cluster.name);
  }

  /** Node `id` as the load generator's target for a generated realm. */
  target(id: string, realm: RealmSpec): Target {
    return realmTarget(this.cluster.node(id).url, realm);
  }

  /** The node among `ids` that reports itself coordinator, if one does. */
  async coordinator(ids: readonly string[] = this.cluster.ids): Promise<string | undefined> {
    const flags = await Promise.all(ids.map((id) => this.cluster.node(id).metric(METRIC_IS_COORDINATOR)));
    return ids.find((_, i) => flags[i] === 1);
  }

  /** Members that joined and that left the view, as node `id` counted them so far. */
  async viewChanges(id: string): Promise<{ join: number; leave: number }> {
    const node = this.cluster.node(id);
    const [join, leave] = await Promise.all([node.metric(METRIC_VIEW_CHANGES, { reason: 'join' }), node.metric(METRIC_VIEW_CHANGES, { reason: 'leave' })]);
    if (join === undefined || leave === undefined) throw new Error(`${id} did not report ${METRIC_VIEW_CHANGES}`);
    return { join, leave };
  }

  /** `peer suspected` warnings logged by any node at or after `sinceEpochMs` (wall clock, as the logs' `time`). */
  suspicions(sinceEpochMs: number): Array<Record<string, unknown>> {
    return this.cluster.nodes.flatMap((n) =>
      n.logEntries().filter((e) => e['msg'] === 'peer suspected' && Number(e['time']) >= sinceEpochMs).map((e) => ({ node: n.id, ...e })),
    );
  }

  /** Waits until the nodes `ids` (default: all) are whole among themselves; the ms it took. */
  whole(ids: readonly string[] = this.cluster.ids, giveUpMs = WHOLE_TIMEOUT_MS): Promise<number> {
    return waitConverged(this.cluster, ids, giveUpMs);
  }

  /**
   * The end of every fault scenario: heal every network fault, load through
   * every node, wait until the cluster is whole (every node must be running),
   * stop the load, verify every session on every node and run the checker.
   */
  async finish(): Promise<FinalCheck> {
    const healed = clock();
    await this.cluster.healNetwork();
    await this.#router?.stop();
    this.#router = null;
    this.workload.route(this.cluster.ids);
    await this.whole();
    const settleMs = clock() - healed;
    await this.workload.stop();
    await this.workload.verify();
    const violations = this.workload.violations();
    const history = this.workload.history;
    const requests = history.filter((e) => e.op !== 'verify').length;
    const failed = failedRequests(history);
    this.log(`heal → whole in ${Math.round(settleMs)} ms; mixed workload ${JSON.stringify(this.workload.summary())}; ${violations.length} checker violation(s)`);
    for (const v of violations.slice(0, 20)) this.log(`  ${v.property} ${v.session}: ${v.detail}`);
    if (failed.length > 0) this.log(`requests of the mixed workload the service failed: ${describe(failed)}`);
    return { settleMs, violations, requests, failed: failed.length };
  }

  /** Stops the load, keeps the logs and history, ends every process. */
  async close(name: string): Promise<void> {
    await this.#router?.stop();
    await this.workload.stop();
    const dir = freshLogDir(name);
    await this.cluster.saveLogs(dir);
    await this.workload.writeHistory(join(dir, 'history.jsonl'));
    this.log(`node logs, etcd log and workload history: ${dir}/`);
    this.#etcd.close();
    await this.cluster.teardown();
  }

  /** Kills every process at once (the runner is exiting). */
  killNow(): void {
    for (const n of this.cluster.nodes) void n.kill('SIGKILL');
    void this.cluster.etcd.stop('SIGKILL');
  }
}

/** The rows every fault scenario reports from its end. */
export function finalRows(scenario: string, check: FinalCheck): Row[] {
  return [
    row(scenario, 'checker_violations', check.violations.length, 'violations'),
    row(scenario, 'settle_seconds', check.settleMs / 1000, 's'),
    row(scenario, 'workload_requests', check.requests, 'requests'),
    row(scenario, 'workload_failed_requests', check.failed, 'requests'),
  ];
}

/**
 * Runs a scenario's body on a fresh, whole cluster; the cluster is always
 * torn down (and its logs kept) however the body ends.
 */
export async function withFaultCluster<T>(options: FaultClusterOptions, body: (run: FaultRun) => Promise<T>): Promise<T> {
  const realms = await tempDir('fault-realms');
  try {
    await copyFile(join(CLUSTER_REALM_DIR, WORKLOAD_REALM_FILE), join(realms.path, WORKLOAD_REALM_FILE));
    for (const spec of options.realms ?? []) await writeRealmFile(realms.path, spec);
    const run = new FaultRun(await createCluster({ realmDir: realms.path, extraArgs: [...(options.extraArgs ?? [])] }), options.log, options.virtualUsers);
    const onExit = (): void => run.killNow();
    process.once('exit', onExit);
    try {
      const started = clock();
      await run.cluster.start();
      await run.whole();
      options.log(`etcd and ${run.cluster.nodes.length} nodes behind fault proxies, whole in ${Math.round(clock() - started)} ms`);
      return await body(run);
    } finally {
      process.removeListener('exit', onExit);
      await run.close(options.name);
    }
  } finally {
    await realms.remove();
  }
}
