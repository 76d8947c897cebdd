// UUIDs and session ids as words: every canonical form round-trips exactly,
// and anything else is refused (so the text a caller gave is kept as text);
// text ids get words hashed from their text, the same each time, and
// different for ids that differ anywhere.

import { randomUUID } from 'node:crypto';
import test from 'ava';
import { formatSessionId, newSessionId, partitionOfSessionId, sessionIdWords } from '../../src/protocol/partition.js';
import { formatUuid, parseUuid, textIdWords } from '../../src/util/uuid.js';

test('canonical lowercase UUIDs round-trip through four words', (t) => {
  const words = new Uint32Array(5);
  for (let i = 0; i < 2000; i++) {
    const uuid = randomUUID();
    t.true(parseUuid(uuid, words, 1));
    if (formatUuid(words, 1) !== uuid) t.fail(uuid);
  }
  t.true(parseUuid('00000000-0000-0000-0000-000000000000', words, 0));
  t.is(formatUuid(words, 0), '00000000-0000-0000-0000-000000000000');
  t.true(parseUuid('ffffffff-ffff-ffff-ffff-ffffffffffff', words, 0));
  t.is(formatUuid(words, 0), 'ffffffff-ffff-ffff-ffff-ffffffffffff');
});

test('anything but a canonical lowercase UUID is refused', (t) => {
  const words = new Uint32Array(4);
  for (const text of ['', 'u', 'user-1', 'A1B2C3D4-0000-0000-0000-000000000000', '00000000000000000000000000000000', '00000000-0000-0000-0000-00000000000g', '00000000-0000-0000-0000-0000000000000', '00000000_0000-0000-0000-000000000000', '00000000-0000-0000-0000-00000000000é']) {
    t.false(parseUuid(text, words, 0), text);
  }
});

test('session ids round-trip through their partition and four words', (t) => {
  const words = new Uint32Array(4);
  for (let i = 0; i < 2000; i++) {
    const id = newSessionId(i % 1024);
    const partition = sessionIdWords(id, words, 0);
    t.is(partition, partitionOfSessionId(id));
    if (formatSessionId(partition, words, 0) !== id) t.fail(id);
  }
  t.is(sessionIdWords('not-a-session-id', words, 0), -1);
  t.is(sessionIdWords('', words, 0), -1);
});

test('text ids get the same words each time, and 200,000 ids a character apart get 200,000 different words', (t) => {
  const words = new Uint32Array(5);
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    for (const id of [`user-${i}`, `f:ldap-1:${i}`]) {
      textIdWords(id, words, 1);
      const again = new Uint32Array(5);
      textIdWords(id, again, 1);
      if (again.join() !== words.join()) t.fail(id);
      seen.add(words.subarray(1).join());
    }
  }
  t.is(seen.size, 200_000);
  textIdWords('', words, 0);
  t.deepEqual([...words.subarray(2, 4)], [0, 0]);
});
