// ShardActor: the single owner of one shard's sessions. It runs inside a
// shard worker (worker-entry.ts wires it to the MessagePort) but has no
// thread code of its own, so tests drive it on the main thread as well.
//
// Loop. Frames arrive as packed batches and wait in a bounded Mailbox, where
// requests and a backup's records may go ahead of a transfer's chunks and
// exports (batch-order.ts). One
// turn executes at most TURN_COMMANDS_MAX commands, and takes no further
// chunk or export after TURN_BATCHES_MS (whole batches, answering each batch
// as soon as it is done), then fires at most EXPIRY_TURN_MAX
// timer-wheel entries, then yields with setImmediate if work remains. So a mass
// expiry never holds commands back for longer than one bounded turn, and a
// burst of commands never starves expiry. A mass expiry, or the freeing of a
// logged-out realm, is also paced: after a slice that left work behind, the
// next waits a pause (EXPIRY_PAUSE_MS, CLEAR_PAUSE_MS), leaving the cores to
// the request path.
//
// Decisions. A command handler reads the table, applies Keycloak's rules
// (src/session/), and changes state only by applying mutation records; a
// handler that throws answers that command with an error and the loop goes
// on. Every `now` comes from the host with the command; the actor's own clock
// only paces background expiry in 'system' clock mode.

import {
  EXPIRY_NOTICES_BATCH_MAX,
  EXPIRY_TURN_MAX,
  EXPIRY_TURN_MS,
  LONG_TOUCH_WRITE_MS,
  MAILBOX_BATCHES_MAX,
  PARTITION_COUNT,
  TURN_BATCHES_MS,
  TURN_COMMANDS_MAX,
} from '../constants.js';
import { EngineError } from '../errors.js';
import {
  END_REASON,
  type BatchMessage,
  type CodePutCommand,
  type PartitionExport,
  type PartitionRolesResult,
  type BootMessage,
  type Command,
  type EndReason,
  type EndedSession,
  type ExpiredNotice,
  type RecordsMessage,
  type ReplyMessage,
  type RevokeResult,
  type SessionAttachClientCommand,
  type SessionCreateCommand,
  type SessionFilter,
  type OfflineRefreshCommand,
  type OfflineRealmSearchCommand,
  type OfflineRealmListCommand,
  type RealmListCommand,
  type SessionOrder,
  type SessionRefreshCommand,
  type RefreshFields,
  type ClientSessionView,
  type SessionView,
  type SessionRefreshResult,
  type ShardMessage,
  type ShardStats,
} from '../protocol/actor-messages.js';
import { OP } from '../protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import {
  MUTATION,
  checkMutations,
  clientViewOf,
  isOfflineRecord,
  partitionOfRecord,
  sessionViewOf,
  type ClientAttachedMutation,
  type Mutation,
  type OfflineWrittenMutation,
  type ReplicatedRecord,
  type SessionCreatedMutation,
} from '../protocol/mutations.js';
import { isPartition, partitionOfSessionId, shardOfPartition } from '../protocol/partition.js';
import { packChunks, unpackChunk } from '../protocol/transfer-chunks.js';
import { partitionDigest } from './partition-digest.js';
import { isSessionOrder, sessionComparator } from '../protocol/session-order.js';
import { toWireError, type WireError } from '../protocol/wire-error.js';
import { REFRESH_FAILURE_EFFECT, REFRESH_TOKEN_TYPE, verifyRefreshSession } from '../session/refresh-checks.js';
import { decideSessionLimit } from '../session/session-limits.js';
import type { Clock } from '../time/clock.js';
import { cidrMatcher } from '../util/ip-address.js';
import { TopK } from '../util/top-k.js';
import { CodeStore } from './code-store.js';
import { LoginFailures } from './login-failures.js';
import { Mailbox } from './mailbox.js';
import { OfflineStore, offlineView, type OfflineChange, type OfflineSessionRecord } from '../offline/offline-store.js';
import type { LmdbEnv } from '../store/lmdb-env.js';
import { Journal } from './journal.js';
import { SessionTable, type SlotFilter } from './session-table.js';
import { PartitionRoles } from './partition-roles.js';
import { CopyRefills } from './copy-refills.js';
import { batchOrder } from './batch-order.js';
import { listSlots, type ListQuery } from './session-listing.js';
import { ShardLog } from './shard-log.js';

/** Sends a frame to the host; `transfer` lists buffers to move rather than copy. */
export type ShardSend = (frame: Uint8Array) => void;

/** Sessions of a cleared realm freed per turn at most (and within EXPIRY_TURN_MS). */
const CLEAR_TURN_MAX = 16_384;
/**
 * Paced background work. A mass expiry or the freeing of a logged-out realm
 * runs in slices of EXPIRY_TURN_MS; run back to back, they keep the shard's
 * thread busy for the whole of it, and on a node whose threads outnumber its
 * cores the OS then deschedules the request path for tens of ms at a time
 * (token p99 ~100 ms during a logout-all of 1 M, concurrent p99 ~6.6 ms during
 * a mass expiry of 1 M). So a slice that leaves work behind is followed by a
 * pause (real ms) before the next: expiry takes at most 1 ms in every 2 (a
 * session past its deadline is already refused when read; the wheel counts
 * it out and reports it), freeing at most 1 ms in every 4 (a cleared session
 * is dead at once; only its memory waits).
 */
const EXPIRY_PAUSE_MS = 1;
const CLEAR_PAUSE_MS = 3;
/** How often (in shard seconds) the offline expiry index is swept. */
const OFFLINE_SWEEP_INTERVAL_S = 5;
const END_REASONS: ReadonlySet<string> = new Set(Object.values(END_REASON));
const EXPIRY_REASONS: ReadonlySet<string> = new Set([END_REASON.idle, END_REASON.max, END_REASON.rememberMeDisabled]);

/** A compiled session filter as a predicate over offline records. */
function offlineFilter(filter: SlotFilter): (r: OfflineSessionRecord) => boolean {
  return (r) =>
    (filter.userId === undefined || r.userId === filter.userId) &&
    (filter.client === undefined || r.clients.some((c) => c.client === filter.client)) &&
    (filter.lastAccessBefore === undefined || r.lastSessionRefresh < filter.lastAccessBefore) &&
    (filter.lastAccessFrom === undefined || r.lastSessionRefresh >= filter.lastAccessFrom) &&
    (filter.ipIn === undefined || filter.ipIn(r.ip)) &&
    (filter.ipNotIn === undefined || !filter.ipNotIn(r.ip));
}

/** An offline record matching a search as ui-ext's: substring of username or IP address, or a client of `searchClients`. */
function offlineSearch(search: unknown, searchClients: unknown): (r: OfflineSessionRecord) => boolean {
  const text = typeof search === 'string' ? search : '';
  const wanted = new Set(Array.isArray(searchClients) ? searchClients : []);
  return (r) => text === '' || r.username.includes(text) || r.ip.includes(text) || r.clients.some((c) => wanted.has(c.client));
}

/** The partitions shard `shard` of `shardCount` holds. */
function partitionsOfShard(shard: number, shardCount: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < PARTITION_COUNT; p++) if (shardOfPartition(p, shardCount) === shard) out.push(p);
  return out;
}

/** Every command of a batch failed with `err`. */
function failAll(reply: ReplyMessage, err: unknown): void {
  const wire = toWireError(err);
  reply.results.fill(null);
  reply.errors = reply.results.map((_, i): [number, WireError] => [i, wire]);
}

/** A transfer chunk's records, still to be validated; undecodable bytes are a bad record. */
function unpackedChunk(chunk: unknown): unknown {
  if (!(chunk instanceof Uint8Array)) throw new EngineError('ERR_BAD_RECORD', 'a chunk must be bytes');
  try {
    return unpackChunk(chunk);
  } catch (err) {
    throw new EngineError('ERR_BAD_RECORD', `a chunk does not decode: ${(err as Error).message}`);
  }
}

export class ShardActor {
  readonly #boot: BootMessage;
  readonly #clock: Clock;
  readonly #send: ShardSend;
  readonly #table: SessionTable;
  /** Primary and passive partitions (both in #table). */
  readonly #roles: PartitionRoles;
  /** Passive copies a state transfer is filling again (their stale sessions go when it is done). */
  readonly #refills: CopyRefills;
  readonly #mailbox: Mailbox<BatchMessage>;
  readonly #codes = new CodeStore();
  readonly #loginFailures = new LoginFailures();
  readonly #offline: OfflineStore | null;
  /** Offline expiry sweeps run when `#now` reaches this second. */
  #offlineSweepAt = 0;
  #offlineCaughtUp = true;
  /** LMDB work (sweeps, flushes) under way; waited for before a time.advance answers. */
  #pendingWork = new Set<Promise<unknown>>();

  /** The shard's notion of now for expiry: never moves backwards. */
  #now: number;
  #turnScheduled = false;
  #expiryTimer: NodeJS.Timeout | null = null;
  /** A turn for long idle-clock moves still to be written (journal, offline store) once LONG_TOUCH_WRITE_MS passed. */
  #longTouchTimer: NodeJS.Timeout | null = null;
  #pacedTimer: NodeJS.Timeout | null = null;
  /** Replies released by durable work, sent together at the end of the microtask run (#replyLater). */
  #outbox: (ReplyMessage | RecordsMessage)[] = [];
  /** The replies of this turn's batches, sent once its journal frame is written (#endTurnBatches). */
  #turnReplies: ReplyMessage[] = [];
  /** This turn's journal frame: `error` once writing it failed (the replies waiting for it fail too). */
  #turnWrite: { error: unknown } = { error: null };
  /** performance.now() before which no slice of expiry, or of freeing, runs (see EXPIRY_PAUSE_MS). */
  #nextExpiryAtMs = 0;
  #nextClearAtMs = 0;
  #expiryCaughtUp = true;
  #closed = false;

  #subscribedExpired = false;
  #expiredNotices: ExpiredNotice[] = [];
  /** Sequence numbers, the journal and snapshots: what becomes of every record the table applies. */
  readonly #log: ShardLog;
  /** Replies held until expiry catches up with a time.advance. */
  #advanceWaiters: { reply: ReplyMessage; index: number; written: { error: unknown } }[] = [];

  constructor(boot: BootMessage, clock: Clock, send: ShardSend, env: LmdbEnv | null = null) {
    this.#boot = boot;
    this.#clock = clock;
    this.#send = send;
    this.#now = boot.startSecond;
    this.#table = new SessionTable({ graceSeconds: boot.idleGraceSeconds, startSecond: boot.startSecond });
    const own = partitionsOfShard(boot.shard, boot.shardCount);
    this.#roles = new PartitionRoles(this.#table, own);
    this.#refills = new CopyRefills(this.#table);
    this.#mailbox = new Mailbox<BatchMessage>(MAILBOX_BATCHES_MAX, boot.mailboxCommandsMax);
    this.#log = new ShardLog(this.#table, env === null ? null : new Journal(env, boot.shard, boot.shardCount), boot.durability, own);
    this.#table.onMutation(this.#log.active ? this.#log.sink : null);
    this.#offline =
      env === null
        ? null
        : new OfflineStore(env, {
            shard: boot.shard,
            shardCount: boot.shardCount,
            cacheEntries: boot.offlineCacheEntries,
            graceSeconds: boot.idleGraceSeconds,
            settings: {
              realm: (id) => this.#table.realmSettings(id),
              client: (uuid) => this.#table.clientSettings(uuid),
            },
          });
    this.#offline?.servesPartitions((partition) => this.#roles.roleOf(partition) === 'primary');
  }

  /** Ended sessions are turned into views only while someone wants expiry notices (mass expiry stays cheap). */
  readonly #onEnded = (session: SessionView, reason: string, at: number): void => {
    if (EXPIRY_REASONS.has(reason)) this.#expiredNotices.push({ session, reason: reason as ExpiredNotice['reason'], at, offline: false });
  };

  /** For tests and benchmarks that drive the actor in-process. */
  get table(): SessionTable {
    return this.#table;
  }

  get mailboxCommands(): number {
    return this.#mailbox.commands;
  }

  /** A packed BatchMessage arrived. */
  receive(bytes: Uint8Array): void {
    if (this.#closed) return;
    let batch: BatchMessage;
    try {
      batch = decodeFrame<BatchMessage>(bytes);
    } catch (err) {
      // Unreadable frame: nothing to answer to. The host's deadline fails its commands.
      process.emitWarning(`shard ${this.#boot.shard}: dropped an undecodable frame: ${(err as Error).message}`);
      return;
    }
    if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.commands) || typeof batch.id !== 'number') {
      process.emitWarning(`shard ${this.#boot.shard}: dropped a malformed frame`);
      return;
    }
    // A restarted worker's configuration replay is admitted whatever its size:
    // refusing it would leave the shard without its realms for good.
    if (!this.#mailbox.push(batch, batch.replay === true, batchOrder(batch, this.#serves))) {
      const overloaded: WireError = toWireError(new EngineError('ERR_ACTOR_OVERLOADED'));
      this.#reply({
        kind: 'reply',
        id: batch.id,
        results: batch.commands.map(() => null),
        errors: batch.commands.map((_, i) => [i, overloaded]),
      });
      return;
    }
    this.#scheduleTurn();
  }

  /** Stops timers and writes the offline idle clocks still pending; queued commands are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of [this.#expiryTimer, this.#pacedTimer, this.#longTouchTimer]) if (timer !== null) clearTimeout(timer);
    this.#expiryTimer = null;
    this.#pacedTimer = null;
    this.#longTouchTimer = null;
    await Promise.allSettled([...this.#pendingWork]);
    await this.#offline?.close();
    await this.#log.close();
  }

  /** Runs one command synchronously (tests and benchmarks in-process). */
  execute(command: Command): unknown {
    return this.#execute(command);
  }

  // -------------------------------------------------------------------------
  // The loop

  #scheduleTurn(): void {
    if (this.#turnScheduled || this.#closed) return;
    this.#turnScheduled = true;
    setImmediate(this.#turn);
  }

  readonly #serves = (partition: number): boolean => this.#roles.serves(partition);

  readonly #turn = (): void => {
    this.#turnScheduled = false;
    if (this.#closed) return;
    let executed = 0;
    const until = performance.now() + TURN_BATCHES_MS;
    while (executed < TURN_COMMANDS_MAX) {
      const batch = this.#mailbox.shift();
      if (batch === undefined) break;
      executed += batch.commands.length;
      this.#runBatch(batch);
      if (this.#mailbox.nextIsHeavy && performance.now() >= until) break;
    }
    this.#endTurnBatches();
    if (this.#boot.clockMode === 'system') this.#advanceNow(this.#clock.nowSeconds());
    this.#expiryCaughtUp = this.#expiryTurn();
    const cleared = this.#clearTurn();
    this.#offlineTurn();
    for (const work of this.#log.turn(this.#clock.nowMs())) {
      this.#track(work);
      // Compactions wait for the previous ones' commit: the next turn after it starts them.
      void work.finally(() => this.#log.compactionsPending > 0 && this.#scheduleTurn());
    }
    this.#flushUnsolicited();
    if (this.#log.longTouchesWaiting || this.#offline?.longTouchesWaiting === true) this.#armLongTouchTimer();
    if (this.#expiryCaughtUp && this.#offlineCaughtUp) this.#releaseAdvanceWaiters();
    if (!this.#mailbox.isEmpty || !this.#offlineCaughtUp || this.#log.compactionsPending > 0) this.#scheduleTurn();
    else if (!this.#expiryCaughtUp || !cleared) this.#schedulePacedTurn();
    else this.#armExpiryTimer();
  };

  /** A slice of expiry, unless paused (EXPIRY_PAUSE_MS); true once caught up. */
  #expiryTurn(): boolean {
    if (performance.now() < this.#nextExpiryAtMs) return false;
    const caughtUp = this.#table.expire(this.#now, EXPIRY_TURN_MAX, EXPIRY_TURN_MS);
    if (!caughtUp) this.#nextExpiryAtMs = performance.now() + EXPIRY_PAUSE_MS;
    return caughtUp;
  }

  /** A slice of freeing cleared realms' sessions, unless paused (CLEAR_PAUSE_MS); true when none are left. */
  #clearTurn(): boolean {
    if (!this.#table.clearing) return true;
    if (performance.now() < this.#nextClearAtMs) return false;
    const cleared = this.#table.clearSlice(CLEAR_TURN_MAX, EXPIRY_TURN_MS);
    if (!cleared) this.#nextClearAtMs = performance.now() + CLEAR_PAUSE_MS;
    return cleared;
  }

  /** Only paced work is left: the next turn runs when the first pause ends (a command arriving meanwhile runs at once). */
  #schedulePacedTurn(): void {
    if (this.#pacedTimer !== null || this.#closed) return;
    const next = Math.min(this.#expiryCaughtUp ? Infinity : this.#nextExpiryAtMs, this.#table.clearing ? this.#nextClearAtMs : Infinity);
    this.#pacedTimer = setTimeout(() => {
      this.#pacedTimer = null;
      this.#scheduleTurn();
    }, Math.max(0, next - performance.now()));
    this.#pacedTimer.unref();
  }

  /** Offline expiry (a bounded sweep when due) and the coalesced idle-clock flush. */
  #offlineTurn(): void {
    const offline = this.#offline;
    if (offline === null) return;
    this.#track(offline.flush(this.#clock.nowMs()));
    if (this.#offlineCaughtUp && this.#now < this.#offlineSweepAt) return;
    const { caughtUp, ended, work } = offline.sweep(this.#now, EXPIRY_TURN_MAX);
    this.#track(work);
    this.#offlineCaughtUp = caughtUp;
    if (caughtUp) this.#offlineSweepAt = this.#now + OFFLINE_SWEEP_INTERVAL_S;
    for (const { session, reason } of ended) {
      this.#table.countExpiration(session.realm, reason);
      if (this.#subscribedExpired) this.#expiredNotices.push({ session, reason, at: this.#now, offline: true });
    }
  }

  #track(work: Promise<unknown> | null): void {
    if (work === null) return;
    this.#pendingWork.add(work);
    void work.finally(() => this.#pendingWork.delete(work));
  }

  #runBatch(batch: BatchMessage): void {
    const reply: ReplyMessage = { kind: 'reply', id: batch.id, results: new Array(batch.commands.length), errors: null };
    let deferred = false;
    let pending: Promise<unknown>[] | null = null;
    this.#log.beginBatch();
    const fail = (i: number, err: unknown): void => {
      reply.results[i] = null;
      (reply.errors ??= []).push([i, toWireError(err)]);
    };
    for (let i = 0; i < batch.commands.length; i++) {
      try {
        const command = batch.commands[i]!;
        if (command !== null && typeof command === 'object' && command.op === OP.timeAdvance) {
          deferred = true;
          this.#advanceNow(this.#integer(command.now, 'now'));
          this.#advanceWaiters.push({ reply, index: i, written: this.#turnWrite });
          reply.results[i] = null;
          continue;
        }
        const result = this.#execute(command);
        if (result instanceof Promise) {
          // Durable work (an LMDB commit): the batch answers once it is done.
          reply.results[i] = null;
          (pending ??= []).push(result.then((value) => void (reply.results[i] = value), (err: unknown) => fail(i, err)));
        } else {
          reply.results[i] = result;
        }
      } catch (err) {
        fail(i, err);
      }
    }
    const records = this.#log.endBatch();
    if (records !== null) reply.records = records;
    const written = this.#turnWrite;
    if (pending !== null) {
      // Settles after the turn: its journal frame is written (or failed) by then.
      void Promise.all(pending).then(() => {
        if (written.error !== null) failAll(reply, written.error);
        if (reply.errors !== null) reply.errors.sort((a, b) => a[0] - b[0]);
        if (!deferred) this.#replyLater(reply);
      });
      return;
    }
    if (!deferred) this.#turnReplies.push(reply);
  }

  /**
   * The end of a turn's batches: their journal records are written as one
   * frame, then their replies leave together in one frame (a reply never
   * reports a state that a crash could undo). If the log cannot be written,
   * every command of the turn's batches fails with ERR_JOURNAL_WRITE: its
   * change is in the table, and reaches the disk with a later turn's frame.
   */
  #endTurnBatches(): void {
    const written = this.#turnWrite;
    this.#turnWrite = { error: null };
    try {
      this.#log.writeJournal();
    } catch (err) {
      written.error = new EngineError('ERR_JOURNAL_WRITE', (err as Error).message);
      process.emitWarning(`shard ${this.#boot.shard}: the journal could not be written, its turn's commands fail: ${(err as Error).message}`);
    }
    const replies = this.#turnReplies;
    if (replies.length === 0) return;
    this.#turnReplies = [];
    if (written.error !== null) for (const reply of replies) failAll(reply, written.error);
    this.#reply(...replies);
  }

  /** Messages in one frame (a bundle if more than one): the host wakes up once for them. */
  #sendAll(messages: (ReplyMessage | RecordsMessage)[]): void {
    this.#send(encodeFrame(messages.length === 1 ? messages[0]! : ({ kind: 'bundle', messages } satisfies ShardMessage)));
  }

  /**
   * A reply released by durable work (an LMDB commit: an offline grant): the
   * replies one commit releases resolve in the same microtask run, and leave
   * together in one frame at its end (a shard waiting for commits otherwise
   * sent a frame per batch, and the host woke up for each).
   */
  #replyLater(reply: ReplyMessage): void {
    const flushScheduled = this.#outbox.length > 0;
    const late = this.#log.takeBackground();
    if (late.length > 0) this.#outbox.push({ kind: 'records', records: late });
    this.#outbox.push(reply);
    if (flushScheduled) return;
    queueMicrotask(() => {
      const messages = this.#outbox;
      this.#outbox = [];
      this.#sendAll(messages);
    });
  }

  #releaseAdvanceWaiters(): void {
    if (this.#advanceWaiters.length === 0) return;
    const waiters = this.#advanceWaiters;
    this.#advanceWaiters = [];
    const replies = new Set<ReplyMessage>();
    for (const waiter of waiters) {
      waiter.reply.results[waiter.index] = this.#now;
      // Its batch's other commands wrote to the journal in a turn whose frame failed: the whole batch fails, as its turn's others did.
      if (waiter.written.error !== null) failAll(waiter.reply, waiter.written.error);
      replies.add(waiter.reply);
    }
    // Expiry's LMDB writes are part of "caught up": answer after they commit.
    void Promise.allSettled([...this.#pendingWork]).then(() => this.#reply(...replies));
  }

  #advanceNow(now: number): void {
    if (now > this.#now) this.#now = now;
  }

  #armLongTouchTimer(): void {
    if (this.#longTouchTimer !== null || this.#closed) return;
    this.#longTouchTimer = setTimeout(() => {
      this.#longTouchTimer = null;
      this.#scheduleTurn();
    }, LONG_TOUCH_WRITE_MS);
    this.#longTouchTimer.unref();
  }

  #armExpiryTimer(): void {
    if (this.#boot.clockMode !== 'system' || this.#closed) return;
    if (this.#expiryTimer !== null) return;
    if (this.#table.wheelEntries === 0) return;
    // A 1 s tick while the wheel holds entries; the wheel itself skips empty
    // stretches, so an idle shard costs one cheap wake-up per second.
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = null;
      this.#scheduleTurn();
    }, 1000);
    this.#expiryTimer.unref();
  }

  #flushUnsolicited(): void {
    while (this.#expiredNotices.length > 0) {
      const notices = this.#expiredNotices.splice(0, EXPIRY_NOTICES_BATCH_MAX);
      this.#send(encodeFrame({ kind: 'expired', notices } satisfies ShardMessage));
    }
    const records = this.#log.takeBackground();
    if (records.length > 0) this.#send(encodeFrame({ kind: 'records', records } satisfies ShardMessage));
  }

  /** Replies in one frame, after the records produced since their batches ended (by durable work): a replicator has those before the answers. */
  #reply(...replies: ReplyMessage[]): void {
    const late = this.#log.takeBackground();
    this.#sendAll(late.length > 0 ? [{ kind: 'records', records: late }, ...replies] : replies);
  }

  // -------------------------------------------------------------------------
  // Commands

  #execute(command: Command): unknown {
    if (command === null || typeof command !== 'object') throw new EngineError('ERR_BAD_COMMAND', 'command is not an object');
    const table = this.#table;
    switch (command.op) {
      case OP.realmPut:
        table.putRealm(this.#string(command.realm, 'realm'), command.settings);
        return null;
      case OP.realmRemove:
        table.forgetPassiveRealm(this.#string(command.realm, 'realm'));
        return table.clearRealm(this.#string(command.realm, 'realm'), END_REASON.realmRemoved, this.#log.partitions);
      case OP.clientPut:
        table.putClient(this.#string(command.realm, 'realm'), this.#string(command.client, 'client'), command.settings);
        return null;
      case OP.partitionRoles:
        return this.#setRoles(command.partitions, command.role, command.budget, command.holdIdleSeconds);
      case OP.partitionExport:
        return this.#exportPartition(command.partition);
      case OP.partitionDigest:
        return this.#digests(command.partitions);
      case OP.clientRemove:
        return this.#removeClient(this.#string(command.client, 'client'));
      case OP.sessionCreate:
        return this.#create(command);
      case OP.sessionAttachClient:
        return this.#attach(command);
      case OP.sessionRefresh:
        return this.#refresh(command);
      case OP.sessionTouch:
        return table.apply({
          k: MUTATION.sessionTouched,
          id: this.#string(command.id, 'id'),
          lastSessionRefresh: this.#integer(command.now, 'now'),
        });
      case OP.sessionGet: {
        const slot = table.slotOf(this.#string(command.id, 'id'));
        if (slot < 0) return null;
        const now = this.#integer(command.now, 'now');
        return { session: table.view(slot), invalid: table.sessionInvalidReason(slot, now), clientsInvalid: table.clientsInvalid(slot, now) };
      }
      case OP.sessionRemove: {
        const slot = table.slotOf(this.#string(command.id, 'id'));
        if (slot < 0) return null;
        return this.#removeSlots([slot], this.#reason(command.reason))[0] ?? null;
      }
      case OP.sessionDetachClient:
        return this.#detach(this.#string(command.id, 'id'), this.#string(command.client, 'client'), command.removeIfEmpty === true);
      case OP.userLogout:
        return this.#removeSlots(
          table.userSlots(this.#string(command.realm, 'realm'), this.#string(command.userId, 'userId')),
          this.#reason(command.reason),
        );
      case OP.userSessions:
        return table
          .userSlots(this.#string(command.realm, 'realm'), this.#string(command.userId, 'userId'))
          .map((slot) => table.view(slot));
      case OP.realmLogoutAll:
        // Every session of the realm is dead when this answers; their memory is
        // freed in bounded slices over the next turns (clearSlice), so commands
        // for other sessions keep flowing meanwhile.
        return table.clearRealm(this.#string(command.realm, 'realm'), this.#reason(command.reason), this.#log.partitions);
      case OP.clientSessions:
        return table.clientSessions(this.#string(command.client, 'client'), this.#limit(command.limit));
      case OP.clientSessionCount:
        return table.clientSessionCount(this.#string(command.client, 'client'));
      case OP.realmClientStats:
        return table.realmClientStats(this.#string(command.realm, 'realm'));
      case OP.realmSearch:
        return table.search(
          this.#string(command.realm, 'realm'),
          typeof command.search === 'string' ? command.search : '',
          Array.isArray(command.searchClients) ? command.searchClients : [],
          typeof command.client === 'string' ? command.client : null,
          this.#limit(command.limit),
        );
      case OP.realmList:
        return this.#list(command);
      case OP.revokeIds:
        return this.#revokeIds(this.#string(command.realm, 'realm'), command.ids, this.#reason(command.reason));
      case OP.revokeFilter: {
        const slots = table.filterSlots(this.#string(command.realm, 'realm'), this.#slotFilter(command.filter));
        return { ended: this.#removeSlots(slots, this.#reason(command.reason)), failures: [] } satisfies RevokeResult;
      }
      case OP.countFilter:
        return table.filterSlots(this.#string(command.realm, 'realm'), this.#slotFilter(command.filter)).length;
      case OP.statsGet:
        return this.#stats();
      case OP.subscribe:
        this.#subscribedExpired = command.expired === true;
        this.#log.subscribed = command.records === true;
        table.onEnded(this.#subscribedExpired ? this.#onEnded : null);
        table.onMutation(this.#log.active ? this.#log.sink : null);
        this.#offline?.onChange(command.records === true ? this.#onOfflineChange : null);
        return null;
      case OP.mutationsReplay:
        return this.#replay(checkMutations(command.mutations));
      case OP.chunkReplay:
        return this.#replayChunk(command.chunk, this.#partition(command.partition));
      case OP.copyRefill:
        return this.#copyRefill(this.#partition(command.partition));
      case OP.copyFilled:
        return this.#copyFilled(this.#partition(command.partition));
      case OP.offlineGrant:
        return this.#offlineGrant(this.#string(command.id, 'id'), this.#string(command.client, 'client'), command.scope, this.#integer(command.now, 'now'));
      case OP.offlineGet: {
        const record = this.#offlineStore().get(this.#string(command.id, 'id'));
        if (record === undefined) return null;
        const now = this.#integer(command.now, 'now');
        const offline = this.#offlineStore();
        const clientsInvalid: Record<string, string | null> = {};
        for (const c of record.clients) clientsInvalid[c.client] = offline.clientInvalidReason(record, c, now);
        return { session: offlineView(record), invalid: offline.invalidReason(record, now), clientsInvalid };
      }
      case OP.offlineRefresh:
        return this.#offlineRefresh(command);
      case OP.offlineRemove:
        return this.#offlineStore().remove(this.#string(command.id, 'id'), this.#reason(command.reason));
      case OP.offlineRemoveClient:
        return this.#offlineStore().removeClient(this.#string(command.id, 'id'), this.#string(command.client, 'client'), this.#reason(command.reason));
      case OP.offlineUserSessions:
        return this.#offlineStore()
          .userSessions(this.#string(command.realm, 'realm'), this.#string(command.userId, 'userId'))
          .map((record) => offlineView(record));
      case OP.offlineRemoveUser:
        return this.#offlineStore().removeUser(this.#string(command.realm, 'realm'), this.#string(command.userId, 'userId'), this.#reason(command.reason));
      case OP.offlineRemoveClientAll:
        return this.#offlineStore().removeClientEverywhere(this.#string(command.client, 'client'), this.#reason(command.reason));
      case OP.offlineRemoveRealm:
        return this.#offlineStore().removeRealm(this.#string(command.realm, 'realm'), this.#reason(command.reason));
      case OP.offlineClientCount:
        return this.#offlineStore().clientCount(this.#string(command.client, 'client'));
      case OP.offlineClientSessions:
        return this.#offlineStore().clientSessions(this.#string(command.client, 'client'), this.#limit(command.limit)).map((r) => offlineView(r));
      case OP.offlineRealmSearch:
        return this.#offlineSearch(command);
      case OP.offlineRealmList:
        return this.#offlineList(command);
      case OP.offlineRevokeFilter:
        return this.#offlineStore().removeMatching(this.#string(command.realm, 'realm'), offlineFilter(this.#slotFilter(command.filter)), this.#reason(command.reason));
      case OP.offlineCountFilter:
        return this.#offlineStore().realmSessions(this.#string(command.realm, 'realm'), offlineFilter(this.#slotFilter(command.filter)), Number.MAX_SAFE_INTEGER).length;
      case OP.snapshotSave:
        return this.#log.save();
      case OP.snapshotLoad:
        return this.#log.load(this.#integer(command.now, 'now'));
      case OP.codePut:
        return this.#codes.put(this.#string(command.id, 'id'), this.#string(command.code, 'code'), command.data, this.#now);
      case OP.codeTake:
        return this.#codes.take(this.#string(command.id, 'id'), this.#string(command.code, 'code'), this.#integer(command.now, 'now'));
      case OP.chainGet: {
        const id = this.#string(command.id, 'id');
        const client = this.#string(command.client, 'client');
        const key = typeof command.reuseId === 'string' ? command.reuseId : '';
        if (command.offline === true) {
          return this.#offlineStore().get(id)?.clients.find((c) => c.client === client)?.chains?.[key] ?? null;
        }
        const slot = table.slotOf(id);
        const cs = slot < 0 ? -1 : table.clientSlotOf(slot, client);
        return cs < 0 ? null : (table.chainOf(cs, key) ?? null);
      }
      case OP.shutdown:
        return this.close().then(() => null);
      case OP.timeAdvance:
        // Handled by #runBatch (its reply waits for expiry to catch up).
        this.#advanceNow(this.#integer(command.now, 'now'));
        return this.#now;
      case OP.loginFailureGet:
      case OP.loginFailureRecord:
      case OP.loginFailurePut:
      case OP.loginFailureRemove:
      case OP.loginFailureRemoveRealm:
        return this.#loginFailures.execute(command);
      default:
        throw new EngineError('ERR_BAD_COMMAND', `unknown op ${String((command as { op: unknown }).op)}`);
    }
  }

  #apply(m: Mutation): boolean {
    return this.#table.apply(m);
  }

  #create(command: SessionCreateCommand): unknown {
    const table = this.#table;
    const realm = this.#string(command.realm, 'realm');
    if (!table.hasRealm(realm)) throw new EngineError('ERR_REALM_UNKNOWN', `realm ${realm} is not configured on this shard`);
    const id = this.#string(command.id, 'id');
    const partition = partitionOfSessionId(id);
    if (partition < 0) throw new EngineError('ERR_BAD_COMMAND', 'id is not a session id');
    if (this.#roles.roleOf(partition) !== 'primary') throw new EngineError('ERR_BAD_COMMAND', 'session id belongs to a partition this shard does not serve');
    if (table.slotOf(id) >= 0) throw new EngineError('ERR_BAD_COMMAND', 'session id exists');
    const userId = this.#string(command.userId, 'userId');
    const now = this.#integer(command.now, 'now');
    const clientUuid = command.client === null ? null : this.#string(command.client.client, 'client.client');

    let ended: EndedSession[] = [];
    const limits = command.limits;
    if (limits !== null && (limits.realmLimit > 0 || limits.clientLimit > 0)) {
      const existing = table.userSlots(realm, userId).map((slot) => ({
        id: table.idOf(slot),
        lastSessionRefresh: table.lastRefreshOf(slot),
        hasClient: clientUuid !== null && table.holdsClient(slot, clientUuid),
      }));
      const decision = decideSessionLimit(limits.clientLimit > 0 && clientUuid === null ? { ...limits, clientLimit: 0 } : limits, existing);
      if (!decision.allow) throw new EngineError('ERR_SESSION_LIMIT', `user session limit reached (${decision.limit})`, { limit: decision.limit });
      ended = this.#removeSlots(decision.victims.map((victim) => table.slotOf(victim)), END_REASON.sessionLimit);
    }

    const created: SessionCreatedMutation = {
      k: MUTATION.sessionCreated,
      id,
      partition,
      realm,
      userId,
      username: this.#string(command.username, 'username'),
      ip: this.#string(command.ip, 'ip'),
      authMethod: this.#string(command.authMethod, 'authMethod'),
      rememberMe: command.rememberMe === true,
      started: now,
      lastSessionRefresh: now,
      authTime: now,
      notes: command.notes ?? null,
    };
    this.#apply(created);
    const clients: ClientSessionView[] = [];
    if (command.client !== null) {
      const attached: ClientAttachedMutation = {
        k: MUTATION.clientAttached,
        id,
        client: clientUuid!,
        started: now,
        timestamp: now,
        scope: typeof command.client.scope === 'string' ? command.client.scope : '',
        ssoAuth: command.client.ssoAuth === true,
        notes: command.client.notes ?? null,
        userRefresh: -1,
      };
      this.#apply(attached);
      clients.push(clientViewOf(attached));
    }
    // The reply is the records just applied (the table holds exactly these values): reading them
    // back from the columns would rebuild every string the command already carries.
    return { session: sessionViewOf(created, clients), ended };
  }

  #attach(command: SessionAttachClientCommand): unknown {
    const table = this.#table;
    const id = this.#string(command.id, 'id');
    const slot = table.slotOf(id);
    if (slot < 0) throw new EngineError('ERR_SESSION_NOT_FOUND');
    const now = this.#integer(command.now, 'now');
    const clientUuid = this.#string(command.client.client, 'client.client');
    const existing = table.clientSlotOf(slot, clientUuid);
    // Keycloak reuses a valid client session and restarts an expired one.
    const reuse = existing >= 0 && table.clientInvalidReason(slot, existing, now) === null;
    const authTime = command.authTime === undefined ? null : this.#integer(command.authTime, 'authTime');
    this.#apply({
      k: MUTATION.clientAttached,
      id,
      client: clientUuid,
      started: reuse ? table.clientStartedOf(existing) : now,
      timestamp: now,
      scope: typeof command.client.scope === 'string' ? command.client.scope : '',
      ssoAuth: command.client.ssoAuth === true,
      notes: command.client.notes ?? null,
      userRefresh: command.touchUser === true ? now : -1,
    });
    if (authTime !== null) this.#apply({ k: MUTATION.sessionAuthenticated, id, authTime });
    return table.view(slot);
  }

  /**
   * The refresh_token grant's session part: the facts of steps 8–22 of
   * src/session/refresh-checks.ts (the token-only steps before them ran in
   * the facade), the verdict of verifyRefreshSession, then its effect or the
   * clock bump and chain update.
   */
  #refresh(command: SessionRefreshCommand): SessionRefreshResult {
    const table = this.#table;
    const id = this.#string(command.id, 'id');
    const clientUuid = this.#string(command.client, 'client');
    const now = this.#integer(command.now, 'now');
    const slot = table.slotOf(id);
    const cs = slot < 0 ? -1 : table.clientSlotOf(slot, clientUuid);
    const realm = slot < 0 ? undefined : table.realmSettings(table.realmIdOf(slot));
    const chainKey = typeof command.token.reuseId === 'string' ? command.token.reuseId : '';
    const verdict = verifyRefreshSession({
      ...this.#refreshFacts(command, REFRESH_TOKEN_TYPE.refresh, clientUuid, now),
      userSession: slot < 0 ? null : { started: table.startedOf(slot), invalidReason: table.sessionInvalidReason(slot, now) },
      clientSession: cs < 0 ? null : { started: table.clientStartedOf(cs), invalidReason: table.clientInvalidReason(slot, cs, now), clientId: clientUuid },
      offlineAccessGranted: true,
      reuse: realm?.revokeRefreshToken === true && cs >= 0 ? { chain: table.chainOf(cs, chainKey), maxReuse: realm.refreshTokenMaxReuse, serverStartedAt: command.serverStartedAt, newIssuedAt: now } : null,
    });
    if (!verdict.ok) {
      const result: SessionRefreshResult = { ok: false, error: verdict.description, detached: false, ended: null };
      if (verdict.effect === REFRESH_FAILURE_EFFECT.logoutUserSession && slot >= 0) {
        // Keycloak back-channel-logs-out an invalid session found by a refresh.
        result.ended = this.#removeSlots([slot], END_REASON.invalidOnRefresh)[0] ?? null;
      } else if (verdict.effect === REFRESH_FAILURE_EFFECT.removeClientSession || verdict.effect === REFRESH_FAILURE_EFFECT.detachClientSession) {
        this.#apply({ k: MUTATION.clientDetached, id, client: clientUuid });
        result.detached = true;
      }
      return result;
    }
    this.#apply({ k: MUTATION.clientRefreshed, id, client: clientUuid, at: now, chainKey: verdict.chain === null ? null : chainKey, chain: verdict.chain });
    return { ok: true, session: table.view(slot, cs) };
  }

  /** The facts every refresh shares (online or offline); the caller adds what its store knows. */
  #refreshFacts(command: RefreshFields, typ: string, clientUuid: string, now: number) {
    const token = command.token;
    if (token === null || typeof token !== 'object') throw new EngineError('ERR_BAD_COMMAND', 'token must be an object');
    return {
      now,
      // The facade checked azp against the authenticated client (step 7); the shard knows clients by UUID.
      token: { typ, iat: this.#integer(token.iat, 'token.iat'), jti: this.#string(token.jti, 'token.jti'), azp: clientUuid },
      authorizedClientId: clientUuid,
      realmNotBefore: command.notBefore.realm,
      clientNotBefore: command.notBefore.client,
      user: command.user,
      consentGranted: true,
    };
  }

  #offlineStore(): OfflineStore {
    if (this.#offline === null) throw new EngineError('ERR_OFFLINE_DISABLED');
    return this.#offline;
  }

  /** Offline token issue: the offline copy of an online session is created, or its idle clock moves (§1.5). */
  #offlineGrant(id: string, clientUuid: string, scope: unknown, now: number): Promise<SessionView> {
    const offline = this.#offlineStore();
    const slot = this.#table.slotOf(id);
    if (slot < 0) throw new EngineError('ERR_SESSION_NOT_FOUND', 'the online session to take offline does not exist');
    const online = this.#table.view(slot);
    const partition = this.#table.partitionOf(slot);
    return offline
      .grant(online, clientUuid, typeof scope === 'string' ? scope : '', now, partition)
      .then((record) => offlineView(record));
  }

  /** The refresh_token grant for an offline token: steps 8–22 of refresh-checks.ts against the offline store. */
  #offlineRefresh(command: OfflineRefreshCommand): SessionRefreshResult | Promise<SessionRefreshResult> {
    const offline = this.#offlineStore();
    const id = this.#string(command.id, 'id');
    const clientUuid = this.#string(command.client, 'client');
    const now = this.#integer(command.now, 'now');
    const record = offline.get(id);
    const client = record?.clients.find((c) => c.client === clientUuid);
    const realm = record === undefined ? undefined : this.#table.realmSettings(record.realm);
    const chainKey = typeof command.token.reuseId === 'string' ? command.token.reuseId : '';
    const verdict = verifyRefreshSession({
      ...this.#refreshFacts(command, REFRESH_TOKEN_TYPE.offline, clientUuid, now),
      userSession: record === undefined ? null : { started: record.started, invalidReason: offline.invalidReason(record, now) },
      clientSession: client === undefined ? null : { started: client.started, invalidReason: offline.clientInvalidReason(record!, client, now), clientId: clientUuid },
      offlineAccessGranted: command.offlineAccess !== false,
      reuse: realm?.revokeRefreshToken === true && client !== undefined ? { chain: client.chains?.[chainKey], maxReuse: realm.refreshTokenMaxReuse, serverStartedAt: command.serverStartedAt, newIssuedAt: now } : null,
    });
    if (!verdict.ok) {
      const fail = (ended: EndedSession | null, detached: boolean): SessionRefreshResult => ({ ok: false, error: verdict.description, detached, ended });
      switch (verdict.effect) {
        case REFRESH_FAILURE_EFFECT.revokeOfflineSession: // Keycloak revokes an offline session found invalid by a refresh
          return offline.remove(id, END_REASON.invalidOnRefresh).then((ended) => fail(ended, false));
        case REFRESH_FAILURE_EFFECT.removeClientSession:
          return offline.removeClient(id, clientUuid, END_REASON.invalidOnRefresh).then(() => fail(null, true));
        case REFRESH_FAILURE_EFFECT.detachClientSession:
          return offline.removeClient(id, clientUuid, END_REASON.revoked).then(() => fail(null, true));
        default:
          return fail(null, false);
      }
    }
    offline.touch(record!, clientUuid, now, verdict.chain === null ? null : chainKey, verdict.chain);
    return { ok: true, session: offlineView(offline.get(id)!, clientUuid) };
  }

  /**
   * Applies replicated records, validated whole before (a malformed record is
   * refused, never half-applied), to the partitions held (primary or passive);
   * records of partitions not held are skipped. Offline-session records go to
   * LMDB: the replay answers once they are committed.
   */
  #replay(mutations: ReplicatedRecord[]): number | Promise<number> {
    const { applied, writes } = this.#applyReplicated(mutations, mutations.map(partitionOfRecord));
    return writes.length === 0 ? applied : Promise.all(writes).then(() => applied);
  }

  /**
   * A transfer chunk of `partition`, refused whole when a record is of
   * another. Applied like replicated records; into a passive copy, it starts
   * the copy's filling (ShardLog.fill), and its bytes are handed to the
   * journal as they arrived, so that the copy's snapshot is written from them
   * (ShardLog.chunkApplied).
   */
  #replayChunk(chunk: unknown, partition: number): number | Promise<number> {
    const mutations = checkMutations(unpackedChunk(chunk));
    if (mutations.some((m) => partitionOfRecord(m) !== partition)) throw new EngineError('ERR_BAD_RECORD', `a chunk of partition ${partition} holds a record of another`);
    const passive = this.#roles.roleOf(partition) === 'passive';
    if (passive) {
      const erased = this.#log.fill(partition, false);
      if (erased !== null) this.#track(erased);
    }
    // The chunk's records are not handed to the journal one by one: its bytes are (chunkApplied).
    const { applied, taken, writes } = this.#applyReplicated(mutations, mutations.map(() => partition), false);
    if (passive) {
      const offline = mutations.filter(isOfflineRecord).length;
      this.#log.chunkApplied(partition, chunk as Uint8Array, offline === mutations.length ? 'offline' : offline === 0 && taken === mutations.length ? 'online' : 'mixed');
    }
    return writes.length === 0 ? applied : Promise.all(writes).then(() => applied);
  }

  /**
   * Applies validated records of the partitions held: how many, how many
   * online ones the table took, the offline writes under way. Those a
   * passive copy took go to its journal (ShardLog.copied) when `journaled`.
   */
  #applyReplicated(mutations: ReplicatedRecord[], partitions: readonly number[], journaled = true): { applied: number; taken: number; writes: Promise<unknown>[] } {
    let applied = 0;
    let taken = 0;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < mutations.length; i++) {
      const m = mutations[i]!;
      if (!this.#roles.holds(partitions[i]!)) continue;
      if (isOfflineRecord(m)) {
        if (this.#offline === null) continue;
        if (this.#roles.roleOf(partitions[i]!) === 'passive') this.#refills.before(partitions[i]!, m);
        writes.push(this.#offline.applyReplicated(m.k === MUTATION.offlineWritten ? { put: m.record as unknown as OfflineSessionRecord, touch: m.touch } : { removed: { id: m.id } as OfflineSessionRecord }));
        applied++;
        continue;
      }
      applied++;
      const passive = this.#roles.roleOf(partitions[i]!) === 'passive';
      if (passive) this.#refills.before(partitions[i]!, m);
      if (!this.#table.apply(m)) continue;
      taken++;
      if (passive && journaled) this.#log.copied(m);
    }
    return { applied, taken, writes };
  }

  /** A transfer starts filling a passive copy again: what it holds is noted (stale unless the transfer brings it), and its disk erased. */
  #copyRefill(partition: number): null {
    if (this.#roles.roleOf(partition) !== 'passive') return null;
    this.#refills.begin(partition, this.#offline?.partitionIds(partition) ?? []);
    const erased = this.#log.fill(partition, true);
    if (erased !== null) this.#track(erased);
    return null;
  }

  /** The transfer filling a passive copy is done: the sessions it did not bring go (online and offline), and the copy is journaled again. Answers how many went. */
  #copyFilled(partition: number): number | Promise<number> {
    const { removed, offline } = this.#refills.end(partition);
    this.#log.filled(partition);
    const store = this.#offline;
    if (store === null || offline.length === 0) return removed;
    return Promise.all(offline.map((id) => store.applyReplicated({ removed: { id } as OfflineSessionRecord }))).then(() => removed + offline.length);
  }

  /** Moves partitions between primary, passive and not held (promotion, demotion, handoff). */
  #setRoles(partitions: unknown, role: unknown, budget: unknown, holdIdleSeconds: unknown): PartitionRolesResult | Promise<PartitionRolesResult> {
    if (!Array.isArray(partitions) || !partitions.every(isPartition)) {
      throw new EngineError('ERR_BAD_COMMAND', 'partitions must be partition numbers');
    }
    if (role !== 'primary' && role !== 'passive' && role !== 'none') throw new EngineError('ERR_BAD_COMMAND', `unknown role ${String(role)}`);
    if (budget !== undefined && !(typeof budget === 'number' && budget > 0)) throw new EngineError('ERR_BAD_COMMAND', 'budget must be a positive number');
    if (holdIdleSeconds !== undefined && !(Number.isInteger(holdIdleSeconds) && (holdIdleSeconds as number) >= 0)) throw new EngineError('ERR_BAD_COMMAND', 'holdIdleSeconds must be a whole number of seconds');
    const grace = holdIdleSeconds === undefined ? null : { now: this.#now, window: holdIdleSeconds as number };
    const { moved, done, promoted, clocksMoved, dropped } = this.#roles.set(partitions as number[], role, budget ?? Infinity, grace);
    const result: PartitionRolesResult = { moved, done };
    this.#log.promoted(promoted, clocksMoved);
    if (role !== 'passive') for (const p of (partitions as number[]).slice(0, done)) this.#refills.forget(p);
    for (const work of this.#log.setPartitions(this.#roles.primaryPartitions(), this.#roles.passivePartitions())) this.#track(work);
    // A partition no longer held forgets its offline sessions too (answered once committed): if it comes back, a transfer refills it.
    const offline = this.#offline;
    const forgets = offline === null ? [] : dropped.map((p) => offline.forgetPartition(p)).filter((work) => work !== null);
    return forgets.length === 0 ? result : Promise.all(forgets).then(() => result);
  }

  #partition(value: unknown): number {
    if (!isPartition(value)) throw new EngineError('ERR_BAD_COMMAND', 'partition must be a partition number');
    return value;
  }

  #exportPartition(partition: unknown): PartitionExport {
    const p = this.#partition(partition);
    const seq = this.#log.seqOf(p);
    if (this.#roles.roleOf(p) !== 'primary') return { chunks: [], records: 0, sessions: 0, seq, codes: [], loginFailures: [] };
    const online: ReplicatedRecord[] = this.#table.partitionRecords(p);
    const sessions = online.filter((m) => m.k === MUTATION.sessionCreated).length;
    const offline = (this.#offline?.partitionRecords(p) ?? []).map((record) => offlineWritten(record, false));
    const codes = this.#codes.partitionCodes(p, this.#now).map(({ sessionId, code, data }): CodePutCommand => ({ op: OP.codePut, id: sessionId, code, data }));
    const loginFailures = this.#loginFailures.partitionRecords(p, this.#clock.nowMs());
    // Online and offline records in chunks of their own: a receiving copy keeps the online chunks as its snapshot.
    const chunks = [...packChunks(online), ...packChunks(offline)];
    return { chunks, records: online.length + offline.length, sessions, seq, codes, loginFailures };
  }

  #digests(partitions: unknown): (string | null)[] {
    if (!Array.isArray(partitions) || !partitions.every(isPartition)) throw new EngineError('ERR_BAD_COMMAND', 'partitions must be partition numbers');
    return partitions.map((p) => (this.#roles.holds(p) ? partitionDigest(this.#table.partitionRecords(p), this.#offline?.partitionRecords(p)) : null));
  }

  /** An offline-session change, as the record the partition's backups apply. */
  readonly #onOfflineChange = (change: OfflineChange): void => {
    if ('removed' in change) this.#log.offline({ k: MUTATION.offlineRemoved, id: change.removed.id }, 0);
    else this.#log.offline(offlineWritten(change.put, change.touch), change.jump ?? 0);
  };

  /** The realm-wide offline search (ui-ext OFFLINE): username or IP substring, or a listed client; optionally one client. */
  #offlineSearch(command: OfflineRealmSearchCommand): SessionView[] {
    const only = typeof command.client === 'string' ? command.client : null;
    const search = offlineSearch(command.search, command.searchClients);
    const match = (r: OfflineSessionRecord): boolean => (only === null || r.clients.some((c) => c.client === only)) && search(r);
    return this.#offlineStore().realmSessions(this.#string(command.realm, 'realm'), match, this.#limit(command.limit)).map((r) => offlineView(r));
  }

  /** A sorted page of the realm's online sessions matching a search and a filter (session-listing.ts). */
  #list(command: RealmListCommand): SessionView[] {
    const table = this.#table;
    const filter = this.#slotFilter(command.filter);
    const search = table.searchTest(typeof command.search === 'string' ? command.search : '', Array.isArray(command.searchClients) ? command.searchClients : []);
    const test = (slot: number): boolean => table.matchesFilter(slot, filter) && (search === null || search(slot));
    const query: ListQuery = { realmId: this.#string(command.realm, 'realm'), test, order: this.#order(command.order), limit: this.#limit(command.limit) };
    if (filter.userId !== undefined) query.userId = filter.userId;
    return listSlots(table, query).map((slot) => table.view(slot));
  }

  /** The same over offline sessions: every matching record of the realm offered to a bounded heap (no index keeps them in these orders). */
  #offlineList(command: OfflineRealmListCommand): SessionView[] {
    const realm = this.#string(command.realm, 'realm');
    const filter = this.#slotFilter(command.filter);
    const match = offlineFilter(filter);
    const search = offlineSearch(command.search, command.searchClients);
    const best = new TopK<OfflineSessionRecord>(this.#limit(command.limit), sessionComparator(this.#order(command.order)));
    const offer = (r: OfflineSessionRecord): boolean => {
      if (match(r) && search(r)) best.offer(r);
      return true;
    };
    const store = this.#offlineStore();
    if (filter.userId !== undefined) store.userSessions(realm, filter.userId).forEach(offer);
    else store.visitRealm(realm, offer);
    return best.sorted().map((r) => offlineView(r));
  }

  #detach(id: string, clientUuid: string, removeIfEmpty: boolean): { detached: boolean; ended: EndedSession | null } {
    const table = this.#table;
    const slot = table.slotOf(id);
    if (slot < 0 || table.clientSlotOf(slot, clientUuid) < 0) return { detached: false, ended: null };
    this.#apply({ k: MUTATION.clientDetached, id, client: clientUuid });
    if (removeIfEmpty && table.view(slot).clients.length === 0) {
      return { detached: true, ended: this.#removeSlots([slot], END_REASON.lastClientDetached)[0] ?? null };
    }
    return { detached: true, ended: null };
  }

  #removeClient(clientUuid: string): number {
    const table = this.#table;
    const slots = table.clientSessionSlots(clientUuid);
    for (const slot of slots) this.#apply({ k: MUTATION.clientDetached, id: table.idOf(slot), client: clientUuid });
    return slots.length;
  }

  #revokeIds(realm: string, ids: unknown, reason: EndReason): RevokeResult {
    if (!Array.isArray(ids)) throw new EngineError('ERR_BAD_COMMAND', 'ids must be an array');
    const table = this.#table;
    const result: RevokeResult = { ended: [], failures: [] };
    for (const id of ids) {
      const slot = typeof id === 'string' ? table.slotOf(id) : -1;
      if (slot < 0 || table.realmIdOf(slot) !== realm) {
        result.failures.push({ id: String(id), reason: 'not_found' });
        continue;
      }
      result.ended.push(...this.#removeSlots([slot], reason));
    }
    return result;
  }

  #removeSlots(slots: readonly number[], reason: EndReason): EndedSession[] {
    const table = this.#table;
    const out: EndedSession[] = [];
    for (const slot of slots) {
      if (slot < 0) continue;
      const session = table.view(slot);
      table.remove(session.id, reason, this.#now);
      out.push({ session, reason });
    }
    return out;
  }

  #slotFilter(filter: SessionFilter | undefined): SlotFilter {
    if (filter === null || typeof filter !== 'object') throw new EngineError('ERR_BAD_COMMAND', 'filter must be an object');
    const out: SlotFilter = {};
    try {
      if (typeof filter.userId === 'string') out.userId = filter.userId;
      if (typeof filter.client === 'string') out.client = filter.client;
      if (typeof filter.lastAccessBefore === 'number') out.lastAccessBefore = filter.lastAccessBefore;
      if (typeof filter.lastAccessFrom === 'number') out.lastAccessFrom = filter.lastAccessFrom;
      if (Array.isArray(filter.ipIn)) out.ipIn = cidrMatcher(filter.ipIn);
      if (Array.isArray(filter.ipNotIn)) out.ipNotIn = cidrMatcher(filter.ipNotIn);
    } catch (err) {
      throw new EngineError('ERR_INVALID_ARGUMENT', (err as Error).message);
    }
    return out;
  }

  #stats(): ShardStats {
    const { realms, expirations } = this.#table.stats();
    const offlineRealms: Record<string, number> = {};
    if (this.#offline !== null) for (const realm of Object.keys(realms)) offlineRealms[realm] = this.#offline.realmCount(realm);
    return {
      shard: this.#boot.shard,
      realms,
      expirations,
      offlineRealms,
      offlineCached: this.#offline?.cacheSize ?? 0,
      offlineDirty: this.#offline?.dirtyCount ?? 0,
      mailboxCommands: this.#mailbox.commands,
      wheelEntries: this.#table.wheelEntries,
      heapUsedBytes: process.memoryUsage().heapUsed,
    };
  }

  #order(value: unknown): SessionOrder {
    if (!isSessionOrder(value)) throw new EngineError('ERR_BAD_COMMAND', 'order must be {by: started | lastAccess, desc: boolean}');
    return value;
  }

  #reason(value: unknown): EndReason {
    if (typeof value === 'string' && END_REASONS.has(value)) return value as EndReason;
    throw new EngineError('ERR_BAD_COMMAND', `unknown end reason ${String(value)}`);
  }

  #string(value: unknown, name: string): string {
    if (typeof value !== 'string') throw new EngineError('ERR_BAD_COMMAND', `${name} must be a string`);
    return value;
  }

  #integer(value: unknown, name: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new EngineError('ERR_BAD_COMMAND', `${name} must be a non-negative integer`);
    }
    return value;
  }

  #limit(value: unknown): number {
    return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
  }
}

/** An offline session's record as the replicated record that writes it whole. */
function offlineWritten(record: OfflineSessionRecord, touch: boolean): OfflineWrittenMutation {
  return { k: MUTATION.offlineWritten, id: record.id, record: record as unknown as OfflineWrittenMutation['record'], touch };
}
