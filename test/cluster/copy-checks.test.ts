// Goal: the copy checks compare each of this node's primary partitions with
// every backup once per period, and only those; a copy that differs once is
// checked again in the next round and sent its partition again only if it
// still differs; a backup whose stream fails is not counted as checked; no
// round runs while the node may not (not serving, or a transfer under way);
// after a restart as the same member (sweepSoon) every primary is checked
// within SWEEP_MS, then the period's pace resumes.
// Method: a formed three-member table, the rounds run by hand, the backups'
// answers decided by the test.

import test from 'ava';
import { CopyChecks, ROUND_MS, SWEEP_MS, type CopyCheckOptions } from '../../src/cluster/copy-checks.js';
import { nextTable, type PartitionTable } from '../../src/cluster/partition-table.js';
import { PARTITION_COUNT } from '../../src/constants.js';

const ROUNDS_PER_PERIOD = 4;

/** What the checks are given, and what they did: the state the test reads and steers. */
interface State {
  table: PartitionTable;
  /** Every check sent: backup, partitions. */
  sent: { node: string; partitions: number[] }[];
  refills: string[];
  /** Copies counted as checked. */
  checked: number;
  /** Decides which partitions a backup answers as differing (or throws: the stream failed). */
  answer: (node: string, partitions: number[]) => number[];
  ready: boolean;
}

interface Harness extends State {
  options: CopyCheckOptions;
  checks: CopyChecks;
}

function harness(): Harness {
  const state: State = { table: nextTable(null, ['a', 'b', 'c'], 1, 2).table, sent: [], refills: [], checked: 0, answer: () => [], ready: true };
  const options: CopyCheckOptions = {
    self: 'a',
    periodMs: ROUNDS_PER_PERIOD * ROUND_MS,
    table: () => state.table,
    ready: () => state.ready,
    digests: async (partitions) => partitions.map((p) => `digest-${p}`),
    check: async (node, partitions, digests) => {
      state.sent.push({ node, partitions });
      if (!digests.every((d, i) => d === `digest-${partitions[i]}`)) throw new Error('digests out of order');
      return state.answer(node, partitions);
    },
    refill: () => true,
    onChecked: (copies) => (state.checked += copies),
    onRefill: (node, partition) => state.refills.push(`${node}:${partition}`),
  };
  // Not started: the test runs the rounds.
  return Object.assign(state, { options, checks: new CopyChecks(options) });
}

const primariesOf = (table: PartitionTable, node: string): number[] =>
  Array.from({ length: PARTITION_COUNT }, (_, p) => p).filter((p) => table.owners[p]![0] === node);

test('every primary partition is checked with its backup once per period, and no other partition', async (t) => {
  const h = harness();
  for (let i = 0; i < ROUNDS_PER_PERIOD; i++) await h.checks.round();
  const mine = primariesOf(h.table, 'a');
  const checked = h.sent.flatMap((s) => s.partitions.map((p) => `${s.node}:${p}`));
  const expected = mine.map((p) => `${h.table.owners[p]![1]}:${p}`).sort();
  t.deepEqual([...new Set(checked)].sort(), expected);
  // Each round takes its share rounded up: the last one of a period may start the next.
  t.true(checked.length < mine.length + Math.ceil(mine.length / ROUNDS_PER_PERIOD), `${checked.length} checks`);
  t.is(h.checked, checked.length);
  t.deepEqual(h.refills, []);
});

test('a copy that differs once is checked again in the next round, and sent its partition again only if it still differs', async (t) => {
  const h = harness();
  const [p1, p2] = primariesOf(h.table, 'a');
  const backup1 = h.table.owners[p1!]![1]!;
  const backup2 = h.table.owners[p2!]![1]!;
  // First round: both differ.
  h.answer = (_node, partitions) => partitions.filter((p) => p === p1 || p === p2);
  await h.checks.round();
  t.deepEqual(h.refills, []);
  // Next round: both are asked again; p1 still differs, p2 agrees now (a record was on its way).
  h.sent = [];
  h.answer = (_node, partitions) => partitions.filter((p) => p === p1);
  await h.checks.round();
  t.true(h.sent.some((s) => s.node === backup1 && s.partitions.includes(p1!)));
  t.true(h.sent.some((s) => s.node === backup2 && s.partitions.includes(p2!)));
  t.deepEqual(h.refills, [`${backup1}:${p1}`]);
  // Once refilled, it starts over: one more difference is not a refill yet.
  h.refills = [];
  h.answer = (_node, partitions) => partitions.filter((p) => p === p1);
  await h.checks.round();
  t.deepEqual(h.refills, []);
});

test('a round whose digests cannot be read ends quietly (the next period asks again)', async (t) => {
  const h = harness();
  const failing = new CopyChecks({ ...h.options, digests: async () => Promise.reject(new Error('shard restarting')) });
  await t.notThrowsAsync(failing.round());
  t.deepEqual(h.sent, []);
});

test('a backup whose stream fails is not counted as checked; no round runs while the node may not', async (t) => {
  const h = harness();
  h.answer = () => {
    throw new Error('stream broke');
  };
  await h.checks.round();
  t.true(h.sent.length > 0);
  t.is(h.checked, 0);
  h.sent = [];
  h.ready = false;
  await h.checks.round();
  t.deepEqual(h.sent, []);
});

test('after sweepSoon every primary is checked within SWEEP_MS, then the period\'s pace resumes', async (t) => {
  const h = harness();
  const slow = new CopyChecks({ ...h.options, periodMs: 300_000 });
  const mine = primariesOf(h.table, 'a');
  /** The primaries one round checks (each has one backup here). */
  const round = async (): Promise<number> => {
    h.sent = [];
    await slow.round();
    return h.sent.reduce((n, s) => n + s.partitions.length, 0);
  };
  const perRound = Math.ceil((mine.length * ROUND_MS) / 300_000);
  t.is(await round(), perRound, 'the period\'s pace');
  slow.sweepSoon();
  const swept = new Set<number>();
  for (let i = 0; i < SWEEP_MS / ROUND_MS; i++) {
    await round();
    for (const s of h.sent) for (const p of s.partitions) swept.add(p);
  }
  t.true(mine.every((p) => swept.has(p)), 'every primary within the sweep');
  t.deepEqual([await round(), await round()], [perRound, perRound], 'then the period\'s pace again');
});
