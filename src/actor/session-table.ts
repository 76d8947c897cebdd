// SessionTable: one shard's online sessions, their indexes, counters and
// timer wheel. Owner: the shard actor's loop, alone (it runs inside one worker
// thread); nothing else reads or writes it.
//
// Layout. Sessions are the dominant memory cost, so they are stored as
// struct-of-arrays: a session is a slot number and its fields are typed-array
// columns indexed by the slot. A session id is not kept as a string: its 128
// random bits are four Uint32 words in a column (its partition in another),
// found through a typed-array hash table over those words (key-index.ts) and
// compared as numbers; the text is rebuilt only for a view. Users are slots
// too, keyed by (realm, the UUID's four words) the same way, so no string and
// no Map entry per user either (ids that are not canonical UUIDs stay text, in
// a per-realm Map); a username lives once in the shard's name index
// (name-index.ts, also what search scans). Client sessions get their own slots
// and columns. Indexes are intrusive doubly-linked lists threaded through
// Int32Array columns:
//
//   realm list      every session of a realm, in creation order   (ui-ext paging)
//   user list       every session of a user                       (logout, limits, listing)
//   session list    the client sessions of a session              (at most one per client)
//   client list     every client session of a client, in attach order (client paging)
//   partition list  every session of a partition                  (snapshots, compaction)
//
// so that insert and unlink are O(1), listings are O(items returned) and
// counts are maintained counters, never scans.
//
// Passive copies. A partition is served (its sessions answer commands) or
// passive (a cluster backup's copy, kept current by replicated records). A
// passive session is in the id index, the partition list and its session's
// client-session list, and holds a reference on its user, but is on no realm,
// user or client list, in no counter and not on the wheel: nothing but the
// records and a role change reads it (slotOf does not find it). Promoting a
// partition links its sessions in (O(sessions), no copy); demoting unlinks
// them. A passive session's life is decided by its primary's records alone:
// a local logout-all (a realm's generation) does not end it.
//
// Change. State changes only through apply(mutation): the actor decides and
// builds mutation records; this table applies them. A replica applying the
// same records holds the same state (slots may differ; ids and values do not).
//
// Expiry. Each session has one wheel entry, armed at the earliest instant at
// which the session or one of its client sessions stops being valid. Touches
// and refreshes only move deadlines later, so they never touch the wheel: when
// the entry fires, the deadlines are recomputed and the entry is re-armed if
// the session was used meanwhile (lazy re-arm). A client session whose own
// deadline passed is detached without ending its user session.

import type { ClientSessionView, EndReason, SessionView } from '../protocol/actor-messages.js';
import { END_REASON } from '../protocol/actor-messages.js';
import {
  MUTATION,
  type ClientAttachedMutation,
  type ClientDetachedMutation,
  type ClientRefreshedMutation,
  type Mutation,
  type RealmClearedMutation,
  type SessionCreatedMutation,
  type SessionRemovedMutation,
  type SessionAuthenticatedMutation,
  type SessionTouchedMutation,
  partitionOfRecord,
} from '../protocol/mutations.js';
import { CLIENT_SESSION_DEFAULTS, type ClientSessionSettings } from '../session/client-settings.js';
import { NEVER, clientSessionIdleExpiry, earliest, userSessionIdleExpiry } from '../session/expiry.js';
import { realmSessionSettings, type RealmSessionSettings } from '../session/realm-settings.js';
import type { RefreshChain } from '../session/refresh-reuse.js';
import {
  clientSessionDeadline,
  clientSessionInvalidReason,
  userSessionDeadline,
  userSessionInvalidReason,
  type InvalidReason,
} from '../session/validity.js';
import { TimerWheel } from '../time/timer-wheel.js';
import { INTERNED_STRINGS_MAX, PARTITION_COUNT } from '../constants.js';
import { formatIpv4, parseIpv4, type IpMatcher } from '../util/ip-address.js';
import { formatSessionId, sessionIdOrderKeys, sessionIdWords } from '../protocol/partition.js';
import { formatUuid, parseUuid, textIdWords } from '../util/uuid.js';
import { KeyIndex } from './key-index.js';
import { NameIndex } from './name-index.js';
import { startOrder, type StartOrderKeys } from './start-order.js';
import { growInt32, growUint16, growUint32, growUint8, grownCapacity } from '../util/capacity.js';
import { FreeList } from '../util/free-list.js';

const NONE = -1;
/**
 * A search uses the name index when at most limit × this many users match;
 * with more, matches are dense and walking the realm list stops sooner.
 */
const NAME_MATCHES_PER_PAGE = 16;
/** Wheel entries fired between two clock checks of a time-bounded expiry turn. */
const EXPIRY_STEP = 256;

/** Realm attributes that move session deadlines (docs/keycloak-semantics.md#expiry-formulas, #validity-checks). */
const DEADLINE_KEYS: readonly (keyof RealmSessionSettings)[] = [
  'ssoSessionIdleTimeout',
  'ssoSessionMaxLifespan',
  'ssoSessionIdleTimeoutRememberMe',
  'ssoSessionMaxLifespanRememberMe',
  'clientSessionIdleTimeout',
  'clientSessionMaxLifespan',
  'offlineSessionIdleTimeout',
  'offlineSessionMaxLifespanEnabled',
  'offlineSessionMaxLifespan',
  'clientOfflineSessionIdleTimeout',
  'clientOfflineSessionMaxLifespan',
  'rememberMe',
];
/** Client attributes that move client-session deadlines. */
const CLIENT_DEADLINE_KEYS: readonly (keyof ClientSessionSettings)[] = ['sessionIdleTimeout', 'sessionMaxLifespan', 'offlineSessionIdleTimeout', 'offlineSessionMaxLifespan'];
const INITIAL_CAPACITY = 1024;
/** Key widths (Uint32 words): a session id's 128 random bits; a user's realm and UUID. */
const SESSION_KEY_WORDS = 4;
const USER_KEY_WORDS = 5;

// Session flag bits.
const F_REMEMBER_ME = 1;
const F_IP_TEXT = 2; // the address is not IPv4: its text is in #sIpText
const F_PASSIVE = 4; // a passive copy (its partition is passive): on no list but the partition's
const F_NOTES = 8; // the session has notes: they are in #sNotes (most have none: no Map probe for them)
// Client-session flag bits.
const CF_SSO_AUTH = 1;
const CF_NOTES = 2; // the client session has notes: in #cNotes
const CF_CHAINS = 4; // the client session has refresh-token chains: in #cChains

/** Whether a search text may be (part of) an IP address, so that search() matches it against addresses too. */
function isIpSearch(search: string): boolean {
  return search !== '' && /^[0-9a-fA-F.:]+$/.test(search);
}

/** A session filter with its CIDR lists already compiled to matchers. */
export interface SlotFilter {
  userId?: string;
  client?: string;
  lastAccessBefore?: number;
  lastAccessFrom?: number;
  ipIn?: IpMatcher;
  ipNotIn?: IpMatcher;
}

/** Called for every session that ends, before its slot is reused. */
export type EndedListener = (view: SessionView, reason: EndReason | InvalidReason, at: number) => void;

/**
 * A copy of `text` that owns its characters. Strings decoded from a frame are
 * slices of one string holding the whole batch (msgpackr's native decoder);
 * keeping a slice would keep the whole batch alive for the session's life.
 */
function flat(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/**
 * sortListsByStart's working memory, sized once for its longest list: the
 * list's items (slots or client-session slots) in list order, and their
 * start and session id order numbers by position.
 */
class ListScratch {
  readonly items: Int32Array;
  readonly #keys: StartOrderKeys;

  constructor(capacity: number) {
    this.items = new Int32Array(capacity);
    this.#keys = { start: new Uint32Array(capacity), k0: new Float64Array(capacity), k1: new Float64Array(capacity), k2: new Float64Array(capacity) };
  }

  /** Position i's start second, and its session's id order numbers (ids[at..at+3)). */
  key(i: number, start: number, ids: Float64Array, at: number): void {
    const keys = this.#keys;
    keys.start[i] = start;
    keys.k0[i] = ids[at]!;
    keys.k1[i] = ids[at + 1]!;
    keys.k2[i] = ids[at + 2]!;
  }

  /** Threads items[0..n) through `next`/`prev` in (start, id) order; returns [head, tail]. */
  relinkInOrder(n: number, next: Int32Array, prev: Int32Array): [number, number] {
    const order = startOrder(this.#keys, n);
    const items = this.items;
    let last = NONE;
    for (let i = 0; i < n; i++) {
      const item = items[order[i]!]!;
      prev[item] = last;
      if (last !== NONE) next[last] = item;
      last = item;
    }
    if (last !== NONE) next[last] = NONE;
    return [n > 0 ? items[order[0]!]! : NONE, last];
  }
}

function flatNotes(notes: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(notes)) out[flat(key)] = flat(String(value));
  return out;
}

interface RealmState {
  id: string;
  settings: RealmSessionSettings;
  /**
   * Bumped when the realm is cleared (logout-all): a session whose #sGen
   * differs is dead at once, for every lookup, while its memory is freed in
   * bounded slices (clearSlice).
   */
  generation: number;
  head: number;
  tail: number;
  sessions: number;
  clientSessions: number;
  expiredIdle: number;
  expiredMax: number;
  /** Remember-me sessions ended because the realm turned remember-me off. */
  expiredRememberMe: number;
}

interface ClientState {
  uuid: string;
  realm: number;
  settings: ClientSessionSettings;
  head: number;
  tail: number;
  /** Client sessions in sessions of the client's own realm (a logout-all of that realm zeroes it at once). */
  count: number;
  /** Client sessions in sessions of other realms: never in Keycloak (a client belongs to one realm), but records can say so. */
  foreign: number;
}

/** The list kept under `key`, created empty when absent. */
function listOf(lists: Map<number, number[]>, key: number): number[] {
  let list = lists.get(key);
  if (list === undefined) lists.set(key, (list = []));
  return list;
}

/** The ends of an intrusive doubly-linked list (its links are columns indexed by item). */
interface ListEnds {
  head: number;
  tail: number;
}

/**
 * Moves `moved` (items of the list) to their places by `key`: they are
 * unlinked, sorted (by key, then by their session's id: its three order
 * numbers at `ids[idAt(item)..+3)`), and inserted in one walk of the rest of
 * the list, which must already be in key order; each goes after the items in
 * place with the same key. The sort compares fields read once per item:
 * sessions that started in the same second are common (a login burst), and
 * each such pair falls through to the id.
 */
function mergeIntoList(list: ListEnds, next: Int32Array, prev: Int32Array, moved: number[], key: Uint32Array, ids: Float64Array, idAt: (item: number) => number): void {
  for (const item of moved) {
    const p = prev[item]!;
    const n = next[item]!;
    if (p !== NONE) next[p] = n;
    else list.head = n;
    if (n !== NONE) prev[n] = p;
    else list.tail = p;
  }
  const order = moved.map((item) => ({ item, key: key[item]!, at: idAt(item) }));
  order.sort((a, b) => a.key - b.key || ids[a.at]! - ids[b.at]! || ids[a.at + 1]! - ids[b.at + 1]! || ids[a.at + 2]! - ids[b.at + 2]!);
  let at = list.head;
  for (const { item } of order) {
    // The list is in key order: past its tail's key, the walk would run off the end.
    if (at !== NONE && key[list.tail]! <= key[item]!) at = NONE;
    while (at !== NONE && key[at]! <= key[item]!) at = next[at]!;
    // Insert before `at` (at the tail when the walk ran off the end).
    const before = at === NONE ? list.tail : prev[at]!;
    prev[item] = before;
    next[item] = at;
    if (before !== NONE) next[before] = item;
    else list.head = item;
    if (at !== NONE) prev[at] = item;
    else list.tail = item;
  }
}

export class SessionTable {
  readonly #graceSeconds: number;
  readonly #wheel: TimerWheel;
  #listener: EndedListener | null = null;
  #sink: ((m: Mutation, jump: number) => void) | null = null;
  /** How far (seconds) the touch record being applied moved the idle clock it moves furthest (0 for other records). */
  #jump = 0;

  // Realms and clients (few; plain objects).
  readonly #realmIndex = new Map<string, number>();
  readonly #realms: RealmState[] = [];
  readonly #clientIndex = new Map<string, number>();
  readonly #clients: ClientState[] = [];

  // Interned strings (auth methods, scopes).
  readonly #stringIndex = new Map<string, number>();
  readonly #strings: string[] = [];

  // Users.
  #uCap = INITIAL_CAPACITY;
  #uLen = 0;
  readonly #uFree = new FreeList();
  /** Per user: [realm, the UUID's four words, or those textIdWords hashed from a text id] (the key of #byUser). */
  #uKey = new Uint32Array(INITIAL_CAPACITY * USER_KEY_WORDS);
  /** 1 when the user's id is kept as text (#uIdText; #uKey then holds words hashed from it) rather than as a UUID's words. */
  #uText = new Uint8Array(INITIAL_CAPACITY);
  /**
   * Per user slot: its id when kept as text, else undefined. A dense array,
   * grown only as far as the highest text user (empty while every id is a
   * UUID): indexed writes and reads, where a Map hashed and rehashed half a
   * million numbers a shard when a journal restored that many text users.
   */
  readonly #uIdText: (string | undefined)[] = [];
  /** Every user, UUIDs and text ids alike; a text id's words may equal another user's (see #userOf). */
  readonly #byUser = new KeyIndex(USER_KEY_WORDS, () => this.#uKey);
  readonly #userKey = new Uint32Array(USER_KEY_WORDS);
  /** The text id #userOf looks for, and the test that picks its user among those with the same words. */
  #soughtText = '';
  readonly #isSoughtText = (user: number): boolean => this.#uText[user] === 1 && this.#uIdText[user] === this.#soughtText;
  readonly #isUuidUser = (user: number): boolean => this.#uText[user] === 0;
  #uRealm = new Uint16Array(INITIAL_CAPACITY);
  #uHead = new Int32Array(INITIAL_CAPACITY).fill(NONE);
  #uCount = new Int32Array(INITIAL_CAPACITY);
  /** Each user's entry in the username index (search). */
  #uNameEntry = new Int32Array(INITIAL_CAPACITY);
  readonly #names = new NameIndex();
  readonly #rebindName = (user: number, entry: number): void => {
    this.#uNameEntry[user] = entry;
  };

  // Sessions.
  /** Per session: the four words of its id's random bits (the key of #bySid; the partition is #sPartition). */
  #sIdW = new Uint32Array(INITIAL_CAPACITY * SESSION_KEY_WORDS);
  readonly #bySid = new KeyIndex(SESSION_KEY_WORDS, () => this.#sIdW);
  readonly #idKey = new Uint32Array(SESSION_KEY_WORDS);
  #lastId = '';
  #lastSlot = NONE;
  #parsedId = '';
  #parsedPartition = NONE;
  #sCap = INITIAL_CAPACITY;
  #sLen = 0;
  readonly #sFree = new FreeList();
  #sUser = new Int32Array(INITIAL_CAPACITY);
  #sStarted = new Uint32Array(INITIAL_CAPACITY);
  #sLast = new Uint32Array(INITIAL_CAPACITY);
  #sAuthTime = new Uint32Array(INITIAL_CAPACITY);
  #sIp4 = new Uint32Array(INITIAL_CAPACITY);
  #sAuthMethod = new Uint16Array(INITIAL_CAPACITY);
  #sPartition = new Uint16Array(INITIAL_CAPACITY);
  #sGen = new Uint16Array(INITIAL_CAPACITY);
  /** Realm lists cut off by a clear, waiting to be freed: [first slot, realm index]. */
  readonly #doomed: [number, number][] = [];
  #sFlags = new Uint8Array(INITIAL_CAPACITY);
  #sUserNext = new Int32Array(INITIAL_CAPACITY);
  #sUserPrev = new Int32Array(INITIAL_CAPACITY);
  #sRealmNext = new Int32Array(INITIAL_CAPACITY);
  #sRealmPrev = new Int32Array(INITIAL_CAPACITY);
  #sFirstCs = new Int32Array(INITIAL_CAPACITY);
  #sPartNext = new Int32Array(INITIAL_CAPACITY);
  #sPartPrev = new Int32Array(INITIAL_CAPACITY);
  /** Per partition: the first session of its list (snapshots, compaction, partition clears), and how many it holds. */
  readonly #pHead = new Int32Array(PARTITION_COUNT).fill(NONE);
  readonly #pCount = new Int32Array(PARTITION_COUNT);
  /** 1 for a passive partition (see "Passive copies" above). */
  readonly #pPassive = new Uint8Array(PARTITION_COUNT);
  #passivePartitions = 0;
  readonly #sIpText = new Map<number, string>();
  readonly #sNotes = new Map<number, Record<string, string>>();

  // Client sessions.
  #cCap = INITIAL_CAPACITY;
  #cLen = 0;
  readonly #cFree = new FreeList();
  #cSession = new Int32Array(INITIAL_CAPACITY);
  #cClient = new Int32Array(INITIAL_CAPACITY);
  #cStarted = new Uint32Array(INITIAL_CAPACITY);
  #cTimestamp = new Uint32Array(INITIAL_CAPACITY);
  #cScope = new Int32Array(INITIAL_CAPACITY);
  #cFlags = new Uint8Array(INITIAL_CAPACITY);
  #cNext = new Int32Array(INITIAL_CAPACITY);
  #cClientNext = new Int32Array(INITIAL_CAPACITY);
  #cClientPrev = new Int32Array(INITIAL_CAPACITY);
  readonly #cNotes = new Map<number, Record<string, string>>();
  readonly #cChains = new Map<number, Map<string, RefreshChain>>();

  constructor(options: { graceSeconds: number; startSecond: number }) {
    this.#graceSeconds = options.graceSeconds;
    this.#wheel = new TimerWheel({ startSecond: options.startSecond, initialCapacity: INITIAL_CAPACITY });
  }

  /** Receives every session that ends (expiry, removal, limits). */
  onEnded(listener: EndedListener | null): void {
    this.#listener = listener;
  }

  /** Receives every applied mutation record (replication, tests), with how far a touch record moved an idle clock. */
  onMutation(sink: ((m: Mutation, jump: number) => void) | null): void {
    this.#sink = sink;
  }

  /** Live sessions (sessions of a cleared realm no longer count, even before their memory is freed). */
  get size(): number {
    let total = 0;
    for (const realm of this.#realms) total += realm.sessions;
    return total;
  }

  get wheelEntries(): number {
    return this.#wheel.size;
  }

  get graceSeconds(): number {
    return this.#graceSeconds;
  }

  // -------------------------------------------------------------------------
  // Configuration

  /** Creates or updates a realm. Deadlines of its sessions are recomputed when timeouts change. */
  putRealm(realmId: string, settings: RealmSessionSettings): void {
    const index = this.#realmIndex.get(realmId);
    if (index === undefined) {
      this.#realmIndex.set(realmId, this.#realms.length);
      this.#realms.push({
        id: realmId,
        settings,
        generation: 0,
        head: NONE,
        tail: NONE,
        sessions: 0,
        clientSessions: 0,
        expiredIdle: 0,
        expiredMax: 0,
        expiredRememberMe: 0,
      });
      return;
    }
    const realm = this.#realms[index]!;
    const before = realm.settings;
    realm.settings = settings;
    // Re-arming walks every session of the realm: only when a deadline can have moved
    // (a not-before or token-lifespan change moves none).
    if (DEADLINE_KEYS.some((key) => before[key] !== settings[key])) this.#rearmRealm(index);
  }

  realmSettings(realmId: string): RealmSessionSettings | undefined {
    const index = this.#realmIndex.get(realmId);
    return index === undefined ? undefined : this.#realms[index]!.settings;
  }

  hasRealm(realmId: string): boolean {
    return this.#realmIndex.has(realmId);
  }

  /** Creates or updates a client; sessions holding it are re-armed when its session timeouts changed. */
  putClient(realmId: string, clientUuid: string, settings: ClientSessionSettings): void {
    const realm = this.#realmOf(realmId);
    const index = this.#clientIndex.get(clientUuid);
    if (index === undefined) {
      this.#clientIndex.set(clientUuid, this.#clients.length);
      this.#clients.push({ uuid: clientUuid, realm, settings, head: NONE, tail: NONE, count: 0, foreign: 0 });
      return;
    }
    const client = this.#clients[index]!;
    const before = client.settings;
    client.settings = settings;
    // As for a realm: re-arming walks every client session of the client, so only when a deadline can have moved.
    if (!CLIENT_DEADLINE_KEYS.some((key) => before[key] !== settings[key])) return;
    for (let cs = client.head; cs !== NONE; cs = this.#cClientNext[cs]!) {
      const slot = this.#cSession[cs]!;
      if (this.#live(slot)) this.#rearm(slot);
    }
  }

  hasClient(clientUuid: string): boolean {
    return this.#clientIndex.has(clientUuid);
  }

  clientSettings(clientUuid: string): ClientSessionSettings {
    const index = this.#clientIndex.get(clientUuid);
    return index === undefined ? CLIENT_SESSION_DEFAULTS : this.#clients[index]!.settings;
  }

  // -------------------------------------------------------------------------
  // Reading

  /** The served session `id` names, or -1 (a passive copy is not found). */
  slotOf(id: string): number {
    const slot = this.#find(id);
    return slot !== NONE && (this.#sFlags[slot]! & F_PASSIVE) !== 0 ? NONE : slot;
  }

  /** The live session `id` names, served or passive, or -1. */
  #find(id: string): number {
    // One command names its session several times (create, attach, view): the last hit is kept.
    if (id === this.#lastId) return this.#lastSlot;
    const partition = this.#parseId(id);
    if (partition < 0) return NONE;
    const slot = this.#bySid.get(this.#idKey);
    if (slot === NONE || this.#sPartition[slot] !== partition || !this.#live(slot)) return NONE;
    this.#lastId = id;
    this.#lastSlot = slot;
    return slot;
  }

  /** The id's words into #idKey (kept for the next call with the same id: a create looks up, then inserts). */
  #parseId(id: string): number {
    if (id !== this.#parsedId) {
      this.#parsedPartition = sessionIdWords(id, this.#idKey, 0);
      this.#parsedId = id;
    }
    return this.#parsedPartition;
  }

  /** Forgets the one-entry lookup cache (its session ended, or its realm was cleared). */
  #forgetLast(): void {
    this.#lastId = '';
    this.#lastSlot = NONE;
  }

  /**
   * False for a served session whose realm was cleared after it was created
   * (its memory not freed yet). Only such sessions can fail the generation check,
   * and none is left once every cleared realm is freed: then the check, three
   * dependent reads from three columns, is skipped.
   */
  #live(slot: number): boolean {
    return this.#doomed.length === 0 || this.#sGen[slot] === this.#realms[this.#uRealm[this.#sUser[slot]!]!]!.generation || (this.#sFlags[slot]! & F_PASSIVE) !== 0;
  }

  idOf(slot: number): string {
    return formatSessionId(this.#sPartition[slot]!, this.#sIdW, slot * SESSION_KEY_WORDS);
  }

  realmIdOf(slot: number): string {
    return this.#realms[this.#uRealm[this.#sUser[slot]!]!]!.id;
  }

  userIdOf(slot: number): string {
    return this.#userIdText(this.#sUser[slot]!);
  }

  startedOf(slot: number): number {
    return this.#sStarted[slot]!;
  }

  lastRefreshOf(slot: number): number {
    return this.#sLast[slot]!;
  }

  rememberMeOf(slot: number): boolean {
    return (this.#sFlags[slot]! & F_REMEMBER_ME) !== 0;
  }

  /** The client-session slot of `clientUuid` in session `slot`, or -1. */
  clientSlotOf(slot: number, clientUuid: string): number {
    const client = this.#clientIndex.get(clientUuid);
    if (client === undefined) return NONE;
    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) {
      if (this.#cClient[cs] === client) return cs;
    }
    return NONE;
  }

  clientStartedOf(cs: number): number {
    return this.#cStarted[cs]!;
  }

  chainOf(cs: number, key: string): RefreshChain | undefined {
    return this.#chainsOfClient(cs)?.get(key);
  }

  /** Why the user session is invalid at `now` (docs/keycloak-semantics.md#validity-checks), or null. */
  sessionInvalidReason(slot: number, now: number): InvalidReason | null {
    const realm = this.#realms[this.#uRealm[this.#sUser[slot]!]!]!;
    return userSessionInvalidReason(realm.settings, this.#times(slot), false, now, this.#graceSeconds);
  }

  /** Why the client session is invalid at `now`, or null. */
  clientInvalidReason(slot: number, cs: number, now: number): InvalidReason | null {
    const realm = this.#realms[this.#uRealm[this.#sUser[slot]!]!]!;
    const client = this.#clients[this.#cClient[cs]!]!;
    return clientSessionInvalidReason(
      realm.settings,
      client.settings,
      this.#times(slot),
      this.#clientTimes(cs),
      false,
      now,
      this.#graceSeconds,
    );
  }

  /** A full view of the session, or with only one client session when `onlyClientSlot` is given. */
  view(slot: number, onlyClientSlot = NONE): SessionView {
    const user = this.#sUser[slot]!;
    const clients: ClientSessionView[] = [];
    if (onlyClientSlot !== NONE) {
      clients.push(this.#clientView(onlyClientSlot));
    } else {
      for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) clients.push(this.#clientView(cs));
    }
    return {
      id: this.idOf(slot),
      realm: this.#realms[this.#uRealm[user]!]!.id,
      userId: this.#userIdText(user),
      username: this.#names.nameOf(this.#uNameEntry[user]!),
      ip: this.#ipOf(slot),
      authMethod: this.#strings[this.#sAuthMethod[slot]!]!,
      rememberMe: (this.#sFlags[slot]! & F_REMEMBER_ME) !== 0,
      started: this.#sStarted[slot]!,
      lastSessionRefresh: this.#sLast[slot]!,
      authTime: this.#sAuthTime[slot]!,
      clients,
      notes: this.#sessionNotes(slot),
    };
  }

  /** The refresh-token chains of every client session of a session (snapshots). */
  chainsOf(slot: number): Record<string, Record<string, RefreshChain>> | null {
    let out: Record<string, Record<string, RefreshChain>> | null = null;
    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) {
      const chains = this.#chainsOfClient(cs);
      if (chains === undefined || chains.size === 0) continue;
      (out ??= {})[this.#clients[this.#cClient[cs]!]!.uuid] = Object.fromEntries(chains);
    }
    return out;
  }

  partitionOf(slot: number): number {
    return this.#sPartition[slot]!;
  }

  /** Every session slot of the table (snapshots). */
  allSlots(): number[] {
    const out: number[] = [];
    for (const realm of this.#realms) for (let slot = realm.head; slot !== NONE; slot = this.#sRealmNext[slot]!) out.push(slot);
    return out;
  }

  /** The live session slots of a partition (snapshots, compaction, transfer). */
  partitionSlots(partition: number): number[] {
    const out: number[] = [];
    for (let slot = this.#pHead[partition] ?? NONE; slot !== NONE; slot = this.#sPartNext[slot]!) if (this.#live(slot)) out.push(slot);
    return out;
  }

  /**
   * A partition's sessions as the records that recreate them (a snapshot, a
   * state transfer): for each, what sessionRecords makes of its view and
   * chains, built straight from the columns (no view between: this is most
   * of a partition export's cost).
   */
  partitionRecords(partition: number): Mutation[] {
    const out: Mutation[] = [];
    for (let slot = this.#pHead[partition] ?? NONE; slot !== NONE; slot = this.#sPartNext[slot]!) if (this.#live(slot)) this.#pushRecords(slot, out);
    return out;
  }

  #pushRecords(slot: number, out: Mutation[]): void {
    const user = this.#sUser[slot]!;
    const id = this.idOf(slot);
    out.push({
      k: MUTATION.sessionCreated,
      id,
      partition: this.#sPartition[slot]!,
      realm: this.#realms[this.#uRealm[user]!]!.id,
      userId: this.#userIdText(user),
      username: this.#names.nameOf(this.#uNameEntry[user]!),
      ip: this.#ipOf(slot),
      authMethod: this.#strings[this.#sAuthMethod[slot]!]!,
      rememberMe: (this.#sFlags[slot]! & F_REMEMBER_ME) !== 0,
      started: this.#sStarted[slot]!,
      lastSessionRefresh: this.#sLast[slot]!,
      authTime: this.#sAuthTime[slot]!,
      notes: this.#sessionNotes(slot),
    });
    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) {
      const client = this.#clients[this.#cClient[cs]!]!.uuid;
      const timestamp = this.#cTimestamp[cs]!;
      out.push({
        k: MUTATION.clientAttached,
        id,
        client,
        started: this.#cStarted[cs]!,
        timestamp,
        scope: this.#strings[this.#cScope[cs]!]!,
        ssoAuth: (this.#cFlags[cs]! & CF_SSO_AUTH) !== 0,
        notes: this.#clientNotes(cs),
        userRefresh: -1,
      });
      const chains = this.#chainsOfClient(cs);
      if (chains !== undefined) for (const [chainKey, chain] of chains) out.push({ k: MUTATION.clientRefreshed, id, client, at: timestamp, chainKey, chain });
    }
  }

  /** Sessions held in a partition, counting those of a cleared realm not yet freed (a cheap upper bound). */
  partitionSize(partition: number): number {
    return this.#pCount[partition] ?? 0;
  }

  /** Per client UUID of the session: why its client session is invalid at `now`, or null. */
  clientsInvalid(slot: number, now: number): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) {
      out[this.#clients[this.#cClient[cs]!]!.uuid] = this.clientInvalidReason(slot, cs, now);
    }
    return out;
  }

  /** The session slots of a user in a realm (unordered). */
  userSlots(realmId: string, userId: string): number[] {
    const realm = this.#realmIndex.get(realmId);
    if (realm === undefined) return [];
    const user = this.#userOf(realm, userId);
    if (user === NONE) return [];
    const out: number[] = [];
    for (let s = this.#uHead[user]!; s !== NONE; s = this.#sUserNext[s]!) if (this.#live(s)) out.push(s);
    return out;
  }

  /** Does session `slot` hold a client session of `clientUuid`? */
  holdsClient(slot: number, clientUuid: string): boolean {
    return this.clientSlotOf(slot, clientUuid) !== NONE;
  }

  /** Online client sessions of a client (maintained counter). */
  clientSessionCount(clientUuid: string): number {
    const index = this.#clientIndex.get(clientUuid);
    if (index === undefined) return 0;
    const client = this.#clients[index]!;
    return client.count + client.foreign;
  }

  /** [client UUID, active client sessions] for every client of the realm with at least one. */
  realmClientStats(realmId: string): [string, number][] {
    const realm = this.#realmIndex.get(realmId);
    const out: [string, number][] = [];
    if (realm === undefined) return out;
    for (const client of this.#clients) if (client.realm === realm && client.count + client.foreign > 0) out.push([client.uuid, client.count + client.foreign]);
    return out;
  }

  /** The first `limit` sessions holding `clientUuid`, in attach order, each with only that client session. */
  clientSessions(clientUuid: string, limit: number): SessionView[] {
    const index = this.#clientIndex.get(clientUuid);
    const out: SessionView[] = [];
    if (index === undefined) return out;
    for (let cs = this.#clients[index]!.head; cs !== NONE && out.length < limit; cs = this.#cClientNext[cs]!) {
      const slot = this.#cSession[cs]!;
      if (this.#live(slot)) out.push(this.view(slot));
    }
    return out;
  }

  /**
   * Realm-wide search in creation order, stopping after `limit` matches: the
   * cost is that of the sessions visited, never of materialising them all.
   * `search` is matched (substring) against username and IP address; sessions
   * holding a client in `searchClients` match too.
   */
  search(realmId: string, search: string, searchClients: readonly string[], clientUuid: string | null, limit: number): SessionView[] {
    const realm = this.#realmIndex.get(realmId);
    const out: SessionView[] = [];
    if (realm === undefined || limit <= 0) return out;
    const onlyClient = clientUuid === null ? NONE : (this.#clientIndex.get(clientUuid) ?? -2);
    if (onlyClient === -2) return out;
    const matchClients = this.#clientIndexes(searchClients);
    const ipSearch = isIpSearch(search);
    const needle = Buffer.from(search, 'utf8');
    if (onlyClient !== NONE) {
      // Walk the client's own list: cost bounded by that client's sessions.
      const client = this.#clients[onlyClient]!;
      for (let cs = client.head; cs !== NONE && out.length < limit; cs = this.#cClientNext[cs]!) {
        const slot = this.#cSession[cs]!;
        if (this.#uRealm[this.#sUser[slot]!] !== realm || !this.#live(slot)) continue; // a client list may hold other realms' (and cleared) sessions
        if (search === '' || this.#matches(slot, search, needle, ipSearch, matchClients)) out.push(this.view(slot));
      }
      return out;
    }
    if (search !== '' && !ipSearch && matchClients.size === 0) {
      // Only usernames can match: find the users in the name index (one pass
      // over a flat buffer) and order their sessions by start, unless so many
      // match that walking the realm list stops sooner.
      const found = this.#names.find(search, limit * NAME_MATCHES_PER_PAGE);
      if (!found.more) {
        const slots: number[] = [];
        for (const user of found.users) {
          if (this.#uRealm[user] !== realm) continue;
          for (let s = this.#uHead[user]!; s !== NONE; s = this.#sUserNext[s]!) if (this.#live(s)) slots.push(s);
        }
        slots.sort((a, b) => this.#sStarted[a]! - this.#sStarted[b]! || a - b);
        for (let i = 0; i < slots.length && out.length < limit; i++) out.push(this.view(slots[i]!));
        return out;
      }
    }
    for (let slot = this.#realms[realm]!.head; slot !== NONE && out.length < limit; slot = this.#sRealmNext[slot]!) {
      if (search === '' || this.#matches(slot, search, needle, ipSearch, matchClients)) out.push(this.view(slot));
    }
    return out;
  }

  /**
   * A predicate for `search` as search() matches it (username, IP address,
   * a client of `searchClients`), or null when `search` is empty and every
   * session matches.
   */
  searchTest(search: string, searchClients: readonly string[]): ((slot: number) => boolean) | null {
    if (search === '') return null;
    const matchClients = this.#clientIndexes(searchClients);
    const ipSearch = isIpSearch(search);
    const needle = Buffer.from(search, 'utf8');
    return (slot) => this.#matches(slot, search, needle, ipSearch, matchClients);
  }

  /** Does session `slot` meet the filter's client, last-access and IP conditions? (Its user is the caller's to check.) */
  matchesFilter(slot: number, filter: SlotFilter): boolean {
    if (filter.client !== undefined && !this.holdsClient(slot, filter.client)) return false;
    const last = this.#sLast[slot]!;
    if (filter.lastAccessBefore !== undefined && !(last < filter.lastAccessBefore)) return false;
    if (filter.lastAccessFrom !== undefined && !(last >= filter.lastAccessFrom)) return false;
    if (filter.ipIn !== undefined && !this.#ipMatches(slot, filter.ipIn)) return false;
    if (filter.ipNotIn !== undefined && this.#ipMatches(slot, filter.ipNotIn)) return false;
    return true;
  }

  /** The session's address against a CIDR list, IPv4 without formatting it. */
  #ipMatches(slot: number, matcher: IpMatcher): boolean {
    return (this.#sFlags[slot]! & F_IP_TEXT) !== 0 ? matcher(this.#sIpText.get(slot)!) : matcher.ipv4(this.#sIp4[slot]!);
  }

  /**
   * Visits the live sessions of a realm in its list's order (start order),
   * or from the newest when `newestFirst`, until `visit` answers false.
   */
  walkRealm(realmId: string, newestFirst: boolean, visit: (slot: number) => boolean): void {
    const realm = this.#realmIndex.get(realmId);
    if (realm === undefined) return;
    const state = this.#realms[realm]!;
    const next = newestFirst ? this.#sRealmPrev : this.#sRealmNext;
    for (let slot = newestFirst ? state.tail : state.head; slot !== NONE; slot = next[slot]!) if (!visit(slot)) return;
  }

  /** Two sessions by start or last access, ties by id as compareSessionIds orders their texts. */
  compareSlots(a: number, b: number, by: 'started' | 'lastAccess'): number {
    const key = by === 'started' ? this.#sStarted : this.#sLast;
    const diff = key[a]! - key[b]! || this.#sPartition[a]! - this.#sPartition[b]!;
    if (diff !== 0) return diff;
    const words = this.#sIdW;
    for (let i = 0; i < SESSION_KEY_WORDS; i++) {
      const wa = words[a * SESSION_KEY_WORDS + i]!;
      const wb = words[b * SESSION_KEY_WORDS + i]!;
      if (wa !== wb) return wa < wb ? -1 : 1;
    }
    return 0;
  }

  /** Session slots of the realm matching a filter (bulk revoke, counting). */
  filterSlots(realmId: string, filter: SlotFilter): number[] {
    const realm = this.#realmIndex.get(realmId);
    if (realm === undefined) return [];
    const out: number[] = [];
    // A client list may hold other realms' (and cleared) sessions.
    const test = (slot: number): boolean => this.#uRealm[this.#sUser[slot]!] === realm && this.#live(slot) && this.matchesFilter(slot, filter);
    if (filter.userId !== undefined) {
      for (const slot of this.userSlots(realmId, filter.userId)) if (test(slot)) out.push(slot);
      return out;
    }
    if (filter.client !== undefined) {
      const index = this.#clientIndex.get(filter.client);
      if (index === undefined) return out;
      for (let cs = this.#clients[index]!.head; cs !== NONE; cs = this.#cClientNext[cs]!) {
        const slot = this.#cSession[cs]!;
        if (test(slot)) out.push(slot);
      }
      return out;
    }
    for (let slot = this.#realms[realm]!.head; slot !== NONE; slot = this.#sRealmNext[slot]!) if (test(slot)) out.push(slot);
    return out;
  }

  /** Slots of the sessions holding a client session of `clientUuid`. */
  clientSessionSlots(clientUuid: string): number[] {
    const index = this.#clientIndex.get(clientUuid);
    const out: number[] = [];
    if (index === undefined) return out;
    for (let cs = this.#clients[index]!.head; cs !== NONE; cs = this.#cClientNext[cs]!) {
      const slot = this.#cSession[cs]!;
      if (this.#live(slot)) out.push(slot);
    }
    return out;
  }

  /** Slots of every session of a realm. */
  realmSlots(realmId: string): number[] {
    const realm = this.#realmIndex.get(realmId);
    const out: number[] = [];
    if (realm === undefined) return out;
    for (let slot = this.#realms[realm]!.head; slot !== NONE; slot = this.#sRealmNext[slot]!) out.push(slot);
    return out;
  }

  /**
   * Re-threads every realm list in session start order and every client list
   * in client-session start order (ties by id). A restore applies partitions
   * one after another, so it calls this once at the end: listings and the
   * merges across shards rely on those orders. Linear in the sessions for
   * long lists (start-order.ts).
   */
  sortListsByStart(): void {
    // A session's id order numbers, by slot: every session is in one realm list, and its client sessions reuse them.
    const ids = new Float64Array(this.#sCap * 3);
    const scratch = new ListScratch(Math.max(this.#sLen, this.#cLen));
    for (const realm of this.#realms) {
      let n = 0;
      for (let slot = realm.head; slot !== NONE; slot = this.#sRealmNext[slot]!) {
        scratch.items[n++] = slot;
        sessionIdOrderKeys(this.#sPartition[slot]!, this.#sIdW, slot * SESSION_KEY_WORDS, ids, slot * 3);
      }
      for (let i = 0; i < n; i++) scratch.key(i, this.#sStarted[scratch.items[i]!]!, ids, scratch.items[i]! * 3);
      [realm.head, realm.tail] = scratch.relinkInOrder(n, this.#sRealmNext, this.#sRealmPrev);
    }
    for (const client of this.#clients) {
      let n = 0;
      for (let cs = client.head; cs !== NONE; cs = this.#cClientNext[cs]!) scratch.items[n++] = cs;
      for (let i = 0; i < n; i++) scratch.key(i, this.#cStarted[scratch.items[i]!]!, ids, this.#cSession[scratch.items[i]!]! * 3);
      [client.head, client.tail] = scratch.relinkInOrder(n, this.#cClientNext, this.#cClientPrev);
    }
  }

  /**
   * Moves sessions just appended to this table (a promotion's) to their
   * places in start order: each in its realm list, each of their client
   * sessions in its client list (what listings and the merge of listings
   * across shards rely on). The rest of every list must be in that order
   * already; sessions of the same second go after those in place, by id
   * among themselves. One walk of each list touched, O(list + k log k),
   * where sortListsByStart sorts every list whole.
   */
  placeByStart(slots: readonly number[]): void {
    // Each moved session's id order numbers (sessionIdOrderKeys), three per session, found through its slot.
    const ids = new Float64Array(slots.length * 3);
    const idAtOf = new Map<number, number>();
    slots.forEach((slot, i) => {
      idAtOf.set(slot, i * 3);
      sessionIdOrderKeys(this.#sPartition[slot]!, this.#sIdW, slot * SESSION_KEY_WORDS, ids, i * 3);
    });
    const idAt = (slot: number): number => idAtOf.get(slot)!;
    const sessions = new Map<number, number[]>();
    const clientSessions = new Map<number, number[]>();
    for (const slot of slots) {
      listOf(sessions, this.#uRealm[this.#sUser[slot]!]!).push(slot);
      for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) listOf(clientSessions, this.#cClient[cs]!).push(cs);
    }
    const started = this.#sStarted;
    for (const [realm, moved] of sessions) mergeIntoList(this.#realms[realm]!, this.#sRealmNext, this.#sRealmPrev, moved, started, ids, idAt);
    const sessionIdAt = (cs: number): number => idAt(this.#cSession[cs]!);
    for (const [client, moved] of clientSessions) mergeIntoList(this.#clients[client]!, this.#cClientNext, this.#cClientPrev, moved, this.#cStarted, ids, sessionIdAt);
  }

  /**
   * Promotion grace. A copy promoted after its primary failed may lack the
   * primary's last touches (replicated every touch interval), and would end
   * as idle a session used a moment ago. For `window` seconds after the
   * promotion at `now`, a session (or client session) whose idle deadline
   * passed less than `window` ago, or passes within the window, is kept: its
   * idle clock moves just enough for the deadline to be `now + window`.
   * Nothing already past it by more, nothing further off, and no max
   * lifespan moves; a session lives at most 2 × `window` longer. Returns
   * whether a clock moved.
   */
  holdIdleClocks(slot: number, now: number, window: number): boolean {
    const from = now - window;
    const until = now + window;
    if (this.sessionInvalidReason(slot, from) !== null) return false;
    const realm = this.#realms[this.#uRealm[this.#sUser[slot]!]!]!.settings;
    const times = this.#times(slot);
    const idleDeadline = userSessionIdleExpiry(realm, times, false) + this.#graceSeconds;
    let moved = idleDeadline < until;
    if (moved) this.#sLast[slot] = this.#sLast[slot]! + (until - idleDeadline);
    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) {
      if (this.clientInvalidReason(slot, cs, from) !== null) continue;
      const client = this.#clients[this.#cClient[cs]!]!.settings;
      const clientDeadline = clientSessionIdleExpiry(realm, client, times, this.#clientTimes(cs), false) + this.#graceSeconds;
      if (clientDeadline >= until) continue;
      this.#cTimestamp[cs] = this.#cTimestamp[cs]! + (until - clientDeadline);
      moved = true;
    }
    return moved;
  }

  /** Counts an expiry that happened outside the wheel (offline sessions) in the realm's counters. */
  countExpiration(realmId: string, reason: string): void {
    const index = this.#realmIndex.get(realmId);
    if (index === undefined) return;
    if (reason === 'max') this.#realms[index]!.expiredMax++;
    else if (reason === 'idle') this.#realms[index]!.expiredIdle++;
    else this.#realms[index]!.expiredRememberMe++;
  }

  /** Per realm: [sessions, client sessions], and cumulative expirations [idle, max, remember-me disabled]. */
  stats(): { realms: Record<string, [number, number]>; expirations: Record<string, [number, number, number]> } {
    const realms: Record<string, [number, number]> = {};
    const expirations: Record<string, [number, number, number]> = {};
    for (const realm of this.#realms) {
      realms[realm.id] = [realm.sessions, realm.clientSessions];
      expirations[realm.id] = [realm.expiredIdle, realm.expiredMax, realm.expiredRememberMe];
    }
    return { realms, expirations };
  }

  // -------------------------------------------------------------------------
  // Change: mutation records only

  /**
   * Applies one record. Returns false when it names a session (or client
   * session) this table does not hold, in which case nothing changed; a
   * replica may legitimately receive such records after a local expiry.
   */
  apply(m: Mutation): boolean {
    let applied: boolean;
    this.#jump = 0;
    switch (m.k) {
      case MUTATION.sessionCreated:
        applied = this.#applyCreated(m);
        break;
      case MUTATION.clientAttached:
        applied = this.#applyAttached(m);
        break;
      case MUTATION.sessionTouched:
        applied = this.#applyTouched(m);
        break;
      case MUTATION.clientRefreshed:
        applied = this.#applyRefreshed(m);
        break;
      case MUTATION.clientDetached:
        applied = this.#applyDetached(m);
        break;
      case MUTATION.sessionRemoved:
        applied = this.#applyRemoved(m, -1);
        break;
      case MUTATION.realmCleared:
        applied = this.#applyRealmCleared(m);
        break;
      case MUTATION.sessionAuthenticated:
        applied = this.#applyAuthenticated(m);
        break;
      default:
        throw new TypeError(`unknown mutation kind ${(m as { k: unknown }).k}`);
    }
    // A passive copy's records are its primary's: never shipped again (the shard journals them itself: ShardLog.copied).
    if (applied && this.#sink !== null && (this.#passivePartitions === 0 || this.#pPassive[partitionOfRecord(m)] === 0)) this.#sink(m, this.#jump);
    return applied;
  }

  // -------------------------------------------------------------------------
  // Partition roles (see "Passive copies" at the top of this file)

  /**
   * Serves a passive partition: its sessions are linked into their user,
   * realm and client lists, counted and armed on the wheel. Returns their
   * slots (appended at the lists' ends: see placeByStart).
   */
  servePartition(partition: number): number[] {
    if (this.#pPassive[partition] === 0) return [];
    const slots = this.partitionSlots(partition);
    for (const slot of slots) {
      const user = this.#sUser[slot]!;
      const realmIndex = this.#uRealm[user]!;
      const realm = this.#realms[realmIndex]!;
      this.#sFlags[slot] = this.#sFlags[slot]! & ~F_PASSIVE;
      this.#sGen[slot] = realm.generation;
      this.#linkServed(slot, user, realm);
      for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) this.#linkClientServed(cs, this.#clients[this.#cClient[cs]!]!, realmIndex);
      this.#rearm(slot);
    }
    this.#pPassive[partition] = 0;
    this.#passivePartitions--;
    return slots;
  }

  /** Makes a partition passive: its sessions leave every list but the partition's, the counters and the wheel. Returns how many. */
  passivatePartition(partition: number): number {
    if (this.#pPassive[partition] === 1) return 0;
    // Sessions of a cleared realm not freed yet stay as they are: dead, on the list clearSlice walks.
    const slots = this.partitionSlots(partition);
    for (const slot of slots) {
      const user = this.#sUser[slot]!;
      const realmIndex = this.#uRealm[user]!;
      this.#unlinkRealm(slot);
      this.#unlinkUser(slot, user);
      for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) this.#unlinkClientServed(cs, this.#clients[this.#cClient[cs]!]!, realmIndex, true);
      this.#wheel.cancel(slot);
      this.#sFlags[slot] = this.#sFlags[slot]! | F_PASSIVE;
    }
    this.#pPassive[partition] = 1;
    this.#passivePartitions++;
    return slots.length;
  }

  /** Forgets a partition's sessions (no record, no ended-listener call: they live on elsewhere); it is served again, empty. Returns how many. */
  forgetPartition(partition: number): number {
    const slots = this.partitionSlots(partition);
    for (const slot of slots) {
      this.#unlinkRealm(slot);
      this.#free(slot);
    }
    if (this.#pPassive[partition] === 1) {
      this.#pPassive[partition] = 0;
      this.#passivePartitions--;
    }
    return slots.length;
  }

  /** Forgets the passive copies of a realm's sessions (the realm was removed). */
  forgetPassiveRealm(realmId: string): void {
    const index = this.#realmIndex.get(realmId);
    if (index === undefined || this.#passivePartitions === 0) return;
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (this.#pPassive[p] === 0) continue;
      for (const slot of this.partitionSlots(p)) if (this.#uRealm[this.#sUser[slot]!] === index) this.#free(slot);
    }
  }

  /** Removes a session (a mutation record), reporting it to the ended-listener with `at`. */
  remove(id: string, reason: EndReason, at: number): boolean {
    const m: SessionRemovedMutation = { k: MUTATION.sessionRemoved, id, reason };
    if (!this.#applyRemoved(m, at)) return false;
    if (this.#sink !== null) this.#sink(m, 0);
    return true;
  }

  // -------------------------------------------------------------------------
  // Expiry

  /**
   * Fires due wheel entries up to `now`, at most `budget` of them. A session
   * whose own deadline passed ends (reason idle, max or remember_me_disabled);
   * otherwise its expired client sessions are detached and the entry is
   * re-armed at the next deadline. Returns true when caught up.
   */
  expire(now: number, budget: number, timeBudgetMs = Infinity): boolean {
    if (timeBudgetMs === Infinity) return this.#wheel.advance(now, budget, (slot) => this.#fire(slot, now));
    // Time-bounded: fire in small steps and stop once the time is spent, so a
    // turn never holds commands back for long, whatever a step happens to cost
    // (a Map shrinking under mass deletion rehashes in one go).
    const started = performance.now();
    let left = budget;
    while (left > 0) {
      const step = Math.min(left, EXPIRY_STEP);
      if (this.#wheel.advance(now, step, (slot) => this.#fire(slot, now))) return true;
      left -= step;
      if (performance.now() - started >= timeBudgetMs) return false;
    }
    return false;
  }

  #fire(slot: number, now: number): void {
    if (!this.#live(slot)) return; // cleared: clearSlice frees it
    const realm = this.#realms[this.#uRealm[this.#sUser[slot]!]!]!;
    const reason = userSessionInvalidReason(realm.settings, this.#times(slot), false, now, this.#graceSeconds);
    if (reason !== null) {
      if (reason === 'max') realm.expiredMax++;
      else if (reason === 'idle') realm.expiredIdle++;
      else realm.expiredRememberMe++;
      const endReason = reason === 'max' ? END_REASON.max : reason === 'idle' ? END_REASON.idle : END_REASON.rememberMeDisabled;
      // The slot is in hand: no id lookup, and a record only for a sink that wants it.
      const id = this.#sink !== null ? this.idOf(slot) : '';
      if (this.#listener !== null) this.#listener(this.view(slot), endReason, now);
      this.#unlinkRealm(slot);
      this.#free(slot);
      if (this.#sink !== null) this.#sink({ k: MUTATION.sessionRemoved, id, reason: endReason }, 0);
      return;
    }
    let cs = this.#sFirstCs[slot]!;
    while (cs !== NONE) {
      const next = this.#cNext[cs]!;
      if (this.clientInvalidReason(slot, cs, now) !== null) {
        const m: ClientDetachedMutation = { k: MUTATION.clientDetached, id: this.idOf(slot), client: this.#clients[this.#cClient[cs]!]!.uuid };
        this.#applyDetached(m);
        if (this.#sink !== null) this.#sink(m, 0);
      }
      cs = next;
    }
    this.#wheel.schedule(slot, this.#deadline(slot));
  }

  // -------------------------------------------------------------------------
  // Internals

  #realmOf(realmId: string): number {
    let index = this.#realmIndex.get(realmId);
    if (index === undefined) {
      // A record may name a realm this replica has not been configured with
      // yet: it gets Keycloak's defaults until the realm's settings arrive.
      this.putRealm(realmId, realmSessionSettings());
      index = this.#realmIndex.get(realmId)!;
    }
    return index;
  }

  #clientOf(realm: number, clientUuid: string): number {
    let index = this.#clientIndex.get(clientUuid);
    if (index === undefined) {
      this.putClient(this.#realms[realm]!.id, clientUuid, CLIENT_SESSION_DEFAULTS);
      index = this.#clientIndex.get(clientUuid)!;
    }
    return index;
  }

  #intern(text: string): number {
    let index = this.#stringIndex.get(text);
    if (index === undefined) {
      if (this.#strings.length >= INTERNED_STRINGS_MAX) {
        // Bounded: scopes and auth methods are validated upstream, so this only
        // trips on a misbehaving caller, whose command then fails.
        throw new RangeError('too many distinct scope/auth-method strings');
      }
      index = this.#strings.length;
      const kept = flat(text);
      this.#strings.push(kept);
      this.#stringIndex.set(kept, index);
    }
    return index;
  }

  /**
   * The session's times as the rule functions take them, in one reused object:
   * the rules read it synchronously and keep no reference, so the hot paths
   * (expiry fires, validity checks) allocate nothing.
   */
  #times(slot: number): { started: number; lastSessionRefresh: number; rememberMe: boolean } {
    const times = this.#scratchTimes;
    times.started = this.#sStarted[slot]!;
    times.lastSessionRefresh = this.#sLast[slot]!;
    times.rememberMe = (this.#sFlags[slot]! & F_REMEMBER_ME) !== 0;
    return times;
  }
  readonly #scratchTimes = { started: 0, lastSessionRefresh: 0, rememberMe: false };
  readonly #scratchClientTimes = { started: 0, timestamp: 0 };

  #clientTimes(cs: number): { started: number; timestamp: number } {
    const times = this.#scratchClientTimes;
    times.started = this.#cStarted[cs]!;
    times.timestamp = this.#cTimestamp[cs]!;
    return times;
  }

  #ipOf(slot: number): string {
    return (this.#sFlags[slot]! & F_IP_TEXT) !== 0 ? this.#sIpText.get(slot)! : formatIpv4(this.#sIp4[slot]!);
  }

  #sessionNotes(slot: number): Record<string, string> | null {
    return (this.#sFlags[slot]! & F_NOTES) !== 0 ? this.#sNotes.get(slot)! : null;
  }

  #clientNotes(cs: number): Record<string, string> | null {
    return (this.#cFlags[cs]! & CF_NOTES) !== 0 ? this.#cNotes.get(cs)! : null;
  }

  #chainsOfClient(cs: number): Map<string, RefreshChain> | undefined {
    return (this.#cFlags[cs]! & CF_CHAINS) !== 0 ? this.#cChains.get(cs) : undefined;
  }

  #clientView(cs: number): ClientSessionView {
    return {
      client: this.#clients[this.#cClient[cs]!]!.uuid,
      started: this.#cStarted[cs]!,
      timestamp: this.#cTimestamp[cs]!,
      scope: this.#strings[this.#cScope[cs]!]!,
      ssoAuth: (this.#cFlags[cs]! & CF_SSO_AUTH) !== 0,
      notes: this.#clientNotes(cs),
    };
  }

  /** The interned indexes of the clients of `uuids` this table knows. */
  #clientIndexes(uuids: readonly string[]): Set<number> {
    const out = new Set<number>();
    for (const uuid of uuids) {
      const index = this.#clientIndex.get(uuid);
      if (index !== undefined) out.add(index);
    }
    return out;
  }

  #matches(slot: number, search: string, needle: Buffer, ipSearch: boolean, matchClients: Set<number>): boolean {
    if (this.#names.contains(this.#uNameEntry[this.#sUser[slot]!]!, needle)) return true;
    if (ipSearch && this.#ipOf(slot).includes(search)) return true;
    if (matchClients.size > 0) {
      for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) if (matchClients.has(this.#cClient[cs]!)) return true;
    }
    return false;
  }

  /** The earliest instant at which the session or one of its client sessions stops being valid. */
  #deadline(slot: number): number {
    const realm = this.#realms[this.#uRealm[this.#sUser[slot]!]!]!;
    const times = this.#times(slot);
    if (times.rememberMe && !realm.settings.rememberMe) return 0; // invalid now (§2.4 rule 2)
    let deadline = userSessionDeadline(realm.settings, times, false, this.#graceSeconds);
    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; cs = this.#cNext[cs]!) {
      const client = this.#clients[this.#cClient[cs]!]!;
      const own = clientSessionDeadline(
        realm.settings,
        client.settings,
        times,
        this.#clientTimes(cs),
        false,
        this.#graceSeconds,
      );
      deadline = earliest(deadline, own);
    }
    return deadline === NEVER ? 0xffffffff : deadline;
  }

  /** Re-arms a session whose deadline may have moved earlier (config change, new client session). */
  #rearm(slot: number): void {
    this.#wheel.schedule(slot, this.#deadline(slot));
  }

  #rearmRealm(realm: number): void {
    for (let slot = this.#realms[realm]!.head; slot !== NONE; slot = this.#sRealmNext[slot]!) this.#rearm(slot);
  }

  #allocUser(realm: number, userId: string, username: string): number {
    let user = this.#uFree.pop();
    if (user === NONE) {
      user = this.#uLen++;
      if (user >= this.#uCap) {
        const cap = grownCapacity(this.#uCap);
        this.#uRealm = growUint16(this.#uRealm, cap);
        this.#uHead = growInt32(this.#uHead, cap, NONE);
        this.#uCount = growInt32(this.#uCount, cap);
        this.#uNameEntry = growInt32(this.#uNameEntry, cap);
        this.#uKey = growUint32(this.#uKey, cap * USER_KEY_WORDS);
        this.#uText = growUint8(this.#uText, cap);
        this.#uCap = cap;
      }
    }
    const at = user * USER_KEY_WORDS;
    this.#uKey[at] = realm;
    if (parseUuid(userId, this.#uKey, at + 1)) {
      this.#uText[user] = 0;
    } else {
      this.#uText[user] = 1;
      textIdWords(userId, this.#uKey, at + 1);
      while (this.#uIdText.length <= user) this.#uIdText.push(undefined);
      this.#uIdText[user] = flat(userId);
    }
    this.#byUser.add(user);
    this.#uNameEntry[user] = this.#names.add(user, username);
    this.#uRealm[user] = realm;
    this.#uHead[user] = NONE;
    this.#uCount[user] = 0;
    return user;
  }

  /**
   * The user slot of `userId` in a realm, or -1. A text id's words are a
   * hash, which another text id, or a UUID, may share: the index keeps every
   * user under its words, and the lookup takes the one whose id it is.
   */
  #userOf(realm: number, userId: string): number {
    const key = this.#userKey;
    key[0] = realm;
    if (parseUuid(userId, key, 1)) {
      const user = this.#byUser.get(key);
      return user === NONE || this.#uText[user] === 0 ? user : this.#byUser.find(key, this.#isUuidUser);
    }
    textIdWords(userId, key, 1);
    this.#soughtText = userId;
    const user = this.#byUser.find(key, this.#isSoughtText);
    this.#soughtText = '';
    return user;
  }

  #userIdText(user: number): string {
    return this.#uText[user] === 1 ? this.#uIdText[user]! : formatUuid(this.#uKey, user * USER_KEY_WORDS + 1);
  }

  #freeUser(user: number): void {
    this.#byUser.remove(user);
    if (this.#uText[user] === 1) this.#uIdText[user] = undefined;
    this.#names.remove(this.#uNameEntry[user]!, this.#rebindName);
    this.#uFree.push(user);
  }

  #allocSession(): number {
    const free = this.#sFree.pop();
    if (free !== NONE) return free;
    const slot = this.#sLen++;
    if (slot >= this.#sCap) {
      const cap = grownCapacity(this.#sCap);
      this.#sUser = growInt32(this.#sUser, cap);
      this.#sStarted = growUint32(this.#sStarted, cap);
      this.#sLast = growUint32(this.#sLast, cap);
      this.#sAuthTime = growUint32(this.#sAuthTime, cap);
      this.#sIp4 = growUint32(this.#sIp4, cap);
      this.#sAuthMethod = growUint16(this.#sAuthMethod, cap);
      this.#sPartition = growUint16(this.#sPartition, cap);
      this.#sGen = growUint16(this.#sGen, cap);
      this.#sFlags = growUint8(this.#sFlags, cap);
      this.#sUserNext = growInt32(this.#sUserNext, cap);
      this.#sUserPrev = growInt32(this.#sUserPrev, cap);
      this.#sRealmNext = growInt32(this.#sRealmNext, cap);
      this.#sRealmPrev = growInt32(this.#sRealmPrev, cap);
      this.#sFirstCs = growInt32(this.#sFirstCs, cap);
      this.#sIdW = growUint32(this.#sIdW, cap * SESSION_KEY_WORDS);
      this.#sPartNext = growInt32(this.#sPartNext, cap);
      this.#sPartPrev = growInt32(this.#sPartPrev, cap);
      this.#sCap = cap;
    }
    return slot;
  }

  #allocClientSession(): number {
    const free = this.#cFree.pop();
    if (free !== NONE) return free;
    const cs = this.#cLen++;
    if (cs >= this.#cCap) {
      const cap = grownCapacity(this.#cCap);
      this.#cSession = growInt32(this.#cSession, cap);
      this.#cClient = growInt32(this.#cClient, cap);
      this.#cStarted = growUint32(this.#cStarted, cap);
      this.#cTimestamp = growUint32(this.#cTimestamp, cap);
      this.#cScope = growInt32(this.#cScope, cap);
      this.#cFlags = growUint8(this.#cFlags, cap);
      this.#cNext = growInt32(this.#cNext, cap);
      this.#cClientNext = growInt32(this.#cClientNext, cap);
      this.#cClientPrev = growInt32(this.#cClientPrev, cap);
      this.#cCap = cap;
    }
    return cs;
  }

  #applyCreated(m: SessionCreatedMutation): boolean {
    const key = this.#idKey;
    if (this.#parseId(m.id) !== m.partition || this.#bySid.get(key) !== NONE) return false;
    // Interning may throw (bounded table): do it before anything changes.
    const authMethod = this.#intern(m.authMethod);
    const realmIndex = this.#realmOf(m.realm);
    const realm = this.#realms[realmIndex]!;
    let user = this.#userOf(realmIndex, m.userId);
    if (user === NONE) user = this.#allocUser(realmIndex, m.userId, m.username);
    else if (this.#names.nameOf(this.#uNameEntry[user]!) !== m.username) {
      this.#names.remove(this.#uNameEntry[user]!, this.#rebindName);
      this.#uNameEntry[user] = this.#names.add(user, m.username);
    }

    const slot = this.#allocSession();
    this.#sIdW.set(key, slot * SESSION_KEY_WORDS);
    this.#sPartition[slot] = m.partition;
    this.#bySid.add(slot);
    this.#sUser[slot] = user;
    this.#sStarted[slot] = m.started;
    this.#sLast[slot] = m.lastSessionRefresh;
    this.#sAuthTime[slot] = m.authTime;
    this.#sAuthMethod[slot] = authMethod;
    this.#sGen[slot] = realm.generation;
    const passive = this.#pPassive[m.partition] === 1;
    let flags = (m.rememberMe ? F_REMEMBER_ME : 0) | (passive ? F_PASSIVE : 0);
    const ip4 = parseIpv4(m.ip);
    if (ip4 < 0) {
      flags |= F_IP_TEXT;
      this.#sIpText.set(slot, flat(m.ip));
    } else {
      this.#sIp4[slot] = ip4;
    }
    if (m.notes !== null) {
      flags |= F_NOTES;
      this.#sNotes.set(slot, flatNotes(m.notes));
    }
    this.#sFlags[slot] = flags;
    this.#sFirstCs[slot] = NONE;
    this.#uCount[user]!++;

    // partition list: push front
    const partitionHead = this.#pHead[m.partition]!;
    this.#sPartPrev[slot] = NONE;
    this.#sPartNext[slot] = partitionHead;
    if (partitionHead !== NONE) this.#sPartPrev[partitionHead] = slot;
    this.#pHead[m.partition] = slot;
    this.#pCount[m.partition]!++;

    if (passive) {
      this.#sUserPrev[slot] = NONE;
      this.#sUserNext[slot] = NONE;
      this.#sRealmPrev[slot] = NONE;
      this.#sRealmNext[slot] = NONE;
    } else {
      this.#linkServed(slot, user, realm);
      this.#rearm(slot);
    }
    return true;
  }

  /** Links a session into its user's list (front) and its realm's (tail, creation order), and counts it. */
  #linkServed(slot: number, user: number, realm: RealmState): void {
    const head = this.#uHead[user]!;
    this.#sUserPrev[slot] = NONE;
    this.#sUserNext[slot] = head;
    if (head !== NONE) this.#sUserPrev[head] = slot;
    this.#uHead[user] = slot;

    this.#sRealmNext[slot] = NONE;
    this.#sRealmPrev[slot] = realm.tail;
    if (realm.tail !== NONE) this.#sRealmNext[realm.tail] = slot;
    else realm.head = slot;
    realm.tail = slot;
    realm.sessions++;
  }

  #applyAttached(m: ClientAttachedMutation): boolean {
    const slot = this.#find(m.id);
    if (slot === NONE) return false;
    // Interning may throw (bounded table): do it before anything changes.
    const scope = this.#intern(m.scope);
    const realmIndex = this.#uRealm[this.#sUser[slot]!]!;
    const clientIndex = this.#clientOf(realmIndex, m.client);
    const client = this.#clients[clientIndex]!;
    const served = (this.#sFlags[slot]! & F_PASSIVE) === 0;
    let cs = this.clientSlotOf(slot, m.client);
    if (cs === NONE) {
      cs = this.#allocClientSession();
      this.#cSession[cs] = slot;
      this.#cClient[cs] = clientIndex;
      this.#cNext[cs] = this.#sFirstCs[slot]!;
      this.#sFirstCs[slot] = cs;
      if (served) this.#linkClientServed(cs, client, realmIndex);
    } else if (this.#cStarted[cs] !== m.started) {
      // restartClientSession: a new start, so it moves to the tail of the client's list
      // and its old refresh-token chains are forgotten.
      if (served) {
        this.#unlinkClient(client, cs);
        this.#linkClientTail(client, cs);
      }
      this.#cChains.delete(cs);
      this.#cFlags[cs] = this.#cFlags[cs]! & ~CF_CHAINS;
    }
    this.#cStarted[cs] = m.started;
    this.#cTimestamp[cs] = m.timestamp;
    this.#cScope[cs] = scope;
    // Chains stay with a client session attached again without a new start (a fresh one has none).
    this.#cFlags[cs] = (m.ssoAuth ? CF_SSO_AUTH : 0) | (m.notes !== null ? CF_NOTES : 0) | (this.#cFlags[cs]! & CF_CHAINS);
    if (m.notes !== null) this.#cNotes.set(cs, flatNotes(m.notes));
    else this.#cNotes.delete(cs);
    if (m.userRefresh >= 0) this.#sLast[slot] = m.userRefresh;
    if (!served) return true;
    const deadline = this.#deadline(slot);
    if (!this.#wheel.isScheduled(slot) || deadline < this.#wheel.deadlineOf(slot)) this.#wheel.schedule(slot, deadline);
    return true;
  }

  #applyAuthenticated(m: SessionAuthenticatedMutation): boolean {
    const slot = this.#find(m.id);
    if (slot === NONE) return false;
    this.#sAuthTime[slot] = m.authTime;
    return true;
  }

  #applyTouched(m: SessionTouchedMutation): boolean {
    const slot = this.#find(m.id);
    if (slot === NONE) return false;
    // Idle clocks only move forward: touches apply in any order (a late batch changes nothing).
    if (m.lastSessionRefresh > this.#sLast[slot]!) {
      this.#jump = m.lastSessionRefresh - this.#sLast[slot]!;
      this.#sLast[slot] = m.lastSessionRefresh;
    }
    return true;
  }

  #applyRefreshed(m: ClientRefreshedMutation): boolean {
    const slot = this.#find(m.id);
    if (slot === NONE) return false;
    const cs = this.clientSlotOf(slot, m.client);
    if (cs === NONE) return false;
    // Both idle clocks only move forward, so refreshes apply in any order
    // (Keycloak 26 ignores a smaller client timestamp too).
    this.#jump = Math.max(0, m.at - this.#sLast[slot]!, m.at - this.#cTimestamp[cs]!);
    if (m.at > this.#sLast[slot]!) this.#sLast[slot] = m.at;
    if (m.at > this.#cTimestamp[cs]!) this.#cTimestamp[cs] = m.at;
    if (m.chainKey !== null && m.chain !== null) {
      let chains = this.#chainsOfClient(cs);
      if (chains === undefined) {
        chains = new Map();
        this.#cChains.set(cs, chains);
        this.#cFlags[cs] = this.#cFlags[cs]! | CF_CHAINS;
      }
      chains.set(m.chainKey, m.chain);
    }
    return true;
  }

  #applyDetached(m: ClientDetachedMutation): boolean {
    const slot = this.#find(m.id);
    if (slot === NONE) return false;
    const cs = this.clientSlotOf(slot, m.client);
    if (cs === NONE) return false;
    // unlink from the session's list
    let prev = NONE;
    for (let c = this.#sFirstCs[slot]!; c !== cs; c = this.#cNext[c]!) prev = c;
    if (prev === NONE) this.#sFirstCs[slot] = this.#cNext[cs]!;
    else this.#cNext[prev] = this.#cNext[cs]!;
    this.#freeClientSession(cs, this.#uRealm[this.#sUser[slot]!]!);
    return true;
  }

  /** Links a served session's client session into its client's list (tail) and counts it. */
  #linkClientServed(cs: number, client: ClientState, realmIndex: number): void {
    this.#linkClientTail(client, cs);
    if (client.realm === realmIndex) client.count++;
    else client.foreign++;
    this.#realms[realmIndex]!.clientSessions++;
  }

  /** Takes a served session's client session off its client's list and counts; `counted` as for #freeClientSession. */
  #unlinkClientServed(cs: number, client: ClientState, realmIndex: number, counted: boolean): void {
    this.#unlinkClient(client, cs);
    // A cleared realm zeroed its own clients' counts; a client of another realm still counts this one.
    if (client.realm !== realmIndex) client.foreign--;
    else if (counted) client.count--;
    if (counted) this.#realms[realmIndex]!.clientSessions--;
  }

  /** Frees a client session; `counted`: it is still in its realm's count (not one of a cleared realm). */
  #freeClientSession(cs: number, realmIndex: number, counted = true): void {
    const client = this.#clients[this.#cClient[cs]!]!;
    if ((this.#sFlags[this.#cSession[cs]!]! & F_PASSIVE) === 0) this.#unlinkClientServed(cs, client, realmIndex, counted);
    const flags = this.#cFlags[cs]!;
    if ((flags & CF_NOTES) !== 0) this.#cNotes.delete(cs);
    if ((flags & CF_CHAINS) !== 0) this.#cChains.delete(cs);
    this.#cFlags[cs] = 0;
    this.#cSession[cs] = NONE;
    this.#cFree.push(cs);
  }

  #linkClientTail(client: ClientState, cs: number): void {
    this.#cClientNext[cs] = NONE;
    this.#cClientPrev[cs] = client.tail;
    if (client.tail !== NONE) this.#cClientNext[client.tail] = cs;
    else client.head = cs;
    client.tail = cs;
  }

  #unlinkClient(client: ClientState, cs: number): void {
    const prev = this.#cClientPrev[cs]!;
    const next = this.#cClientNext[cs]!;
    if (prev !== NONE) this.#cClientNext[prev] = next;
    else client.head = next;
    if (next !== NONE) this.#cClientPrev[next] = prev;
    else client.tail = prev;
  }

  #applyRemoved(m: SessionRemovedMutation, at: number): boolean {
    const slot = this.#find(m.id);
    if (slot === NONE) return false;
    if (this.#listener !== null && (this.#sFlags[slot]! & F_PASSIVE) === 0) this.#listener(this.view(slot), m.reason, at);
    this.#unlinkRealm(slot);
    this.#free(slot);
    return true;
  }

  /** Takes a live session off its realm's list and count (a passive copy is on neither). */
  #unlinkRealm(slot: number): void {
    if ((this.#sFlags[slot]! & F_PASSIVE) !== 0) return;
    const realm = this.#realms[this.#uRealm[this.#sUser[slot]!]!]!;
    const rPrev = this.#sRealmPrev[slot]!;
    const rNext = this.#sRealmNext[slot]!;
    if (rPrev !== NONE) this.#sRealmNext[rPrev] = rNext;
    else realm.head = rNext;
    if (rNext !== NONE) this.#sRealmPrev[rNext] = rPrev;
    else realm.tail = rPrev;
    realm.sessions--;
  }

  #unlinkUser(slot: number, user: number): void {
    const uPrev = this.#sUserPrev[slot]!;
    const uNext = this.#sUserNext[slot]!;
    if (uPrev !== NONE) this.#sUserNext[uPrev] = uNext;
    else this.#uHead[user] = uNext;
    if (uNext !== NONE) this.#sUserPrev[uNext] = uPrev;
  }

  /**
   * Frees a session's memory and unlinks it from every index but the realm
   * list (the caller's job). `counted`: its client sessions are still in the
   * realm's and their clients' counts (false for a session of a cleared realm,
   * whose counts were zeroed).
   */
  #free(slot: number, counted = true): void {
    const user = this.#sUser[slot]!;
    const realmIndex = this.#uRealm[user]!;

    for (let cs = this.#sFirstCs[slot]!; cs !== NONE; ) {
      const next = this.#cNext[cs]!;
      this.#freeClientSession(cs, realmIndex, counted);
      cs = next;
    }
    this.#sFirstCs[slot] = NONE;

    if ((this.#sFlags[slot]! & F_PASSIVE) === 0) this.#unlinkUser(slot, user);
    if (--this.#uCount[user]! === 0) this.#freeUser(user);

    // partition list
    const partition = this.#sPartition[slot]!;
    const pPrev = this.#sPartPrev[slot]!;
    const pNext = this.#sPartNext[slot]!;
    if (pPrev !== NONE) this.#sPartNext[pPrev] = pNext;
    else this.#pHead[partition] = pNext;
    if (pNext !== NONE) this.#sPartPrev[pNext] = pPrev;
    this.#pCount[partition]!--;

    this.#wheel.cancel(slot);
    this.#bySid.remove(slot);
    if (this.#lastSlot === slot) this.#forgetLast();
    // The flags say which side maps hold the slot: most sessions are in none, and a probe costs.
    const flags = this.#sFlags[slot]!;
    if ((flags & F_IP_TEXT) !== 0) this.#sIpText.delete(slot);
    if ((flags & F_NOTES) !== 0) this.#sNotes.delete(slot);
    this.#sFree.push(slot);
  }

  /**
   * One partition's sessions of a realm end (a replica or a journal replaying
   * a logout-all): the partition's list is walked, so the cost is that
   * partition's sessions. The shard that decides a logout-all takes the O(1)
   * path of clearRealm instead.
   */
  #applyRealmCleared(m: RealmClearedMutation): boolean {
    const index = this.#realmIndex.get(m.realm);
    if (index === undefined) return false;
    for (const slot of this.partitionSlots(m.partition)) {
      if (this.#uRealm[this.#sUser[slot]!] !== index) continue;
      this.#unlinkRealm(slot);
      this.#free(slot);
    }
    return true;
  }

  /** Sessions of cleared realms still waiting to be freed. */
  get clearing(): boolean {
    return this.#doomed.length > 0;
  }

  /**
   * Frees up to `budget` sessions of cleared realms (logout-all, realm
   * removal), stopping early once `timeBudgetMs` is spent. Returns true when
   * nothing is left to free.
   */
  clearSlice(budget: number, timeBudgetMs = Infinity): boolean {
    const started = performance.now();
    let freed = 0;
    while (this.#doomed.length > 0) {
      const entry = this.#doomed[0]!;
      let slot = entry[0];
      while (slot !== NONE && freed < budget) {
        const next = this.#sRealmNext[slot]!;
        this.#free(slot, false);
        slot = next;
        if ((++freed & 255) === 0 && performance.now() - started >= timeBudgetMs) break;
      }
      if (slot === NONE) this.#doomed.shift();
      else {
        entry[0] = slot;
        return false;
      }
      if (freed >= budget) return this.#doomed.length === 0;
    }
    return true;
  }

  /**
   * Ends every served session of a realm in O(1), however many: the realm's
   * generation is bumped (each of its sessions is dead for every lookup from
   * now on) and its list is set aside to be freed in slices (clearSlice).
   * Passive copies are not ended: their primaries' records end them. The
   * sink receives one realmCleared record per partition in `partitions` (the
   * partitions this table holds), which is what a replica applies. Returns
   * how many sessions ended.
   */
  clearRealm(realmId: string, reason: EndReason, partitions: readonly number[]): number {
    const index = this.#realmIndex.get(realmId);
    if (index === undefined) return 0;
    const realm = this.#realms[index]!;
    const count = realm.sessions;
    if (realm.head === NONE) return 0;
    realm.generation = (realm.generation + 1) & 0xffff;
    this.#forgetLast();
    this.#doomed.push([realm.head, index]);
    realm.head = NONE;
    realm.tail = NONE;
    realm.sessions = 0;
    // Its client sessions end too: out of the realm's and its clients' counts now.
    realm.clientSessions = 0;
    for (const client of this.#clients) if (client.realm === index) client.count = 0;
    if (this.#sink !== null) for (const partition of partitions) this.#sink({ k: MUTATION.realmCleared, realm: realmId, partition, reason }, 0);
    return count;
  }
}
