// PartitionRoles: what a shard is for each partition. Owner: the shard actor.
//
//   primary  the partition's sessions live in the shard's main table: they
//            serve commands, expire on the wheel, count in statistics and
//            listings, produce events, and are journaled;
//   passive  a copy kept current by replicated records in a second table that
//            nothing reads but the replication itself: no wheel, no counters
//            anyone sees, no listings, no events (a cluster's backup);
//   none     not held.
//
// A role change moves the partition's sessions between the two tables by
// re-applying them as records (sessionRecords), so promotion loses nothing
// and costs what the partition holds (~1,000 sessions at 1 M per node), and
// a promoted session is armed on the wheel like any new one (its partition
// is snapshotted rather than journaled record by record: ShardLog.moved).
// A single node holds its shard's partitions as primary, the others not.

import { PARTITION_COUNT } from '../constants.js';
import { sessionRecords } from '../protocol/mutations.js';
import type { SessionTable } from './session-table.js';

export type PartitionRole = 'primary' | 'passive' | 'none';

const NONE = 0;
const PRIMARY = 1;
const PASSIVE = 2;
const CODE: Readonly<Record<PartitionRole, number>> = { none: NONE, primary: PRIMARY, passive: PASSIVE };

export class PartitionRoles {
  readonly #primary: SessionTable;
  readonly #passive: SessionTable;
  readonly #roles = new Uint8Array(PARTITION_COUNT);

  constructor(primary: SessionTable, passive: SessionTable, primaryPartitions: readonly number[]) {
    this.#primary = primary;
    this.#passive = passive;
    for (const partition of primaryPartitions) this.#roles[partition] = PRIMARY;
  }

  /** The table of passive copies (configuration reaches it too). */
  get passive(): SessionTable {
    return this.#passive;
  }

  roleOf(partition: number): PartitionRole {
    const code = this.#roles[partition];
    return code === PRIMARY ? 'primary' : code === PASSIVE ? 'passive' : 'none';
  }

  /** The partitions held as primary, ascending. */
  primaryPartitions(): number[] {
    const out: number[] = [];
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.#roles[p] === PRIMARY) out.push(p);
    return out;
  }

  /** The table a record of `partition` applies to, or null when the partition is not held. */
  tableFor(partition: number): SessionTable | null {
    const code = this.#roles[partition];
    return code === PRIMARY ? this.#primary : code === PASSIVE ? this.#passive : null;
  }

  /**
   * Gives `partitions` the role, in order, stopping after the partition that
   * brought the sessions moved (or forgotten) to `budget`; returns how many
   * moved and how many partitions were done (at least one). With `grace`,
   * promoted sessions get the promotion grace (SessionTable.holdIdleClocks).
   */
  set(partitions: readonly number[], role: PartitionRole, budget = Infinity, grace: { now: number; window: number } | null = null): { moved: number; done: number } {
    const to = CODE[role];
    let moved = 0;
    let done = 0;
    const promoted: number[] = [];
    while (done < partitions.length && moved < budget) {
      const partition = partitions[done++]!;
      const from = this.#roles[partition]!;
      if (from === to) continue;
      const source = from === PRIMARY ? this.#primary : from === PASSIVE ? this.#passive : null;
      const target = to === PRIMARY ? this.#primary : to === PASSIVE ? this.#passive : null;
      if (source !== null) moved += this.#move(partition, source, target, promoted);
      this.#roles[partition] = to;
    }
    if (grace !== null) for (const slot of promoted) this.#primary.holdIdleClocks(slot, grace.now, grace.window);
    // Listings rely on start order, and moved sessions were appended at the lists' ends.
    if (promoted.length > 0) this.#primary.placeByStart(promoted);
    return { moved, done };
  }

  /** Moves a partition's sessions to `target` (or forgets them); those now in the primary table are added to `promoted`. */
  #move(partition: number, source: SessionTable, target: SessionTable | null, promoted: number[]): number {
    const slots = source.partitionSlots(partition);
    for (const slot of slots) {
      if (target !== null) {
        const view = source.view(slot);
        for (const m of sessionRecords(view, source.chainsOf(slot))) target.apply(m);
        const placed = target === this.#primary ? target.slotOf(view.id) : -1;
        if (placed >= 0) promoted.push(placed);
      }
      source.drop(slot);
    }
    return slots.length;
  }
}
