// The journal log's layout, shared by the shards that write it
// (actor/journal.ts) and the engine that re-keys it before they start: one
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
