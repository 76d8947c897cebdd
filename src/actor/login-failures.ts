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
// records live in memory only, and a restart forgets them. In a cluster they
// travel whole: a partition's records with its state transfer, and each
// failure a primary records as the record it left (loginFailurePut), which
// a copy sets rather than counts, so replaying one twice changes nothing.
// Records are indexed by partition for the transfer's export.

import { EngineError } from '../errors.js';
import { OP } from '../protocol/actor-ops.js';
import type { LoginFailureCommand, LoginFailurePutCommand, LoginFailureRecordResult } from '../protocol/actor-messages.js';
import { partitionOf } from '../protocol/partition.js';
import { bruteForceSettings, recordExpiresAtMs, recordFailure, type LoginFailureRecord } from '../session/brute-force.js';

/**
 * Records a shard keeps at most. One exists per user with a recent failure;
 * at ~250 B each (with its partition index entry) this is ~125 MB per shard,
 * far above what the per-address login rate limit lets an attacker create
 * within maxDeltaTimeSeconds.
 */
export const LOGIN_FAILURES_MAX = 500_000;
/** Records examined per sweep (bounded work per command). */
const SWEEP_STEP_MAX = 64;

interface Entry {
  realm: string;
  userId: string;
  partition: number;
  record: LoginFailureRecord;
  /** Epoch ms after which the record is forgotten; null = kept (pure permanent lockout). */
  expiresAtMs: number | null;
}

function keyOf(realm: string, userId: string): string {
  return `${realm}\u0000${userId}`;
}

export class LoginFailures {
  /** In order of last write (the sweep and the size bound drop from the front). */
  readonly #entries = new Map<string, Entry>();
  /** The keys of each partition's records. */
  readonly #byPartition = new Map<number, Set<string>>();

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
      case OP.loginFailurePut:
        return this.put(command);
      case OP.loginFailureRemove:
        return this.#drop(keyOf(text(command.realm, 'realm'), text(command.userId, 'userId')));
      case OP.loginFailureRemoveRealm:
        return this.removeRealm(text(command.realm, 'realm'));
    }
  }

  /** Sets a user's record whole, as its primary left it (a copy's side of a recorded failure, or a state transfer's). */
  put(command: LoginFailurePutCommand): true {
    const realm = text(command.realm, 'realm');
    const userId = text(command.userId, 'userId');
    const expiresAtMs = command.expiresAtMs === null ? null : integer(command.expiresAtMs, 'expiresAtMs');
    this.#set(realm, userId, checkedRecord(command.record), expiresAtMs);
    return true;
  }

  /** The partition's records, as the puts that recreate them elsewhere (a state transfer's). */
  partitionRecords(partition: number, nowMs: number): LoginFailurePutCommand[] {
    const out: LoginFailurePutCommand[] = [];
    for (const key of this.#byPartition.get(partition) ?? []) {
      const { realm, userId, record, expiresAtMs } = this.#entries.get(key)!;
      if (expiresAtMs === null || expiresAtMs >= nowMs) out.push({ op: OP.loginFailurePut, realm, userId, record: { ...record }, expiresAtMs });
    }
    return out;
  }

  /** The user's record, or null (none, or forgotten by now). */
  get(realm: string, userId: string, nowMs: number): LoginFailureRecord | null {
    this.#sweep(nowMs);
    const key = keyOf(realm, userId);
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAtMs !== null && entry.expiresAtMs < nowMs) {
      this.#drop(key);
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
    this.#set(realm, userId, outcome.record, recordExpiresAtMs(outcome.record, settings));
    return { record: { ...outcome.record }, temporaryLockout: outcome.temporaryLockout, permanentLockout: outcome.permanentLockout };
  }

  removeRealm(realm: string): number {
    const prefix = `${realm}\u0000`;
    let removed = 0;
    for (const key of this.#entries.keys()) {
      if (key.startsWith(prefix)) {
        this.#drop(key);
        removed++;
      }
    }
    return removed;
  }

  /** Writes a record as the newest (re-inserted: the Map's order is the order of last write). */
  #set(realm: string, userId: string, record: LoginFailureRecord, expiresAtMs: number | null): void {
    const key = keyOf(realm, userId);
    const partition = partitionOf(realm, userId);
    this.#entries.delete(key);
    this.#entries.set(key, { realm, userId, partition, record, expiresAtMs });
    let keys = this.#byPartition.get(partition);
    if (keys === undefined) this.#byPartition.set(partition, (keys = new Set()));
    keys.add(key);
    if (this.#entries.size > LOGIN_FAILURES_MAX) this.#drop(this.#entries.keys().next().value!);
  }

  #drop(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    const keys = this.#byPartition.get(entry.partition)!;
    keys.delete(key);
    if (keys.size === 0) this.#byPartition.delete(entry.partition);
    return true;
  }

  /** Drops expired records from the front, a bounded number per call. */
  #sweep(nowMs: number): void {
    let examined = 0;
    for (const [key, entry] of this.#entries) {
      if (examined++ >= SWEEP_STEP_MAX) return;
      if (entry.expiresAtMs === null || entry.expiresAtMs >= nowMs) return;
      this.#drop(key);
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

/** A record from another node, checked field by field (a malformed one is refused, never stored). */
function checkedRecord(value: unknown): LoginFailureRecord {
  if (value === null || typeof value !== 'object') throw new EngineError('ERR_BAD_COMMAND', 'record must be an object');
  const r = value as Record<string, unknown>;
  const lastIP = r.lastIPFailure;
  if (lastIP !== null && typeof lastIP !== 'string') throw new EngineError('ERR_BAD_COMMAND', 'record.lastIPFailure must be a string or null');
  return {
    numFailures: integer(r.numFailures, 'record.numFailures'),
    numTemporaryLockouts: integer(r.numTemporaryLockouts, 'record.numTemporaryLockouts'),
    lastFailure: integer(r.lastFailure, 'record.lastFailure'),
    lastIPFailure: lastIP,
    failedLoginNotBefore: integer(r.failedLoginNotBefore, 'record.failedLoginNotBefore'),
  };
}
