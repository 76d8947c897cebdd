// What the coordinator decides, as a pure function of what it sees in etcd:
//
//   - a member view the table was not computed for gets a new table
//     (nextTable: survivors keep serving, newcomers join as pending);
//   - otherwise, pending owners that caught up are promoted (promoteCaughtUp);
//   - a member accused by a majority of the view is evicted (its lease
//     revoked), so a crash is acted on in well under the lease TTL, while a
//     node cut off alone cannot evict the healthy majority.
//
// cluster-member.ts runs it whenever the view, the table, the progress
// reports or the accusations change, and writes the result.

import { nextTable, promoteCaughtUp, type CaughtUp, type PartitionTable } from './partition-table.js';

export interface CoordinatorInput {
  /** The coordinator itself: it never evicts itself (its own lease decides). */
  self?: string;
  table: PartitionTable | null;
  /** The view's members and its revision. */
  members: readonly string[];
  /** Each member's incarnation (lease id). */
  incarnations?: Record<string, string>;
  viewRevision: number;
  copies: number;
  progress: CaughtUp;
  /** Accusers per accused member. */
  suspects: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface CoordinatorDecision {
  /** A table to write, or null. */
  table: PartitionTable | null;
  /** Partitions whose every owner left (only with a new view). */
  lost: number[];
  /** Members to evict. */
  evict: string[];
}

/** Accusers needed to evict a member: a majority of the view. */
export function evictionQuorum(members: number): number {
  return Math.floor(members / 2) + 1;
}

export function coordinate(input: CoordinatorInput): CoordinatorDecision {
  const members = [...input.members].sort();
  const alive = new Set(members);
  const evict: string[] = [];
  for (const [target, accusers] of input.suspects) {
    if (!alive.has(target) || target === input.self) continue;
    const votes = [...accusers].filter((a) => alive.has(a) && a !== target).length;
    if (votes >= evictionQuorum(members.length)) evict.push(target);
  }
  const table = input.table;
  const incarnations = input.incarnations ?? {};
  const sameMembers =
    table !== null &&
    table.members.length === members.length &&
    [...table.members].sort().every((m, i) => m === members[i] && (incarnations[m] === undefined || table.incarnations[m] === incarnations[m]));
  if (!sameMembers) {
    if (members.length === 0) return { table: null, lost: [], evict };
    const next = nextTable(table, members, input.viewRevision, input.copies, incarnations);
    return { table: next.table, lost: next.lost, evict };
  }
  return { table: promoteCaughtUp(table, input.progress, input.copies), lost: [], evict };
}
