// The partition table and the coordinator's decisions, as a model: random
// joins, crashes, evictions and transfer completions (fast-check commands),
// checked against the invariants the cluster relies on.

import test from 'ava';
import fc from 'fast-check';
import { PARTITION_COUNT } from '../../src/constants.js';
import { actingCoordinator, coordinate, evictionQuorum } from '../../src/cluster/coordinator.js';
import { ownersOf } from '../../src/cluster/hrw.js';
import {
  BALANCE_HANDOFFS,
  completeHandoffs,
  inOneZone,
  isPending,
  nextTable,
  promoteCaughtUp,
  roleOf,
  rolesOf,
  startHandoffs,
  underReplicated,
  type PartitionTable,
} from '../../src/cluster/partition-table.js';

const COPIES = 2;

test('formation: the first table gives every partition its hash owners, nothing pending, nothing lost', (t) => {
  const { table, lost } = nextTable(null, ['n1', 'n2', 'n3'], 7, COPIES);
  t.is(table.version, 1);
  t.is(table.viewRevision, 7);
  t.deepEqual(lost, []);
  for (let p = 0; p < PARTITION_COUNT; p++) {
    t.deepEqual(table.owners[p], ownersOf(p, ['n1', 'n2', 'n3'], COPIES));
    t.deepEqual(table.pending[p], []);
  }
  t.is(underReplicated(table, COPIES), 0);
});

test('a member that leaves: its backups take over at once, the new copies are pending until caught up', (t) => {
  const { table: before } = nextTable(null, ['n1', 'n2', 'n3'], 1, COPIES);
  const { table, lost } = nextTable(before, ['n2', 'n3'], 2, COPIES);
  t.deepEqual(lost, []);
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const survivors = before.owners[p]!.filter((n) => n !== 'n1');
    t.deepEqual(table.owners[p], survivors, 'the survivors keep serving, in their order');
    t.is(table.owners[p]![0], survivors[0]);
  }
  t.true(underReplicated(table, COPIES) > 0, 'partitions n1 held have one copy until the transfer');
  const caughtUp = new Map([
    ['n2', new Set(table.pending.flatMap((list, p) => (list.includes('n2') ? [p] : [])))],
    ['n3', new Set(table.pending.flatMap((list, p) => (list.includes('n3') ? [p] : [])))],
  ]);
  const promoted = promoteCaughtUp(table, caughtUp, COPIES)!;
  t.is(promoted.version, table.version + 1);
  t.is(underReplicated(promoted, COPIES), 0);
  for (let p = 0; p < PARTITION_COUNT; p++) {
    t.deepEqual([...promoted.owners[p]!].sort(), [...ownersOf(p, ['n2', 'n3'], COPIES)].sort(), 'the hash decides the copies');
    t.is(promoted.owners[p]![0], table.owners[p]![0], 'the serving primary stays');
  }
  t.is(promoteCaughtUp(promoted, caughtUp, COPIES), null, 'nothing left to promote');
});

test('a member that joins serves nothing until it caught up; then the hash decides the copies, the primary stays', (t) => {
  const { table: before } = nextTable(null, ['n1', 'n2'], 1, COPIES);
  const { table } = nextTable(before, ['n1', 'n2', 'n3'], 2, COPIES);
  t.deepEqual(rolesOf(table, 'n3').primary, [], 'no primary on the newcomer yet');
  t.true(isPending(table, 'n3'));
  const mine = table.pending.flatMap((list, p) => (list.includes('n3') ? [p] : []));
  for (const p of mine) t.is(roleOf(table, 'n3', p), 'passive', 'a pending owner holds a passive copy');
  const promoted = promoteCaughtUp(table, new Map([['n3', new Set(mine)]]), COPIES)!;
  t.false(isPending(promoted, 'n3'));
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const target = ownersOf(p, ['n1', 'n2', 'n3'], COPIES);
    const owners = promoted.owners[p]!;
    t.is(owners[0], table.owners[p]![0], 'no primary moves to the newcomer');
    t.true(target.every((n) => owners.includes(n)), 'every wanted owner holds a copy');
    t.is(owners.length, target.includes(owners[0]!) ? COPIES : COPIES + 1, 'a primary the hash no longer wants keeps its copy beside them');
  }
  t.deepEqual(rolesOf(promoted, 'n3').primary, []);
});

test('a member back with another incarnation (restarted, or evicted and rejoined) holds nothing: it starts over as pending', (t) => {
  const incarnations = { n1: 'L1', n2: 'L2', n3: 'L3' };
  const { table: before } = nextTable(null, ['n1', 'n2', 'n3'], 1, COPIES, incarnations);
  const base = { members: ['n1', 'n2', 'n3'], viewRevision: 2, copies: COPIES, progress: new Map(), suspects: new Map() };
  t.is(coordinate({ ...base, table: before, incarnations }).table, null, 'same members, same incarnations: nothing to do');
  const { table } = coordinate({ ...base, table: before, incarnations: { ...incarnations, n1: 'L1b' } });
  t.truthy(table);
  t.is(table!.incarnations['n1'], 'L1b');
  for (let p = 0; p < PARTITION_COUNT; p++) {
    t.false(table!.owners[p]!.includes('n1'), 'the restarted n1 serves nothing it held before');
    t.is(table!.pending[p]!.includes('n1'), before.owners[p]!.includes('n1'));
  }
});

test('zones: the table keeps the members\' zones and spreads copies over them; a member back in another zone gets a new table', (t) => {
  const members = ['n1', 'n2', 'n3', 'n4'];
  const zones = { n1: 'a', n2: 'a', n3: 'b', n4: 'b' };
  const base = { members, viewRevision: 1, copies: COPIES, progress: new Map(), suspects: new Map() };
  const { table: first } = coordinate({ ...base, table: null, zones: { ...zones, gone: 'c' } });
  t.deepEqual(first!.zones, zones, 'only the members\' zones');
  for (let p = 0; p < PARTITION_COUNT; p++) t.deepEqual(first!.owners[p], ownersOf(p, members, COPIES, zones));
  t.is(coordinate({ ...base, table: first, zones }).table, null, 'same members in the same zones: nothing to do');

  // n4 comes back in zone a: the hash now wants a copy in b on n3 for every partition.
  const moved = { ...zones, n4: 'a' };
  const { table } = coordinate({ ...base, viewRevision: 2, table: first, zones: moved });
  t.deepEqual(table!.zones, moved);
  const caughtUp = new Map([['n3', new Set(table!.pending.flatMap((list, p) => (list.includes('n3') ? [p] : [])))]]);
  t.true(caughtUp.get('n3')!.size > 0, 'n3 is sent the partitions it now holds a copy of');
  const promoted = promoteCaughtUp(table!, caughtUp, COPIES)!;
  for (let p = 0; p < PARTITION_COUNT; p++) t.true(promoted.owners[p]!.includes('n3'), `partition ${p} has its zone-b copy`);
  t.is(nextTable(null, members, 1, COPIES).table.zones, undefined, 'no zones: none written');
  t.is(inOneZone(first!), 0, 'every partition spans both zones');
  t.is(inOneZone(nextTable(null, members, 1, COPIES).table), 0, 'no zones: none counted');
  const plain = nextTable(null, members, 1, COPIES).table;
  const exposed = plain.owners.filter((owners) => owners.every((n) => zones[n as keyof typeof zones] === zones[owners[0] as keyof typeof zones])).length;
  t.is(inOneZone({ ...plain, zones }), exposed, 'copies placed without zones: those sharing one are counted');
});

test('every owner gone: the partition is lost and restarts on its hash owners', (t) => {
  const { table: before } = nextTable(null, ['n1', 'n2', 'n3'], 1, COPIES);
  const { table, lost } = nextTable(before, ['n3'], 2, COPIES);
  const expected = before.owners.flatMap((owners, p) => (owners.includes('n3') ? [] : [p]));
  t.deepEqual(lost, expected);
  for (const p of lost) t.deepEqual(table.owners[p], ['n3']);
});

test('eviction needs a majority of the view: one isolated accuser evicts nobody', (t) => {
  t.is(evictionQuorum(3), 2);
  t.is(evictionQuorum(2), 2);
  const { table } = nextTable(null, ['a', 'b', 'c'], 1, COPIES);
  const base = { table, members: ['a', 'b', 'c'], viewRevision: 1, copies: COPIES, progress: new Map() };
  // a is cut off: it accuses b and c, they accuse a.
  const suspects = new Map([
    ['a', new Set(['b', 'c'])],
    ['b', new Set(['a'])],
    ['c', new Set(['a'])],
  ]);
  t.deepEqual(coordinate({ ...base, suspects }).evict, ['a']);
  t.deepEqual(coordinate({ ...base, suspects: new Map([['b', new Set(['a'])]]) }).evict, []);
  t.deepEqual(coordinate({ ...base, suspects: new Map([['c', new Set(['c', 'x'])]]) }).evict, [], 'self-accusation and non-members do not count');
  t.deepEqual(coordinate({ ...base, suspects: new Map([['a', new Set(['b', 'c'])]]) }).evict, ['a'], 'the oldest member, if the majority cannot hear it, is evicted');
});

test('the oldest member coordinates until a majority accuses it; then the next oldest does, and evicts it', (t) => {
  const order = ['a', 'b', 'c'];
  t.is(actingCoordinator(order, new Map()), 'a');
  t.is(actingCoordinator(order, new Map([['a', new Set(['b'])]])), 'a', 'one accuser of three is no majority');
  t.is(actingCoordinator(order, new Map([['a', new Set(['b', 'c'])]])), 'b', 'killed or cut off: the next oldest acts at once');
  t.is(actingCoordinator(order, new Map([['a', new Set(['a', 'x'])]])), 'a', 'self-accusation and non-members do not count');
  t.is(actingCoordinator(order, new Map([['a', new Set(['b', 'c'])], ['b', new Set(['a', 'c'])]])), 'c');
  t.is(actingCoordinator(['a', 'b'], new Map([['a', new Set(['b'])]])), 'a', 'in a view of two, one accuser is no majority');
  t.is(actingCoordinator([], new Map()), null);
  // Every member derives the same acting coordinator, and it is never one a majority accuses (when one exists).
  fc.assert(
    fc.property(fc.uniqueArray(fc.constantFrom<string>('a', 'b', 'c', 'd', 'e'), { minLength: 1 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x'), fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x'))), (members, accusations) => {
      const suspects = new Map<string, Set<string>>();
      for (const [target, accuser] of accusations) suspects.set(target, (suspects.get(target) ?? new Set()).add(accuser));
      const acting = actingCoordinator(members, suspects)!;
      const accusedBy = (m: string) => [...(suspects.get(m) ?? [])].filter((a) => a !== m && members.includes(a)).length;
      const clean = members.filter((m) => accusedBy(m) < evictionQuorum(members.length));
      return clean.length === 0 ? acting === members[0] : acting === clean[0] && coordinate({ table: null, members, viewRevision: 1, copies: COPIES, progress: new Map(), suspects }).evict.every((e) => e !== acting);
    }),
  );
});

test('an accusation short of a majority evicts once it stood, when its accuser is in good standing', (t) => {
  const { table } = nextTable(null, ['a', 'b', 'c'], 1, COPIES);
  const base = { table, members: ['a', 'b', 'c'], viewRevision: 1, copies: COPIES, progress: new Map(), joinOrder: ['a', 'b', 'c'] };
  const one = new Map([['a', new Set(['b'])]]);
  t.deepEqual(coordinate({ ...base, suspects: one, standing: new Map() }).evict, [], 'not before it stood');
  t.deepEqual(coordinate({ ...base, suspects: one, standing: one }).evict, ['a'], 'b cannot hear a (or a stopped acknowledging b): a goes');
  // A one-way cut a → b: each sees the link fail and accuses the other; the newer of the two goes.
  const mutual = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['a'])],
  ]);
  t.deepEqual(coordinate({ ...base, suspects: mutual, standing: mutual }).evict, ['b']);
  t.deepEqual(coordinate({ ...base, joinOrder: ['b', 'a', 'c'], suspects: mutual, standing: mutual }).evict, ['a']);
  // a is cut off from both: the majority evicts it, and what a said counts for nothing.
  const isolated = new Map([
    ['a', new Set(['b', 'c'])],
    ['b', new Set(['a'])],
    ['c', new Set(['a'])],
  ]);
  t.deepEqual(coordinate({ ...base, suspects: isolated, standing: isolated }).evict, ['a']);
  // b is accused by c and accuses a: an accused accuser is no witness (only c's word stands).
  const chain = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
  ]);
  t.deepEqual(coordinate({ ...base, suspects: chain, standing: chain }).evict, ['b']);
});

test('one witness never evicts the only holder of a partition (only a majority or its lease does)', (t) => {
  const { table } = nextTable(null, ['a', 'b'], 1, COPIES);
  // b left before a's copies were made elsewhere: a alone holds partition 0.
  const owners = table.owners.map((o, p) => (p === 0 ? ['a'] : o));
  const alone = { ...table, owners };
  const base = { table: alone, members: ['a', 'b'], viewRevision: 1, copies: COPIES, progress: new Map(), joinOrder: ['b', 'a'] };
  const one = new Map([['a', new Set(['b'])]]);
  t.deepEqual(coordinate({ ...base, suspects: one, standing: one }).evict, []);
  const mutual = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['a'])],
  ]);
  t.deepEqual(coordinate({ ...base, suspects: mutual, standing: mutual }).evict, ['b'], 'of two that accuse each other, the one that is not the only holder goes');
});

// --- model ---------------------------------------------------------------------

interface Model {
  members: string[];
  table: PartitionTable | null;
  /** Partitions each node holds a complete copy of (what a transfer or formation gave it). */
  holds: Map<string, Set<number>>;
  /** The zone each node joined in, if any (a node may join again in another). */
  zones: Record<string, string>;
  revision: number;
}

function run(model: Model): void {
  model.revision++;
  const zones = Object.fromEntries(model.members.flatMap((n) => (model.zones[n] === undefined ? [] : [[n, model.zones[n]]])));
  const decision = coordinate({ table: model.table, members: model.members, zones, viewRevision: model.revision, copies: COPIES, progress: new Map(), suspects: new Map() });
  if (decision.table === null) return;
  const formation = model.table === null;
  model.table = decision.table;
  for (let p = 0; p < PARTITION_COUNT; p++) {
    // Formation and lost partitions start empty on their owners: nothing to copy.
    if (formation || decision.lost.includes(p)) for (const n of model.table.owners[p]!) holdOf(model, n).add(p);
  }
}

function holdOf(model: Model, node: string): Set<number> {
  let set = model.holds.get(node);
  if (set === undefined) model.holds.set(node, (set = new Set()));
  return set;
}

function checkInvariants(model: Model): void {
  const table = model.table;
  if (table === null) return;
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const owners = table.owners[p]!;
    if (owners.length === 0) throw new Error(`partition ${p} has no primary`);
    if (new Set(owners).size !== owners.length) throw new Error(`partition ${p} lists an owner twice`);
    for (const n of owners) {
      if (!model.members.includes(n)) throw new Error(`partition ${p} owned by ${n}, not a member`);
      if (!model.holds.get(n)?.has(p)) throw new Error(`partition ${p} served by ${n}, which never received it`);
    }
    for (const n of table.pending[p]!) if (owners.includes(n)) throw new Error(`partition ${p}: ${n} both owner and pending`);
    const target = table.handoff?.[p];
    if (target !== undefined && (!owners.includes(target) || owners[0] === target)) throw new Error(`partition ${p} handed off to ${target}, not a backup`);
  }
}

test('model: joins (in zones or none), crashes and transfers in any order keep one primary per partition, served only by nodes that hold it', (t) => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const action = fc.oneof(
    fc.record({ kind: fc.constant('join' as const), node: fc.constantFrom(...nodes), zone: fc.constantFrom(undefined, 'a', 'b') }),
    fc.record({ kind: fc.constant('crash' as const), node: fc.constantFrom(...nodes) }),
    fc.record({ kind: fc.constant('caughtUp' as const), node: fc.constantFrom(...nodes), share: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ kind: fc.constant('handoff' as const), share: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );
  fc.assert(
    fc.property(fc.array(action, { minLength: 1, maxLength: 25 }), (actions) => {
      const model: Model = { members: ['n1'], table: null, holds: new Map(), zones: {}, revision: 0 };
      run(model);
      for (const a of actions) {
        if (a.kind === 'join' && !model.members.includes(a.node)) {
          model.members = [...model.members, a.node];
          if (a.zone === undefined) delete model.zones[a.node];
          else model.zones[a.node] = a.zone;
          run(model);
        } else if (a.kind === 'crash' && model.members.includes(a.node) && model.members.length > 1) {
          model.members = model.members.filter((n) => n !== a.node);
          model.holds.delete(a.node);
          run(model);
        } else if (a.kind === 'caughtUp' && model.table !== null) {
          // Some of the node's transfers complete (in any order); the coordinator promotes.
          const pending = model.table.pending.flatMap((list, p) => (list.includes(a.node) ? [p] : []));
          const done = pending.slice(0, Math.ceil(pending.length * a.share));
          for (const p of done) holdOf(model, a.node).add(p);
          const promoted = promoteCaughtUp(model.table, new Map([[a.node, new Set(done)]]), COPIES);
          if (promoted !== null) model.table = promoted;
        } else if (a.kind === 'handoff' && model.table !== null) {
          // Primaries move to the hash's first owner; some of the old primaries release in time.
          model.table = startHandoffs(model.table, COPIES, new Set()) ?? model.table;
          const handoffs = Object.keys(model.table.handoff ?? {}).map(Number);
          const released = new Map<string, Set<number>>();
          for (const p of handoffs.slice(0, Math.ceil(handoffs.length * a.share))) {
            const primary = model.table.owners[p]![0]!;
            released.set(primary, (released.get(primary) ?? new Set()).add(p));
          }
          model.table = completeHandoffs(model.table, released, COPIES) ?? model.table;
        }
        checkInvariants(model);
      }
      // Once every transfer completed, each partition's copies include its hash owners, and nothing is pending.
      if (model.table !== null) {
        const all = new Map(model.members.map((n) => [n, new Set(model.table!.pending.flatMap((list, p) => (list.includes(n) ? [p] : [])))]));
        for (const [n, set] of all) for (const p of set) holdOf(model, n).add(p);
        const settled = promoteCaughtUp(model.table, all, COPIES) ?? model.table;
        for (let p = 0; p < PARTITION_COUNT; p++) {
          const owners = settled.owners[p]!;
          if (!ownersOf(p, model.members, COPIES, settled.zones).every((n) => owners.includes(n))) throw new Error(`partition ${p} did not settle on its hash owners`);
          if (settled.pending[p]!.length > 0) throw new Error(`partition ${p} still has pending owners`);
        }
      }
    }),
    { numRuns: 60 },
  );
  t.pass();
});

/** Every partition released by its primary (what the members report once drained). */
function releasedAll(table: PartitionTable): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const key of Object.keys(table.handoff ?? {})) {
    const primary = table.owners[Number(key)]![0]!;
    out.set(primary, (out.get(primary) ?? new Set()).add(Number(key)));
  }
  return out;
}

test('a draining member hands its primaries to their backups; each moves only once released', (t) => {
  const { table } = nextTable(null, ['n1', 'n2', 'n3'], 1, COPIES);
  const mine = rolesOf(table, 'n1').primary;
  const asked = startHandoffs(table, COPIES, new Set(['n1']))!;
  const handed = Object.keys(asked.handoff!).map(Number);
  t.true(handed.length > 0 && handed.every((p) => mine.includes(p)), 'only the draining member\'s primaries');
  for (const p of handed) t.is(asked.handoff![p], table.owners[p]![1], 'to its backup');
  t.is(completeHandoffs(asked, new Map(), COPIES), null, 'nothing moves before the release');
  const first = handed[0]!;
  const done = completeHandoffs(asked, new Map([['n1', new Set([first])]]), COPIES)!;
  t.deepEqual(done.owners[first], [table.owners[first]![1], 'n1'], 'the backup is primary, the leaving member a backup until it goes');
  t.false(first in done.handoff!, 'the handoff is done');
  t.is(Object.keys(done.handoff!).length, handed.length - 1, 'the others still wait for their release');
  t.is(done.owners[handed[1]!]![0], 'n1');
});

test('primaries return to the hash\'s first owner once it holds a copy, a batch at a time, and a stale release holds a new handoff back', (t) => {
  // n3 came back: after its transfers, every primary is still on n1 or n2.
  const { table: two } = nextTable(null, ['n1', 'n2'], 1, COPIES);
  const { table: joined } = nextTable(two, ['n1', 'n2', 'n3'], 2, COPIES);
  const caughtUp = new Map([['n3', new Set(joined.pending.flatMap((list, p) => (list.includes('n3') ? [p] : [])))]]);
  let table = promoteCaughtUp(joined, caughtUp, COPIES)!;
  t.deepEqual(rolesOf(table, 'n3').primary, []);
  for (let round = 0; round < 100; round++) {
    const asked = startHandoffs(table, COPIES, new Set());
    if (asked === null) break;
    t.true(Object.keys(asked.handoff!).length <= BALANCE_HANDOFFS);
    table = completeHandoffs(asked, releasedAll(asked), COPIES)!;
  }
  for (let p = 0; p < PARTITION_COUNT; p++) t.deepEqual(table.owners[p], ownersOf(p, ['n1', 'n2', 'n3'], COPIES), `partition ${p} is on its hash owners, primary first`);
  // A primary that still reports a partition released from an earlier handoff is not asked again until it reports anew.
  const p = table.owners.findIndex((o) => o[0] === 'n1');
  const moved = { ...table, owners: table.owners.map((o, i) => (i === p ? [...o].reverse() : o)) };
  t.is(startHandoffs(moved, COPIES, new Set(), new Map([[moved.owners[p]![0]!, new Set([p])]]))?.handoff?.[p], undefined);
  t.is(startHandoffs(moved, COPIES, new Set())!.handoff![p], 'n1');
});

test('a view change drops the handoffs under way: the old primary, still first, serves again', (t) => {
  const { table } = nextTable(null, ['n1', 'n2', 'n3'], 1, COPIES);
  const asked = startHandoffs(table, COPIES, new Set(['n1']))!;
  const { table: next } = nextTable(asked, ['n1', 'n2', 'n3', 'n4'], 2, COPIES);
  t.is(next.handoff, undefined);
  for (const key of Object.keys(asked.handoff!)) t.is(next.owners[Number(key)]![0], 'n1');
});
