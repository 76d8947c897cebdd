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
// does not acknowledge within --replicate-timeout fails the wait with
// ERR_REPLICATION_FAILED (the change is applied on the primary: the outcome
// is ambiguous to the client) and is reported to the failure detector.
//
// Touch records (idle-clock moves, seq 0) never gate a reply: they are
// coalesced per session and shipped every --touch-replication-interval;
// applying them takes the max of clocks, so order does not matter.
//
// State transfer. A pending owner of a partition is sent the partition's
// sessions (an export the shard makes in one turn, with the partition's seq
// at that moment) in chunks, then the records buffered meanwhile whose seq is
// higher, then `done`; from there on it receives the partition's records
// live on the same ordered stream, without being waited for, until the
// coordinator makes it an owner. Everything goes on one ordered stream per
// peer, so a live record can never overtake the chunk that creates its
// session.

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { EngineError } from '../errors.js';
import { isTouchRecord, type ReplicatedRecord, type RecordEnvelope } from '../protocol/mutations.js';
import type { PartitionTable } from './partition-table.js';
import type { Peer } from './peer.js';
import type { ReplicateAck, ReplicateFrame, ShippedCommand } from './wire.js';

/** Pause before a failed transfer is tried again. */
const TRANSFER_RETRY_MS = 500;

/** Records per transfer chunk (a session is 1–3 records; Infinispan moves 512 entries per chunk). */
export const TRANSFER_CHUNK_RECORDS = 1_536;

type Stream = grpc.ClientDuplexStream<ReplicateFrame, ReplicateAck>;

interface AckWaiter {
  frame: number;
  sentMs: number;
  resolve(): void;
  reject(err: Error): void;
}

/** The outbound stream to one peer, with cumulative acknowledgements. */
class OutboundStream {
  readonly #peer: Peer;
  readonly #timeoutMs: number;
  readonly #onTimeout: (peer: string) => void;
  readonly #onAck: (seconds: number) => void;
  #stream: Stream | null = null;
  #nextFrame = 1;
  readonly #waiters: AckWaiter[] = [];

  constructor(peer: Peer, timeoutMs: number, onTimeout: (peer: string) => void, onAck: (seconds: number) => void) {
    this.#peer = peer;
    this.#timeoutMs = timeoutMs;
    this.#onTimeout = onTimeout;
    this.#onAck = onAck;
  }

  /** Sends a frame; resolves when the peer applied it (and every frame before it). */
  send(frame: Omit<ReplicateFrame, 'f'>): Promise<void> {
    const stream = this.#open();
    const f = this.#nextFrame++;
    const acked = new Promise<void>((resolve, reject) => this.#waiters.push({ frame: f, sentMs: performance.now(), resolve, reject }));
    const timer = setTimeout(() => {
      if (this.#waiters.some((w) => w.frame === f)) {
        this.#fail(new EngineError('ERR_REPLICATION_FAILED', `${this.#peer.node} did not acknowledge within ${this.#timeoutMs} ms`));
        this.#onTimeout(this.#peer.node);
      }
    }, this.#timeoutMs);
    void acked.then(() => clearTimeout(timer), () => clearTimeout(timer));
    stream.write({ ...frame, f });
    return acked;
  }

  #open(): Stream {
    if (this.#stream !== null) return this.#stream;
    const stream = (this.#peer.dataClient as unknown as { Replicate(): Stream }).Replicate();
    this.#stream = stream;
    this.#nextFrame = 1;
    stream.on('data', (ack: ReplicateAck) => {
      if (ack.refused !== undefined) {
        this.#fail(new EngineError('ERR_REPLICATION_FAILED', `${this.#peer.node} refused: ${ack.refused}`), ack.ack);
        return;
      }
      while (this.#waiters.length > 0 && this.#waiters[0]!.frame <= ack.ack) {
        const waiter = this.#waiters.shift()!;
        this.#onAck((performance.now() - waiter.sentMs) / 1000);
        waiter.resolve();
      }
    });
    const broken = (): void => {
      if (this.#stream !== stream) return;
      this.#stream = null;
      this.#fail(new EngineError('ERR_REPLICATION_FAILED', `replication stream to ${this.#peer.node} broke`));
    };
    stream.on('error', broken);
    stream.on('end', broken);
    return stream;
  }

  /** Fails every waiter (through `upTo` when given); the stream restarts from frame 1. */
  #fail(err: Error, upTo = Infinity): void {
    while (this.#waiters.length > 0 && this.#waiters[0]!.frame <= upTo) this.#waiters.shift()!.reject(err);
    if (upTo === Infinity || this.#waiters.length === 0) {
      const stream = this.#stream;
      this.#stream = null;
      stream?.end();
    }
  }

  close(): void {
    this.#fail(new EngineError('ERR_REPLICATION_FAILED', `stopped replicating to ${this.#peer.node}`));
  }
}

interface TransferState {
  /** Records that arrived while the export was running. */
  buffered: RecordEnvelope[] | null;
}

export interface ReplicatorOptions {
  self: string;
  timeoutMs: number;
  touchIntervalMs: number;
  peer(node: string): Peer | undefined;
  /** The shard export of a partition held as primary. */
  exportPartition(partition: number): Promise<{ records: ReplicatedRecord[]; seq: number }>;
  onTimeout(peer: string): void;
  /** A frame was acknowledged this many seconds after it was sent. */
  onAck?(seconds: number): void;
  onTransferred?(sessions: number, bytes: number): void;
}

export class Replicator {
  readonly #options: ReplicatorOptions;
  readonly #streams = new Map<string, OutboundStream>();
  #table: PartitionTable | null = null;
  /** Records and shipped commands of this turn, per peer. */
  #queued = new Map<string, { recs: RecordEnvelope[]; cmds: ShippedCommand[] }>();
  /** Per partition with records in this turn: what its replies wait for, and on which backups. */
  #turn = new Map<number, { done: Promise<void>; resolve(): void; reject(err: Error): void; nodes: Set<string> }>();
  readonly #latest = new Map<number, Promise<void>>();
  #touches = new Map<string, Map<string, RecordEnvelope>>();
  readonly #transfers = new Map<string, TransferState>();
  readonly #touchTimer: NodeJS.Timeout;
  #closed = false;

  constructor(options: ReplicatorOptions) {
    this.#options = options;
    this.#touchTimer = setInterval(() => this.flushTouches(), options.touchIntervalMs);
    this.#touchTimer.unref();
  }

  /** Obeys a new table: starts transfers to new pending owners of this node's primary partitions. */
  setTable(table: PartitionTable): void {
    this.#table = table;
    for (const key of this.#transfers.keys()) {
      const [node, p] = key.split(':') as [string, string];
      if (!table.pending[Number(p)]!.includes(node) || table.owners[Number(p)]![0] !== this.#options.self) this.#transfers.delete(key);
    }
    for (let p = 0; p < table.owners.length; p++) {
      if (table.owners[p]![0] !== this.#options.self) continue;
      for (const node of table.pending[p]!) if (!this.#transfers.has(`${node}:${p}`)) void this.#transfer(node, p);
    }
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
      for (const node of [...owners.slice(1), ...table.pending[p]!]) {
        const transfer = this.#transfers.get(`${node}:${p}`);
        if (transfer?.buffered != null) {
          transfer.buffered.push(envelope);
          continue;
        }
        if (touch) this.#queueTouch(node, envelope);
        else this.#queue(node, envelope.partition, owners.includes(node), (q) => q.recs.push(envelope));
      }
    }
  }

  /** Resolves once every backup applied the records of `partition` produced so far. */
  whenReplicated(partition: number): Promise<void> {
    return this.#latest.get(partition) ?? Promise.resolve();
  }

  /**
   * Ships a command whose effect lives outside the session table (an auth
   * code put or taken) to the partition's backups, which run it on their own
   * shard; the reply waits for them like it waits for records.
   */
  shipCommand(partition: number, command: ShippedCommand['command']): void {
    const table = this.#table;
    const owners = table?.owners[partition];
    if (owners === undefined || owners[0] !== this.#options.self) return;
    for (const node of owners.slice(1)) this.#queue(node, partition, true, (q) => q.cmds.push({ p: partition, command }));
  }

  #queue(node: string, partition: number, sync: boolean, add: (queued: { recs: RecordEnvelope[]; cmds: ShippedCommand[] }) => void): void {
    let queued = this.#queued.get(node);
    if (queued === undefined) {
      this.#queued.set(node, (queued = { recs: [], cmds: [] }));
      if (this.#queued.size === 1) setImmediate(() => this.#flush());
    }
    add(queued);
    if (!sync) return;
    const p = partition;
    let turn = this.#turn.get(p);
    if (turn === undefined) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      done.catch(() => {});
      turn = { done, resolve, reject, nodes: new Set() };
      this.#turn.set(p, turn);
      this.#latest.set(p, done);
    }
    turn.nodes.add(node);
  }

  /** Sends this turn's frames; each partition's wait ends when its backups acknowledged. */
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
      const acked = stream === null ? Promise.reject(new EngineError('ERR_REPLICATION_FAILED', `${node} is not connected`)) : stream.send(frame);
      acked.catch(() => {});
      acks.set(node, acked);
    }
    for (const [p, turn] of turns) {
      Promise.all([...turn.nodes].map((node) => acks.get(node)!)).then(turn.resolve, turn.reject);
      void turn.done.catch(() => {}).finally(() => {
        if (this.#latest.get(p) === turn.done) this.#latest.delete(p);
      });
    }
  }

  #queueTouch(node: string, envelope: RecordEnvelope): void {
    let byId = this.#touches.get(node);
    if (byId === undefined) this.#touches.set(node, (byId = new Map()));
    // The latest per session and client (an online and an offline session may share an id: the kind keeps them apart).
    const m = envelope.m as { k: number; id: string; client?: string };
    byId.set(`${m.k}/${m.id}/${m.client ?? ''}`, envelope);
  }

  /** Ships the coalesced idle-clock moves now (every interval, and before a graceful leave). */
  flushTouches(): void {
    const touches = this.#touches;
    this.#touches = new Map();
    const version = this.#table?.version ?? 0;
    for (const [node, byId] of touches) void this.#stream(node)?.send({ table: version, recs: [...byId.values()] }).catch(() => {});
  }

  async #transfer(node: string, partition: number): Promise<void> {
    const key = `${node}:${partition}`;
    const state: TransferState = { buffered: [] };
    this.#transfers.set(key, state);
    const stream = this.#stream(node);
    try {
      if (stream === null) throw new EngineError('ERR_REPLICATION_FAILED', `${node} is not connected`);
      const { records, seq } = await this.#options.exportPartition(partition);
      if (this.#transfers.get(key) !== state) return;
      const version = this.#table?.version ?? 0;
      const sends: Promise<void>[] = [];
      for (let i = 0; i < records.length; i += TRANSFER_CHUNK_RECORDS) {
        sends.push(stream.send({ table: version, chunk: { p: partition, recs: records.slice(i, i + TRANSFER_CHUNK_RECORDS) } }));
      }
      const later = state.buffered!.filter((e) => e.seq === 0 || e.seq > seq);
      state.buffered = null;
      if (later.length > 0) sends.push(stream.send({ table: version, recs: later }));
      sends.push(stream.send({ table: version, done: partition }));
      await Promise.all(sends);
      this.#options.onTransferred?.(records.filter((m) => m.k === 1).length, 0);
    } catch {
      // Tried again shortly (the peer may still be starting, or behind on the table).
      if (this.#transfers.get(key) === state) this.#transfers.delete(key);
      setTimeout(() => {
        if (this.#table !== null && !this.#closed) this.setTable(this.#table);
      }, TRANSFER_RETRY_MS).unref();
    }
  }

  #stream(node: string): OutboundStream | null {
    let stream = this.#streams.get(node);
    if (stream !== undefined) return stream;
    const peer = this.#options.peer(node);
    if (peer === undefined) return null;
    stream = new OutboundStream(peer, this.#options.timeoutMs, this.#options.onTimeout, (seconds) => this.#options.onAck?.(seconds));
    this.#streams.set(node, stream);
    return stream;
  }

  /** Resolves once every partition's records produced so far are replicated. */
  whenAllReplicated(): Promise<void> {
    return Promise.all([...this.#latest.values()]).then(() => {});
  }

  /** Forgets a peer that left the view. */
  dropPeer(node: string): void {
    this.#streams.get(node)?.close();
    this.#streams.delete(node);
    for (const key of this.#transfers.keys()) if (key.startsWith(`${node}:`)) this.#transfers.delete(key);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#touchTimer);
    for (const stream of this.#streams.values()) stream.close();
    this.#streams.clear();
  }
}
