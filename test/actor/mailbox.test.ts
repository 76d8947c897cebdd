// Goal: the mailbox is a bounded FIFO of batches: it refuses (never grows)
// when either the batch ring or the command budget would overflow, a refused
// batch leaves no trace, and the ring wraps indefinitely; light batches
// (requests, a backup's records) overtake a transfer's heavy work, and
// nothing else is ever reordered. Method: unit
// cases, a seeded comparison against an array model, and a seeded check of
// every reordering against the rule (FC_SEED overrides).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { Mailbox, type BatchOrder } from '../../src/actor/mailbox.js';

const seed = Number(process.env.FC_SEED ?? 20_251_127);
type B = { id: number; commands: unknown[] };
const batch = (id: number, n: number): B => ({ id, commands: new Array(n).fill(0) });

test('batches come out in the order they went in, with counts kept', (t) => {
  const box = new Mailbox<B>(4, 100);
  t.true(box.isEmpty);
  t.true(box.push(batch(1, 3)));
  t.true(box.push(batch(2, 5)));
  t.is(box.commands, 8);
  t.is(box.batches, 2);
  t.is(box.shift()?.id, 1);
  t.is(box.commands, 5);
  t.is(box.shift()?.id, 2);
  t.is(box.shift(), undefined);
  t.true(box.isEmpty);
  t.is(box.commands, 0);
});

test('a full ring refuses the next batch without queueing it', (t) => {
  const box = new Mailbox<B>(2, 100);
  t.true(box.push(batch(1, 1)));
  t.true(box.push(batch(2, 1)));
  t.false(box.push(batch(3, 1)));
  t.is(box.batches, 2);
  t.is(box.commands, 2);
  t.deepEqual([box.shift()?.id, box.shift()?.id, box.shift()], [1, 2, undefined]);
});

test('the command budget refuses a batch that would exceed it, even with ring space left', (t) => {
  const box = new Mailbox<B>(8, 10);
  t.true(box.push(batch(1, 6)));
  t.false(box.push(batch(2, 5)));
  t.true(box.push(batch(3, 4)), 'exactly at the budget is fine');
  t.false(box.push(batch(4, 1)));
  t.false(new Mailbox<B>(8, 10).push(batch(5, 11)), 'one batch larger than the budget');
  t.is(box.commands, 10);
});

test('the constructor asserts a power-of-two ring and a positive budget', (t) => {
  t.throws(() => new Mailbox<B>(3, 10));
  t.throws(() => new Mailbox<B>(4, 0));
  t.notThrows(() => new Mailbox<B>(1, 1));
});

test('property: behaves as a bounded array queue through many wrap-arounds', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const op = fc.oneof(fc.integer({ min: 0, max: 6 }).map((n) => ({ push: n })), fc.constant({ shift: true as const }));
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 4, 8), fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 300 }), (ring, budget, ops) => {
      const box = new Mailbox<B>(ring, budget);
      const model: B[] = [];
      let next = 0;
      for (const o of ops) {
        if ('push' in o) {
          const b = batch(next++, o.push);
          const fits = model.length < ring && model.reduce((s, x) => s + x.commands.length, 0) + o.push <= budget;
          assert.equal(box.push(b), fits);
          if (fits) model.push(b);
        } else {
          assert.equal(box.shift(), model.shift());
        }
        assert.equal(box.batches, model.length);
        assert.equal(box.commands, model.reduce((s, x) => s + x.commands.length, 0));
        assert.equal(box.isEmpty, model.length === 0);
      }
    }),
    { seed, numRuns: 300 },
  );
  t.pass();
});

const request = (...partitions: number[]): BatchOrder => ({ heavy: false, requests: true, partitions });
const records = (...partitions: number[]): BatchOrder => ({ heavy: false, requests: false, partitions });
const replicated = (...partitions: number[]): BatchOrder => ({ heavy: true, requests: false, partitions });

test('light batches overtake queued heavy replicated work, in their own arrival order', (t) => {
  const box = new Mailbox<B>(8, 100);
  box.push(batch(1, 1), false, replicated(3));
  box.push(batch(2, 1), false, replicated(4));
  box.push(batch(3, 1), false, request());
  box.push(batch(4, 1), false, request(5));
  box.push(batch(5, 1), false, records(6));
  t.deepEqual([1, 2, 3, 4, 5].map(() => box.shift()?.id), [3, 4, 5, 1, 2]);
});

test("records held back behind their partition's chunk do not hold back requests or other partitions' records", (t) => {
  const box = new Mailbox<B>(8, 100);
  box.push(batch(1, 1), false, replicated(3));
  box.push(batch(2, 1), false, records(3));
  box.push(batch(3, 1), false, request());
  box.push(batch(4, 1), false, records(4));
  box.push(batch(5, 1), false, records(3));
  t.deepEqual([1, 2, 3, 4, 5].map(() => box.shift()?.id), [3, 4, 1, 2, 5]);
});

test('nothing overtakes a barrier, a queued request-path batch, or replicated work on the same partition', (t) => {
  const barrier = new Mailbox<B>(8, 100);
  barrier.push(batch(1, 1), false, replicated(3));
  barrier.push(batch(2, 1));
  barrier.push(batch(3, 1), false, request());
  t.deepEqual([1, 2, 3].map(() => barrier.shift()?.id), [1, 2, 3], 'a role change or a realm command stays in place');

  const behindBarrier = new Mailbox<B>(8, 100);
  behindBarrier.push(batch(1, 1));
  behindBarrier.push(batch(2, 1), false, replicated(3));
  t.is(behindBarrier.shift()?.id, 1);
  behindBarrier.push(batch(3, 1), false, request());
  t.deepEqual([behindBarrier.shift()?.id, behindBarrier.shift()?.id], [2, 3], 'replicated work classified behind a barrier is not overtaken');

  const samePartition = new Mailbox<B>(8, 100);
  samePartition.push(batch(1, 1), false, replicated(3));
  samePartition.push(batch(2, 1), false, request(3));
  samePartition.push(batch(3, 1), false, request());
  t.deepEqual([1, 2, 3].map(() => samePartition.shift()?.id), [1, 2, 3], 'records of a partition stay behind its chunk, and requests behind them');
});

test('property: every reordering follows the rule, and both lanes share the bounds', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const order = fc.oneof(
    fc.constant(null),
    fc.record({ heavy: fc.boolean(), requests: fc.boolean(), partitions: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }) }),
  );
  const op = fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 3 }), order }), fc.constant({ shift: true as const }));
  interface Pushed { id: number; order: BatchOrder; queuedAhead: Pushed[] }
  fc.assert(
    fc.property(fc.constantFrom(2, 4, 8), fc.array(op, { maxLength: 200 }), (ring, ops) => {
      const box = new Mailbox<B>(ring, 12);
      const queued: Pushed[] = [];
      let next = 0;
      for (const o of ops) {
        if ('push' in o) {
          const b = batch(next++, o.push);
          const fits = queued.length < ring && queued.reduce((s, x) => s + batchSize(x), 0) + o.push <= 12;
          assert.equal(box.push(b, false, o.order), fits);
          if (fits) queued.push({ id: b.id, order: o.order, queuedAhead: [...queued] });
          sizes.set(b.id, o.push);
          continue;
        }
        const out = box.shift();
        if (out === undefined) {
          assert.equal(queued.length, 0);
          continue;
        }
        const at = queued.findIndex((q) => q.id === out.id);
        const b = queued[at]!;
        // It is light, and every batch it overtakes is replicated work without requests, changing none
        // of its partitions, classified with no barrier queued ahead of it (a barrier may change the
        // roles it assumed). (Overtaking a barrier, or requests, fails the second check.)
        for (const a of queued.slice(0, at)) {
          assert.ok(b.order !== null && !b.order.heavy, `${b.id} overtakes ${a.id} without being light`);
          assert.ok(a.order !== null && !a.order.requests, `${b.id} overtakes ${a.id}, a barrier or requests`);
          assert.ok(!a.order.partitions.some((p) => b.order!.partitions.includes(p)), `${b.id} overtakes ${a.id} on a shared partition`);
          assert.ok(!a.queuedAhead.some((x) => x.order === null), `${a.id} was classified behind a barrier`);
        }
        queued.splice(at, 1);
        assert.equal(box.batches, queued.length);
      }
    }),
    { seed, numRuns: 500 },
  );
  t.pass();
});

const sizes = new Map<number, number>();
function batchSize(x: { id: number }): number {
  return sizes.get(x.id)!;
}
