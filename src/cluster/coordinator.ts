// What the coordinator decides, as a pure function of what it sees in etcd:
//
//   - a member view the table was not computed for (other members, or a
//     member back in another zone) gets a new table (nextTable: survivors
//     keep serving, newcomers join as pending);
//   - otherwise, pending owners that caught up are promoted (promoteCaughtUp),
//     handoffs whose primary released the partition complete, and new ones
//     start: a draining member's primaries to their backups, and primaries
//     back to the hash's first owner (completeHandoffs, startHandoffs);
//   - a member accused by a majority of the view is evicted (its lease
//     revoked), so a crash is acted on in well under the lease TTL, while a
//     node cut off alone cannot evict the healthy majority; when that member
//     is the coordinator itself, the next oldest member acts
//     (actingCoordinator) and evicts it;
//   - an accusation that stood for ACCUSATION_STANDING_MS, made by a member
//     no one else accuses, evicts too: one broken link (a one-way partition,
//     a backup that stopped acknowledging) makes every write over it fail,
//     and the accused is the member to drop. When the two accuse each other
//     (each sees the link fail), the newer member of the two goes. Never a
//     member that holds the only copy of a partition: one witness is not
//     worth acknowledged sessions; that member goes only by majority or when
//     its lease lapses.
//
// cluster-member.ts runs it whenever the view, the table, the progress
// reports or the accusations change, and writes the result.

import { completeHandoffs, nextTable, promoteCaughtUp, startHandoffs, type CaughtUp, type PartitionTable } from './partition-table.js';

export interface CoordinatorInput {
  table: PartitionTable | null;
  /** The view's members and its revision. */
  members: readonly string[];
  /** Each member's incarnation (see control-plane.ts, "Incarnation"). */
  incarnations?: Record<string, string>;
  /** Each member's zone (`--zone`); a member absent here has none. */
  zones?: Record<string, string>;
  viewRevision: number;
  copies: number;
  progress: CaughtUp;
  /** Per member: partitions it drained for their handoff. */
  released?: CaughtUp;
  /** Members leaving gracefully (their primaries are handed off). */
  draining?: ReadonlySet<string>;
  /** Accusers per accused member. */
  suspects: ReadonlyMap<string, ReadonlySet<string>>;
  /** The accusations among `suspects` that stood for ACCUSATION_STANDING_MS. */
  standing?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Members from oldest to newest (join order); the newer of two that accuse each other is evicted. */
  joinOrder?: readonly string[];
}

export interface CoordinatorDecision {
  /** A table to write, or null. */
  table: PartitionTable | null;
  /** Partitions whose every owner left (only with a new view). */
  lost: number[];
  /** Members to evict. */
  evict: string[];
}

/** Accusers needed to evict a member at once: a majority of the view. */
export function evictionQuorum(members: number): number {
  return Math.floor(members / 2) + 1;
}

/**
 * Who coordinates: the oldest member (`joinOrder`, oldest first) that a
 * majority of the view does not accuse. Normally the oldest member; when it
 * is the one that failed (killed, hung, cut off), the next oldest acts as soon
 * as the majority's accusations are in etcd, and evicts it, instead of the
 * view waiting for the failed coordinator's lease to lapse. Every node derives
 * the same answer from the same etcd state; two nodes that briefly disagree
 * (one saw an accusation the other has not yet) write tables only through the
 * table's compare-and-set, and both apply the same eviction rule.
 */
export function actingCoordinator(joinOrder: readonly string[], suspects: ReadonlyMap<string, ReadonlySet<string>>): string | null {
  const alive = new Set(joinOrder);
  const quorum = evictionQuorum(alive.size);
  const outvoted = (node: string): boolean => [...(suspects.get(node) ?? [])].filter((a) => alive.has(a) && a !== node).length >= quorum;
  return joinOrder.find((node) => !outvoted(node)) ?? joinOrder[0] ?? null;
}

/** How long an accusation short of a majority must stand before it evicts. */
export const ACCUSATION_STANDING_MS = 1_000;

/** Members to evict: by majority, then by standing accusations between members in good standing. */
export function evictions(input: CoordinatorInput): string[] {
  const alive = new Set(input.members);
  const out = new Set<string>();
  const accusersOf = (target: string, from: ReadonlyMap<string, ReadonlySet<string>>): string[] =>
    [...(from.get(target) ?? [])].filter((a) => alive.has(a) && a !== target && !out.has(a));
  for (const target of input.suspects.keys()) {
    // The oldest member too: the next oldest coordinates while a majority accuses it (actingCoordinator).
    if (alive.has(target) && accusersOf(target, input.suspects).length >= evictionQuorum(alive.size)) out.add(target);
  }
  const order = input.joinOrder ?? [...input.members].sort();
  const soleOwner = (node: string): boolean => input.table?.owners.some((o) => o.length === 1 && o[0] === node) ?? false;
  const evictable = (node: string): boolean => !soleOwner(node);
  const newer = (a: string, b: string): string => (order.indexOf(a) > order.indexOf(b) ? a : b);
  const older = (a: string, b: string): string => (newer(a, b) === a ? b : a);
  for (const target of input.standing?.keys() ?? []) {
    if (!alive.has(target) || out.has(target)) continue;
    for (const accuser of accusersOf(target, input.standing!)) {
      const against = accusersOf(accuser, input.suspects);
      if (against.length === 0) {
        if (evictable(target)) out.add(target);
      } else if (against.length === 1 && against[0] === target) {
        const choice = [newer(target, accuser), older(target, accuser)].find(evictable);
        if (choice !== undefined) out.add(choice);
      } else continue; // an accuser others accuse too is no witness
      break;
    }
  }
  return [...out];
}

export function coordinate(input: CoordinatorInput): CoordinatorDecision {
  const members = [...input.members].sort();
  const evict = evictions(input);
  const table = input.table;
  const incarnations = input.incarnations ?? {};
  const zones = input.zones ?? {};
  const sameMembers =
    table !== null &&
    table.members.length === members.length &&
    [...table.members]
      .sort()
      .every((m, i) => m === members[i] && (incarnations[m] === undefined || table.incarnations[m] === incarnations[m]) && table.zones?.[m] === zones[m]);
  if (!sameMembers) {
    if (members.length === 0) return { table: null, lost: [], evict };
    const next = nextTable(table, members, input.viewRevision, input.copies, incarnations, zones);
    return { table: next.table, lost: next.lost, evict };
  }
  let next = promoteCaughtUp(table, input.progress, input.copies) ?? table;
  next = completeHandoffs(next, input.released ?? new Map(), input.copies) ?? next;
  next = startHandoffs(next, input.copies, input.draining ?? new Set(), input.released) ?? next;
  return { table: next === table ? null : next, lost: [], evict };
}
