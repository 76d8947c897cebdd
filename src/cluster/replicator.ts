// Replicator: a primary's mutation records on their way to the partition's
// other copies, and the backup side that applies them.
//
// Write path. A shard returns a reply together with the records the turn
// produced (before the reply's callers are answered), so by the time a
// cluster router's `await pool.ask(...)` resumes, the records are queued
// here. One Replicate frame per peer per event-loop turn carries every queued
// record (group commit); `whenReplicated(partition)` resolves once every
// backup of the partition acknowledged having *applied* the frames holding
// its records, and the router releases the reply only then. A backup that
// acknowledges nothing for --replicate-timeout while frames wait is reported
// to the failure detector (accused: the coordinator evicts it, and the
// waiting replies are then released with the remaining copies); one still
// silent and in the view after STALL_FAIL_TIMEOUTS timeouts fails the wait
// with ERR_REPLICATION_FAILED (the change is applied on the primary: the
// outcome is ambiguous to the client). The timeout counts from the backup's
// last acknowledgement, not from the frame's sending: a backup busy applying
// a transfer, frame after frame, is slow but alive.
//
// Touch records (idle-clock moves, seq 0) never gate a reply: they are
// coalesced per session and shipped every --touch-replication-interval;
// applying them takes the max of clocks, so order does not matter. A touch
// that moved a clock by more than the interval (the session's first use in a
// while) is shipped at once with the turn's frame instead: a coalesced touch
// lost with its primary then moved the clock by at most the interval past one
// the copies hold, so a promoted copy's idle clock lags by at most the
// interval (it would lag by the whole quiet period before that touch).
//
// State transfer. A pending owner of a partition is sent the partition's
// sessions (an export the shard makes in one turn, with the partition's seq
// at that moment) in chunks, then the records buffered meanwhile whose seq is
// higher, then `done`, then the records buffered until those were
// acknowledged (until none is left); from there on it receives the
// partition's records live, and replies wait for it like for a backup, so
// that when the coordinator makes it an owner — the primary, possibly — it
// holds every acknowledged change. Transfers travel on a stream of their own
// per peer (the transfer stream), so that live records of other partitions
// never queue behind a rebalance's chunks; a partition's records are buffered
// until its transfer is complete, so none can overtake the chunk that creates
// its session. Only TRANSFERS_PER_PEER partitions are in transfer to a peer at
// once (the others buffer their records and wait their turn), and a handoff
// waits for the transfers of its partition (whenHandedOff).
//
// Resync. A backup whose stream broke, timed out or refused a frame, or that
// joined again as the incarnation it was (its streams were dropped with its
// old lease), may have missed records (those in flight are gone with the
// stream). It is never trusted again as it is: every partition it backs up is
// sent to it again the same way (export, buffered records, `done`) on the new
// stream, the first frame marked `fresh` so that the sessions its copy holds
// and the transfer does not bring (ended meanwhile) go at `done`, and the replies of those partitions wait for that transfer's `done`
// instead of a frame's acknowledgement. A backup that keeps failing keeps
// failing those writes (503) until the view drops it.
//
// Departure. A copy holder that leaves the view (a graceful leave, an
// eviction) or that a new table no longer names is no longer waited for: the
// replies waiting on it are released with the copies that remain (counted as
// degraded acknowledgements), and the coordinator's next table makes new
// copies. Only a failure of a copy holder that is still one fails a reply.

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { EngineError } from '../errors.js';
import type { PartitionExport } from '../protocol/actor-messages.js';
import { isTouchRecord, type RecordEnvelope } from '../protocol/mutations.js';
import { TRANSFER_CHUNK_RECORDS } from '../protocol/transfer-chunks.js';
import type { PartitionTable } from './partition-table.js';
import type { Peer } from './peer.js';
import type { ReplicateAck, ReplicateFrame, ShippedCommand } from './wire.js';

/**
 * A backup silent for this many replication timeouts, and still not evicted,
 * fails the replies waiting for it (its stream is dropped and resynchronised).
 */
export const STALL_FAIL_TIMEOUTS = 3;

/** Pause before a failed transfer is tried again. */
const TRANSFER_RETRY_MS = 500;


/**
 * Transfers to one peer are paced: a new one starts while fewer than
 * TRANSFERS_PER_PEER run and their exports hold fewer than
 * TRANSFER_WINDOW_RECORDS records; the rest wait their turn. The receiving
 * shard runs requests and other partitions' records ahead of queued chunks
 * (src/actor/batch-order.ts), but a partition's live records wait behind its
 * chunks, and every chunk takes CPU from the request path: unpaced, a
 * rejoining node would be sent all its partitions at once and hold back
 * their live writes until all were applied. Counting records rather than partitions
 * keeps many small partitions in flight (each costs round trips, not apply
 * time) and few large ones.
 */
export const TRANSFERS_PER_PEER = 16;
export const TRANSFER_WINDOW_RECORDS = 8 * TRANSFER_CHUNK_RECORDS;

type Stream = grpc.ClientDuplexStream<ReplicateFrame, ReplicateAck>;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

/** The copy holder is gone from the view or the table: the remaining copies answer for the change. */
function departed(node: string, what: string): EngineError {
  return new EngineError('ERR_REPLICATION_FAILED', `${node} ${what}`, { departed: true });
}

function isDeparted(err: unknown): boolean {
  return err instanceof EngineError && (err.detail as { departed?: boolean } | undefined)?.departed === true;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface AckWaiter extends Deferred {
  frame: number;
  sentMs: number;
  /** Given the frame's own acknowledgement (a copy check's answer rides on it). */
  onAck?: (ack: ReplicateAck) => void;
}

interface StreamEvents {
  onTimeout(peer: string): void;
  /** A peer reported by onTimeout acknowledged again. */
  onRecovered?(peer: string): void;
  onAck(seconds: number): void;
  /** The stream failed (`err` says why): whatever was in flight may not have been applied. */
  onBroken(peer: string, err: Error): void;
}

/** The outbound stream to one peer, with cumulative acknowledgements. */
export class OutboundStream {
  readonly #peer: Peer;
  readonly #self: string;
  readonly #timeoutMs: number;
  readonly #events: StreamEvents;
  #stream: Stream | null = null;
  #nextFrame = 1;
  readonly #waiters: AckWaiter[] = [];
  /** Reports a peer that stopped acknowledging, later fails the stream (armed while frames are outstanding). */
  #watchdog: NodeJS.Timeout | null = null;
  /** Reported by onTimeout and not acknowledging since. */
  #stalled = false;

  constructor(peer: Peer, self: string, timeoutMs: number, events: StreamEvents) {
    this.#peer = peer;
    this.#self = self;
    this.#timeoutMs = timeoutMs;
    this.#events = events;
  }

  /** Sends a frame; resolves when the peer applied it (and every frame before it). `onAck` is given the frame's own acknowledgement. */
  send(frame: Omit<ReplicateFrame, 'f' | 'from'>, onAck?: (ack: ReplicateAck) => void): Promise<void> {
    const stream = this.#open();
    const f = this.#nextFrame++;
    const waiter: AckWaiter = { ...deferred(), frame: f, sentMs: performance.now(), ...(onAck !== undefined ? { onAck } : {}) };
    this.#waiters.push(waiter);
    if (this.#waiters.length === 1) this.#watch();
    stream.write({ ...frame, f, from: this.#self });
    return waiter.promise;
  }

  /**
   * The timeout measures the peer's progress, not the queue in front of a
   * frame: a peer that acknowledged nothing for timeoutMs while frames were
   * outstanding is reported (onTimeout: accused, so the coordinator evicts
   * it and the waiting replies are released with the remaining copies); the
   * frames keep waiting, since a slow peer that acknowledges after all
   * answers them too. Only a peer silent for STALL_FAIL_TIMEOUTS × timeoutMs
   * (still in the view, and not evicted) fails the stream: the waiting
   * replies fail with ERR_REPLICATION_FAILED and the peer is resynchronised.
   * A peer applying a transfer chunk after chunk keeps acknowledging and is
   * never reported.
   */
  #watch(): void {
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
    this.#watchdog = null;
    if (this.#waiters.length === 0) return;
    this.#watchdog = setTimeout(() => {
      this.#watchdog = setTimeout(() => {
        this.#watchdog = null;
        if (this.#waiters.length === 0) return;
        this.#fail(new EngineError('ERR_REPLICATION_FAILED', `${this.#peer.node} acknowledged nothing for ${STALL_FAIL_TIMEOUTS * this.#timeoutMs} ms`));
      }, (STALL_FAIL_TIMEOUTS - 1) * this.#timeoutMs);
      if (this.#waiters.length === 0) return;
      this.#stalled = true;
      this.#events.onTimeout(this.#peer.node);
    }, this.#timeoutMs);
  }

  #open(): Stream {
    if (this.#stream !== null) return this.#stream;
    const stream = (this.#peer.dataClient as unknown as { Replicate(): Stream }).Replicate();
    this.#stream = stream;
    this.#nextFrame = 1;
    stream.on('data', (ack: ReplicateAck) => {
      if (this.#stream !== stream) return;
      if (ack.refused !== undefined) {
        this.#fail(new EngineError('ERR_REPLICATION_FAILED', `${this.#peer.node} refused: ${ack.refused}`));
        return;
      }
      const before = this.#waiters.length;
      while (this.#waiters.length > 0 && this.#waiters[0]!.frame <= ack.ack) {
        const waiter = this.#waiters.shift()!;
        if (waiter.frame === ack.ack) waiter.onAck?.(ack);
        this.#events.onAck((performance.now() - waiter.sentMs) / 1000);
        waiter.resolve();
      }
      if (this.#waiters.length < before) {
        if (this.#stalled) this.#events.onRecovered?.(this.#peer.node);
        this.#stalled = false;
        this.#watch();
      }
    });
    const broken = (): void => {
      if (this.#stream === stream) this.#fail(new EngineError('ERR_REPLICATION_FAILED', `replication stream to ${this.#peer.node} broke`));
    };
    stream.on('error', broken);
    stream.on('end', broken);
    return stream;
  }

  /** Fails every waiter and drops the stream; the next send opens a new one from frame 1. */
  #fail(err: Error): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    stream.end();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
    this.#watch();
    this.#events.onBroken(this.#peer.node, err);
  }

  close(reason = new EngineError('ERR_REPLICATION_FAILED', `stopped replicating to ${this.#peer.node}`)): void {
    const stream = this.#stream;
    this.#stream = null;
    stream?.end();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(reason);
    this.#watch();
  }
}

/**
 * One partition on its way to one peer:
 *   waiting    records are buffered; the transfer has not started (or will be retried)
 *   exporting  records are buffered while the shard exports and the chunks are queued
 *   streaming  chunks, buffer and `done` sent: records are buffered and sent after them, on the transfer stream
 *   complete   the peer applied it all: records go on the live stream
 */
interface TransferState {
  phase: 'waiting' | 'exporting' | 'streaming' | 'complete';
  /** The table version that asked for it: the peer must have obeyed it before chunks can be applied there. */
  since: number;
  buffered: RecordEnvelope[];
  /** Shipped commands (auth codes, login failures) of the partition asked for the peer meanwhile: sent behind the export's codes. */
  commands: ShippedCommand[];
  /** Settles when the peer applied the whole transfer (its `done` and the records buffered until then). */
  done: Deferred;
}

/** The transfers to one peer: how many run, the records their exports hold, and the partitions waiting for a turn (in order). */
interface TransferLane {
  running: number;
  records: number;
  queue: Set<number>;
}

function waitingTransfer(since: number): TransferState {
  return { phase: 'waiting', since, buffered: [], commands: [], done: deferred() };
}

export interface ReplicatorOptions {
  self: string;
  timeoutMs: number;
  touchIntervalMs: number;
  peer(node: string): Peer | undefined;
  /**
   * The newest table version `node` reported having obeyed (its heartbeats).
   * A transfer starts only once the peer obeyed the table that asked for it:
   * frames for a table the receiver has not accepted (its roles asked of its
   * shards) wait there unacknowledged.
   */
  peerTable(node: string): number;
  /** The cluster protocol version `node` speaks (its member record): a version 2 peer is sent failures to record, not login-failure records. */
  peerProtocol(node: string): number;
  /** The shard export of a partition held as primary. */
  exportPartition(partition: number): Promise<PartitionExport>;
  onTimeout(peer: string): void;
  /** A peer reported by onTimeout acknowledged again (slow, not gone). */
  onRecovered?(peer: string): void;
  /** A frame was acknowledged this many seconds after it was sent. */
  onAck?(seconds: number): void;
  /** A transfer to a peer completed with this many sessions. */
  onTransferred?(sessions: number): void;
  /** A backup that may have missed changes (`reason` says why) is sent this many partitions again, whole (nothing was on its way to it before). */
  onResync?(peer: string, partitions: number, reason: string): void;
  /** The last transfer on its way to a peer completed: it has every partition this node was sending it. */
  onDelivered?(peer: string): void;
  /** A reply was released with a copy holder gone (it left the view or the table). */
  onDegraded?(): void;
  /** A partition's replies waited SLOW_REPLICATION_MS or more for their copies (logged for the operator). */
  onSlow?(slow: SlowReplication): void;
}

/** A wait this long for a partition's copies is reported (onSlow). */
export const SLOW_REPLICATION_MS = 500;

export interface SlowReplication {
  partition: number;
  ms: number;
  /** Backups whose acknowledgement was waited for. */
  backups: string[];
  /** Transfers (to pending owners, or resyncs) waited for instead. */
  transfers: number;
  failed: boolean;
}

interface Turn extends Deferred {
  /** Backups whose frame acknowledgement the partition's replies wait for. */
  nodes: Set<string>;
  /** Transfers (resyncs) they wait for instead. */
  transfers: Promise<void>[];
}

export class Replicator {
  readonly #options: ReplicatorOptions;
  readonly #streams = new Map<string, OutboundStream>();
  /** Per peer, the stream transfers travel on (live records never queue behind their chunks). */
  readonly #transferStreams = new Map<string, OutboundStream>();
  #table: PartitionTable | null = null;
  /** Records and shipped commands of this turn, per peer. */
  #queued = new Map<string, { recs: RecordEnvelope[]; cmds: ShippedCommand[] }>();
  /** Per partition with records in this turn: what its replies wait for. */
  #turn = new Map<number, Turn>();
  readonly #latest = new Map<number, Promise<void>>();
  #touches = new Map<string, Map<string, RecordEnvelope>>();
  /** Transfers by `${node}:${partition}`, kept once complete (so they are not repeated). */
  readonly #transfers = new Map<string, TransferState>();
  readonly #lanes = new Map<string, TransferLane>();
  /** Backups that must be sent their partitions again (their stream failed). */
  readonly #diverged = new Set<string>();
  /**
   * Backups the table still names that were not in the view when replies
   * were released without them: they miss those changes, and are sent their
   * partitions again when they come back (peerBack), whichever process of
   * this node saw them last.
   */
  readonly #missed = new Set<string>();
  readonly #touchTimer: NodeJS.Timeout;
  /** A pending retry of failed transfers (one for all of them). */
  #retry: NodeJS.Timeout | null = null;
  /** When each peer was last resynchronised: a failing peer is retried at most every TRANSFER_RETRY_MS. */
  readonly #resyncedAtMs = new Map<string, number>();
  #closed = false;

  constructor(options: ReplicatorOptions) {
    this.#options = options;
    this.#touchTimer = setInterval(() => this.flushTouches(), options.touchIntervalMs);
    this.#touchTimer.unref();
  }

  /** Obeys a new table: transfers to new pending owners (and to diverged backups) of this node's primary partitions. */
  setTable(table: PartitionTable): void {
    this.#table = table;
    for (const [key, state] of this.#transfers) {
      const [node, p] = splitKey(key);
      if (table.owners[p]![0] === this.#options.self && this.#copyHolders(table, p).includes(node)) continue;
      state.done.reject(departed(node, `no longer holds partition ${p}`));
      this.#transfers.delete(key);
    }
    for (let p = 0; p < table.owners.length; p++) {
      if (table.owners[p]![0] !== this.#options.self) continue;
      for (const node of this.#copyHolders(table, p)) {
        const key = `${node}:${p}`;
        let state = this.#transfers.get(key);
        if (state === undefined && (table.pending[p]!.includes(node) || this.#diverged.has(node))) this.#transfers.set(key, (state = waitingTransfer(table.version)));
        if (state?.phase === 'waiting') this.#lane(node).queue.add(p);
      }
    }
    for (const node of this.#lanes.keys()) this.#pump(node);
  }

  /** Takes the records a local shard produced (with a reply, or in the background). */
  onRecords(envelopes: readonly RecordEnvelope[]): void {
    const table = this.#table;
    if (table === null) return;
    for (const envelope of envelopes) {
      const p = envelope.partition;
      const owners = table.owners[p];
      if (owners === undefined || owners[0] !== this.#options.self) continue;
      const touch = isTouchRecord(envelope.m);
      for (const node of this.#copyHolders(table, p)) {
        const transfer = this.#transfers.get(`${node}:${p}`);
        // A pending owner that caught up is waited for like a backup: the coordinator may make it
        // an owner (even the primary) at any moment, and it must then hold every acknowledged change.
        const sync = owners.includes(node) || transfer?.phase === 'complete';
        if (transfer !== undefined && transfer.phase !== 'complete') {
          transfer.buffered.push(envelope);
          if (sync && !touch) this.#turnOf(p).transfers.push(transfer.done.promise);
          continue;
        }
        if (!touch) this.#queue(node, p, sync, (q) => q.recs.push(envelope));
        else if ((envelope.jump ?? 0) * 1000 > this.#options.touchIntervalMs) this.#queue(node, p, false, (q) => q.recs.push(envelope));
        else this.#queueTouch(node, envelope);
      }
    }
  }

  /** Resolves once every backup applied the records of `partition` produced so far. */
  whenReplicated(partition: number): Promise<void> {
    return this.#latest.get(partition) ?? Promise.resolve();
  }

  /**
   * Resolves once the partition's records produced so far are replicated and
   * its transfers under way are complete (a handoff: the new primary must
   * hold what was buffered for its copy).
   */
  whenHandedOff(partition: number): Promise<void> {
    const transfers = [...this.#transfers].filter(([key, state]) => state.phase === 'streaming' && splitKey(key)[1] === partition).map(([, state]) => state.done.promise);
    return Promise.all([this.whenReplicated(partition), ...transfers]).then(() => {});
  }

  /** Resolves once every partition's records produced so far are replicated. */
  whenAllReplicated(): Promise<void> {
    return Promise.all([...this.#latest.values()]).then(() => {});
  }

  /**
   * Ships a command whose effect lives outside the session table (an auth
   * code put or taken, a login failure) to the partition's backups and
   * pending owners, which run it on their own shard; the reply waits for
   * them like it waits for a backup's records. To a peer whose transfer of
   * the partition is under way it travels with the transfer, behind the
   * codes the export carries (a take sent ahead of the export that still
   * holds its code would let the code be taken twice); the coordinator makes
   * that peer an owner only once the transfer is complete. `forVersion2`:
   * what a peer of cluster protocol version 2 is sent instead (it knows no
   * loginFailurePut: the failure to record).
   */
  shipCommand(partition: number, command: ShippedCommand['command'], forVersion2: ShippedCommand['command'] = command): void {
    const table = this.#table;
    const owners = table?.owners[partition];
    if (table === null || owners?.[0] !== this.#options.self) return;
    for (const node of this.#copyHolders(table, partition)) {
      const transfer = this.#transfers.get(`${node}:${partition}`);
      const sent = this.#options.peerProtocol(node) >= 3 ? command : forVersion2;
      if (transfer === undefined || transfer.phase === 'complete') {
        this.#queue(node, partition, true, (q) => q.cmds.push({ p: partition, command: sent }));
        continue;
      }
      transfer.commands.push({ p: partition, command: sent });
      if (owners.includes(node)) this.#turnOf(partition).transfers.push(transfer.done.promise);
    }
  }

  /**
   * A copy check to backup `node`: this node's digests of partitions it is
   * primary of, sent behind every record queued for it so far. Resolves with
   * the partitions whose copy there differs (none from a peer that knows no
   * checks); rejects when the stream fails.
   */
  check(node: string, partitions: number[], digests: string[]): Promise<number[]> {
    if (this.#queued.has(node)) this.#flush();
    const stream = this.#stream(node);
    if (stream === null) return Promise.reject(departed(node, 'is not in the view'));
    let differ: number[] = [];
    return stream.send({ table: this.#table?.version ?? 0, check: { p: partitions, d: digests } }, (ack) => (differ = ack.differ ?? [])).then(() => differ);
  }

  /**
   * `node`'s copy of `partition` differs from this primary's (a copy check):
   * it is sent the partition again, whole, as a backup whose stream failed
   * is (records are buffered meanwhile, and the copy drops what the transfer
   * does not bring). False when that is not for this node to do: it is not
   * the partition's primary, `node` holds no copy, or one is being sent.
   */
  refill(node: string, partition: number): boolean {
    const table = this.#table;
    if (this.#closed || table === null || table.owners[partition]![0] !== this.#options.self || !table.owners[partition]!.includes(node)) return false;
    const key = `${node}:${partition}`;
    const state = this.#transfers.get(key);
    if (state !== undefined && state.phase !== 'complete') return false;
    this.#transfers.set(key, waitingTransfer(table.version));
    this.#lane(node).queue.add(partition);
    this.#pump(node);
    return true;
  }

  /** Whether a transfer from this node is waiting or under way (copy checks wait for none). */
  get transferring(): boolean {
    return this.#sendingTo(null);
  }

  /** Whether a transfer from this node to `node` (any node: null) is waiting or under way. */
  #sendingTo(node: string | null): boolean {
    for (const [key, state] of this.#transfers) if (state.phase !== 'complete' && (node === null || splitKey(key)[0] === node)) return true;
    return false;
  }

  /** Per peer, the partitions a transfer from this node (a new owner's, or a resync) is waiting or under way for; peers with none are left out. */
  get unsent(): Map<string, number> {
    const byNode = new Map<string, number>();
    for (const [key, state] of this.#transfers) {
      if (state.phase === 'complete') continue;
      const node = splitKey(key)[0];
      byNode.set(node, (byNode.get(node) ?? 0) + 1);
    }
    return byNode;
  }

  /** Ships the coalesced idle-clock moves now (every interval, and before a graceful leave). */
  flushTouches(): void {
    const touches = this.#touches;
    this.#touches = new Map();
    const version = this.#table?.version ?? 0;
    for (const [node, byId] of touches) void this.#stream(node)?.send({ table: version, recs: [...byId.values()] }).catch(() => {});
  }

  /**
   * A member of the view is a peer again: it is sent its partitions again
   * (a resync) when it is back as the incarnation this process knew
   * (`returned`: what was on its way was dropped with its streams), or when
   * replies were released without it while it was away (it missed them).
   */
  peerBack(node: string, returned: boolean): void {
    if (this.#missed.delete(node)) this.resync(node, 'back after replies were released without it');
    else if (returned) this.resync(node, 'back as the incarnation it was: what was on its way to it was dropped');
  }

  /** `node` obeyed a newer table: transfers that waited for it may start. */
  peerProgressed(node: string): void {
    this.#pump(node);
  }

  /** Forgets a peer that left the view (or restarted: a new incarnation starts from nothing). */
  dropPeer(node: string): void {
    for (const streams of [this.#streams, this.#transferStreams]) {
      streams.get(node)?.close(departed(node, 'left'));
      streams.delete(node);
    }
    this.#diverged.delete(node);
    this.#resyncedAtMs.delete(node);
    this.#lanes.delete(node);
    for (const [key, state] of this.#transfers) {
      if (splitKey(key)[0] !== node) continue;
      state.done.reject(departed(node, 'left'));
      this.#transfers.delete(key);
    }
  }

  /**
   * A backup's stream failed, it joined again as the incarnation it was (its
   * streams were dropped), or replies were released without it: it may have
   * missed records (`reason` says which, for the log). Every partition it
   * holds a copy of is sent again (records buffered from now on); what this
   * turn queued for it is dropped (the exports hold it), and the replies
   * waiting on it wait for those transfers instead.
   */
  resync(node: string, reason: string): void {
    const table = this.#table;
    if (this.#closed || table === null || this.#options.peer(node) === undefined) return;
    this.#diverged.add(node);
    const quiet = !this.#sendingTo(node);
    let resent = 0;
    for (let p = 0; p < table.owners.length; p++) {
      if (table.owners[p]![0] !== this.#options.self || !this.#copyHolders(table, p).includes(node)) continue;
      const key = `${node}:${p}`;
      const state = this.#transfers.get(key);
      resent++;
      if (state === undefined) this.#transfers.set(key, waitingTransfer(table.version));
      else if (state.phase !== 'waiting') this.#restart(state, new EngineError('ERR_REPLICATION_FAILED', `replication to ${node} failed`));
    }
    if (quiet && resent > 0) this.#options.onResync?.(node, resent, reason);
    this.#queued.delete(node);
    this.#touches.delete(node);
    for (const [p, turn] of this.#turn) {
      if (turn.nodes.delete(node)) turn.transfers.push(this.#transfers.get(`${node}:${p}`)?.done.promise ?? Promise.reject(departed(node, `no longer holds partition ${p}`)));
    }
    // A peer that fails again at once (it is down) is retried with the other failed transfers.
    const last = this.#resyncedAtMs.get(node) ?? -Infinity;
    if (performance.now() - last < TRANSFER_RETRY_MS) return this.#retryLater();
    this.#resyncedAtMs.set(node, performance.now());
    this.setTable(table);
  }

  /**
   * This node was evicted (or lost its lease): nothing it waits for may be
   * answered any more. Every waiting reply fails with `err` at once (the
   * outcome is ambiguous to the client), instead of waiting for copy holders
   * that now answer to another primary.
   */
  abandon(err: EngineError): void {
    this.#closeStreams(err);
    for (const [key, state] of this.#transfers) {
      state.done.reject(err);
      this.#transfers.delete(key);
    }
    this.#lanes.clear();
    this.#diverged.clear();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#touchTimer);
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#closeStreams();
  }

  /** Closes every stream, live and transfer (their waiting frames fail with `reason`). */
  #closeStreams(reason?: EngineError): void {
    for (const streams of [this.#streams, this.#transferStreams]) {
      for (const stream of streams.values()) stream.close(reason);
      streams.clear();
    }
  }

  // ---------------------------------------------------------------------------

  /** Nodes holding a copy of `partition` besides its primary: backups, then pending owners. */
  #copyHolders(table: PartitionTable, partition: number): string[] {
    return [...table.owners[partition]!.slice(1), ...table.pending[partition]!];
  }

  #turnOf(p: number): Turn {
    let turn = this.#turn.get(p);
    if (turn === undefined) {
      turn = { ...deferred(), nodes: new Set(), transfers: [] };
      this.#turn.set(p, turn);
      this.#latest.set(p, turn.promise);
      if (this.#queued.size === 0) setImmediate(() => this.#flush());
    }
    return turn;
  }

  #queue(node: string, partition: number, sync: boolean, add: (queued: { recs: RecordEnvelope[]; cmds: ShippedCommand[] }) => void): void {
    let queued = this.#queued.get(node);
    if (queued === undefined) {
      if (this.#queued.size === 0 && this.#turn.size === 0) setImmediate(() => this.#flush());
      this.#queued.set(node, (queued = { recs: [], cmds: [] }));
    }
    add(queued);
    if (sync) this.#turnOf(partition).nodes.add(node);
  }

  /** Sends this turn's frames; each partition's wait ends when its backups acknowledged (or their resync completed). */
  #flush(): void {
    const turns = this.#turn;
    const queued = this.#queued;
    this.#turn = new Map();
    this.#queued = new Map();
    const version = this.#table?.version ?? 0;
    const acks = new Map<string, Promise<void>>();
    for (const [node, { recs, cmds }] of queued) {
      const stream = this.#stream(node);
      const frame = cmds.length === 0 ? { table: version, recs } : { table: version, recs, cmds };
      if (stream === null) this.#missed.add(node);
      const acked = stream === null ? Promise.reject(departed(node, 'is not in the view')) : stream.send(frame);
      acked.catch(() => {});
      acks.set(node, acked);
    }
    // A departed copy holder releases the reply only while this node is still the partition's
    // primary: a table that moved the primary elsewhere drops these waits too, and then the new
    // owners may not hold the change.
    const settled = (p: number) => (wait: Promise<void>): Promise<void> =>
      wait.catch((err: unknown) => {
        if (!isDeparted(err) || this.#table?.owners[p]?.[0] !== this.#options.self) throw err;
        this.#options.onDegraded?.();
      });
    const started = performance.now();
    for (const [p, turn] of turns) {
      Promise.all([...[...turn.nodes].map((node) => acks.get(node)!), ...turn.transfers].map(settled(p))).then(turn.resolve, turn.reject);
      if (this.#options.onSlow !== undefined) this.#reportSlow(p, turn, started);
      void turn.promise.catch(() => {}).finally(() => {
        if (this.#latest.get(p) === turn.promise) this.#latest.delete(p);
      });
    }
  }

  #reportSlow(partition: number, turn: Turn, started: number): void {
    const report = (failed: boolean) => (): void => {
      const ms = performance.now() - started;
      if (ms >= SLOW_REPLICATION_MS) this.#options.onSlow!({ partition, ms: Math.round(ms), backups: [...turn.nodes], transfers: turn.transfers.length, failed });
    };
    turn.promise.then(report(false), report(true));
  }

  #queueTouch(node: string, envelope: RecordEnvelope): void {
    let byId = this.#touches.get(node);
    if (byId === undefined) this.#touches.set(node, (byId = new Map()));
    // The latest per session and client (an online and an offline session may share an id: the kind keeps them apart).
    const m = envelope.m as { k: number; id: string; client?: string };
    byId.set(`${m.k}/${m.id}/${m.client ?? ''}`, envelope);
  }

  /** Back to waiting: whoever waited for the transfer fails (ambiguous), later records are buffered for the next attempt. */
  #restart(state: TransferState, err: Error): void {
    state.done.reject(err);
    state.done = deferred();
    state.phase = 'waiting';
  }

  #lane(node: string): TransferLane {
    let lane = this.#lanes.get(node);
    if (lane === undefined) this.#lanes.set(node, (lane = { running: 0, records: 0, queue: new Set() }));
    return lane;
  }

  /** Starts waiting transfers to `node` while its lane has room. */
  #pump(node: string): void {
    const lane = this.#lanes.get(node);
    if (lane === undefined || this.#closed) return;
    const obeyed = this.#options.peerTable(node);
    for (const p of lane.queue) {
      if (lane.running >= TRANSFERS_PER_PEER || lane.records >= TRANSFER_WINDOW_RECORDS) return;
      const state = this.#transfers.get(`${node}:${p}`);
      if (state?.phase === 'waiting' && state.since > obeyed) continue; // started once the peer reports that table
      lane.queue.delete(p);
      if (state?.phase !== 'waiting') continue;
      lane.running++;
      void this.#transfer(node, p, state, lane).finally(() => {
        lane.running--;
        this.#pump(node);
      });
    }
  }

  async #transfer(node: string, partition: number, state: TransferState, lane: TransferLane): Promise<void> {
    const key = `${node}:${partition}`;
    state.phase = 'exporting';
    let held = 0;
    try {
      const stream = this.#transferStream(node);
      if (stream === null) throw new EngineError('ERR_REPLICATION_FAILED', `${node} is not connected`);
      const exported = await this.#options.exportPartition(partition);
      held = exported.records;
      lane.records += held;
      if (this.#transfers.get(key) !== state || state.phase !== 'exporting') return;
      const version = this.#table?.version ?? 0;
      const frames: Omit<ReplicateFrame, 'f' | 'from'>[] = exported.chunks.map((packed) => ({ table: version, chunk: { p: partition, packed } }));
      const seq = exported.seq;
      // Buffered records the export already holds (seq ≤ its seq) are dropped; touches always follow.
      const later = state.buffered.filter((e) => e.seq === 0 || e.seq > seq);
      state.buffered = [];
      // The export's codes and login failures, then the commands asked since the transfer was planned,
      // in order: replayed over the export they leave what the primary holds now (a put again is the
      // same put, a take of a code the export no longer held changes nothing). A version 2 peer knows
      // no loginFailurePut: it gets no records (it counts failures from the transfer on, as before).
      const failures = this.#options.peerProtocol(node) >= 3 ? exported.loginFailures : [];
      const cmds = [...[...exported.codes, ...failures].map((command) => ({ p: partition, command })), ...state.commands];
      state.commands = [];
      state.phase = 'streaming';
      if (later.length > 0 || cmds.length > 0) frames.push({ table: version, recs: later, ...(cmds.length > 0 ? { cmds } : {}) });
      // `done` rides on the last frame (the receiver takes it once that frame is applied): one frame and ack fewer per partition.
      if (frames.length > 0) frames[frames.length - 1]!.done = partition;
      else frames.push({ table: version, done: partition });
      frames[0]!.fresh = partition;
      const sends = frames.map((frame) => stream.send(frame));
      const done = state.done;
      await Promise.all(sends);
      // Records and commands buffered meanwhile follow on the same stream, until none is left:
      // only then may the partition's records and commands go live without overtaking them.
      while (state.done === done && (state.buffered.length > 0 || state.commands.length > 0)) {
        const { buffered: recs, commands: cmds } = state;
        state.buffered = [];
        state.commands = [];
        await stream.send({ table: this.#table?.version ?? version, recs, ...(cmds.length > 0 ? { cmds } : {}) });
      }
      if (state.done !== done) return;
      state.phase = 'complete';
      done.resolve();
      this.#options.onTransferred?.(exported.sessions);
      if (!this.#sendingTo(node)) this.#options.onDelivered?.(node);
    } catch (err) {
      if (this.#transfers.get(key) !== state || (state.phase as TransferState['phase']) === 'waiting') return;
      // Tried again shortly (the peer may still be starting, or behind on the table).
      this.#restart(state, err instanceof Error ? err : new Error(String(err)));
      this.#retryLater();
    } finally {
      lane.records -= held;
    }
  }

  #retryLater(): void {
    if (this.#retry !== null || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.#table !== null && !this.#closed) this.setTable(this.#table);
    }, TRANSFER_RETRY_MS);
    this.#retry.unref();
  }

  #stream(node: string): OutboundStream | null {
    return this.#streamIn(this.#streams, node, (failed, err) => this.resync(failed, err.message));
  }

  /** A broken transfer stream needs no resync: each transfer on it fails and is tried again. */
  #transferStream(node: string): OutboundStream | null {
    return this.#streamIn(this.#transferStreams, node, () => {});
  }

  #streamIn(streams: Map<string, OutboundStream>, node: string, onBroken: (peer: string, err: Error) => void): OutboundStream | null {
    let stream = streams.get(node);
    if (stream !== undefined) return stream;
    const peer = this.#options.peer(node);
    if (peer === undefined) return null;
    stream = new OutboundStream(peer, this.#options.self, this.#options.timeoutMs, {
      onTimeout: this.#options.onTimeout,
      onRecovered: (recovered) => this.#options.onRecovered?.(recovered),
      onAck: (seconds) => this.#options.onAck?.(seconds),
      onBroken,
    });
    streams.set(node, stream);
    return stream;
  }
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}
