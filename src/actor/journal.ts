// Journal: the crash safety of one shard's online sessions. Owner: the shard
// actor, alone; it writes only the partitions its shard holds.
//
// Every lifecycle record the shard decides (session created, client attached
// or detached, refresh with rotation, session removed by a command, realm
// cleared) is appended to the shard's log, and the replies of the turn that
// produced it are released once the turn's records are written: one frame
// per turn, written to the shard's segment file at the end of the turn (a
// write() into the OS's page cache, which survives the process being killed;
// flushed to disk about JOURNAL_SYNC_MS later, see store/journal-segments.ts).
// Idle-clock moves (touches, refreshes without rotation) are coalesced per
// session in memory and written to LMDB at most every
// JOURNAL_TOUCH_FLUSH_MS, overwriting the session's previous entry. A touch
// that moved its clock by more than that (a session used again after a
// while) is written apart instead, within LONG_TOUCH_WRITE_MS, so a kill -9
// loses only clock moves of at most JOURNAL_TOUCH_FLUSH_MS (and long ones of
// its last LONG_TOUCH_WRITE_MS); that can only make a session look idle
// sooner, never resurrect one.
//
// On disk:
//
//   <data-dir>/journal/<shards>-<shard>-<n>.log  frames of [{p, s, m}, ...]  (the records of one turn, in append order:
//                                                             partition, its seq, the record; positions count records)
//   journal-touches  [partition, id, client]   -> epoch s    (LMDB: latest idle clock; client '' = the user session)
//   online-chunks    [partition, k]            -> bytes      (LMDB: the snapshot: the partition's sessions as records,
//                                                             packed like state-transfer chunks)
//   online-seq       partition                 -> seq        (LMDB: the last record the partition's snapshot holds)
//
// A snapshot is the records that recreate the partition's sessions (what a
// state transfer sends), packed in chunks of msgpackr records whose shapes
// are defined once per chunk (transfer-chunks.ts): start-up decodes a session
// in about half a microsecond, where a value per session, each carrying its
// own shape, took several.
//
// Compaction keeps the log short. A partition with more records since its
// snapshot than max(JOURNAL_COMPACT_RECORDS_MIN, its sessions) gets a new
// snapshot, built from the table's state in the same turn (so it is exactly
// the state at that seq), written in ONE LMDB transaction with its touches
// deleted; and when the log holds more than max(JOURNAL_LOG_RECORDS_MIN, the
// shard's sessions) records, the partition with the oldest record not yet in
// a snapshot is compacted, so that the log's head moves on: the oldest record
// some partition still needs (a fuzzy checkpoint: every record before it is
// in its partition's snapshot). Once the snapshots are flushed to disk, the
// segments wholly before the head are deleted. Start-up reads each
// partition's snapshot, then the log once, in its order (each partition's
// records are in seq order in it: appended so, and kept so when re-keyed),
// applying the records newer than their partition's snapshot as each frame
// is decoded, then each partition's touches.
//
// Earlier layouts are still read. Schema versions 2 and 3 kept the log in
// LMDB (`journal-log`, [shard, n] -> a turn's records, or one record in
// version 2): start-up reads it with the segments, and it is deleted once
// every partition it held records for has been compacted. Schema version 1
// kept a snapshot value per session (`online-snapshot`) and the journal keyed
// by partition (`journal`): both are deleted at the partition's next
// compaction. Segments (and an LMDB log) written with another shard count
// are moved into the LMDB log under the new count once, before the shards
// start (store/journal-log.ts).
//
// Expiry is not journaled: a session that expired is dropped again by the
// validity check at start-up (its clocks cannot have moved after it ended), as
// Keycloak's persistent sessions are checked when read.

import type { Database } from 'lmdb';
import { performance } from 'node:perf_hooks';
import { LONG_TOUCH_WRITE_MS, PARTITION_COUNT } from '../constants.js';
import type { SessionView } from '../protocol/actor-messages.js';
import { MUTATION, type Mutation } from '../protocol/mutations.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';
import { journalDirOf, logRecords, type LogEntry, type LogKey, type LogValue } from '../store/journal-log.js';
import { LogSegments } from '../store/journal-segments.js';

/** Idle-clock moves are written at most this often (ms): the most a kill -9 can lose of an idle clock. */
export const JOURNAL_TOUCH_FLUSH_MS = 1000;
/** A partition is compacted once its journal holds more records than this, or than its sessions if more. */
export const JOURNAL_COMPACT_RECORDS_MIN = 512;
/** The log's head moves on (its oldest partition is compacted) once it holds more records than this, or than the shard's sessions if more. */
export const JOURNAL_LOG_RECORDS_MIN = 65_536;

/** A frame holds at most this many records (a turn that removes a large realm's sessions writes several). */
export const JOURNAL_FRAME_RECORDS_MAX = 4096;

/** The version of the per-session snapshot values of schema version 1 (still read). */
export const SNAPSHOT_RECORD_VERSION = 1;

/** A session as a schema version 1 snapshot kept it. */
export interface OnlineSnapshotRecord {
  v: number;
  session: SessionView;
  chains: Record<string, Record<string, RefreshChain>> | null;
}

/** What start-up reads first for one partition: its snapshot (the log's records and the touches after it come later). */
export interface PartitionBase {
  /** The snapshot, as packed chunks of records (transfer-chunks.ts), not yet decoded. */
  chunks: Uint8Array[];
  /** A snapshot written by schema version 1, if the partition has not been compacted since. */
  legacy: OnlineSnapshotRecord[];
  /** Schema version 1's journal records after the snapshot, in seq order. */
  records: Mutation[];
  /** The seq they reach. */
  seq: number;
}

type TouchKey = [number, string, string];
const NONE = -1;

export class Journal {
  readonly #env: LmdbEnv;
  readonly #shard: number;
  readonly #segments: LogSegments;
  /** Schema versions 2 and 3's log in LMDB: read at start-up, deleted once its partitions are compacted. */
  readonly #legacyLogDb: Database<LogValue, LogKey>;
  readonly #legacyJournal: Database<Mutation, [number, number]>;
  readonly #touches: Database<number, TouchKey>;
  readonly #chunks: Database<Uint8Array, [number, number]>;
  readonly #legacySnapshot: Database<OnlineSnapshotRecord, [number, string]>;
  readonly #snapshotSeq: Database<number, number>;
  /** Records appended since the partition's snapshot. */
  readonly #sinceSnapshot = new Int32Array(PARTITION_COUNT);
  /** 0 when the disk is known to hold nothing of the partition (erased, and nothing written since); 1 when it may. */
  readonly #mayHold = new Uint8Array(PARTITION_COUNT).fill(1);
  /** Per partition, the log position of its oldest record not in its snapshot, or NONE. */
  readonly #oldest = new Float64Array(PARTITION_COUNT).fill(NONE);
  /** The next log position, and the first one a snapshot does not yet cover for every partition (positions count records). */
  #next: number;
  #head: number;
  /** Records appended and not yet written, written as one frame by flush(). */
  #turn: LogEntry[] = [];
  #turnAt = 0;
  /** Coalesced idle clocks: key `partition\0id\0client` -> [partition, id, client, time]. */
  #pendingTouches = new Map<string, [number, string, string, number]>();
  #touchesFlushedAtMs = 0;
  /** Long idle-clock moves, written apart from the coalesced ones (see touch). */
  #dueTouches: [number, string, string, number][] = [];
  #dueWrittenAtMs = -Infinity;
  /**
   * What this shard's part of the LMDB log (schema versions 2-3) still holds:
   * the held partitions replay() found records of, not yet compacted
   * (`pending`); it is deleted with the last one's compaction. null: it
   * holds nothing.
   */
  #legacyLog: { scanned: boolean; pending: Set<number> } | null = null;
  /** Whether schema version 1's databases still hold something (nothing writes them any more). */
  readonly #legacy: boolean;

  /** `segmentBytes`: the size at which a new segment starts (tests use small ones). */
  constructor(env: LmdbEnv, shard: number, shardCount: number, segmentBytes?: number) {
    this.#env = env;
    this.#shard = shard;
    this.#segments = new LogSegments(journalDirOf(env), shardCount, shard, segmentBytes);
    this.#legacyLogDb = env.db(DB.journalLog);
    this.#legacyJournal = env.db(DB.journal);
    this.#touches = env.db(DB.journalTouches);
    this.#chunks = env.db(DB.onlineChunks);
    this.#legacySnapshot = env.db(DB.online);
    this.#snapshotSeq = env.db(DB.onlineSeq);
    this.#next = this.#segments.next;
    this.#head = this.#segments.first;
    // A disk that holds no online sessions at all (a new member's, cleared at start-up) needs no erasing before a transfer fills a copy.
    const none = (db: Database<any, any>): boolean => db.getKeysCount({ limit: 1 }) === 0;
    if (this.#legacyLogDb.getKeysCount({ start: [shard, 0], end: [shard, Number.MAX_SAFE_INTEGER], limit: 1 }) > 0) {
      this.#legacyLog = { scanned: false, pending: new Set() };
    }
    this.#legacy = !(none(this.#legacySnapshot) && none(this.#legacyJournal));
    const logEmpty = this.#head === this.#next && this.#legacyLog === null;
    if (logEmpty && !this.#legacy && [this.#chunks, this.#snapshotSeq, this.#touches].every(none)) this.#mayHold.fill(0);
  }

  /** Appends a lifecycle record of a partition, with its seq; flush() writes the turn's records together. */
  append(partition: number, seq: number, m: Mutation): void {
    if (this.#turn.length >= JOURNAL_FRAME_RECORDS_MAX) this.#flushOrWarn();
    if (this.#turn.length === 0) {
      this.#turnAt = this.#next;
      // Records appended outside a batch (none wait for a reply) are written at the end of the turn.
      queueMicrotask(() => this.#flushOrWarn());
    }
    this.#next++;
    this.#turn.push({ p: partition, s: seq, m });
    this.#sinceSnapshot[partition]!++;
    this.#mayHold[partition] = 1;
    if (this.#oldest[partition] === NONE) this.#oldest[partition] = this.#turnAt;
  }

  /**
   * Writes the records appended since the last flush as one frame. Throws if
   * the log cannot be written; the records stay, and are written ahead of the
   * next turn's (so the log never skips one).
   */
  flush(): void {
    if (this.#turn.length === 0) return;
    this.#segments.append(this.#turnAt, this.#turn);
    this.#turn = [];
  }

  #flushOrWarn(): void {
    try {
      this.flush();
    } catch (err) {
      process.emitWarning(`journal: writing the log failed, retried with the next turn: ${(err as Error).message}`);
    }
  }

  /**
   * Remembers an idle-clock move, coalesced per session and client until the
   * next interval's flush. A move of more than JOURNAL_TOUCH_FLUSH_MS (`jump`,
   * seconds: a session used again after a while) is written apart, by the
   * first flush LONG_TOUCH_WRITE_MS after the last such write, so that what
   * a kill -9 loses are moves of at most that much (and long ones of the last
   * LONG_TOUCH_WRITE_MS); a busy session's short moves still merge.
   */
  touch(partition: number, id: string, client: string, at: number, jump: number): void {
    this.#mayHold[partition] = 1;
    const key = `${partition}\u0000${id}\u0000${client}`;
    if (jump * 1000 > JOURNAL_TOUCH_FLUSH_MS) {
      this.#pendingTouches.delete(key);
      this.#dueTouches.push([partition, id, client, at]);
      return;
    }
    const pending = this.#pendingTouches.get(key);
    if (pending === undefined) this.#pendingTouches.set(key, [partition, id, client, at]);
    else if (at > pending[3]) pending[3] = at;
  }

  /** Long moves waiting for their write (the shard runs a turn for them LONG_TOUCH_WRITE_MS later). */
  get longTouchesWaiting(): boolean {
    return this.#dueTouches.length > 0;
  }

  /**
   * Writes the long moves when LONG_TOUCH_WRITE_MS has passed since the last
   * such write, and the coalesced idle clocks when JOURNAL_TOUCH_FLUSH_MS has
   * (both now, if `force`).
   */
  flushTouches(nowMs: number, force = false): Promise<unknown> | null {
    let last: Promise<unknown> | null = null;
    if (this.#dueTouches.length > 0 && (force || performance.now() - this.#dueWrittenAtMs >= LONG_TOUCH_WRITE_MS)) {
      this.#dueWrittenAtMs = performance.now();
      for (const [partition, id, client, at] of this.#dueTouches) last = this.#writeTouch(partition, id, client, at);
      this.#dueTouches = [];
    }
    if (this.#pendingTouches.size === 0) return last;
    if (!force && nowMs - this.#touchesFlushedAtMs < JOURNAL_TOUCH_FLUSH_MS) return last;
    this.#touchesFlushedAtMs = nowMs;
    const pending = this.#pendingTouches;
    this.#pendingTouches = new Map();
    for (const [partition, id, client, at] of pending.values()) last = this.#writeTouch(partition, id, client, at);
    return last;
  }

  /** Writes an idle clock; the disk now holds something of the partition (a clock coalesced before the partition was erased, too). */
  #writeTouch(partition: number, id: string, client: string, at: number): Promise<unknown> {
    this.#mayHold[partition] = 1;
    return this.#touches.put([partition, id, client], at);
  }

  /** Whether the disk may hold something of the partition (false: erased, and nothing written since). */
  mayHold(partition: number): boolean {
    return this.#mayHold[partition] === 1;
  }

  /** Does the partition's journal call for a compaction, given how many sessions it holds? */
  wantsCompaction(partition: number, sessions: number): boolean {
    return this.#sinceSnapshot[partition]! > Math.max(JOURNAL_COMPACT_RECORDS_MIN, sessions);
  }

  /** The partition holding the log's head back, when the log has grown past max(JOURNAL_LOG_RECORDS_MIN, `sessions`); else -1. */
  holdingHead(sessions: number): number {
    if (this.#next - this.#head <= Math.max(JOURNAL_LOG_RECORDS_MIN, sessions)) return NONE;
    return this.#oldestPartition();
  }

  #oldestPartition(): number {
    let partition = NONE;
    for (let p = 0; p < PARTITION_COUNT; p++) {
      const n = this.#oldest[p]!;
      if (n !== NONE && (partition === NONE || n < this.#oldest[partition]!)) partition = p;
    }
    return partition;
  }

  /**
   * Replaces the partition's snapshot by `chunks` (its sessions' records,
   * packed, when its records have reached `seq`) and deletes its touches and
   * the log's head up to the oldest record another partition still needs, in
   * one transaction. Idle clocks still coalesced in memory stay pending: they
   * are newer. With no chunks this consumes the partition's state on disk.
   */
  compact(partition: number, seq: number, chunks: readonly Uint8Array[]): Promise<unknown> {
    this.#sinceSnapshot[partition] = 0;
    this.#oldest[partition] = NONE;
    // Nothing to erase where the disk holds nothing of the partition (a copy a transfer just filled).
    const held = this.#mayHold[partition] === 1;
    this.#mayHold[partition] = chunks.length > 0 ? 1 : 0;
    const oldest = this.#oldestPartition();
    const [from, to] = [this.#head, oldest === NONE ? this.#next : this.#oldest[oldest]!];
    this.#head = to;
    const dropLegacyLog = this.#legacyLogCompacted(partition);
    const shard = this.#shard;
    const committed = this.#env.root.transaction(() => {
      if (held && this.#legacy) {
        for (const key of this.#legacySnapshot.getKeys({ start: [partition], end: [partition, '\uffff'] })) this.#legacySnapshot.remove(key);
        for (const key of this.#legacyJournal.getKeys({ start: [partition, 0], end: [partition, seq + 1] })) this.#legacyJournal.remove(key);
      }
      if (held) for (const key of this.#chunks.getKeys({ start: [partition], end: [partition + 1] })) this.#chunks.remove(key);
      chunks.forEach((chunk, k) => this.#chunks.put([partition, k], chunk));
      if (held) for (const key of this.#touches.getKeys({ start: [partition], end: [partition, '\uffff'] })) this.#touches.remove(key);
      if (dropLegacyLog) for (const key of this.#legacyLogDb.getKeys({ start: [shard, 0], end: [shard, Number.MAX_SAFE_INTEGER] })) this.#legacyLogDb.remove(key);
      this.#snapshotSeq.put(partition, seq);
    });
    // The segments the head passed go once the snapshots that replace them are on disk, not only committed.
    if (from < to) {
      void committed
        .then(() => this.#env.root.flushed)
        .then(() => this.#segments.dropBefore(to))
        .catch((err: unknown) => process.emitWarning(`journal: deleting log segments before ${to} failed: ${(err as Error).message}`));
    }
    return committed;
  }

  /** A partition is compacted: whether the LMDB log (schema versions 2-3) can go now, no partition read from it waiting for its snapshot. */
  #legacyLogCompacted(partition: number): boolean {
    const legacyLog = this.#legacyLog;
    if (legacyLog === null || !legacyLog.scanned) return false;
    legacyLog.pending.delete(partition);
    if (legacyLog.pending.size > 0) return false;
    this.#legacyLog = null;
    return true;
  }

  /**
   * Start-up, first: a partition's snapshot (and schema version 1's records
   * after it), and the seq they reach. Then replay() gives the log's newer
   * records, then touches() the idle clocks.
   */
  read(partition: number): PartitionBase {
    const snapshotSeq = this.#snapshotSeq.get(partition) ?? 0;
    const chunks: Uint8Array[] = [];
    for (const { value } of this.#chunks.getRange({ start: [partition], end: [partition + 1] })) chunks.push(value);
    const legacy: OnlineSnapshotRecord[] = [];
    for (const { value } of this.#legacySnapshot.getRange({ start: [partition], end: [partition, '\uffff'] })) {
      if (value !== null && typeof value === 'object' && value.v === SNAPSHOT_RECORD_VERSION) legacy.push(value);
    }
    const records: Mutation[] = [];
    let seq = snapshotSeq;
    for (const { key, value } of this.#legacyJournal.getRange({ start: [partition, snapshotSeq + 1], end: [partition, Number.MAX_SAFE_INTEGER] })) {
      records.push(value);
      seq = key[1];
    }
    this.#sinceSnapshot[partition] = records.length;
    return { chunks, legacy, records, seq };
  }

  /**
   * Start-up, once read() gave every held partition's base: the shard's log
   * (the LMDB log of schema versions 2-3 if it holds some, then the
   * segments), in log order, which is each partition's seq order. Each
   * record of a partition in `seq` (the held ones, with the seq their base
   * reached) newer than that goes to `apply` as decoded (not yet validated)
   * and advances it; older ones (in the snapshot, or present twice after an
   * interrupted re-keying) are skipped. Records are decoded a frame at a time
   * and applied at once, so none outlives its frame.
   */
  replay(seq: Map<number, number>, apply: (record: unknown) => void): void {
    const snapshotSeq = new Float64Array(PARTITION_COUNT);
    for (const { key, value } of this.#snapshotSeq.getRange()) snapshotSeq[key] = value;
    /** Whether a record newer than its partition's snapshot is to be applied (its partition held, past what was applied); counts it. */
    const newer = (entry: LogEntry): boolean => {
      const reached = seq.get(entry.p);
      if (reached === undefined || entry.s <= reached) return false;
      seq.set(entry.p, entry.s);
      this.#sinceSnapshot[entry.p]!++;
      return true;
    };
    const legacyLog = this.#legacyLog;
    if (legacyLog !== null) {
      for (const { value } of this.#legacyLogDb.getRange({ start: [this.#shard, 0], end: [this.#shard, Number.MAX_SAFE_INTEGER] })) {
        for (const entry of logRecords(value)) {
          if (entry.s <= snapshotSeq[entry.p]!) continue;
          if (seq.has(entry.p)) legacyLog.pending.add(entry.p);
          if (newer(entry)) apply(entry.m);
        }
      }
      legacyLog.scanned = true;
    }
    this.#segments.read((first, entries) => {
      for (const entry of entries) {
        if (entry.s <= snapshotSeq[entry.p]!) continue;
        // Records some partition still needs hold the log's head back, held or not.
        if (this.#oldest[entry.p] === NONE) this.#oldest[entry.p] = first;
        if (newer(entry)) apply(entry.m);
      }
    });
  }

  /** Start-up, after replay(): the partition's idle clocks written since its snapshot, as records. */
  touches(partition: number): Mutation[] {
    const touches: Mutation[] = [];
    for (const { key, value } of this.#touches.getRange({ start: [partition], end: [partition, '\uffff'] })) {
      const [, id, client] = key;
      touches.push(
        client === ''
          ? { k: MUTATION.sessionTouched, id, lastSessionRefresh: value }
          : { k: MUTATION.clientRefreshed, id, client, at: value, chainKey: null, chain: null },
      );
    }
    return touches;
  }

  /** Writes what is pending and flushes the log to disk (a graceful stop, a snapshot of everything). */
  async close(): Promise<void> {
    this.flush();
    await this.flushTouches(0, true);
    await this.#segments.close();
  }
}
