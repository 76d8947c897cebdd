// PartitionRoles: what a shard is for each partition. Owner: the shard actor.
//
//   primary  the partition's sessions are served: they answer commands,
//            expire on the wheel, count in statistics and listings, produce
//            events, and are journaled;
//   passive  a copy kept current by replicated records that nothing reads
//            but the replication itself: no wheel, no counters anyone sees,
//            no listings, no events (a cluster's backup); journaled too, so
//            that a whole cluster can restart from its disks;
//   none     not held.
//
// Both live in the shard's one SessionTable, which keeps a passive
// partition's sessions off its lists, counters and wheel (session-table.ts,
// "Passive copies"). A role change links or unlinks the partition's sessions
// in place: promotion costs a few list links per session (~1,000 sessions per
// partition at 1 M per node) and loses nothing, and a promoted session is
// armed on the wheel like any new one (nothing is journaled: the disk holds
// the copy already, and a partition whose idle clocks the promotion grace
// moved is snapshotted: ShardLog.promoted). A single node holds
// its shard's partitions as primary, the others not.

import { PARTITION_COUNT } from '../constants.js';
import type { SessionTable } from './session-table.js';

export type PartitionRole = 'primary' | 'passive' | 'none';

const NONE = 0;
const PRIMARY = 1;
const PASSIVE = 2;
const CODE: Readonly<Record<PartitionRole, number>> = { none: NONE, primary: PRIMARY, passive: PASSIVE };

export class PartitionRoles {
  readonly #table: SessionTable;
  readonly #roles = new Uint8Array(PARTITION_COUNT);

  constructor(table: SessionTable, primaryPartitions: readonly number[]) {
    this.#table = table;
    for (const partition of primaryPartitions) this.#roles[partition] = PRIMARY;
  }

  roleOf(partition: number): PartitionRole {
    const code = this.#roles[partition];
    return code === PRIMARY ? 'primary' : code === PASSIVE ? 'passive' : 'none';
  }

  /** Whether the shard serves `partition` (it is its primary). */
  serves(partition: number): boolean {
    return this.#roles[partition] === PRIMARY;
  }

  /** Whether records of `partition` are applied (it is held, as primary or passive). */
  holds(partition: number): boolean {
    return this.#roles[partition] !== NONE;
  }

  /** The partitions held as primary, ascending. */
  primaryPartitions(): number[] {
    return this.#withRole(PRIMARY);
  }

  /** The partitions held as passive copies, ascending. */
  passivePartitions(): number[] {
    return this.#withRole(PASSIVE);
  }

  #withRole(code: number): number[] {
    const out: number[] = [];
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.#roles[p] === code) out.push(p);
    return out;
  }

  /**
   * Gives `partitions` the role, in order, stopping after the partition that
   * brought the sessions moved (or forgotten) to `budget`; returns how many
   * moved, how many partitions were done (at least one), and the partitions
   * that became primary with sessions. With `grace`, promoted sessions get
   * the promotion grace (SessionTable.holdIdleClocks); `clocksMoved`: the
   * promoted partitions where it moved an idle clock. `dropped`: the
   * partitions held before and not held now.
   */
  set(
    partitions: readonly number[],
    role: PartitionRole,
    budget = Infinity,
    grace: { now: number; window: number } | null = null,
  ): { moved: number; done: number; promoted: number[]; clocksMoved: Set<number>; dropped: number[] } {
    const to = CODE[role];
    const table = this.#table;
    let moved = 0;
    let done = 0;
    const promoted: number[] = [];
    const dropped: number[] = [];
    const slots: number[] = [];
    while (done < partitions.length && moved < budget) {
      const partition = partitions[done++]!;
      const from = this.#roles[partition]!;
      if (from === to) continue;
      if (to === NONE) {
        moved += table.forgetPartition(partition);
        dropped.push(partition);
      } else if (to === PASSIVE) moved += table.passivatePartition(partition);
      else {
        const served = table.servePartition(partition);
        for (const slot of served) slots.push(slot);
        if (served.length > 0) promoted.push(partition);
        moved += served.length;
      }
      this.#roles[partition] = to;
    }
    const clocksMoved = new Set<number>();
    if (grace !== null) {
      for (const slot of slots) if (table.holdIdleClocks(slot, grace.now, grace.window)) clocksMoved.add(table.partitionOf(slot));
    }
    // Listings rely on start order, and promoted sessions were appended at the lists' ends.
    if (slots.length > 0) table.placeByStart(slots);
    return { moved, done, promoted, clocksMoved, dropped };
  }
}
