// Engine: the session engine's API on the main thread, what the HTTP facade
// calls. Every session command names its partition (the one a session id
// encodes, or its user's: per-user work stays in one partition) and reaches
// the partition's owner through the PartitionRouter; realm- and client-wide
// queries are scattered to every owner and their bounded answers merged. It
// keeps the realm/client configuration every shard needs to apply Keycloak's
// rules, and addresses the node's own shards (configuration, time, statistics,
// snapshots) through the ActorPool. It never touches session state itself.

import { EventEmitter } from 'node:events';
import { dirname } from 'node:path';
import { IDLE_GRACE_DEFAULT_S, LIST_RESULTS_MAX, MAILBOX_COMMANDS_MAX, OFFLINE_CACHE_ENTRIES_DEFAULT } from '../constants.js';
import { EngineError } from '../errors.js';
import {
  END_REASON,
  type EndReason,
  type EndedSession,
  type NewClientSession,
  type PresentedToken,
  type RevokeResult,
  type SessionCreateResult,
  type Command,
  type SessionFilter,
  type SessionGetResult,
  type SessionOrder,
  type SessionRefreshResult,
  type SessionView,
  type ShardStats,
  type SnapshotLoadResult,
  type AuthCodeData,
  type SessionTouchCommand,
  type RefreshFields,
  type PartitionExport,
  type CodePutCommand,
  type CodeTakeCommand,
  type LoginFailurePutCommand,
  type LoginFailureRecordCommand,
  type LoginFailureRemoveCommand,
} from '../protocol/actor-messages.js';
import { OP } from '../protocol/actor-ops.js';
import { MUTATION, type Mutation, type ReplicatedRecord } from '../protocol/mutations.js';
import { newSessionId, shardOfPartition } from '../protocol/partition.js';
import { isSessionOrder, sessionComparator } from '../protocol/session-order.js';
import { clientSessionSettings, type ClientSessionSettings } from '../session/client-settings.js';
import { notBeforePolicy } from '../session/not-before.js';
import { REFRESH_GRANT_ERROR } from '../session/refresh-checks.js';
import { realmSessionSettings, type RealmSessionSettings } from '../session/realm-settings.js';
import type { SessionLimitPolicy } from '../session/session-limits.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import { SystemClock, type Clock } from '../time/clock.js';
import { parseCidr } from '../util/ip-address.js';
import type { LmdbEnv } from '../store/lmdb-env.js';
import { rekeyJournalLog } from '../store/journal-log.js';
import { ActorPool } from './actor-pool.js';
import { LocalRouter, partitionOfSession, partitionOfUser, type PartitionRouter, type ResultFor } from './partition-router.js';
import { mergeOrdered, mergeOrderedBy } from './merge-ordered.js';
import { LoginFailureClient } from './login-failures.js';
import type { CommandOutcome, ShardObserver } from './shard-channel.js';

export interface EngineObserver {
  commandDone?(op: number, outcome: CommandOutcome): void;
  workerExited?(shard: number, detail: string): void;
  workerStarted?(shard: number, restarts: number): void;
}

export interface EngineOptions {
  /** Shard workers on this node. */
  shards: number;
  /** Idle grace window in seconds (docs/keycloak-semantics.md#validity-checks), default 120. */
  idleGraceSeconds?: number;
  /** Where `now` comes from; a ManualClock with clockMode 'manual' runs expiry in virtual time. */
  clock?: Clock;
  clockMode?: 'system' | 'manual';
  mailboxCommandsMax?: number;
  timeoutMs?: number;
  observer?: EngineObserver;
  /**
   * The node's LMDB environment, opened by the main thread: with it, shards
   * keep offline sessions and snapshots in the same data directory. Without
   * it the engine holds online sessions only.
   */
  env?: LmdbEnv | null;
  /** Offline sessions kept in memory by the node (default 10,000, as Keycloak). */
  offlineCacheEntries?: number;
  /**
   * With an `env`: 'journal' (default) journals every lifecycle change and
   * answers only once it is committed, so a crash loses no answered change;
   * 'snapshot' writes online sessions at graceful shutdown only.
   */
  durability?: 'journal' | 'snapshot';
  /**
   * The `serverStartedAt` of the refresh-token reuse rule (epoch s): when the
   * state the engine serves was formed. Default: the engine's start. A node
   * with a data directory passes the directory's formation time, since its
   * chains survive restarts.
   */
  formedAt?: number;
  /**
   * How session commands reach their partition's owner. Default: this node's
   * shards (LocalRouter); a cluster member passes its ClusterRouter.
   */
  router?: (pool: ActorPool) => PartitionRouter;
}

export interface CreateSessionInput {
  realm: string;
  userId: string;
  username: string;
  ip: string;
  /** Keycloak's protocol id: `openid-connect`, or `client_auth` for service accounts. */
  authMethod?: string;
  rememberMe?: boolean;
  /** The first client session, if the login is for a client. */
  client?: NewClientSession | null;
  limits?: SessionLimitPolicy | null;
  notes?: Record<string, string> | null;
}

export interface RefreshInput {
  sessionId: string;
  realm: string;
  /** Client UUID. */
  client: string;
  /** The token's subject (user id). */
  userId: string;
  token: PresentedToken;
  /**
   * The user as the caller's store knows it; null when the user is gone.
   * Default: enabled. Its not-before is combined with setUserNotBefore's.
   */
  user?: { enabled: boolean; notBefore?: number } | null;
}

export interface ListPage {
  first?: number;
  max?: number;
}

export interface SearchInput extends ListPage {
  /** Trimmed substring of username, IP address or clientId; "" for all. */
  search?: string;
  /** Client UUIDs whose clientId matches `search` (the caller maps clientIds). */
  searchClients?: string[];
  /** Only sessions holding this client UUID. */
  client?: string | null;
}

export interface ListInput extends Omit<SearchInput, 'client'> {
  /** Only sessions matching it (its `client` restricts to a client). */
  filter?: SessionFilter;
  /** Default: by start, ascending. */
  order?: SessionOrder;
}

export interface RevokeReport {
  revoked: number;
  failed: number;
  failures: { id: string; reason: string }[];
  ended: EndedSession[];
}

interface ClientConfig {
  realm: string;
  settings: ClientSessionSettings;
}

const DEFAULT_PAGE_MAX = 100;
/**
 * Sessions a shard moves between roles per turn: 20–60 µs each on an idle
 * machine, several times that on a loaded one; other commands (a backup's
 * replicated records) run between turns.
 */
const ROLE_MOVE_BUDGET = 1_000;

function sum(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

/** Session-id order (offline listings are keyed by it). */
function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function pageOf(page: ListPage, defaultMax = DEFAULT_PAGE_MAX): { first: number; max: number } {
  const first = page.first ?? 0;
  const max = page.max ?? defaultMax;
  if (!Number.isSafeInteger(first) || first < 0) throw new EngineError('ERR_INVALID_ARGUMENT', 'first must be a non-negative integer');
  if (!Number.isSafeInteger(max) || max < 0) throw new EngineError('ERR_INVALID_ARGUMENT', 'max must be a non-negative integer');
  if (first + max > LIST_RESULTS_MAX) {
    throw new EngineError('ERR_INVALID_ARGUMENT', `first + max may not exceed ${LIST_RESULTS_MAX}`);
  }
  return { first, max };
}

export class Engine extends EventEmitter {
  /** This node's shards: configuration, time, statistics, snapshots. */
  readonly #pool: ActorPool;
  /** How every session command reaches its partition's owner. */
  readonly #router: PartitionRouter;
  readonly #env: LmdbEnv | null;
  readonly #clock: Clock;
  readonly #clockMode: 'system' | 'manual';
  readonly #startedAt: number;
  readonly #formedAt: number;
  readonly #realms = new Map<string, RealmSessionSettings>();
  readonly #clients = new Map<string, ClientConfig>();
  readonly #userNotBefore = new Map<string, Map<string, number>>();
  #lastStats: ShardStats[] = [];
  #closed = false;
  /** Login-failure records (brute-force detection), in the users' partitions. */
  readonly loginFailures: LoginFailureClient;

  private constructor(options: EngineOptions, observer: ShardObserver) {
    super();
    this.#clock = options.clock ?? new SystemClock();
    this.#clockMode = options.clockMode ?? 'system';
    this.#startedAt = this.#clock.nowSeconds();
    this.#formedAt = options.formedAt ?? this.#startedAt;
    this.#env = options.env ?? null;
    this.#pool = new ActorPool({
      shards: options.shards,
      idleGraceSeconds: options.idleGraceSeconds ?? IDLE_GRACE_DEFAULT_S,
      clockMode: this.#clockMode,
      startSecond: this.#startedAt,
      mailboxCommandsMax: options.mailboxCommandsMax ?? MAILBOX_COMMANDS_MAX,
      dataDir: options.env == null ? null : dirname(options.env.path),
      offlineCacheEntries: options.offlineCacheEntries ?? OFFLINE_CACHE_ENTRIES_DEFAULT,
      durability: options.durability ?? 'journal',
      nowSeconds: () => this.#clock.nowSeconds(),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      observer,
    });
    this.#router = options.router?.(this.#pool) ?? new LocalRouter(this.#pool);
    this.loginFailures = new LoginFailureClient(this.#router, this.#clock);
  }

  /** Starts the shard workers; resolves when every shard is ready. */
  static async start(options: EngineOptions): Promise<Engine> {
    if (!Number.isSafeInteger(options.shards) || options.shards < 1) {
      throw new EngineError('ERR_INVALID_OPTION', `shards must be a positive integer, got ${options.shards}`);
    }
    if (options.mailboxCommandsMax !== undefined && !(Number.isSafeInteger(options.mailboxCommandsMax) && options.mailboxCommandsMax >= 1)) {
      throw new EngineError('ERR_INVALID_OPTION', `mailboxCommandsMax must be a positive integer, got ${options.mailboxCommandsMax}`);
    }
    if (options.idleGraceSeconds !== undefined && !(Number.isSafeInteger(options.idleGraceSeconds) && options.idleGraceSeconds >= 0)) {
      throw new EngineError('ERR_INVALID_OPTION', `idleGraceSeconds must be a non-negative integer, got ${options.idleGraceSeconds}`);
    }
    if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new EngineError('ERR_INVALID_OPTION', `timeoutMs must be positive, got ${options.timeoutMs}`);
    }
    const observer = options.observer ?? {};
    let engine: Engine | undefined;
    const shardObserver: ShardObserver = {
      commandDone: (op, outcome) => observer.commandDone?.(op, outcome),
      workerExited: (shard, detail) => observer.workerExited?.(shard, detail),
      workerStarted: (shard, restarts) => observer.workerStarted?.(shard, restarts),
      expired: (notices) => {
        if (engine !== undefined) for (const notice of notices) engine.emit('expired', notice);
      },
      records: (shard, records) => engine?.emit('records', shard, records),
    };
    // Each shard reads and writes its own range of the journal log: re-keyed first if the shard count changed.
    if (options.env != null) await rekeyJournalLog(options.env, options.shards);
    engine = new Engine(options, shardObserver);
    await engine.#pool.start();
    engine.#watchSubscriptions();
    return engine;
  }

  get ready(): boolean {
    return !this.#closed && this.#pool.ready;
  }

  get shards(): number {
    return this.#pool.size;
  }

  /** When this engine started (epoch s): the start second of the shards' wheels. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** When the state this engine serves was formed (the reuse rule's server start). */
  get formedAt(): number {
    return this.#formedAt;
  }

  get clock(): Clock {
    return this.#clock;
  }

  /** Commands queued or in flight per shard (the mailbox-depth gauge). */
  mailboxDepths(): number[] {
    return this.#pool.channels.map((c) => c.depth);
  }

  /** Worker restarts per shard since start. */
  restarts(): number[] {
    return this.#pool.channels.map((c) => c.restarts);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }

  // -------------------------------------------------------------------------
  // Configuration

  /** Creates or updates a realm's session settings (missing attributes take Keycloak's defaults). */
  async putRealm(realmId: string, settings: Partial<RealmSessionSettings> = {}, options: { master?: boolean } = {}): Promise<void> {
    this.#requireString(realmId, 'realm');
    const full = realmSessionSettings(settings, options);
    this.#realms.set(realmId, full);
    await this.#pool.broadcastSticky(`realm:${realmId}`, { op: OP.realmPut, realm: realmId, settings: full });
  }

  realmSettings(realmId: string): RealmSessionSettings | undefined {
    return this.#realms.get(realmId);
  }

  /** Removes a realm, its clients' configuration and every session in it; resolves with the count removed. */
  async removeRealm(realmId: string): Promise<number> {
    this.#requireRealm(realmId);
    const counts = await this.#router.scatter({ op: OP.realmRemove, realm: realmId });
    if (this.#env !== null) await this.#router.scatter({ op: OP.offlineRemoveRealm, realm: realmId, reason: END_REASON.realmRemoved });
    this.#realms.delete(realmId);
    this.#userNotBefore.delete(realmId);
    this.#pool.unstick(`realm:${realmId}`);
    for (const [uuid, client] of this.#clients) {
      if (client.realm !== realmId) continue;
      this.#clients.delete(uuid);
      this.#pool.unstick(`client:${uuid}`);
    }
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Creates or updates a client's session overrides from its Keycloak
   * attributes (docs/keycloak-semantics.md#client-attributes) and not-before.
   */
  async putClient(
    realmId: string,
    clientUuid: string,
    client: { attributes?: Record<string, string>; notBefore?: number } | ClientSessionSettings = {},
  ): Promise<void> {
    this.#requireRealm(realmId);
    this.#requireString(clientUuid, 'client');
    const settings =
      'useRefreshTokens' in client ? { ...client } : clientSessionSettings(client.attributes, client.notBefore ?? 0);
    this.#clients.set(clientUuid, { realm: realmId, settings });
    await this.#pool.broadcastSticky(`client:${clientUuid}`, { op: OP.clientPut, realm: realmId, client: clientUuid, settings });
  }

  clientSettings(clientUuid: string): ClientSessionSettings | undefined {
    return this.#clients.get(clientUuid)?.settings;
  }

  /** Forgets a client: detaches its online client sessions everywhere (resolves with how many) and removes its offline ones. */
  async removeClient(realmId: string, clientUuid: string): Promise<number> {
    this.#requireRealm(realmId);
    const counts = await this.#router.scatter({ op: OP.clientRemove, realm: realmId, client: clientUuid });
    await this.removeClientOfflineSessions(clientUuid);
    this.#clients.delete(clientUuid);
    this.#pool.unstick(`client:${clientUuid}`);
    return counts.reduce((a, b) => a + b, 0);
  }

  // -------------------------------------------------------------------------
  // Not-before (docs/keycloak-semantics.md#not-before-revocation)

  async setRealmNotBefore(realmId: string, notBefore: number): Promise<void> {
    const realm = this.#requireRealm(realmId);
    this.#requireTime(notBefore, 'notBefore');
    // Shards do not read not-before (refresh commands carry it), so no broadcast is needed
    // beyond keeping the sticky realm configuration current for restarted workers.
    const settings = { ...realm, notBefore };
    this.#realms.set(realmId, settings);
    this.#pool.unstick(`realm:${realmId}`);
    await this.#pool.broadcastSticky(`realm:${realmId}`, { op: OP.realmPut, realm: realmId, settings });
  }

  async setClientNotBefore(realmId: string, clientUuid: string, notBefore: number): Promise<void> {
    this.#requireRealm(realmId);
    this.#requireTime(notBefore, 'notBefore');
    const client = this.#clients.get(clientUuid);
    if (client === undefined || client.realm !== realmId) throw new EngineError('ERR_CLIENT_UNKNOWN', `client ${clientUuid} not found`);
    await this.putClient(realmId, clientUuid, { ...client.settings, notBefore });
  }

  setUserNotBefore(realmId: string, userId: string, notBefore: number): void {
    this.#requireRealm(realmId);
    this.#requireTime(notBefore, 'notBefore');
    let users = this.#userNotBefore.get(realmId);
    if (users === undefined) {
      users = new Map();
      this.#userNotBefore.set(realmId, users);
    }
    if (notBefore === 0) users.delete(userId);
    else users.set(userId, notBefore);
  }

  /** The realm, client and user not-before values, and the token response's `not-before-policy`. */
  notBefore(realmId: string, clientUuid?: string, userId?: string): { realm: number; client: number; user: number; policy: number } {
    const realm = this.#realms.get(realmId)?.notBefore ?? 0;
    const client = clientUuid === undefined ? 0 : (this.#clients.get(clientUuid)?.settings.notBefore ?? 0);
    const user = userId === undefined ? 0 : (this.#userNotBefore.get(realmId)?.get(userId) ?? 0);
    return { realm, client, user, policy: notBeforePolicy(realm, client, user) };
  }

  // -------------------------------------------------------------------------
  // Sessions

  /** Creates a user session (and its first client session); applies the user's session limits. */
  async createSession(input: CreateSessionInput): Promise<SessionCreateResult> {
    this.#requireRealm(input.realm);
    this.#requireString(input.userId, 'userId');
    this.#requireString(input.username, 'username');
    this.#requireString(input.ip, 'ip');
    if (input.client != null) this.#requireString(input.client.client, 'client.client');
    const partition = partitionOfUser(input.realm, input.userId);
    const id = newSessionId(partition);
    return this.#router.ask(partitionOfSession(id), {
      op: OP.sessionCreate,
      id,
      realm: input.realm,
      userId: input.userId,
      username: input.username,
      ip: input.ip,
      authMethod: input.authMethod ?? 'openid-connect',
      rememberMe: input.rememberMe === true,
      now: this.#clock.nowSeconds(),
      client: input.client ?? null,
      limits: input.limits ?? null,
      notes: input.notes ?? null,
    });
  }

  /**
   * Attaches a client session (reusing a valid one, restarting an expired one).
   * `reauthenticated`: the user just signed in again (prompt=login, max_age), so AUTH_TIME becomes now.
   */
  async attachClient(sessionId: string, realmId: string, client: NewClientSession, options: { touchUser?: boolean; reauthenticated?: boolean } = {}): Promise<SessionView> {
    this.#requireRealm(realmId);
    if (client === null || typeof client !== 'object') throw new EngineError('ERR_INVALID_ARGUMENT', 'client must be an object');
    this.#requireString(client.client, 'client.client');
    const partition = this.#partitionOfSession(sessionId);
    return this.#router.ask(partition, {
      op: OP.sessionAttachClient,
      id: sessionId,
      realm: realmId,
      now: this.#clock.nowSeconds(),
      client,
      touchUser: options.touchUser === true,
      ...(options.reauthenticated === true ? { authTime: this.#clock.nowSeconds() } : {}),
    });
  }

  /** The refresh_token grant's session part: checks in Keycloak's order, clock bump, rotation bookkeeping. */
  async refresh(input: RefreshInput): Promise<SessionRefreshResult> {
    const partition = partitionOfSession(this.#checkRefreshInput(input));
    if (partition < 0) return { ok: false, error: REFRESH_GRANT_ERROR.sessionNotActive, detached: false, ended: null };
    return this.#router.ask(partition, { op: OP.sessionRefresh, ...this.#refreshFields(input) });
  }

  /** Validates a refresh input; returns its session id. */
  #checkRefreshInput(input: RefreshInput): string {
    this.#requireRealm(input.realm);
    this.#requireString(input.client, 'client');
    if (input.token === null || typeof input.token !== 'object') throw new EngineError('ERR_INVALID_ARGUMENT', 'token must be an object');
    this.#requireString(input.token.jti, 'token.jti');
    this.#requireTime(input.token.iat, 'token.iat');
    return input.sessionId;
  }

  /** What the shard needs for a refresh (online or offline): the not-before values and the user as the store knows it. */
  #refreshFields(input: RefreshInput): RefreshFields {
    const realm = this.#realms.get(input.realm)!;
    const nb = this.notBefore(input.realm, input.client, input.userId);
    const user = input.user === null ? null : { enabled: input.user?.enabled ?? true, notBefore: Math.max(input.user?.notBefore ?? 0, nb.user) };
    return {
      id: input.sessionId,
      realm: input.realm,
      client: input.client,
      now: this.#clock.nowSeconds(),
      token: input.token,
      user,
      notBefore: { realm: realm.notBefore, client: nb.client },
      serverStartedAt: this.#formedAt,
    };
  }

  /** Moves the user session's idle clock (SSO cookie use). False if the session is gone. */
  touch(sessionId: string): Promise<boolean> {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return Promise.resolve(false);
    return this.#router.ask(partition, { op: OP.sessionTouch, id: sessionId, now: this.#clock.nowSeconds() });
  }

  /**
   * Moves the idle clocks of many sessions with one promise per shard instead
   * of one per session (bulk idle-clock updates, replication catch-up). The
   * answer says, per id in order, whether the session existed. Refused whole
   * with ERR_ACTOR_OVERLOADED when a shard's mailbox cannot take its part.
   */
  async touchMany(sessionIds: readonly string[]): Promise<boolean[]> {
    const now = this.#clock.nowSeconds();
    const out = new Array<boolean>(sessionIds.length).fill(false);
    const partitions: number[] = [];
    const commands: SessionTouchCommand[] = [];
    const positions: number[] = [];
    sessionIds.forEach((id, position) => {
      const partition = partitionOfSession(id);
      if (partition < 0) return;
      partitions.push(partition);
      commands.push({ op: OP.sessionTouch, id, now });
      positions.push(position);
    });
    const results = await this.#router.askMany(partitions, commands);
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (result instanceof EngineError) throw result;
      out[positions[i]!] = result === true;
    }
    return out;
  }

  /** The session with its validity (docs/keycloak-semantics.md#validity-checks) now, or null when it does not exist. */
  async getSession(sessionId: string): Promise<SessionGetResult | null> {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return null;
    return this.#router.ask(partition, { op: OP.sessionGet, id: sessionId, now: this.#clock.nowSeconds() });
  }

  /**
   * Validates a session, and one of its client sessions when `clientUuid` is
   * given: `reason` says why it is not valid (`not_found`, `idle`, `max`,
   * `remember_me_disabled`, `client_not_found`, `client_idle`, `client_max`).
   */
  async validate(sessionId: string, clientUuid?: string): Promise<{ valid: boolean; reason: string | null; session: SessionView | null }> {
    const got = await this.getSession(sessionId);
    if (got === null) return { valid: false, reason: 'not_found', session: null };
    if (got.invalid !== null) return { valid: false, reason: got.invalid, session: got.session };
    if (clientUuid !== undefined) {
      if (!(clientUuid in got.clientsInvalid)) return { valid: false, reason: 'client_not_found', session: got.session };
      const reason = got.clientsInvalid[clientUuid];
      if (reason !== null && reason !== undefined) return { valid: false, reason: `client_${reason}`, session: got.session };
    }
    return { valid: true, reason: null, session: got.session };
  }

  /** Ends one session; resolves with it, or null when it did not exist. */
  async logoutSession(sessionId: string, reason: EndReason = END_REASON.logout): Promise<EndedSession | null> {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return null;
    return this.#router.ask(partition, { op: OP.sessionRemove, id: sessionId, reason });
  }

  /** Detaches one client session (revocation, reuse); optionally ends the user session if it was the last. */
  async detachClient(sessionId: string, clientUuid: string, options: { removeIfEmpty?: boolean } = {}): Promise<{ detached: boolean; ended: EndedSession | null }> {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return { detached: false, ended: null };
    return this.#router.ask(partition, {
      op: OP.sessionDetachClient,
      id: sessionId,
      client: clientUuid,
      removeIfEmpty: options.removeIfEmpty === true,
    });
  }

  /** Ends every online session of a user. */
  async logoutUser(realmId: string, userId: string, reason: EndReason = END_REASON.userLogout): Promise<EndedSession[]> {
    this.#requireRealm(realmId);
    this.#requireString(userId, 'userId');
    return this.#router.ask(partitionOfUser(realmId, userId), { op: OP.userLogout, realm: realmId, userId, reason });
  }

  /** Ends every online session of a realm; resolves with how many. */
  async logoutAll(realmId: string): Promise<number> {
    this.#requireRealm(realmId);
    const counts = await this.#router.scatter({ op: OP.realmLogoutAll, realm: realmId, reason: END_REASON.logoutAll });
    return counts.reduce((a, b) => a + b, 0);
  }

  async listUserSessions(realmId: string, userId: string): Promise<SessionView[]> {
    this.#requireRealm(realmId);
    this.#requireString(userId, 'userId');
    const views = await this.#router.ask(partitionOfUser(realmId, userId), { op: OP.userSessions, realm: realmId, userId });
    return views.sort((a, b) => a.started - b.started || (a.id < b.id ? -1 : 1));
  }

  /** Sessions holding a client, paged over all shards in client-session start order. */
  async listClientSessions(realmId: string, clientUuid: string, page: ListPage = {}): Promise<SessionView[]> {
    this.#requireRealm(realmId);
    const { first, max } = pageOf(page);
    if (max === 0) return [];
    const lists = await this.#router.scatter({ op: OP.clientSessions, realm: realmId, client: clientUuid, limit: first + max });
    const startedOf = (v: SessionView): number => v.clients.find((c) => c.client === clientUuid)?.started ?? v.started;
    return mergeOrdered(lists, startedOf, first + max).slice(first);
  }

  /** Online client sessions of a client (maintained counters, no scan). */
  async countClientSessions(realmId: string, clientUuid: string): Promise<number> {
    this.#requireRealm(realmId);
    const counts = await this.#router.scatter({ op: OP.clientSessionCount, realm: realmId, client: clientUuid });
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Per client UUID with at least one online session: how many (Keycloak's client-session-stats `active`). */
  async clientSessionStats(realmId: string): Promise<Map<string, number>> {
    this.#requireRealm(realmId);
    const parts = await this.#router.scatter({ op: OP.realmClientStats, realm: realmId });
    const out = new Map<string, number>();
    for (const part of parts) for (const [client, count] of part) out.set(client, (out.get(client) ?? 0) + count);
    return out;
  }

  /**
   * The realm-wide session search of docs/keycloak-semantics.md#admin-session-endpoints (ui-ext), paged inside
   * the engine: each shard walks its sessions in creation order and stops after
   * first + max matches, and the pages merge by start time. Cost grows with the
   * page, not with the number of sessions.
   */
  async searchSessions(realmId: string, input: SearchInput = {}): Promise<SessionView[]> {
    this.#requireRealm(realmId);
    const { first, max } = pageOf(input, 10);
    if (max === 0) return [];
    const search = (input.search ?? '').trim();
    const lists = await this.#router.scatter({
      op: OP.realmSearch,
      realm: realmId,
      search,
      searchClients: input.searchClients ?? [],
      client: input.client ?? null,
      limit: first + max,
    });
    return mergeOrdered(lists, (v) => v.started, first + max).slice(first);
  }

  /**
   * A page of the realm's online sessions matching a search and a filter, in
   * an order (start or last access, either way): each shard answers its first
   * first + max in that order (src/actor/session-listing.ts) and the answers
   * merge by the same order.
   */
  async listSessions(realmId: string, input: ListInput = {}): Promise<SessionView[]> {
    return this.#listPage(realmId, OP.realmList, input);
  }

  /** Ends the listed sessions of a realm; ids that are unknown (or expired meanwhile) are reported, not thrown. */
  async revokeSessions(realmId: string, ids: readonly string[], reason: EndReason = END_REASON.revoked): Promise<RevokeReport> {
    this.#requireRealm(realmId);
    if (!Array.isArray(ids)) throw new EngineError('ERR_INVALID_ARGUMENT', 'ids must be an array');
    const byPartition = new Map<number, string[]>();
    const report: RevokeReport = { revoked: 0, failed: 0, failures: [], ended: [] };
    for (const id of ids) {
      const partition = typeof id === 'string' ? partitionOfSession(id) : -1;
      if (partition < 0) {
        report.failures.push({ id: String(id), reason: 'not_found' });
        continue;
      }
      let list = byPartition.get(partition);
      if (list === undefined) byPartition.set(partition, (list = []));
      list.push(id);
    }
    const results = await Promise.all(
      [...byPartition].map(([partition, list]) => this.#router.ask(partition, { op: OP.revokeIds, realm: realmId, ids: list, reason })),
    );
    return this.#report(report, results);
  }

  /** Ends every session of the realm matching the filter (e.g. a user, outside the corporate network). */
  async revokeByFilter(realmId: string, filter: SessionFilter, reason: EndReason = END_REASON.revoked): Promise<RevokeReport> {
    this.#requireRealm(realmId);
    this.#checkFilter(filter);
    const results = await this.#askFiltered(realmId, filter, { op: OP.revokeFilter, realm: realmId, filter, reason });
    return this.#report({ revoked: 0, failed: 0, failures: [], ended: [] }, results);
  }

  async countByFilter(realmId: string, filter: SessionFilter): Promise<number> {
    this.#requireRealm(realmId);
    this.#checkFilter(filter);
    return sum(await this.#askFiltered(realmId, filter, { op: OP.countFilter, realm: realmId, filter }));
  }

  // -------------------------------------------------------------------------
  // Authorization codes (kept by the session's shard, single use)

  /** Stores an authorization code for a session; false when the shard's code store is full. */
  async putCode(sessionId: string, code: string, data: AuthCodeData): Promise<boolean> {
    return this.#router.ask(this.#partitionOfSession(sessionId), { op: OP.codePut, id: sessionId, code, data });
  }

  /** Takes a code (at most once); null when unknown or already used. An expired code is taken too: compare `exp` with now. */
  async takeCode(sessionId: string, code: string): Promise<AuthCodeData | null> {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return null;
    return this.#router.ask(partition, { op: OP.codeTake, id: sessionId, code, now: this.#clock.nowSeconds() });
  }

  /** The stored refresh-token chain of a client session (introspection's read-only reuse check). */
  async refreshChain(sessionId: string, clientUuid: string, reuseId: string, offline: boolean): Promise<RefreshChain | undefined> {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return undefined;
    const chain = await this.#router.ask(partition, { op: OP.chainGet, id: sessionId, client: clientUuid, reuseId, offline });
    return chain ?? undefined;
  }

  // -------------------------------------------------------------------------
  // Offline sessions (docs/keycloak-semantics.md#offline-sessions): same id as the online session; in LMDB

  get persistent(): boolean {
    return this.#env !== null;
  }

  /** The node's LMDB environment (offline read paths), or null. */
  get env(): LmdbEnv | null {
    return this.#env;
  }

  /**
   * Offline token issue: creates the offline copy of online session
   * `sessionId` (or moves its idle clock) with an offline client session for
   * `clientUuid`. Resolves once LMDB has committed it.
   */
  async grantOffline(sessionId: string, clientUuid: string, scope: string): Promise<SessionView> {
    this.#requireEnv();
    return this.#router.ask(this.#partitionOfSession(sessionId), {
      op: OP.offlineGrant,
      id: sessionId,
      client: clientUuid,
      scope,
      now: this.#clock.nowSeconds(),
    });
  }

  /** The offline session with its validity now (offline rules), or null. */
  async getOfflineSession(sessionId: string): Promise<SessionGetResult | null> {
    this.#requireEnv();
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return null;
    return this.#router.ask(partition, { op: OP.offlineGet, id: sessionId, now: this.#clock.nowSeconds() });
  }

  /** The refresh_token grant for an offline token (typ Offline). */
  async refreshOffline(input: RefreshInput & { offlineAccess?: boolean }): Promise<SessionRefreshResult> {
    this.#requireEnv();
    const partition = partitionOfSession(this.#checkRefreshInput(input));
    if (partition < 0) return { ok: false, error: REFRESH_GRANT_ERROR.offlineSessionNotFound, detached: false, ended: null };
    return this.#router.ask(partition, {
      op: OP.offlineRefresh,
      ...this.#refreshFields(input),
      offlineAccess: input.offlineAccess !== false,
    });
  }

  /** Removes an offline session (admin delete with isOffline, revocation). */
  async removeOfflineSession(sessionId: string, reason: EndReason = END_REASON.adminDelete): Promise<EndedSession | null> {
    this.#requireEnv();
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return null;
    return this.#router.ask(partition, { op: OP.offlineRemove, id: sessionId, reason });
  }

  /** Removes one offline client session (revocation, consent revoke); the session goes with its last one. */
  async removeOfflineClient(sessionId: string, clientUuid: string, reason: EndReason = END_REASON.revoked): Promise<{ removed: boolean; ended: EndedSession | null }> {
    this.#requireEnv();
    const partition = partitionOfSession(sessionId);
    if (partition < 0) return { removed: false, ended: null };
    return this.#router.ask(partition, { op: OP.offlineRemoveClient, id: sessionId, client: clientUuid, reason });
  }

  async listUserOfflineSessions(realmId: string, userId: string): Promise<SessionView[]> {
    this.#requireRealm(realmId);
    if (this.#env === null) return [];
    const views = await this.#router.ask(partitionOfUser(realmId, userId), { op: OP.offlineUserSessions, realm: realmId, userId });
    return views.sort((a, b) => a.started - b.started || (a.id < b.id ? -1 : 1));
  }

  /** Removes every offline session of a user (user deletion). */
  async removeUserOfflineSessions(realmId: string, userId: string, reason: EndReason = END_REASON.userDeleted): Promise<EndedSession[]> {
    this.#requireRealm(realmId);
    if (this.#env === null) return [];
    return this.#router.ask(partitionOfUser(realmId, userId), { op: OP.offlineRemoveUser, realm: realmId, userId, reason });
  }

  /** Removes a client's offline client sessions everywhere (client deletion); resolves with how many. */
  async removeClientOfflineSessions(clientUuid: string, reason: EndReason = END_REASON.clientRemoved): Promise<number> {
    if (this.#env === null) return 0;
    const counts = await this.#router.scatter({ op: OP.offlineRemoveClientAll, client: clientUuid, reason });
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Offline client sessions of a client: maintained counters in LMDB, summed over the shards, never a scan. */
  async countClientOfflineSessions(clientUuid: string): Promise<number> {
    if (this.#env === null) return 0;
    return sum(await this.#router.scatter({ op: OP.offlineClientCount, client: clientUuid }));
  }

  /** Offline user sessions of a realm (maintained counters, from the shards' statistics). */
  async countRealmOfflineSessions(realmId: string): Promise<number> {
    if (this.#env === null) return 0;
    return sum((await this.stats()).map((s) => s.offlineRealms[realmId] ?? 0));
  }

  /** A page of a client's offline sessions in session-id order (idle clocks as the shards hold them). */
  async listClientOfflineSessions(clientUuid: string, page: ListPage = {}): Promise<SessionView[]> {
    const { first, max } = pageOf(page);
    if (this.#env === null || max === 0) return [];
    const lists = await this.#router.scatter({ op: OP.offlineClientSessions, client: clientUuid, limit: first + max });
    return mergeOrderedBy(lists, byId, first + max).slice(first);
  }

  /** The realm-wide offline session search (ui-ext, type OFFLINE), paged in the shards: (user id, session id) order. */
  async searchOfflineSessions(realmId: string, input: SearchInput = {}): Promise<SessionView[]> {
    this.#requireRealm(realmId);
    const { first, max } = pageOf(input, 10);
    if (this.#env === null || max === 0) return [];
    const lists = await this.#router.scatter({
      op: OP.offlineRealmSearch,
      realm: realmId,
      search: (input.search ?? '').trim(),
      searchClients: input.searchClients ?? [],
      client: input.client ?? null,
      limit: first + max,
    });
    return mergeOrderedBy(lists, (a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : byId(a, b)), first + max).slice(first);
  }

  /** Ends every offline session of the realm matching the filter (bulk revoke). */
  async revokeOfflineByFilter(realmId: string, filter: SessionFilter, reason: EndReason = END_REASON.revoked): Promise<EndedSession[]> {
    this.#requireRealm(realmId);
    this.#checkFilter(filter);
    if (this.#env === null) return [];
    const parts = await this.#askFiltered(realmId, filter, { op: OP.offlineRevokeFilter, realm: realmId, filter, reason });
    return parts.flat();
  }

  /** How many offline sessions of the realm match the filter (the preview of a bulk revoke). */
  async countOfflineByFilter(realmId: string, filter: SessionFilter): Promise<number> {
    this.#requireRealm(realmId);
    this.#checkFilter(filter);
    if (this.#env === null) return 0;
    return sum(await this.#askFiltered(realmId, filter, { op: OP.offlineCountFilter, realm: realmId, filter }));
  }

  /** listSessions over the realm's offline sessions: each shard offers every matching record to a bounded heap. */
  async listOfflineSessions(realmId: string, input: ListInput = {}): Promise<SessionView[]> {
    return this.#listPage(realmId, OP.offlineRealmList, input);
  }

  // -------------------------------------------------------------------------
  // Restart without loss

  /** Graceful shutdown: every shard writes its online sessions to LMDB. Resolves with how many. */
  async saveSnapshot(): Promise<number> {
    this.#requireEnv();
    const counts = await this.#pool.broadcast({ op: OP.snapshotSave });
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Start-up: shards read back the online sessions of their partitions; expired ones are dropped with why. */
  async loadSnapshot(): Promise<SnapshotLoadResult> {
    const result: SnapshotLoadResult = { loaded: 0, dropped: [] };
    if (this.#env === null) return result;
    const parts = await this.#pool.broadcast({ op: OP.snapshotLoad, now: this.#clock.nowSeconds() });
    for (const part of parts) result.loaded += part.loaded;
    // flatMap, not push(...): a node down for longer than the idle timeout drops every session.
    result.dropped = parts.flatMap((part) => part.dropped);
    return result;
  }

  // -------------------------------------------------------------------------
  // Time, statistics, events

  /**
   * Manual clock mode: moves every shard's expiry to `now` (epoch s) and
   * resolves when all of them have fired what was due. Expiry runs in bounded
   * turns meanwhile, so concurrent commands are still served.
   */
  async advanceTime(now: number): Promise<void> {
    this.#requireTime(now, 'now');
    await this.#pool.broadcastAlone({ op: OP.timeAdvance, now });
  }

  /** Statistics of every shard (falls back to the last answer of a shard that does not reply). */
  async stats(): Promise<ShardStats[]> {
    const results = await Promise.allSettled(this.#pool.channels.map((_, shard) => this.#pool.ask(shard, { op: OP.statsGet })));
    const stats: ShardStats[] = [];
    results.forEach((r, shard) => {
      if (r.status === 'fulfilled') stats.push(r.value);
      else {
        const last = this.#lastStats.find((s) => s.shard === shard);
        if (last !== undefined) stats.push(last);
      }
    });
    this.#lastStats = stats;
    return stats;
  }

  /** For tests and drills: kill a shard worker as a crash would; its supervisor restarts it. */
  crashShard(shard: number): Promise<void> {
    return this.#pool.crashShard(shard);
  }

  /**
   * Replays mutation records on the shard owning each session (replication,
   * tests); a realm-wide record goes to every shard. Order is kept per shard.
   */
  async applyMutations(mutations: readonly Mutation[]): Promise<number> {
    const byPartition = new Map<number, Mutation[]>();
    let total = 0;
    for (const m of mutations) {
      if (m.k === MUTATION.realmCleared) {
        // Realm-wide: every owner applies it, after the records before it.
        total += await this.#replayGroups(byPartition);
        byPartition.clear();
        await this.#router.scatter({ op: OP.mutationsReplay, mutations: [m] });
        total++;
        continue;
      }
      const partition = this.#partitionOfSession(m.id);
      let list = byPartition.get(partition);
      if (list === undefined) byPartition.set(partition, (list = []));
      list.push(m);
    }
    return total + (await this.#replayGroups(byPartition));
  }

  // -------------------------------------------------------------------------
  // A cluster member's own copies (not routed: whatever role this node has)

  /** Applies replicated records of one partition to this node's copy of it. */
  applyReplicated(partition: number, mutations: ReplicatedRecord[]): Promise<number> {
    return this.#pool.ask(shardOfPartition(partition, this.#pool.size), { op: OP.mutationsReplay, mutations });
  }

  /**
   * Applies a state-transfer chunk (packed records, as a partition export made them) to this node's copy of its partition.
   * Each chunk is a batch of its own, so the shard runs requests between chunks (src/actor/batch-order.ts).
   */
  applyChunk(partition: number, chunk: Uint8Array): Promise<number> {
    return this.#pool.askAlone(shardOfPartition(partition, this.#pool.size), { op: OP.chunkReplay, partition, chunk });
  }

  /** A state transfer starts filling this node's copy of `partition` again (its first frame): the shard notes what the copy holds, to drop what the transfer does not bring. */
  copyRefill(partition: number): Promise<null> {
    return this.#pool.ask(shardOfPartition(partition, this.#pool.size), { op: OP.copyRefill, partition });
  }

  /**
   * The state transfer filling this node's copy of `partition` is done: the
   * shard drops the sessions the transfer did not bring (resolves with how
   * many) and journals the copy from here on (after a snapshot of it).
   */
  copyFilled(partition: number): Promise<number> {
    return this.#pool.ask(shardOfPartition(partition, this.#pool.size), { op: OP.copyFilled, partition });
  }

  /** Runs a replicated command (auth codes, login failures) on this node's copy of its partition. */
  applyReplicatedCommand(partition: number, command: CodePutCommand | CodeTakeCommand | LoginFailurePutCommand | LoginFailureRecordCommand | LoginFailureRemoveCommand): Promise<unknown> {
    return this.#pool.ask(shardOfPartition(partition, this.#pool.size), command);
  }

  /** The sessions of a partition this node is primary of, as packed chunks of records, with the partition's seq. */
  exportPartition(partition: number): Promise<PartitionExport> {
    return this.#pool.askAlone(shardOfPartition(partition, this.#pool.size), { op: OP.partitionExport, partition });
  }

  /**
   * The digests of partitions this node holds (primary or copy), in order;
   * null for one it does not hold (partition-digest.ts). One batch per
   * partition, so a shard runs requests between them (a partition of a
   * thousand sessions takes a few ms).
   */
  async partitionDigests(partitions: readonly number[]): Promise<(string | null)[]> {
    const answers = await Promise.all(partitions.map((p) => this.#pool.askAlone(shardOfPartition(p, this.#pool.size), { op: OP.partitionDigest, partitions: [p] })));
    return answers.map((digests) => digests[0] ?? null);
  }

  /**
   * Gives this node's shards their roles (each shard gets the partitions it
   * runs); `holdIdleSeconds`: promotion grace (PartitionRolesCommand). The
   * three roles are asked for at once (a partition is in one list, so their
   * order does not matter): a table changes many roles, and each ask waits
   * behind whatever the shard is applying (a rebalance's chunks).
   */
  async setPartitionRoles(roles: Record<'primary' | 'passive' | 'none', number[]>, holdIdleSeconds?: number): Promise<void> {
    const all = (['none', 'passive', 'primary'] as const).map((role) => {
      const byShard = this.#pool.channels.map(() => [] as number[]);
      for (const p of roles[role]) byShard[shardOfPartition(p, this.#pool.size)]!.push(p);
      return Promise.all(byShard.map((partitions, shard) => this.#setRolesOn(shard, partitions, role, holdIdleSeconds)));
    });
    await Promise.all(all);
  }

  /**
   * One shard's part, in turns of at most ROLE_MOVE_BUDGET moved sessions:
   * a promotion of thousands of sessions would otherwise hold the shard for
   * a second, and the replicated records and commands queued behind it
   * (a backup's acknowledgements) with it.
   */
  async #setRolesOn(shard: number, partitions: number[], role: 'primary' | 'passive' | 'none', holdIdleSeconds: number | undefined): Promise<void> {
    let rest = partitions;
    const hold = role === 'primary' && holdIdleSeconds !== undefined ? { holdIdleSeconds } : {};
    while (rest.length > 0) {
      const { done } = await this.#pool.ask(shard, { op: OP.partitionRoles, partitions: rest, role, budget: ROLE_MOVE_BUDGET, ...hold });
      rest = rest.slice(done);
    }
  }

  async #replayGroups(byPartition: Map<number, Mutation[]>): Promise<number> {
    const counts = await Promise.all([...byPartition].map(([partition, list]) => this.#router.ask(partition, { op: OP.mutationsReplay, mutations: list })));
    return counts.reduce((a, b) => a + b, 0);
  }

  // -------------------------------------------------------------------------

  /** Shards ship expiry notices and mutation records only while someone listens. */
  #watchSubscriptions(): void {
    const update = (): void => {
      const expired = this.listenerCount('expired') > 0;
      const records = this.listenerCount('records') > 0;
      void this.#pool.broadcastSticky('subscribe', { op: OP.subscribe, expired, records }).catch(() => {});
    };
    // 'newListener' fires before the listener is added, 'removeListener' after removal.
    this.on('newListener', (event: string) => {
      if (event === 'expired' || event === 'records') queueMicrotask(update);
    });
    this.on('removeListener', (event: string) => {
      if (event === 'expired' || event === 'records') queueMicrotask(update);
    });
  }

  #report(report: RevokeReport, results: RevokeResult[]): RevokeReport {
    // concat, not push(...): a revoke by filter can end a million sessions, more than a call's arguments may hold.
    report.ended = report.ended.concat(...results.map((result) => result.ended));
    report.failures = report.failures.concat(...results.map((result) => result.failures));
    report.revoked = report.ended.length;
    report.failed = report.failures.length;
    return report;
  }

  async #listPage(realmId: string, op: typeof OP.realmList | typeof OP.offlineRealmList, input: ListInput): Promise<SessionView[]> {
    this.#requireRealm(realmId);
    const filter = input.filter ?? {};
    this.#checkFilter(filter);
    const order = input.order ?? { by: 'started', desc: false };
    if (!isSessionOrder(order)) throw new EngineError('ERR_INVALID_ARGUMENT', 'order must be {by: started | lastAccess, desc: boolean}');
    const { first, max } = pageOf(input, 10);
    if (max === 0 || (op === OP.offlineRealmList && this.#env === null)) return [];
    const search = (input.search ?? '').trim();
    const lists = await this.#askFiltered(realmId, filter, { op, realm: realmId, search, searchClients: input.searchClients ?? [], filter, order, limit: first + max });
    return mergeOrderedBy(lists, sessionComparator(order), first + max).slice(first);
  }

  /** Runs a filtered command on the owner of the filter's user alone, or on every owner. */
  #askFiltered<C extends Command>(realmId: string, filter: SessionFilter, command: C): Promise<ResultFor<C>[]> {
    if (filter.userId === undefined) return this.#router.scatter(command);
    return Promise.all([this.#router.ask(partitionOfUser(realmId, filter.userId), command)]);
  }

  #checkFilter(filter: SessionFilter): void {
    if (filter === null || typeof filter !== 'object') throw new EngineError('ERR_INVALID_ARGUMENT', 'filter must be an object');
    // The shard ignores fields of the wrong type, which would widen the filter: refuse them here.
    if (filter.userId !== undefined) this.#requireString(filter.userId, 'filter.userId');
    if (filter.client !== undefined) this.#requireString(filter.client, 'filter.client');
    if (filter.lastAccessBefore !== undefined) this.#requireTime(filter.lastAccessBefore, 'filter.lastAccessBefore');
    if (filter.lastAccessFrom !== undefined) this.#requireTime(filter.lastAccessFrom, 'filter.lastAccessFrom');
    for (const key of ['ipIn', 'ipNotIn'] as const) {
      const list = filter[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) throw new EngineError('ERR_INVALID_ARGUMENT', `${key} must be an array of CIDR blocks`);
      for (const cidr of list) if (parseCidr(cidr) === null) throw new EngineError('ERR_INVALID_ARGUMENT', `${key}: invalid CIDR block ${JSON.stringify(cidr)}`);
    }
  }

  #requireEnv(): void {
    if (this.#env === null) throw new EngineError('ERR_OFFLINE_DISABLED');
  }

  /** The partition a session id encodes; a malformed id is an unknown session. */
  #partitionOfSession(sessionId: string): number {
    const partition = partitionOfSession(sessionId);
    if (partition < 0) throw new EngineError('ERR_SESSION_NOT_FOUND');
    return partition;
  }

  #requireRealm(realmId: string): RealmSessionSettings {
    const realm = typeof realmId === 'string' ? this.#realms.get(realmId) : undefined;
    if (realm === undefined) throw new EngineError('ERR_REALM_UNKNOWN', `realm ${String(realmId)} not found`);
    return realm;
  }

  #requireString(value: unknown, name: string): void {
    if (typeof value !== 'string' || value.length === 0) throw new EngineError('ERR_INVALID_ARGUMENT', `${name} must be a non-empty string`);
  }

  #requireTime(value: unknown, name: string): void {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new EngineError('ERR_INVALID_ARGUMENT', `${name} must be epoch seconds`);
    }
  }
}
