// Offline sessions for the offline-store and startup-offline scenarios:
// written through the real OfflineStore (so records, index entries, counters
// and expiry deadlines are exactly what a node writes), driven in-process on
// the calling thread instead of through a shard worker; or, for a million of
// them, cloned from one record OfflineStore wrote, straight into its layout.

import { OfflineStore, type OfflineSessionRecord, type OfflineSettings } from '../../src/offline/offline-store.js';
import type { SessionView } from '../../src/protocol/actor-messages.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { clientSessionSettings, realmSessionSettings, type ClientSessionSettings, type RealmSessionSettings } from '../../src/session/index.js';
import { DB, type LmdbEnv } from '../../src/store/lmdb-env.js';
import { IDLE_GRACE_DEFAULT_S, PARTITION_COUNT } from '../../src/constants.js';
import { flatUuid, ipOf, username } from './data.js';

export const OFFLINE_SCOPE = 'openid offline_access';
/** Grants kept in flight: lmdb-js commits every transaction queued in one event-loop turn together. */
export const GRANT_LANES = 2048;

/** Settings as a shard holds them: one realm, any client with Keycloak's defaults unless given. */
export function offlineSettings(
  realmId: string,
  realm: RealmSessionSettings = realmSessionSettings(),
  clients: ReadonlyMap<string, ClientSessionSettings> = new Map(),
): OfflineSettings {
  const defaults = clientSessionSettings({});
  return {
    realm: (id) => (id === realmId ? realm : undefined),
    client: (uuid) => clients.get(uuid) ?? defaults,
  };
}

/** An in-process OfflineStore owning every partition (shard 0 of 1), on `env`. */
export function inProcessOfflineStore(env: LmdbEnv, settings: OfflineSettings, cacheEntries: number): OfflineStore {
  return new OfflineStore(env, { shard: 0, shardCount: 1, cacheEntries, graceSeconds: IDLE_GRACE_DEFAULT_S, settings });
}

/** The online session user i would have just logged in with (flat strings, as a shard holds them). */
export function onlineView(i: number, realmId: string, now: number): { view: SessionView; partition: number } {
  const userId = flatUuid();
  const partition = partitionOf(realmId, userId);
  return {
    partition,
    view: {
      id: newSessionId(partition),
      realm: realmId,
      userId,
      username: username(i),
      ip: ipOf(i),
      authMethod: 'openid-connect',
      rememberMe: false,
      started: now,
      lastSessionRefresh: now,
      authTime: now,
      clients: [],
      notes: null,
    },
  };
}

/**
 * Grants `count` offline sessions (users offset..offset+count-1) with one
 * offline client session each, GRANT_LANES in flight; resolves with their ids
 * in grant order once every one is committed.
 */
export async function grantMany(
  store: OfflineStore,
  opts: { count: number; offset?: number; realmId: string; clientUuid: string; now: number; progress?: (done: number) => void },
): Promise<string[]> {
  const { count, realmId, clientUuid, now } = opts;
  const offset = opts.offset ?? 0;
  const ids: string[] = new Array<string>(count);
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const { view, partition } = onlineView(offset + i, realmId, now);
      ids[i] = view.id;
      await store.grant(view, clientUuid, OFFLINE_SCOPE, now, partition);
      if (++done % 100_000 === 0) opts.progress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(GRANT_LANES, count) }, lane));
  return ids;
}

/** Records per write transaction of bulkWriteOffline: large, so each durable commit (fsync) carries many. */
const BULK_CHUNK = 50_000;

/**
 * Writes `count` more offline sessions (users offset..offset+count-1) straight
 * into LMDB in OfflineStore's layout (offline-store.ts header): the record,
 * its offline-by-user, offline-by-client and offline-expiry entries, and the
 * offline-users / offline-counts counters per partition, added to what is
 * there. Each record is `template` (a record OfflineStore.grant wrote, so the
 * format and the deadline are the real ones; every clone shares its clocks
 * and settings, hence its deadline) with its own id, partition, user and IP.
 * About 2x faster than a grant per session (one transaction per grant, a
 * read-modify-write of two counters each); the caller checks the result
 * through OfflineStore's read paths. Resolves with every 100,000th id (and
 * appends every id to `ids` when given).
 */
export async function bulkWriteOffline(
  env: LmdbEnv,
  template: OfflineSessionRecord,
  opts: { count: number; offset: number; progress?: (done: number) => void; ids?: string[] },
): Promise<string[]> {
  if (template.clients.length !== 1) throw new Error('bulkWriteOffline clones records with one client session');
  const client = template.clients[0]!.client;
  const records = env.db<OfflineSessionRecord>(DB.offline);
  const byUser = env.db<null>(DB.offlineByUser);
  const byClient = env.db<null>(DB.offlineByClient);
  const expiry = env.db<null>(DB.offlineExpiry);
  const counts = env.db<number>(DB.offlineCounts);
  const users = env.db<number>(DB.offlineUsers);
  const perPartition = new Map<number, number>();
  const samples: string[] = [];
  for (let start = 0; start < opts.count; start += BULK_CHUNK) {
    const chunk: OfflineSessionRecord[] = [];
    for (let i = start; i < Math.min(opts.count, start + BULK_CHUNK); i++) {
      const { view, partition } = onlineView(opts.offset + i, template.realm, template.started);
      chunk.push({ ...template, id: view.id, partition, userId: view.userId, username: view.username, ip: view.ip });
      perPartition.set(partition, (perPartition.get(partition) ?? 0) + 1);
      if (i % 100_000 === 0) samples.push(view.id);
      opts.ids?.push(view.id);
    }
    // Each database's entries in its own key order: inserts into a large
    // B-tree in key order touch each page once per chunk instead of once per
    // entry (ids and user ids are random, so arrival order is the worst case).
    // All keys here are ASCII or small integers: JS order is LMDB's byte order.
    const byId = [...chunk].sort((a, b) => (a.id < b.id ? -1 : 1));
    const byUserKey = [...chunk].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.id < b.id ? -1 : 1));
    const byExpiry = [...chunk].sort((a, b) => a.partition - b.partition || (a.id < b.id ? -1 : 1));
    await env.root.transaction(() => {
      for (const r of byId) {
        records.put(r.id, r);
        byClient.put([client, r.id], null);
      }
      for (const r of byUserKey) byUser.put([r.realm, r.userId, r.id], null);
      for (const r of byExpiry) expiry.put([r.partition, r.deadline, r.id], null);
    });
    opts.progress?.(Math.min(opts.count, start + BULK_CHUNK));
  }
  await env.root.transaction(() => {
    for (const [partition, n] of perPartition) {
      users.put([template.realm, partition], (users.get([template.realm, partition]) ?? 0) + n);
      counts.put([client, partition], (counts.get([client, partition]) ?? 0) + n);
    }
  });
  return samples;
}

/** The per-client offline counters on disk, summed over partitions (checks what a bench wrote). */
export function offlineClientCount(env: LmdbEnv, clientUuid: string): number {
  let total = 0;
  for (const { value } of env.db<number>(DB.offlineCounts).getRange({ start: [clientUuid], end: [clientUuid, PARTITION_COUNT] })) total += value;
  return total;
}

/** The per-realm offline counters on disk, summed over partitions. */
export function offlineRealmCount(env: LmdbEnv, realmId: string): number {
  let total = 0;
  for (const { value } of env.db<number>(DB.offlineUsers).getRange({ start: [realmId], end: [realmId, PARTITION_COUNT] })) total += value;
  return total;
}
