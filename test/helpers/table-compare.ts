// Helpers for tests that rebuild a shard's table elsewhere (a replica, a
// journal replay) and check it holds the same sessions.

import type { SessionTable } from '../../src/actor/session-table.js';
import type { SessionView } from '../../src/protocol/actor-messages.js';

/** A seeded pseudo-random generator in [0, 1) (repeatable workloads). */
export function lcg(seedValue: number): () => number {
  let state = seedValue >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Every view, chain, counter and listing of `b` equals `a`'s. Listing order:
 * 'exact' (a replica applying the same records in the same order) or
 * 'byStart' (a restore, which re-sorts its lists: the order of sessions
 * started in the same second is then by id).
 */
export function compareTables(
  t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void },
  a: SessionTable,
  b: SessionTable,
  clients: string[],
  realms: string[],
  order: 'exact' | 'byStart' = 'exact',
): void {
  const ids = (views: { id: string; started: number }[]): string[] =>
    (order === 'exact' ? views : [...views].sort((x, y) => x.started - y.started || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))).map((v) => v.id);
  t.is(b.size, a.size, 'size');
  for (const slot of a.allSlots()) {
    const id = a.idOf(slot);
    const other = b.slotOf(id);
    t.deepEqual(other >= 0 ? b.view(other) : null, a.view(slot), `view of ${id}`);
    if (other < 0) continue;
    t.deepEqual(b.chainsOf(other), a.chainsOf(slot), `chains of ${id}`);
    t.is(b.partitionOf(other), a.partitionOf(slot));
  }
  t.deepEqual(b.stats().realms, a.stats().realms, 'per-realm counters');
  for (const realm of realms) {
    t.deepEqual(b.realmClientStats(realm), a.realmClientStats(realm), `client stats of ${realm}`);
    t.deepEqual(b.search(realm, '', [], null, 1e6).map((v) => v.id), ids(a.search(realm, '', [], null, 1e6)), `realm order of ${realm}`);
  }
  for (const client of clients) {
    t.is(b.clientSessionCount(client), a.clientSessionCount(client), `count of ${client}`);
    const started = (v: SessionView): { id: string; started: number } => ({ id: v.id, started: v.clients.find((c) => c.client === client)!.started });
    t.deepEqual(b.clientSessions(client, 1e6).map((v) => v.id), ids(a.clientSessions(client, 1e6).map(started)), `attach order of ${client}`);
  }
}
