// User events and admin events (docs/keycloak-semantics.md#events), stored in LMDB when the realm
// enables them and kept `eventsExpiration` seconds. Keys are
// [realmId, time ms, sequence], so a realm's events are one ordered range:
// queries walk it newest first, expiry deletes its oldest end in bounded
// batches. The sequence orders events written within one millisecond (or one
// second of a manual clock) as they happened; it starts from the wall clock in
// µs, so it keeps growing across restarts.

import { randomUUID } from 'node:crypto';
import type { Database } from 'lmdb';
import type { RealmStore } from '../realm/realm-store.js';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';

/** Keycloak's EventType values with saveByDefault = true (stored when a realm lists no types). */
export const EVENT_TYPES_SAVED_BY_DEFAULT: ReadonlySet<string> = new Set([
  'LOGIN', 'LOGIN_ERROR', 'REGISTER', 'REGISTER_ERROR', 'LOGOUT', 'LOGOUT_ERROR', 'CODE_TO_TOKEN', 'CODE_TO_TOKEN_ERROR',
  'CLIENT_LOGIN', 'CLIENT_LOGIN_ERROR', 'FEDERATED_IDENTITY_LINK', 'FEDERATED_IDENTITY_LINK_ERROR', 'REMOVE_FEDERATED_IDENTITY',
  'UPDATE_EMAIL', 'UPDATE_PROFILE', 'UPDATE_PASSWORD', 'UPDATE_TOTP', 'VERIFY_EMAIL', 'REMOVE_TOTP', 'REVOKE_GRANT',
  'SEND_VERIFY_EMAIL', 'SEND_RESET_PASSWORD', 'SEND_IDENTITY_PROVIDER_LINK', 'RESET_PASSWORD', 'RESET_PASSWORD_ERROR',
  'RESTART_AUTHENTICATION', 'IMPERSONATE', 'CUSTOM_REQUIRED_ACTION', 'EXECUTE_ACTIONS', 'EXECUTE_ACTION_TOKEN',
  'CLIENT_REGISTER', 'CLIENT_UPDATE', 'CLIENT_DELETE', 'DELETE_ACCOUNT', 'USER_SESSION_DELETED',
  'USER_DISABLED_BY_PERMANENT_LOCKOUT', 'USER_DISABLED_BY_TEMPORARY_LOCKOUT',
]);

/** Keycloak's EventRepresentation, as stored and served. */
export interface UserEvent {
  id: string;
  /** Epoch ms. */
  time: number;
  type: string;
  realmId: string;
  clientId: string | null;
  userId: string | null;
  sessionId: string | null;
  ipAddress: string | null;
  error: string | null;
  details: Record<string, string> | null;
}

/** Keycloak's AdminEventRepresentation. */
export interface AdminEvent {
  id: string;
  time: number;
  realmId: string;
  authDetails: { realmId: string; clientId: string | null; userId: string | null; ipAddress: string | null };
  operationType: 'CREATE' | 'UPDATE' | 'DELETE' | 'ACTION';
  resourceType: string;
  resourcePath: string;
  representation: string | null;
  error: string | null;
  details: Record<string, string> | null;
}

export type NewUserEvent = Omit<UserEvent, 'id' | 'time'> & { time?: number };
export type NewAdminEvent = Omit<AdminEvent, 'id' | 'time' | 'representation'> & { time?: number; representation?: unknown };

export interface EventSinkStats {
  written: number;
  expired: number;
}

/**
 * A cluster's other members, as far as events go: events stay on the node
 * that recorded them, and a query gathers every member's newest matches.
 */
export interface EventPeers {
  /** Each other reachable member's answer to the same query (with first 0 and max first+max). */
  queryEvents(realmId: string, filter: EventQuery): Promise<UserEvent[][]>;
  queryAdminEvents(realmId: string, filter: AdminEventQuery): Promise<AdminEvent[][]>;
  clear(realmId: string, admin: boolean): Promise<void>;
}

export class EventSink {
  readonly #store: RealmStore;
  #peers: EventPeers | null = null;
  readonly #env: LmdbEnv;
  readonly #events: Database<UserEvent, [string, number, number]>;
  readonly #adminEvents: Database<AdminEvent, [string, number, number]>;
  readonly #listeners = new Set<(event: UserEvent) => void>();
  readonly stats: EventSinkStats = { written: 0, expired: 0 };

  readonly #nowMs: () => number;
  #lastWrite: Promise<unknown> = Promise.resolve();
  #sequence = Date.now() * 1000;

  constructor(store: RealmStore, env: LmdbEnv, nowMs: () => number = Date.now) {
    this.#store = store;
    this.#nowMs = nowMs;
    this.#env = env;
    this.#events = env.db(DB.events);
    this.#adminEvents = env.db(DB.adminEvents);
  }

  /** Cluster mode: queries and deletions reach every member's events. */
  usePeers(peers: EventPeers): void {
    this.#peers = peers;
  }

  /** User events of a realm on every member, newest first (the admin API's GET /events). */
  async gatherEvents(realmId: string, filter: EventQuery): Promise<UserEvent[]> {
    await this.settled();
    if (this.#peers === null) return this.queryEvents(realmId, filter);
    const wide = { ...filter, first: 0, max: filter.first + filter.max };
    return newestFirst([this.queryEvents(realmId, wide), ...(await this.#peers.queryEvents(realmId, wide))], filter);
  }

  /** Admin events of a realm on every member, newest first. */
  async gatherAdminEvents(realmId: string, filter: AdminEventQuery): Promise<AdminEvent[]> {
    await this.settled();
    if (this.#peers === null) return this.queryAdminEvents(realmId, filter);
    const wide = { ...filter, first: 0, max: filter.first + filter.max };
    return newestFirst([this.queryAdminEvents(realmId, wide), ...(await this.#peers.queryAdminEvents(realmId, wide))], filter);
  }

  /** Deletes a realm's events on every member. */
  async clearEverywhere(realmId: string, admin: boolean): Promise<void> {
    await this.clear(realmId, admin);
    await this.#peers?.clear(realmId, admin);
  }

  /** Sees every user event, stored or not (tests, metrics). */
  onEvent(listener: (event: UserEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Does the realm store user events of `type`? (Lets callers skip building events nobody keeps.) */
  stores(realmId: string, type: string): boolean {
    const realm = this.#store.realmById(realmId);
    if (realm === undefined || !realm.events.eventsEnabled) return false;
    const types = realm.events.enabledEventTypes;
    return types.length === 0 ? EVENT_TYPES_SAVED_BY_DEFAULT.has(type) : types.includes(type);
  }

  /** Records a user event if the realm stores events of its type. Never throws; never waits. */
  emit(input: NewUserEvent): void {
    const event: UserEvent = {
      id: randomUUID(),
      time: input.time ?? this.#nowMs(),
      type: input.type,
      realmId: input.realmId,
      clientId: input.clientId,
      userId: input.userId,
      sessionId: input.sessionId,
      ipAddress: input.ipAddress,
      error: input.error,
      details: input.details,
    };
    for (const listener of this.#listeners) listener(event);
    if (!this.stores(event.realmId, event.type)) return;
    this.stats.written++;
    this.#lastWrite = this.#events.put([event.realmId, event.time, this.#sequence++], event);
  }

  /** Records an admin event if the realm stores them (representation only with details enabled). */
  emitAdmin(input: NewAdminEvent): void {
    const realm = this.#store.realmById(input.realmId);
    if (realm === undefined || !realm.events.adminEventsEnabled) return;
    const event: AdminEvent = {
      id: randomUUID(),
      time: input.time ?? this.#nowMs(),
      realmId: input.realmId,
      authDetails: input.authDetails,
      operationType: input.operationType,
      resourceType: input.resourceType,
      resourcePath: input.resourcePath,
      representation: realm.events.adminEventsDetailsEnabled && input.representation !== undefined ? JSON.stringify(input.representation) : null,
      error: input.error,
      details: input.details,
    };
    this.stats.written++;
    this.#lastWrite = this.#adminEvents.put([event.realmId, event.time, this.#sequence++], event);
  }

  /**
   * Resolves when every event emitted so far is committed (writes are
   * asynchronous and batched): the query endpoints wait for it, so an event
   * is visible to the request that follows the one that caused it.
   */
  async settled(): Promise<void> {
    await this.#lastWrite;
  }

  /** User events of a realm, newest first, filtered as Keycloak's GET /events. */
  queryEvents(realmId: string, filter: EventQuery): UserEvent[] {
    const out: UserEvent[] = [];
    let skipped = 0;
    const from = filter.dateFrom ?? 0;
    const to = filter.dateTo ?? Number.MAX_SAFE_INTEGER;
    for (const { value } of this.#events.getRange({ start: [realmId, to, Number.MAX_SAFE_INTEGER], end: [realmId, from], reverse: true })) {
      if (out.length >= filter.max) break;
      if (filter.types !== undefined && filter.types.length > 0 && !filter.types.includes(value.type)) continue;
      if (filter.client !== undefined && value.clientId !== filter.client) continue;
      if (filter.user !== undefined && value.userId !== filter.user) continue;
      if (filter.ipAddress !== undefined && value.ipAddress !== filter.ipAddress) continue;
      if (skipped < filter.first) {
        skipped++;
        continue;
      }
      out.push(value);
    }
    return out;
  }

  /** Admin events of a realm, newest first. */
  queryAdminEvents(realmId: string, filter: AdminEventQuery): AdminEvent[] {
    const out: AdminEvent[] = [];
    let skipped = 0;
    const from = filter.dateFrom ?? 0;
    const to = filter.dateTo ?? Number.MAX_SAFE_INTEGER;
    const pathMatches = filter.resourcePath === undefined ? null : pathMatcher(filter.resourcePath);
    for (const { value } of this.#adminEvents.getRange({ start: [realmId, to, Number.MAX_SAFE_INTEGER], end: [realmId, from], reverse: true })) {
      if (out.length >= filter.max) break;
      if (filter.operationTypes !== undefined && filter.operationTypes.length > 0 && !filter.operationTypes.includes(value.operationType)) continue;
      if (filter.resourceTypes !== undefined && filter.resourceTypes.length > 0 && !filter.resourceTypes.includes(value.resourceType)) continue;
      if (pathMatches !== null && !pathMatches(value.resourcePath)) continue;
      if (filter.authUser !== undefined && value.authDetails.userId !== filter.authUser) continue;
      if (filter.authClient !== undefined && value.authDetails.clientId !== filter.authClient) continue;
      if (filter.authIpAddress !== undefined && value.authDetails.ipAddress !== filter.authIpAddress) continue;
      if (skipped < filter.first) {
        skipped++;
        continue;
      }
      out.push(value);
    }
    return out;
  }

  /** Deletes every stored event of a realm (DELETE /events, realm deletion). */
  async clear(realmId: string, admin: boolean): Promise<void> {
    const db = admin ? this.#adminEvents : this.#events;
    await this.#env.root.transaction(() => {
      for (const { key } of db.getRange({ start: [realmId], end: [realmId, Number.MAX_SAFE_INTEGER] })) db.remove(key);
    });
  }

  /**
   * Deletes user events older than each realm's eventsExpiration, at most
   * `budget` per call (a background timer calls it). Returns how many.
   */
  async expire(nowMs: number, budget: number): Promise<number> {
    const keys: [string, number, number][] = [];
    for (const realm of this.#store.realms()) {
      const seconds = realm.events.eventsExpiration;
      if (!(seconds > 0)) continue;
      const cutoff = nowMs - seconds * 1000;
      for (const { key } of this.#events.getRange({ start: [realm.id], end: [realm.id, cutoff], limit: budget - keys.length })) keys.push(key);
      if (keys.length >= budget) break;
    }
    if (keys.length === 0) return 0;
    await this.#env.root.transaction(() => {
      for (const key of keys) void this.#events.remove(key);
    });
    this.stats.expired += keys.length;
    return keys.length;
  }
}

export interface EventQuery {
  types?: string[];
  client?: string;
  user?: string;
  ipAddress?: string;
  /** Epoch ms, inclusive. */
  dateFrom?: number;
  dateTo?: number;
  first: number;
  max: number;
}

export interface AdminEventQuery {
  operationTypes?: string[];
  resourceTypes?: string[];
  /** Keycloak semantics: `*` matches any one path segment part. */
  resourcePath?: string;
  authUser?: string;
  authClient?: string;
  authIpAddress?: string;
  dateFrom?: number;
  dateTo?: number;
  first: number;
  max: number;
}

/** Several members' answers (each newest first) as one page, newest first. */
function newestFirst<E extends { time: number }>(lists: E[][], page: { first: number; max: number }): E[] {
  return lists
    .flat()
    .sort((a, b) => b.time - a.time)
    .slice(page.first, page.first + page.max);
}

/** A resourcePath filter as a test, made once per query: `*` matches any run of characters. */
function pathMatcher(pattern: string): (path: string) => boolean {
  if (!pattern.includes('*')) return (path) => path === pattern;
  const regex = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (path) => regex.test(path);
}
