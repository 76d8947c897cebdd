// Goal: `GET /cluster` tells an operator what a node sees: every member of
// its view with its address, zone and incarnation, when it last wrote its key, whether it drains
// and whether this node accuses it, and its partitions by role in the table
// this node obeys, the partitions this node still has to send it and whether
// it still sends this node some (outside the table: a resync); the table's
// version and health (short of copies, copies in one zone, transfers and
// handoffs under way).
// Method: describeCluster() over tables built by the partition table's own
// functions.

import test from 'ava';
import { describeCluster, type ClusterSnapshot } from '../../src/cluster/cluster-description.js';
import type { MemberInfo } from '../../src/cluster/control-plane.js';
import { nextTable, startHandoffs } from '../../src/cluster/partition-table.js';
import { PARTITION_COUNT } from '../../src/constants.js';

const STARTED = Date.UTC(2026, 11, 7, 12, 0, 0);

function member(node: string, extra: Partial<MemberInfo> = {}): MemberInfo {
  return { node, address: `127.0.0.${node.slice(1)}:50051`, started: STARTED, protocol: 1, lease: `L${node}`, incarnation: `I${node}`, keepsIncarnation: true, createRevision: 1, modRevision: 1, ...extra };
}

function snapshot(extra: Partial<ClusterSnapshot>): ClusterSnapshot {
  return {
    cluster: 'sessiond', node: 'n1', zone: 'a', owners: 2, serving: true, ready: true, leaseValid: true, etcdReachable: true,
    coordinator: 'n1', viewRevision: 9, members: [], suspected: new Set(), unsent: new Map(), sendingHere: new Set(), table: null, tableRevision: 0, ...extra,
  };
}

test('members sorted by node, with their zone, start, draining and whether this node accuses them; roles from the table', (t) => {
  const zones = { n1: 'a', n2: 'a', n3: 'b' };
  const { table } = nextTable(null, ['n1', 'n2', 'n3'], 9, 2, {}, zones);
  const d = describeCluster(snapshot({
    members: [member('n3', { zone: 'b', draining: true }), member('n1', { zone: 'a' }), member('n2', { zone: 'a' })],
    suspected: new Set(['n3']),
    table,
    tableRevision: 12,
  }));
  t.deepEqual(d.members.map((m) => m.node), ['n1', 'n2', 'n3']);
  t.like(d.members[2], { address: '127.0.0.3:50051', zone: 'b', incarnation: 'In3', since: '2026-12-07T12:00:00.000Z', draining: true, suspected: true });
  t.like(d.members[0], { draining: false, suspected: false });
  t.is(d.members.reduce((sum, m) => sum + m.primary, 0), PARTITION_COUNT, 'one primary per partition');
  t.is(d.members.reduce((sum, m) => sum + m.backup, 0), PARTITION_COUNT, 'one backup per partition');
  t.is(d.members[2]!.primary + d.members[2]!.backup, PARTITION_COUNT, 'the only node of zone b holds a copy of every partition');
  t.deepEqual(d.table, { version: 1, revision: 12, viewRevision: 9, owners: 2, underReplicated: 0, inOneZone: 0, transfers: 0, handoffs: 0 });
});

test('a member joining: its pending partitions, the transfers under way; a handoff counted; no table yet: null', (t) => {
  const { table: before } = nextTable(null, ['n1', 'n2'], 1, 2);
  const { table } = nextTable(before, ['n1', 'n2', 'n3'], 2, 2);
  const d = describeCluster(snapshot({ members: [member('n1'), member('n2'), member('n3')], table, tableRevision: 3 }));
  const joining = d.members.find((m) => m.node === 'n3')!;
  t.is(joining.primary + joining.backup, 0);
  t.true(joining.pending > 0);
  t.is(d.table!.transfers, joining.pending);
  t.is(d.members.find((m) => m.node === 'n1')!.zone, null, 'no zone: null');

  const handing = startHandoffs(before, 2, new Set(['n1']))!;
  t.true(describeCluster(snapshot({ table: handing })).table!.handoffs > 0);
  t.is(describeCluster(snapshot({ members: [member('n1')] })).table, null);
  t.like(describeCluster(snapshot({ members: [member('n1')] })).members[0], { primary: 0, backup: 0, pending: 0 });
});

test('what is still on its way: partitions this node has to send each member, and the members still sending it some', (t) => {
  const d = describeCluster(snapshot({ members: [member('n1'), member('n2'), member('n3')], unsent: new Map([['n3', 341]]), sendingHere: new Set(['n2']) }));
  t.like(d.members[2], { node: 'n3', unsent: 341, sendingHere: false });
  t.like(d.members[1], { node: 'n2', unsent: 0, sendingHere: true });
  t.like(d.members[0], { node: 'n1', unsent: 0, sendingHere: false });
});
