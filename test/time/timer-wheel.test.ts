// Goal: TimerWheel fires every entry exactly once, never early, at the first
// advance() that reaches its deadline, in deadline order, within the budget
// and the cascade allowance, across jumps of any size. Method: unit tests for
// each rule, then seeded random command sequences checked against
// test/helpers/reference-timer.ts, two ways: the reference as a model that every
// firing must match (any budget, callbacks touching any id), and the reference
// run side by side (unlimited budget, same fired set per call). The fast-check
// seed is fixed (override with FC_SEED, runs per property with FC_NUM_RUNS); on
// failure fast-check prints the seed, the replay path, the shrunk
// counterexample and the failed check.

import assert from 'node:assert/strict';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import {
  TimerWheel,
  WHEEL_DEADLINE_MAX_S,
  WHEEL_LEVEL0_SLOTS,
} from '../../src/time/timer-wheel.js';
import { ReferenceTimer } from '../helpers/reference-timer.js';

const START_S = 1_800_000_000;
const DAY_S = 86_400;
const YEAR_S = 365 * DAY_S;

type Fired = Array<[id: number, deadlineS: number]>;

function collect(wheel: TimerWheel, nowS: number, budget = Infinity): { done: boolean; fired: Fired } {
  const fired: Fired = [];
  const done = wheel.advance(nowS, budget, (id, deadlineS) => {
    fired.push([id, deadlineS]);
  });
  return { done, fired };
}

// A deterministic stream for the large tests, so failures reproduce.
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function assertNonDecreasing(t: ExecutionContext, fired: Fired): void {
  let ordered = true;
  for (let i = 1; i < fired.length; i++) {
    if (fired[i]![1] < fired[i - 1]![1]) ordered = false;
  }
  t.true(ordered, 'fired in non-decreasing deadline order');
}

test('schedule, reschedule and cancel keep size, isScheduled and deadlineOf exact', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  t.is(wheel.size, 0);
  t.is(wheel.currentSecond, START_S);
  t.false(wheel.isScheduled(3));
  t.is(wheel.deadlineOf(3), -1);

  wheel.schedule(3, START_S + 10);
  wheel.schedule(4, START_S + 1_000);
  t.is(wheel.size, 2);
  t.true(wheel.isScheduled(3));
  t.is(wheel.deadlineOf(3), START_S + 10);

  wheel.schedule(3, START_S + 20 * DAY_S);
  t.is(wheel.size, 2, 'rescheduling replaces, it does not add');
  t.is(wheel.deadlineOf(3), START_S + 20 * DAY_S);

  t.true(wheel.cancel(4));
  t.false(wheel.cancel(4), 'a second cancel finds nothing');
  t.false(wheel.cancel(999_999), 'ids beyond the arrays are simply not scheduled');
  t.is(wheel.size, 1);
  t.false(wheel.isScheduled(4));

  const { fired } = collect(wheel, START_S + 20 * DAY_S);
  t.deepEqual(fired, [[3, START_S + 20 * DAY_S]], 'only the latest schedule of id 3 fires');
  t.is(wheel.size, 0);
});

test('an entry fires at the first advance that reaches its deadline, never before', (t) => {
  for (const startS of [START_S, START_S + 255, START_S + 16_383]) {
    for (const delta of [1, 255, 256, 257, 16_383, 16_384, 2 ** 20 + 7, 40 * DAY_S, 3 * YEAR_S]) {
      const wheel = new TimerWheel({ startSecond: startS });
      wheel.schedule(0, startS + delta);
      t.deepEqual(collect(wheel, startS + delta - 1).fired, [], `not at deadline - 1 (delta ${delta})`);
      t.deepEqual(collect(wheel, startS + delta).fired, [[0, startS + delta]], `at the deadline (delta ${delta})`);
    }
  }
});

test('the worked example in the essay: cascades across levels, skipping empty seconds', (t) => {
  const wheel = new TimerWheel({ startSecond: 1_000 });
  wheel.schedule(1, 1_010);
  wheel.schedule(2, 1_300);
  wheel.schedule(3, 100_000);
  t.is(wheel.nextDueHint(), 1_010);
  t.deepEqual(collect(wheel, 1_300), { done: true, fired: [[1, 1_010], [2, 1_300]] });
  t.is(wheel.nextDueHint(), 6 * 16_384, 'a level-2 entry hints at the start of its slot');
  t.deepEqual(collect(wheel, 99_999).fired, []);
  t.is(wheel.nextDueHint(), 100_000, 'after cascading to level 0 the hint is exact');
  t.deepEqual(collect(wheel, 100_000).fired, [[3, 100_000]]);
  t.is(wheel.nextDueHint(), -1);
});

test('a deadline in the past fires at the next advance, even one with an older now', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  wheel.schedule(7, START_S - 3_600);
  wheel.schedule(8, START_S);
  t.is(wheel.nextDueHint(), START_S - 3_600);
  const { done, fired } = collect(wheel, START_S - 10 * DAY_S);
  t.true(done);
  t.deepEqual(
    fired.sort((a, b) => a[0] - b[0]),
    [
      [7, START_S - 3_600],
      [8, START_S],
    ],
  );
  t.is(wheel.currentSecond, START_S, 'time never moves backwards');
});

test('a smaller now only fires what is already due', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  collect(wheel, START_S + 100);
  wheel.schedule(1, START_S + 100);
  wheel.schedule(2, START_S + 101);
  t.deepEqual(collect(wheel, START_S).fired, [[1, START_S + 100]]);
  t.is(wheel.currentSecond, START_S + 100);
  t.true(wheel.isScheduled(2));
});

test('callbacks may re-arm the firing id, schedule and cancel others', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  wheel.schedule(1, START_S + 5);
  wheel.schedule(2, START_S + 6);
  wheel.schedule(3, START_S + 7);
  const fired: Fired = [];
  const done = wheel.advance(START_S + 10, Infinity, (id, deadlineS) => {
    fired.push([id, deadlineS]);
    t.false(wheel.isScheduled(id), 'unscheduled before its callback runs');
    if (id === 1 && deadlineS === START_S + 5) {
      wheel.schedule(1, START_S + 8); // lazy re-arm within this call's window
      wheel.cancel(3);
      wheel.schedule(4, START_S - 50); // in the past: still fires in this call
      wheel.schedule(5, START_S + 11); // beyond now: stays
    }
  });
  t.true(done);
  t.deepEqual(fired, [
    [1, START_S + 5],
    [4, START_S - 50],
    [2, START_S + 6],
    [1, START_S + 8],
  ]);
  t.is(wheel.size, 1);
  t.is(wheel.deadlineOf(5), START_S + 11);
});

test('a budget caps callbacks per call; the next call resumes in order', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  for (let id = 0; id < 10; id++) wheel.schedule(id, START_S + 1 + (id % 4) * 300);
  const all: Fired = [];
  const calls: boolean[] = [];
  for (;;) {
    const { done, fired } = collect(wheel, START_S + 2_000, 3);
    t.true(fired.length <= 3);
    all.push(...fired);
    calls.push(done);
    if (done) break;
    t.is(fired.length, 3, 'a call that reports more work used its whole budget');
  }
  t.deepEqual(calls, [false, false, false, true]);
  t.is(all.length, 10);
  assertNonDecreasing(t, all);
  t.is(wheel.size, 0);
});

test('a budget that exactly covers what is due reports done; budget 0 fires nothing', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  wheel.schedule(0, START_S + 1);
  wheel.schedule(1, START_S + 2);
  wheel.schedule(2, START_S + 900);
  t.false(collect(wheel, START_S + 2, 0).done);
  t.is(wheel.size, 3);
  t.deepEqual(collect(wheel, START_S + 2, 2), { done: true, fired: [[0, START_S + 1], [1, START_S + 2]] });
  t.deepEqual(collect(wheel, START_S + 800, 0), { done: true, fired: [] });
});

test('huge jumps: 1 M entries spread over two years fire in order in one call', (t) => {
  const count = 1_000_000;
  const wheel = new TimerWheel({ startSecond: START_S, initialCapacity: count });
  const random = lcg(42);
  for (let id = 0; id < count; id++) wheel.schedule(id, START_S + 1 + Math.floor(random() * 2 * YEAR_S));
  t.is(wheel.size, count);
  let previousS = -1;
  let ordered = true;
  let early = 0;
  let fired = 0;
  const targetS = START_S + 2 * YEAR_S;
  const done = wheel.advance(targetS, Infinity, (_id, deadlineS) => {
    if (deadlineS < previousS) ordered = false;
    if (deadlineS > targetS) early++;
    previousS = deadlineS;
    fired++;
  });
  t.true(done);
  t.is(fired, count);
  t.true(ordered, 'non-decreasing deadlines');
  t.is(early, 0);
  t.is(wheel.size, 0);
});

test('huge jumps over empty time cost nothing: the whole Uint32 range in one call', (t) => {
  const wheel = new TimerWheel({ startSecond: 0 });
  wheel.schedule(1, WHEEL_DEADLINE_MAX_S);
  wheel.schedule(2, 2 ** 31);
  // Were empty seconds visited one by one, this would take 4e9 iterations.
  t.deepEqual(collect(wheel, WHEEL_DEADLINE_MAX_S - 1).fired, [[2, 2 ** 31]]);
  t.true(wheel.isScheduled(1));
  t.deepEqual(collect(wheel, WHEEL_DEADLINE_MAX_S).fired, [[1, WHEEL_DEADLINE_MAX_S]]);
});

test('a jump that fires nothing leaves far entries in place', (t) => {
  const count = 100_000;
  const wheel = new TimerWheel({ startSecond: START_S, initialCapacity: 16 });
  const random = lcg(7);
  const deadlines = new Float64Array(count);
  for (let id = 0; id < count; id++) {
    deadlines[id] = START_S + 30 * DAY_S + 1 + Math.floor(random() * YEAR_S);
    wheel.schedule(id, deadlines[id]!);
  }
  t.deepEqual(collect(wheel, START_S + 30 * DAY_S), { done: true, fired: [] });
  t.is(wheel.size, count);
  let mismatches = 0;
  for (let id = 0; id < count; id++) if (wheel.deadlineOf(id) !== deadlines[id]) mismatches++;
  t.is(mismatches, 0);
  t.true(wheel.nextDueHint() > START_S + 30 * DAY_S);
});

test('the arrays grow beyond the initial capacity without losing entries', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S, initialCapacity: 1 });
  const random = lcg(3);
  const expected = new Map<number, number>();
  for (let i = 0; i < 5_000; i++) {
    const id = Math.floor(random() * 20_000);
    const deadlineS = START_S + 1 + Math.floor(random() * 50_000);
    wheel.schedule(id, deadlineS);
    expected.set(id, deadlineS);
  }
  t.is(wheel.size, expected.size);
  const { fired } = collect(wheel, START_S + 50_000);
  const byId = (a: [number, number], b: [number, number]) => a[0] - b[0];
  t.deepEqual([...fired].sort(byId), [...expected].sort(byId));
  t.is(fired.length, expected.size);
  assertNonDecreasing(t, fired);
});

test('clear empties the wheel but keeps its time', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  for (let id = 0; id < 100; id++) wheel.schedule(id, START_S - 5 + id * 1_000);
  collect(wheel, START_S + 10, 1);
  wheel.clear();
  t.is(wheel.size, 0);
  t.is(wheel.currentSecond, START_S + 10);
  t.is(wheel.nextDueHint(), -1);
  t.false(wheel.isScheduled(50));
  t.deepEqual(collect(wheel, START_S + 200_000), { done: true, fired: [] });
  wheel.schedule(50, START_S + 200_001);
  t.deepEqual(collect(wheel, START_S + 200_001).fired, [[50, START_S + 200_001]]);
});

test('nextDueHint is a lower bound: exact on level 0, a slot start above', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  t.is(wheel.nextDueHint(), -1);
  wheel.schedule(1, START_S + 10 * DAY_S);
  const hint = wheel.nextDueHint();
  t.true(hint > START_S && hint <= START_S + 10 * DAY_S);
  wheel.schedule(2, START_S + 3);
  t.is(wheel.nextDueHint(), START_S + 3);
  wheel.schedule(3, START_S - 9);
  t.is(wheel.nextDueHint(), START_S - 9, 'late entries are due now');
  collect(wheel, START_S + 3);
  t.is(wheel.size, 1);
  // Following the hints reaches the deadline in a few wake-ups (one per level).
  let wakeUps = 0;
  let fired = 0;
  while (wheel.size > 0 && wakeUps < 10) {
    const next = wheel.nextDueHint();
    t.true(next <= START_S + 10 * DAY_S);
    wheel.advance(next, Infinity, () => fired++);
    wakeUps++;
  }
  t.is(fired, 1);
  t.true(wakeUps <= 5, `took ${wakeUps} wake-ups`);
});

test('arguments are checked and advance is not re-entrant', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  t.throws(() => new TimerWheel({ startSecond: -1 }), { instanceOf: RangeError });
  t.throws(() => new TimerWheel({ startSecond: 0, initialCapacity: 0 }), { instanceOf: RangeError });
  t.throws(() => wheel.schedule(-1, START_S), { instanceOf: RangeError });
  t.throws(() => wheel.schedule(1.5, START_S), { instanceOf: RangeError });
  t.throws(() => wheel.schedule(1, START_S + 0.5), { instanceOf: RangeError });
  t.throws(() => wheel.schedule(1, WHEEL_DEADLINE_MAX_S + 1), { instanceOf: RangeError });
  t.throws(() => wheel.advance(START_S, -1, () => {}), { instanceOf: RangeError });
  t.throws(() => wheel.advance(Number.NaN, 1, () => {}), { instanceOf: RangeError });
  t.is(wheel.size, 0);

  wheel.schedule(1, START_S + 1);
  wheel.schedule(2, START_S + 1);
  t.throws(() => wheel.advance(START_S + 1, Infinity, () => wheel.advance(START_S + 1, 1, () => {})), {
    message: /not re-entrant/,
  });
  t.is(wheel.size, 1, 'the entry whose callback threw is gone; the other remains');
  t.is(collect(wheel, START_S + 1).fired.length, 1, 'and the wheel still works');
});

test('a throwing callback loses only its own firing', (t) => {
  const wheel = new TimerWheel({ startSecond: START_S });
  for (let id = 0; id < 5; id++) wheel.schedule(id, START_S + WHEEL_LEVEL0_SLOTS + id);
  t.throws(() =>
    wheel.advance(START_S + 10_000, Infinity, (id) => {
      if (id === 2) throw new Error('boom');
    }),
  );
  t.false(wheel.isScheduled(2));
  t.deepEqual(
    collect(wheel, START_S + 10_000).fired.map(([id]) => id),
    [3, 4],
  );
});

test('with a finite budget a large slot is cascaded across several calls', (t) => {
  // START_S is a multiple of 256, so START_S + 256 .. + 511 is one level-1 slot.
  const slotS = START_S + 256;
  const wheel = new TimerWheel({ startSecond: START_S, cascadeBatchMax: 10 });
  for (let id = 0; id < 100; id++) wheel.schedule(id, slotS + (id % 50));
  const calls: Array<{ done: boolean; fired: number }> = [];
  const all: Fired = [];
  for (;;) {
    const { done, fired } = collect(wheel, slotS + 49, 1_000);
    calls.push({ done, fired: fired.length });
    all.push(...fired);
    if (done) break;
    t.is(wheel.nextDueHint(), slotS, 'a pending cascade asks for an immediate wake-up');
    if (calls.length === 3) {
      // Cancelling and scheduling into the half-moved slot work as usual.
      t.true(wheel.cancel(99));
      wheel.schedule(200, slotS + 10);
    }
  }
  t.deepEqual(
    calls.map((call) => call.done),
    [...Array(9).fill(false), true],
    'ten calls of at most ten moves each',
  );
  t.true(calls.slice(0, -1).every((call) => call.fired === 0));
  t.is(all.length, 100);
  t.false(all.some(([id]) => id === 99));
  t.true(all.some(([id, deadlineS]) => id === 200 && deadlineS === slotS + 10));
  assertNonDecreasing(t, all);
});

test('a bounded call may ask to be called again before anything is due', (t) => {
  const slotS = START_S + 256;
  const wheel = new TimerWheel({ startSecond: START_S, cascadeBatchMax: 10 });
  for (let id = 0; id < 95; id++) wheel.schedule(id, slotS + 200);
  t.deepEqual(collect(wheel, slotS + 5, 1_000), { done: false, fired: [] });
  t.true(wheel.nextDueHint() <= wheel.currentSecond);
  let calls = 1;
  let done = false;
  while (!done) {
    done = collect(wheel, slotS + 5, 1_000).done;
    calls++;
  }
  t.is(calls, 10, '95 moves take ten calls of at most ten');
  t.is(wheel.nextDueHint(), slotS + 200, 'once moved, the hint is exact again');
  t.is(wheel.size, 95);
});

test('an unlimited budget cascades any amount in one call', (t) => {
  const slotS = START_S + 256;
  const wheel = new TimerWheel({ startSecond: START_S, cascadeBatchMax: 1 });
  for (let id = 0; id < 1_000; id++) wheel.schedule(id, slotS + (id % 256));
  const { done, fired } = collect(wheel, slotS + 255);
  t.true(done);
  t.is(fired.length, 1_000);
});

// ---------------------------------------------------------------------------
// Property tests against the reference timer.

const FC_SEED_DEFAULT = 20_251_123;
const FC_NUM_RUNS_DEFAULT = 1_000;
const seed = readIntegerEnv('FC_SEED', FC_SEED_DEFAULT);
const numRuns = readIntegerEnv('FC_NUM_RUNS', FC_NUM_RUNS_DEFAULT);
// Callbacks may schedule more due work; this many reactions per advance call
// keeps an unlimited-budget call finite.
const REACTIONS_PER_ADVANCE_MAX = 24;
// Ample for a few thousand entries moved one or two per call.
const DRAIN_CALLS_MAX = 100_000;

function readIntegerEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer, got ${raw}`);
  return value;
}

type Reaction =
  | { kind: 'none' }
  | { kind: 'rearm'; offsetS: number }
  | { kind: 'schedule'; id: number; offsetS: number }
  | { kind: 'cancel'; id: number };

type Command =
  | { op: 'schedule'; id: number; offsetS: number }
  | { op: 'scheduleRun'; firstId: number; count: number; offsetS: number }
  | { op: 'cancel'; id: number }
  | { op: 'advance'; stepS: number; budget: number; reactions: Reaction[] }
  | { op: 'clear' };

const startArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(START_S) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: WHEEL_DEADLINE_MAX_S }) },
  // Just before level boundaries, and near the top of the Uint32 range.
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, 254, 16_382, 2 ** 20 - 3, 2 ** 26 - 2, 2 ** 31 - 1, WHEEL_DEADLINE_MAX_S - 600),
  },
);
// Mostly a few ids, so ids collide and get rescheduled; sometimes far ones, so the arrays grow.
const idArb = fc.oneof({ weight: 9, arbitrary: fc.nat(15) }, { weight: 1, arbitrary: fc.nat(3_000) });
const offsetArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 4, arbitrary: fc.integer({ min: -300, max: 700 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 21 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 27 }) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 32), max: 2 ** 32 }) },
);
const stepArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 5 }) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 700 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 21 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 27 }) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 32), max: 2 ** 32 }) },
);
const budgetArb = fc.oneof({ weight: 1, arbitrary: fc.constant(Infinity) }, { weight: 1, arbitrary: fc.nat(4) });
const reactionArb: fc.Arbitrary<Reaction> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rearm' as const), offsetS: offsetArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('schedule' as const), id: idArb, offsetS: offsetArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), id: idArb }) },
);
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 60, arbitrary: fc.record({ op: fc.constant('schedule' as const), id: idArb, offsetS: offsetArb }) },
  // Several ids on one deadline: ties, and slots holding more than one entry.
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('scheduleRun' as const),
      firstId: fc.nat(15),
      count: fc.integer({ min: 2, max: 6 }),
      offsetS: offsetArb,
    }),
  },
  { weight: 20, arbitrary: fc.record({ op: fc.constant('cancel' as const), id: idArb }) },
  {
    weight: 40,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      stepS: stepArb,
      budget: budgetArb,
      reactions: fc.array(reactionArb, { maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

function clampSecond(value: number): number {
  return Math.min(WHEEL_DEADLINE_MAX_S, Math.max(0, value));
}

function assertSameState(
  wheel: TimerWheel,
  model: ReferenceTimer,
  ids: ReadonlySet<number>,
  sweptUpToNow: boolean,
): void {
  assert.equal(wheel.size, model.size, 'size agrees');
  assert.equal(wheel.currentSecond, model.currentSecond, 'currentSecond agrees');
  for (const id of ids) {
    assert.equal(wheel.deadlineOf(id), model.deadlineOf(id), `deadlineOf(${id}) agrees`);
    assert.equal(wheel.isScheduled(id), model.isScheduled(id), `isScheduled(${id}) agrees`);
  }
  const hint = wheel.nextDueHint();
  const earliest = model.nextDueHint();
  if (earliest === -1) {
    assert.equal(hint, -1, 'hint is -1 when empty');
  } else {
    assert.ok(hint !== -1 && hint <= earliest, `hint ${hint} is a lower bound of ${earliest}`);
    if (sweptUpToNow && earliest > model.currentSecond) {
      assert.ok(hint > model.currentSecond, `hint ${hint} asks for no wake-up while nothing is due`);
    }
  }
}

// Runs the wheel and treats the reference as the model of what is scheduled:
// every firing must be a live schedule (so never after cancel and never twice
// per schedule), never early, and in deadline order; a call ends with exactly
// the work the model says is left. This mode allows budgets and callbacks that
// touch other ids, where two implementations may legitimately pick different
// ties.
function runAgainstModel(startS: number, cascadeBatchMax: number | undefined, commands: readonly Command[]): void {
  const wheel = new TimerWheel({
    startSecond: startS,
    initialCapacity: 4,
    ...(cascadeBatchMax === undefined ? {} : { cascadeBatchMax }),
  });
  const model = new ReferenceTimer({ startSecond: startS });
  const ids = new Set<number>();
  // Whether each id's current schedule lay in the future when made; only
  // those are bound by deadline order (a past deadline fires as soon as it can).
  const onTime = new Map<number, boolean>();
  let lastOnTimeS = -1;
  let sweptUpToNow = true;

  const schedule = (id: number, deadlineS: number): void => {
    const clamped = clampSecond(deadlineS);
    ids.add(id);
    onTime.set(id, clamped > wheel.currentSecond);
    wheel.schedule(id, clamped);
    model.schedule(id, clamped);
  };
  const cancel = (id: number): void => {
    ids.add(id);
    assert.equal(wheel.cancel(id), model.cancel(id), `cancel(${id}) agrees`);
  };
  const advance = (stepS: number, budget: number, reactions: readonly Reaction[]): boolean => {
    const nowS = clampSecond(wheel.currentSecond + stepS);
    const targetS = Math.max(nowS, wheel.currentSecond);
    let fired = 0;
    let reactionsLeft = REACTIONS_PER_ADVANCE_MAX;
    const done = wheel.advance(nowS, budget, (id, deadlineS) => {
      fired++;
      assert.ok(fired <= budget, 'within budget');
      assert.ok(deadlineS <= targetS, `never early: ${id}@${deadlineS} at ${targetS}`);
      assert.equal(model.deadlineOf(id), deadlineS, `${id}@${deadlineS} is a live schedule`);
      assert.equal(wheel.isScheduled(id), false, 'unscheduled before its callback');
      model.cancel(id);
      if (onTime.get(id) === true) {
        for (const [other, otherS] of model.entries()) {
          assert.ok(otherS >= deadlineS, `${id}@${deadlineS} fired while ${other}@${otherS} was pending`);
        }
        assert.ok(deadlineS >= lastOnTimeS, 'non-decreasing over the whole run');
        lastOnTimeS = deadlineS;
      }
      if (reactions.length === 0 || reactionsLeft === 0) return;
      reactionsLeft--;
      const reaction = reactions[fired % reactions.length]!;
      if (reaction.kind === 'rearm') schedule(id, deadlineS + reaction.offsetS);
      else if (reaction.kind === 'schedule') schedule(reaction.id, deadlineS + reaction.offsetS);
      else if (reaction.kind === 'cancel') cancel(reaction.id);
    });
    // The reference, with budget 0, says whether anything due is left.
    const modelDone = model.advance(nowS, 0, () => assert.fail('budget 0 fires nothing'));
    if (!modelDone) assert.equal(done, false, 'never reports done while something due is left');
    if (budget === Infinity) assert.equal(done, true, 'an unlimited call finishes');
    // A bounded call may also stop because its cascade allowance ran out.
    if (!done && fired < budget) assert.ok(budget !== Infinity);
    sweptUpToNow = done;
    return done;
  };

  for (const command of commands) {
    switch (command.op) {
      case 'schedule':
        schedule(command.id, wheel.currentSecond + command.offsetS);
        break;
      case 'scheduleRun':
        for (let i = 0; i < command.count; i++) schedule(command.firstId + i, wheel.currentSecond + command.offsetS);
        break;
      case 'cancel':
        cancel(command.id);
        break;
      case 'clear':
        wheel.clear();
        model.clear();
        sweptUpToNow = true;
        break;
      case 'advance':
        advance(command.stepS, command.budget, command.reactions);
        break;
    }
    assertSameState(wheel, model, ids, sweptUpToNow);
  }
  // Progress: small bounded calls at the same second always finish the work.
  let drained = sweptUpToNow;
  for (let calls = 0; !drained; calls++) {
    assert.ok(calls < DRAIN_CALLS_MAX, 'bounded calls keep making progress');
    drained = advance(0, 2, []);
    assertSameState(wheel, model, ids, sweptUpToNow);
  }
}

// Runs wheel and reference side by side, each with its own callbacks, and
// compares what each advance() fired. Budgets are unlimited and callbacks only
// re-arm the firing id, by a rule that depends on (id, deadline) alone, so the
// outcome does not depend on tie order and both must fire the same set.
function runSideBySide(startS: number, commands: readonly Command[], rearmOffsets: ReadonlyArray<number | null>): void {
  const wheel = new TimerWheel({ startSecond: startS, initialCapacity: 2 });
  const reference = new ReferenceTimer({ startSecond: startS });
  const ids = new Set<number>();
  const onExpireFor = (timer: TimerWheel | ReferenceTimer, fired: string[]) => {
    const rearms = new Map<number, number>();
    return (id: number, deadlineS: number): void => {
      fired.push(`${id}@${deadlineS}`);
      if (rearmOffsets.length === 0) return;
      const offsetS = rearmOffsets[(id * 31 + deadlineS) % rearmOffsets.length];
      const count = rearms.get(id) ?? 0;
      if (offsetS === null || offsetS === undefined || count >= 2) return;
      rearms.set(id, count + 1);
      timer.schedule(id, clampSecond(deadlineS + offsetS));
    };
  };
  for (const command of commands) {
    switch (command.op) {
      case 'schedule': {
        const deadlineS = clampSecond(wheel.currentSecond + command.offsetS);
        ids.add(command.id);
        wheel.schedule(command.id, deadlineS);
        reference.schedule(command.id, deadlineS);
        break;
      }
      case 'scheduleRun': {
        const deadlineS = clampSecond(wheel.currentSecond + command.offsetS);
        for (let id = command.firstId; id < command.firstId + command.count; id++) {
          ids.add(id);
          wheel.schedule(id, deadlineS);
          reference.schedule(id, deadlineS);
        }
        break;
      }
      case 'cancel':
        ids.add(command.id);
        assert.equal(wheel.cancel(command.id), reference.cancel(command.id));
        break;
      case 'clear':
        wheel.clear();
        reference.clear();
        break;
      case 'advance': {
        const nowS = clampSecond(wheel.currentSecond + command.stepS);
        const wheelFired: string[] = [];
        const referenceFired: string[] = [];
        assert.equal(wheel.advance(nowS, Infinity, onExpireFor(wheel, wheelFired)), true);
        assert.equal(reference.advance(nowS, Infinity, onExpireFor(reference, referenceFired)), true);
        assert.deepEqual(wheelFired.sort(), referenceFired.sort(), `same firings advancing to ${nowS}`);
        break;
      }
    }
    assertSameState(wheel, reference, ids, true);
  }
}

test('property: the wheel fires exactly what the reference model says, in order, within budget', (t) => {
  t.log(`fast-check seed ${seed}, ${numRuns} runs (FC_SEED / FC_NUM_RUNS to override)`);
  fc.assert(
    fc.property(
      startArb,
      // Tiny cascade allowances make bounded calls stop in the middle of a slot.
      fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      fc.array(commandArb, { maxLength: 80, size: 'max' }),
      (startS, cascadeBatchMax, commands) => {
        runAgainstModel(startS, cascadeBatchMax, commands);
      },
    ),
    { seed, numRuns, includeErrorInReport: true },
  );
  t.pass();
});

test('property: with unlimited budget, each advance fires the same set as the reference', (t) => {
  t.log(`fast-check seed ${seed}, ${numRuns} runs (FC_SEED / FC_NUM_RUNS to override)`);
  fc.assert(
    fc.property(
      startArb,
      fc.array(commandArb, { maxLength: 80, size: 'max' }),
      fc.array(fc.option(offsetArb, { freq: 2 }), { maxLength: 5 }),
      (startS, commands, rearmOffsets) => {
        runSideBySide(startS, commands, rearmOffsets);
      },
    ),
    { seed, numRuns, includeErrorInReport: true },
  );
  t.pass();
});
