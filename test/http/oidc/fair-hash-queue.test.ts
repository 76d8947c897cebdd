// Goal: hashes are handed to the pool in fair turns between addresses: never
// more than `width` at once, each address's own in arrival order, addresses
// round-robin, nothing refused while there is room, a bound on what waits.
// Method: tasks are promises the test resolves by hand (a stand-in for the
// pool's answer), so the order is exact and nothing depends on timing; and a
// seeded property against a naive model of the same round-robin.

import test from 'ava';
import fc from 'fast-check';
import { FairHashQueue, QUEUE_WAITING_MAX } from '../../../src/http/oidc/fair-hash-queue.js';

const seed = Number(process.env['FC_SEED'] ?? 20_261_204);

/** A task that runs until the test finishes it; `started` records the order tasks got a place. */
function harness(width: number) {
  const queue = new FairHashQueue(width);
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const submit = (address: string, name: string): Promise<string> =>
    queue.run(address, () => {
      started.push(name);
      return new Promise<string>((resolve) => finishers.set(name, () => resolve(name)));
    });
  const finish = async (name: string): Promise<void> => {
    finishers.get(name)!();
    // Let the released place be handed on (the finally and the next task's start).
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { queue, started, submit, finish };
}

const ticks = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

test('one address\'s burst does not hold back the others: turns go round-robin', async (t) => {
  const { queue, started, submit, finish } = harness(1);
  for (const n of ['a1', 'a2', 'a3', 'a4']) void submit('A', n);
  void submit('B', 'b1');
  for (const n of ['c1', 'c2']) void submit('C', n);
  await ticks();
  t.deepEqual(started, ['a1']);
  t.is(queue.waiting, 6);
  for (const n of ['a1', 'a2', 'b1', 'c1', 'a3', 'c2', 'a4']) await finish(n);
  t.deepEqual(started, ['a1', 'a2', 'b1', 'c1', 'a3', 'c2', 'a4']);
  t.is(queue.active, 0);
  t.is(queue.waiting, 0);
});

test('work-conserving: one address alone gets every place at once', async (t) => {
  const { queue, started, submit } = harness(3);
  for (const n of ['a1', 'a2', 'a3', 'a4']) void submit('A', n);
  await ticks();
  t.deepEqual(started, ['a1', 'a2', 'a3']);
  t.is(queue.active, 3);
  t.is(queue.waiting, 1);
});

test('a failing task frees its place too', async (t) => {
  const queue = new FairHashQueue(1);
  await t.throwsAsync(queue.run('A', () => Promise.reject(new Error('bad credential'))), { message: 'bad credential' });
  t.is(await queue.run('B', () => Promise.resolve('ok')), 'ok');
  t.is(queue.active, 0);
});

test('past QUEUE_WAITING_MAX waiting, a new hash is refused with ERR_HASH_OVERLOADED', async (t) => {
  const { queue, submit } = harness(1);
  void submit('A', 'running');
  for (let i = 0; i < QUEUE_WAITING_MAX; i++) void submit(`addr-${i % 7}`, `w${i}`);
  await ticks();
  t.is(queue.waiting, QUEUE_WAITING_MAX);
  const refused = await t.throwsAsync(queue.run('Z', () => Promise.resolve(1)));
  t.is((refused as { code?: string }).code, 'ERR_HASH_OVERLOADED');
});

test('property: the order matches a naive round-robin model, and at most `width` run at once', async (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(fc.constantFrom('A', 'B', 'C', 'D'), { minLength: 1, maxLength: 30 }), async (width, arrivals) => {
      const { started, submit, finish, queue } = harness(width);
      const names = arrivals.map((a, i) => `${a}${i}`);
      arrivals.forEach((a, i) => void submit(a, names[i]!));
      await ticks();
      // The model: the first `width` start at once; then, as each finishes (oldest first), the next address in round-robin order.
      const waiting = new Map<string, string[]>();
      const expected = names.slice(0, width);
      for (const [i, a] of arrivals.entries()) if (i >= width) waiting.set(a, [...(waiting.get(a) ?? []), names[i]!]);
      const running = [...expected];
      while (running.length > 0) {
        if (queue.active > width) throw new Error('more than width at once');
        const done = running.shift()!;
        await finish(done);
        const next = waiting.entries().next();
        if (!next.done) {
          const [address, list] = next.value;
          const name = list.shift()!;
          waiting.delete(address);
          if (list.length > 0) waiting.set(address, list);
          expected.push(name);
          running.push(name);
        }
      }
      if (JSON.stringify(started) !== JSON.stringify(expected)) throw new Error(`order ${started.join(',')} != model ${expected.join(',')}`);
    }),
    { seed, numRuns: 200 },
  );
  t.pass();
});
