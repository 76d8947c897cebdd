// Goal: columns grow by half, never by less, and always fit what must fit.
// Method: fast-check over current capacities and needs, against the rule.

import test from 'ava';
import fc from 'fast-check';
import { grownCapacity } from '../../src/util/capacity.js';

test('a grown capacity fits what is needed, is at least 1.5x the old one, and overshoots by at most half', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 50_000_000 }), fc.integer({ min: 1, max: 100_000_000 }), (current, extra) => {
      const needed = current + extra;
      const grown = grownCapacity(current, needed);
      return grown >= needed && grown >= Math.ceil(current * 1.5) && grown <= Math.max(Math.ceil(needed * 1.5) + 1, Math.ceil(current * 1.5));
    }),
  );
  t.is(grownCapacity(1024), 1536);
  t.is(grownCapacity(0), 1);
});
