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
  /** The keys of each partition's codes, in arrival order (a transfer reads one partition's). */
  readonly #byPartition = new Map<number, Set<string>>();

  get size(): number {
    return this.#codes.size;
  }

  /** Stores a code; false when the store is full (after dropping expired codes). */
  put(sessionId: string, code: string, data: AuthCodeData, now: number): boolean {
    if (this.#codes.size >= CODES_MAX) this.#sweep(now);
    if (this.#codes.size >= CODES_MAX) return false;
    const key = `${sessionId}\u0000${code}`;
    this.#codes.set(key, data);
    const partition = partitionOfSessionId(sessionId);
    let keys = this.#byPartition.get(partition);
    if (keys === undefined) this.#byPartition.set(partition, (keys = new Set()));
    keys.add(key);
    return true;
  }

  /** Removes and returns the code if it exists, expired or not (`data.exp` tells; Keycloak: valid while now ≤ exp). */
  take(sessionId: string, code: string, now: number): AuthCodeData | null {
    const key = `${sessionId}\u0000${code}`;
    const data = this.#codes.get(key);
    if (data === undefined) return null;
    this.#forget(key, sessionId);
    this.#sweep(now);
    return data;
  }

  /**
   * The partition's codes not expired at `now`, in arrival order (a state
   * transfer carries them: a code put before a node was being filled must
   * be there if that node becomes the partition's primary).
   */
  partitionCodes(partition: number, now: number): { sessionId: string; code: string; data: AuthCodeData }[] {
    const out: { sessionId: string; code: string; data: AuthCodeData }[] = [];
    for (const key of this.#byPartition.get(partition) ?? []) {
      const data = this.#codes.get(key)!;
      if (data.exp < now) continue;
      const at = key.indexOf('\u0000');
      out.push({ sessionId: key.slice(0, at), code: key.slice(at + 1), data });
    }
    return out;
  }

  #forget(key: string, sessionId = key.slice(0, key.indexOf('\u0000'))): void {
    this.#codes.delete(key);
    const partition = partitionOfSessionId(sessionId);
    const keys = this.#byPartition.get(partition);
    keys?.delete(key);
    if (keys?.size === 0) this.#byPartition.delete(partition);
  }

  /** Drops expired codes from the front (Map order is arrival order, and lifetimes are equal per realm). */
  #sweep(now: number): void {
    for (const [key, data] of this.#codes) {
      if (data.exp >= now) break;
      this.#forget(key);
    }
  }
}
