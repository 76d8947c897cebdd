// Sorted, filtered listings of a shard's sessions: the first `limit`
// sessions of a realm in a SessionOrder among those a predicate accepts. The
// host asks every shard for first + max and merges their answers by the same
// order (merge-ordered.ts), so a page costs each shard one walk and never
// materialises more than first + max views.
//
// By start. The realm list is kept in start order (creation appends;
// restores and promotions place sessions by start), so the walk goes from
// the oldest (or, descending, the newest) and stops once `limit` sessions
// matched — except that sessions of the boundary's second are all taken,
// because the list orders ties by creation and the listing orders them by
// id. Example, limit 2, ascending, starts [10 a] [11 c] [11 b] [12 d]:
// the walk takes a and c, then b (same second as c), stops at d, sorts
// a b c and answers a b. Cost: the sessions visited, as ui-ext's search.
//
// By last access. Nothing keeps sessions in last-access order (every touch
// would move one), so the walk visits every session of the realm and keeps
// the best `limit` in a bounded heap (TopK): O(n log limit) time, O(limit)
// memory. Measured at 1,000,000 sessions over two shards: see
// docs/admin-api.md.
//
// For one user (the filter's userId) the user's own list is read and sorted,
// whatever the order: a user holds few sessions.
//
// Owner: the shard actor, inside its turn; it reads the table only.

import type { SessionOrder } from '../protocol/actor-messages.js';
import { TopK } from '../util/top-k.js';
import type { SessionTable } from './session-table.js';

export interface ListQuery {
  realmId: string;
  /** Only this user's sessions, when given. */
  userId?: string;
  /** Which sessions of the realm qualify (filter and search). */
  test: (slot: number) => boolean;
  order: SessionOrder;
  limit: number;
}

/** The slots of the first `limit` qualifying sessions in `order`. */
export function listSlots(table: SessionTable, query: ListQuery): number[] {
  if (query.limit <= 0) return [];
  const sign = query.order.desc ? -1 : 1;
  const by = query.order.by;
  const compare = (a: number, b: number): number => sign * table.compareSlots(a, b, by);
  if (query.userId !== undefined) return table.userSlots(query.realmId, query.userId).filter(query.test).sort(compare).slice(0, query.limit);
  return by === 'started' ? walkByStart(table, query, compare) : bestByWalk(table, query, compare);
}

function walkByStart(table: SessionTable, query: ListQuery, compare: (a: number, b: number) => number): number[] {
  const out: number[] = [];
  let boundary = -1;
  table.walkRealm(query.realmId, query.order.desc, (slot) => {
    if (out.length >= query.limit && table.startedOf(slot) !== boundary) return false;
    if (query.test(slot)) {
      out.push(slot);
      if (out.length === query.limit) boundary = table.startedOf(slot);
    }
    return true;
  });
  return out.sort(compare).slice(0, query.limit);
}

function bestByWalk(table: SessionTable, query: ListQuery, compare: (a: number, b: number) => number): number[] {
  const best = new TopK<number>(query.limit, compare);
  table.walkRealm(query.realmId, false, (slot) => {
    if (query.test(slot)) best.offer(slot);
    return true;
  });
  return best.sorted();
}
