// k-way merge of per-shard pages. Each shard answers with its first `limit`
// items in its own order (creation or attach order, i.e. by start time); the
// merge keeps every list's order and repeatedly takes the head with the
// smallest key (ties: the lower shard). Because the merged prefix depends only
// on the lists' prefixes, page k+1 continues page k exactly, and the cost is
// O(limit × shards), independent of how many sessions exist.

export function mergeOrdered<T>(lists: readonly (readonly T[])[], keyOf: (item: T) => number, limit: number): T[] {
  return mergeOrderedBy(lists, (a, b) => keyOf(a) - keyOf(b), limit);
}

/** The same merge for lists ordered by `compare` (negative: a first). */
export function mergeOrderedBy<T>(lists: readonly (readonly T[])[], compare: (a: T, b: T) => number, limit: number): T[] {
  const out: T[] = [];
  const heads = new Array<number>(lists.length).fill(0);
  while (out.length < limit) {
    let best = -1;
    let bestItem: T | undefined;
    for (let i = 0; i < lists.length; i++) {
      const list = lists[i]!;
      if (heads[i]! >= list.length) continue;
      const item = list[heads[i]!]!;
      if (best < 0 || compare(item, bestItem!) < 0) {
        best = i;
        bestItem = item;
      }
    }
    if (best < 0) break;
    out.push(lists[best]![heads[best]!++]!);
  }
  return out;
}
