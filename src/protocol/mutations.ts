// Mutation records: every change of a shard's session state, as data. A shard
// changes its table only by applying these records (SessionTable.apply), and
// a replica that applies the same records in the same order holds the same
// state: they carry every value explicitly (times included) and never depend
// on the applier's clock, slots or interned ids.
//
// Kind numbers travel between nodes: never renumber, never reuse.

import { EngineError } from '../errors.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import { END_REASON, type ClientSessionView, type EndReason, type SessionFields, type SessionView } from './actor-messages.js';
import { isPartition, partitionOfSessionId } from './partition.js';

export const MUTATION = Object.freeze({
  sessionCreated: 1,
  clientAttached: 2,
  sessionTouched: 3,
  clientRefreshed: 4,
  clientDetached: 5,
  sessionRemoved: 6,
  realmCleared: 7,
  // Offline sessions (replication only: they live in LMDB, never in a session table).
  offlineWritten: 8,
  offlineRemoved: 9,
  sessionAuthenticated: 10,
} as const);

export interface SessionCreatedMutation extends SessionFields {
  k: typeof MUTATION.sessionCreated;
  partition: number;
}

/** A client session joins a user session, or an existing one restarts (docs/keycloak-semantics.md#client-sessions restartClientSession). */
export interface ClientAttachedMutation {
  k: typeof MUTATION.clientAttached;
  id: string;
  client: string;
  started: number;
  timestamp: number;
  scope: string;
  ssoAuth: boolean;
  notes: Record<string, string> | null;
  /** New user-session idle clock, or -1 to leave it. */
  userRefresh: number;
}

export interface SessionTouchedMutation {
  k: typeof MUTATION.sessionTouched;
  id: string;
  lastSessionRefresh: number;
}

/** A refresh_token grant: both idle clocks move, and the reuse chain (if rotation is on) is stored. */
export interface ClientRefreshedMutation {
  k: typeof MUTATION.clientRefreshed;
  id: string;
  client: string;
  at: number;
  /** reuse_id of the chain, or null when rotation is off. */
  chainKey: string | null;
  chain: RefreshChain | null;
}

export interface ClientDetachedMutation {
  k: typeof MUTATION.clientDetached;
  id: string;
  client: string;
}

export interface SessionRemovedMutation {
  k: typeof MUTATION.sessionRemoved;
  id: string;
  reason: EndReason;
}

/** Every online session of a realm in one partition ends (logout-all and realm removal send one per partition). */
export interface RealmClearedMutation {
  k: typeof MUTATION.realmCleared;
  realm: string;
  partition: number;
  reason: EndReason;
}

/** An interactive re-authentication of a live session (prompt=login, max_age): its AUTH_TIME moves. */
export interface SessionAuthenticatedMutation {
  k: typeof MUTATION.sessionAuthenticated;
  id: string;
  authTime: number;
}

export type Mutation =
  | SessionCreatedMutation
  | ClientAttachedMutation
  | SessionTouchedMutation
  | ClientRefreshedMutation
  | ClientDetachedMutation
  | SessionRemovedMutation
  | RealmClearedMutation
  | SessionAuthenticatedMutation;

/**
 * An offline session as it now is, whole (its LMDB record): a backup writes it
 * over whatever it had. `touch` marks an idle-clock move (coalesced, like
 * sessionTouched); a grant, a client removal or a refresh-token rotation is
 * a lifecycle change.
 */
export interface OfflineWrittenMutation {
  k: typeof MUTATION.offlineWritten;
  id: string;
  record: { id: string; partition: number } & Record<string, unknown>;
  touch: boolean;
}

export interface OfflineRemovedMutation {
  k: typeof MUTATION.offlineRemoved;
  id: string;
}

/** Everything that travels to a partition's other copies: session-table records and offline-session writes. */
export type ReplicatedRecord = Mutation | OfflineWrittenMutation | OfflineRemovedMutation;

/** Is it an offline-session record (applied to LMDB, not to a session table)? */
export function isOfflineRecord(m: ReplicatedRecord): m is OfflineWrittenMutation | OfflineRemovedMutation {
  return m.k === MUTATION.offlineWritten || m.k === MUTATION.offlineRemoved;
}

/**
 * The records that rebuild a session from its view and refresh-token chains
 * (a snapshot entry, or a session moving between a shard's tables): created,
 * then each client attached, then each chain.
 */
export function sessionRecords(s: SessionView, chains: Record<string, Record<string, RefreshChain>> | null): Mutation[] {
  const out: Mutation[] = [
    {
      k: MUTATION.sessionCreated, id: s.id, partition: partitionOfSessionId(s.id), realm: s.realm, userId: s.userId, username: s.username,
      ip: s.ip, authMethod: s.authMethod, rememberMe: s.rememberMe, started: s.started, lastSessionRefresh: s.lastSessionRefresh,
      authTime: s.authTime, notes: s.notes,
    },
  ];
  for (const c of s.clients) {
    out.push({ k: MUTATION.clientAttached, id: s.id, client: c.client, started: c.started, timestamp: c.timestamp, scope: c.scope, ssoAuth: c.ssoAuth, notes: c.notes, userRefresh: -1 });
    for (const [key, chain] of Object.entries(chains?.[c.client] ?? {})) {
      out.push({ k: MUTATION.clientRefreshed, id: s.id, client: c.client, at: c.timestamp, chainKey: key, chain });
    }
  }
  return out;
}

/**
 * The view of a session just created from its records (the inverse of
 * sessionRecords for a new session): what the table holds after applying
 * them. Keys in the order SessionTable.view writes them, so both share one
 * msgpackr structure.
 */
export function sessionViewOf(m: SessionCreatedMutation, clients: ClientSessionView[]): SessionView {
  return {
    id: m.id, realm: m.realm, userId: m.userId, username: m.username, ip: m.ip, authMethod: m.authMethod, rememberMe: m.rememberMe,
    started: m.started, lastSessionRefresh: m.lastSessionRefresh, authTime: m.authTime, clients, notes: m.notes,
  };
}

/** The view of a client session just attached, from its record (keys in SessionTable's order). */
export function clientViewOf(m: ClientAttachedMutation): ClientSessionView {
  return { client: m.client, started: m.started, timestamp: m.timestamp, scope: m.scope, ssoAuth: m.ssoAuth, notes: m.notes };
}

/**
 * A record as it leaves a shard: the partition it changes, its place in that
 * partition's sequence (monotonic, never reused, kept across restarts by the
 * journal and the snapshot), and the cluster view it was decided in (0 on a
 * single node). Touch records (sessionTouched, clientRefreshed without a
 * chain) carry no sequence: they are coalesced and apply in any order.
 */
export interface RecordEnvelope {
  partition: number;
  seq: number;
  viewRevision: number;
  m: ReplicatedRecord;
  /**
   * Touch records only: how far (seconds) the record moved the idle clock it
   * moves furthest. A touch that moved a clock by more than the touch
   * interval is shipped at once instead of coalesced, so a touch lost with
   * its primary costs the promoted copy at most the interval.
   */
  jump?: number;
}

/** Is the record an idle-clock move (coalesced, unordered) rather than a lifecycle change? */
export function isTouchRecord(m: ReplicatedRecord): boolean {
  return m.k === MUTATION.sessionTouched || (m.k === MUTATION.clientRefreshed && m.chain === null) || (m.k === MUTATION.offlineWritten && m.touch);
}

/** The partition a record changes. */
export function partitionOfRecord(m: ReplicatedRecord): number {
  if (m.k === MUTATION.sessionCreated || m.k === MUTATION.realmCleared) return m.partition;
  return partitionOfSessionId(m.id);
}

// ---------------------------------------------------------------------------
// Validation: records arrive from other threads, other nodes and the disk.

const END_REASONS: ReadonlySet<string> = new Set(Object.values(END_REASON));
const TIME_MAX = 0xffffffff;

const isText = (v: unknown): boolean => typeof v === 'string';
const isFlag = (v: unknown): boolean => typeof v === 'boolean';
const isId = (v: unknown): boolean => typeof v === 'string' && partitionOfSessionId(v) >= 0;
const isTime = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= TIME_MAX;
const isReason = (v: unknown): boolean => typeof v === 'string' && END_REASONS.has(v);
const isNotes = (v: unknown): boolean =>
  v === null || (typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string'));

function isChain(v: unknown): boolean {
  if (v === null) return true;
  if (typeof v !== 'object' || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return (c['tokenId'] === null || typeof c['tokenId'] === 'string') && isTime(c['useCount']) && isTime(c['lastRefresh']);
}

function isOfflineSessionRecord(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return typeof r['id'] === 'string' && r['partition'] === partitionOfSessionId(r['id']) && Array.isArray(r['clients']) && typeof r['realm'] === 'string';
}

/** A record's fields as decoded, before they are checked. */
type Unchecked = { readonly [field: string]: unknown };

/**
 * Per record kind, the name of its first missing or malformed field, or null.
 * Each field is read by name, so every read stays monomorphic: a table of
 * field names walked per record took 2-3x as long (0.3-0.6 µs a record, the
 * most of a transfer chunk's validation; measured 0.12-0.16 µs this way).
 */
const BAD_FIELD: Readonly<Record<number, (r: Unchecked) => string | null>> = {
  [MUTATION.sessionCreated]: (r) =>
    (!isId(r.id) && 'id') ||
    (!isPartition(r.partition) && 'partition') ||
    (!isText(r.realm) && 'realm') ||
    (!isText(r.userId) && 'userId') ||
    (!isText(r.username) && 'username') ||
    (!isText(r.ip) && 'ip') ||
    (!isText(r.authMethod) && 'authMethod') ||
    (!isFlag(r.rememberMe) && 'rememberMe') ||
    (!isTime(r.started) && 'started') ||
    (!isTime(r.lastSessionRefresh) && 'lastSessionRefresh') ||
    (!isTime(r.authTime) && 'authTime') ||
    (!isNotes(r.notes) && 'notes') ||
    null,
  [MUTATION.clientAttached]: (r) =>
    (!isId(r.id) && 'id') ||
    (!isText(r.client) && 'client') ||
    (!isTime(r.started) && 'started') ||
    (!isTime(r.timestamp) && 'timestamp') ||
    (!isText(r.scope) && 'scope') ||
    (!isFlag(r.ssoAuth) && 'ssoAuth') ||
    (!isNotes(r.notes) && 'notes') ||
    (!(r.userRefresh === -1 || isTime(r.userRefresh)) && 'userRefresh') ||
    null,
  [MUTATION.sessionTouched]: (r) => (!isId(r.id) && 'id') || (!isTime(r.lastSessionRefresh) && 'lastSessionRefresh') || null,
  [MUTATION.clientRefreshed]: (r) =>
    (!isId(r.id) && 'id') ||
    (!isText(r.client) && 'client') ||
    (!isTime(r.at) && 'at') ||
    (!(r.chainKey === null || isText(r.chainKey)) && 'chainKey') ||
    (!isChain(r.chain) && 'chain') ||
    null,
  [MUTATION.clientDetached]: (r) => (!isId(r.id) && 'id') || (!isText(r.client) && 'client') || null,
  [MUTATION.sessionRemoved]: (r) => (!isId(r.id) && 'id') || (!isReason(r.reason) && 'reason') || null,
  [MUTATION.realmCleared]: (r) => (!isText(r.realm) && 'realm') || (!isPartition(r.partition) && 'partition') || (!isReason(r.reason) && 'reason') || null,
  [MUTATION.offlineWritten]: (r) => (!isId(r.id) && 'id') || (!isOfflineSessionRecord(r.record) && 'record') || (!isFlag(r.touch) && 'touch') || null,
  [MUTATION.offlineRemoved]: (r) => (!isId(r.id) && 'id') || null,
  [MUTATION.sessionAuthenticated]: (r) => (!isId(r.id) && 'id') || (!isTime(r.authTime) && 'authTime') || null,
};

/**
 * Checks that `value` is a well-formed record and returns it typed; throws
 * ERR_BAD_RECORD naming the first bad field. Callers validate a whole batch
 * before applying any of it, so a malformed record is never half-applied.
 */
export function checkMutation(value: unknown): ReplicatedRecord {
  if (value === null || typeof value !== 'object') throw new EngineError('ERR_BAD_RECORD', 'a record must be an object');
  const record = value as Record<string, unknown>;
  const badField = typeof record['k'] === 'number' ? BAD_FIELD[record['k']] : undefined;
  if (badField === undefined) throw new EngineError('ERR_BAD_RECORD', `unknown record kind ${String(record['k'])}`);
  const bad = badField(record);
  if (bad !== null) throw new EngineError('ERR_BAD_RECORD', `record kind ${String(record['k'])}: field ${bad} is missing or malformed`);
  if (record['k'] === MUTATION.sessionCreated && partitionOfSessionId(record['id'] as string) !== record['partition']) {
    throw new EngineError('ERR_BAD_RECORD', 'sessionCreated: the id encodes another partition');
  }
  if (record['k'] === MUTATION.offlineWritten && (record['record'] as { id: string }).id !== record['id']) {
    throw new EngineError('ERR_BAD_RECORD', 'offlineWritten: the record is of another session');
  }
  return value as ReplicatedRecord;
}

/** Checks a whole batch (see checkMutation); nothing is applied when one record is bad. */
export function checkMutations(values: unknown): ReplicatedRecord[] {
  if (!Array.isArray(values)) throw new EngineError('ERR_BAD_RECORD', 'records must be an array');
  for (const value of values) checkMutation(value);
  return values as ReplicatedRecord[];
}
