// Goal: the free list hands slots back last in, first out, exactly as a plain
// array used as a stack would, across growth, and says -1 when empty.
// Method: seeded fast-check sequences of pushes and pops against an array
// (FC_SEED overrides; the seed prints with the test).

import test from 'ava';
import fc from 'fast-check';
import { FreeList } from '../../src/util/free-list.js';

const seed = Number(process.env.FC_SEED ?? 20_261_207);

test('pushes and pops answer as an array stack does, across growth', (t) => {
  const step = fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 2 ** 31 - 3001 }), times: fc.integer({ min: 1, max: 3000 }) }), fc.record({ pop: fc.integer({ min: 1, max: 3000 }) }));
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      const list = new FreeList();
      const reference: number[] = [];
      for (const s of steps) {
        if ('push' in s) {
          for (let i = 0; i < s.times; i++) {
            list.push(s.push + i);
            reference.push(s.push + i);
          }
        } else {
          for (let i = 0; i < s.pop; i++) if (list.pop() !== (reference.pop() ?? -1)) return false;
        }
        if (list.length !== reference.length) return false;
      }
      return true;
    }),
    { seed, numRuns: 200 },
  );
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  t.pass();
});

test('an empty list pops -1', (t) => {
  const list = new FreeList();
  t.is(list.pop(), -1);
  list.push(7);
  t.is(list.pop(), 7);
  t.is(list.pop(), -1);
  t.is(list.length, 0);
});
