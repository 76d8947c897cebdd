// The engine's login-failure API (brute-force detection): each call reaches
// the shard that owns the user's partition, where the record lives next to
// the user's sessions (src/actor/login-failures.ts). Times come from the
// engine's clock, in ms, as Keycloak keeps lastFailure.

import { OP } from '../protocol/actor-ops.js';
import type { LoginFailureRecordResult } from '../protocol/actor-messages.js';
import type { BruteForceSettings, LoginFailureRecord } from '../session/brute-force.js';
import type { Clock } from '../time/clock.js';
import { partitionOfUser, type PartitionRouter } from './partition-router.js';

export class LoginFailureClient {
  readonly #router: PartitionRouter;
  readonly #clock: Clock;

  constructor(router: PartitionRouter, clock: Clock) {
    this.#router = router;
    this.#clock = clock;
  }

  /** The user's record, or null when there is none (or it has been forgotten). */
  get(realmId: string, userId: string): Promise<LoginFailureRecord | null> {
    return this.#router.ask(partitionOfUser(realmId, userId), { op: OP.loginFailureGet, realm: realmId, userId, nowMs: this.#clock.nowMs() });
  }

  /** Counts one failed login from `ip` with the realm's settings; answers the new record and what it set off. */
  recordFailure(realmId: string, userId: string, ip: string, settings: BruteForceSettings): Promise<LoginFailureRecordResult> {
    return this.#router.ask(partitionOfUser(realmId, userId), {
      op: OP.loginFailureRecord,
      realm: realmId,
      userId,
      nowMs: this.#clock.nowMs(),
      ip,
      settings,
    });
  }

  /** Forgets the user's record (a successful login, the admin's DELETE); true when there was one. */
  remove(realmId: string, userId: string): Promise<boolean> {
    return this.#router.ask(partitionOfUser(realmId, userId), { op: OP.loginFailureRemove, realm: realmId, userId });
  }

  /** Forgets every record of a realm; answers how many there were. */
  async removeRealm(realmId: string): Promise<number> {
    const counts = await this.#router.scatter({ op: OP.loginFailureRemoveRealm, realm: realmId });
    return counts.reduce((a, b) => a + b, 0);
  }
}
