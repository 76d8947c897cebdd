// The journal log's layout, shared by the shards that write it
// (actor/journal.ts) and the host that re-keys or clears it before they
// start. The log is in segment files, per shard (journal-segments.ts);
// schema versions 2 and 3 kept it in LMDB, one append-only range per shard,
// `[shard, n] -> [{p, s, m}, ...]`, a value per turn keyed by the position of
// its first record (version 2 wrote a value per record: `{p, s, m}`). That
// database is still read, and it is where a log written with another shard
// count is moved to, re-keyed.

import { rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Mutation } from '../protocol/mutations.js';
import { shardOfPartition } from '../protocol/partition.js';
import { JOURNAL_DIR, listSegments, readSegment } from './journal-segments.js';
import { DB, type LmdbEnv } from './lmdb-env.js';

/** The directory of the log's segments, beside the environment's file. */
export function journalDirOf(env: LmdbEnv): string {
  return join(dirname(env.path), JOURNAL_DIR);
}

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
 * Before the shards start: a log written with another shard count (segments,
 * or the LMDB log) is moved into the LMDB log, re-keyed so that each shard's
 * records are in its own range again (a partition's records keep their
 * order), in one transaction; the segments are deleted once it is on disk.
 * Nothing to do in the usual case. Interrupted after the commit, it runs again
 * at the next start: a record present twice is read once (start-up skips a
 * partition's records up to the seq it reached).
 */
export async function rekeyJournalLog(env: LmdbEnv, shardCount: number): Promise<void> {
  const meta = env.db<number>(DB.meta);
  const stale = listSegments(journalDirOf(env)).filter((segment) => segment.shardCount !== shardCount);
  if (meta.get('journalShards') === shardCount && stale.length === 0) return;
  const log = env.db<LogValue>(DB.journalLog);
  await env.root.transaction(() => {
    const next = new Array<number>(shardCount).fill(0);
    const entries: LogEntry[] = [];
    const keys: LogKey[] = [];
    for (const { key, value } of log.getRange({ start: [0, 0], end: [Number.MAX_SAFE_INTEGER] })) {
      keys.push(key as LogKey);
      entries.push(...logRecords(value));
    }
    for (const key of keys) log.remove(key);
    for (const segment of stale) readSegment(segment, (_, turn) => entries.push(...turn));
    for (const entry of entries) {
      const shard = shardOfPartition(entry.p, shardCount);
      log.put([shard, next[shard]!++], [entry]);
    }
    meta.put('journalShards', shardCount);
  });
  await env.root.flushed;
  for (const segment of stale) unlinkSync(segment.path);
}

/**
 * Before the shards start: erases the online sessions the disk holds (the
 * journal's segments and LMDB log, its idle clocks, the snapshots). A
 * cluster member that joins as a new incarnation starts from nothing: what
 * its disk held is not what the cluster counts on, and a later restart must
 * not bring it back. Whole databases are dropped where their pages can
 * simply be freed; the two that keep their records' shapes in a key of their
 * own are emptied key by key.
 */
export async function clearOnlineSessions(env: LmdbEnv): Promise<void> {
  rmSync(journalDirOf(env), { recursive: true, force: true });
  await Promise.all([DB.onlineChunks, DB.onlineSeq, DB.journalTouches, DB.online].map((name) => env.db(name).clearAsync()));
  await env.root.transaction(() => {
    for (const name of [DB.journalLog, DB.journal]) {
      const db = env.db(name);
      for (const key of db.getKeys({ start: [0, 0], end: [Number.MAX_SAFE_INTEGER] })) db.remove(key);
    }
  });
}
