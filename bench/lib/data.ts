// Synthetic sessions for the scenarios: deterministic where the order matters
// (permutations), realistic where memory matters (flat strings).

import { randomUUID } from 'node:crypto';

/**
 * A user id as a server receives it: a flat 36-character string. randomUUID()
 * returns a cons-string tree of ~488 heap bytes (docs/performance.md#a-session-table-in-one-thread); a real
 * server parses ids out of JSON or msgpack and so holds flat ones (~56 bytes).
 * The latin1 Buffer round trip produces a flat sequential string.
 */
export function flatUuid(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}

export function username(i: number): string {
  return `user-${String(i).padStart(7, '0')}`;
}

/** A distinct 10.x.y.z address per index below 2^24. */
export function ipOf(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/** A seeded generator (LCG): the same permutation every run and every build. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A random permutation of 0..n-1 (Fisher-Yates over a seeded generator). */
export function permutation(n: number, seed: number): Int32Array {
  const random = lcg(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = out[i]!;
    out[i] = out[j]!;
    out[j] = swap;
  }
  return out;
}

/** Formats a figure for tables: three significant digits, thousands separated. */
export function formatNumber(value: number | null): string {
  if (value === null) return '-';
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}
