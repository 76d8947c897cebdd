// ActorPool: the shard workers of this node, and the routing of commands to
// them. It owns one ShardChannel per shard, the configuration every shard
// must hold (realms, clients, subscriptions: "sticky" commands replayed to a
// restarted worker before anything else), and one coarse timer that enforces
// command deadlines for all channels. Owner: the main thread.

import { COMMAND_TIMEOUT_MS } from '../constants.js';
import { EngineError } from '../errors.js';
import type { BootMessage, Command, ResultOf } from '../protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../protocol/actor-ops.js';
import { ShardChannel, type ShardObserver } from './shard-channel.js';

export interface ActorPoolOptions {
  shards: number;
  idleGraceSeconds: number;
  clockMode: 'system' | 'manual';
  startSecond: number;
  mailboxCommandsMax: number;
  dataDir: string | null;
  /** Offline sessions kept in memory by the whole node (split between shards). */
  offlineCacheEntries: number;
  durability: 'journal' | 'snapshot';
  /** Now (epoch s), for the journal restore of a restarted worker. */
  nowSeconds: () => number;
  timeoutMs?: number;
  observer: ShardObserver;
  /** The worker script (tests substitute a scripted one); default: the shard actor's entry. */
  workerUrl?: URL;
}

const WORKER_URL = new URL('../actor/worker-entry.js', import.meta.url);
const DEADLINE_CHECK_MS = 1000;

export class ActorPool {
  readonly #channels: ShardChannel[];
  /** Sticky commands by key, in insertion order: what a fresh worker must receive first. */
  readonly #sticky = new Map<string, Command>();
  #deadlineTimer: NodeJS.Timeout | null = null;

  constructor(options: ActorPoolOptions) {
    const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    this.#channels = [];
    for (let shard = 0; shard < options.shards; shard++) {
      const boot: BootMessage = {
        protocolVersion: PROTOCOL_VERSION,
        shard,
        shardCount: options.shards,
        idleGraceSeconds: options.idleGraceSeconds,
        clockMode: options.clockMode,
        startSecond: options.startSecond,
        mailboxCommandsMax: options.mailboxCommandsMax,
        dataDir: options.dataDir,
        offlineCacheEntries: Math.max(1, Math.ceil(options.offlineCacheEntries / options.shards)),
        durability: options.durability,
      };
      this.#channels.push(
        new ShardChannel({
          boot,
          workerUrl: options.workerUrl ?? WORKER_URL,
          observer: options.observer,
          replay: () => [...this.#sticky.values()],
          // A crashed worker's sessions come back from the journal: every answered change is in it.
          restore: () => (options.dataDir !== null && options.durability === 'journal' ? { op: OP.snapshotLoad, now: options.nowSeconds() } : null),
          timeoutMs,
        }),
      );
    }
  }

  get size(): number {
    return this.#channels.length;
  }

  get channels(): readonly ShardChannel[] {
    return this.#channels;
  }

  get ready(): boolean {
    return this.#channels.every((c) => c.ready);
  }

  /**
   * Starts every shard; resolves when all are ready. When one cannot start,
   * the others (started or still starting) are stopped before the error is
   * thrown, so a failed start leaves no worker thread behind.
   */
  async start(): Promise<void> {
    const started = await Promise.allSettled(this.#channels.map((c) => c.start()));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(this.#channels.map((c) => c.terminate()));
      throw failure.reason;
    }
    this.#deadlineTimer = setInterval(() => {
      const now = Date.now();
      for (const channel of this.#channels) channel.expireOverdue(now);
    }, DEADLINE_CHECK_MS);
    this.#deadlineTimer.unref();
  }

  /** Lets each shard write what is pending (offline idle clocks), then stops the workers. */
  async close(): Promise<void> {
    if (this.#deadlineTimer !== null) clearInterval(this.#deadlineTimer);
    this.#deadlineTimer = null;
    await Promise.allSettled(this.#channels.filter((c) => c.ready).map((c) => c.askAlone({ op: OP.shutdown })));
    await Promise.all(this.#channels.map((c) => c.terminate()));
  }

  /** Runs a command on one shard; the answer is typed by the command's op. */
  ask<C extends Command>(shard: number, command: C): Promise<ResultOf[C['op']]> {
    const channel = this.#channels[shard];
    if (channel === undefined) return Promise.reject(new EngineError('ERR_INVALID_ARGUMENT', `no shard ${shard}`));
    return channel.ask(command) as Promise<ResultOf[C['op']]>;
  }

  /** Runs a command on one shard in a batch of its own (a transfer's chunk: the shard's turns stay short). */
  askAlone<C extends Command>(shard: number, command: C): Promise<ResultOf[C['op']]> {
    const channel = this.#channels[shard];
    if (channel === undefined) return Promise.reject(new EngineError('ERR_INVALID_ARGUMENT', `no shard ${shard}`));
    return channel.askAlone(command) as Promise<ResultOf[C['op']]>;
  }

  /** Many commands to one shard behind one promise (see ShardChannel.askMany); a failed one answers its EngineError. */
  askMany<C extends Command>(shard: number, commands: readonly C[]): Promise<(ResultOf[C['op']] | EngineError)[]> {
    const channel = this.#channels[shard];
    if (channel === undefined) return Promise.reject(new EngineError('ERR_INVALID_ARGUMENT', `no shard ${shard}`));
    return channel.askMany(commands) as Promise<(ResultOf[C['op']] | EngineError)[]>;
  }

  /** Sends the command to every shard; resolves with their answers in shard order. */
  broadcast<C extends Command>(command: C): Promise<ResultOf[C['op']][]> {
    return Promise.all(this.#channels.map((c) => c.ask(command) as Promise<ResultOf[C['op']]>));
  }

  /** Like broadcast, each command in a batch of its own (time.advance). */
  broadcastAlone<C extends Command>(command: C): Promise<ResultOf[C['op']][]> {
    return Promise.all(this.#channels.map((c) => c.askAlone(command) as Promise<ResultOf[C['op']]>));
  }

  /**
   * Broadcasts a configuration command and remembers it under `key` (replacing
   * any earlier one), so that a restarted worker receives it again.
   */
  broadcastSticky<C extends Command>(key: string, command: C): Promise<ResultOf[C['op']][]> {
    this.#sticky.delete(key);
    this.#sticky.set(key, command);
    return this.broadcast(command);
  }

  /** Forgets a sticky command (and broadcasts its undo, if given). */
  unstick(key: string): void {
    this.#sticky.delete(key);
  }

  /** Terminates a shard's worker as a crash would: the supervisor restarts it. For tests and drills. */
  crashShard(shard: number): Promise<void> {
    const channel = this.#channels[shard];
    if (channel === undefined) return Promise.reject(new EngineError('ERR_INVALID_ARGUMENT', `no shard ${shard}`));
    return channel.terminate(true);
  }
}
