// A real etcd for tests: Debian's `etcd` binary on 127.0.0.1, free ports, a
// temp data directory, one member. Start it, wait until /health says so,
// stop it (SIGTERM), kill it (SIGKILL), freeze it (SIGSTOP/SIGCONT), start it
// again on the same ports and data, and remove everything at the end. With
// `tls` it serves clients over https:// only and requires a client
// certificate of the given CA (etcd's --client-cert-auth).
//
// etcd 3.4 has no --unsafe-no-fsync; a fresh one-member etcd on loopback is
// healthy in well under a second anyway (it elects itself at once with
// --initial-election-tick-advance, the default).

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './node-process.js';
import type { NodePki } from './test-pki.js';

/** The binary Debian's etcd-server package installs. */
export const ETCD_BINARY = process.env['SESSIOND_TEST_ETCD'] ?? 'etcd';
/** How long a start may take before the test gives up (a loaded 2-core CI box included). */
const ETCD_START_TIMEOUT_MS = 20_000;
/** How long a SIGTERM may take before the process is killed. */
const ETCD_STOP_TIMEOUT_MS = 5_000;
/** How often /health is polled while waiting. */
const ETCD_HEALTH_POLL_MS = 50;
/** How long one /health poll may take. */
const ETCD_HEALTH_TIMEOUT_MS = 1_000;
/** The log kept in memory (the tail, for error messages and failed-test artifacts). */
const ETCD_LOG_KEEP_CHARS = 256 * 1024;

export interface EtcdOptions {
  /** The member name (also in the peer URL map). */
  name?: string;
  /** An existing data directory to use; default: a new temp one, removed by cleanup(). */
  dataDir?: string;
  /**
   * Serve clients over TLS with this certificate and key (naming 127.0.0.1
   * for clients that check it), and accept only clients presenting a
   * certificate of its CA. The helper's own /health polls present the same
   * certificate.
   */
  tls?: NodePki;
}

export class EtcdProcess {
  readonly name: string;
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly tls: NodePki | null;
  /** More of etcd's flags, used from the next (re)start on (a test changes what etcd accepts). */
  extraArgs: string[] = [];
  #child: ChildProcess | null = null;
  #exit: Promise<void> = Promise.resolve();
  #log = '';
  readonly #ownsDataDir: boolean;

  private constructor(name: string, dataDir: string, ownsDataDir: boolean, tls: NodePki | null, clientPort: number, peerPort: number) {
    this.name = name;
    this.tls = tls;
    this.dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  /** Starts a one-member etcd and resolves once it answers healthy. */
  static async start(options: EtcdOptions = {}): Promise<EtcdProcess> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sessiond-etcd-')));
    const etcd = new EtcdProcess(options.name ?? 'etcd-test', dataDir, options.dataDir === undefined, options.tls ?? null, ...(await freePorts(2)) as [number, number]);
    try {
      await etcd.restart();
    } catch (err) {
      await etcd.cleanup();
      throw err;
    }
    return etcd;
  }

  /** The client URL (what `etcd3`'s `hosts` and a node's --cluster-etcd take). */
  get clientUrl(): string {
    return `${this.tls === null ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** etcd's own log (the last 256 KiB). */
  log(): string {
    return this.#log;
  }

  /** Starts the process (again) on the same ports and data directory; resolves when healthy. */
  async restart(): Promise<void> {
    if (this.#child !== null) throw new Error('etcd is already running');
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(ETCD_BINARY, [
      '--name', this.name,
      '--data-dir', join(this.dataDir, 'member-data'),
      '--listen-client-urls', this.clientUrl, '--advertise-client-urls', this.clientUrl,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${this.name}=${peer}`, '--initial-cluster-state', 'new',
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
      ...(this.tls === null ? [] : ['--cert-file', this.tls.cert, '--key-file', this.tls.key, '--trusted-ca-file', this.tls.ca, '--client-cert-auth']),
      ...this.extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const append = (chunk: string): void => {
      this.#log += chunk;
      if (this.#log.length > ETCD_LOG_KEEP_CHARS) this.#log = this.#log.slice(-ETCD_LOG_KEEP_CHARS);
    };
    child.stdout!.setEncoding('utf8').on('data', append);
    child.stderr!.setEncoding('utf8').on('data', append);
    let spawnError: Error | null = null;
    this.#exit = new Promise<void>((resolve) => {
      child.on('error', (err) => {
        spawnError = err;
        if (this.#child === child) this.#child = null;
        resolve();
      });
      child.on('close', () => {
        if (this.#child === child) this.#child = null;
        resolve();
      });
    });
    const deadline = Date.now() + ETCD_START_TIMEOUT_MS;
    while (!(await this.healthy())) {
      if (spawnError !== null) throw new Error(`cannot run ${ETCD_BINARY} (install Debian's etcd-server): ${String(spawnError)}`);
      if (this.#child !== child) throw new Error(`etcd exited during start: ${this.#log.slice(-2000)}`);
      if (Date.now() > deadline) {
        await this.stop('SIGKILL');
        throw new Error(`etcd not healthy within ${ETCD_START_TIMEOUT_MS} ms: ${this.#log.slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, ETCD_HEALTH_POLL_MS));
    }
  }

  /** Whether /health answers {"health":"true"} right now. */
  async healthy(): Promise<boolean> {
    try {
      const { status, body } = this.tls === null ? await fetchJson(`${this.clientUrl}/health`) : await getJsonOverTls(`${this.clientUrl}/health`, this.tls);
      return status === 200 && (body as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }

  /** Sends a signal without waiting (SIGSTOP/SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void {
    if (this.#child === null) throw new Error('etcd is not running');
    this.#child.kill(signal);
  }

  /** Ends the process (SIGTERM by default, SIGKILL after a grace period) and waits for it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill('SIGCONT'); // a frozen etcd cannot act on SIGTERM
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), ETCD_STOP_TIMEOUT_MS);
    await this.#exit;
    clearTimeout(timer);
  }

  /** Kills the process (if running) and removes the data directory this helper created. */
  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.#ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

async function fetchJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ETCD_HEALTH_TIMEOUT_MS) });
  return { status: res.status, body: await res.json() };
}

/**
 * fetchJson over TLS, presenting the certificate of `tls` (fetch takes no CA
 * or client certificate). The server's certificate must chain to the CA but
 * need not name 127.0.0.1: a test may give etcd one that names another host.
 */
function getJsonOverTls(url: string, tls: NodePki): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const files = { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    const req = httpsGet(url, { ...files, agent: false, checkServerIdentity: () => undefined }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${url} within ${ETCD_HEALTH_TIMEOUT_MS} ms`)), ETCD_HEALTH_TIMEOUT_MS);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
  });
}
