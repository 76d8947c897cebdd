// The session-id index against a Map (the naive reference): random adds and
// removes of real session ids, every lookup agrees, through growth and
// backward-shift deletions. Seeded; FC_SEED overrides, the seed prints on failure.

import test from 'ava';
import fc from 'fast-check';
import { IdIndex } from '../../src/actor/id-index.js';
import { newSessionId } from '../../src/protocol/partition.js';

const SEED = Number(process.env['FC_SEED'] ?? 20_261_124);

test('lookups agree with a Map through adds, removes and growth', (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant('add' as const), fc.nat({ max: 1_000_000 })), { maxLength: 20_000 }), (ops) => {
      const ids: string[] = [];
      const index = new IdIndex(ids);
      const reference = new Map<string, number>();
      const live: number[] = [];
      for (const op of ops) {
        if (op === 'add') {
          const slot = ids.length;
          ids.push(newSessionId(slot % 1024));
          index.add(slot);
          reference.set(ids[slot]!, slot);
          live.push(slot);
        } else if (live.length > 0) {
          const at = op % live.length;
          const slot = live[at]!;
          index.remove(slot);
          reference.delete(ids[slot]!);
          live.splice(at, 1);
        }
      }
      if (index.size !== reference.size) return false;
      for (const [id, slot] of reference) if (index.get(id) !== slot) return false;
      for (let slot = 0; slot < ids.length; slot++) if (!reference.has(ids[slot]!) && index.get(ids[slot]!) !== -1) return false;
      return index.get('not-a-session-id') === -1 && index.get('') === -1;
    }),
    { seed: SEED, numRuns: 30 },
  );
  t.pass();
});
