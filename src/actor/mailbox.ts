// Mailbox: the bounded queue of command batches waiting for a shard's loop.
// Owner: the shard actor (one thread). Two power-of-two rings of batches,
// bounded together twice: by batches and by the commands they hold, so that
// neither many tiny batches nor a few huge ones can grow it without limit.
// push() refuses rather than grows; the caller answers ERR_ACTOR_OVERLOADED.
//
//   express  [e0][e1][  ][  ]                 shifted first
//   main     [m0][m1][m2][m3][  ][  ][  ][  ] in arrival order
//
// Order. A batch runs after every batch pushed before it, with one exception
// that keeps requests and a backup's acknowledgements fast while a shard
// replays a state transfer: a light batch (request-path commands, a backup's
// records) may overtake batches of replicated work (a transfer's chunks,
// exports, records held back), as long as no barrier is queued among them,
// none of them holds request-path commands, and none changes a partition the
// light batch changes. Request-path commands act on the partitions the shard
// serves and replicated work on its passive copies, each partition's records
// in order, so what is reordered commutes; batch-order.ts says which batch is
// which and this queue keeps the rule.

import assert from 'node:assert/strict';

/**
 * How a batch may be reordered. null: a barrier (it overtakes nothing and
 * nothing overtakes it). Otherwise: `partitions`, those whose copies its
 * replicated work changes; `heavy`, it holds a transfer chunk or an export
 * (it never overtakes); `requests`, it holds request-path commands (nothing
 * overtakes it: requests keep their order among themselves).
 */
export type BatchOrder = { heavy: boolean; requests: boolean; partitions: readonly number[] } | null;

/** A fixed-capacity FIFO ring; the Mailbox bounds what goes in. */
class Ring<T> {
  readonly #items: (T | undefined)[];
  readonly #mask: number;
  #head = 0;
  #tail = 0;

  constructor(capacity: number) {
    this.#items = new Array<T | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#tail - this.#head;
  }

  push(item: T): void {
    this.#items[this.#tail & this.#mask] = item;
    this.#tail++;
  }

  peek(): T | undefined {
    return this.#tail === this.#head ? undefined : this.#items[this.#head & this.#mask];
  }

  shift(): T | undefined {
    if (this.#tail === this.#head) return undefined;
    const index = this.#head & this.#mask;
    const item = this.#items[index];
    this.#items[index] = undefined;
    this.#head++;
    return item;
  }
}

/** A batch in the main ring, with what the express lane must know about it. */
interface Queued<T> {
  batch: T;
  partitions: readonly number[];
  /** A transfer chunk or an export (BatchOrder.heavy). */
  heavy: boolean;
  /** Nothing pushed after it overtakes it (a barrier, request-path commands, or a batch classified behind a barrier or such a batch). */
  blocking: boolean;
}

export class Mailbox<T extends { commands: readonly unknown[] }> {
  readonly #express: Ring<T>;
  readonly #main: Ring<Queued<T>>;
  readonly #batchesMax: number;
  readonly #commandsMax: number;
  #commands = 0;
  /** Blocking batches in the main ring: while there is one, nothing takes the express lane. */
  #blocking = 0;
  /** Per partition, main-ring batches whose replicated work changes it. */
  readonly #queuedAt: Map<number, number> = new Map();

  constructor(batchesMax: number, commandsMax: number) {
    assert.ok(Number.isInteger(Math.log2(batchesMax)), 'batchesMax is a power of two');
    assert.ok(commandsMax > 0, 'commandsMax is positive');
    this.#express = new Ring<T>(batchesMax);
    this.#main = new Ring<Queued<T>>(batchesMax);
    this.#batchesMax = batchesMax;
    this.#commandsMax = commandsMax;
  }

  /** Commands queued. */
  get commands(): number {
    return this.#commands;
  }

  get batches(): number {
    return this.#express.size + this.#main.size;
  }

  get isEmpty(): boolean {
    return this.batches === 0;
  }

  /**
   * Queues a batch; false (and nothing queued) when either bound would be
   * exceeded. `overCommandBudget` admits it past the command bound (never past
   * the ring): for the configuration a restarted worker must receive.
   * `order` (default: a barrier) says how it may be reordered (BatchOrder).
   */
  push(batch: T, overCommandBudget = false, order: BatchOrder = null): boolean {
    if (this.batches >= this.#batchesMax) return false;
    if (!overCommandBudget && this.#commands + batch.commands.length > this.#commandsMax) return false;
    this.#commands += batch.commands.length;
    if (order !== null && !order.heavy && this.#mayOvertake(order.partitions)) {
      this.#express.push(batch);
      return true;
    }
    const blocking = order === null || order.requests || this.#blocking > 0;
    const partitions = order === null ? [] : order.partitions;
    for (const p of partitions) this.#queuedAt.set(p, (this.#queuedAt.get(p) ?? 0) + 1);
    if (blocking) this.#blocking++;
    this.#main.push({ batch, partitions, heavy: order !== null && order.heavy, blocking });
    return true;
  }

  /** Whether the batch shift() returns next is heavy replicated work (a turn stops before it once it ran long). */
  get nextIsHeavy(): boolean {
    return this.#express.size === 0 && this.#main.peek()?.heavy === true;
  }

  shift(): T | undefined {
    const express = this.#express.shift();
    if (express !== undefined) {
      this.#commands -= express.commands.length;
      return express;
    }
    const queued = this.#main.shift();
    if (queued === undefined) return undefined;
    this.#commands -= queued.batch.commands.length;
    if (queued.blocking) this.#blocking--;
    for (const p of queued.partitions) {
      const n = this.#queuedAt.get(p)! - 1;
      if (n === 0) this.#queuedAt.delete(p);
      else this.#queuedAt.set(p, n);
    }
    return queued.batch;
  }

  /** May a light batch changing `partitions` go ahead of everything in the main ring? */
  #mayOvertake(partitions: readonly number[]): boolean {
    if (this.#blocking > 0) return false;
    for (const p of partitions) if (this.#queuedAt.has(p)) return false;
    return true;
  }
}
