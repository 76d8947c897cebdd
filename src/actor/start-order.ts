// The order of a realm's or a client's list when a table is rebuilt (start-up,
// a restore): by start second, ties by session id, where an id is the three
// numbers of sessionIdOrderKeys compared in turn. Owner: SessionTable's
// sortListsByStart.
//
// Written by hand, not Array.prototype.sort with a comparator: a shard
// restoring half a million sessions compared them ~10 million times through
// a closure (with the lists gathered in JS arrays, about a seventh of the
// restore's CPU when they all started in the same second, as a bulk load's
// do; 690 ms against 210 ms now). Here a least-significant-digit radix sort over
// 16-bit digits of the start and of the id's first number (80 bits, five
// counting passes, a pass skipped when every entry has the same digit) puts
// them in order in linear time; entries equal in both (ids sharing their first
// eight characters: practically never) are then ordered by the other two
// numbers. Short lists take the comparison sort, which costs less than five
// passes over 65,536 counters.

/** Lists this long or longer are radix-sorted. */
export const RADIX_SORT_FROM = 4096;

const DIGIT = 1 << 16;
const TWO_32 = 2 ** 32;

/** The sort keys of n entries, by position: start second, and the id's three order numbers. */
export interface StartOrderKeys {
  start: Uint32Array;
  k0: Float64Array;
  k1: Float64Array;
  k2: Float64Array;
}

/** The positions 0..n-1 in (start, k0, k1, k2) order. */
export function startOrder(keys: StartOrderKeys, n: number, radixFrom = RADIX_SORT_FROM): Int32Array {
  if (n < Math.max(radixFrom, 2)) return comparisonOrder(keys, n);
  const order = radixOrder(keys, n);
  orderTies(keys, order);
  return order;
}

function comparisonOrder({ start, k0, k1, k2 }: StartOrderKeys, n: number): Int32Array {
  const positions = Array.from({ length: n }, (_, i) => i);
  positions.sort((a, b) => start[a]! - start[b]! || k0[a]! - k0[b]! || k1[a]! - k1[b]! || k2[a]! - k2[b]!);
  return Int32Array.from(positions);
}

/** Positions ordered by (start, k0): k0 (48 bits) in three digits, then start in two. */
function radixOrder({ start, k0 }: StartOrderKeys, n: number): Int32Array {
  const low = new Uint32Array(n);
  const high = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const k = k0[i]!;
    low[i] = k % TWO_32;
    high[i] = Math.floor(k / TWO_32);
  }
  let from = new Int32Array(n);
  for (let i = 0; i < n; i++) from[i] = i;
  let to = new Int32Array(n);
  const digit = new Uint16Array(n);
  const counts = new Uint32Array(DIGIT);
  for (let pass = 0; pass < 5; pass++) {
    if (pass === 0) for (let i = 0; i < n; i++) digit[i] = low[i]! & 0xffff;
    else if (pass === 1) for (let i = 0; i < n; i++) digit[i] = low[i]! >>> 16;
    else if (pass === 2) digit.set(high);
    else if (pass === 3) for (let i = 0; i < n; i++) digit[i] = start[i]! & 0xffff;
    else for (let i = 0; i < n; i++) digit[i] = start[i]! >>> 16;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[digit[i]!]!++;
    if (counts[digit[0]!] === n) continue;
    let sum = 0;
    for (let d = 0; d < DIGIT; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const p = from[i]!;
      to[counts[digit[p]!]!++] = p;
    }
    [from, to] = [to, from];
  }
  return from;
}

/** Runs of entries equal in start and k0, ordered by k1 then k2. */
function orderTies({ start, k0, k1, k2 }: StartOrderKeys, order: Int32Array): void {
  for (let i = 0; i < order.length; ) {
    let j = i + 1;
    while (j < order.length && start[order[j]!] === start[order[i]!] && k0[order[j]!] === k0[order[i]!]) j++;
    if (j - i > 1) order.subarray(i, j).sort((a, b) => k1[a]! - k1[b]! || k2[a]! - k2[b]!);
    i = j;
  }
}
