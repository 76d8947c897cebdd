// offline-store: offline sessions (LRU over LMDB, docs/keycloak-semantics.md#offline-sessions) against
// the raw building blocks they are made of, each pair in the same run.
//
//   offline_create_ops_per_s    createSession + grantOffline through an
//       Engine with 2 shard workers on a temp LMDB environment, CREATE_LANES
//       grants in flight. Baseline: raw lmdb-js async `put` of the same
//       record (same size, same database options, fresh keys), all fired at
//       once and awaited at the end, on a fresh environment: the floor of one
//       durable write per grant. A grant does more on purpose (a worker round
//       trip for the online session, another for the grant, one transaction
//       with the record, 3 index entries and 2 counter read-modify-writes,
//       awaited until committed), so the ratio shows what all that costs; no
//       target in docs/performance.md#targets.
//   offline_hot_get_ops_per_s   OfflineStore.get of records in its cache.
//       Measured on the shard side: an OfflineStore driven in-process on
//       this thread with a real LmdbEnv (no worker messaging, which would
//       dominate and is measured by engine-actors). Baseline: an lru-cache
//       LRUCache of the same size holding the same record objects, read with
//       the same key sequence. Target >= 0.8x.
//   offline_cold_get_ops_per_s  OfflineStore.get of records evicted from the
//       cache (read back from LMDB, checked, cached again). Baseline: raw
//       lmdb-js `get` of the same keys from the same database of the same
//       environment. Target >= 0.5x.
//
// The get rates are per second of the measuring thread's own CPU time
// (lib/thread-cpu.ts): both sides are tight single-threaded loops, and on
// this shared machine other jobs can take most of the CPU for seconds, which
// wall time would charge to whichever side was running (wall rates are in
// the log). Store and baseline alternate, in segments (hot) or passes (cold)
// after unmeasured warm-up ones, and the figures are sums over all of them.
//
// The cold pass reads the records written first, in a shuffled order, and
// never fewer than twice the cache size: at its start the cache holds only
// the records touched last, so every read in it misses (each miss evicts the
// least recently used entry, never one the pass reads later).
//
// The create figures are wall time (a grant is done when it is durable, so
// fsync latency is part of it); the log has CPU microseconds per operation
// (process.cpuUsage: every thread) for the contention-proof view.

import { LRUCache } from 'lru-cache';
import { pack } from 'msgpackr';
import { performance } from 'node:perf_hooks';
import { Engine } from '../../src/host/engine.js';
import type { OfflineSessionRecord } from '../../src/offline/offline-store.js';
import { DB, openEnv, type LmdbEnv } from '../../src/store/lmdb-env.js';
import { ManualClock } from '../../src/time/clock.js';
import { tempDir } from '../http/processes.js';
import { flatUuid, ipOf, permutation, username } from '../lib/data.js';
import { bulkWriteOffline, grantMany, inProcessOfflineStore, OFFLINE_SCOPE, offlineSettings, onlineView } from '../lib/offline-data.js';
import { row, type Scenario } from '../lib/scenario.js';
import { cpuSecondsSince, median } from '../lib/stats.js';
import { timed } from '../lib/thread-cpu.js';

const NAME = 'offline-store';
const SHARDS = 2;
const CACHE_ENTRIES = 10_000;
const START_SECOND = 1_800_000_000;
const REALM = 'bench';
const CLIENT = 'c-offline';
const CREATE_LANES = 1024;
const CREATE_FULL = 100_000;
const CREATE_QUICK = 40_000;
/** Records in the in-process store: the cold pass reads all but the cached ones. */
const RECORDS_FULL = 300_000;
const RECORDS_QUICK = 60_000;
/**
 * Hot gets run in segments of HOT_ROUNDS_PER_SEGMENT passes over the cached
 * ids, store and baseline alternating, summed per side: drift (JIT tiers,
 * other jobs) hits both sides alike instead of one repeat.
 */
const HOT_ROUNDS_PER_SEGMENT = 30;
const HOT_SEGMENTS_FULL = 24;
const HOT_SEGMENTS_QUICK = 8;
const WARMUP_SEGMENTS = 3;
const COLD_PASSES = 3;

/** Gets and the time they took, summed over segments. */
class Side {
  gets = 0;
  wallMs = 0;
  cpuMs = 0;

  add(gets: number, t: { wallMs: number; cpuMs: number }): void {
    this.gets += gets;
    this.wallMs += t.wallMs;
    this.cpuMs += t.cpuMs;
  }

  /** Gets per second of the thread's own CPU time: the figure the rows report. */
  cpuRate(): number {
    return rate(this.gets, this.cpuMs);
  }

  describe(): string {
    return `${fmt(this.cpuRate())}/s per CPU second (${fmt(rate(this.gets, this.wallMs))}/s wall)`;
  }
}

function rate(count: number, ms: number): number {
  return (count * 1000) / ms;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** createSession + grantOffline for users 0..n-1, CREATE_LANES at a time; ops/s. */
async function engineCreate(n: number, log: (line: string) => void): Promise<number> {
  const dir = await tempDir('offline-engine');
  const env = openEnv(dir.path);
  let engine: Engine | null = null;
  try {
    const clock = new ManualClock(START_SECOND);
    engine = await Engine.start({ shards: SHARDS, clock, clockMode: 'manual', env, offlineCacheEntries: CACHE_ENTRIES });
    await engine.putRealm(REALM, {});
    await engine.putClient(REALM, CLIENT, {});
    const e = engine;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const { session } = await e.createSession({
          realm: REALM,
          userId: flatUuid(),
          username: username(i),
          ip: ipOf(i),
          client: { client: CLIENT, scope: OFFLINE_SCOPE },
        });
        await e.grantOffline(session.id, CLIENT, OFFLINE_SCOPE);
      }
    };
    const cpu = process.cpuUsage();
    const t = performance.now();
    await Promise.all(Array.from({ length: Math.min(CREATE_LANES, n) }, lane));
    const ms = performance.now() - t;
    const cpuUs = cpuSecondsSince(cpu) * 1e6;
    const stored = await e.countRealmOfflineSessions(REALM);
    if (stored !== n) throw new Error(`engine: ${stored} offline sessions counted, ${n} granted`);
    log(`engine: ${fmt(n)} createSession + grantOffline in ${(ms / 1000).toFixed(2)} s: ${fmt(rate(n, ms))}/s, ${(cpuUs / n).toFixed(1)} us CPU (all threads) per grant`);
    return rate(n, ms);
  } finally {
    await engine?.close();
    await env.close();
    await dir.remove();
  }
}

/** Raw async puts of `record` under n fresh session ids on a fresh environment; puts/s. */
async function rawPut(n: number, record: OfflineSessionRecord, log: (line: string) => void): Promise<number> {
  const dir = await tempDir('offline-raw');
  const env = openEnv(dir.path);
  try {
    const db = env.db<OfflineSessionRecord>(DB.offline);
    const records = Array.from({ length: n }, (_, i) => {
      const { view } = onlineView(i, REALM, START_SECOND);
      return { ...record, id: view.id, userId: view.userId, username: view.username, ip: view.ip };
    });
    const cpu = process.cpuUsage();
    const t = performance.now();
    let last: Promise<boolean> | null = null;
    for (const r of records) last = db.put(r.id, r);
    await last;
    await env.root.committed;
    const ms = performance.now() - t;
    const cpuUs = cpuSecondsSince(cpu) * 1e6;
    log(`raw lmdb put: ${fmt(n)} in ${(ms / 1000).toFixed(2)} s: ${fmt(rate(n, ms))}/s, ${(cpuUs / n).toFixed(1)} us CPU (all threads) per put`);
    return rate(n, ms);
  } finally {
    await env.close();
    await dir.remove();
  }
}

export const offlineStore: Scenario = {
  name: NAME,
  description: 'offline sessions: engine grants vs raw lmdb put, OfflineStore hot get vs lru-cache, cold get vs raw lmdb get',
  async run({ quick, log }) {
    const records = quick ? RECORDS_QUICK : RECORDS_FULL;
    const creates = quick ? CREATE_QUICK : CREATE_FULL;
    const hotSegments = quick ? HOT_SEGMENTS_QUICK : HOT_SEGMENTS_FULL;

    // ---- in-process OfflineStore: hot and cold gets
    const dir = await tempDir('offline-store');
    let env: LmdbEnv | null = null;
    let template: OfflineSessionRecord | undefined;
    const hot = new Side();
    const lru = new Side();
    const cold = new Side();
    const raw = new Side();
    try {
      env = openEnv(dir.path);
      const store = inProcessOfflineStore(env, offlineSettings(REALM), CACHE_ENTRIES);
      // The records beyond the cache are cloned into OfflineStore's layout from
      // one it granted (lib/offline-data.ts: ~2x cheaper than a grant each, and
      // only read here); the last CACHE_ENTRIES are granted through the store,
      // which leaves exactly them in its cache, as after any run of grants.
      let t = performance.now();
      const first = onlineView(0, REALM, START_SECOND);
      const ids = [(await store.grant(first.view, CLIENT, OFFLINE_SCOPE, START_SECOND, first.partition)).id];
      await bulkWriteOffline(env, store.get(ids[0]!)!, { count: records - CACHE_ENTRIES - 1, offset: 1, ids });
      let ms = performance.now() - t;
      log(`${fmt(records - CACHE_ENTRIES)} records written in OfflineStore's layout in ${(ms / 1000).toFixed(2)} s`);
      t = performance.now();
      ids.push(...(await grantMany(store, { count: CACHE_ENTRIES, offset: records - CACHE_ENTRIES, realmId: REALM, clientUuid: CLIENT, now: START_SECOND })));
      await env.root.committed;
      ms = performance.now() - t;
      log(`in-process OfflineStore.grant: ${fmt(CACHE_ENTRIES)} records in ${(ms / 1000).toFixed(2)} s: ${fmt(rate(CACHE_ENTRIES, ms))}/s (informational)`);
      if (ids.length !== records) throw new Error(`${ids.length} ids for ${records} records`);
      if (store.cacheSize !== CACHE_ENTRIES) throw new Error(`cache holds ${store.cacheSize}, expected ${CACHE_ENTRIES}`);

      // Hot: the last CACHE_ENTRIES granted are the cached ones.
      const hotIds = ids.slice(records - CACHE_ENTRIES);
      const hotKeys = Array.from(permutation(hotIds.length, 1), (i) => hotIds[i]!);
      const cache = new LRUCache<string, OfflineSessionRecord>({ max: CACHE_ENTRIES });
      for (const id of hotIds) cache.set(id, store.get(id)!);
      template = store.get(hotIds[0]!)!;
      log(`record: ${pack(template).length} bytes as msgpack, ${template.clients.length} client session`);
      const segmentGets = hotKeys.length * HOT_ROUNDS_PER_SEGMENT;
      const hotLoop = (get: (id: string) => OfflineSessionRecord | undefined): (() => void) => () => {
        let sum = 0;
        for (let round = 0; round < HOT_ROUNDS_PER_SEGMENT; round++) for (const id of hotKeys) sum += get(id)!.started;
        if (sum !== segmentGets * START_SECOND) throw new Error('hot get returned a wrong record');
      };
      const storeHot = hotLoop((id) => store.get(id));
      const lruHot = hotLoop((id) => cache.get(id));
      for (let s = -WARMUP_SEGMENTS; s < hotSegments; s++) {
        const a = timed(storeHot);
        const b = timed(lruHot);
        if (s >= 0) {
          hot.add(segmentGets, a);
          lru.add(segmentGets, b);
        }
      }
      if (store.cacheSize !== CACHE_ENTRIES) throw new Error('hot gets changed the cache');
      log(`hot: ${hotSegments} segments of ${fmt(segmentGets)} gets each side: OfflineStore ${hot.describe()}; LRUCache ${lru.describe()}`);

      // Cold: everything granted before the cached tail, shuffled.
      const coldIds = ids.slice(0, records - CACHE_ENTRIES);
      if (coldIds.length < 2 * CACHE_ENTRIES) throw new Error('cold pass too short to miss on every read');
      const coldKeys = Array.from(permutation(coldIds.length, 2), (i) => coldIds[i]!);
      const db = env.db<OfflineSessionRecord>(DB.offline);
      const coldLoop = (get: (id: string) => OfflineSessionRecord | undefined): (() => void) => () => {
        let sum = 0;
        for (const id of coldKeys) sum += get(id)!.started;
        if (sum !== coldKeys.length * START_SECOND) throw new Error('cold get returned a wrong record');
      };
      const storeCold = coldLoop((id) => store.get(id));
      const rawCold = coldLoop((id) => db.get(id));
      // One pass each unmeasured: pages into the page cache, both paths through the JIT.
      for (let pass = -1; pass < COLD_PASSES; pass++) {
        const a = timed(storeCold);
        const b = timed(rawCold);
        if (pass >= 0) {
          cold.add(coldKeys.length, a);
          raw.add(coldKeys.length, b);
        }
      }
      log(`cold: ${COLD_PASSES} passes of ${fmt(coldKeys.length)} gets each side: OfflineStore ${cold.describe()}; raw lmdb get ${raw.describe()}`);
      await store.close();
    } finally {
      await env?.close();
      await dir.remove();
    }

    // ---- through the engine: grants vs raw puts, alternately
    if (template === undefined) throw new Error('no template record');
    const engineRates: number[] = [];
    const putRates: number[] = [];
    const createRepeats = quick ? 1 : 2;
    for (let r = 0; r < createRepeats; r++) {
      putRates.push(await rawPut(creates, template, log));
      engineRates.push(await engineCreate(creates, log));
    }

    return [
      row(NAME, 'offline_create_ops_per_s', median(engineRates), 'ops/s', median(putRates)),
      row(NAME, 'offline_hot_get_ops_per_s', hot.cpuRate(), 'ops/s', lru.cpuRate()),
      row(NAME, 'offline_cold_get_ops_per_s', cold.cpuRate(), 'ops/s', raw.cpuRate()),
    ];
  },
};
