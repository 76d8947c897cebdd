// A local sessiond cluster for the cluster-* scenarios: one etcd (Debian's
// /usr/bin/etcd, temp data dir, free loopback ports) and N node processes,
// node i on its own address 127.0.0.i (every 127/8 address binds on Linux
// without setup), all importing one generated realm, `--shards 1` each (three
// nodes of main thread + one shard on a 2-core machine). Nodes can be signalled
// (kill -9, SIGSTOP/SIGCONT, SIGTERM) and started again on their data
// directory; `stop()` always tears everything down and removes the temp
// directory, also after a failure (processes.ts's exit hook kills what is left
// if the runner itself dies).
//
// Read-only views into the cluster for the measurements: the partition table
// (the JSON at etcd key /<cluster>/table, read with the etcd3 client the
// nodes use), each node's /metrics and /health/ready.

import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { partitionOfSessionId } from '../../src/protocol/partition.js';
import { freePorts, profileArgs, ServerProcess, tempDir } from '../http/processes.js';
import { writeRealmFile, type RealmSpec } from '../http/realm-file.js';
import { basicAuthorization, type Target } from '../http/target.js';

const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
/** dist/bench/lib/cluster.js -> bench/results/ of the source tree (git-ignored). */
const RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
const ETCD_BIN = '/usr/bin/etcd';
/** etcd answers its first request within a second or two; a loaded machine gets room. */
const ETCD_READY_TIMEOUT_MS = 30_000;
/** Three nodes importing one realm and forming the table on two shared cores. */
export const CLUSTER_READY_TIMEOUT_MS = 120_000;
const READY_POLL_MS = 100;
/** The issuer every node signs under: one --hostname for the whole cluster. */
const HOSTNAME = 'http://sso.bench.test';

export interface ClusterNodeSpec {
  id: string;
  host: string;
  httpPort: number;
  managementPort: number;
  grpcPort: number;
  dataDir: string;
}

export class ClusterNode {
  readonly spec: ClusterNodeSpec;
  readonly target: Target;
  process: ServerProcess | null = null;
  readonly #args: string[];
  readonly #nodeArgs: string[];
  readonly #logFile: string;

  constructor(spec: ClusterNodeSpec, args: string[], realm: RealmSpec, logFile: string, nodeArgs: string[] = []) {
    this.spec = spec;
    this.#args = args;
    this.#nodeArgs = nodeArgs;
    this.#logFile = logFile;
    this.target = realmTarget(`http://${spec.host}:${spec.httpPort}`, realm);
  }

  get id(): string {
    return this.spec.id;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return this.process?.running === true;
  }

  get managementUrl(): string {
    return `http://${this.spec.host}:${this.spec.managementPort}`;
  }

  /** Starts the node process (again, on the same data directory and ports). */
  start(): void {
    if (this.running) throw new Error(`${this.id} is already running`);
    this.process = ServerProcess.start(this.id, MAIN_JS, this.#args, { nodeArgs: this.#nodeArgs });
    // Every run of the node appends its whole output: the evidence when a scenario finds a fault.
    const file = createWriteStream(this.#logFile, { flags: 'a' });
    file.write(`--- ${new Date().toISOString()} start ${this.id} pid ${String(this.process.pid)}\n`);
    this.process.child.stdout?.pipe(file, { end: false });
    this.process.child.stderr?.pipe(file, { end: false });
    void this.process.exited.then((code) => file.end(`--- ${new Date().toISOString()} ${this.id} exited (code ${String(code)})\n`));
  }

  /** Sends a signal; SIGKILL also waits until the process is gone. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const proc = this.process;
    if (proc === null || !proc.running) throw new Error(`${this.id} is not running`);
    proc.child.kill(signal);
    if (signal === 'SIGKILL') await proc.exited;
  }

  /** SIGTERM (graceful leave) and wait for the exit. */
  async stop(): Promise<void> {
    // A stopped process would never act on SIGTERM.
    if (this.running) this.process!.child.kill('SIGCONT');
    await this.process?.stop();
  }

  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.managementUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** The node's Prometheus text, of the metrics `names` only when given (a poll then costs the node less). */
  async metrics(names?: readonly string[]): Promise<string> {
    const query = names === undefined ? '' : `?${new URLSearchParams(names.map((name): [string, string] => ['name[]', name])).toString()}`;
    const res = await fetch(`${this.managementUrl}/metrics${query}`, { signal: AbortSignal.timeout(5_000) });
    if (res.status !== 200) throw new Error(`${this.id} /metrics answered ${res.status}`);
    return res.text();
  }
}

/** A node at `origin` as the load generator's target for a generated realm. */
export function realmTarget(origin: string, realm: RealmSpec): Target {
  return {
    origin,
    basePath: '',
    client: realm.client,
    secret: realm.secret,
    usersPrefix: realm.usersPrefix,
    password: realm.password,
    users: realm.users,
    local: true,
    authorization: basicAuthorization(realm.client, realm.secret),
  };
}

/** bench/results/<scenario>-logs/, emptied: where a scenario's node logs go. */
export function freshLogDir(scenario: string): string {
  const dir = `${RESULTS_DIR}${scenario}-logs`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The partition table the coordinator of cluster `name` last wrote (etcd key /<name>/table). */
export async function readTable(client: Etcd3, name: string): Promise<TableSnapshot> {
  const json = await client.get(`/${name}/table`).string();
  if (json === null) throw new Error('no partition table in etcd yet');
  return JSON.parse(json) as TableSnapshot;
}

/** The primary of a session's partition under `table`. */
export function primaryOf(table: TableSnapshot, sessionId: string): string {
  return table.owners[partitionOfSessionId(sessionId)]![0]!;
}

/** The sum of a metric's samples (every label set) in Prometheus text, 0 when absent. */
export function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    sum += Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface TableSnapshot {
  version: number;
  members: string[];
  owners: string[][];
  pending: string[][];
}

export interface ClusterOptions {
  nodes: number;
  realm: RealmSpec;
  /** A prefix for the cluster's etcd namespace (made unique per run). */
  name: string;
  log: (line: string) => void;
  extraArgs?: readonly string[];
  /** Directory for the nodes' CPU profiles (node --cpu-prof, written at a graceful stop), or null. */
  cpuProf?: string | null;
}

/** A running readiness watch (LocalCluster.watchReadiness). */
export interface ReadinessWatch {
  /** Ends the watch: per node, the milliseconds it answered not-ready (polls × interval), and each such answer. */
  stop(): Promise<{ notReadyMs: Map<string, number>; events: string[] }>;
}

export class LocalCluster {
  readonly name: string;
  readonly nodes: ClusterNode[];
  readonly #etcd: ServerProcess;
  readonly #client: Etcd3;
  readonly #dir: { path: string; remove: () => Promise<void> };
  readonly #log: (line: string) => void;

  private constructor(name: string, nodes: ClusterNode[], etcd: ServerProcess, client: Etcd3, dir: { path: string; remove: () => Promise<void> }, log: (line: string) => void) {
    this.name = name;
    this.nodes = nodes;
    this.#etcd = etcd;
    this.#client = client;
    this.#dir = dir;
    this.#log = log;
  }

  /** etcd, then every node; resolves when every node reports ready. */
  static async start(options: ClusterOptions): Promise<LocalCluster> {
    const dir = await tempDir('cluster');
    let etcd: ServerProcess | null = null;
    let client: Etcd3 | null = null;
    const nodes: ClusterNode[] = [];
    try {
      const [clientPort, peerPort] = await freePorts(2);
      const clientUrl = `http://127.0.0.1:${clientPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;
      etcd = startEtcd(join(dir.path, 'etcd'), clientUrl, peerUrl);
      client = new Etcd3({ hosts: clientUrl });
      await waitForEtcd(client, etcd);
      const realmDir = join(dir.path, 'realms');
      await mkdir(realmDir);
      await writeRealmFile(realmDir, options.realm);
      const name = `${options.name}-${process.pid}-${Date.now().toString(36)}`;
      const logDir = freshLogDir(options.name);
      options.log(`node logs: ${logDir}/<node>.log`);
      for (let i = 1; i <= options.nodes; i++) {
        const host = `127.0.0.${i}`;
        // Ports the kernel picks on 127.0.0.1: nothing else binds them on another loopback address.
        const [httpPort, managementPort, grpcPort] = (await freePorts(3)) as [number, number, number];
        const spec: ClusterNodeSpec = {
          id: `n${i}`,
          host,
          httpPort,
          managementPort,
          grpcPort,
          dataDir: join(dir.path, `data-n${i}`),
        };
        const args = [
          '--cluster-etcd', clientUrl,
          '--cluster-name', name,
          '--node-id', spec.id,
          '--host', host,
          '--http-port', String(spec.httpPort),
          '--management-port', String(spec.managementPort),
          '--grpc-port', String(spec.grpcPort),
          '--hostname', HOSTNAME,
          '--data-dir', spec.dataDir,
          '--shards', '1',
          '--owners', '2',
          '--import-realm', realmDir,
          // Info: the cluster's view and table changes, no per-request lines.
          '--log-level', 'info',
          // The load generator is one address: per-address login admission would refuse most of its logins.
          '--login-rate-limit', '0',
          ...(options.extraArgs ?? []),
        ];
        nodes.push(new ClusterNode(spec, args, options.realm, join(logDir, `${spec.id}.log`), profileArgs(options.cpuProf ?? null)));
      }
      const cluster = new LocalCluster(name, nodes, etcd, client, dir, options.log);
      const started = Date.now();
      for (const node of nodes) node.start();
      await cluster.waitReady(CLUSTER_READY_TIMEOUT_MS);
      options.log(`cluster ${name}: etcd ${clientUrl} and ${nodes.length} nodes ready in ${Date.now() - started} ms`);
      return cluster;
    } catch (err) {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      client?.close();
      await etcd?.stop().catch(() => {});
      await dir.remove();
      throw err;
    }
  }

  node(id: string): ClusterNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Resolves when every running node (or those given) answers ready; the error names the laggards with their output. */
  async waitReady(timeoutMs: number, nodes: readonly ClusterNode[] = this.nodes): Promise<number> {
    const started = Date.now();
    for (;;) {
      const dead = nodes.filter((n) => !n.running);
      if (dead.length > 0) throw new Error(`node(s) ${dead.map((n) => n.id).join(', ')} exited; output:\n${dead.map((n) => n.process?.output() ?? '').join('\n')}`);
      const states = await Promise.all(nodes.map((n) => n.ready()));
      if (states.every((s) => s)) return Date.now() - started;
      if (Date.now() - started > timeoutMs) {
        const late = nodes.filter((_, i) => !states[i]);
        throw new Error(`node(s) ${late.map((n) => n.id).join(', ')} not ready after ${timeoutMs} ms; output:\n${late.map((n) => `${n.id}:\n${n.process?.output() ?? ''}`).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  }

  /**
   * Polls the readiness of the nodes `watched()` lists (asked before every
   * round, as a load balancer's health check would) every `pollMs`, and
   * charges each round a node answers not-ready to that node: what an
   * operator's load balancer would have taken out of rotation, and for how long.
   */
  watchReadiness(watched: () => readonly ClusterNode[], pollMs: number): ReadinessWatch {
    const notReadyMs = new Map<string, number>();
    const events: string[] = [];
    const started = performance.now();
    let watching = true;
    const loop = (async () => {
      while (watching) {
        const nodes = watched();
        const states = await Promise.all(nodes.map((n) => n.ready()));
        nodes.forEach((n, i) => {
          if (states[i]) return;
          notReadyMs.set(n.id, (notReadyMs.get(n.id) ?? 0) + pollMs);
          events.push(`${n.id} at +${Math.round(performance.now() - started)} ms`);
        });
        await new Promise((r) => setTimeout(r, pollMs));
      }
    })();
    return {
      async stop() {
        watching = false;
        await loop;
        return { notReadyMs, events };
      },
    };
  }

  /** The partition table the coordinator last wrote. */
  async table(): Promise<TableSnapshot> {
    return readTable(this.#client, this.name);
  }

  /** Every node's process output kept so far (for the log when something failed). */
  outputs(): string {
    return this.nodes.map((n) => `--- ${n.id}:\n${n.process?.output() ?? '(not started)'}`).join('\n');
  }

  async stop(): Promise<void> {
    try {
      await Promise.allSettled(this.nodes.map((n) => n.stop()));
      this.#client.close();
      await this.#etcd.stop();
    } finally {
      await this.#dir.remove();
      this.#log(`cluster ${this.name} stopped`);
    }
  }
}

function startEtcd(dataDir: string, clientUrl: string, peerUrl: string): ServerProcess {
  return ServerProcess.adopt('etcd', spawn(ETCD_BIN, [
    '--name', 'default',
    '--data-dir', dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `default=${peerUrl}`,
    '--log-level', 'warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

async function waitForEtcd(client: Etcd3, etcd: ServerProcess): Promise<void> {
  const deadline = Date.now() + ETCD_READY_TIMEOUT_MS;
  for (;;) {
    if (!etcd.running) throw new Error(`etcd exited; output:\n${etcd.output()}`);
    try {
      await client.get('probe').string();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`etcd not answering after ${ETCD_READY_TIMEOUT_MS} ms: ${(err as Error).message}\n${etcd.output()}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
}

/**
 * Runs a scenario's body on a fresh cluster. What the body hands to
 * `stopFirst` (its background workload) is stopped before the cluster,
 * whatever happens; a failure logs the nodes' output before it is rethrown.
 */
export async function withCluster<T>(options: ClusterOptions, body: (cluster: LocalCluster, stopFirst: (part: { stop(): Promise<unknown> }) => void) => Promise<T>): Promise<T> {
  const cluster = await LocalCluster.start(options);
  const first: { stop(): Promise<unknown> }[] = [];
  try {
    return await body(cluster, (part) => first.push(part));
  } catch (err) {
    options.log(`node output:\n${cluster.outputs()}`);
    throw err;
  } finally {
    for (const part of first) await part.stop();
    await cluster.stop();
  }
}
