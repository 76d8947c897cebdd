// Goal: a member cut from etcd for longer than its lease comes back as a
// member after the heal, and stays one. While the link is stalled, the
// renewals sent every 500 ms queue up; after the heal they all fail together
// with "lease not found", and the node must join again exactly once: two
// joins would each grant a lease and race for the member key, leaving the key
// under a lease nobody renews (it vanishes 2 s later while the node believes
// it is a member).
// Method: a real etcd behind the fault proxy; a ControlPlane dials the proxy;
// the proxy blackholes etcd's connection for longer than the lease TTL.

import test, { type ExecutionContext } from 'ava';
import pino from 'pino';
import { ControlPlane, LEASE_TTL_S, type ControlPlaneOptions } from '../../src/cluster/control-plane.js';
import { nextTable } from '../../src/cluster/partition-table.js';
import { EtcdProcess } from '../helpers/etcd-process.js';
import { FaultProxy } from './fault-proxy.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A real etcd for one test, stopped at its end. */
async function startEtcd(t: ExecutionContext): Promise<EtcdProcess> {
  const etcd = await EtcdProcess.start();
  t.teardown(() => etcd.cleanup());
  return etcd;
}

/** A member's control plane (not started yet), closed at the test's end. */
function newPlane(t: ExecutionContext, hosts: string[], cluster: string, node: string, options: Partial<ControlPlaneOptions> = {}): ControlPlane {
  const plane = new ControlPlane({ hosts, tls: null, cluster, node, address: '127.0.0.1:1', log: pino({ level: 'silent' }), ...options });
  t.teardown(() => plane.close());
  return plane;
}

test.serial('a member cut from etcd past its lease joins again once, under the lease it renews', async (t) => {
  const etcd = await startEtcd(t);
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: etcd.clientPort } });
  t.teardown(() => proxy.close());
  const plane = newPlane(t, [`http://${proxy.address}`], 'cut', 'a');
  await plane.start();
  const ownKey = () => plane.member('a')?.lease === plane.leaseId;
  t.true(ownKey(), 'joined under its lease');
  const firstLease = plane.leaseId;

  proxy.blackhole();
  await until('fenced while cut off', () => !plane.leaseValid, LEASE_TTL_S * 1000 + 1_000);
  await sleep(LEASE_TTL_S * 1000 * 2); // the lease expires in etcd; renewals pile up behind the stall
  proxy.heal();

  await until('a member again', () => plane.leaseValid && ownKey(), 10_000);
  t.not(plane.leaseId, firstLease, 'a new incarnation');
  await sleep(LEASE_TTL_S * 1000 * 1.5); // longer than a lease nobody renews would live
  t.true(ownKey(), 'the member key is still under the lease this node renews');
  t.true(plane.leaseValid);
});

// Goal: a whole-etcd outage costs the member nothing once etcd is back: etcd
// restarted on its data keeps every lease, so the member renews the lease it
// had (same incarnation, no view change) and says when etcd went and came
// back, with how long it was gone (the operator's log line).
// Method: a real etcd stopped with SIGTERM and started again on the same data.
test.serial('etcd stopped and started again: the member reports the outage and renews the lease it had', async (t) => {
  const etcd = await startEtcd(t);
  const plane = newPlane(t, [etcd.clientUrl], 'outage', 'a');
  const changes: Array<[boolean, number]> = [];
  plane.on('etcd', (reachable: boolean, outageMs: number) => changes.push([reachable, outageMs]));
  await plane.start();
  const lease = plane.leaseId;
  const revision = plane.view.revision;

  await etcd.stop();
  await until('etcd reported unreachable', () => !plane.etcdReachable, 5_000);
  await etcd.restart();
  await until('etcd reported reachable, the lease valid', () => {
    plane.renewSoon();
    return plane.etcdReachable && plane.leaseValid;
  }, 10_000);

  t.is(plane.leaseId, lease, 'the same incarnation');
  t.is(plane.view.revision, revision, 'no view change');
  t.is(changes.length, 2);
  t.deepEqual(changes[0], [false, 0]);
  t.true(changes[1]![0] && changes[1]![1] > 0, `back, with the outage's length (${JSON.stringify(changes)})`);
});

// Goal: a caught-up report counts only for the member view it was made under.
// A pending assignment is made only by a view's first table, so a report
// left from an earlier view may name partitions that are pending again and
// not filled at all: promoting on it would make an owner without the data.
// Method: a real etcd; a member reports under one view; the reports of that
// view list it, those of the next view do not.
test.serial('a caught-up report counts only under the view it was made in', async (t) => {
  const etcd = await startEtcd(t);
  const plane = newPlane(t, [etcd.clientUrl], 'progress', 'a');
  await plane.start();
  const view = plane.view.revision;

  await plane.reportProgress(view, [3, 7]);
  await until('the report is seen', () => plane.progressIn(view).has('a'), 5_000);
  t.deepEqual([...plane.progressIn(view).get('a')!], [3, 7]);
  t.false(plane.progressIn(view + 1).has('a'), 'not a report of the next view');
});

// Goal: a coordinator that a majority cannot hear (killed, hung, cut off) is
// replaced as soon as their accusations are in etcd, not when its lease
// lapses: the next oldest member coordinates (and evicts it), in every
// member's eyes, while the accused one still holds a valid lease.
// Method: a real etcd and three ControlPlanes started in turn; the two younger
// ones accuse the oldest; each plane's view of the coordinator is read.
test.serial('a coordinator accused by a majority hands the role to the next oldest at once', async (t) => {
  const etcd = await startEtcd(t);
  const planes: ControlPlane[] = [];
  for (const node of ['a', 'b', 'c']) {
    const plane = newPlane(t, [etcd.clientUrl], 'acting', node);
    await plane.start();
    planes.push(plane);
  }
  const [a, b, c] = planes as [ControlPlane, ControlPlane, ControlPlane];
  await until('every plane sees three members', () => planes.every((p) => p.view.members.length === 3), 5_000);
  t.deepEqual(planes.map((p) => p.coordinator), ['a', 'a', 'a'], 'the oldest coordinates');

  await b.accuse('a', true);
  await until('the first accusation is seen', () => planes.every((p) => p.suspects.get('a')?.size === 1), 5_000);
  t.deepEqual(planes.map((p) => p.coordinator), ['a', 'a', 'a'], 'one accuser of three is not enough');

  await c.accuse('a', true);
  await until('every plane names b', () => planes.every((p) => p.coordinator === 'b'), 5_000);
  t.true(b.isCoordinator && !a.isCoordinator && !c.isCoordinator);
  t.true(a.leaseValid, 'the accused still holds its lease: the role moved before it lapsed');

  await c.accuse('a', false);
  await until('a coordinates again once the majority is gone', () => planes.every((p) => p.coordinator === 'a'), 5_000);
});

/** A plane behind a fault proxy (so it can be cut from etcd), with a table naming it written and seen. */
async function planeWithTable(t: ExecutionContext, etcd: EtcdProcess, cluster: string, keep: boolean) {
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: etcd.clientPort } });
  t.teardown(() => proxy.close());
  // The member obeys the first table it sees (as a ClusterMember would) and asks to keep the incarnation it names.
  let obeyed: number | null = null;
  const plane = newPlane(t, [`http://${proxy.address}`], cluster, 'a', { keepIncarnation: () => (keep ? obeyed : null) });
  plane.once('table', (_table: unknown, revision: number) => (obeyed = revision));
  const rejoined: boolean[] = [];
  plane.on('rejoined', (kept: boolean) => rejoined.push(kept));
  await plane.start();
  const first = plane.incarnation;
  t.true(await plane.writeTable(nextTable(null, ['a'], plane.view.revision, 1, { a: first }).table));
  await until('the table is seen', () => obeyed !== null, 5_000);
  return { proxy, plane, first, rejoined };
}

/** Cuts the plane from etcd past its lease (etcd expires it), heals, and waits until it is a member again. */
async function lapse(plane: ControlPlane, proxy: FaultProxy, meanwhile: () => Promise<void> = async () => {}): Promise<void> {
  const lease = plane.leaseId;
  proxy.blackhole();
  await until('fenced while cut off', () => !plane.leaseValid, LEASE_TTL_S * 1000 + 1_000);
  await sleep(LEASE_TTL_S * 1000 * 2);
  await meanwhile();
  proxy.heal();
  await until('a member again under a new lease', () => plane.leaseValid && plane.leaseId !== lease && plane.member('a')?.lease === plane.leaseId, 10_000);
}

// Goal: an etcd that expired a member's lease while the partition table stayed
// as it was (every node cut off from etcd, or etcd paused, past the TTL) costs
// the member nothing: it joins again under a new lease as the incarnation the
// table names, so the table still counts on its copies.
// Method: a real etcd behind the fault proxy; a table naming the member; the
// proxy blackholes etcd past the lease; the member asks to keep its incarnation.
test.serial('a member whose lease lapsed while the table stayed joins again as the same incarnation', async (t) => {
  const etcd = await startEtcd(t);
  const { proxy, plane, first, rejoined } = await planeWithTable(t, etcd, 'kept', true);

  await lapse(plane, proxy);
  t.is(plane.incarnation, first, 'the same incarnation');
  t.is(plane.member('a')?.incarnation, first, 'as its member key says');
  t.deepEqual(rejoined, [true]);
});

// Goal: a member that asks to keep its incarnation gets a new one when a table
// was written while it was cut off (the coordinator gave its partitions to
// others: its copies are no longer what the table counts on). The join's
// transaction compares the table's revision, so no watch lag can hide that table.
// Method: as above; another member writes a new table during the cut.
test.serial('a member whose lease lapsed while a new table was written joins again as a new incarnation', async (t) => {
  const etcd = await startEtcd(t);
  const { proxy, plane, first, rejoined } = await planeWithTable(t, etcd, 'moved', true);
  const other = newPlane(t, [etcd.clientUrl], 'moved', 'b');
  await other.start();

  await lapse(plane, proxy, async () => {
    await until('the other member sees the table', () => other.table !== null, 5_000);
    t.true(await other.writeTable(nextTable(other.table, ['b'], other.view.revision, 1, { b: other.incarnation }).table), 'a table without the cut member');
  });
  t.not(plane.incarnation, first, 'a new incarnation');
  t.is(plane.incarnation, plane.leaseId, 'known by its new lease');
  t.is(plane.member('a')?.incarnation, plane.incarnation);
  t.deepEqual(rejoined, [false]);
});

// Goal: a member evicted while it reaches etcd (its peers revoked its lease:
// it hung, or a link to it broke) comes back as a new incarnation even though
// the table did not change yet: the coordinator is about to drop it, and its
// copies may lack what the others acknowledged without it.
// Method: a real etcd; a table naming the member; another member revokes its lease.
test.serial('a member evicted while it reaches etcd joins again as a new incarnation', async (t) => {
  const etcd = await startEtcd(t);
  const { plane, first, rejoined } = await planeWithTable(t, etcd, 'evicted', true);
  const other = newPlane(t, [etcd.clientUrl], 'evicted', 'b');
  await other.start();
  await until('the other member sees it', () => other.member('a') !== undefined, 5_000);

  await other.evict('a');
  await until('a member again under a new lease', () => plane.leaseValid && plane.incarnation !== first && plane.member('a')?.lease === plane.leaseId, 10_000);
  t.is(plane.incarnation, plane.leaseId, 'a new incarnation, known by its new lease');
  t.deepEqual(rejoined, [false]);
});

// Goal: a coordinator's table that drops members for having left the view is
// written only while they are still gone: one that came back meanwhile (as the
// incarnation it was) is never dropped on a view that no longer holds.
// Method: a real etcd, two members; one writes a table dropping the other,
// first while the other's key exists, then after it left.
test.serial('a table dropping a member is not written while that member is back', async (t) => {
  const etcd = await startEtcd(t);
  const planes = ['a', 'b'].map((node) => newPlane(t, [etcd.clientUrl], 'absent', node));
  for (const plane of planes) await plane.start();
  const [a, b] = planes as [ControlPlane, ControlPlane];
  await until('both members seen', () => b.view.members.length === 2, 5_000);
  const withoutA = nextTable(null, ['b'], b.view.revision, 1, { b: b.incarnation }).table;
  t.false(await b.writeTable(withoutA, ['a']), 'a is a member: not written');
  t.is(b.table, null);

  await a.close();
  await until('a is gone', () => b.member('a') === undefined, 5_000);
  t.true(await b.writeTable(withoutA, ['a']), 'a is gone: written');
});

// Goal: a member of an older version (its key carries no incarnation) is known
// by its lease, and marked as one that does not keep its incarnation: while
// such a member is in the table, no one keeps theirs (its coordinator would
// take a kept incarnation for a new member).
// Method: a real etcd; a member key written as an older version writes it.
test.serial('a member key without an incarnation is known by its lease', async (t) => {
  const etcd = await startEtcd(t);
  const plane = newPlane(t, [etcd.clientUrl], 'older', 'a');
  await plane.start();
  t.true(plane.member('a')?.keepsIncarnation, 'this version writes its incarnation');
  await plane.namespace.put('members/old').value(JSON.stringify({ address: '127.0.0.1:2', started: 0, protocol: 3, lease: '42' }));
  await until('the older member is seen', () => plane.member('old') !== undefined, 5_000);
  t.like(plane.member('old'), { incarnation: '42', keepsIncarnation: false });
});

// Goal: a member's zone is in its member key, seen by every member, and kept
// when the key is written again (a graceful leave marks it draining).
// Method: a real etcd; two members, one with a zone.
test.serial('a member\'s zone is seen by the others, and kept while it drains', async (t) => {
  const etcd = await startEtcd(t);
  const a = newPlane(t, [etcd.clientUrl], 'zoned', 'a', { zone: 'eu-1a' });
  const b = newPlane(t, [etcd.clientUrl], 'zoned', 'b');
  await a.start();
  await b.start();
  await until('b sees a', () => b.member('a') !== undefined, 5_000);
  t.is(b.member('a')?.zone, 'eu-1a');
  t.is(a.member('b')?.zone, undefined, 'no zone given: none');
  await a.drain();
  await until('b sees a draining', () => b.member('a')?.draining === true, 5_000);
  t.is(b.member('a')?.zone, 'eu-1a');
});

/** Starts a member that writes a table naming itself, and stops its process's plane (as a kill would: the lease is left to lapse). */
async function memberBeforeRestart(t: ExecutionContext, etcd: EtcdProcess, cluster: string) {
  const before = newPlane(t, [etcd.clientUrl], cluster, 'a');
  let revision = 0;
  before.once('table', (_table: unknown, at: number) => (revision = at));
  await before.start();
  const incarnation = before.incarnation;
  t.true(await before.writeTable(nextTable(null, ['a'], before.view.revision, 1, { a: incarnation }).table));
  await until('the table is seen', () => revision > 0, 5_000);
  await before.close();
  return { incarnation, tableRevision: revision };
}

// Goal: a node restarted after it (or every node) stopped comes back as the
// incarnation its data directory remembers when etcd's table is still the one
// it obeyed, and as a new one when a table was written meanwhile (its disk
// holds what that table took away).
// Method: a real etcd; a member writes a table naming it and closes; a new
// plane for the same node starts with what the first one obeyed.
test.serial('a restarted member joins as the incarnation it remembers while the table is the one it obeyed', async (t) => {
  const etcd = await startEtcd(t);
  const remembered = await memberBeforeRestart(t, etcd, 'restart');
  const plane = newPlane(t, [etcd.clientUrl], 'restart', 'a');
  t.true(await plane.start(remembered));
  t.is(plane.incarnation, remembered.incarnation);
  t.is(plane.member('a')?.incarnation, remembered.incarnation);
  t.not(plane.leaseId, remembered.incarnation, 'under a new lease');
});

test.serial('a restarted member joins as a new incarnation when a table was written meanwhile', async (t) => {
  const etcd = await startEtcd(t);
  const remembered = await memberBeforeRestart(t, etcd, 'restart-moved');
  const other = newPlane(t, [etcd.clientUrl], 'restart-moved', 'b');
  await other.start();
  await until('the other member sees the table', () => other.table !== null, 5_000);
  t.true(await other.writeTable(nextTable(other.table, ['b'], other.view.revision, 1, { b: other.incarnation }).table));
  const plane = newPlane(t, [etcd.clientUrl], 'restart-moved', 'a');
  t.false(await plane.start(remembered));
  t.is(plane.incarnation, plane.leaseId, 'a new incarnation, known by its new lease');
});

test.serial('a restarted member joins as a new incarnation while a member of an older version is in the view', async (t) => {
  const etcd = await startEtcd(t);
  const remembered = await memberBeforeRestart(t, etcd, 'restart-older');
  const older = newPlane(t, [etcd.clientUrl], 'restart-older', 'b');
  await older.start();
  await older.namespace.put('members/old').value(JSON.stringify({ address: '127.0.0.1:2', started: 0, protocol: 3, lease: older.leaseId })).lease(older.leaseId);
  const plane = newPlane(t, [etcd.clientUrl], 'restart-older', 'a');
  t.false(await plane.start(remembered));
  t.is(plane.incarnation, plane.leaseId);
});
