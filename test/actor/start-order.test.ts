// The restore's list order (start-order.ts) against a comparison sort (the
// naive reference): random keys with many ties in the start and in the id's
// first number, through both the radix path and the short-list path.
// Seeded; FC_SEED overrides, the seed prints on failure.

import test from 'ava';
import fc from 'fast-check';
import { startOrder, type StartOrderKeys } from '../../src/actor/start-order.js';

const SEED = Number(process.env['FC_SEED'] ?? 20_261_207);

/** Keys drawn from a few values as often as from all of them, so that ties are common (and the digit boundaries of the first number). */
const entries = fc.array(
  fc.record({
    start: fc.oneof(fc.nat({ max: 3 }).map((s) => 1_800_000_000 + s), fc.nat({ max: 2 ** 32 - 1 })),
    k0: fc.oneof(fc.nat({ max: 2 }), fc.nat({ max: 2 ** 48 - 1 }), fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1)),
    k1: fc.oneof(fc.nat({ max: 2 }), fc.nat({ max: 2 ** 48 - 1 })),
    k2: fc.nat({ max: 2 ** 48 - 1 }),
  }),
  { maxLength: 600 },
);

type Entry = { start: number; k0: number; k1: number; k2: number };

function keysOf(list: readonly Entry[]): StartOrderKeys {
  return {
    start: Uint32Array.from(list, (e) => e.start),
    k0: Float64Array.from(list, (e) => e.k0),
    k1: Float64Array.from(list, (e) => e.k1),
    k2: Float64Array.from(list, (e) => e.k2),
  };
}

const tuple = (e: Entry): string => `${e.start}/${e.k0}/${e.k1}/${e.k2}`;

for (const [path, radixFrom] of [['radix', 0], ['comparison', Infinity]] as const) {
  test(`${path} path: the order of (start, then the id's three numbers), every entry once`, (t) => {
    fc.assert(
      fc.property(entries, (list) => {
        const order = startOrder(keysOf(list), list.length, radixFrom);
        if (new Set(order).size !== list.length) return false;
        const expected = [...list].sort((a, b) => a.start - b.start || a.k0 - b.k0 || a.k1 - b.k1 || a.k2 - b.k2).map(tuple);
        return Array.from(order, (i) => tuple(list[i]!)).join() === expected.join();
      }),
      { seed: SEED, numRuns: 300 },
    );
    t.pass();
  });
}
