// The journal log's layout, shared by the shards that write it
// (actor/journal.ts) and the host that re-keys or clears it before they start: one
// append-only range per shard, `[shard, n] -> [{p, s, m}, ...]`, a value per
// turn keyed by the position of its first record (schema version 2 wrote a
// value per record: `{p, s, m}`, still read).

import type { Mutation } from '../protocol/mutations.js';
import { shardOfPartition } from '../protocol/partition.js';
import { DB, type LmdbEnv } from './lmdb-env.js';

/** A record as the log keeps it: its partition, its seq in that partition, the record. */
export interface LogEntry {
  p: number;
  s: number;
  m: Mutation;
}

export type LogKey = [number, number];

/** A log value: the records of one turn (schema version 2: one record). */
export type LogValue = LogEntry[] | LogEntry;

/** The records a log value holds, in append order. */
export function logRecords(value: LogValue): LogEntry[] {
  return Array.isArray(value) ? value : [value];
}

/**
 * Before the shards start: a log written with another shard count is re-keyed
 * so that each shard's records are in its own range again (a partition's
 * records keep their order). One transaction; nothing to do in the usual case.
 */
export async function rekeyJournalLog(env: LmdbEnv, shardCount: number): Promise<void> {
  const meta = env.db<number>(DB.meta);
  const written = meta.get('journalShards');
  if (written === shardCount) return;
  const log = env.db<LogValue>(DB.journalLog);
  await env.root.transaction(() => {
    const next = new Array<number>(shardCount).fill(0);
    const entries: [LogKey, LogValue][] = [];
    for (const { key, value } of log.getRange({ start: [0, 0], end: [Number.MAX_SAFE_INTEGER] })) entries.push([key as LogKey, value]);
    for (const [key] of entries) log.remove(key);
    for (const [, value] of entries) {
      for (const entry of logRecords(value)) {
        const shard = shardOfPartition(entry.p, shardCount);
        log.put([shard, next[shard]!++], [entry]);
      }
    }
    meta.put('journalShards', shardCount);
  });
}

/**
 * Before the shards start: erases the online sessions the disk holds (the
 * journal, its idle clocks, the snapshots). A cluster member that joins as a
 * new incarnation starts from nothing: what its disk held is not what the
 * cluster counts on, and a later restart must not bring it back. Whole
 * databases are dropped where their pages can simply be freed; the two that
 * keep their records' shapes in a key of their own are emptied key by key.
 */
export async function clearOnlineSessions(env: LmdbEnv): Promise<void> {
  await Promise.all([DB.onlineChunks, DB.onlineSeq, DB.journalTouches, DB.online].map((name) => env.db(name).clearAsync()));
  await env.root.transaction(() => {
    for (const name of [DB.journalLog, DB.journal]) {
      const db = env.db(name);
      for (const key of db.getKeys({ start: [0, 0], end: [Number.MAX_SAFE_INTEGER] })) db.remove(key);
    }
  });
}
