// Goal: the partition table of a cluster is the same on every node and every
// version (pinned test vectors), balanced (primaries within 15 % of even for
// 2 to 8 members), and moves the least possible when a member joins or
// leaves: a joiner only takes partitions, a leaver's partitions go to the
// survivors next in line (its backup becomes primary), nobody else's change.
// Method: fixed vectors; fast-check over random member sets (seed printed).

import test from 'ava';
import fc from 'fast-check';
import { hrwScore, ownersByPartition, ownersOf, partitionTable } from '../../src/cluster/hrw.js';
import { PARTITION_COUNT } from '../../src/constants.js';

const seed = Number(process.env.FC_SEED ?? 20_261_204);

test('scores are pinned: the same on every node and version', (t) => {
  t.is(hrwScore(0, 'node-1').toString(16), '13950d4ef307e655');
  t.is(hrwScore(1, 'node-1').toString(16), 'ff0ce38fab9f78d2');
  t.is(hrwScore(1023, 'node-2').toString(16), '9ea5fa4c5cc56c20');
  t.is(hrwScore(512, 'n3').toString(16), '4c61476ed933260b');
  t.is(hrwScore(7, 'é-ü').toString(16), 'aeddfaa4b3ade557');
  t.deepEqual([0, 1, 2, 3, 511, 1023].map((p) => ownersOf(p, ['n1', 'n2', 'n3'], 2)), [
    ['n1', 'n2'], ['n1', 'n3'], ['n2', 'n1'], ['n1', 'n3'], ['n1', 'n2'], ['n2', 'n1'],
  ]);
});

test('the table equals ownersOf for every partition, whatever the members order', (t) => {
  const members = ['c', 'a', 'b', 'd'];
  const table = partitionTable(members, 2);
  const shuffled = partitionTable(['d', 'b', 'a', 'c'], 2);
  for (let p = 0; p < PARTITION_COUNT; p++) {
    if (JSON.stringify(table[p]) !== JSON.stringify(ownersOf(p, members, 2)) || JSON.stringify(table[p]) !== JSON.stringify(shuffled[p])) {
      t.fail(`partition ${p}`);
      return;
    }
  }
  t.pass();
});

test('the kept table follows the member set and the copies asked for', (t) => {
  for (const [members, copies] of [[['a', 'b', 'c'], 2], [['a', 'b', 'c'], 3], [['a', 'b', 'c', 'd'], 2], [['a', 'b', 'c'], 2]] as const) {
    const kept = ownersByPartition(members, copies);
    t.deepEqual(kept, partitionTable(members, copies), `${members.join()} with ${copies} copies`);
  }
});

test('primaries are balanced within 15 % of even for 2 to 8 members', (t) => {
  for (let n = 2; n <= 8; n++) {
    const table = partitionTable(Array.from({ length: n }, (_, i) => `node-${i + 1}`), 2);
    const load = new Map<string, number>();
    for (const owners of table) load.set(owners[0]!, (load.get(owners[0]!) ?? 0) + 1);
    const ratio = Math.max(...load.values()) / (PARTITION_COUNT / n);
    t.true(ratio <= 1.15, `${n} members: max/avg ${ratio.toFixed(3)}`);
    t.is(load.size, n, 'every member is primary somewhere');
  }
});

const memberSets = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), { minLength: 2, maxLength: 7 });

test('a member that joins only takes partitions; the others keep their relative order', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  fc.assert(
    fc.property(memberSets, fc.stringMatching(/^[A-Z][a-z0-9]{0,7}$/), (members, joiner) => {
      const before = partitionTable(members, 3);
      const after = partitionTable([...members, joiner], 3);
      for (let p = 0; p < PARTITION_COUNT; p++) {
        const kept = after[p]!.filter((node) => node !== joiner);
        // Without the joiner the ranking is the old one, cut to fewer owners.
        if (JSON.stringify(kept) !== JSON.stringify(before[p]!.slice(0, kept.length))) return false;
      }
      return true;
    }),
    { seed, numRuns: 25 },
  );
  t.pass();
});

test('a member that leaves hands each partition to the survivors next in line: its backup becomes primary', (t) => {
  fc.assert(
    fc.property(memberSets.filter((m) => m.length >= 3), fc.nat(), (members, pick) => {
      const leaver = members[pick % members.length]!;
      const before = partitionTable(members, 2);
      const after = partitionTable(members.filter((node) => node !== leaver), 2);
      for (let p = 0; p < PARTITION_COUNT; p++) {
        const [primary, backup] = before[p]!;
        if (primary === leaver && after[p]![0] !== backup) return false;
        if (primary !== leaver && after[p]![0] !== primary) return false;
        if (!before[p]!.includes(leaver) && JSON.stringify(after[p]) !== JSON.stringify(before[p])) return false;
      }
      return true;
    }),
    { seed, numRuns: 25 },
  );
  t.pass();
});

// Zones: a partition's copies are spread over the members' zones (a rack, an
// availability zone), so losing one zone never takes every copy while
// another zone holds members.

test('two zones of two members, two copies: every partition has a copy in each zone, primaries as without zones', (t) => {
  const members = ['n1', 'n2', 'n3', 'n4'];
  const zones = { n1: 'a', n2: 'a', n3: 'b', n4: 'b' };
  const zoned = partitionTable(members, 2, zones);
  const plain = partitionTable(members, 2);
  const spread = zoned.filter((owners) => new Set(owners.map((n) => zones[n as keyof typeof zones])).size === 2).length;
  t.is(spread, PARTITION_COUNT);
  t.deepEqual(zoned.map((owners) => owners[0]), plain.map((owners) => owners[0]));
  // Without zones about a third of the partitions would have both copies in one zone.
  t.true(plain.filter((owners) => new Set(owners.map((n) => zones[n as keyof typeof zones])).size === 1).length > PARTITION_COUNT / 4);
});

const zoneOf = (zones: Record<string, string>, node: string): string => zones[node] ?? `own:${node}`;

test('zones: owners span as many zones as they can, the primary is the ranking\'s first, and a member without a zone is a zone of its own', (t) => {
  const zoned = memberSets.chain((members) =>
    fc.tuple(
      fc.constant(members),
      fc.array(fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), { minLength: members.length, maxLength: members.length }),
      fc.integer({ min: 1, max: 4 }),
    ),
  );
  fc.assert(
    fc.property(zoned, ([members, picks, copies]) => {
      const zones: Record<string, string> = {};
      members.forEach((node, i) => {
        if (picks[i] !== undefined) zones[node] = picks[i];
      });
      const table = partitionTable(members, copies, zones);
      const zoneCount = new Set(members.map((n) => zoneOf(zones, n))).size;
      for (let p = 0; p < PARTITION_COUNT; p++) {
        const ranking = ownersOf(p, members, members.length);
        const owners = table[p]!;
        if (owners[0] !== ranking[0] || owners.length !== Math.min(copies, members.length) || new Set(owners).size !== owners.length) return false;
        if (new Set(owners.map((n) => zoneOf(zones, n))).size !== Math.min(copies, zoneCount)) return false;
        // Each zone's copy is that zone's best-ranked member.
        const firstOfZone = new Map<string, string>();
        for (const n of ranking) if (!firstOfZone.has(zoneOf(zones, n))) firstOfZone.set(zoneOf(zones, n), n);
        const seen = new Set<string>();
        for (const n of owners) {
          const zone = zoneOf(zones, n);
          if (!seen.has(zone) && firstOfZone.get(zone) !== n) return false;
          seen.add(zone);
        }
        if (JSON.stringify(ownersOf(p, members, copies, zones)) !== JSON.stringify(owners)) return false;
      }
      return true;
    }),
    { seed, numRuns: 25 },
  );
  t.pass();
});

test('zones that put every member in a zone of its own give the table without zones', (t) => {
  const members = ['a', 'b', 'c', 'd', 'e'];
  t.deepEqual(partitionTable(members, 3, Object.fromEntries(members.map((n) => [n, `z-${n}`]))), partitionTable(members, 3));
  t.deepEqual(ownersByPartition(members, 3, { a: 'z' }), partitionTable(members, 3, { a: 'z' }));
  t.notDeepEqual(ownersByPartition(members, 3, { a: 'z', b: 'z' }), partitionTable(members, 3), 'the kept table follows the zones too');
});
