// Goal: TopK keeps exactly the `limit` best items of any stream, answered
// best first, as sorting the whole stream and cutting it would.
// Method: unit cases, then a seeded fast-check comparison with sort + slice
// (FC_SEED overrides; the seed prints on failure).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { TopK } from '../../src/util/top-k.js';

const seed = Number(process.env.FC_SEED ?? 20_260_106);
const ascending = (a: number, b: number): number => a - b;

function topOf(items: readonly number[], limit: number, compare: (a: number, b: number) => number): number[] {
  const top = new TopK<number>(limit, compare);
  for (const item of items) top.offer(item);
  return top.sorted();
}

test('keeps the best items, best first; a limit of 0 keeps nothing', (t) => {
  t.deepEqual(topOf([5, 1, 4, 2, 3], 3, ascending), [1, 2, 3]);
  t.deepEqual(topOf([5, 1, 4, 2, 3], 3, (a, b) => b - a), [5, 4, 3]);
  t.deepEqual(topOf([2, 1], 5, ascending), [1, 2]);
  t.deepEqual(topOf([2, 1], 0, ascending), []);
  t.deepEqual(topOf([], 3, ascending), []);
});

test('property: equals sorting the stream and cutting it, duplicates included', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -20, max: 20 }), { maxLength: 200 }), fc.nat(30), fc.boolean(), (items, limit, desc) => {
      const compare = desc ? (a: number, b: number) => b - a : ascending;
      assert.deepEqual(topOf(items, limit, compare), [...items].sort(compare).slice(0, limit));
    }),
    { seed, numRuns: 1000 },
  );
  t.pass();
});
