// Goal: columns double while small and grow by half once large, never by
// less, and always fit what must fit.
// Method: fast-check over current capacities and needs, against the rule.

import test from 'ava';
import fc from 'fast-check';
import { GROW_BY_HALF_FROM, grownCapacity } from '../../src/util/capacity.js';

test('a grown capacity fits what is needed, grows by at least the step of its size, and overshoots by at most that step', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 50_000_000 }), fc.integer({ min: 1, max: 100_000_000 }), (current, extra) => {
      const needed = current + extra;
      const grown = grownCapacity(current, needed);
      const factor = (n: number): number => (n < GROW_BY_HALF_FROM ? 2 : 1.5);
      return grown >= needed && grown >= Math.ceil(Math.max(current, 1) * factor(current)) && grown <= Math.max(Math.ceil(needed * 2), Math.ceil(Math.max(current, 1) * factor(current)));
    }),
  );
  t.is(grownCapacity(1024), 2048, 'small columns double');
  t.is(grownCapacity(GROW_BY_HALF_FROM), GROW_BY_HALF_FROM * 1.5, 'large ones grow by half');
  t.is(grownCapacity(0), 2);
});
