// The partition table: who owns each partition in a view of the cluster.
// Computed by the coordinator from the member set (rendezvous hashing, hrw.ts)
// and the table before it, written to etcd, and obeyed by every node.
//
// Per partition:
//   owners   the copies that serve, primary first. Every acknowledged change
//            of the partition is on all of them (the primary answers only
//            after each backup applied it).
//   pending  nodes being filled: the primary streams them the partition's
//            sessions followed by its live records, but does not wait for
//            them. Once a pending node reports it has caught up, the
//            coordinator makes it an owner.
//
// A view change never drops a copy before its replacement is complete: the
// surviving owners keep serving (the first survivor, the old backup, becomes
// primary, since HRW keeps the survivors' order), new owners join as pending,
// and only when every owner the hash wants has caught up does the partition
// take exactly those owners (a primary moving to a newcomer included). A
// partition whose owners all left is lost: it restarts empty on the owners
// the hash picks.
//
// Promotion keeps the serving primary and makes the other copies the hash's
// owners. A primary moves by handoff: the coordinator names a target among
// the partition's owners (`handoff`); the old primary, obeying that table,
// refuses the partition's commands, lets those under way finish and
// replicate, gives up its primary role and reports the partition released;
// the next table makes the target primary. The target is a synchronous
// backup, so it holds every acknowledged change, and no two nodes serve the
// partition at once. Handoffs move the primaries of a draining (leaving)
// node to their backups, and a primary to the hash's first owner once that
// owner holds a full copy (a node that came back takes its share back); a
// few partitions per round, each unavailable for about one table round
// trip. A view change drops every handoff under way (the old primary, still
// first among the owners, serves again).

import { PARTITION_COUNT } from '../constants.js';
import { ownersByPartition, zoneOf, type Zones } from './hrw.js';

export interface PartitionTable {
  /** Bumped by every write: frames carry it, so a receiver knows when it is behind. */
  version: number;
  /** The etcd revision of the member view this table was computed for. */
  viewRevision: number;
  members: string[];
  /**
   * Each member's incarnation (the lease it first joined under; see
   * control-plane.ts, "Incarnation"). A node that restarts, or rejoins after
   * an eviction, comes back as another incarnation: a new member that holds
   * nothing, never the owner the table remembers.
   */
  incarnations: Record<string, string>;
  /** Each member's zone, for the members started with one (absent: none has a zone); the hash spreads a partition's owners over them (hrw.ts). */
  zones?: Record<string, string>;
  /** Per partition: serving owners, primary first. */
  owners: string[][];
  /** Per partition: nodes being filled (they receive records, they are not waited for). */
  pending: string[][];
  /** Partitions being handed off, to the owner that becomes their primary (absent: none). */
  handoff?: Record<number, string>;
}

/** Handoffs under way at once to balance primaries (each costs its target a promotion, in turns). */
export const BALANCE_HANDOFFS = 32;
/** Handoffs under way at once away from draining members (a graceful leave waits for them). */
export const DRAIN_HANDOFFS = 32;

export type PartitionRole = 'primary' | 'passive' | 'none';

/** Caught-up reports: node → partitions whose transfer from the current primary completed. */
export type CaughtUp = ReadonlyMap<string, ReadonlySet<number>>;

/** The owners the hash wants for each partition of `table` (its members, in their zones). */
export function wantedOwners(table: PartitionTable, copies: number): readonly (readonly string[])[] {
  return ownersByPartition(table.members, copies, table.zones);
}

/**
 * The table of a view: the previous table's owners stay where they are still
 * the same members (same incarnation); a member with a new incarnation starts
 * over like a newcomer. `zones`: the members' zones (a member absent has none).
 */
export function nextTable(
  prev: PartitionTable | null,
  members: readonly string[],
  viewRevision: number,
  copies: number,
  incarnations: Record<string, string> = {},
  zones: Zones = {},
): { table: PartitionTable; lost: number[] } {
  const alive = new Set(members.filter((n) => prev === null || prev.incarnations[n] === undefined || prev.incarnations[n] === incarnations[n]));
  const owners: string[][] = [];
  const pending: string[][] = [];
  const lost: number[] = [];
  const zoned: Record<string, string> = {};
  for (const n of members) if (zones[n] !== undefined) zoned[n] = zones[n];
  const wanted = ownersByPartition(members, copies, zoned);
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const target = wanted[p]!;
    const before = prev?.owners[p] ?? [];
    const survivors = before.filter((n) => alive.has(n));
    if (survivors.length === 0) {
      // Formation (nobody held anything yet) or every owner gone (lost): start on the target.
      if (before.length > 0) lost.push(p);
      owners.push([...target]);
      pending.push([]);
      continue;
    }
    owners.push(survivors);
    pending.push(target.filter((n) => !survivors.includes(n)));
  }
  const kept: Record<string, string> = {};
  for (const n of members) if (incarnations[n] !== undefined) kept[n] = incarnations[n];
  const table: PartitionTable = { version: (prev?.version ?? 0) + 1, viewRevision, members: [...members], incarnations: kept, owners, pending };
  if (Object.keys(zoned).length > 0) table.zones = zoned;
  return { table, lost };
}

/**
 * Promotes caught-up pending nodes: a partition whose every wanted owner now
 * holds it takes exactly the wanted owners, in hash order. Null when nothing
 * changes.
 */
export function promoteCaughtUp(table: PartitionTable, caughtUp: CaughtUp, copies: number): PartitionTable | null {
  let changed = false;
  const owners = table.owners.map((list) => [...list]);
  const pending = table.pending.map((list) => [...list]);
  const wanted = wantedOwners(table, copies);
  for (let p = 0; p < PARTITION_COUNT; p++) {
    if (pending[p]!.length === 0) continue;
    const ready = pending[p]!.filter((n) => caughtUp.get(n)?.has(p) === true);
    if (ready.length === 0) continue;
    const holders = new Set([...owners[p]!, ...ready]);
    const target = wanted[p]!;
    const primary = owners[p]![0]!;
    if (target.every((n) => holders.has(n))) {
      // The primary stays where it is (a handoff to a newcomer would need commands drained first):
      // the others become exactly the wanted owners.
      owners[p] = [primary, ...target.filter((n) => n !== primary)].slice(0, Math.max(copies, target.includes(primary) ? copies : copies + 1));
      pending[p] = [];
    } else {
      owners[p] = [...owners[p]!, ...ready];
      pending[p] = pending[p]!.filter((n) => !ready.includes(n));
    }
    changed = true;
  }
  return changed ? { ...table, version: table.version + 1, owners, pending } : null;
}

/** What `node` is for each partition under the table. */
export function roleOf(table: PartitionTable, node: string, partition: number): PartitionRole {
  const owners = table.owners[partition]!;
  if (owners[0] === node) return 'primary';
  if (owners.includes(node) || table.pending[partition]!.includes(node)) return 'passive';
  return 'none';
}

/** Partitions per role for `node`. */
export function rolesOf(table: PartitionTable, node: string): Record<PartitionRole, number[]> {
  const out: Record<PartitionRole, number[]> = { primary: [], passive: [], none: [] };
  for (let p = 0; p < PARTITION_COUNT; p++) out[roleOf(table, node, p)].push(p);
  return out;
}

export type RoleCounts = { primary: number; backup: number; pending: number };

/** Every member's partitions by role (serving primary, backup, being filled), in one pass over the table. */
export function roleCounts(table: PartitionTable): Map<string, RoleCounts> {
  const out = new Map<string, RoleCounts>();
  const of = (node: string): RoleCounts => {
    let counts = out.get(node);
    if (counts === undefined) out.set(node, (counts = { primary: 0, backup: 0, pending: 0 }));
    return counts;
  };
  for (let p = 0; p < table.owners.length; p++) {
    table.owners[p]!.forEach((node, i) => (i === 0 ? of(node).primary++ : of(node).backup++));
    for (const node of table.pending[p]!) of(node).pending++;
  }
  return out;
}

/** Partitions with fewer serving copies than `min(copies, members)`. */
export function underReplicated(table: PartitionTable, copies: number): number {
  const want = Math.min(copies, table.members.length);
  let count = 0;
  for (const owners of table.owners) if (owners.length < want) count++;
  return count;
}

/**
 * Partitions whose serving copies all lie in one zone while the members span
 * several: the loss of that zone would take every copy. 0 without zones.
 */
export function inOneZone(table: PartitionTable): number {
  const zones = table.zones;
  if (zones === undefined) return 0;
  const zone = (node: string): string => zoneOf(zones, node);
  if (new Set(table.members.map(zone)).size < 2) return 0;
  let count = 0;
  for (const owners of table.owners) if (owners.every((n) => zone(n) === zone(owners[0]!))) count++;
  return count;
}

/** Whether `node` still waits for any partition to be filled. */
export function isPending(table: PartitionTable, node: string): boolean {
  return table.pending.some((list) => list.includes(node));
}

/**
 * Completes the handoffs whose primary released the partition: the target
 * becomes primary, and a copy beyond `copies` that the hash does not want is
 * dropped. Handoffs whose target is no longer an owner are cancelled. Null
 * when nothing changes.
 */
export function completeHandoffs(table: PartitionTable, released: CaughtUp, copies: number): PartitionTable | null {
  if (table.handoff === undefined || Object.keys(table.handoff).length === 0) return null;
  const owners = table.owners.map((list) => [...list]);
  const handoff: Record<number, string> = {};
  let changed = false;
  for (const [key, target] of Object.entries(table.handoff)) {
    const p = Number(key);
    const primary = owners[p]![0]!;
    if (!owners[p]!.includes(target) || primary === target) {
      changed = true; // cancelled: the target is gone from the owners, or already primary
      continue;
    }
    if (released.get(primary)?.has(p) !== true) {
      handoff[p] = target;
      continue;
    }
    const wanted = new Set(wantedOwners(table, copies)[p]);
    const next = [target, ...owners[p]!.filter((n) => n !== target)];
    while (next.length > copies) {
      const extra = next.findLastIndex((n, i) => i > 0 && !wanted.has(n));
      if (extra < 0) break;
      next.splice(extra, 1);
    }
    owners[p] = next;
    changed = true;
  }
  return changed ? { ...table, version: table.version + 1, owners, handoff } : null;
}

/**
 * Starts handoffs: first the primaries of draining members (to their first
 * other owner that is not draining), then primaries that are not the hash's
 * first owner while that owner holds a full copy (nothing pending). At most
 * DRAIN_HANDOFFS / BALANCE_HANDOFFS under way. Null when nothing starts.
 * `released`: each member's last report of the partitions it released.
 */
export function startHandoffs(table: PartitionTable, copies: number, draining: ReadonlySet<string>, released: CaughtUp = new Map()): PartitionTable | null {
  const handoff: Record<number, string> = { ...(table.handoff ?? {}) };
  let under = Object.keys(handoff).length;
  let started = 0;
  // A primary whose last report still lists the partition released (an earlier handoff) must
  // report again before the partition can be handed off anew: that report would complete it at once.
  const free = (p: number): boolean => handoff[p] === undefined && released.get(table.owners[p]![0]!)?.has(p) !== true;
  if (draining.size > 0) {
    for (let p = 0; p < table.owners.length && under < DRAIN_HANDOFFS; p++) {
      const owners = table.owners[p]!;
      if (!draining.has(owners[0]!) || !free(p)) continue;
      const target = owners.find((n) => !draining.has(n));
      if (target === undefined) continue;
      handoff[p] = target;
      under++;
      started++;
    }
  } else {
    const wanted = wantedOwners(table, copies);
    for (let p = 0; p < table.owners.length && under < BALANCE_HANDOFFS; p++) {
      const owners = table.owners[p]!;
      if (!free(p) || table.pending[p]!.length > 0) continue;
      const first = wanted[p]![0]!;
      if (first === owners[0] || !owners.includes(first)) continue;
      handoff[p] = first;
      under++;
      started++;
    }
  }
  return started > 0 ? { ...table, version: table.version + 1, handoff } : null;
}
