// CodeStore: a shard's pending authorization codes. Owner: the shard actor.
// A code is stored under its session (its id carries the session id, so it is
// routed to this shard) and taken at most once: the take removes it, so a
// replayed code finds nothing. Codes live accessCodeLifespan (60 s by
// default); a take hands an expired code back too (the caller answers "Code
// is expired", as Keycloak tells it apart from an unknown code), and expired
// codes nobody takes are swept in arrival order.
// Bounded: past CODES_MAX pending codes a put is refused.

import type { AuthCodeData } from '../protocol/actor-messages.js';
import { partitionOfSessionId } from '../protocol/partition.js';

/** Pending codes per shard; at 60 s lifetime this allows ~1,600 logins/s per shard. */
export const CODES_MAX = 100_000;

export class CodeStore {
  readonly #codes = new Map<string, AuthCodeData>();

  get size(): number {
    return this.#codes.size;
  }

  /** Stores a code; false when the store is full (after dropping expired codes). */
  put(sessionId: string, code: string, data: AuthCodeData, now: number): boolean {
    if (this.#codes.size >= CODES_MAX) this.#sweep(now);
    if (this.#codes.size >= CODES_MAX) return false;
    this.#codes.set(`${sessionId}\u0000${code}`, data);
    return true;
  }

  /** Removes and returns the code if it exists, expired or not (`data.exp` tells; Keycloak: valid while now ≤ exp). */
  take(sessionId: string, code: string, now: number): AuthCodeData | null {
    const key = `${sessionId}\u0000${code}`;
    const data = this.#codes.get(key);
    if (data === undefined) return null;
    this.#codes.delete(key);
    this.#sweep(now);
    return data;
  }

  /**
   * The partition's codes not expired at `now`, in arrival order (a state
   * transfer carries them: a code put before a node was being filled must
   * be there if that node becomes the partition's primary). A walk over every
   * code of the shard, which holds at most a lifespan's logins.
   */
  partitionCodes(partition: number, now: number): { sessionId: string; code: string; data: AuthCodeData }[] {
    const out: { sessionId: string; code: string; data: AuthCodeData }[] = [];
    for (const [key, data] of this.#codes) {
      if (data.exp < now) continue;
      const at = key.indexOf('\u0000');
      const sessionId = key.slice(0, at);
      if (partitionOfSessionId(sessionId) === partition) out.push({ sessionId, code: key.slice(at + 1), data });
    }
    return out;
  }

  /** Drops expired codes from the front (Map order is arrival order, and lifetimes are equal per realm). */
  #sweep(now: number): void {
    for (const [key, data] of this.#codes) {
      if (data.exp >= now) break;
      this.#codes.delete(key);
    }
  }
}
