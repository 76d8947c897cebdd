// Goal: the mailbox is a bounded FIFO of batches: it refuses (never grows)
// when either the batch ring or the command budget would overflow, a refused
// batch leaves no trace, and the ring wraps indefinitely. Method: unit cases
// and a seeded comparison against an array model (FC_SEED overrides).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { Mailbox } from '../../src/actor/mailbox.js';

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
