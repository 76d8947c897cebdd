// Goal: mergeOrdered merges per-shard pages into one page whose order is
// stable and whose prefixes do not depend on the page size, so that paging
// with first/max over several shards neither repeats nor skips an item.
// Method: unit cases, then seeded properties (FC_SEED overrides).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { mergeOrdered } from '../../src/host/merge-ordered.js';

const seed = Number(process.env.FC_SEED ?? 20_251_126);
const key = (x: { k: number }) => x.k;

test('merges sorted lists by key, ties to the lower list, up to the limit', (t) => {
  const a = [{ k: 1, s: 'a' }, { k: 3, s: 'a' }, { k: 3, s: 'a2' }];
  const b = [{ k: 0, s: 'b' }, { k: 3, s: 'b' }, { k: 9, s: 'b' }];
  t.deepEqual(mergeOrdered([a, b], key, 10).map((x) => `${x.k}${x.s}`), ['0b', '1a', '3a', '3a2', '3b', '9b']);
  t.deepEqual(mergeOrdered([a, b], key, 2).map((x) => `${x.k}${x.s}`), ['0b', '1a']);
  t.deepEqual(mergeOrdered([a, b], key, 0), []);
  t.deepEqual(mergeOrdered([], key, 5), []);
  t.deepEqual(mergeOrdered([[], a, []], key, 5), a);
});

test('property: sorted inputs give the stable sorted concatenation; pages of any size concatenate to the whole', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const list = fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 30 }).map((ks) => ks.sort((x, y) => x - y));
  fc.assert(
    fc.property(fc.array(list, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 12 }), (keys, pageSize) => {
      const lists = keys.map((ks, li) => ks.map((k, i) => ({ k, id: `${li}:${i}` })));
      const all = lists.flat();
      const expected = [...all].sort((x, y) => x.k - y.k || Number(x.id.split(':')[0]) - Number(y.id.split(':')[0]));
      const merged = mergeOrdered(lists, key, all.length);
      assert.deepEqual(merged.map((x) => x.id), expected.map((x) => x.id));
      // Paging as the engine does: each page asks every shard for first + max, then slices.
      const paged: string[] = [];
      for (let first = 0; first < all.length; first += pageSize) {
        const truncated = lists.map((l) => l.slice(0, first + pageSize));
        paged.push(...mergeOrdered(truncated, key, first + pageSize).slice(first).map((x) => x.id));
      }
      assert.deepEqual(paged, merged.map((x) => x.id));
    }),
    { seed, numRuns: 300 },
  );
  t.pass();
});

test('property: even unsorted shard lists page consistently (prefixes depend only on prefixes)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 15 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 6 }), (keys, pageSize) => {
      const lists = keys.map((ks, li) => ks.map((k, i) => ({ k, id: `${li}:${i}` })));
      const total = lists.reduce((n, l) => n + l.length, 0);
      const whole = mergeOrdered(lists, key, total).map((x) => x.id);
      const paged: string[] = [];
      for (let first = 0; first < total; first += pageSize) {
        paged.push(...mergeOrdered(lists.map((l) => l.slice(0, first + pageSize)), key, first + pageSize).slice(first).map((x) => x.id));
      }
      assert.deepEqual(paged, whole);
      assert.equal(new Set(whole).size, total);
    }),
    { seed, numRuns: 300 },
  );
  t.pass();
});
