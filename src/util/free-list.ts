// FreeList: released slot numbers of a set of typed-array columns, handed
// out again last in, first out. Owner: the shard's SessionTable (sessions,
// client sessions, users).
//
// An Int32Array grown like the columns (capacity.ts) rather than a JS array.
// A JS array of numbers grows on the heap by copying all of itself at once:
// while a logout-all freed 500,000 sessions of a shard, the free lists'
// growth held single 1 ms slices of that work for 14-32 ms, the requests
// queued behind them with it. This copies 4 bytes per entry, off the heap,
// holds nothing until the first release and, like the columns, keeps its
// largest size (4 bytes per slot ever free at once).

import { growInt32, grownCapacity } from './capacity.js';

const INITIAL_CAPACITY = 1024;

export class FreeList {
  #slots = new Int32Array(0);
  #length = 0;

  /** Slots waiting to be reused. */
  get length(): number {
    return this.#length;
  }

  /** Records `slot` (≥ 0) as free. */
  push(slot: number): void {
    if (this.#length === this.#slots.length) {
      this.#slots = growInt32(this.#slots, Math.max(INITIAL_CAPACITY, grownCapacity(this.#slots.length)));
    }
    this.#slots[this.#length++] = slot;
  }

  /** The slot freed last (taken off the list), or -1 when none is free. */
  pop(): number {
    return this.#length === 0 ? -1 : this.#slots[--this.#length]!;
  }
}
