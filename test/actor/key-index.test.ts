// The binary key index against a Map (the naive reference): random adds and
// removes of real session-id keys (width 4) and realm+UUID user keys (width
// 5), every lookup agrees, through growth and backward-shift deletions.
// Seeded; FC_SEED overrides, the seed prints on failure.

import { randomUUID } from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import { KeyIndex } from '../../src/actor/key-index.js';
import { newSessionId, sessionIdWords } from '../../src/protocol/partition.js';
import { parseUuid } from '../../src/util/uuid.js';

const SEED = Number(process.env['FC_SEED'] ?? 20_261_204);

for (const [what, width, fill] of [
  ['session ids', 4, (slot: number, keys: Uint32Array): string => {
    const id = newSessionId(slot % 1024);
    sessionIdWords(id, keys, slot * 4);
    return id;
  }],
  ['realm + user UUIDs', 5, (slot: number, keys: Uint32Array): string => {
    const uuid = randomUUID();
    keys[slot * 5] = slot % 3;
    parseUuid(uuid, keys, slot * 5 + 1);
    return `${slot % 3}/${uuid}`;
  }],
] as const) {
  test(`${what}: lookups agree with a Map through adds, removes and growth`, (t) => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('add' as const), fc.nat({ max: 1_000_000 })), { maxLength: 20_000 }), (ops) => {
        let keys = new Uint32Array(16 * width);
        const index = new KeyIndex(width, () => keys);
        const reference = new Map<string, number>();
        const names: string[] = [];
        const live: number[] = [];
        for (const op of ops) {
          if (op === 'add') {
            const slot = names.length;
            if ((slot + 1) * width > keys.length) {
              const grown = new Uint32Array(keys.length * 2);
              grown.set(keys);
              keys = grown;
            }
            names.push(fill(slot, keys));
            index.add(slot);
            reference.set(names[slot]!, slot);
            live.push(slot);
          } else if (live.length > 0) {
            const at = op % live.length;
            const slot = live[at]!;
            index.remove(slot);
            reference.delete(names[slot]!);
            live.splice(at, 1);
          }
        }
        if (index.size !== reference.size) return false;
        for (let slot = 0; slot < names.length; slot++) {
          const expected = reference.get(names[slot]!) ?? -1;
          if (index.get(keys.subarray(slot * width, slot * width + width)) !== expected) return false;
        }
        return index.get(new Uint32Array(width).fill(0xdeadbeef)) === -1;
      }),
      { seed: SEED, numRuns: 20 },
    );
    t.pass();
  });
}

test('keys shared by several slots (hashes of longer ids): find picks the one its test accepts, through adds, removes and growth', (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat({ max: 40 }), fc.constant(-1)), { maxLength: 5_000 }), (ops) => {
      // Ids "k/n": the key is only k (few values, so most keys are shared), the id tells them apart.
      let keys = new Uint32Array(16 * 2);
      const index = new KeyIndex(2, () => keys);
      const reference = new Map<string, number>();
      const ids: string[] = [];
      const live: number[] = [];
      for (const [n, op] of ops.entries()) {
        if (op >= 0) {
          const slot = ids.length;
          if ((slot + 1) * 2 > keys.length) {
            const grown = new Uint32Array(keys.length * 2);
            grown.set(keys);
            keys = grown;
          }
          keys[slot * 2] = op;
          keys[slot * 2 + 1] = 7;
          ids.push(`${op}/${n}`);
          index.add(slot);
          reference.set(ids[slot]!, slot);
          live.push(slot);
        } else if (live.length > 0) {
          const slot = live.splice(n % live.length, 1)[0]!;
          index.remove(slot);
          reference.delete(ids[slot]!);
        }
      }
      for (const [slot, id] of ids.entries()) {
        const found = index.find(keys.subarray(slot * 2, slot * 2 + 2), (s) => ids[s] === id);
        if (found !== (reference.get(id) ?? -1)) return false;
      }
      return index.size === reference.size;
    }),
    { seed: SEED, numRuns: 30 },
  );
  t.pass();
});
