// engine-transfer: what a state transfer costs the shards, per session, with
// no network, no other thread and no other load: the part of a rejoin's
// transfer (cluster-rebalance) that the shards do, measured alone.
//
//   transfer_export_sessions_per_s    a primary's partitionExport (its sessions
//                                     as records, packed in chunks) vs packing the
//                                     same records already built
//   transfer_apply_sessions_per_s     a receiving shard's chunkReplay into its
//                                     passive copies (decode, validate, apply) vs
//                                     decoding the same chunks
//   transfer_promote_sessions_per_s   promoting the filled copies, 32 partitions
//                                     at a time (a handoff batch)
//   transfer_shard_us_per_session     the three added up: the shard time one
//                                     transferred session costs, both ends
//   copy_check_sessions_per_s         the digests of every partition (what a copy
//                                     check asks of the primary and of each backup,
//                                     src/actor/partition-digest.ts) vs building the
//                                     same sessions' records alone
//
// A filled copy's snapshot is written from the chunks as they arrived, and a
// promotion writes none unless its grace moved idle clocks (ShardLog), so no
// stage packs the received sessions again.
//
// In-process ShardActors (bench/lib/in-process-shard.ts), every partition of one
// shard; rates per second of the thread's CPU time (bench/lib/thread-cpu.ts), so
// other load on a shared machine stays out; medians of REPEATS, workload and
// baseline alternately.

import { PARTITION_COUNT } from '../../src/constants.js';
import type { ShardActor } from '../../src/actor/shard-actor.js';
import type { PartitionExport } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { packChunks, unpackChunk } from '../../src/protocol/transfer-chunks.js';
import { createCommand, inProcessActor, sessionInput, START_SECOND } from '../lib/in-process-shard.js';
import { timed } from '../lib/thread-cpu.js';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const NAME = 'engine-transfer';
const SESSIONS_FULL = 300_000;
const SESSIONS_QUICK = 30_000;
const REPEATS_FULL = 3;
const REPEATS_QUICK = 1;
/** Logins per second of the sessions' start times: a promotion merges them into lists in start order, same-second ones by id. */
const LOGINS_PER_SECOND = 1_000;
/** Partitions promoted by one role change: the coordinator's handoff batch. */
const PROMOTION_BATCH = 32;
const ALL_PARTITIONS = Array.from({ length: PARTITION_COUNT }, (_, p) => p);

/** Sessions per second of this thread's CPU time that `work` takes over `sessions` sessions (other tenants' load stays out). */
function rate(sessions: number, work: () => void): number {
  return (sessions * 1000) / timed(work).cpuMs;
}

function exportAll(primary: ShardActor): PartitionExport[] {
  return ALL_PARTITIONS.map((partition) => primary.execute({ op: OP.partitionExport, partition }) as PartitionExport);
}

/** A fresh shard holding every partition as a passive copy, as a joining node's is before its chunks arrive. */
function receivingShard(): ShardActor {
  const shard = inProcessActor();
  shard.execute({ op: OP.partitionRoles, partitions: ALL_PARTITIONS, role: 'passive' });
  return shard;
}

interface Stages {
  export: number[];
  pack: number[];
  apply: number[];
  unpack: number[];
  promote: number[];
  digest: number[];
  records: number[];
}

function measureOnce(primary: ShardActor, exports: PartitionExport[], sessions: number, stages: Stages, workloadFirst: boolean): void {
  const records = ALL_PARTITIONS.map((p) => primary.table.partitionRecords(p));
  const chunks = exports.flatMap((e, partition) => e.chunks.map((chunk) => ({ partition, chunk })));
  const receiver = receivingShard();
  const pairs: [number[], () => void, number[], () => void][] = [
    [stages.export, () => exportAll(primary), stages.pack, () => records.forEach((r) => packChunks(r))],
    [stages.apply, () => chunks.forEach(({ partition, chunk }) => receiver.execute({ op: OP.chunkReplay, partition, chunk })), stages.unpack, () => chunks.forEach(({ chunk }) => unpackChunk(chunk))],
    [stages.digest, () => ALL_PARTITIONS.forEach((p) => primary.execute({ op: OP.partitionDigest, partitions: [p] })), stages.records, () => ALL_PARTITIONS.forEach((p) => primary.table.partitionRecords(p))],
  ];
  for (const [value, workload, baseline, floor] of pairs) {
    if (workloadFirst) {
      value.push(rate(sessions, workload));
      baseline.push(rate(sessions, floor));
    } else {
      baseline.push(rate(sessions, floor));
      value.push(rate(sessions, workload));
    }
  }
  if (receiver.table.size !== 0) throw new Error('passive copies must not be served before their promotion');
  stages.promote.push(
    rate(sessions, () => {
      for (let i = 0; i < PARTITION_COUNT; i += PROMOTION_BATCH) receiver.execute({ op: OP.partitionRoles, partitions: ALL_PARTITIONS.slice(i, i + PROMOTION_BATCH), role: 'primary' });
    }),
  );
  if (receiver.table.size !== sessions) throw new Error(`promoted ${receiver.table.size} sessions, expected ${sessions}`);
}

export const engineTransfer: Scenario = {
  name: NAME,
  description: "a state transfer's shard work per session (export, chunk apply, promotion) vs packing and decoding alone; a copy check's digests",
  async run({ quick, log }) {
    const sessions = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const repeats = quick ? REPEATS_QUICK : REPEATS_FULL;
    log(`building ${sessions.toLocaleString('en-US')} sessions on the sending shard`);
    const primary = inProcessActor();
    // Started over the minutes before, LOGINS_PER_SECOND in each second, as a node's sessions are.
    for (let i = 0; i < sessions; i++) primary.execute(createCommand(sessionInput(i), START_SECOND - Math.floor((sessions - 1 - i) / LOGINS_PER_SECOND)));
    const exports = exportAll(primary); // warm-up, and the chunks every repeat applies
    const exported = exports.reduce((sum, e) => sum + e.sessions, 0);
    if (exported !== sessions) throw new Error(`exported ${exported} sessions, expected ${sessions}`);
    const bytes = exports.reduce((sum, e) => sum + e.chunks.reduce((n, c) => n + c.length, 0), 0);
    log(`exported ${exports.reduce((n, e) => n + e.chunks.length, 0)} chunks, ${(bytes / sessions).toFixed(0)} B per session`);

    const stages: Stages = { export: [], pack: [], apply: [], unpack: [], promote: [], digest: [], records: [] };
    for (let r = 0; r < repeats; r++) {
      measureOnce(primary, exports, sessions, stages, r % 2 === 0);
      const k = (x: number[]): string => `${(x.at(-1)! / 1e3).toFixed(0)}k`;
      log(`repeat ${r + 1}/${repeats}: export ${k(stages.export)} (pack ${k(stages.pack)}), apply ${k(stages.apply)} (unpack ${k(stages.unpack)}), promote ${k(stages.promote)}, digest ${k(stages.digest)} (records ${k(stages.records)}) sessions/s`);
    }
    const perSession = [stages.export, stages.apply, stages.promote].reduce((us, s) => us + 1e6 / median(s), 0);
    return [
      row(NAME, 'transfer_export_sessions_per_s', median(stages.export), 'sessions/s', median(stages.pack)),
      row(NAME, 'transfer_apply_sessions_per_s', median(stages.apply), 'sessions/s', median(stages.unpack)),
      row(NAME, 'transfer_promote_sessions_per_s', median(stages.promote), 'sessions/s'),
      row(NAME, 'transfer_shard_us_per_session', perSession, 'µs'),
      row(NAME, 'copy_check_sessions_per_s', median(stages.digest), 'sessions/s', median(stages.records)),
    ] satisfies Row[];
  },
};
