// The cluster under test: a real etcd, N real `node dist/src/main.js`
// processes on 127.0.0.1 … 127.0.0.N, and a fault proxy on every link that
// can fail — one in front of each node's gRPC port (its --grpc-advertise
// points there, so every peer dials it through the proxy) and one in front of
// etcd per node (its --cluster-etcd points there, so one node can be cut from
// etcd alone). The gRPC proxies know which node a connection comes from (the
// process that owns the socket), so faults can be aimed at one direction of
// one link: cut('n1', 'n2') drops every byte n1 sends to n2 and nothing else.
// The proxies run in a child process of their own (proxy-host.ts), so the
// load generator never delays the network.
//
// startCluster(t, ...) registers a teardown that always runs: every process
// killed, every proxy closed, every temp directory removed; when the test
// failed, the node and etcd logs (and the workload history, if given) are
// kept in an artifacts directory first, and its path is logged.
// createCluster(...) builds the same cluster without ava (the bench's fault
// scenarios use it); its caller owns the teardown.

import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { EtcdProcess } from '../helpers/etcd-process.js';
import { cleanEnv, freePorts, run, type Run } from '../helpers/node-process.js';
import { parseExposition, type Sample } from '../helpers/prometheus.js';
import { ProxyHost, type FaultAction, type OpenedProxy } from './proxy-host.js';
import { CLUSTER_REALM_DIR, type Workload, type WorkloadTarget } from './workload.js';

/**
 * The node to test: this build's, or another build's `dist/src/main.js`
 * named by SESSIOND_CLUSTER_TEST_MAIN (to run these scenarios against a
 * branch without rebuilding them there).
 */
const MAIN = process.env['SESSIOND_CLUSTER_TEST_MAIN'] ?? new URL('../../src/main.js', import.meta.url).pathname;
/** One issuer for every node (cluster mode requires --hostname). */
export const CLUSTER_HOSTNAME = 'http://sso.cluster.test';
/** How long a node may take to report ready (start, join, catch up) on a loaded 2-core box. */
export const NODE_READY_TIMEOUT_MS = 60_000;
/** How long a SIGTERM may take (a graceful leave hands partitions over) before SIGKILL. */
const NODE_STOP_TIMEOUT_MS = 20_000;
/** How often readiness is polled. */
const READY_POLL_MS = 50;
/** Deadline of one management request (readiness, metrics). */
const MANAGEMENT_REQUEST_MS = 1_000;

/** Whether this build's node has cluster mode (its --help lists --cluster-etcd). */
export function clusterSupported(): boolean {
  const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8', env: cleanEnv() });
  return `${help.stdout}${help.stderr}`.includes('--cluster-etcd');
}

/** The message a scenario skips with while the node has no cluster mode. */
export const NO_CLUSTER_MODE = 'skipped: `node dist/src/main.js --help` lists no --cluster-etcd (this build has no cluster mode yet)';

export interface NodeSpec {
  id: string;
  host: string;
  httpPort: number;
  managementPort: number;
  dataDir: string;
  /** The whole command line after `node dist/src/main.js`. */
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/** One sessiond process (and its later incarnations on the same data dir and ports). */
export class NodeHandle {
  readonly spec: NodeSpec;
  readonly runs: Run[] = [];
  /** Called after every spawn (the cluster tells its proxies the new process id). */
  onSpawn: (() => Promise<void>) | undefined;
  #run: Run | null = null;

  constructor(spec: NodeSpec) {
    this.spec = spec;
  }

  get id(): string {
    return this.spec.id;
  }

  /** Its public base URL (OIDC and admin endpoints). */
  get url(): string {
    return `http://${this.spec.host}:${this.spec.httpPort}`;
  }

  get managementUrl(): string {
    return `http://${this.spec.host}:${this.spec.managementPort}`;
  }

  get target(): WorkloadTarget {
    return { id: this.id, url: this.url };
  }

  get pid(): number | undefined {
    return this.alive ? this.#run?.child.pid : undefined;
  }

  /** Whether the current process has not exited. */
  get alive(): boolean {
    const c = this.#run?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Spawns the process (does not wait for readiness). */
  async spawn(): Promise<void> {
    if (this.alive) throw new Error(`${this.id} is already running`);
    this.#run = run(this.spec.args, this.spec.env ?? cleanEnv(), { file: process.execPath, args: ['--enable-source-maps', MAIN] });
    this.runs.push(this.#run);
    await this.onSpawn?.();
  }

  /** Resolves when /health/ready answers 200; throws when the process exits first or the time is up. */
  async waitReady(timeoutMs = NODE_READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.ready())) {
      if (!this.alive) {
        const c = this.#run!.child;
        throw new Error(`${this.id} exited (code ${c.exitCode}, signal ${c.signalCode}) before it was ready: ${this.logTail()}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.id} not ready within ${timeoutMs} ms: ${this.logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }

  /** One readiness probe. */
  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.managementUrl}/health/ready`, { signal: AbortSignal.timeout(MANAGEMENT_REQUEST_MS) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Sends a signal; for SIGKILL and SIGTERM, waits until the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const r = this.#run;
    if (r === null || !this.alive) return;
    if (signal === 'SIGTERM') r.child.kill('SIGCONT');
    r.child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      const timer = signal === 'SIGTERM' ? setTimeout(() => r.child.kill('SIGKILL'), NODE_STOP_TIMEOUT_MS) : undefined;
      await r.exit;
      clearTimeout(timer);
    }
  }

  /** How the current process ended (null while it runs). */
  async exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    return this.alive || this.#run === null ? null : this.#run.exit;
  }

  /** Starts it again on the same data directory and ports, and waits until ready. */
  async restart(timeoutMs = NODE_READY_TIMEOUT_MS): Promise<void> {
    if (this.alive) throw new Error(`${this.id} is still running: kill it first`);
    await this.spawn();
    await this.waitReady(timeoutMs);
  }

  /** Every incarnation's stdout and stderr. */
  logs(): string {
    return this.runs.map((r, i) => `=== ${this.id} run ${i + 1} stdout\n${r.stdout()}\n=== ${this.id} run ${i + 1} stderr\n${r.stderr()}\n`).join('');
  }

  /** The JSON log lines of every incarnation, parsed. */
  logEntries(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const r of this.runs) {
      for (const line of r.stdout().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          out.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut by a kill -9
        }
      }
    }
    return out;
  }

  logTail(chars = 3000): string {
    const r = this.runs.at(-1);
    return r === undefined ? '(never started)' : `${r.stdout().slice(-chars)}\n${r.stderr().slice(-chars)}`;
  }

  /** The samples of its /metrics right now, of the metrics `names` only when given (undefined when it does not answer). */
  async metrics(names?: readonly string[]): Promise<Sample[] | undefined> {
    try {
      const res = await fetch(metricsUrl(this.managementUrl, names), { signal: AbortSignal.timeout(MANAGEMENT_REQUEST_MS) });
      if (res.status !== 200) return undefined;
      return parseExposition(await res.text()).samples;
    } catch {
      return undefined;
    }
  }

  /** One metric's value (the sum over samples matching the labels), undefined when absent or unreachable. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const samples = await this.metrics([name]);
    return samples === undefined ? undefined : metricValue(samples, name, labels);
  }
}

/** A node's /metrics, narrowed to the metrics `names` when given (a poll then costs the node ~2 ms of CPU instead of ~5.5). */
export function metricsUrl(managementUrl: string, names?: readonly string[]): string {
  if (names === undefined) return `${managementUrl}/metrics`;
  return `${managementUrl}/metrics?${new URLSearchParams(names.map((name): [string, string] => ['name[]', name])).toString()}`;
}

/** A metric's value in one scrape (the sum over samples matching the labels), undefined when absent. */
export function metricValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

export interface ClusterOptions {
  nodes?: number;
  owners?: number;
  shards?: number;
  /** Added to every node's command line (e.g. ['--touch-replication-interval', '1s']). */
  extraArgs?: string[];
  realmDir?: string;
  logLevel?: string;
  /** A workload whose history goes into the artifacts of a failed test. */
  workload?: () => Workload | undefined;
  /** The scenario's own log (measures, decisions), kept with the artifacts of a failed test. */
  notes?: () => string;
  /** Environment variables added to a node's (e.g. a fault planted in one node). */
  nodeEnv?: (id: string) => Record<string, string> | undefined;
}

export class Cluster {
  readonly name: string;
  readonly etcd: EtcdProcess;
  readonly nodes: NodeHandle[];
  /** The child process that runs every proxy. */
  readonly proxies: ProxyHost;
  /** Per node: the proxy in front of its gRPC port (what its peers dial). */
  readonly grpcProxies: Map<string, OpenedProxy>;
  /** Per node: the proxy in front of etcd (what its --cluster-etcd names). */
  readonly etcdProxies: Map<string, OpenedProxy>;
  readonly root: string;
  #tornDown = false;

  constructor(init: { name: string; etcd: EtcdProcess; nodes: NodeHandle[]; proxies: ProxyHost; grpcProxies: Map<string, OpenedProxy>; etcdProxies: Map<string, OpenedProxy>; root: string }) {
    this.name = init.name;
    this.etcd = init.etcd;
    this.nodes = init.nodes;
    this.proxies = init.proxies;
    this.grpcProxies = init.grpcProxies;
    this.etcdProxies = init.etcdProxies;
    this.root = init.root;
  }

  node(id: string): NodeHandle {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  get ids(): string[] {
    return this.nodes.map((n) => n.id);
  }

  /** Every node as a workload target. */
  targets(): WorkloadTarget[] {
    return this.nodes.map((n) => n.target);
  }

  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.node(id).kill(signal);
  }

  async restart(id: string, timeoutMs?: number): Promise<void> {
    await this.node(id).restart(timeoutMs);
  }

  /** Waits until every running node (default: all) reports ready. */
  async waitReady(ids: readonly string[] = this.ids, timeoutMs?: number): Promise<void> {
    await Promise.all(ids.map((id) => this.node(id).waitReady(timeoutMs)));
  }

  /** Spawns every node and waits until each reports ready. */
  async start(): Promise<void> {
    for (const n of this.nodes) await n.spawn();
    await this.waitReady();
  }

  /** Drops every byte `from` sends to `to` (both on connections `from` opened and on those `to` opened). */
  async cut(from: string, to: string): Promise<void> {
    await this.requireKnownSources(from);
    await this.requireKnownSources(to);
    await this.linkFault(from, to, 'up', { kind: 'blackhole' });
    await this.proxies.fault({ proxy: this.#grpc(from), source: to, direction: 'down', action: { kind: 'blackhole' } });
  }

  /** Undoes cut(from, to). */
  async uncut(from: string, to: string): Promise<void> {
    await this.linkFault(from, to, 'up', { kind: 'heal' });
    await this.proxies.fault({ proxy: this.#grpc(from), source: to, direction: 'down', action: { kind: 'heal' } });
  }

  /** Cuts every link between the two groups, both ways. */
  async partition(a: readonly string[], b: readonly string[]): Promise<void> {
    for (const x of a) {
      for (const y of b) {
        await this.cut(x, y);
        await this.cut(y, x);
      }
    }
  }

  /**
   * A fault on the connections `from` opened to `to` (up = the bytes from
   * sends, down = the bytes to answers on them), e.g. a delay on one link.
   */
  async linkFault(from: string, to: string, direction: 'up' | 'down' | 'both', action: FaultAction): Promise<void> {
    await this.proxies.fault({ proxy: this.#grpc(to), source: from, direction, action });
  }

  /** Cuts one node from etcd (silently: its etcd connections stall, nothing is closed). */
  async cutFromEtcd(id: string): Promise<void> {
    await this.proxies.fault({ proxy: this.#etcdProxy(id), direction: 'both', action: { kind: 'blackhole' } });
  }

  /** Heals every network fault: all gRPC links and every node's etcd link. */
  async healNetwork(): Promise<void> {
    for (const p of [...this.grpcProxies.values(), ...this.etcdProxies.values()]) await this.proxies.heal(p.name);
  }

  /** Stops etcd (SIGTERM); the nodes see its connections close and new ones refused. */
  async stopEtcd(): Promise<void> {
    await this.etcd.stop();
  }

  /** Starts etcd again on the same data and ports. */
  async startEtcd(): Promise<void> {
    await this.etcd.restart();
  }

  /** Samples one metric on every node (undefined for a node that does not answer). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<Map<string, number | undefined>> {
    const values = await Promise.all(this.nodes.map((n) => n.metric(name, labels)));
    return new Map(this.nodes.map((n, i) => [n.id, values[i]]));
  }

  /** Polls until `check` holds (or throws after timeoutMs); returns the time it took. */
  async until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, pollMs = 50): Promise<number> {
    const started = performance.now();
    for (;;) {
      if (await check()) return performance.now() - started;
      if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * A link fault reaches only connections whose source the proxy could name:
   * one it could not would silently keep flowing, and the scenario would
   * test nothing. Refuse to pretend.
   */
  async requireKnownSources(id: string): Promise<void> {
    const unknown = (await this.proxies.sources(this.#grpc(id))).get(undefined) ?? 0;
    if (unknown > 0) throw new Error(`${unknown} connection(s) to ${id}'s gRPC proxy come from no known node process: a link fault could not reach them`);
  }

  #grpc(id: string): string {
    const p = this.grpcProxies.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p.name;
  }

  #etcdProxy(id: string): string {
    const p = this.etcdProxies.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p.name;
  }

  /** The process of every node, for the gRPC proxies' classifier. */
  async syncPids(): Promise<void> {
    await this.proxies.setPids(new Map(this.nodes.map((n) => [n.id, n.pid])));
  }

  /** Writes every log into `dir`. */
  async saveLogs(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const n of this.nodes) await writeFile(join(dir, `${n.id}.log`), n.logs());
    await writeFile(join(dir, 'etcd.log'), this.etcd.log());
  }

  /** Kills everything and removes every temp directory (once; later calls do nothing). */
  async teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL').catch(() => {})));
    await this.proxies.close().catch(() => {});
    await this.etcd.cleanup().catch(() => {});
    await rm(this.root, { recursive: true, force: true });
  }
}

/** The command line of node i (1-based) of a cluster, as the cluster-mode contract spells it. */
export function clusterNodeArgs(o: {
  etcdUrl: string; name: string; id: string; host: string; httpPort: number; managementPort: number; grpcPort: number; advertise: string;
  dataDir: string; shards: number; owners: number; realmDir: string; logLevel: string; extraArgs: readonly string[];
}): string[] {
  return [
    '--cluster-etcd', o.etcdUrl, '--cluster-name', o.name, '--node-id', o.id,
    '--host', o.host, '--http-port', String(o.httpPort), '--management-port', String(o.managementPort),
    '--grpc-port', String(o.grpcPort), '--grpc-advertise', o.advertise,
    '--hostname', CLUSTER_HOSTNAME, '--data-dir', o.dataDir, '--shards', String(o.shards), '--owners', String(o.owners),
    '--import-realm', o.realmDir, '--log-level', o.logLevel,
    // Every virtual user logs in from 127.0.0.1: the per-address login limit would throttle the load.
    '--login-rate-limit', '0',
    ...o.extraArgs,
  ];
}

/**
 * Keeps the logs (and history) of a failed test — of every test when
 * SESSIOND_CLUSTER_KEEP_ARTIFACTS=1 — and always removes everything else.
 */
async function onTeardown(t: ExecutionContext, save: (dir: string) => Promise<void>, cleanup: () => Promise<void>): Promise<void> {
  try {
    if (!t.passed || process.env['SESSIOND_CLUSTER_KEEP_ARTIFACTS'] === '1') {
      const base = process.env['SESSIOND_CLUSTER_ARTIFACTS'] ?? tmpdir();
      await mkdir(base, { recursive: true });
      const dir = await mkdtemp(join(base, `sessiond-cluster-${t.title.replace(/[^a-zA-Z0-9]+/g, '-').slice(0, 60)}-`));
      await save(dir);
      t.log(`logs and history kept in ${dir}`);
    }
  } finally {
    await cleanup();
  }
}

/**
 * Starts etcd and the proxies and prepares N nodes (not spawned yet: `start()`
 * spawns them). Outside ava too (the bench's fault scenarios): whoever calls
 * it owns the teardown; a failure on the way tears down what was made.
 */
export async function createCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.nodes ?? 3;
  const name = `sessiond-test-${process.pid}`;
  const root = await mkdtemp(join(tmpdir(), 'sessiond-cluster-'));
  let etcd: EtcdProcess;
  try {
    etcd = await EtcdProcess.start({ name: 'etcd', dataDir: join(root, 'etcd') });
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  const nodes: NodeHandle[] = [];
  const grpcProxies = new Map<string, OpenedProxy>();
  const etcdProxies = new Map<string, OpenedProxy>();
  const cluster = new Cluster({ name, etcd, nodes, proxies: ProxyHost.start(), grpcProxies, etcdProxies, root });
  try {
    for (let i = 1; i <= count; i++) nodes.push(await prepareNode(cluster, i, etcd.clientPort, options));
  } catch (err) {
    await cluster.teardown();
    throw err;
  }
  return cluster;
}

/** Node i (1-based): its two proxies, data directory and command line. */
async function prepareNode(cluster: Cluster, i: number, etcdPort: number, options: ClusterOptions): Promise<NodeHandle> {
  const id = `n${i}`;
  const host = `127.0.0.${i}`;
  const [httpPort, managementPort, grpcPort] = await freePorts(3);
  const grpcProxy = await cluster.proxies.open(`grpc-${id}`, { host, port: grpcPort }, true);
  const etcdProxy = await cluster.proxies.open(`etcd-${id}`, { host: '127.0.0.1', port: etcdPort });
  cluster.grpcProxies.set(id, grpcProxy);
  cluster.etcdProxies.set(id, etcdProxy);
  const dataDir = join(cluster.root, id);
  await mkdir(dataDir, { recursive: true });
  const args = clusterNodeArgs({
    etcdUrl: `http://${etcdProxy.address}`, name: cluster.name, id, host, httpPort, managementPort, grpcPort, advertise: grpcProxy.address,
    dataDir, shards: options.shards ?? 1, owners: options.owners ?? 2, realmDir: options.realmDir ?? CLUSTER_REALM_DIR,
    logLevel: options.logLevel ?? 'info', extraArgs: options.extraArgs ?? [],
  });
  const extraEnv = options.nodeEnv?.(id);
  const node = new NodeHandle({ id, host, httpPort, managementPort, dataDir, args, ...(extraEnv !== undefined ? { env: cleanEnv(extraEnv) } : {}) });
  node.onSpawn = () => cluster.syncPids();
  return node;
}

/** Starts etcd, the proxies and N nodes, and waits until every node is ready; the test's teardown ends them. */
export async function startCluster(t: ExecutionContext, options: ClusterOptions = {}): Promise<Cluster> {
  const cluster = await createCluster(options);
  t.teardown(() =>
    onTeardown(
      t,
      async (dir) => {
        await cluster.saveLogs(dir);
        await options.workload?.()?.writeHistory(join(dir, 'history.jsonl'));
        if (options.notes !== undefined) await writeFile(join(dir, 'scenario.log'), options.notes());
      },
      () => cluster.teardown(),
    ),
  );
  await cluster.start();
  return cluster;
}

/**
 * One ordinary node (no cluster flags) with the cluster realm, through the
 * same NodeHandle the cluster uses: what the workload's own test runs on.
 */
export async function startSingleNode(t: ExecutionContext, extraArgs: string[] = []): Promise<NodeHandle> {
  const root = await mkdtemp(join(tmpdir(), 'sessiond-single-'));
  const [httpPort, managementPort] = await freePorts(2);
  const node = new NodeHandle({
    id: 'n1', host: '127.0.0.1', httpPort, managementPort, dataDir: root,
    args: [
      '--host', '127.0.0.1', '--http-port', String(httpPort), '--management-port', String(managementPort),
      '--hostname', CLUSTER_HOSTNAME, '--data-dir', root, '--shards', '1', '--import-realm', CLUSTER_REALM_DIR,
      '--log-level', 'info', '--login-rate-limit', '0', ...extraArgs,
    ],
  });
  t.teardown(() =>
    onTeardown(
      t,
      async (dir) => writeFile(join(dir, 'n1.log'), node.logs()),
      async () => {
        await node.kill('SIGKILL');
        await rm(root, { recursive: true, force: true });
      },
    ),
  );
  await node.spawn();
  await node.waitReady();
  return node;
}
