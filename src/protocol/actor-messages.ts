// The host <-> shard contract: every command, its reply, and the messages
// that frame them. Both sides import this module; it imports neither side.
//
// Framing: the host packs up to BATCH_COMMANDS_MAX commands into one
// BatchMessage (msgpackr, transferred), the shard answers with one
// ReplyMessage whose `results[i]` answers `commands[i]`; a command that failed
// has its index in `errors` and a null result. Times are int epoch seconds
// taken from the host's clock (`now`), so a shard never reads the wall clock
// to decide an outcome and a replica applying the same records agrees.

import type { ClientSessionSettings } from '../session/client-settings.js';
import type { RealmSessionSettings } from '../session/realm-settings.js';
import type { SessionLimitPolicy } from '../session/session-limits.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import type { BruteForceSettings, LoginFailureRecord } from '../session/brute-force.js';
import type { OP } from './actor-ops.js';
import type { RecordEnvelope, ReplicatedRecord } from './mutations.js';
import type { WireError } from './wire-error.js';

// ---------------------------------------------------------------------------
// Views returned to the host

export interface ClientSessionView {
  /** Client UUID (Keycloak keys client sessions by the internal id). */
  client: string;
  started: number;
  timestamp: number;
  scope: string;
  /** Created through the SSO cookie (note SSO_AUTH). */
  ssoAuth: boolean;
  notes: Record<string, string> | null;
}

/** A user session's own fields, as views, mutation records and offline records all carry them. */
export interface SessionFields {
  id: string;
  realm: string;
  userId: string;
  username: string;
  ip: string;
  authMethod: string;
  rememberMe: boolean;
  started: number;
  lastSessionRefresh: number;
  authTime: number;
  notes: Record<string, string> | null;
}

export interface SessionView extends SessionFields {
  clients: ClientSessionView[];
}

/** Why a session ended. Stable strings: events, metrics and audit records carry them. */
export const END_REASON = Object.freeze({
  idle: 'idle',
  max: 'max',
  rememberMeDisabled: 'remember_me_disabled',
  logout: 'logout',
  adminDelete: 'admin_delete',
  userLogout: 'user_logout',
  logoutAll: 'logout_all',
  revoked: 'revoked',
  sessionLimit: 'session_limit',
  invalidOnRefresh: 'invalid_on_refresh',
  lastClientDetached: 'last_client_detached',
  realmRemoved: 'realm_removed',
  clientRemoved: 'client_removed',
  userDeleted: 'user_deleted',
  consentRevoked: 'consent_revoked',
} as const);
export type EndReason = (typeof END_REASON)[keyof typeof END_REASON];

/** A session that ended, as reported to the host (for back-channel logout, events, audit). */
export interface EndedSession {
  session: SessionView;
  reason: EndReason;
}

// ---------------------------------------------------------------------------
// Commands

export interface NewClientSession {
  client: string;
  scope: string;
  ssoAuth?: boolean;
  notes?: Record<string, string>;
}

export interface RealmPutCommand { op: typeof OP.realmPut; realm: string; settings: RealmSessionSettings }
export interface RealmRemoveCommand { op: typeof OP.realmRemove; realm: string }
export interface ClientPutCommand { op: typeof OP.clientPut; realm: string; client: string; settings: ClientSessionSettings }
export interface ClientRemoveCommand { op: typeof OP.clientRemove; realm: string; client: string }

export interface SessionCreateCommand {
  op: typeof OP.sessionCreate;
  /** Chosen by the host so that it encodes the partition. */
  id: string;
  realm: string;
  userId: string;
  username: string;
  ip: string;
  authMethod: string;
  rememberMe: boolean;
  now: number;
  client: NewClientSession | null;
  limits: SessionLimitPolicy | null;
  notes: Record<string, string> | null;
}
export interface SessionCreateResult {
  session: SessionView;
  /** Sessions ended to make room (session limit "terminate oldest"). */
  ended: EndedSession[];
}

export interface SessionAttachClientCommand {
  op: typeof OP.sessionAttachClient;
  id: string;
  realm: string;
  now: number;
  client: NewClientSession;
  /** Also move the user session's idle clock (login, code-to-token, SSO cookie). */
  touchUser: boolean;
  /** An interactive re-authentication (prompt=login, max_age): the session's AUTH_TIME becomes this second. */
  authTime?: number;
}

export interface PresentedToken {
  jti: string;
  iat: number;
  /** `reuse_id` claim; "" when absent. */
  reuseId: string;
}

/** What a refresh (online or offline) tells the shard besides the op. */
export interface RefreshFields {
  id: string;
  realm: string;
  client: string;
  now: number;
  token: PresentedToken;
  /** The session's user as the host's store knows it; null when the user no longer exists. */
  user: { enabled: boolean; notBefore: number } | null;
  /** Realm and client not-before (the client check uses Keycloak's min rule). */
  notBefore: { realm: number; client: number };
  /** When this node (cluster) started: the reuse rule exempts tokens issued before a restart. */
  serverStartedAt: number;
}

export interface SessionRefreshCommand extends RefreshFields {
  op: typeof OP.sessionRefresh;
}
export type SessionRefreshResult =
  | { ok: true; session: SessionView }
  | {
      ok: false;
      /** Keycloak's exact error_description. */
      error: string;
      /** The client session was detached (reuse detection). */
      detached: boolean;
      /** The session was invalid and has been removed (Keycloak back-channel-logs it out). */
      ended: EndedSession | null;
    };

export interface SessionTouchCommand { op: typeof OP.sessionTouch; id: string; now: number }
export interface SessionGetCommand { op: typeof OP.sessionGet; id: string; now: number }
export interface SessionGetResult {
  session: SessionView;
  /** null when valid (docs/keycloak-semantics.md#validity-checks), else the failing rule. */
  invalid: string | null;
  /** Per client UUID: null when valid, else `idle` or `max`. */
  clientsInvalid: Record<string, string | null>;
}

export interface SessionRemoveCommand { op: typeof OP.sessionRemove; id: string; reason: EndReason }
export interface SessionDetachClientCommand {
  op: typeof OP.sessionDetachClient;
  id: string;
  client: string;
  /** Remove the user session when its last client session goes (revocation endpoint). */
  removeIfEmpty: boolean;
}
export interface SessionDetachClientResult { detached: boolean; ended: EndedSession | null }

export interface UserLogoutCommand { op: typeof OP.userLogout; realm: string; userId: string; reason: EndReason }
export interface UserSessionsCommand { op: typeof OP.userSessions; realm: string; userId: string }
export interface RealmLogoutAllCommand { op: typeof OP.realmLogoutAll; realm: string; reason: EndReason }

export interface ClientSessionsCommand {
  op: typeof OP.clientSessions;
  realm: string;
  client: string;
  /** first + max: the shard returns its first `limit` in (client-session started, id) order. */
  limit: number;
}
export interface ClientSessionCountCommand { op: typeof OP.clientSessionCount; realm: string; client: string }
export interface RealmClientStatsCommand { op: typeof OP.realmClientStats; realm: string }

export interface RealmSearchCommand {
  op: typeof OP.realmSearch;
  realm: string;
  /** Trimmed substring matched against username, IP address and client ids; "" matches all. */
  search: string;
  /** Client UUIDs whose clientId matches `search` (the host knows clientIds, shards know UUIDs). */
  searchClients: string[];
  /** Only sessions holding this client (UUID), or null. */
  client: string | null;
  limit: number;
}

export interface SessionFilter {
  userId?: string;
  /** Client UUID the session must hold. */
  client?: string;
  /** CIDR blocks or addresses: the session's IP must be in one of them. */
  ipIn?: string[];
  /** CIDR blocks or addresses: the session's IP must be in none of them. */
  ipNotIn?: string[];
  /** Epoch s: lastSessionRefresh strictly before it. */
  lastAccessBefore?: number;
  /** Epoch s: lastSessionRefresh at or after it. */
  lastAccessFrom?: number;
}

/**
 * The order of a sorted listing: by start or by last access (the user
 * session's lastSessionRefresh), ties by session id (compareSessionIds);
 * `desc` reverses the whole order, ties included.
 */
export interface SessionOrder {
  by: 'started' | 'lastAccess';
  desc: boolean;
}

/**
 * The first `limit` sessions of a realm in `order` that match both the
 * search (as RealmSearchCommand's) and the filter; the shard answers them in
 * that order, and the host merges the shards' answers by the same order.
 */
export interface RealmListCommand {
  op: typeof OP.realmList;
  realm: string;
  search: string;
  searchClients: string[];
  filter: SessionFilter;
  order: SessionOrder;
  limit: number;
}

export interface RevokeIdsCommand { op: typeof OP.revokeIds; realm: string; ids: string[]; reason: EndReason }
export interface RevokeFilterCommand { op: typeof OP.revokeFilter; realm: string; filter: SessionFilter; reason: EndReason }
export interface RevokeResult {
  ended: EndedSession[];
  failures: { id: string; reason: string }[];
}
export interface CountFilterCommand { op: typeof OP.countFilter; realm: string; filter: SessionFilter }

// Offline sessions (docs/keycloak-semantics.md#offline-sessions): same id as the online session they came from.
export interface OfflineGrantCommand {
  op: typeof OP.offlineGrant;
  /** The online session whose offline copy is created (or whose copy's idle clock moves). */
  id: string;
  client: string;
  scope: string;
  now: number;
}
export interface OfflineGetCommand { op: typeof OP.offlineGet; id: string; now: number }
export interface OfflineRefreshCommand extends RefreshFields {
  op: typeof OP.offlineRefresh;
  /** The client still has the offline_access scope and the user the role (checked by the caller). */
  offlineAccess: boolean;
}
export interface OfflineRemoveCommand { op: typeof OP.offlineRemove; id: string; reason: EndReason }
export interface OfflineRemoveClientCommand { op: typeof OP.offlineRemoveClient; id: string; client: string; reason: EndReason }
export interface OfflineUserSessionsCommand { op: typeof OP.offlineUserSessions; realm: string; userId: string }
export interface OfflineRemoveUserCommand { op: typeof OP.offlineRemoveUser; realm: string; userId: string; reason: EndReason }
export interface OfflineRemoveClientAllCommand { op: typeof OP.offlineRemoveClientAll; client: string; reason: EndReason }
export interface OfflineRemoveRealmCommand { op: typeof OP.offlineRemoveRealm; realm: string; reason: EndReason }

// Offline queries: each shard answers for its own partitions; the engine merges.
export interface OfflineClientCountCommand { op: typeof OP.offlineClientCount; client: string }
/** The first `limit` offline sessions of a client, in session-id order. */
export interface OfflineClientSessionsCommand { op: typeof OP.offlineClientSessions; client: string; limit: number }
/** The first `limit` offline sessions of a realm matching, in (user id, session id) order. */
export interface OfflineRealmSearchCommand {
  op: typeof OP.offlineRealmSearch;
  realm: string;
  /** As RealmSearchCommand: substring of username or IP address; "" matches all. */
  search: string;
  searchClients: string[];
  client: string | null;
  limit: number;
}
/** RealmListCommand over the offline sessions of the shard's partitions. */
export interface OfflineRealmListCommand extends Omit<RealmListCommand, 'op'> { op: typeof OP.offlineRealmList }
export interface OfflineRevokeFilterCommand { op: typeof OP.offlineRevokeFilter; realm: string; filter: SessionFilter; reason: EndReason }
export interface OfflineCountFilterCommand { op: typeof OP.offlineCountFilter; realm: string; filter: SessionFilter }

/**
 * What this shard is for some partitions: 'primary' (serves, expires, counts,
 * lists, journals), 'passive' (a copy kept current by replicated records:
 * no expiry, not counted, not listed, no events; promoted without loss) or
 * 'none' (forgotten). With a `budget`, the shard stops after the partition
 * that made it move that many sessions (at least one partition), so a large
 * promotion runs over several turns with other commands between them; the
 * sender sends the rest again. Each partition moves whole, in one turn.
 */
export interface PartitionRolesCommand {
  op: typeof OP.partitionRoles;
  partitions: number[];
  role: 'primary' | 'passive' | 'none';
  /** Sessions moved per turn, at most (whole partitions: the one that reaches it ends the turn). */
  budget?: number;
  /**
   * Promotion grace, in seconds (SessionTable.holdIdleClocks): for this long
   * after the promotion, a promoted session whose idle deadline passed less
   * than this long ago is not ended (the touches its primary had not
   * replicated yet are at most that old).
   */
  holdIdleSeconds?: number;
}
/** Sessions moved between roles (or forgotten), and how many of the command's partitions were done. */
export interface PartitionRolesResult { moved: number; done: number }

/**
 * Every session of a partition this shard holds as primary, as the records
 * that recreate it (a state transfer to a new owner), with the partition's
 * seq at that moment: records with a higher seq happened after the export.
 */
export interface PartitionExportCommand { op: typeof OP.partitionExport; partition: number }
/**
 * The digests of partitions this shard holds (partition-digest.ts), as the
 * copy checks compare them; null for a partition it does not hold.
 */
export interface PartitionDigestCommand { op: typeof OP.partitionDigest; partitions: number[] }
export interface PartitionExport {
  /** The records, packed in chunks (transfer-chunks.ts): what the peer's shard replays with chunkReplay. */
  chunks: Uint8Array[];
  records: number;
  sessions: number;
  seq: number;
  /** The partition's pending auth codes, as the puts that recreate them (they live beside the table, not in its records). */
  codes: CodePutCommand[];
  /** The partition's login-failure records, as the puts that recreate them (beside the table too). */
  loginFailures: LoginFailurePutCommand[];
}

/** Write every online session of the shard to LMDB as a snapshot, emptying the journal (graceful shutdown). */
export interface SnapshotSaveCommand { op: typeof OP.snapshotSave }
/** Read back the online sessions of the shard's partitions: snapshot, then journal (start-up); expired ones are dropped. */
export interface SnapshotLoadCommand { op: typeof OP.snapshotLoad; now: number }
export interface SnapshotLoadResult {
  loaded: number;
  /** Sessions that expired while the node was down, with why. */
  dropped: { session: SessionView; reason: string }[];
}

/**
 * Authorization codes live with their session's shard: single use is then a
 * local, atomic take, and any node can route a code by the session id in it.
 */
export interface AuthCodeData {
  /** Client UUID the code was issued to. */
  client: string;
  redirectUri: string;
  scope: string;
  nonce: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  /** Expiry, epoch s (accessCodeLifespan after issue). */
  exp: number;
  ssoAuth: boolean;
}
/** The refresh-token chain `reuseId` of a client session (read-only checks of introspection). */
export interface ChainGetCommand { op: typeof OP.chainGet; id: string; client: string; reuseId: string; offline: boolean }
export interface CodePutCommand { op: typeof OP.codePut; id: string; code: string; data: AuthCodeData }
export interface CodeTakeCommand { op: typeof OP.codeTake; id: string; code: string; now: number }

/** Flush what is pending (offline idle clocks) before the worker is stopped. */
export interface ShutdownCommand { op: typeof OP.shutdown }

export interface TimeAdvanceCommand { op: typeof OP.timeAdvance; now: number }
export interface StatsGetCommand { op: typeof OP.statsGet }
export interface ShardStats {
  shard: number;
  /** realm id -> [online sessions, online client sessions] */
  realms: Record<string, [number, number]>;
  /** Cumulative expirations (online and offline): realm id -> [idle, max, remember-me disabled]. */
  expirations: Record<string, [number, number, number]>;
  /** realm id -> offline user sessions in this shard's partitions (maintained counters). */
  offlineRealms: Record<string, number>;
  /** Offline records in this shard's LRU, and ones whose idle clock awaits a flush. */
  offlineCached: number;
  offlineDirty: number;
  /** Commands waiting in the shard's own mailbox. */
  mailboxCommands: number;
  wheelEntries: number;
  heapUsedBytes: number;
}
export interface SubscribeCommand {
  op: typeof OP.subscribe;
  /** Ship an ExpiredMessage per turn with the sessions that expired. */
  expired: boolean;
  /** Ship every record, stamped (partition, seq, view revision), with the replies (replication, tests). */
  records: boolean;
}
export interface MutationsReplayCommand { op: typeof OP.mutationsReplay; mutations: ReplicatedRecord[] }
/** A state-transfer chunk of one partition (its export's, still packed): replayed like mutationsReplay; a record of another partition refuses the chunk. */
export interface ChunkReplayCommand { op: typeof OP.chunkReplay; partition: number; chunk: Uint8Array }
/** A state transfer starts filling this shard's copy of a partition again: what the copy holds and the transfer does not bring is stale (copy-refills.ts). */
export interface CopyRefillCommand { op: typeof OP.copyRefill; partition: number }
/** The state transfer filling this shard's copy of a partition is done (every chunk replayed): stale sessions go, and the copy is journaled from here on. */
export interface CopyFilledCommand { op: typeof OP.copyFilled; partition: number }

// Login failures (brute-force detection, src/actor/login-failures.ts): routed to the user's partition.
export interface LoginFailureGetCommand { op: typeof OP.loginFailureGet; realm: string; userId: string; nowMs: number }
/** One failed login: the shard applies Keycloak's rules with the realm's settings and answers the outcome. */
export interface LoginFailureRecordCommand { op: typeof OP.loginFailureRecord; realm: string; userId: string; nowMs: number; ip: string; settings: BruteForceSettings }
export interface LoginFailureRecordResult { record: LoginFailureRecord; temporaryLockout: boolean; permanentLockout: boolean }
/** Sets a user's record whole (idempotent): how a recorded failure, and a state transfer, reach a partition's other copies. */
export interface LoginFailurePutCommand { op: typeof OP.loginFailurePut; realm: string; userId: string; record: LoginFailureRecord; expiresAtMs: number | null }
export interface LoginFailureRemoveCommand { op: typeof OP.loginFailureRemove; realm: string; userId: string }
export interface LoginFailureRemoveRealmCommand { op: typeof OP.loginFailureRemoveRealm; realm: string }
export type LoginFailureCommand = LoginFailureGetCommand | LoginFailureRecordCommand | LoginFailurePutCommand | LoginFailureRemoveCommand | LoginFailureRemoveRealmCommand;

export type Command =
  | RealmPutCommand | RealmRemoveCommand | ClientPutCommand | ClientRemoveCommand
  | SessionCreateCommand | SessionAttachClientCommand | SessionRefreshCommand | SessionTouchCommand
  | SessionGetCommand | SessionRemoveCommand | SessionDetachClientCommand
  | UserLogoutCommand | UserSessionsCommand | RealmLogoutAllCommand
  | ClientSessionsCommand | ClientSessionCountCommand | RealmClientStatsCommand | RealmSearchCommand | RealmListCommand
  | RevokeIdsCommand | RevokeFilterCommand | CountFilterCommand
  | TimeAdvanceCommand | StatsGetCommand | SubscribeCommand | MutationsReplayCommand | ChunkReplayCommand | CopyRefillCommand | CopyFilledCommand
  | OfflineGrantCommand | OfflineGetCommand | OfflineRefreshCommand | OfflineRemoveCommand | OfflineRemoveClientCommand
  | OfflineUserSessionsCommand | OfflineRemoveUserCommand | OfflineRemoveClientAllCommand | OfflineRemoveRealmCommand
  | PartitionRolesCommand
  | PartitionExportCommand
  | PartitionDigestCommand
  | OfflineClientCountCommand | OfflineClientSessionsCommand | OfflineRealmSearchCommand | OfflineRealmListCommand | OfflineRevokeFilterCommand | OfflineCountFilterCommand
  | SnapshotSaveCommand | SnapshotLoadCommand | ShutdownCommand | CodePutCommand | CodeTakeCommand | ChainGetCommand
  | LoginFailureCommand;

/** What each command answers with. */
export interface ResultOf {
  [OP.realmPut]: null;
  [OP.realmRemove]: number;
  [OP.clientPut]: null;
  [OP.clientRemove]: number;
  [OP.sessionCreate]: SessionCreateResult;
  [OP.sessionAttachClient]: SessionView;
  [OP.sessionRefresh]: SessionRefreshResult;
  [OP.sessionTouch]: boolean;
  [OP.sessionGet]: SessionGetResult | null;
  [OP.sessionRemove]: EndedSession | null;
  [OP.sessionDetachClient]: SessionDetachClientResult;
  [OP.userLogout]: EndedSession[];
  [OP.userSessions]: SessionView[];
  [OP.realmLogoutAll]: number;
  [OP.clientSessions]: SessionView[];
  [OP.clientSessionCount]: number;
  [OP.realmClientStats]: [string, number][];
  [OP.realmSearch]: SessionView[];
  [OP.realmList]: SessionView[];
  [OP.revokeIds]: RevokeResult;
  [OP.revokeFilter]: RevokeResult;
  [OP.countFilter]: number;
  [OP.timeAdvance]: number;
  [OP.statsGet]: ShardStats;
  [OP.subscribe]: null;
  [OP.mutationsReplay]: number;
  [OP.chunkReplay]: number;
  [OP.copyRefill]: null;
  [OP.copyFilled]: number;
  [OP.offlineGrant]: SessionView;
  [OP.offlineGet]: SessionGetResult | null;
  [OP.offlineRefresh]: SessionRefreshResult;
  [OP.offlineRemove]: EndedSession | null;
  [OP.offlineRemoveClient]: { removed: boolean; ended: EndedSession | null };
  [OP.offlineUserSessions]: SessionView[];
  [OP.offlineRemoveUser]: EndedSession[];
  [OP.offlineRemoveClientAll]: number;
  [OP.offlineRemoveRealm]: number;
  [OP.partitionRoles]: PartitionRolesResult;
  [OP.partitionExport]: PartitionExport;
  [OP.partitionDigest]: (string | null)[];
  [OP.offlineClientCount]: number;
  [OP.offlineClientSessions]: SessionView[];
  [OP.offlineRealmSearch]: SessionView[];
  [OP.offlineRealmList]: SessionView[];
  [OP.offlineRevokeFilter]: EndedSession[];
  [OP.offlineCountFilter]: number;
  [OP.snapshotSave]: number;
  [OP.snapshotLoad]: SnapshotLoadResult;
  [OP.shutdown]: null;
  [OP.codePut]: boolean;
  [OP.codeTake]: AuthCodeData | null;
  [OP.chainGet]: RefreshChain | null;
  [OP.loginFailureGet]: LoginFailureRecord | null;
  [OP.loginFailureRecord]: LoginFailureRecordResult;
  [OP.loginFailurePut]: true;
  [OP.loginFailureRemove]: boolean;
  [OP.loginFailureRemoveRealm]: number;
}

// ---------------------------------------------------------------------------
// Frames

/** Main thread -> shard, once, as workerData. */
export interface BootMessage {
  protocolVersion: number;
  shard: number;
  shardCount: number;
  idleGraceSeconds: number;
  /** 'system': the shard arms its own timer for expiry; 'manual': only time.advance moves it. */
  clockMode: 'system' | 'manual';
  startSecond: number;
  mailboxCommandsMax: number;
  /** LMDB data directory for offline sessions and snapshots; null runs without persistence. */
  dataDir: string | null;
  /** Offline sessions this shard keeps in memory (the node's --offline-cache-entries / shards). */
  offlineCacheEntries: number;
  /**
   * 'journal': lifecycle records are journaled in LMDB and replies wait for
   * the commit (a kill -9 loses no answered change); 'snapshot': online
   * sessions are written at graceful shutdown only. Needs a dataDir.
   */
  durability: 'journal' | 'snapshot';
}

export interface BatchMessage {
  kind: 'batch';
  id: number;
  commands: Command[];
  /** Configuration replayed to a restarted worker: admitted past the mailbox's command bound. */
  replay?: boolean;
}

export interface ReplyMessage {
  kind: 'reply';
  id: number;
  results: unknown[];
  /** Indexes (into results) of commands that failed, with their errors. */
  errors: [number, WireError][] | null;
  /** The records the batch's commands produced, when subscribed (they leave with the reply they belong to). */
  records?: RecordEnvelope[];
}

export interface ExpiredNotice {
  session: SessionView;
  reason: 'idle' | 'max' | 'remember_me_disabled';
  at: number;
  offline: boolean;
}

/** Shard -> host, unsolicited, after a turn in which sessions expired (when subscribed). */
export interface ExpiredMessage {
  kind: 'expired';
  notices: ExpiredNotice[];
}

/** Shard -> host, unsolicited, after a turn whose background work (expiry) produced records (when subscribed). */
export interface RecordsMessage {
  kind: 'records';
  records: RecordEnvelope[];
}

export interface ReadyMessage {
  kind: 'ready';
  shard: number;
}

/**
 * Shard -> host: the replies (and records ahead of them) that one journal
 * commit released, in order, in one frame instead of one frame each.
 */
export interface BundleMessage {
  kind: 'bundle';
  messages: (ReplyMessage | RecordsMessage)[];
}

export type ShardMessage = ReplyMessage | ExpiredMessage | RecordsMessage | ReadyMessage | BundleMessage;
