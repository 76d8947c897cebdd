// OfflineStore: one shard's offline sessions (docs/keycloak-semantics.md#offline-sessions), written
// through to LMDB with a bounded LRU of hot records in front. Owner: the shard
// actor; it only ever touches the partitions its shard owns, so no two
// threads write the same keys and counters need no cross-thread locking.
//
// On disk (a change and its index and counter updates are written in one
// transaction, so indexes never disagree; the changes of one turn share it):
//
//   offline            sessionId                    -> OfflineSessionRecord
//   offline-by-user    [realmId, userId, sessionId] -> null     (list a user's)
//   offline-by-client  [clientUuid, sessionId]      -> null     (list a client's)
//   offline-expiry     [partition, deadline, id]    -> null     (sweep, per partition)
//   offline-counts     [clientUuid, partition]      -> n        (client counts: ≤ 1024 keys, never a scan)
//   offline-users      [realmId, partition]         -> n        (the sessions_active{type=offline} gauge)
//
// Lifecycle changes (grant, removal, client removal) are awaited until LMDB
// has committed them, so an offline token is never issued for a record a
// crash could lose. Idle-clock moves (refreshes) are coalesced: the record in
// the cache is marked dirty and written with the others at most once per
// flush interval, and at eviction and shutdown. A kill -9 can therefore lose
// at most one interval of idle-clock moves, never a session.
//
// In a cluster the shard also keeps copies of partitions it backs up: every
// change on a primary is handed out whole (onChange) and written over the
// copy (applyReplicated); copies are never counted, listed or swept until
// their partition is promoted, and a partition no longer held is forgotten.
//
// Expiry: each record has one entry in `offline-expiry` at its earliest
// deadline (user or client idle+grace, or max), like the online wheel. The
// sweep reads due entries of its partitions in bounded batches, recomputes
// from the record's current clocks, and either removes the session (or its
// expired client sessions) or moves the entry to the new deadline (lazy
// re-arm). Start-up reads nothing: sessions are loaded on first use, so it
// does not grow with the number of offline sessions on disk.

import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { Database } from 'lmdb';
import type { ClientSessionView, EndReason, EndedSession, SessionFields, SessionView } from '../protocol/actor-messages.js';
import type { ClientSessionSettings } from '../session/client-settings.js';
import { NEVER, earliest } from '../session/expiry.js';
import type { RealmSessionSettings } from '../session/realm-settings.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import { clientSessionDeadline, clientSessionInvalidReason, userSessionDeadline, userSessionInvalidReason, type InvalidReason } from '../session/validity.js';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';
import { partitionOfSessionId, shardOfPartition } from '../protocol/partition.js';
import { LONG_TOUCH_WRITE_MS, PARTITION_COUNT } from '../constants.js';

export const OFFLINE_RECORD_VERSION = 1;
/** Idle-clock moves are written at most this often. */
export const OFFLINE_FLUSH_INTERVAL_MS = 1000;
const DEADLINE_NONE = 0xffffffff;

export interface OfflineClientRecord {
  client: string;
  started: number;
  timestamp: number;
  scope: string;
  notes: Record<string, string> | null;
  chains: Record<string, RefreshChain> | null;
}

export interface OfflineSessionRecord extends SessionFields {
  v: number;
  partition: number;
  clients: OfflineClientRecord[];
  /** The deadline under which the record is indexed in offline-expiry. */
  deadline: number;
}

export interface OfflineSettings {
  realm(realmId: string): RealmSessionSettings | undefined;
  client(clientUuid: string): ClientSessionSettings;
}

export function offlineView(record: OfflineSessionRecord, onlyClient?: string): SessionView {
  const clients: ClientSessionView[] = [];
  for (const c of record.clients) {
    if (onlyClient !== undefined && c.client !== onlyClient) continue;
    clients.push({ client: c.client, started: c.started, timestamp: c.timestamp, scope: c.scope, ssoAuth: false, notes: c.notes });
  }
  return {
    id: record.id,
    realm: record.realm,
    userId: record.userId,
    username: record.username,
    ip: record.ip,
    authMethod: record.authMethod,
    rememberMe: record.rememberMe,
    started: record.started,
    lastSessionRefresh: record.lastSessionRefresh,
    authTime: record.authTime,
    clients,
    notes: record.notes,
  };
}

function assertRecord(record: OfflineSessionRecord, id: string): OfflineSessionRecord {
  // Two-sided check (written on encode, verified on decode): a record that
  // does not carry its own id or a known version is corruption, not data.
  if (record === null || typeof record !== 'object' || record.id !== id || record.v !== OFFLINE_RECORD_VERSION) {
    throw new Error(`offline record ${id} is corrupt or of an unknown version`);
  }
  return record;
}

/**
 * A change as the partition's other copies need it (cluster mode): the record
 * as it now is, or its removal. `touch`: only idle clocks moved, `jump`
 * seconds at most (see RecordEnvelope.jump).
 */
export type OfflineChange = { put: OfflineSessionRecord; touch: boolean; jump?: number } | { removed: OfflineSessionRecord };

export class OfflineStore {
  #onChange: ((change: OfflineChange) => void) | null = null;
  /** Whether this shard serves a partition (a backup's copies are kept, never listed, counted or swept). */
  #serves: (partition: number) => boolean = () => true;
  readonly #shard: number;
  readonly #shardCount: number;
  readonly #graceSeconds: number;
  readonly #settings: OfflineSettings;
  readonly #env: LmdbEnv;
  readonly #db: Database<OfflineSessionRecord, string>;
  readonly #byUser: Database<null, [string, string, string]>;
  readonly #byClient: Database<null, [string, string]>;
  /** Writes waiting for this turn's transaction (see #commit). */
  #pending: (() => void)[] = [];
  #pendingCommit: Promise<void> | null = null;
  readonly #expiry: Database<null, [number, number, string]>;
  readonly #counts: Database<number, [string, number]>;
  readonly #users: Database<number, [string, number]>;
  readonly #cache: LRUCache<string, OfflineSessionRecord>;
  readonly #dirty = new Set<string>();
  /** Dirty records whose idle clock moved by more than OFFLINE_FLUSH_INTERVAL_MS: written apart (see flush). */
  readonly #due = new Set<string>();
  #dueWrittenAtMs = -Infinity;
  readonly #partitions: number[] = [];
  #sweepPartition = 0;
  #lastFlushMs = 0;

  constructor(
    env: LmdbEnv,
    options: { shard: number; shardCount: number; cacheEntries: number; graceSeconds: number; settings: OfflineSettings },
  ) {
    this.#env = env;
    this.#shard = options.shard;
    this.#shardCount = options.shardCount;
    this.#graceSeconds = options.graceSeconds;
    this.#settings = options.settings;
    this.#db = env.db(DB.offline);
    this.#byUser = env.db(DB.offlineByUser);
    this.#byClient = env.db(DB.offlineByClient);
    this.#expiry = env.db(DB.offlineExpiry);
    this.#counts = env.db(DB.offlineCounts);
    this.#users = env.db(DB.offlineUsers);
    this.#cache = new LRUCache<string, OfflineSessionRecord>({
      max: Math.max(1, options.cacheEntries),
      // An evicted record whose idle clock moved is written before it is forgotten.
      dispose: (record, id, reason) => {
        if (reason === 'evict' && this.#dirty.has(id)) {
          this.#dirty.delete(id);
          void this.#commit(() => this.#writeRecord(record));
        }
      },
    });
    for (let p = 0; p < PARTITION_COUNT; p++) if (shardOfPartition(p, this.#shardCount) === this.#shard) this.#partitions.push(p);
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Cluster mode: every change is also handed to `listener` (for the partition's backups); null stops it. */
  onChange(listener: ((change: OfflineChange) => void) | null): void {
    this.#onChange = listener;
  }

  /** Which partitions this shard serves (primary); the others are copies nothing reads but replication. */
  servesPartitions(serves: (partition: number) => boolean): void {
    this.#serves = serves;
  }

  /**
   * Applies a change made on the partition's primary: the record replaces
   * whatever this copy had (its indexes and counters follow), or goes.
   * Resolves once committed.
   */
  applyReplicated(change: OfflineChange): Promise<void> {
    if ('removed' in change) {
      const id = change.removed.id;
      this.#cache.delete(id);
      this.#dirty.delete(id);
      return this.#commit(() => {
        const stored = this.#db.get(id);
        if (stored !== undefined) this.#removeRecord(stored);
      });
    }
    const record = change.put;
    this.#cache.set(record.id, record);
    this.#dirty.delete(record.id);
    return this.#commit(() => this.#upsert(record));
  }

  /** Every offline session of a partition (a state transfer to a new owner). */
  partitionRecords(partition: number): OfflineSessionRecord[] {
    const out: OfflineSessionRecord[] = [];
    for (const { key } of this.#expiry.getRange({ start: [partition], end: [partition + 1] })) {
      const record = this.get(key[2]);
      if (record !== undefined && record.deadline === key[1]) out.push(record);
    }
    return out;
  }

  /**
   * The ids of a partition's offline sessions, read from the expiry index
   * alone (a copy being filled again notes them without loading a record).
   */
  partitionIds(partition: number): string[] {
    const ids = new Set<string>();
    for (const key of this.#expiry.getKeys({ start: [partition], end: [partition + 1] })) ids.add(key[2]);
    return [...ids];
  }

  /** Drops a partition's offline sessions (this node no longer holds the partition). */
  forgetPartition(partition: number): Promise<void> | null {
    const records = this.partitionRecords(partition);
    if (records.length === 0) return null;
    for (const record of records) {
      this.#cache.delete(record.id);
      this.#dirty.delete(record.id);
    }
    return this.#commit(() => {
      for (const record of records) this.#removeRecord(record);
    });
  }

  #emit(change: OfflineChange): void {
    this.#onChange?.(change);
  }

  /** Inside a write transaction: writes `record` over the stored one, with every index and counter. */
  #upsert(record: OfflineSessionRecord): void {
    const old = this.#db.get(record.id);
    this.#db.put(record.id, record);
    if (old === undefined) {
      this.#byUser.put([record.realm, record.userId, record.id], null);
      this.#bump(this.#users, [record.realm, record.partition], 1);
    } else if (old.deadline !== record.deadline) this.#expiry.remove([old.partition, old.deadline, old.id]);
    if (old === undefined || old.deadline !== record.deadline) this.#expiry.put([record.partition, record.deadline, record.id], null);
    const before = new Set(old?.clients.map((c) => c.client) ?? []);
    const after = new Set(record.clients.map((c) => c.client));
    for (const client of after) {
      if (before.has(client)) continue;
      this.#byClient.put([client, record.id], null);
      this.#bump(this.#counts, [client, record.partition], 1);
    }
    for (const client of before) {
      if (after.has(client)) continue;
      this.#byClient.remove([client, record.id]);
      this.#bump(this.#counts, [client, record.partition], -1);
    }
  }

  /** The record, from the cache or (read back on demand) from LMDB. */
  get(id: string): OfflineSessionRecord | undefined {
    let record = this.#cache.get(id);
    if (record === undefined) {
      const stored = this.#db.get(id);
      if (stored === undefined) return undefined;
      record = assertRecord(stored, id);
      this.#cache.set(id, record);
    }
    return record;
  }

  invalidReason(record: OfflineSessionRecord, now: number): InvalidReason | null {
    const realm = this.#settings.realm(record.realm);
    if (realm === undefined) return 'max';
    return userSessionInvalidReason(realm, record, true, now, this.#graceSeconds);
  }

  clientInvalidReason(record: OfflineSessionRecord, client: OfflineClientRecord, now: number): InvalidReason | null {
    const realm = this.#settings.realm(record.realm);
    if (realm === undefined) return 'max';
    return clientSessionInvalidReason(realm, this.#settings.client(client.client), record, client, true, now, this.#graceSeconds);
  }

  /**
   * Creates the offline copy of an online session (same id) or bumps its idle
   * clock, and adds the client's offline client session if missing
   * (docs/keycloak-semantics.md#offline-sessions). Resolves once LMDB has committed.
   */
  async grant(online: SessionView, clientUuid: string, scope: string, now: number, partition: number): Promise<OfflineSessionRecord> {
    let record = this.get(online.id);
    const created = record === undefined;
    if (record === undefined) {
      record = {
        v: OFFLINE_RECORD_VERSION,
        id: online.id,
        partition,
        realm: online.realm,
        userId: online.userId,
        username: online.username,
        ip: online.ip,
        authMethod: online.authMethod,
        rememberMe: online.rememberMe,
        started: online.started,
        lastSessionRefresh: now,
        authTime: online.authTime,
        notes: online.notes,
        clients: [],
        deadline: DEADLINE_NONE,
      };
    } else {
      record = { ...record, clients: [...record.clients], lastSessionRefresh: now };
    }
    const existing = record.clients.findIndex((c) => c.client === clientUuid);
    const addedClient = existing < 0;
    if (addedClient) record.clients.push({ client: clientUuid, started: now, timestamp: now, scope, notes: null, chains: null });
    else record.clients[existing] = { ...record.clients[existing]!, timestamp: now, scope };
    const final = record;
    const oldDeadline = final.deadline;
    final.deadline = this.#deadlineOf(final);
    this.#dirty.delete(final.id);
    this.#cache.set(final.id, final);
    this.#emit({ put: final, touch: false });
    await this.#commit(() => {
      this.#db.put(final.id, final);
      if (oldDeadline !== final.deadline) {
        if (!created) this.#expiry.remove([final.partition, oldDeadline, final.id]);
        this.#expiry.put([final.partition, final.deadline, final.id], null);
      }
      if (created) {
        this.#byUser.put([final.realm, final.userId, final.id], null);
        this.#bump(this.#users, [final.realm, final.partition], 1);
      }
      if (addedClient) {
        this.#byClient.put([clientUuid, final.id], null);
        this.#bump(this.#counts, [clientUuid, final.partition], 1);
      }
    });
    return final;
  }

  /**
   * A refresh of an offline token succeeded: both idle clocks move to `now`
   * and the reuse chain is stored. Coalesced: written by the next flush
   * (sooner, apart, when a clock moved by more than OFFLINE_FLUSH_INTERVAL_MS).
   */
  touch(record: OfflineSessionRecord, clientUuid: string, now: number, chainKey: string | null, chain: RefreshChain | null): void {
    const clients = record.clients.map((c) =>
      c.client !== clientUuid
        ? c
        : {
            ...c,
            timestamp: Math.max(c.timestamp, now),
            chains: chainKey === null || chain === null ? c.chains : { ...(c.chains ?? {}), [chainKey]: chain },
          },
    );
    const updated: OfflineSessionRecord = { ...record, lastSessionRefresh: now, clients };
    this.#cache.set(updated.id, updated);
    this.#dirty.add(updated.id);
    const clientBefore = record.clients.find((c) => c.client === clientUuid)?.timestamp ?? now;
    const jump = Math.max(0, now - record.lastSessionRefresh, now - clientBefore);
    // A long move is written apart: what a kill -9 loses are moves of at most the flush interval (and long ones of the last LONG_TOUCH_WRITE_MS).
    if (jump * 1000 > OFFLINE_FLUSH_INTERVAL_MS) this.#due.add(updated.id);
    // A rotation is a lifecycle change for the backups; a plain refresh only moves clocks.
    this.#emit({ put: updated, touch: chainKey === null || chain === null, jump });
  }

  /** Removes an offline session and its index entries. */
  async remove(id: string, reason: EndReason): Promise<EndedSession | null> {
    const record = this.get(id);
    if (record === undefined) return null;
    this.#cache.delete(id);
    this.#dirty.delete(id);
    this.#emit({ removed: record });
    await this.#commit(() => this.#removeRecord(record));
    return { session: offlineView(record), reason };
  }

  /** Removes one offline client session; the session goes too when it was the last. */
  async removeClient(id: string, clientUuid: string, reason: EndReason): Promise<{ removed: boolean; ended: EndedSession | null }> {
    const record = this.get(id);
    if (record === undefined || !record.clients.some((c) => c.client === clientUuid)) return { removed: false, ended: null };
    if (record.clients.length === 1) return { removed: true, ended: await this.remove(id, reason) };
    const updated: OfflineSessionRecord = { ...record, clients: record.clients.filter((c) => c.client !== clientUuid) };
    const oldDeadline = record.deadline;
    updated.deadline = this.#deadlineOf(updated);
    this.#cache.set(id, updated);
    this.#dirty.delete(id);
    this.#emit({ put: updated, touch: false });
    await this.#commit(() => {
      this.#db.put(id, updated);
      this.#byClient.remove([clientUuid, id]);
      this.#bump(this.#counts, [clientUuid, record.partition], -1);
      if (oldDeadline !== updated.deadline) {
        this.#expiry.remove([record.partition, oldDeadline, id]);
        this.#expiry.put([record.partition, updated.deadline, id], null);
      }
    });
    return { removed: true, ended: null };
  }

  /** Offline sessions of a user (with the latest idle clocks, dirty or not). */
  userSessions(realmId: string, userId: string): OfflineSessionRecord[] {
    const out: OfflineSessionRecord[] = [];
    for (const { key } of this.#byUser.getRange({ start: [realmId, userId], end: [realmId, userId, '\uffff'] })) {
      const record = this.get(key[2]);
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  /** Removes every offline session of a user (user deletion). */
  async removeUser(realmId: string, userId: string, reason: EndReason): Promise<EndedSession[]> {
    const ended: EndedSession[] = [];
    for (const record of this.userSessions(realmId, userId)) {
      const e = await this.remove(record.id, reason);
      if (e !== null) ended.push(e);
    }
    return ended;
  }

  /** Removes a client's offline client sessions in this shard's partitions (client deletion). */
  async removeClientEverywhere(clientUuid: string, reason: EndReason): Promise<number> {
    let count = 0;
    const ids: string[] = [];
    for (const { key } of this.#byClient.getRange({ start: [clientUuid], end: [clientUuid, '\uffff'] })) {
      const record = this.get(key[1]);
      if (record !== undefined && this.#servesHere(record.partition)) ids.push(key[1]);
    }
    for (const id of ids) if ((await this.removeClient(id, clientUuid, reason)).removed) count++;
    return count;
  }

  /** Removes every offline session of a realm in this shard's partitions (realm deletion). */
  async removeRealm(realmId: string, reason: EndReason): Promise<number> {
    const ids: string[] = [];
    for (const { key } of this.#byUser.getRange({ start: [realmId], end: [realmId, '\uffff'] })) {
      const record = this.get(key[2]);
      if (record !== undefined && this.#servesHere(record.partition)) ids.push(key[2]);
    }
    for (const id of ids) await this.remove(id, reason);
    return ids.length;
  }

  /**
   * Queues a write for the transaction that commits every write queued in the
   * same turn (group commit: a turn's offline grants share one commit instead
   * of each waiting for its own behind LMDB's writer lock). Writes run in the
   * order they were queued; the promise resolves once they are committed.
   */
  #commit(write: () => void): Promise<void> {
    this.#pending.push(write);
    if (this.#pendingCommit === null) {
      this.#pendingCommit = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          const writes = this.#pending;
          this.#pending = [];
          this.#pendingCommit = null;
          this.#env.root
            .transaction(() => {
              for (const w of writes) w();
            })
            .then(() => resolve(), reject);
        });
      });
    }
    return this.#pendingCommit;
  }

  // -------------------------------------------------------------------------
  // Queries over this shard's partitions (the engine merges the shards' answers)

  /** Is the partition this shard's, and served here (not a backup copy)? */
  #servesHere(partition: number): boolean {
    return shardOfPartition(partition, this.#shardCount) === this.#shard && this.#serves(partition);
  }

  /** Does the session id belong to one of the partitions this shard serves? */
  #owns(id: string): boolean {
    const partition = partitionOfSessionId(id);
    return partition >= 0 && this.#servesHere(partition);
  }

  /** Offline client sessions of a client in this shard's partitions (maintained counters, no scan). */
  clientCount(clientUuid: string): number {
    return this.#sumOwn(this.#env.db<number>(DB.offlineCounts), clientUuid);
  }

  /** Offline user sessions of a realm in this shard's partitions (maintained counters). */
  realmCount(realmId: string): number {
    return this.#sumOwn(this.#env.db<number>(DB.offlineUsers), realmId);
  }

  #sumOwn(db: Database<number, any>, prefix: string): number {
    let total = 0;
    for (const { key, value } of db.getRange({ start: [prefix], end: [prefix, PARTITION_COUNT] })) {
      if (this.#servesHere((key as [string, number])[1])) total += value;
    }
    return total;
  }

  /** The first `limit` offline sessions of a client in this shard's partitions, in session-id order. */
  clientSessions(clientUuid: string, limit: number): OfflineSessionRecord[] {
    const out: OfflineSessionRecord[] = [];
    if (limit <= 0) return out;
    for (const { key } of this.#byClient.getRange({ start: [clientUuid], end: [clientUuid, '\uffff'] })) {
      if (!this.#owns(key[1])) continue;
      const record = this.#read(key[1]);
      if (record !== undefined) out.push(record);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * The first `limit` offline sessions of a realm in this shard's partitions
   * for which `match` holds, in (user id, session id) order; the walk stops
   * as soon as the page is full.
   */
  realmSessions(realmId: string, match: (record: OfflineSessionRecord) => boolean, limit: number): OfflineSessionRecord[] {
    const out: OfflineSessionRecord[] = [];
    if (limit <= 0) return out;
    this.visitRealm(realmId, (record) => {
      if (match(record)) out.push(record);
      return out.length < limit;
    });
    return out;
  }

  /** Visits the offline sessions of a realm in this shard's partitions, in (user id, session id) order, until `visit` answers false. */
  visitRealm(realmId: string, visit: (record: OfflineSessionRecord) => boolean): void {
    for (const { key } of this.#byUser.getRange({ start: [realmId], end: [realmId, '\uffff'] })) {
      if (!this.#owns(key[2])) continue;
      const record = this.#read(key[2]);
      if (record !== undefined && !visit(record)) return;
    }
  }

  /** Removes the offline sessions of a realm in this shard's partitions for which `match` holds. */
  async removeMatching(realmId: string, match: (record: OfflineSessionRecord) => boolean, reason: EndReason): Promise<EndedSession[]> {
    const ids = this.realmSessions(realmId, match, Number.MAX_SAFE_INTEGER).map((record) => record.id);
    const ended = await Promise.all(ids.map((id) => this.remove(id, reason)));
    return ended.filter((e): e is EndedSession => e !== null);
  }

  /** A record with its latest idle clocks, without moving it in the LRU (listings must not evict hot sessions). */
  #read(id: string): OfflineSessionRecord | undefined {
    const cached = this.#cache.peek(id);
    if (cached !== undefined) return cached;
    const stored = this.#db.get(id);
    return stored === undefined ? undefined : assertRecord(stored, id);
  }

  /** Records of long idle-clock moves waiting for their write (the shard runs a turn for them LONG_TOUCH_WRITE_MS later). */
  get longTouchesWaiting(): boolean {
    return this.#due.size > 0;
  }

  /**
   * Writes every dirty record if OFFLINE_FLUSH_INTERVAL_MS passed (or
   * `force`), else those of long idle-clock moves if LONG_TOUCH_WRITE_MS
   * passed since the last such write.
   */
  flush(nowMs: number, force = false): Promise<void> | null {
    if (this.#dirty.size === 0) return null;
    const interval = force || nowMs - this.#lastFlushMs >= OFFLINE_FLUSH_INTERVAL_MS;
    if (!interval && (this.#due.size === 0 || performance.now() - this.#dueWrittenAtMs < LONG_TOUCH_WRITE_MS)) return null;
    if (interval) this.#lastFlushMs = nowMs;
    if (this.#due.size > 0) this.#dueWrittenAtMs = performance.now();
    const records: OfflineSessionRecord[] = [];
    for (const id of interval ? this.#dirty : this.#due) {
      const record = this.#dirty.delete(id) ? this.#cache.peek(id) : undefined;
      if (record !== undefined) records.push(record);
    }
    this.#due.clear();
    return this.#commit(() => {
      for (const record of records) this.#writeRecord(record);
    });
  }

  /**
   * Fires due expiry entries of this shard's partitions, at most `budget`
   * records. Returns whether it caught up, and the sessions it ended.
   */
  sweep(now: number, budget: number): { caughtUp: boolean; ended: { session: SessionView; reason: 'idle' | 'max' | 'remember_me_disabled' }[]; work: Promise<void> | null } {
    const ended: { session: SessionView; reason: 'idle' | 'max' | 'remember_me_disabled' }[] = [];
    const removals: OfflineSessionRecord[] = [];
    const updates: { record: OfflineSessionRecord; oldDeadline: number; droppedClients: string[] }[] = [];
    let visited = 0;
    let caughtUp = true;
    for (let n = 0; n < this.#partitions.length; n++) {
      const partition = this.#partitions[(this.#sweepPartition + n) % this.#partitions.length]!;
      if (!this.#serves(partition)) continue; // the primary expires; its removals reach this copy
      for (const { key } of this.#expiry.getRange({ start: [partition, 0], end: [partition, now + 1], limit: budget - visited })) {
        visited++;
        const id = key[2];
        const record = this.get(id);
        if (record === undefined || record.deadline !== key[1]) {
          // A stale index entry (the record moved on): drop it.
          void this.#expiry.remove(key);
          continue;
        }
        const reason = this.invalidReason(record, now);
        if (reason !== null) {
          removals.push(record);
          ended.push({ session: offlineView(record), reason: reason === 'max' ? 'max' : reason === 'idle' ? 'idle' : 'remember_me_disabled' });
          continue;
        }
        const kept = record.clients.filter((c) => this.clientInvalidReason(record, c, now) === null);
        const dropped = record.clients.filter((c) => !kept.includes(c)).map((c) => c.client);
        const updated: OfflineSessionRecord = { ...record, clients: kept };
        updated.deadline = this.#deadlineOf(updated);
        if (updated.deadline <= now) updated.deadline = now + 1;
        updates.push({ record: updated, oldDeadline: record.deadline, droppedClients: dropped });
      }
      if (visited >= budget) {
        this.#sweepPartition = (this.#sweepPartition + n) % this.#partitions.length;
        caughtUp = false;
        break;
      }
    }
    if (removals.length === 0 && updates.length === 0) return { caughtUp, ended, work: null };
    for (const record of removals) {
      this.#cache.delete(record.id);
      this.#dirty.delete(record.id);
      this.#emit({ removed: record });
    }
    for (const { record } of updates) {
      this.#cache.set(record.id, record);
      this.#dirty.delete(record.id);
      this.#emit({ put: record, touch: false });
    }
    const work = this.#commit(() => {
      for (const record of removals) this.#removeRecord(record);
      for (const { record, oldDeadline, droppedClients } of updates) {
        this.#db.put(record.id, record);
        this.#expiry.remove([record.partition, oldDeadline, record.id]);
        this.#expiry.put([record.partition, record.deadline, record.id], null);
        for (const client of droppedClients) {
          this.#byClient.remove([client, record.id]);
          this.#bump(this.#counts, [client, record.partition], -1);
        }
      }
    });
    return { caughtUp, ended, work };
  }

  /** Writes everything dirty; resolves when committed. */
  async close(): Promise<void> {
    await this.flush(0, true);
    await this.#env.root.committed;
  }

  // -------------------------------------------------------------------------

  #deadlineOf(record: OfflineSessionRecord): number {
    const realm = this.#settings.realm(record.realm);
    if (realm === undefined) return 0;
    if (record.rememberMe && !realm.rememberMe) return 0;
    let deadline = userSessionDeadline(realm, record, true, this.#graceSeconds);
    for (const c of record.clients) deadline = earliest(deadline, clientSessionDeadline(realm, this.#settings.client(c.client), record, c, true, this.#graceSeconds));
    return deadline === NEVER ? DEADLINE_NONE : deadline;
  }

  /** Inside a write transaction: the record and, if its deadline moved, its expiry entry. */
  #writeRecord(record: OfflineSessionRecord): void {
    const stored = this.#db.get(record.id);
    if (stored === undefined) return; // removed meanwhile
    const deadline = this.#deadlineOf(record);
    if (deadline !== record.deadline) {
      this.#expiry.remove([record.partition, record.deadline, record.id]);
      record.deadline = deadline;
      this.#expiry.put([record.partition, deadline, record.id], null);
    }
    this.#db.put(record.id, record);
  }

  /** Inside a write transaction. */
  #removeRecord(record: OfflineSessionRecord): void {
    if (this.#db.get(record.id) === undefined) return;
    this.#db.remove(record.id);
    this.#byUser.remove([record.realm, record.userId, record.id]);
    this.#expiry.remove([record.partition, record.deadline, record.id]);
    this.#bump(this.#users, [record.realm, record.partition], -1);
    for (const c of record.clients) {
      this.#byClient.remove([c.client, record.id]);
      this.#bump(this.#counts, [c.client, record.partition], -1);
    }
  }

  /** Inside a write transaction: read-modify-write of a counter this shard alone owns. */
  #bump(db: Database<number, [string, number]>, key: [string, number], delta: number): void {
    const value = (db.get(key) ?? 0) + delta;
    if (value <= 0) db.remove(key);
    else db.put(key, value);
  }
}
