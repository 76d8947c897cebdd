// RealmStore: realms, clients, roles, users and signing keys in LMDB, with the
// read paths a token request takes served from memory. Owner: the main
// thread (shard workers never read realms: the engine pushes the settings
// they need).
//
// Caching. Realms, clients, roles and keys are few: all of them are loaded at
// open and kept in Maps, so a token request never waits on LMDB for them.
// Users can be millions: a bounded LRU of decoded records sits in front of
// LMDB, whose reads are synchronous memory-mapped lookups (a few µs) when
// they miss. Every write goes to LMDB first (a transaction, awaited until
// committed) and then to the caches, so a crash never leaves a cache ahead of
// the disk.
//
// Changes are announced to change handlers (node.ts pushes session settings to
// the engine, and removes a deleted realm's or client's sessions), and every
// write resolves only after its handlers have: when an admin's PUT or DELETE
// answers, the engine already applies it.

import { LRUCache } from 'lru-cache';
import type { Database } from 'lmdb';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';
import { generateKey, generateRealmKeys, type KeyAlgorithm, type KeyRecord } from './keys.js';
import { bruteForceSettings } from '../session/brute-force.js';
import type { ClientRecord, RealmBundle, RealmRecord, RoleRecord, UserRecord } from './model.js';

/** Decoded users kept in memory. At ~1 KB each, 100 k users cost ~100 MB at most. */
export const USER_CACHE_ENTRIES = 100_000;
/** Users written per LMDB transaction during an import. */
const IMPORT_CHUNK_USERS = 5_000;

export class StoreError extends Error {
  readonly code: 'ERR_CONFLICT' | 'ERR_NOT_FOUND' | 'ERR_INVALID_ARGUMENT';
  constructor(code: StoreError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export interface UserQuery {
  /** Substring of username, email, first or last name (Keycloak `search`). */
  search?: string;
  username?: string;
  email?: string;
  /** With `username`/`email`: exact match instead of substring. */
  exact?: boolean;
  enabled?: boolean;
  first?: number;
  max?: number;
}

/** What changed; handlers run after the change is committed and cached. */
export type StoreChange =
  | { kind: 'realm'; realm: RealmRecord }
  | { kind: 'realm-deleted'; realm: RealmRecord }
  | { kind: 'client'; client: ClientRecord }
  | { kind: 'client-deleted'; client: ClientRecord };

export type StoreChangeHandler = (change: StoreChange) => Promise<void> | void;

/**
 * A write as data. A single node applies it at once; a cluster member
 * commits it to the cluster's shared log first (src/cluster/config-log.ts)
 * and every member, the writer included, applies the log in the same order,
 * so all of them hold the same realms. Everything random (ids, keys) is
 * decided before the op is made, so applying it is deterministic.
 */
export type ConfigOp =
  | { op: 'createRealm'; realm: RealmRecord; clients: ClientRecord[]; roles: RoleRecord[]; keys: KeyRecord[] }
  | { op: 'updateRealm'; realm: RealmRecord }
  | { op: 'deleteRealm'; realmId: string }
  | { op: 'putClient'; client: ClientRecord }
  | { op: 'deleteClient'; id: string }
  | { op: 'putRealmRole'; realmId: string; role: RoleRecord }
  | { op: 'deleteRealmRole'; realmId: string; name: string }
  | { op: 'putUsers'; realmId: string; users: UserRecord[] }
  | { op: 'deleteUser'; id: string }
  | { op: 'putKey'; realmId: string; key: KeyRecord }
  | { op: 'removeKey'; realmId: string; kid: string };

/** Where a cluster member's writes go first; resolves once this node applied the op (rejects with the apply's error). */
export interface ConfigLog {
  commit(op: ConfigOp): Promise<void>;
}

/** Users per op when a realm's users travel through the shared log (each ~1 KB; etcd takes ≤ 1.5 MiB per request). */
const LOG_CHUNK_USERS = 500;

export interface ImportProgress {
  realm: string;
  usersWritten: number;
  usersTotal: number;
}

export class RealmStore {
  readonly #handlers: StoreChangeHandler[] = [];
  readonly #env: LmdbEnv;
  #log: ConfigLog | null = null;
  readonly #realms = new Map<string, RealmRecord>();
  readonly #realmIdsByName = new Map<string, string>();
  readonly #clients = new Map<string, ClientRecord>();
  readonly #clientIdsByKey = new Map<string, string>();
  readonly #roles = new Map<string, Map<string, RoleRecord>>();
  readonly #keys = new Map<string, KeyRecord[]>();
  readonly #users: LRUCache<string, UserRecord>;

  readonly #dbRealms: Database<RealmRecord, string>;
  readonly #dbRealmNames: Database<string, string>;
  readonly #dbClients: Database<ClientRecord, string>;
  readonly #dbClientIds: Database<string, [string, string]>;
  readonly #dbUsers: Database<UserRecord, string>;
  readonly #dbUsernames: Database<string, [string, string]>;
  readonly #dbEmails: Database<string, [string, string]>;
  readonly #dbRoles: Database<RoleRecord, [string, string]>;
  readonly #dbKeys: Database<KeyRecord, [string, string]>;

  private constructor(env: LmdbEnv, userCacheEntries: number) {
    this.#env = env;
    this.#users = new LRUCache({ max: Math.max(1, userCacheEntries) });
    this.#dbRealms = env.db(DB.realms);
    this.#dbRealmNames = env.db(DB.realmNames);
    this.#dbClients = env.db(DB.clients);
    this.#dbClientIds = env.db(DB.clientIds);
    this.#dbUsers = env.db(DB.users);
    this.#dbUsernames = env.db(DB.usernames);
    this.#dbEmails = env.db(DB.emails);
    this.#dbRoles = env.db(DB.roles);
    this.#dbKeys = env.db(DB.keys);
  }

  /** Opens the store and loads realms, clients, roles and keys into memory. */
  static open(env: LmdbEnv, options: { userCacheEntries?: number } = {}): RealmStore {
    const store = new RealmStore(env, options.userCacheEntries ?? USER_CACHE_ENTRIES);
    for (const { value } of store.#dbRealms.getRange()) store.#cacheRealm(value);
    for (const { value } of store.#dbClients.getRange()) store.#cacheClient(value);
    for (const { key, value } of store.#dbRoles.getRange()) store.#cacheRole(key[0], value);
    for (const { value } of store.#dbKeys.getRange()) store.#cacheKey(value);
    return store;
  }

  get env(): LmdbEnv {
    return this.#env;
  }

  /** Cluster mode: writes are committed to the shared log and applied when they come back from it. */
  useLog(log: ConfigLog): void {
    this.#log = log;
  }

  /** Applies a write (this node's own, or one from the cluster's log). */
  async apply(op: ConfigOp): Promise<void> {
    switch (op.op) {
      case 'createRealm':
        await this.#createRealm({ realm: op.realm, clients: op.clients, roles: op.roles, users: [] }, op.keys, undefined);
        return;
      case 'updateRealm':
        return this.#updateRealm(op.realm);
      case 'deleteRealm':
        return this.#deleteRealm(op.realmId);
      case 'putClient':
        return this.#putClient(op.client);
      case 'deleteClient':
        return this.#deleteClient(op.id);
      case 'putRealmRole':
        return this.#putRealmRole(op.realmId, op.role);
      case 'deleteRealmRole':
        return this.#deleteRealmRole(op.realmId, op.name);
      case 'putUsers':
        return this.#putUsers(op.realmId, op.users);
      case 'deleteUser':
        await this.#deleteUser(op.id);
        return;
      case 'putKey':
        return this.#putKey(op.realmId, op.key);
      case 'removeKey':
        return this.#removeKey(op.realmId, op.kid);
    }
  }

  /** A write: applied here, or through the cluster's log. */
  #write(op: ConfigOp): Promise<void> {
    return this.#log === null ? this.apply(op) : this.#log.commit(op);
  }

  /** Registers a handler that every later write awaits after committing. */
  onChange(handler: StoreChangeHandler): void {
    this.#handlers.push(handler);
  }

  async #changed(change: StoreChange): Promise<void> {
    for (const handler of this.#handlers) await handler(change);
  }

  // -------------------------------------------------------------------------
  // Realms

  realms(): RealmRecord[] {
    return [...this.#realms.values()];
  }

  realmById(id: string): RealmRecord | undefined {
    return this.#realms.get(id);
  }

  realmByName(name: string): RealmRecord | undefined {
    const id = this.#realmIdsByName.get(name);
    return id === undefined ? undefined : this.#realms.get(id);
  }

  /**
   * Writes a new realm with its clients, roles, users (credentials already
   * hashed) and fresh signing keys. Refuses a name or id that exists.
   */
  async createRealm(bundle: RealmBundle, options: { onProgress?: (p: ImportProgress) => void; keys?: KeyRecord[] } = {}): Promise<RealmRecord> {
    const keys = options.keys ?? (await generateRealmKeys(bundle.realm.id));
    if (this.#log === null) return this.#createRealm(bundle, keys, options.onProgress);
    const { realm, clients, roles, users } = bundle;
    await this.#log.commit({ op: 'createRealm', realm, clients, roles, keys });
    for (let i = 0; i < users.length; i += LOG_CHUNK_USERS) {
      await this.#log.commit({ op: 'putUsers', realmId: realm.id, users: users.slice(i, i + LOG_CHUNK_USERS) });
      options.onProgress?.({ realm: realm.name, usersWritten: Math.min(i + LOG_CHUNK_USERS, users.length), usersTotal: users.length });
    }
    return this.#realms.get(realm.id) ?? realm;
  }

  async #createRealm(
    bundle: Pick<RealmBundle, 'realm' | 'clients' | 'roles' | 'users'>,
    keys: KeyRecord[],
    onProgress: ((p: ImportProgress) => void) | undefined,
  ): Promise<RealmRecord> {
    const realm = bundle.realm;
    if (this.#realmIdsByName.has(realm.name)) throw new StoreError('ERR_CONFLICT', `Conflict detected. See logs for details`);
    if (this.#realms.has(realm.id)) throw new StoreError('ERR_CONFLICT', `realm id ${realm.id} exists`);
    const users = bundle.users;
    // Realm, clients, roles and keys first, in one transaction; users in chunks after it.
    await this.#env.root.transaction(() => {
      this.#dbRealms.put(realm.id, realm);
      this.#dbRealmNames.put(realm.name, realm.id);
      for (const client of bundle.clients) {
        this.#dbClients.put(client.id, client);
        this.#dbClientIds.put([realm.id, client.clientId], client.id);
      }
      for (const role of bundle.roles) this.#dbRoles.put([realm.id, role.name], role);
      for (const key of keys) this.#dbKeys.put([realm.id, key.kid], key);
    });
    for (let i = 0; i < users.length; i += IMPORT_CHUNK_USERS) {
      const chunk = users.slice(i, i + IMPORT_CHUNK_USERS);
      await this.#env.root.transaction(() => {
        for (const user of chunk) this.#writeUser(user, null);
      });
      onProgress?.({ realm: realm.name, usersWritten: Math.min(i + chunk.length, users.length), usersTotal: users.length });
    }
    this.#cacheRealm(realm);
    for (const client of bundle.clients) this.#cacheClient(client);
    for (const role of bundle.roles) this.#cacheRole(realm.id, role);
    for (const key of keys) this.#cacheKey(key);
    await this.#changed({ kind: 'realm', realm });
    return realm;
  }

  /** Replaces a realm's record (renames keep the id). */
  async updateRealm(realm: RealmRecord): Promise<void> {
    return this.#write({ op: 'updateRealm', realm });
  }

  async #updateRealm(realm: RealmRecord): Promise<void> {
    const old = this.#realms.get(realm.id);
    if (old === undefined) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    if (old.name !== realm.name && this.#realmIdsByName.has(realm.name)) throw new StoreError('ERR_CONFLICT', `realm ${realm.name} exists`);
    await this.#env.root.transaction(() => {
      if (old.name !== realm.name) this.#dbRealmNames.remove(old.name);
      this.#dbRealmNames.put(realm.name, realm.id);
      this.#dbRealms.put(realm.id, realm);
    });
    this.#realmIdsByName.delete(old.name);
    this.#cacheRealm(realm);
    await this.#changed({ kind: 'realm', realm });
  }

  /** Deletes a realm and everything in it (clients, roles, users, keys). */
  async deleteRealm(realmId: string): Promise<void> {
    return this.#write({ op: 'deleteRealm', realmId });
  }

  async #deleteRealm(realmId: string): Promise<void> {
    const realm = this.#realms.get(realmId);
    if (realm === undefined) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    const userIds = [...this.#dbUsernames.getRange({ start: [realmId], end: [realmId, '\uffff'] })].map((e) => e.value);
    await this.#env.root.transaction(() => {
      for (const userId of userIds) {
        const user = this.#dbUsers.get(userId);
        if (user !== undefined) this.#removeUser(user);
      }
      for (const client of this.clients(realmId)) {
        this.#dbClients.remove(client.id);
        this.#dbClientIds.remove([realmId, client.clientId]);
      }
      for (const { key } of this.#dbRoles.getRange({ start: [realmId], end: [realmId, '\uffff'] })) this.#dbRoles.remove(key);
      for (const { key } of this.#dbKeys.getRange({ start: [realmId], end: [realmId, '\uffff'] })) this.#dbKeys.remove(key);
      this.#dbRealmNames.remove(realm.name);
      this.#dbRealms.remove(realmId);
    });
    for (const client of this.clients(realmId)) {
      this.#clients.delete(client.id);
      this.#clientIdsByKey.delete(`${realmId}\u0000${client.clientId}`);
    }
    for (const userId of userIds) this.#users.delete(userId);
    this.#roles.delete(realmId);
    this.#keys.delete(realmId);
    this.#realms.delete(realmId);
    this.#realmIdsByName.delete(realm.name);
    await this.#changed({ kind: 'realm-deleted', realm });
  }

  // -------------------------------------------------------------------------
  // Clients

  clients(realmId: string): ClientRecord[] {
    const out: ClientRecord[] = [];
    for (const client of this.#clients.values()) if (client.realmId === realmId) out.push(client);
    return out.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  }

  clientById(id: string): ClientRecord | undefined {
    return this.#clients.get(id);
  }

  clientByClientId(realmId: string, clientId: string): ClientRecord | undefined {
    const id = this.#clientIdsByKey.get(`${realmId}\u0000${clientId}`);
    return id === undefined ? undefined : this.#clients.get(id);
  }

  async putClient(client: ClientRecord): Promise<void> {
    return this.#write({ op: 'putClient', client });
  }

  async #putClient(client: ClientRecord): Promise<void> {
    if (!this.#realms.has(client.realmId)) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    const old = this.#clients.get(client.id);
    const holder = this.clientByClientId(client.realmId, client.clientId);
    if (holder !== undefined && holder.id !== client.id) throw new StoreError('ERR_CONFLICT', `Client ${client.clientId} already exists`);
    await this.#env.root.transaction(() => {
      if (old !== undefined && old.clientId !== client.clientId) this.#dbClientIds.remove([old.realmId, old.clientId]);
      this.#dbClients.put(client.id, client);
      this.#dbClientIds.put([client.realmId, client.clientId], client.id);
    });
    if (old !== undefined) this.#clientIdsByKey.delete(`${old.realmId}\u0000${old.clientId}`);
    this.#cacheClient(client);
    await this.#changed({ kind: 'client', client });
  }

  async deleteClient(id: string): Promise<void> {
    return this.#write({ op: 'deleteClient', id });
  }

  async #deleteClient(id: string): Promise<void> {
    const client = this.#clients.get(id);
    if (client === undefined) throw new StoreError('ERR_NOT_FOUND', 'Could not find client');
    await this.#env.root.transaction(() => {
      this.#dbClients.remove(id);
      this.#dbClientIds.remove([client.realmId, client.clientId]);
    });
    this.#clients.delete(id);
    this.#clientIdsByKey.delete(`${client.realmId}\u0000${client.clientId}`);
    await this.#changed({ kind: 'client-deleted', client });
  }

  // -------------------------------------------------------------------------
  // Roles

  realmRoles(realmId: string): RoleRecord[] {
    return [...(this.#roles.get(realmId)?.values() ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  realmRole(realmId: string, name: string): RoleRecord | undefined {
    return this.#roles.get(realmId)?.get(name);
  }

  async putRealmRole(realmId: string, role: RoleRecord): Promise<void> {
    return this.#write({ op: 'putRealmRole', realmId, role });
  }

  async #putRealmRole(realmId: string, role: RoleRecord): Promise<void> {
    if (!this.#realms.has(realmId)) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    await this.#env.root.transaction(() => {
      this.#dbRoles.put([realmId, role.name], role);
    });
    this.#cacheRole(realmId, role);
  }

  async deleteRealmRole(realmId: string, name: string): Promise<void> {
    return this.#write({ op: 'deleteRealmRole', realmId, name });
  }

  async #deleteRealmRole(realmId: string, name: string): Promise<void> {
    if (this.realmRole(realmId, name) === undefined) throw new StoreError('ERR_NOT_FOUND', 'Could not find role');
    await this.#env.root.transaction(() => {
      this.#dbRoles.remove([realmId, name]);
    });
    this.#roles.get(realmId)?.delete(name);
  }

  // -------------------------------------------------------------------------
  // Users

  userById(id: string): UserRecord | undefined {
    let user = this.#users.get(id);
    if (user === undefined) {
      user = this.#dbUsers.get(id);
      if (user !== undefined) this.#users.set(id, user);
    }
    return user;
  }

  userByUsername(realmId: string, username: string): UserRecord | undefined {
    const id = this.#dbUsernames.get([realmId, username.toLowerCase()]);
    return id === undefined ? undefined : this.userById(id);
  }

  userByEmail(realmId: string, email: string): UserRecord | undefined {
    const id = this.#dbEmails.get([realmId, email.toLowerCase()]);
    return id === undefined ? undefined : this.userById(id);
  }

  /** Creates or replaces a user; usernames (and emails) are unique per realm. */
  async putUser(user: UserRecord): Promise<void> {
    return this.#write({ op: 'putUsers', realmId: user.realmId, users: [user] });
  }

  async #putUsers(realmId: string, users: UserRecord[]): Promise<void> {
    for (const user of users) {
      if (user.realmId !== realmId) throw new StoreError('ERR_INVALID_ARGUMENT', 'user of another realm');
      await this.#putUser(user);
    }
  }

  async #putUser(user: UserRecord): Promise<void> {
    if (!this.#realms.has(user.realmId)) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    const holder = this.#dbUsernames.get([user.realmId, user.username]);
    if (holder !== undefined && holder !== user.id) throw new StoreError('ERR_CONFLICT', 'User exists with same username');
    if (user.email !== null) {
      const emailHolder = this.#dbEmails.get([user.realmId, user.email.toLowerCase()]);
      if (emailHolder !== undefined && emailHolder !== user.id) throw new StoreError('ERR_CONFLICT', 'User exists with same email');
    }
    const old = this.#dbUsers.get(user.id) ?? null;
    await this.#env.root.transaction(() => this.#writeUser(user, old));
    this.#users.set(user.id, user);
  }

  async deleteUser(id: string): Promise<UserRecord> {
    const user = this.userById(id);
    if (user === undefined) throw new StoreError('ERR_NOT_FOUND', 'User not found');
    await this.#write({ op: 'deleteUser', id });
    return user;
  }

  async #deleteUser(id: string): Promise<UserRecord> {
    const user = this.userById(id);
    if (user === undefined) throw new StoreError('ERR_NOT_FOUND', 'User not found');
    await this.#env.root.transaction(() => this.#removeUser(user));
    this.#users.delete(id);
    return user;
  }

  /** Users of a realm in username order, filtered as Keycloak's `GET /users` does. */
  listUsers(realmId: string, query: UserQuery = {}): UserRecord[] {
    const first = query.first ?? 0;
    const max = query.max ?? 100;
    const out: UserRecord[] = [];
    let skipped = 0;
    const exactUsername = query.exact === true && query.username !== undefined ? query.username.toLowerCase() : null;
    if (exactUsername !== null) {
      const user = this.userByUsername(realmId, exactUsername);
      return user !== undefined && this.#matches(user, query) && first === 0 && max > 0 ? [user] : [];
    }
    for (const { value: id } of this.#dbUsernames.getRange({ start: [realmId], end: [realmId, '\uffff'] })) {
      if (out.length >= max) break;
      const user = this.userById(id);
      if (user === undefined || !this.#matches(user, query)) continue;
      if (skipped < first) {
        skipped++;
        continue;
      }
      out.push(user);
    }
    return out;
  }

  countUsers(realmId: string, query: UserQuery = {}): number {
    if (query.search === undefined && query.username === undefined && query.email === undefined && query.enabled === undefined) {
      return this.#dbUsernames.getCount({ start: [realmId], end: [realmId, '\uffff'] });
    }
    return this.listUsers(realmId, { ...query, first: 0, max: Number.MAX_SAFE_INTEGER }).length;
  }

  // -------------------------------------------------------------------------
  // Keys

  keys(realmId: string): KeyRecord[] {
    return this.#keys.get(realmId) ?? [];
  }

  /** The key that signs new tokens of `algorithm` in the realm. */
  activeKey(realmId: string, algorithm: KeyAlgorithm): KeyRecord | undefined {
    return this.keys(realmId).find((k) => k.algorithm === algorithm && k.active && k.enabled);
  }

  keyByKid(realmId: string, kid: string): KeyRecord | undefined {
    return this.keys(realmId).find((k) => k.kid === kid && k.enabled);
  }

  /** Makes a new key active for `algorithm`; older ones stay enabled for verification. */
  async rotateKey(realmId: string, algorithm: KeyAlgorithm): Promise<KeyRecord> {
    if (!this.#realms.has(realmId)) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    const fresh = await generateKey(realmId, algorithm);
    await this.#write({ op: 'putKey', realmId, key: fresh });
    return fresh;
  }

  /** Adds a key as the active one of its algorithm; the previous active one stays for verification. */
  async #putKey(realmId: string, fresh: KeyRecord): Promise<void> {
    if (!this.#realms.has(realmId)) throw new StoreError('ERR_NOT_FOUND', 'Realm not found.');
    const algorithm = fresh.algorithm;
    const retired = this.keys(realmId)
      .filter((k) => k.algorithm === algorithm && k.active)
      .map((k) => ({ ...k, active: false }));
    await this.#env.root.transaction(() => {
      for (const key of retired) this.#dbKeys.put([realmId, key.kid], key);
      this.#dbKeys.put([realmId, fresh.kid], fresh);
    });
    for (const key of retired) this.#cacheKey(key);
    this.#cacheKey(fresh);
  }

  /** Stops accepting a key (tokens it signed no longer verify). */
  async removeKey(realmId: string, kid: string): Promise<void> {
    return this.#write({ op: 'removeKey', realmId, kid });
  }

  async #removeKey(realmId: string, kid: string): Promise<void> {
    await this.#env.root.transaction(() => {
      this.#dbKeys.remove([realmId, kid]);
    });
    this.#keys.set(realmId, this.keys(realmId).filter((k) => k.kid !== kid));
  }

  // -------------------------------------------------------------------------

  #matches(user: UserRecord, query: UserQuery): boolean {
    if (query.enabled !== undefined && user.enabled !== query.enabled) return false;
    const exact = query.exact === true;
    if (query.username !== undefined) {
      const want = query.username.toLowerCase();
      if (exact ? user.username !== want : !user.username.includes(want)) return false;
    }
    if (query.email !== undefined) {
      const want = query.email.toLowerCase();
      const email = user.email?.toLowerCase() ?? '';
      if (exact ? email !== want : !email.includes(want)) return false;
    }
    if (query.search !== undefined && query.search !== '' && query.search !== '*') {
      const want = query.search.toLowerCase().replaceAll('*', '');
      const fields = [user.username, user.email ?? '', user.firstName ?? '', user.lastName ?? ''];
      if (!fields.some((f) => f.toLowerCase().includes(want))) return false;
    }
    return true;
  }

  /** Inside a write transaction. */
  #writeUser(user: UserRecord, old: UserRecord | null): void {
    if (old !== null) {
      if (old.username !== user.username) this.#dbUsernames.remove([old.realmId, old.username]);
      if (old.email !== null && old.email.toLowerCase() !== user.email?.toLowerCase()) this.#dbEmails.remove([old.realmId, old.email.toLowerCase()]);
    }
    this.#dbUsers.put(user.id, user);
    this.#dbUsernames.put([user.realmId, user.username], user.id);
    if (user.email !== null) this.#dbEmails.put([user.realmId, user.email.toLowerCase()], user.id);
  }

  /** Inside a write transaction. */
  #removeUser(user: UserRecord): void {
    this.#dbUsers.remove(user.id);
    this.#dbUsernames.remove([user.realmId, user.username]);
    if (user.email !== null) this.#dbEmails.remove([user.realmId, user.email.toLowerCase()]);
  }

  #cacheRealm(realm: RealmRecord): void {
    // Realms written before brute-force detection existed carry no settings: Keycloak's defaults (off).
    realm.bruteForce ??= bruteForceSettings();
    this.#realms.set(realm.id, realm);
    this.#realmIdsByName.set(realm.name, realm.id);
  }

  #cacheClient(client: ClientRecord): void {
    this.#clients.set(client.id, client);
    this.#clientIdsByKey.set(`${client.realmId}\u0000${client.clientId}`, client.id);
  }

  #cacheRole(realmId: string, role: RoleRecord): void {
    let roles = this.#roles.get(realmId);
    if (roles === undefined) this.#roles.set(realmId, (roles = new Map()));
    roles.set(role.name, role);
  }

  #cacheKey(key: KeyRecord): void {
    const list = (this.#keys.get(key.realmId) ?? []).filter((k) => k.kid !== key.kid);
    list.push(key);
    this.#keys.set(key.realmId, list);
  }
}
