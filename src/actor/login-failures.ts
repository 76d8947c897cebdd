// LoginFailures: a shard's login-failure records (brute-force detection), one
// per user of the partitions it owns. Owner: the shard actor, which hands it
// the four login-failure commands; the rules themselves are pure functions in
// src/session/brute-force.ts. Keeping the record with the user's sessions
// makes a failure's read-modify-write atomic without locks: the actor runs
// one command at a time, so two concurrent wrong passwords count twice.
//
// Memory: a record is forgotten maxDeltaTimeSeconds after its last failure
// (Keycloak's cache lifespan), dropped when read after that, and swept from
// the front of the Map (ordered by last write: each failure re-inserts its
// record). Past LOGIN_FAILURES_MAX records the oldest is dropped.
//
// Not journaled or snapshotted: like Keycloak's loginFailures cache, the
// records live in memory only, and a restart forgets them.

import { EngineError } from '../errors.js';
import { OP } from '../protocol/actor-ops.js';
import type { LoginFailureCommand, LoginFailureRecordResult } from '../protocol/actor-messages.js';
import { bruteForceSettings, recordExpiresAtMs, recordFailure, type LoginFailureRecord } from '../session/brute-force.js';

/**
 * Records a shard keeps at most. One exists per user with a recent failure;
 * at ~200 B each this is ~100 MB per shard, far above what the per-address
 * login rate limit lets an attacker create within maxDeltaTimeSeconds.
 */
export const LOGIN_FAILURES_MAX = 500_000;
/** Records examined per sweep (bounded work per command). */
const SWEEP_STEP_MAX = 64;

interface Entry {
  record: LoginFailureRecord;
  /** Epoch ms after which the record is forgotten; null = kept (pure permanent lockout). */
  expiresAtMs: number | null;
}

function keyOf(realm: string, userId: string): string {
  return `${realm}\u0000${userId}`;
}

export class LoginFailures {
  readonly #entries = new Map<string, Entry>();

  get size(): number {
    return this.#entries.size;
  }

  /** Runs one login-failure command (validated here, once). */
  execute(command: LoginFailureCommand): LoginFailureRecord | LoginFailureRecordResult | boolean | number | null {
    switch (command.op) {
      case OP.loginFailureGet:
        return this.get(text(command.realm, 'realm'), text(command.userId, 'userId'), integer(command.nowMs, 'nowMs'));
      case OP.loginFailureRecord:
        return this.recordFailure(command.realm, command.userId, command.nowMs, command.ip, command.settings);
      case OP.loginFailureRemove:
        return this.#entries.delete(keyOf(text(command.realm, 'realm'), text(command.userId, 'userId')));
      case OP.loginFailureRemoveRealm:
        return this.removeRealm(text(command.realm, 'realm'));
    }
  }

  /** The user's record, or null (none, or forgotten by now). */
  get(realm: string, userId: string, nowMs: number): LoginFailureRecord | null {
    this.#sweep(nowMs);
    const key = keyOf(realm, userId);
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAtMs !== null && entry.expiresAtMs < nowMs) {
      this.#entries.delete(key);
      return null;
    }
    return { ...entry.record };
  }

  recordFailure(realmValue: unknown, userValue: unknown, nowValue: unknown, ipValue: unknown, settingsValue: unknown): LoginFailureRecordResult {
    const realm = text(realmValue, 'realm');
    const userId = text(userValue, 'userId');
    const nowMs = integer(nowValue, 'nowMs');
    const ip = typeof ipValue === 'string' ? ipValue : '';
    if (settingsValue === null || typeof settingsValue !== 'object') throw new EngineError('ERR_BAD_COMMAND', 'settings must be an object');
    const settings = bruteForceSettings(settingsValue as Record<string, unknown>);
    const outcome = recordFailure(this.get(realm, userId, nowMs), settings, nowMs, ip);
    const key = keyOf(realm, userId);
    this.#entries.delete(key);
    this.#entries.set(key, { record: outcome.record, expiresAtMs: recordExpiresAtMs(outcome.record, settings) });
    if (this.#entries.size > LOGIN_FAILURES_MAX) this.#entries.delete(this.#entries.keys().next().value!);
    return { record: { ...outcome.record }, temporaryLockout: outcome.temporaryLockout, permanentLockout: outcome.permanentLockout };
  }

  removeRealm(realm: string): number {
    const prefix = `${realm}\u0000`;
    let removed = 0;
    for (const key of this.#entries.keys()) {
      if (key.startsWith(prefix)) {
        this.#entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /** Drops expired records from the front, a bounded number per call. */
  #sweep(nowMs: number): void {
    let examined = 0;
    for (const [key, entry] of this.#entries) {
      if (examined++ >= SWEEP_STEP_MAX) return;
      if (entry.expiresAtMs === null || entry.expiresAtMs >= nowMs) return;
      this.#entries.delete(key);
    }
  }
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new EngineError('ERR_BAD_COMMAND', `${name} must be a non-empty string`);
  return value;
}

function integer(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new EngineError('ERR_BAD_COMMAND', `${name} must be an integer`);
  return value;
}
