// ShardChannel: the main thread's side of one shard worker. It batches
// commands, bounds what is in flight, matches replies to callers, enforces a
// deadline, and supervises the worker: a worker that dies is started again,
// its configuration replayed, and the commands that had not been sent yet go
// to the new worker. Owner: the main thread.
//
// Batching: commands asked during one event-loop turn travel together; the
// batch leaves in the check phase (setImmediate), or at once when it reaches
// BATCH_COMMANDS_MAX. Under HTTP load that turns many requests into one
// postMessage without adding a timer.
//
// Lanes: replicated work (a transfer's chunks, a backup's records, exports)
// waits in a list of its own and leaves in a batch of its own, ahead of the
// request-path batch of the same flush, so that the shard may run the requests
// before replicated work queued earlier (opLane in actor-ops.ts,
// src/actor/batch-order.ts). A barrier keeps its place: replicated work asked
// after one joins its list, behind it.
//
// Bound: commands in flight plus commands waiting never exceed
// `mailboxCommandsMax`; one more is refused with ERR_ACTOR_OVERLOADED at once,
// which the HTTP layer turns into a 503. Memory never grows without limit.

import { Worker } from 'node:worker_threads';
import { BATCH_COMMANDS_MAX, WORKER_RESTART_BACKOFF_MAX_MS, WORKER_RESTART_BACKOFF_MS } from '../constants.js';
import { EngineError, type ErrorCode } from '../errors.js';
import type {
  BatchMessage,
  BootMessage,
  Command,
  ExpiredNotice,
  ReplyMessage,
  ShardMessage,
} from '../protocol/actor-messages.js';
import { opLane } from '../protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import type { RecordEnvelope } from '../protocol/mutations.js';
import { fromWireError } from '../protocol/wire-error.js';

export type CommandOutcome = 'ok' | 'error' | 'overloaded' | 'restarted' | 'timeout' | 'unavailable';

/** What a channel reports to its owner (metrics, events, logs). */
export interface ShardObserver {
  commandDone(op: number, outcome: CommandOutcome): void;
  workerExited(shard: number, detail: string): void;
  workerStarted(shard: number, restarts: number): void;
  expired(notices: ExpiredNotice[]): void;
  /** Records a shard produced (with a reply, before its callers are answered, or after a turn's expiry), when subscribed. */
  records(shard: number, records: RecordEnvelope[]): void;
}

interface Waiter {
  op: number;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * One promise for many commands (askMany): each command's answer lands in
 * `results` at its index, a failed one as its EngineError. Bulk callers pay
 * one promise per call instead of one per command.
 */
class GroupWaiter {
  readonly op: number;
  readonly results: unknown[];
  #remaining: number;
  readonly #resolve: (results: unknown[]) => void;

  constructor(op: number, size: number, resolve: (results: unknown[]) => void) {
    this.op = op;
    this.results = new Array<unknown>(size);
    this.#remaining = size;
    this.#resolve = resolve;
  }

  settle(index: number, value: unknown): void {
    this.results[index] = value;
    if (--this.#remaining === 0) this.#resolve(this.results);
  }
}

/** Commands waiting for the next batch, with their waiters and, for group members, their index in the group (-1 for a single ask). */
class PendingCommands {
  commands: Command[] = [];
  waiters: (Waiter | GroupWaiter)[] = [];
  slots: number[] = [];
  /** It holds a barrier: replicated work asked after it must travel behind it, in this list. */
  barrier = false;

  get length(): number {
    return this.commands.length;
  }

  push(command: Command, waiter: Waiter | GroupWaiter, slot: number, barrier: boolean): void {
    this.commands.push(command);
    this.waiters.push(waiter);
    this.slots.push(slot);
    if (barrier) this.barrier = true;
  }

  /** Takes at most `max` commands from the front. */
  take(max: number): { commands: Command[]; waiters: (Waiter | GroupWaiter)[]; slots: number[] } {
    const { commands, waiters, slots } = this;
    if (commands.length <= max) {
      this.clear();
      return { commands, waiters, slots };
    }
    this.commands = commands.slice(max);
    this.waiters = waiters.slice(max);
    this.slots = slots.slice(max);
    return { commands: commands.slice(0, max), waiters: waiters.slice(0, max), slots: slots.slice(0, max) };
  }

  clear(): void {
    this.commands = [];
    this.waiters = [];
    this.slots = [];
    this.barrier = false;
  }
}

/** Waiters of a batch, and for group members their index in the group (-1 for a single ask). */
interface InFlightBatch {
  waiters: (Waiter | GroupWaiter)[];
  slots: number[];
  sentAtMs: number;
}

/** Consecutive failures before the first ready message after which the channel gives up. */
const STARTUP_FAILURES_MAX = 5;
/** A worker that ran this long resets the restart backoff. */
const STABLE_RUN_MS = 10_000;

export interface ShardChannelOptions {
  boot: BootMessage;
  workerUrl: URL;
  observer: ShardObserver;
  /** Commands that (re)configure a fresh worker: sent before anything else after every start. */
  replay: () => Command[];
  /**
   * After a restart (not the first start): the command that brings the
   * crashed worker's sessions back (a journal restore), sent right after the
   * configuration; null when there is nothing to restore from.
   */
  restore?: () => Command | null;
  timeoutMs: number;
}

export class ShardChannel {
  readonly shard: number;
  readonly #options: ShardChannelOptions;
  #worker: Worker | null = null;
  #state: 'idle' | 'starting' | 'ready' | 'closed' | 'failed' = 'idle';
  #startedAtMs = 0;
  #restarts = 0;
  #startupFailures = 0;
  #backoffMs = WORKER_RESTART_BACKOFF_MS;
  #restartTimer: NodeJS.Timeout | null = null;
  #readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  /** Request-path commands and barriers (and replicated work asked behind a barrier). */
  readonly #requests = new PendingCommands();
  /** Replicated work: sent first at each flush, as a batch of its own. */
  readonly #replicated = new PendingCommands();
  #flushScheduled = false;
  readonly #inFlight = new Map<number, InFlightBatch>();
  #inFlightCommands = 0;
  #nextBatchId = 1;

  constructor(options: ShardChannelOptions) {
    this.#options = options;
    this.shard = options.boot.shard;
  }

  /** Commands in flight plus commands waiting to be sent. */
  get depth(): number {
    return this.#inFlightCommands + this.#requests.length + this.#replicated.length;
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  get restarts(): number {
    return this.#restarts;
  }

  get threadId(): number {
    return this.#worker?.threadId ?? -1;
  }

  /** Starts the worker; resolves when it is ready and configured. */
  start(): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
    if (this.#state === 'idle') this.#spawn();
    return ready;
  }

  /** Queues a command for the next batch. */
  ask(command: Command): Promise<unknown> {
    const refusal = this.#refusal();
    if (refusal !== null) {
      this.#options.observer.commandDone(command.op, refusal === 'ERR_ACTOR_OVERLOADED' ? 'overloaded' : 'unavailable');
      return Promise.reject(new EngineError(refusal));
    }
    return new Promise((resolve, reject) => {
      this.#queue(command, { op: command.op, resolve, reject }, -1);
      this.#scheduleFlush();
    });
  }

  /**
   * Queues many commands behind ONE promise, resolving to their answers in
   * order (a failed command's answer is its EngineError). Refused as a whole,
   * at once, when they do not all fit in the mailbox.
   */
  askMany(commands: readonly Command[]): Promise<unknown[]> {
    if (commands.length === 0) return Promise.resolve([]);
    const refusal = this.#refusal(commands.length);
    if (refusal !== null) {
      for (const command of commands) this.#options.observer.commandDone(command.op, refusal === 'ERR_ACTOR_OVERLOADED' ? 'overloaded' : 'unavailable');
      return Promise.reject(new EngineError(refusal));
    }
    return new Promise((resolve) => {
      const group = new GroupWaiter(commands[0]!.op, commands.length, resolve);
      for (let i = 0; i < commands.length; i++) {
        if (this.#queue(commands[i]!, group, i).length >= BATCH_COMMANDS_MAX) this.#flush();
      }
      this.#scheduleFlush();
    });
  }

  /** Puts a command in its lane's list (PendingCommands); returns the list. */
  #queue(command: Command, waiter: Waiter | GroupWaiter, slot: number): PendingCommands {
    const lane = opLane(command.op);
    const list = lane === 'replicated' && !this.#requests.barrier ? this.#replicated : this.#requests;
    list.push(command, waiter, slot, lane === 'barrier');
    return list;
  }

  #scheduleFlush(): void {
    if (this.#requests.length >= BATCH_COMMANDS_MAX || this.#replicated.length >= BATCH_COMMANDS_MAX) this.#flush();
    else if (!this.#flushScheduled && this.#requests.length + this.#replicated.length > 0) {
      this.#flushScheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  /** Sends a command in a batch of its own (after what is already queued). */
  askAlone(command: Command): Promise<unknown> {
    this.#flush();
    const result = this.ask(command);
    this.#flush();
    return result;
  }

  /** Fails in-flight batches older than the deadline. Called by the pool's coarse timer. */
  expireOverdue(nowMs: number): void {
    for (const [id, batch] of this.#inFlight) {
      if (nowMs - batch.sentAtMs < this.#options.timeoutMs) continue;
      this.#inFlight.delete(id);
      this.#inFlightCommands -= batch.waiters.length;
      this.#failWaiters(batch.waiters, 'ERR_ACTOR_TIMEOUT', 'timeout', batch.slots);
    }
  }

  /** Stops the worker (as a crash would, if `crash`); used by shutdown and by tests of supervision. */
  async terminate(crash = false): Promise<void> {
    if (!crash) this.#state = 'closed';
    if (this.#restartTimer !== null) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = null;
    }
    const worker = this.#worker;
    if (worker !== null) await worker.terminate();
    if (!crash) {
      this.#failPending('ERR_ENGINE_CLOSED', 'unavailable');
      for (const waiter of this.#readyWaiters) waiter.reject(new EngineError('ERR_ENGINE_CLOSED'));
      this.#readyWaiters = [];
    }
  }

  // -------------------------------------------------------------------------

  #refusal(count = 1): ErrorCode | null {
    if (this.#state === 'closed') return 'ERR_ENGINE_CLOSED';
    if (this.#state === 'failed') return 'ERR_ACTOR_UNAVAILABLE';
    if (this.depth + count > this.#options.boot.mailboxCommandsMax) return 'ERR_ACTOR_OVERLOADED';
    return null;
  }

  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  /** Sends what waits: replicated work first (it was asked before any barrier in the other list), then the rest. */
  #flush(): void {
    if (this.#state !== 'ready') return;
    for (const list of [this.#replicated, this.#requests]) {
      while (list.length > 0) {
        const { commands, waiters, slots } = list.take(BATCH_COMMANDS_MAX);
        this.#send(commands, waiters, slots);
      }
    }
  }

  #failPending(code: ErrorCode, outcome: CommandOutcome): void {
    for (const list of [this.#replicated, this.#requests]) {
      this.#failWaiters(list.waiters, code, outcome, list.slots);
      list.clear();
    }
  }

  #send(commands: Command[], waiters: (Waiter | GroupWaiter)[], slots: number[], replay = false): void {
    const id = this.#nextBatchId++;
    const frame = encodeFrame((replay ? { kind: 'batch', id, commands, replay } : { kind: 'batch', id, commands }) satisfies BatchMessage);
    this.#inFlight.set(id, { waiters, slots, sentAtMs: Date.now() });
    this.#inFlightCommands += commands.length;
    this.#worker!.postMessage(frame);
  }

  #onFrame = (frame: Uint8Array): void => {
    let message: ShardMessage;
    try {
      message = decodeFrame<ShardMessage>(frame);
    } catch (err) {
      this.#options.observer.workerExited(this.shard, `undecodable frame from shard: ${(err as Error).message}`);
      return;
    }
    this.#onMessage(message);
  };

  #onMessage(message: ShardMessage): void {
    switch (message.kind) {
      case 'bundle':
        for (const inner of message.messages) this.#onMessage(inner);
        break;
      case 'reply':
        this.#onReply(message);
        break;
      case 'expired':
        this.#options.observer.expired(message.notices);
        break;
      case 'records':
        this.#options.observer.records(this.shard, message.records);
        break;
      case 'ready':
        this.#onReady();
        break;
    }
  }

  #onReply(reply: ReplyMessage): void {
    const batch = this.#inFlight.get(reply.id);
    if (batch === undefined) return; // timed out earlier
    this.#inFlight.delete(reply.id);
    this.#inFlightCommands -= batch.waiters.length;
    const observer = this.#options.observer;
    if (reply.records !== undefined && reply.records.length > 0) observer.records(this.shard, reply.records);
    let errorAt = -1;
    let errorIndex = 0;
    const errors = reply.errors;
    if (errors !== null && errors.length > 0) errorAt = errors[0]![0];
    for (let i = 0; i < batch.waiters.length; i++) {
      const waiter = batch.waiters[i]!;
      if (i === errorAt) {
        const wire = errors![errorIndex]![1];
        errorIndex++;
        errorAt = errorIndex < errors!.length ? errors![errorIndex]![0] : -1;
        const err = fromWireError(wire);
        observer.commandDone(waiter.op, err.code === 'ERR_ACTOR_OVERLOADED' ? 'overloaded' : 'error');
        if (waiter instanceof GroupWaiter) waiter.settle(batch.slots[i]!, err);
        else waiter.reject(err);
      } else {
        observer.commandDone(waiter.op, 'ok');
        if (waiter instanceof GroupWaiter) waiter.settle(batch.slots[i]!, reply.results[i]);
        else waiter.resolve(reply.results[i]);
      }
    }
  }

  #spawn(): void {
    this.#state = 'starting';
    const worker = new Worker(this.#options.workerUrl, {
      workerData: this.#options.boot,
      // A shard's heap is mostly its session table; let it grow with the process.
      resourceLimits: undefined,
    });
    this.#worker = worker;
    worker.on('message', this.#onFrame);
    worker.on('error', (err) => this.#options.observer.workerExited(this.shard, `error: ${err.message}`));
    worker.on('exit', (code) => this.#onExit(worker, code));
  }

  #onReady(): void {
    const replay = this.#options.replay();
    const restore = this.#restarts > 0 ? (this.#options.restore?.() ?? null) : null;
    if (restore !== null) replay.push(restore);
    this.#state = 'ready';
    this.#startedAtMs = Date.now();
    this.#startupFailures = 0;
    this.#options.observer.workerStarted(this.shard, this.#restarts);
    if (replay.length > 0) {
      // Configuration first, in batches of its own; failures are reported, not fatal.
      for (let i = 0; i < replay.length; i += BATCH_COMMANDS_MAX) {
        const commands = replay.slice(i, i + BATCH_COMMANDS_MAX);
        const waiters: Waiter[] = commands.map((command) => ({
          op: command.op,
          resolve: () => {},
          reject: (err: Error) => this.#options.observer.workerExited(this.shard, `replay failed: ${err.message}`),
        }));
        this.#send(commands, waiters, commands.map(() => -1), true);
      }
    }
    this.#flush();
    for (const waiter of this.#readyWaiters) waiter.resolve();
    this.#readyWaiters = [];
  }

  #onExit(worker: Worker, code: number): void {
    if (worker !== this.#worker) return;
    this.#worker = null;
    const inFlight = [...this.#inFlight.values()];
    this.#inFlight.clear();
    this.#inFlightCommands = 0;
    // At shutdown nothing restarts: callers are told the engine closed.
    const closed = this.#state === 'closed';
    for (const batch of inFlight) {
      this.#failWaiters(batch.waiters, closed ? 'ERR_ENGINE_CLOSED' : 'ERR_ACTOR_RESTARTED', closed ? 'unavailable' : 'restarted', batch.slots);
    }
    if (closed) return;

    const wasReady = this.#state === 'ready';
    this.#options.observer.workerExited(this.shard, `exited with code ${code}`);
    if (!wasReady) this.#startupFailures++;
    if (this.#startupFailures >= STARTUP_FAILURES_MAX) {
      this.#state = 'failed';
      this.#failPending('ERR_ACTOR_UNAVAILABLE', 'unavailable');
      const err = new EngineError('ERR_ACTOR_UNAVAILABLE', `shard ${this.shard} failed to start ${STARTUP_FAILURES_MAX} times`);
      for (const waiter of this.#readyWaiters) waiter.reject(err);
      this.#readyWaiters = [];
      return;
    }
    if (wasReady && Date.now() - this.#startedAtMs > STABLE_RUN_MS) this.#backoffMs = WORKER_RESTART_BACKOFF_MS;
    this.#state = 'starting';
    this.#restarts++;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#state === 'starting') this.#spawn();
    }, this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, WORKER_RESTART_BACKOFF_MAX_MS);
  }

  #failWaiters(waiters: (Waiter | GroupWaiter)[], code: ErrorCode, outcome: CommandOutcome, slots?: number[]): void {
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i]!;
      this.#options.observer.commandDone(waiter.op, outcome);
      if (waiter instanceof GroupWaiter) waiter.settle(slots![i]!, new EngineError(code));
      else waiter.reject(new EngineError(code));
    }
  }
}
