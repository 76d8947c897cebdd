// FairHashQueue: password hashes in fair turns between client addresses.
//
// The hash pool (src/crypto/password-hasher.ts) serves first come, first
// served. Even with the per-address rate limit, one address's admitted burst
// (50 attempts in a window, arriving at once) would sit in front of everyone
// else's logins for seconds. This queue sits in front of the pool: at most
// `width` hashes (the pool's threads) are handed to it at a time, and the
// rest wait here, one FIFO per client address, served round-robin:
//
//   waiting:  A: a1 a2 a3 a4      B: b1      C: c1 c2
//   order:    a1 b1 c1 a2 c2 a3 a4
//
// So a login waits behind at most one hash per other address that is waiting
// too, however many one address sent, and nobody is refused while the pool
// has room (work-conserving: a single busy address still gets every thread).
// Past QUEUE_WAITING_MAX waiting hashes a new one is refused with
// ERR_HASH_OVERLOADED (503), the pool's own bound.
//
// Owner: the event loop of the node (one instance per node, password-login.ts).

import { EngineError } from '../../errors.js';
import { PASSWORD_QUEUE_MAX } from '../../crypto/password-hasher.js';

/** Hashes waiting here at most: the pool's bound, which it no longer sees (it holds only `width`). */
export const QUEUE_WAITING_MAX = PASSWORD_QUEUE_MAX;

export class FairHashQueue {
  readonly #width: number;
  #active = 0;
  #waiting = 0;
  /** Address -> its waiting turns, in round-robin order (a served address moves to the back). */
  readonly #queues = new Map<string, (() => void)[]>();

  constructor(width: number) {
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`width must be a positive integer, got ${width}`);
    this.#width = width;
  }

  /** Hashes handed to the pool now. */
  get active(): number {
    return this.#active;
  }

  /** Hashes waiting for their turn. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Runs `task` (one hash) in `address`'s turn. */
  async run<T>(address: string, task: () => Promise<T>): Promise<T> {
    if (this.#active < this.#width && this.#waiting === 0) {
      this.#active++;
    } else {
      if (this.#waiting >= QUEUE_WAITING_MAX) throw new EngineError('ERR_HASH_OVERLOADED');
      await new Promise<void>((resolve) => {
        let queue = this.#queues.get(address);
        if (queue === undefined) this.#queues.set(address, (queue = []));
        queue.push(resolve);
        this.#waiting++;
      });
    }
    try {
      return await task();
    } finally {
      this.#active--;
      this.#dispatch();
    }
  }

  /** Hands free places to the waiting addresses, one turn each, round-robin. */
  #dispatch(): void {
    while (this.#active < this.#width && this.#waiting > 0) {
      const [address, queue] = this.#queues.entries().next().value!;
      const turn = queue.shift()!;
      this.#queues.delete(address);
      if (queue.length > 0) this.#queues.set(address, queue);
      this.#waiting--;
      this.#active++;
      turn();
    }
  }
}
