// The one LMDB environment of a node (lmdb-js, values as msgpackr records),
// in `<data-dir>/sessiond.lmdb`, with one named database per kind of record.
// The main thread opens it for realms, clients, users, keys, events and the
// offline-session read paths; every shard worker opens the same environment
// for the offline sessions and online snapshots of the partitions it owns
// (lmdb-js shares one environment between the threads of a process; writes
// from different threads are serialized by LMDB's writer lock). See
// docs/architecture.md "Durable state" for why both, as measured.
//
// A schema version is stored in `meta`: a data directory written by a newer
// sessiond is refused with a clear message instead of being misread.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';

/**
 * The on-disk layout this code reads and writes. Bump on any incompatible
 * change and add a migration. 2: online snapshots as packed chunks
 * (`online-chunks`) and the journal as one append-only log per shard
 * (`journal-log`); version 1's per-session snapshots and per-partition journal
 * are still read, so opening a version 1 directory only records the new
 * version (an older sessiond would not see the new data, so it must refuse
 * the directory). 3: a journal log value holds the records of one turn
 * instead of one record (version 2's values are still read). 4: the journal's
 * log is in segment files beside the environment (`journal/`, see
 * journal-segments.ts); `journal-log` is still read, and emptied once the
 * partitions it holds records of are compacted.
 */
export const SCHEMA_VERSION = 4;

export const ENV_FILE = 'sessiond.lmdb';
const MAX_DBS = 32;
/** Virtual address space reserved for the map (not disk): 64 GiB grows with the data, no preallocation. */
const MAP_SIZE_BYTES = 64 * 1024 ** 3;

/** Named databases. Keys are ordered arrays (lmdb-js ordered-binary), noted per database. */
export const DB = Object.freeze({
  meta: 'meta', //                      string -> value
  realms: 'realms', //                  realmId -> RealmRecord
  realmNames: 'realm-names', //         name -> realmId
  clients: 'clients', //                clientUuid -> ClientRecord
  clientIds: 'client-ids', //           [realmId, clientId] -> clientUuid
  users: 'users', //                    userId -> UserRecord
  usernames: 'usernames', //            [realmId, username] -> userId
  emails: 'emails', //                  [realmId, email] -> userId
  roles: 'roles', //                    [realmId, name] -> RoleRecord
  keys: 'keys', //                      [realmId, kid] -> KeyRecord
  offline: 'offline', //                sessionId -> OfflineSessionRecord
  offlineByUser: 'offline-by-user', //  [realmId, userId, sessionId] -> null
  offlineByClient: 'offline-by-client', // [clientUuid, sessionId] -> null
  offlineExpiry: 'offline-expiry', //   [partition, deadline, sessionId] -> null
  offlineCounts: 'offline-counts', //   [clientUuid, partition] -> count
  offlineUsers: 'offline-users', //     [realmId, partition] -> offline user sessions count
  online: 'online-snapshot', //         [partition, sessionId] -> OnlineSnapshotRecord (schema version 1; read, no longer written)
  onlineChunks: 'online-chunks', //     [partition, n] -> packed records (raw bytes): the partition's snapshot
  onlineSeq: 'online-seq', //           partition -> seq of the last record the partition's snapshot holds
  journal: 'journal', //                [partition, seq] -> Mutation (schema version 1's journal; read, no longer written)
  journalLog: 'journal-log', //         [shard, n] -> [{p, s, m}, ...]: the log of schema versions 2-3 (read), and a log re-keyed for another shard count
  journalTouches: 'journal-touches', // [partition, sessionId, clientUuid | ''] -> idle clock, epoch s
  events: 'events', //                  [realmId, time, id] -> EventRecord
  adminEvents: 'admin-events', //       [realmId, time, id] -> AdminEventRecord
  revoked: 'revoked-tokens', //         jti -> expiry (epoch s)
} as const);
export type DbName = (typeof DB)[keyof typeof DB];

/** Databases whose values are raw bytes (written and read as given, not msgpack-encoded). */
const BINARY_DBS: ReadonlySet<DbName> = new Set([DB.onlineChunks]);
/**
 * Databases whose record shapes are stored once, under the STRUCTURES_KEY
 * entry, instead of in every value (lmdb-js shared structures): the journal
 * holds many small values of a dozen shapes, and reading a shape per value
 * was most of the time start-up spent decoding it. Values written before
 * carry their own shapes and still read.
 */
const SHARED_STRUCTURE_DBS: ReadonlySet<DbName> = new Set([DB.journal, DB.journalLog]);
const STRUCTURES_KEY = Symbol.for('structures');

function dbOptions(name: DbName): Record<string, unknown> {
  if (BINARY_DBS.has(name)) return { encoding: 'binary' };
  if (SHARED_STRUCTURE_DBS.has(name)) return { sharedStructuresKey: STRUCTURES_KEY };
  return {};
}

/**
 * When this data directory first served (epoch s), written on first call.
 * The refresh-token reuse rule compares chains against it rather than against
 * the process start: the journal and the snapshots keep every chain across
 * restarts, so a replay of a rotated token stays provably stale after one.
 */
export function formationTime(env: LmdbEnv, now: number): number {
  const meta = env.db<number>(DB.meta);
  const stored = meta.get('formedAt');
  if (typeof stored === 'number') return stored;
  meta.putSync('formedAt', now);
  return now;
}

export class SchemaError extends Error {
  readonly code = 'ERR_SCHEMA_VERSION';
}

export interface LmdbEnv {
  readonly path: string;
  readonly root: RootDatabase;
  db<V = unknown>(name: DbName): Database<V, any>;
  close(): Promise<void>;
}

/** Opens (creating if needed) the environment in `dataDir` and checks its schema version. */
export function openEnv(dataDir: string, options: { readOnly?: boolean } = {}): LmdbEnv {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, ENV_FILE);
  const root = open({
    path,
    maxDbs: MAX_DBS,
    mapSize: MAP_SIZE_BYTES,
    // Records are small msgpack blobs; compression costs CPU on every read for little gain.
    compression: false,
    useVersions: false,
    readOnly: options.readOnly === true,
  });
  const dbs = new Map<DbName, Database<unknown, any>>();
  const db = <V>(name: DbName): Database<V, any> => {
    let handle = dbs.get(name);
    if (handle === undefined) {
      handle = root.openDB<unknown, any>({ name, compression: false, ...dbOptions(name) });
      dbs.set(name, handle);
    }
    return handle as Database<V, any>;
  };
  const meta = db<number>(DB.meta);
  const version = meta.get('schemaVersion');
  if (version === undefined || (typeof version === 'number' && version < SCHEMA_VERSION)) {
    if (!options.readOnly) meta.putSync('schemaVersion', SCHEMA_VERSION);
  } else if (typeof version !== 'number' || version > SCHEMA_VERSION) {
    void root.close();
    throw new SchemaError(
      `data directory ${dataDir} holds schema version ${String(version)}, but this sessiond understands up to ${SCHEMA_VERSION}: ` +
        'run the newer sessiond that wrote it, or point --data-dir elsewhere',
    );
  }
  return {
    path,
    root,
    db,
    close: async () => {
      await root.close();
    },
  };
}
