// Goal: partitions and session ids route every session without a directory:
// a user's partition is stable forever (pinned vectors), spread evenly, and a
// session id carries its partition so partitionOfSessionId recovers it, while
// anything that is not a session id is refused (-1) without throwing.
// Method: pinned values, exhaustive round trips over all partitions, and
// seeded fast-check properties (FC_SEED overrides; the seed prints on failure).

import test from 'ava';
import fc from 'fast-check';
import { PARTITION_COUNT } from '../../src/constants.js';
import {
  SESSION_ID_LENGTH,
  compareSessionIds,
  newSessionId,
  partitionOf,
  partitionOfSessionId,
  sessionIdOrderKeys,
  sessionIdWords,
  shardOfPartition,
} from '../../src/protocol/partition.js';

const seed = Number(process.env.FC_SEED ?? 20_251_124);

test('partitionOf is pinned: changing it would strand every existing session id', (t) => {
  t.is(partitionOf('demo', 'u1'), 620);
  t.is(partitionOf('master', 'admin'), 936);
  t.is(partitionOf('', ''), 287);
  t.is(partitionOf('realm-é', 'üser'), 676);
});

test('partitionOf is in range, deterministic and spreads users evenly', (t) => {
  const counts = new Array<number>(PARTITION_COUNT).fill(0);
  const users = 102_400;
  for (let i = 0; i < users; i++) {
    const p = partitionOf('demo', `user-${i}`);
    counts[p]!++;
  }
  t.is(partitionOf('demo', 'user-7'), partitionOf('demo', 'user-7'));
  const expected = users / PARTITION_COUNT; // 100
  t.true(Math.min(...counts) > expected * 0.5, `min ${Math.min(...counts)}`);
  t.true(Math.max(...counts) < expected * 1.6, `max ${Math.max(...counts)}`);
  const shard0 = counts.filter((_, p) => p % 2 === 0).reduce((a, b) => a + b, 0);
  t.true(Math.abs(shard0 / users - 0.5) < 0.02, 'two shards get about half each');
});

test('the realm takes part in the partition: one user id in two realms is two users', (t) => {
  let differ = 0;
  for (let i = 0; i < 200; i++) if (partitionOf('realm-a', `u${i}`) !== partitionOf('realm-b', `u${i}`)) differ++;
  t.true(differ > 190);
});

test('a session id is 24 base64url characters and encodes its partition, for every partition', (t) => {
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const id = newSessionId(p);
    if (id.length !== SESSION_ID_LENGTH || !/^[A-Za-z0-9_-]{24}$/.test(id) || partitionOfSessionId(id) !== p) {
      t.fail(`partition ${p}: ${id}`);
      return;
    }
  }
  t.is(SESSION_ID_LENGTH, 24);
  t.pass();
});

test('session ids are unique (128 random bits each)', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 50_000; i++) seen.add(newSessionId(i % PARTITION_COUNT));
  t.is(seen.size, 50_000);
});

test('newSessionId refuses a partition out of range', (t) => {
  for (const p of [-1, PARTITION_COUNT, 1.5, Number.NaN]) t.throws(() => newSessionId(p), { instanceOf: RangeError }, String(p));
});

test('partitionOfSessionId answers -1 for anything that is not a session id, never throwing', (t) => {
  const valid = newSessionId(5);
  const notIds: unknown[] = [
    '',
    'short',
    valid.slice(1),
    `${valid}A`,
    `${valid.slice(0, 23)}=`,
    `${valid.slice(0, 23)}.`,
    `${valid.slice(0, 23)}é`,
    `${valid.slice(0, 23)}\u{1F600}`.slice(0, 24),
    'B'.padEnd(24, 'A'), // partition 1024 * ... ≥ PARTITION_COUNT
    '//////////////////////////'.slice(0, 24),
    null,
    undefined,
    42,
    { length: 24 },
  ];
  for (const x of notIds) t.is(partitionOfSessionId(x as string), -1, JSON.stringify(x));
  t.is(partitionOfSessionId('A'.repeat(24)), 0);
  t.is(partitionOfSessionId('AP'.padEnd(24, 'A')), 15 << 4);
  t.is(partitionOfSessionId('AAE'.padEnd(24, 'A')), 1, 'the low 4 bits come from the third character');
});

test('the partition sits in the id\'s first 16 bits: the highest partition round-trips and the next value is refused', (t) => {
  const last = newSessionId(PARTITION_COUNT - 1);
  t.is(partitionOfSessionId(last), PARTITION_COUNT - 1);
  // Partition 1024 in the first two bytes: 0x04 0x00 -> "BA" + 4 zero bits.
  t.is(partitionOfSessionId('BAA'.padEnd(24, 'A')), -1);
});

test('property: any 24-character string maps to -1 or a partition in range; generated ids round-trip', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  fc.assert(
    fc.property(fc.string({ minLength: 24, maxLength: 24 }), (text) => {
      const p = partitionOfSessionId(text);
      return p === -1 || (Number.isInteger(p) && p >= 0 && p < PARTITION_COUNT);
    }),
    { seed, numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: PARTITION_COUNT - 1 }), (p) => partitionOfSessionId(newSessionId(p)) === p),
    { seed, numRuns: 2000 },
  );
  t.pass();
});

test('shardOfPartition is partition mod shards', (t) => {
  t.is(shardOfPartition(0, 2), 0);
  t.is(shardOfPartition(5, 2), 1);
  t.is(shardOfPartition(1023, 4), 3);
  t.is(shardOfPartition(7, 1), 0);
});

test('property: compareSessionIds orders ids as the bytes they encode, and as a shard compares their words', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const sign = (n: number): number => Math.sign(n);
  const words = (id: string): number[] => {
    const out = new Uint32Array(4);
    return [sessionIdWords(id, out, 0), ...out];
  };
  const byWords = (a: string, b: string): number => {
    const wa = words(a);
    const wb = words(b);
    for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return wa[i]! - wb[i]!;
    return 0;
  };
  const ids = fc.integer({ min: 0, max: 3 }).map((p) => newSessionId(p));
  fc.assert(
    fc.property(ids, ids, (a, b) => {
      const expected = sign(Buffer.compare(Buffer.from(a, 'base64url'), Buffer.from(b, 'base64url')));
      return sign(compareSessionIds(a, b)) === expected && sign(byWords(a, b)) === expected && compareSessionIds(a, a) === 0;
    }),
    { seed, numRuns: 5000 },
  );
  t.true(compareSessionIds('A'.repeat(24), '-'.repeat(24)) < 0, "'A' (0) before '-' (62), unlike ASCII");
  t.pass();
});

test('property: sessionIdOrderKeys order ids as their text compares (code units), as list sorting by id needs', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const keysOf = (id: string): number[] => {
    const words = new Uint32Array(4);
    const partition = sessionIdWords(id, words, 0);
    const keys = new Float64Array(3);
    sessionIdOrderKeys(partition, words, 0, keys, 0);
    return [...keys];
  };
  const byKeys = (a: string, b: string): number => {
    const [ka, kb] = [keysOf(a), keysOf(b)];
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  };
  // Ids of a few partitions, and ids differing in one character only (each of the 24, each value).
  const ids = fc.integer({ min: 0, max: PARTITION_COUNT - 1 }).map((p) => newSessionId(p));
  const nearby = fc.tuple(ids, fc.integer({ min: 3, max: SESSION_ID_LENGTH - 1 }), fc.integer({ min: 0, max: 63 })).map(([id, i, v]) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    return [id, id.slice(0, i) + alphabet[v] + id.slice(i + 1)] as const;
  });
  const textOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  fc.assert(
    fc.property(ids, ids, (a, b) => Math.sign(byKeys(a, b)) === textOrder(a, b)),
    { seed, numRuns: 5000 },
  );
  fc.assert(
    fc.property(nearby, ([a, b]) => Math.sign(byKeys(a, b)) === textOrder(a, b)),
    { seed, numRuns: 5000 },
  );
  t.pass();
});
