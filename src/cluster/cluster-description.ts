// What `GET /cluster` on the management port answers: the cluster as this
// node sees it. The members of its view (address, zone, incarnation, whether
// they drain, whether this node accuses them, and their roles in the table it
// obeys), the coordinator, and the table's health (partitions short of
// copies, copies in one zone, transfers and handoffs under way). Each node
// answers from its own view and table: during a view change two nodes may
// differ for a moment, and comparing their answers shows which one lags.

import type { MemberInfo } from './control-plane.js';
import { inOneZone, roleCounts, underReplicated, type PartitionTable, type RoleCounts } from './partition-table.js';

export interface MemberDescription {
  node: string;
  address: string;
  zone: string | null;
  incarnation: string;
  /** When the member last wrote its key: it joined, joined again, or began to drain (ISO 8601). */
  since: string;
  draining: boolean;
  /** Whether this node accuses it (no heartbeat, link down, replication timeout). */
  suspected: boolean;
  /** Partitions it serves as primary, holds as backup, and is being sent, in the table this node obeys. */
  primary: number;
  backup: number;
  pending: number;
  /**
   * Partitions this node still has to send it: copies the table has it fill,
   * and copies sent again whole (a resync, a copy check's refill), which the
   * table does not show.
   */
  unsent: number;
  /** Its last heartbeat said it still sends this node partitions: this node turns ready only once none does. */
  sendingHere: boolean;
}

export interface TableDescription {
  version: number;
  /** The etcd revision the table was read at, and the member view it was computed for. */
  revision: number;
  viewRevision: number;
  /** Copies per partition asked for (`--owners`). */
  owners: number;
  underReplicated: number;
  inOneZone: number;
  /** Partitions with a copy being filled, and partitions being handed to a new primary. */
  transfers: number;
  handoffs: number;
}

export interface ClusterDescription {
  cluster: string;
  node: string;
  zone: string | null;
  /** Serving (lease provably alive, or a frozen view every member confirms), and ready (/health/ready). */
  serving: boolean;
  ready: boolean;
  leaseValid: boolean;
  etcdReachable: boolean;
  coordinator: string | null;
  viewRevision: number;
  members: MemberDescription[];
  /** The table this node obeys; null before the first one. */
  table: TableDescription | null;
}

/** What the member holds now, from which the description is made. */
export interface ClusterSnapshot extends Omit<ClusterDescription, 'members' | 'table'> {
  /** Copies per partition asked for (`--owners`). */
  owners: number;
  members: readonly MemberInfo[];
  /** The members this node accuses. */
  suspected: ReadonlySet<string>;
  /** Per member, the partitions this node still has to send it (members with none left out). */
  unsent: ReadonlyMap<string, number>;
  /** The members whose last heartbeat said they still send this node partitions. */
  sendingHere: ReadonlySet<string>;
  table: PartitionTable | null;
  /** The etcd revision the table was read at. */
  tableRevision: number;
}

/** The answer of `GET /cluster` for what the node holds now. */
export function describeCluster(s: ClusterSnapshot): ClusterDescription {
  const { owners, members, suspected, unsent, sendingHere, table, tableRevision, ...node } = s;
  const roles = table === null ? new Map<string, RoleCounts>() : roleCounts(table);
  return {
    ...node,
    members: [...members]
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
      .map((m) => ({
        node: m.node,
        address: m.address,
        zone: m.zone ?? null,
        incarnation: m.incarnation,
        since: new Date(m.started).toISOString(),
        draining: m.draining === true,
        suspected: suspected.has(m.node),
        ...(roles.get(m.node) ?? { primary: 0, backup: 0, pending: 0 }),
        unsent: unsent.get(m.node) ?? 0,
        sendingHere: sendingHere.has(m.node),
      })),
    table: table === null ? null : describeTable(table, tableRevision, owners),
  };
}

function describeTable(table: PartitionTable, revision: number, owners: number): TableDescription {
  return {
    version: table.version,
    revision,
    viewRevision: table.viewRevision,
    owners,
    underReplicated: underReplicated(table, owners),
    inOneZone: inOneZone(table),
    transfers: table.pending.filter((list) => list.length > 0).length,
    handoffs: Object.keys(table.handoff ?? {}).length,
  };
}

/** `GET /cluster/partitions/{p}` and `/cluster/sessions/{id}`: who holds one partition in the table this node obeys. */
export interface PartitionDescription {
  partition: number;
  /** The table the answer comes from. */
  tableVersion: number;
  primary: string;
  backups: string[];
  /** Nodes being sent a copy. */
  pending: string[];
  /** The owner becoming its primary, while a handoff is under way. */
  handoffTo: string | null;
}

/** Where `partition` lives under `table` (null before the first table). */
export function describePartition(table: PartitionTable | null, partition: number): PartitionDescription | null {
  if (table === null) return null;
  const owners = table.owners[partition]!;
  return {
    partition,
    tableVersion: table.version,
    primary: owners[0]!,
    backups: owners.slice(1),
    pending: [...table.pending[partition]!],
    handoffTo: table.handoff?.[partition] ?? null,
  };
}
