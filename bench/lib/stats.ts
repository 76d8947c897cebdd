// Small numeric helpers shared by scenarios.

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a sample; sorts a copy. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * A quantile (q in 0..1) of a Prometheus histogram's observations, as the
 * upper bound of the bucket that holds it (an upper bound of the quantile);
 * `buckets` are cumulative counts by upper bound `le` (+Inf included). null
 * when there are no observations.
 */
export function bucketQuantile(buckets: ReadonlyArray<{ le: number; count: number }>, q: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  return sorted.find((b) => b.count >= q * total)!.le;
}

/** CPU seconds (user + system) of the whole process since `since`: worker threads included (RUSAGE_SELF). */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Full collections until the heap settles; typed-array backing stores are freed by these too. */
export async function settleHeap(rounds = 4): Promise<void> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run node with --expose-gc (npm run bench does)');
  for (let i = 0; i < rounds; i++) {
    gc();
    // Let V8's background sweeper release what the collection freed (ArrayBuffer backing stores).
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
