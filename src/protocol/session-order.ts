// The order of sorted session listings (SessionOrder): by start or by last
// access, ties by session id in the order of its bits (compareSessionIds),
// the whole order reversed when descending. One comparator for everyone who
// orders views or offline records: the shard sorting its answer, the host
// merging the shards' answers, and the admin API merging regular sessions
// with offline ones. A shard walking its table compares slots the same way
// (SessionTable.compareSlots), without building ids.

import type { SessionOrder } from './actor-messages.js';
import { compareSessionIds } from './partition.js';

/** What the order reads of a session view or an offline record. */
export interface Orderable {
  id: string;
  started: number;
  lastSessionRefresh: number;
}

export function sessionComparator(order: SessionOrder): (a: Orderable, b: Orderable) => number {
  const sign = order.desc ? -1 : 1;
  if (order.by === 'started') return (a, b) => sign * (a.started - b.started || compareSessionIds(a.id, b.id));
  return (a, b) => sign * (a.lastSessionRefresh - b.lastSessionRefresh || compareSessionIds(a.id, b.id));
}

/** Whether a value received over a boundary is a SessionOrder. */
export function isSessionOrder(value: unknown): value is SessionOrder {
  if (value === null || typeof value !== 'object') return false;
  const { by, desc } = value as Record<string, unknown>;
  return (by === 'started' || by === 'lastAccess') && typeof desc === 'boolean';
}
