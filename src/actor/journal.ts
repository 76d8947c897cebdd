// Journal: the crash safety of one shard's online sessions. Owner: the shard
// actor, alone; it writes only the partitions its shard holds.
//
// Every lifecycle record the shard decides (session created, client attached
// or detached, refresh with rotation, session removed by a command, realm
// cleared) is appended under its (partition, seq) key, and the replies of the
// turn that produced it are released only once LMDB has committed it. lmdb-js
// gathers the puts issued while its previous commit is under way into the next
// transaction, so a busy shard commits many requests' records together (group
// commit) and an idle one commits each at once. Idle-clock moves (touches,
// refreshes without rotation) are coalesced per session in memory and written
// at most every JOURNAL_TOUCH_FLUSH_MS, overwriting the session's previous
// entry: a kill -9 loses at most that much idle time, which can only make a
// session look idle sooner, never resurrect one.
//
// On disk, in the node's LMDB environment:
//
//   journal          [partition, seq]          -> Mutation   (lifecycle records since the partition's snapshot)
//   journal-touches  [partition, id, client]   -> epoch s    (latest idle clock; client '' = the user session)
//   online-chunks    [partition, n]            -> bytes      (the snapshot: the partition's sessions as records,
//                                                             packed like state-transfer chunks)
//   online-seq       partition                 -> seq        (the last record the partition's snapshot holds)
//
// A snapshot is the records that recreate the partition's sessions (what a
// state transfer sends), packed in chunks of msgpackr records whose shapes
// are defined once per chunk (transfer-chunks.ts): start-up decodes a session
// in about half a microsecond, where a value per session, each carrying its
// own shape, took several. Snapshots written before (schema version 1: one
// `online-snapshot` value per session) are still read, and replaced at the
// partition's next compaction.
//
// Compaction keeps the journal short: once a partition has more records since
// its snapshot than max(JOURNAL_COMPACT_RECORDS_MIN, its sessions), its
// sessions are written as a new snapshot and its journal and touches deleted,
// in ONE transaction built from the table's state in the same turn (so the
// snapshot is exactly the state at that seq). Start-up reads each partition's
// snapshot, applies its journal in seq order, then its touches.
//
// Expiry is not journaled: a session that expired is dropped again by the
// validity check at start-up (its clocks cannot have moved after it ended), as
// Keycloak's persistent sessions are checked when read.
//
// Durability: a commit is in the OS's page cache when its promise resolves
// (lmdb-js overlappingSync), so it survives the process being killed; the
// flush to disk follows in the background (see docs/durability.md).

import type { Database } from 'lmdb';
import { PARTITION_COUNT } from '../constants.js';
import type { SessionView } from '../protocol/actor-messages.js';
import { MUTATION, type Mutation } from '../protocol/mutations.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';

/** Idle-clock moves are written at most this often (ms): the most a kill -9 can lose of an idle clock. */
export const JOURNAL_TOUCH_FLUSH_MS = 1000;
/** A partition is compacted once its journal holds more records than this, or than its sessions if more. */
export const JOURNAL_COMPACT_RECORDS_MIN = 512;

/** The version of the per-session snapshot values of schema version 1 (still read). */
export const SNAPSHOT_RECORD_VERSION = 1;

/** A session as a schema version 1 snapshot kept it. */
export interface OnlineSnapshotRecord {
  v: number;
  session: SessionView;
  chains: Record<string, Record<string, RefreshChain>> | null;
}

/** What start-up reads for one partition: its snapshot, then the records and touches after it. */
export interface PartitionLog {
  /** The snapshot, as packed chunks of records (transfer-chunks.ts), not yet decoded. */
  chunks: Uint8Array[];
  /** A snapshot written by schema version 1, if the partition has not been compacted since. */
  legacy: OnlineSnapshotRecord[];
  records: Mutation[];
  touches: Mutation[];
  /** The seq of the partition's last record, on disk (snapshot or journal). */
  seq: number;
}

type TouchKey = [number, string, string];

export class Journal {
  readonly #env: LmdbEnv;
  readonly #records: Database<Mutation, [number, number]>;
  readonly #touches: Database<number, TouchKey>;
  readonly #chunks: Database<Uint8Array, [number, number]>;
  readonly #legacy: Database<OnlineSnapshotRecord, [number, string]>;
  readonly #snapshotSeq: Database<number, number>;
  /** Records appended since the partition's snapshot. */
  readonly #sinceSnapshot = new Int32Array(PARTITION_COUNT);
  /** Coalesced idle clocks: key `partition\0id\0client` -> [partition, id, client, time]. */
  #pendingTouches = new Map<string, [number, string, string, number]>();
  #touchesFlushedAtMs = 0;
  #lastWrite: Promise<unknown> | null = null;
  #writes = 0;

  constructor(env: LmdbEnv) {
    this.#env = env;
    this.#records = env.db(DB.journal);
    this.#touches = env.db(DB.journalTouches);
    this.#chunks = env.db(DB.onlineChunks);
    this.#legacy = env.db(DB.online);
    this.#snapshotSeq = env.db(DB.onlineSeq);
  }

  /** Lifecycle records appended so far; a turn compares it before and after to know whether to wait. */
  get writes(): number {
    return this.#writes;
  }

  /** Resolves when every record appended so far is committed. */
  get committed(): Promise<unknown> {
    return this.#lastWrite ?? Promise.resolve();
  }

  /** Appends a lifecycle record under (partition, seq). */
  append(partition: number, seq: number, m: Mutation): void {
    this.#lastWrite = this.#records.put([partition, seq], m);
    this.#writes++;
    this.#sinceSnapshot[partition]!++;
  }

  /** Remembers an idle-clock move; written by the next flushTouches. */
  touch(partition: number, id: string, client: string, at: number): void {
    const key = `${partition}\u0000${id}\u0000${client}`;
    const pending = this.#pendingTouches.get(key);
    if (pending === undefined) this.#pendingTouches.set(key, [partition, id, client, at]);
    else if (at > pending[3]) pending[3] = at;
  }

  /** Writes the coalesced idle clocks when JOURNAL_TOUCH_FLUSH_MS has passed (or now, if `force`). */
  flushTouches(nowMs: number, force = false): Promise<unknown> | null {
    if (this.#pendingTouches.size === 0) return null;
    if (!force && nowMs - this.#touchesFlushedAtMs < JOURNAL_TOUCH_FLUSH_MS) return null;
    this.#touchesFlushedAtMs = nowMs;
    const pending = this.#pendingTouches;
    this.#pendingTouches = new Map();
    let last: Promise<unknown> | null = null;
    for (const [partition, id, client, at] of pending.values()) last = this.#touches.put([partition, id, client], at);
    return last;
  }

  /** Does the partition's journal call for a compaction, given how many sessions it holds? */
  wantsCompaction(partition: number, sessions: number): boolean {
    return this.#sinceSnapshot[partition]! > Math.max(JOURNAL_COMPACT_RECORDS_MIN, sessions);
  }

  /**
   * Replaces the partition's snapshot by `chunks` (its sessions' records,
   * packed, when its records have reached `seq`) and deletes its journal and
   * touches, in one transaction. Idle clocks still coalesced in memory stay
   * pending: they are newer. With no chunks this consumes the partition's
   * state on disk.
   */
  compact(partition: number, seq: number, chunks: readonly Uint8Array[]): Promise<unknown> {
    this.#sinceSnapshot[partition] = 0;
    return this.#env.root.transaction(() => {
      for (const key of this.#legacy.getKeys({ start: [partition], end: [partition, '\uffff'] })) this.#legacy.remove(key);
      for (const key of this.#chunks.getKeys({ start: [partition], end: [partition + 1] })) this.#chunks.remove(key);
      chunks.forEach((chunk, n) => this.#chunks.put([partition, n], chunk));
      for (const key of this.#records.getKeys({ start: [partition, 0], end: [partition, seq + 1] })) this.#records.remove(key);
      for (const key of this.#touches.getKeys({ start: [partition], end: [partition, '\uffff'] })) this.#touches.remove(key);
      this.#snapshotSeq.put(partition, seq);
    });
  }

  /** Start-up: what to replay for a partition, and the seq its records continue from. */
  read(partition: number): PartitionLog {
    const snapshotSeq = this.#snapshotSeq.get(partition) ?? 0;
    const chunks: Uint8Array[] = [];
    for (const { value } of this.#chunks.getRange({ start: [partition], end: [partition + 1] })) chunks.push(value);
    const legacy: OnlineSnapshotRecord[] = [];
    for (const { value } of this.#legacy.getRange({ start: [partition], end: [partition, '\uffff'] })) {
      if (value !== null && typeof value === 'object' && value.v === SNAPSHOT_RECORD_VERSION) legacy.push(value);
    }
    const records: Mutation[] = [];
    let seq = snapshotSeq;
    for (const { key, value } of this.#records.getRange({ start: [partition, snapshotSeq + 1], end: [partition, Number.MAX_SAFE_INTEGER] })) {
      records.push(value);
      seq = key[1];
    }
    const touches: Mutation[] = [];
    for (const { key, value } of this.#touches.getRange({ start: [partition], end: [partition, '\uffff'] })) {
      const [, id, client] = key;
      touches.push(
        client === ''
          ? { k: MUTATION.sessionTouched, id, lastSessionRefresh: value }
          : { k: MUTATION.clientRefreshed, id, client, at: value, chainKey: null, chain: null },
      );
    }
    this.#sinceSnapshot[partition] = records.length;
    return { chunks, legacy, records, touches, seq };
  }

  /** Writes what is pending and waits for every commit (graceful shutdown). */
  async close(): Promise<void> {
    await this.flushTouches(0, true);
    await this.committed;
  }
}
