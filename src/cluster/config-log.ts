// ConfigLog: the cluster's realms, clients, roles, users and keys (and the
// revoked access-token ids) as one ordered log of writes in etcd (`config/log/…`, one key per write, ordered
// by etcd revision). Every member applies the log in revision order to its
// own LMDB realm store, so every member holds the same configuration; an
// applied revision is remembered in the data directory, so a restart applies
// only what it missed.
//
// A write (an admin call, a realm import) is committed to etcd first and
// answers only after this node applied it — with the apply's own outcome, so
// a conflict (two nodes creating the same realm at once) fails the later
// writer on every node alike — and after every live member reported (on the
// heartbeat stream) having applied it, or 1 s passed: a member that lags
// longer turns not-ready until it catches up (cluster-member.ts).
//
// etcd unreachable: a write fails with ERR_CONFIG_UNAVAILABLE once etcd has
// not taken it within 2 s; the configuration already applied keeps serving.

import { randomUUID } from 'node:crypto';
import type { IKeyValue, Namespace, Watcher } from 'etcd3';
import { Packr, Unpackr } from 'msgpackr';
import type { Logger } from 'pino';
import { EngineError } from '../errors.js';
import type { ConfigLog as StoreLog, ConfigOp } from '../realm/realm-store.js';
import type { RevocationLog, RevokeTokenOp } from '../tokens/revoked-tokens.js';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';

const LOG = 'config/log/';
/** How long a write waits for the other members to apply it before answering anyway. */
export const CONFIG_APPLY_WAIT_MS = 1_000;
const APPLIED_KEY = 'configRevision';
/** How long a write may wait for etcd to take it. */
const COMMIT_DEADLINE_MS = 2_000;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** Everything the log carries: configuration writes and access-token revocations. */
export type SharedOp = ConfigOp | RevokeTokenOp;

export interface ConfigLogOptions {
  ns: Namespace;
  /** Applies an op on this node (the realm store, or the revoked-token ids). */
  apply(op: SharedOp): Promise<void>;
  env: LmdbEnv;
  log: Logger;
  /** The applied revisions the other live members last reported. */
  peerRevisions(): number[];
}

interface Pending {
  resolve(): void;
  reject(err: unknown): void;
}

export class EtcdConfigLog implements StoreLog, RevocationLog {
  readonly #options: ConfigLogOptions;
  #applied = 0;
  #chain: Promise<void> = Promise.resolve();
  readonly #pending = new Map<string, Pending>();
  readonly #appliedWaiters: { revision: number; resolve(): void }[] = [];
  #watcher: Watcher | null = null;
  #behindSinceMs: number | null = null;

  constructor(options: ConfigLogOptions) {
    this.#options = options;
    this.#applied = options.env.db<number>(DB.meta).get(APPLIED_KEY) ?? 0;
  }

  /** The log revision this node has applied. */
  get applied(): number {
    return this.#applied;
  }

  /** Applies what this node missed, then follows the log. */
  async start(): Promise<void> {
    const all = await this.#options.ns.getAll().prefix(LOG).sort('Create', 'Ascend').exec();
    for (const kv of all.kvs) this.#enqueue(kv);
    await this.#chain;
    this.#advance(Number(all.header.revision));
    this.#watcher = await this.#options.ns.watch().prefix(LOG).startRevision(String(Number(all.header.revision) + 1)).create();
    this.#watcher.on('put', (kv) => this.#enqueue(kv));
    this.#watcher.on('data', (res) => {
      const revision = Number(res.header.revision);
      void this.#chain.then(() => this.#advance(revision));
    });
  }

  async commit(op: SharedOp): Promise<void> {
    const key = `${LOG}${randomUUID()}`;
    const applied = new Promise<void>((resolve, reject) => this.#pending.set(key, { resolve, reject }));
    // The watch may apply (and refuse) the write before etcd's answer to the put arrives.
    applied.catch(() => {});
    let revision: number;
    try {
      const res = await this.#options.ns.put(key).value(packr.pack(op)).options({ deadline: Date.now() + COMMIT_DEADLINE_MS }).exec();
      revision = Number(res.header.revision);
    } catch (err) {
      this.#pending.delete(key);
      throw new EngineError('ERR_CONFIG_UNAVAILABLE', `etcd did not take the change: ${(err as Error).message}`);
    }
    await applied;
    await this.#othersApplied(revision);
  }

  close(): void {
    void this.#watcher?.cancel().catch(() => {});
  }

  /** Whether a write seen in the log has waited more than CONFIG_APPLY_WAIT_MS to be applied here (the node reports not-ready). */
  get lagging(): boolean {
    return this.#behindSinceMs !== null && Date.now() - this.#behindSinceMs > CONFIG_APPLY_WAIT_MS;
  }

  #enqueue(kv: IKeyValue): void {
    const revision = Number(kv.mod_revision);
    if (revision > this.#applied && this.#behindSinceMs === null) this.#behindSinceMs = Date.now();
    this.#chain = this.#chain.then(() => this.#apply(kv, revision));
  }

  async #apply(kv: IKeyValue, revision: number): Promise<void> {
    const key = kv.key.toString();
    const pending = this.#pending.get(key);
    this.#pending.delete(key);
    if (revision <= this.#applied) {
      pending?.resolve();
      return;
    }
    try {
      await this.#options.apply(unpackr.unpack(kv.value) as SharedOp);
      pending?.resolve();
    } catch (err) {
      if (pending !== undefined) pending.reject(err);
      else this.#options.log.debug({ err: (err as Error).message, revision }, 'configuration change refused here as on its writer');
    }
    this.#advance(revision);
  }

  #advance(revision: number): void {
    if (revision <= this.#applied) return;
    this.#applied = revision;
    this.#behindSinceMs = null;
    void this.#options.env.db<number>(DB.meta).put(APPLIED_KEY, revision);
    for (let i = this.#appliedWaiters.length - 1; i >= 0; i--) {
      const waiter = this.#appliedWaiters[i]!;
      if (waiter.revision <= revision) {
        this.#appliedWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Waits (bounded) until every other live member reports `revision` applied. */
  async #othersApplied(revision: number): Promise<void> {
    const deadline = Date.now() + CONFIG_APPLY_WAIT_MS;
    while (Date.now() < deadline) {
      if (this.#options.peerRevisions().every((r) => r >= revision)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.#options.log.warn({ revision }, 'a member has not applied a configuration change within 1 s; it reports not-ready until it has');
  }
}
