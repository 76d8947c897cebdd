// The username index against a naive reference (a Map of live names): the
// same users match every search, through additions, removals, renames and
// compactions. Seeded; FC_SEED overrides and the seed prints on failure.

import test from 'ava';
import fc from 'fast-check';
import { NameIndex } from '../../src/actor/name-index.js';

const SEED = Number(process.env['FC_SEED'] ?? 20_261_123);

test('find() returns exactly the live users whose name contains the text', (t) => {
  const names = fc.stringMatching(/^[a-c.]{0,6}$/);
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), name: names }),
    fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('find' as const), text: fc.stringMatching(/^[a-c.]{1,3}$/) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 6000 }), (ops) => {
      const index = new NameIndex();
      const live = new Map<number, { name: string; entry: number }>();
      let nextUser = 0;
      for (const o of ops) {
        if (o.kind === 'add') {
          const user = nextUser++;
          live.set(user, { name: o.name, entry: index.add(user, o.name) });
        } else if (o.kind === 'remove') {
          if (live.size === 0) continue;
          const user = [...live.keys()][o.pick % live.size]!;
          index.remove(live.get(user)!.entry, (u, entry) => {
            live.get(u)!.entry = entry;
          });
          live.delete(user);
        } else {
          const expected = [...live].filter(([, v]) => v.name.includes(o.text)).map(([u]) => u).sort((a, b) => a - b);
          const found = index.find(o.text, 1_000_000);
          if (found.more) return false;
          const got = [...found.users].sort((a, b) => a - b);
          if (JSON.stringify(got) !== JSON.stringify(expected)) return false;
        }
      }
      return true;
    }),
    { seed: SEED, numRuns: 60 },
  );
  t.pass();
});

test('compactions in place keep names of every length intact, runs of live ones and gaps alike', (t) => {
  const index = new NameIndex();
  const entries = new Map<number, number>();
  const name = (u: number): string => `${'x'.repeat(u % 17)}-${u}-ü`;
  const rebind = (u: number, entry: number): void => void entries.set(u, entry);
  for (let round = 0; round < 4; round++) {
    for (let u = round * 20_000; u < (round + 1) * 20_000; u++) entries.set(u, index.add(u, name(u)));
    // Remove irregular stretches (so live runs and gaps vary), enough to compact at least once.
    for (const u of [...entries.keys()]) {
      if ((u * 7919) % 13 < 8 || (u >> 6) % 3 === 0) {
        index.remove(entries.get(u)!, rebind);
        entries.delete(u);
      }
    }
    t.true([...entries].every(([u, entry]) => index.nameOf(entry) === name(u)), `round ${round}: every live entry names its user`);
    t.deepEqual(index.find('-ü', 1_000_000).users.sort((a, b) => a - b), [...entries.keys()].sort((a, b) => a - b));
  }
});

test('a match may not span two names, and a full page says there are more', (t) => {
  const index = new NameIndex();
  index.add(1, 'ab');
  index.add(2, 'cd');
  t.deepEqual(index.find('bc', 10).users, [], 'b|c across the separator is no match');
  t.deepEqual(index.find('b\nc', 10).users, []);
  for (let u = 10; u < 20; u++) index.add(u, `user-${u}`);
  const page = index.find('user', 3);
  t.is(page.users.length, 3);
  t.true(page.more);
});

test('compaction keeps every live name findable and renumbers their entries', (t) => {
  const index = new NameIndex();
  const entries = new Map<number, number>();
  for (let u = 0; u < 10_000; u++) entries.set(u, index.add(u, `name-${u}`));
  const rebind = (u: number, entry: number): void => void entries.set(u, entry);
  for (let u = 0; u < 9_000; u++) {
    index.remove(entries.get(u)!, rebind);
    entries.delete(u);
  }
  t.deepEqual(index.find('name-1', 10_000).users.sort((a, b) => a - b), [...entries.keys()].filter((u) => `name-${u}`.includes('name-1')));
  t.true([...entries].every(([u, entry]) => index.nameOf(entry) === `name-${u}`), 'every live entry names its user');
  // Entries handed back by the rebinds still remove the right names.
  index.remove(entries.get(9_999)!, rebind);
  t.deepEqual(index.find('name-9999', 10).users, []);
  t.deepEqual(index.find('name-9998', 10).users, [9_998]);
});
