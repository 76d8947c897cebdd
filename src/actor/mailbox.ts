// Mailbox: the bounded queue of command batches waiting for a shard's loop.
// Owner: the shard actor (one thread). A power-of-two ring of batches,
// bounded twice: by batches (the ring) and by the commands they hold, so that
// neither many tiny batches nor a few huge ones can grow it without limit.
// push() refuses rather than grows; the caller answers ERR_ACTOR_OVERLOADED.
//
//   head → [b0][b1][b2][  ][  ][  ][  ][  ] ← tail      mask = capacity − 1

import assert from 'node:assert/strict';

export class Mailbox<T extends { commands: readonly unknown[] }> {
  readonly #ring: (T | undefined)[];
  readonly #mask: number;
  readonly #commandsMax: number;
  #head = 0;
  #tail = 0;
  #commands = 0;

  constructor(batchesMax: number, commandsMax: number) {
    assert.ok(Number.isInteger(Math.log2(batchesMax)), 'batchesMax is a power of two');
    assert.ok(commandsMax > 0, 'commandsMax is positive');
    this.#ring = new Array<T | undefined>(batchesMax).fill(undefined);
    this.#mask = batchesMax - 1;
    this.#commandsMax = commandsMax;
  }

  /** Commands queued. */
  get commands(): number {
    return this.#commands;
  }

  get batches(): number {
    return this.#tail - this.#head;
  }

  get isEmpty(): boolean {
    return this.#tail === this.#head;
  }

  /**
   * Queues a batch; false (and nothing queued) when either bound would be
   * exceeded. `overCommandBudget` admits it past the command bound (never past
   * the ring): for the configuration a restarted worker must receive.
   */
  push(batch: T, overCommandBudget = false): boolean {
    if (this.#tail - this.#head > this.#mask) return false;
    if (!overCommandBudget && this.#commands + batch.commands.length > this.#commandsMax) return false;
    this.#ring[this.#tail & this.#mask] = batch;
    this.#tail++;
    this.#commands += batch.commands.length;
    return true;
  }

  shift(): T | undefined {
    if (this.#tail === this.#head) return undefined;
    const index = this.#head & this.#mask;
    const batch = this.#ring[index];
    this.#ring[index] = undefined;
    this.#head++;
    this.#commands -= batch!.commands.length;
    return batch;
  }
}
