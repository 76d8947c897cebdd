// Which batches a shard may run ahead of others (the Mailbox's express lane):
// the classification of one batch, as it arrives, against the shard's
// partition roles of that moment. Owner: the shard actor.
//
// Commands are request-path, replicated work or barriers by their op
// (opLane, actor-ops.ts). A light batch (request-path commands, a backup's
// records) may run before queued heavy ones (a transfer's chunks, exports):
// a token request, and the backup's acknowledgement it waits for, then wait
// for at most the chunk being applied, not for the dozens a rebalance
// queues. Replicated work that would change a partition the shard serves
// (records racing a promotion) is a barrier here, like everything else that
// is not of the two: those keep arrival order.

import { PARTITION_COUNT } from '../constants.js';
import type { BatchMessage } from '../protocol/actor-messages.js';
import { OP, opLane } from '../protocol/actor-ops.js';
import { MUTATION, partitionOfRecord, type ReplicatedRecord } from '../protocol/mutations.js';
import { isPartition } from '../protocol/partition.js';
import type { BatchOrder } from './mailbox.js';


/** Scratch marks of the partitions one classification has collected (cleared before it returns). */
const seen = new Uint8Array(PARTITION_COUNT);

/**
 * How `batch` may be reordered in the mailbox (BatchOrder), given whether the
 * shard serves a partition now. Anything malformed is a barrier: its command
 * fails in place, in order.
 */
export function batchOrder(batch: BatchMessage, serves: (partition: number) => boolean): BatchOrder {
  const partitions: number[] = [];
  const add = (p: number): boolean => {
    if (seen[p] === 0) {
      seen[p] = 1;
      partitions.push(p);
    }
    return true;
  };
  const kinds = classify(batch, serves, add);
  for (const p of partitions) seen[p] = 0;
  return kinds === null ? null : { ...kinds, partitions };
}

/** Whether the batch holds heavy replicated work and request-path commands, or null for a barrier. */
function classify(batch: BatchMessage, serves: (partition: number) => boolean, add: (p: number) => boolean): { heavy: boolean; requests: boolean } | null {
  let heavy = false;
  let requests = false;
  for (const command of batch.commands as unknown[]) {
    if (command === null || typeof command !== 'object') return null;
    const { op } = command as { op: unknown };
    const lane = opLane(op);
    if (lane === 'request') requests = true;
    else if (lane === 'barrier') return null;
    else if (op === OP.partitionExport) {
      // A read: the export and its partition's seq are taken in one step, whatever ran before.
      heavy = true;
    } else if (op === OP.chunkReplay || op === OP.copyRefill || op === OP.copyFilled) {
      // A transfer's chunk, start or end: in order with the partition's other chunks.
      const { partition } = command as { partition: unknown };
      if (!isPartition(partition) || serves(partition)) return null;
      heavy = true;
      add(partition);
    } else if (op === OP.partitionDigest) {
      // A read of copies, in order with the records and chunks of its partitions before it.
      const { partitions } = command as { partitions: unknown };
      if (!Array.isArray(partitions) || !partitions.every((p) => isPartition(p) && !serves(p) && add(p))) return null;
    } else if (op === OP.mutationsReplay) {
      const { mutations } = command as { mutations: unknown };
      if (!Array.isArray(mutations) || !mutations.every((m) => recordPartition(m, serves, add))) return null;
    }
  }
  return { heavy, requests };
}

/** Adds the partition a record changes; false when it is a barrier (realm-wide, malformed, or on a served partition). */
function recordPartition(m: unknown, serves: (partition: number) => boolean, add: (p: number) => boolean): boolean {
  if (m === null || typeof m !== 'object') return false;
  const record = m as ReplicatedRecord;
  if (record.k === MUTATION.realmCleared) return false;
  let partition: number;
  try {
    partition = partitionOfRecord(record);
  } catch {
    return false;
  }
  return isPartition(partition) && !serves(partition) && add(partition);
}
