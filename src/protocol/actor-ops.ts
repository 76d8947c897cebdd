// Operation codes of the host <-> shard protocol. Numbers travel on the wire
// (and later between nodes): they are never renumbered, and a retired op
// keeps its number in RETIRED_OPS. Bump PROTOCOL_VERSION on any change of a
// command's or reply's shape; a worker refuses a boot with another version.

export const PROTOCOL_VERSION = 7;

export const OP = Object.freeze({
  realmPut: 1,
  realmRemove: 2,
  clientPut: 3,
  clientRemove: 4,

  sessionCreate: 10,
  sessionAttachClient: 11,
  sessionRefresh: 12,
  sessionTouch: 13,
  sessionGet: 14,
  sessionRemove: 15,
  sessionDetachClient: 16,

  userLogout: 20,
  userSessions: 21,
  realmLogoutAll: 22,

  clientSessions: 30,
  clientSessionCount: 31,
  realmClientStats: 32,
  realmSearch: 33,
  realmList: 34,

  revokeIds: 40,
  revokeFilter: 41,
  countFilter: 42,

  offlineGrant: 60,
  offlineGet: 61,
  offlineRefresh: 62,
  offlineRemove: 63,
  offlineRemoveClient: 64,
  offlineUserSessions: 65,
  offlineRemoveUser: 66,
  offlineRemoveClientAll: 67,
  offlineRemoveRealm: 68,

  offlineClientCount: 90,
  offlineClientSessions: 91,
  offlineRealmSearch: 92,
  offlineRevokeFilter: 93,
  offlineCountFilter: 94,
  offlineRealmList: 95,

  partitionRoles: 100,
  partitionExport: 101,
  copyFilled: 102,
  copyRefill: 103,
  partitionDigest: 104,

  snapshotSave: 70,
  snapshotLoad: 71,
  shutdown: 72,

  codePut: 80,
  codeTake: 81,
  chainGet: 82,

  timeAdvance: 50,
  statsGet: 51,
  subscribe: 52,
  mutationsReplay: 53,
  chunkReplay: 54,

  // Login failures (brute-force detection), kept in the user's partition.
  loginFailureGet: 110,
  loginFailureRecord: 111,
  loginFailureRemove: 112,
  loginFailureRemoveRealm: 113,
  loginFailurePut: 114,
} as const);

export type OpName = keyof typeof OP;
export type OpCode = (typeof OP)[OpName];

/**
 * Which lane a command travels in (host batching and the shard's mailbox):
 * 'request' — what an HTTP request waits for; it acts on the partitions the
 * shard serves. 'replicated' — a state transfer's chunks, a backup's records,
 * a partition export: work on passive copies, or a read. The two commute,
 * so requests (and a backup's records) may go ahead of queued chunks and
 * exports (src/actor/batch-order.ts). 'barrier' —
 * everything else (roles, realms, clients, time, snapshots, listings): it
 * keeps its place among all of them.
 */
export type OpLane = 'request' | 'replicated' | 'barrier';

const REQUEST_OPS: readonly number[] = [
  OP.sessionCreate, OP.sessionAttachClient, OP.sessionRefresh, OP.sessionTouch, OP.sessionGet, OP.sessionRemove, OP.sessionDetachClient,
  OP.userLogout, OP.userSessions, OP.offlineGrant, OP.offlineGet, OP.offlineRefresh, OP.codePut, OP.codeTake, OP.chainGet,
  OP.loginFailureGet, OP.loginFailureRecord, OP.loginFailurePut, OP.loginFailureRemove,
];
const REPLICATED_OPS: readonly number[] = [OP.mutationsReplay, OP.chunkReplay, OP.copyRefill, OP.copyFilled, OP.partitionExport, OP.partitionDigest];
/** Lane by op code (every code is below 256; any other number reads undefined: a barrier), read per command on the hot path. */
const LANES: readonly OpLane[] = ['barrier', 'request', 'replicated'];
const LANE_OF_CODE = new Uint8Array(256);
for (const op of REQUEST_OPS) LANE_OF_CODE[op] = 1;
for (const op of REPLICATED_OPS) LANE_OF_CODE[op] = 2;

export function opLane(code: unknown): OpLane {
  return typeof code === 'number' ? LANES[LANE_OF_CODE[code] ?? 0]! : 'barrier';
}

/** Retired op numbers: never reuse. */
export const RETIRED_OPS: readonly number[] = Object.freeze([]);

const NAME_BY_CODE = new Map<number, OpName>(
  (Object.entries(OP) as [OpName, number][]).map(([name, code]) => [code, name]),
);

/** The op's name (for metrics labels and logs), or 'unknown'. */
export function opName(code: number): OpName | 'unknown' {
  return NAME_BY_CODE.get(code) ?? 'unknown';
}
