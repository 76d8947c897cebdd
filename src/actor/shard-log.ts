// ShardLog: what becomes of each record a shard's table applies. Owner: the
// shard actor, alone.
//
// Every record the table applies reaches `sink`, which
//   - stamps a lifecycle record with its partition's next seq (a per-partition
//     monotonic sequence, continued across restarts from the journal and the
//     snapshots) and the view revision it was decided in;
//   - appends it to the journal when the shard runs with durability
//     'journal', and coalesces idle-clock moves (touches) for it;
//   - collects it, while a subscriber wants records (the cluster's replicator,
//     tests), for the reply of the batch that produced it, or for an
//     unsolicited frame when the turn's background work (expiry) produced it.
// Records applied to passive copies never reach `sink` (they are the
// primary's, not shipped again), and a promotion produces none: the disk
// already holds the copy as it is promoted (its snapshot and journal), so a
// promoted partition is snapshotted only when that is not so (the promotion
// grace moved idle clocks, or the copy was still being filled).
//
// Passive copies (a cluster backup's) are journaled too, so that a node
// restarted after every node stopped finds its copies on its disk
// (docs/cluster.md, "Whole-cluster restart"): the shard hands `copied` each
// record it applied to one, and its reply (the backup's acknowledgement)
// waits for the commit like a primary's. A copy being filled by a state
// transfer is not journaled: its start (`fill`) erases what the disk held of
// it, and once the transfer is done (`filled`) the partition is snapshotted
// by a compaction, from which point its records are journaled. A crash in
// between leaves the disk without that copy, never with part of one. That
// snapshot is written from the chunks the copy was filled with, as they
// arrived (they are packed as a snapshot is), followed by the records applied
// to the copy since (CopyFill): the bytes a transfer brought are not
// built and packed again from the table.
//
// It also holds the snapshot side of the journal: start-up (snapshot, then
// journal, then touches, per partition), compaction a few partitions per turn,
// and the full snapshot of a graceful shutdown. A snapshot is the partition's
// sessions as records, packed like a state transfer's chunks.

import { PARTITION_COUNT } from '../constants.js';
import { END_REASON, type EndReason, type SessionView, type SnapshotLoadResult } from '../protocol/actor-messages.js';
import { EngineError } from '../errors.js';
import { MUTATION, checkMutation, isOfflineRecord, isTouchRecord, partitionOfRecord, sessionRecords, type Mutation, type OfflineRemovedMutation, type OfflineWrittenMutation, type RecordEnvelope, type SessionCreatedMutation } from '../protocol/mutations.js';
import { packChunks, unpackChunk } from '../protocol/transfer-chunks.js';
import { Journal, type PartitionBase } from './journal.js';
import type { SessionTable } from './session-table.js';

/**
 * A turn starts compactions (each captures its partition's sessions, packed,
 * in the turn) until they hold this many sessions: at least one, at most
 * COMPACT_TURN_MAX. The capture runs on the shard's loop, so this bounds how
 * long it delays the commands behind it (a promotion asks for hundreds).
 */
const COMPACT_TURN_SESSIONS = 2048;
const COMPACT_TURN_MAX = 4;
/** Partitions captured together by a full snapshot before waiting for their commit (bounds the views in memory). */
const SAVE_GROUP = 16;

const EXPIRY_REASONS: ReadonlySet<string> = new Set([END_REASON.idle, END_REASON.max, END_REASON.rememberMeDisabled]);

export type Durability = 'journal' | 'snapshot';

/**
 * A copy a state transfer fills, from `fill` until the compaction that writes
 * its snapshot: `filling` until the transfer is done (nothing of it is
 * journaled meanwhile), and the snapshot as it will be written — the chunks
 * applied (packed bytes, as they arrived) and the records applied after them,
 * in order. `exact` turns false when they may not recreate the copy as the
 * table holds it (a chunk with a record the table did not take, or the copy
 * held sessions the transfer does not replace): the compaction then captures
 * the table instead.
 */
interface CopyFill {
  filling: boolean;
  chunks: Uint8Array[];
  records: Mutation[];
  exact: boolean;
}

/** What a transfer chunk held, as the shard applied it (ShardLog.chunkApplied). */
export type AppliedChunk = 'online' | 'offline' | 'mixed';

/** A snapshot chunk's records, not yet validated; a chunk that does not decode yields none (with a warning). */
function snapshotRecords(chunk: Uint8Array): unknown[] {
  try {
    const records = unpackChunk(chunk);
    if (Array.isArray(records)) return records;
    throw new Error('not an array of records');
  } catch (err) {
    process.emitWarning(`journal: skipped a snapshot chunk that does not decode: ${(err as Error).message}`);
    return [];
  }
}

/** The session a creation record describes, without its client sessions (a session dropped at start-up). */
function createdView(m: SessionCreatedMutation): SessionView {
  const { k: _k, partition: _partition, ...fields } = m;
  return { ...fields, clients: [] };
}

export class ShardLog {
  readonly #table: SessionTable;
  readonly #journal: Journal | null;
  readonly #journaling: boolean;
  /** The partitions this shard holds as primary (journaled, snapshotted). */
  #partitions: readonly number[];
  /** The partitions held as passive copies (journaled and snapshotted like primaries unless filling). */
  #copies = new Set<number>();
  /** Copies a state transfer is filling, or filled and not yet snapshotted (see `fill`). */
  readonly #fills = new Map<number, CopyFill>();
  /** The last seq given out, per partition. */
  readonly #seq = new Float64Array(PARTITION_COUNT);
  #viewRevision = 0;
  #subscribed = false;
  #paused = false;
  #inBatch = false;
  /** Records of the batch being executed (while subscribed). */
  #batch: RecordEnvelope[] | null = null;
  /** Records produced outside a batch (expiry), shipped after the turn. */
  #background: RecordEnvelope[] = [];
  readonly #compactWanted = new Set<number>();
  /**
   * The compactions being committed. The next ones start only after them:
   * LMDB commits in order, so a queue of compactions (each a partition's
   * snapshot) would hold back the commits that replies to offline grants
   * wait for.
   */
  #compacting: Promise<unknown> | null = null;

  constructor(table: SessionTable, journal: Journal | null, durability: Durability, partitions: readonly number[]) {
    this.#table = table;
    this.#journal = journal;
    this.#journaling = journal !== null && durability === 'journal';
    this.#partitions = partitions;
  }

  /** Does anyone need the records (so the table must build them)? */
  get active(): boolean {
    return this.#journaling || this.#subscribed;
  }

  get partitions(): readonly number[] {
    return this.#partitions;
  }

  /**
   * The partitions held changed: those no longer held at all are forgotten on
   * disk (their journal and snapshot), so a restart does not bring back a
   * partition this node no longer holds. A primary that became a copy (or
   * the reverse) keeps what its disk holds. Returns the writes under way.
   */
  setPartitions(primary: readonly number[], passive: readonly number[]): Promise<unknown>[] {
    const held = new Set([...primary, ...passive]);
    const work: Promise<unknown>[] = [];
    for (const partition of [...this.#partitions, ...this.#copies]) {
      if (held.has(partition)) continue;
      this.#compactWanted.delete(partition);
      this.#fills.delete(partition);
      if (this.#journal !== null) work.push(this.#journal.compact(partition, this.#seq[partition]!, []));
    }
    this.#partitions = primary;
    this.#copies = new Set(passive);
    // A primary's records reach `sink`, not `copied`: its compaction captures the table.
    for (const partition of primary) this.#fills.delete(partition);
    return work;
  }

  set subscribed(value: boolean) {
    this.#subscribed = value;
    // Subscribed by a command of the batch under way: that batch's later records ride with its reply.
    if (value && this.#inBatch && this.#batch === null) this.#batch = [];
  }

  /** The seq a partition's records have reached. */
  seqOf(partition: number): number {
    return this.#seq[partition]!;
  }

  /** `jump`: how far a touch record moved an idle clock (seconds): a long move is journaled apart and shipped at once (see RecordEnvelope). */
  readonly sink = (m: Mutation, jump: number): void => {
    if (this.#paused) return;
    const partition = partitionOfRecord(m);
    if (isTouchRecord(m)) {
      if (this.#journaling) {
        if (m.k === MUTATION.clientRefreshed) this.#journal!.touch(partition, m.id, m.client, m.at, jump);
        else if (m.k === MUTATION.sessionTouched) this.#journal!.touch(partition, m.id, '', m.lastSessionRefresh, jump);
      }
      if (this.#subscribed) this.#collect({ partition, seq: 0, viewRevision: this.#viewRevision, m, jump });
      return;
    }
    const seq = ++this.#seq[partition]!;
    if (this.#journaling && !(m.k === MUTATION.sessionRemoved && EXPIRY_REASONS.has(m.reason))) {
      this.#journal!.append(partition, seq, m);
      if (this.#journal!.wantsCompaction(partition, this.#table.partitionSize(partition))) this.#compactWanted.add(partition);
    }
    if (this.#subscribed) this.#collect({ partition, seq, viewRevision: this.#viewRevision, m });
  };

  /**
   * Partitions were promoted; `clocksMoved`: those whose sessions the
   * promotion grace kept (idle clocks moved that no record carries). Those,
   * and copies still being filled (nothing journaled yet), are compacted by
   * the next turns (a snapshot, packed, and no reply waits for it); the disk
   * of any other already holds the partition as it is.
   */
  promoted(partitions: readonly number[], clocksMoved: ReadonlySet<number>): void {
    if (!this.#journaling) return;
    for (const partition of partitions) if (clocksMoved.has(partition) || this.#isFilling(partition)) this.#compactWanted.add(partition);
  }

  /**
   * A record was applied to a passive copy: journaled with the partition's
   * next local seq (the copy's records come in its primary's order), and
   * idle-clock moves coalesced, as for a primary's; the batch's reply waits
   * for its commit (endBatch).
   */
  copied(m: Mutation): void {
    if (!this.#journaling) return;
    const partition = partitionOfRecord(m);
    if (!this.#copies.has(partition)) return;
    const fill = this.#fills.get(partition);
    if (fill?.exact === true) fill.records.push(m);
    if (fill?.filling === true) return;
    if (isTouchRecord(m)) {
      if (m.k === MUTATION.clientRefreshed) this.#journal!.touch(partition, m.id, m.client, m.at, 0);
      else if (m.k === MUTATION.sessionTouched) this.#journal!.touch(partition, m.id, '', m.lastSessionRefresh, 0);
      return;
    }
    const seq = ++this.#seq[partition]!;
    if (m.k === MUTATION.sessionRemoved && EXPIRY_REASONS.has(m.reason)) return;
    this.#journal!.append(partition, seq, m);
    if (this.#journal!.wantsCompaction(partition, this.#table.partitionSize(partition))) this.#compactWanted.add(partition);
  }

  /**
   * A state transfer starts filling a passive copy (its first frame, or an
   * older sender's first chunk; later calls change nothing unless
   * `refilled`): what the disk holds of the partition is erased (an older
   * copy, which the transfer replaces; no write when it holds nothing), and
   * nothing of it is journaled until `filled`. `refilled`: the shard drops
   * whatever the copy holds that the transfer does not bring (CopyRefills),
   * so the transfer alone recreates it, from its first chunk again if an
   * earlier attempt was under way. Returns the write under way, if any.
   */
  fill(partition: number, refilled: boolean): Promise<unknown> | null {
    if (!this.#journaling || !this.#copies.has(partition)) return null;
    if (this.#isFilling(partition)) {
      if (refilled) this.#fills.set(partition, { filling: true, chunks: [], records: [], exact: true });
      return null;
    }
    this.#compactWanted.delete(partition);
    this.#fills.set(partition, { filling: true, chunks: [], records: [], exact: refilled || this.#table.partitionSize(partition) === 0 });
    return this.#journal!.mayHold(partition) ? this.#journal!.compact(partition, this.#seq[partition]!, []) : null;
  }

  /**
   * A transfer chunk was applied to a copy being filled: `chunk` as it
   * arrived, and what it held — online records the table all took (kept as
   * they are for the snapshot), offline records only (on disk already, in
   * the offline store), or anything else (the snapshot is captured instead).
   */
  chunkApplied(partition: number, chunk: Uint8Array, held: AppliedChunk): void {
    const copy = this.#fills.get(partition);
    if (copy?.filling !== true || held === 'offline') return;
    if (held === 'mixed') copy.exact = false;
    if (!copy.exact) return;
    // Records applied between chunks stay between them.
    if (copy.records.length > 0) copy.chunks.push(...packChunks(copy.records.splice(0)));
    copy.chunks.push(chunk);
  }

  /** The transfer filling a copy is done: the next turns snapshot it, and its records are journaled from here on. */
  filled(partition: number): void {
    const fill = this.#fills.get(partition);
    if (fill?.filling !== true) return;
    fill.filling = false;
    this.#compactWanted.add(partition);
  }

  /**
   * An offline-session change, for the partition's other copies only (LMDB
   * already holds it: never journaled). A lifecycle change takes the
   * partition's next seq, like a session record, so a state transfer can
   * tell what its export already holds.
   */
  offline(m: OfflineWrittenMutation | OfflineRemovedMutation, jump: number): void {
    if (!this.#subscribed || this.#paused) return;
    const partition = partitionOfRecord(m);
    if (isTouchRecord(m)) this.#collect({ partition, seq: 0, viewRevision: this.#viewRevision, m, jump });
    else this.#collect({ partition, seq: ++this.#seq[partition]!, viewRevision: this.#viewRevision, m });
  }

  #collect(envelope: RecordEnvelope): void {
    (this.#batch ?? this.#background).push(envelope);
  }

  /** A batch starts: its records go with its reply. */
  beginBatch(): void {
    this.#inBatch = true;
    this.#batch = this.#subscribed ? [] : null;
  }

  /** A batch ended: its records, if collected. */
  endBatch(): RecordEnvelope[] | null {
    const records = this.#batch !== null && this.#batch.length > 0 ? this.#batch : null;
    this.#batch = null;
    this.#inBatch = false;
    return records;
  }

  /**
   * Writes the journal records appended so far, before the replies that
   * report them leave (a reply never reports a state that a crash could
   * undo). Throws if the log cannot be written.
   */
  writeJournal(): void {
    if (this.#journaling) this.#journal!.flush();
  }

  /** Records produced outside batches since the last call. */
  takeBackground(): RecordEnvelope[] {
    const out = this.#background;
    this.#background = [];
    return out;
  }

  /** Background durability work of a turn: coalesced touches, a few compactions. Returns the writes under way. */
  turn(nowMs: number): Promise<unknown>[] {
    const journal = this.#journal;
    if (journal === null || !this.#journaling) return [];
    const work: Promise<unknown>[] = [];
    const touches = journal.flushTouches(nowMs);
    if (touches !== null) work.push(touches);
    if (this.#compacting !== null) return work;
    const holding = journal.holdingHead(this.#table.size);
    if (holding >= 0) this.#compactWanted.add(holding);
    const compactions: Promise<unknown>[] = [];
    let captured = 0;
    for (const partition of this.#compactWanted) {
      if (compactions.length >= COMPACT_TURN_MAX || captured >= COMPACT_TURN_SESSIONS) break;
      const filled = this.#filledSnapshot(partition);
      if (filled === null) captured += this.#table.partitionSize(partition);
      this.#compactWanted.delete(partition);
      compactions.push(journal.compact(partition, this.#seq[partition]!, filled ?? this.#capture(partition)));
    }
    if (compactions.length > 0) {
      const compacting = Promise.all(compactions).finally(() => (this.#compacting = null));
      this.#compacting = compacting;
      work.push(compacting);
    }
    return work;
  }

  /** Long idle-clock moves waiting for their journal write (journal.ts, touch). */
  get longTouchesWaiting(): boolean {
    return this.#journaling && this.#journal !== null && this.#journal.longTouchesWaiting;
  }

  /** Partitions waiting for a compaction that the next turn may start (none while one is being committed). */
  get compactionsPending(): number {
    return this.#compacting === null ? this.#compactWanted.size : 0;
  }

  /** The sessions of a partition as a snapshot keeps them (packed records), captured now. */
  #capture(partition: number): Uint8Array[] {
    return packChunks(this.#table.partitionRecords(partition));
  }

  #isFilling(partition: number): boolean {
    return this.#fills.get(partition)?.filling === true;
  }

  /** A filled copy's snapshot from what its transfer brought and the records since (taken: once), or null to capture it. */
  #filledSnapshot(partition: number): Uint8Array[] | null {
    const copy = this.#fills.get(partition);
    if (copy === undefined || copy.filling) return null;
    this.#fills.delete(partition);
    return copy.exact ? [...copy.chunks, ...packChunks(copy.records)] : null;
  }

  /** Graceful shutdown: every held partition's sessions as a snapshot (a copy being filled: none), its journal emptied. Resolves with how many sessions it serves. */
  async save(): Promise<number> {
    const journal = this.#requireJournal();
    await journal.close();
    let saved = 0;
    const held = [...this.#partitions, ...[...this.#copies].filter((p) => !this.#isFilling(p))];
    for (let i = 0; i < held.length; i += SAVE_GROUP) {
      const group = held.slice(i, i + SAVE_GROUP).map((partition) => {
        if (!this.#copies.has(partition)) saved += this.#table.partitionSlots(partition).length;
        this.#compactWanted.delete(partition);
        return journal.compact(partition, this.#seq[partition]!, this.#capture(partition));
      });
      await Promise.all(group);
    }
    return saved;
  }

  /**
   * Start-up: each partition's snapshot, then the journal's log (the records
   * newer than their partition's snapshot), then each partition's touches,
   * into the table; sessions that expired meanwhile are dropped with why.
   * With durability 'snapshot' the state on disk is consumed (a later crash
   * must not resurrect what ended meanwhile); with 'journal' it stays the
   * base of the journal, and partitions that replayed records are compacted
   * over the next turns.
   */
  async load(now: number): Promise<SnapshotLoadResult> {
    const result: SnapshotLoadResult = { loaded: 0, dropped: [] };
    const journal = this.#journal;
    if (journal === null) return result;
    this.#paused = true;
    const consumed: Promise<unknown>[] = [];
    try {
      // Partitions whose disk state is not what the table now holds: compacted over the next turns.
      const changed = new Set<number>();
      const seq = this.#applyBases(journal, result, changed);
      const baseSeq = new Map(seq);
      journal.replay(seq, (record) => this.#applyLogged(record, result));
      for (const partition of this.#partitions) {
        const before = result.dropped.length;
        const touches = journal.touches(partition);
        for (const m of touches) this.#applyLogged(m, result);
        this.#dropExpired(partition, now, result);
        this.#seq[partition] = seq.get(partition)!;
        if (seq.get(partition) !== baseSeq.get(partition) || touches.length > 0 || result.dropped.length > before) changed.add(partition);
        if (!this.#journaling) consumed.push(journal.compact(partition, this.#seq[partition]!, []));
        else if (changed.has(partition)) this.#compactWanted.add(partition);
      }
    } finally {
      this.#paused = false;
    }
    this.#table.sortListsByStart();
    for (const partition of this.#partitions) result.loaded += this.#table.partitionSlots(partition).length;
    await Promise.all(consumed);
    return result;
  }

  /** Every held partition's snapshot into the table; returns the seq each reaches, and adds to `changed` those the disk holds otherwise. */
  #applyBases(journal: Journal, result: SnapshotLoadResult, changed: Set<number>): Map<number, number> {
    const seq = new Map<number, number>();
    for (const partition of this.#partitions) {
      const before = result.dropped.length;
      const base = journal.read(partition);
      seq.set(partition, this.#applyBase(base, result));
      if (base.records.length > 0 || result.dropped.length > before) changed.add(partition);
    }
    return seq;
  }

  /** A partition's snapshot into the table; returns the seq it reaches. */
  #applyBase(base: PartitionBase, result: SnapshotLoadResult): number {
    const table = this.#table;
    for (const { session: s, chains } of base.legacy) {
      if (!table.hasRealm(s.realm)) result.dropped.push({ session: s, reason: END_REASON.realmRemoved });
      else for (const m of sessionRecords(s, chains)) table.apply(m);
    }
    for (const chunk of base.chunks) for (const record of snapshotRecords(chunk)) this.#applyLogged(record, result);
    for (const record of base.records) this.#applyLogged(record, result);
    return base.seq;
  }

  /** A record read back from disk; one that does not validate is skipped with a warning. */
  #applyLogged(record: unknown, result: SnapshotLoadResult): void {
    const table = this.#table;
    let m: Mutation;
    try {
      const checked = checkMutation(record);
      if (isOfflineRecord(checked)) throw new Error('an offline-session record is never journaled');
      m = checked;
    } catch (err) {
      process.emitWarning(`journal: skipped a record that does not validate: ${(err as Error).message}`);
      return;
    }
    // A session of a realm removed meanwhile is not brought back (its later records find no session).
    if (m.k === MUTATION.sessionCreated && !table.hasRealm(m.realm)) {
      result.dropped.push({ session: createdView(m), reason: END_REASON.realmRemoved });
      return;
    }
    table.apply(m);
  }

  #dropExpired(partition: number, now: number, result: SnapshotLoadResult): void {
    const table = this.#table;
    for (const slot of table.partitionSlots(partition)) {
      const reason = table.sessionInvalidReason(slot, now);
      if (reason === null) continue;
      const session = table.view(slot);
      const endReason: EndReason = reason === 'max' ? END_REASON.max : reason === 'idle' ? END_REASON.idle : END_REASON.rememberMeDisabled;
      table.remove(session.id, endReason, now);
      result.dropped.push({ session, reason });
    }
  }

  /** Writes the coalesced touches and waits for every journal commit (the worker is stopping). */
  async close(): Promise<void> {
    if (this.#journal !== null && this.#journaling) await this.#journal.close();
  }

  #requireJournal(): Journal {
    if (this.#journal === null) throw new EngineError('ERR_OFFLINE_DISABLED', 'no data directory: online sessions cannot be saved');
    return this.#journal;
  }
}
