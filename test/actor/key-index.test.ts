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
