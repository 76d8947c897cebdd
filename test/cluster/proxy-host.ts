// The fault proxies of a cluster test, run in a child process of their own.
// They are the network: every etcd keep-alive and every heartbeat between
// the nodes passes through them, so they must not wait behind the load
// generator, the metric polls and the checker of the test process (a stalled
// test process would otherwise delay every proxied byte and make nodes
// suspect each other for nothing). The test process drives them by messages;
// each control resolves once the child has applied it, so a scenario's fault
// time is when the fault is in place. A child process rather than a worker
// thread: at the end it is killed outright, where terminating a worker thread
// can spin forever in Node's handle cleanup when a reset socket never closes.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** How long closing the proxies may take before their process is killed anyway. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Where the proxies listen: a loopback address no node or etcd binds. The
 * harness picks the nodes' ports free and lets them go before the nodes start;
 * a proxy given any free port on the nodes' address could take one meanwhile.
 * (What a node's peers dial, so a node's TLS certificate names it.)
 */
export const PROXY_HOST = '127.0.0.254';

export type FaultAction =
  | { kind: 'delay'; ms: number; jitterMs: number }
  | { kind: 'rate'; bytesPerSecond: number }
  | { kind: 'blackhole' }
  | { kind: 'drop'; probability: number }
  | { kind: 'heal' };

export interface FaultRequest {
  /** The proxy's name (as opened). */
  proxy: string;
  /** Only connections from this source (as the socket-owner classifier names it); default: every connection. */
  source?: string;
  direction: 'up' | 'down' | 'both';
  action: FaultAction;
}

/** What the child understands (proxy-worker.ts). */
export type ProxyCommand =
  | { op: 'open'; name: string; target: { host: string; port: number }; classify: boolean }
  | { op: 'fault'; request: FaultRequest }
  | { op: 'reset'; proxy: string; source?: string }
  | { op: 'heal'; proxy: string }
  | { op: 'sources'; proxy: string }
  | { op: 'pids'; pids: Map<string, number | undefined> }
  | { op: 'closeAll' };

export interface OpenedProxy {
  name: string;
  port: number;
  /** host:port to dial. */
  address: string;
}

export class ProxyHost {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #closed = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    const failAll = (err: Error): void => {
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    child.on('error', failAll);
    child.on('exit', (code, signal) => failAll(new Error(`the proxy process exited (${signal ?? code})`)));
  }

  static start(): ProxyHost {
    // 'advanced' serialization carries Maps (the pids, the per-source counts) as they are.
    const child = fork(fileURLToPath(new URL('./proxy-worker.js', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new ProxyHost(child);
  }

  #call<T>(command: ProxyCommand): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the proxy host is closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, command });
    });
  }

  /** A new proxy on 127.0.0.1 (a free port) in front of `target`; `classify`: name each connection's source node. */
  open(name: string, target: { host: string; port: number }, classify = false): Promise<OpenedProxy> {
    return this.#call({ op: 'open', name, target, classify });
  }

  fault(request: FaultRequest): Promise<void> {
    return this.#call({ op: 'fault', request });
  }

  /** RST both sides of the proxy's current connections (of one source only, if given). */
  reset(proxy: string, source?: string): Promise<void> {
    return this.#call({ op: 'reset', proxy, ...(source !== undefined ? { source } : {}) });
  }

  /** Clears every fault of the proxy (global and per source). */
  heal(proxy: string): Promise<void> {
    return this.#call({ op: 'heal', proxy });
  }

  /** Open connections per source (undefined: the classifier named none). */
  sources(proxy: string): Promise<Map<string | undefined, number>> {
    return this.#call({ op: 'sources', proxy });
  }

  /** The node processes the classifier knows, by label. */
  setPids(pids: Map<string, number | undefined>): Promise<void> {
    return this.#call({ op: 'pids', pids });
  }

  /** Closes every proxy (resetting their connections, for at most a second) and ends the child. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.race([this.#call({ op: 'closeAll' }).catch(() => {}), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS))]);
    this.#closed = true;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }
}
