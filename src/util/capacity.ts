// How the shard's typed-array columns grow (session table, timer wheel, name
// index, free lists), and the copies that grow them. They double while small,
// and grow by half once they hold GROW_BY_HALF_FROM elements: a large column's
// spare room is then at most a third of it, against a half, which at millions
// of sessions is tens of bytes per session (measured at 10 M sessions: 341 B
// each when always doubling, the columns 60 % full; 218 B this way). Small
// columns keep doubling because every growth leaves the old column as garbage:
// growing by half from the start made filling a 300 k-session table leave half
// as much again, and the collections it caused slowed the shard's next work by
// 10-30 % in `engine-transfer`. Growing by half costs more copying (each
// element copied about twice, against once), still a constant per insert.

/** Columns this large (elements) or larger grow by half instead of doubling. */
export const GROW_BY_HALF_FROM = 1 << 20;

/** The capacity after `current` when `needed` elements must fit. */
export function grownCapacity(current: number, needed = current + 1): number {
  const step = (capacity: number): number => Math.ceil(capacity * (capacity < GROW_BY_HALF_FROM ? 2 : 1.5));
  let capacity = step(Math.max(current, 1));
  while (capacity < needed) capacity = step(capacity);
  return capacity;
}

/** A copy of `a` in a new column of `n` elements, the new ones set to `fill`. */
export function growInt32(a: Int32Array<ArrayBuffer>, n: number, fill = 0): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}
/** A copy of `a` in a new column of `n` elements (the new ones 0). */
export function growUint32(a: Uint32Array<ArrayBuffer>, n: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}
/** A copy of `a` in a new column of `n` elements (the new ones 0). */
export function growUint16(a: Uint16Array<ArrayBuffer>, n: number): Uint16Array<ArrayBuffer> {
  const b = new Uint16Array(n);
  b.set(a);
  return b;
}
/** A copy of `a` in a new column of `n` elements (the new ones 0). */
export function growUint8(a: Uint8Array<ArrayBuffer>, n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}
