// How the shard's typed-array columns grow (session table, timer wheel, name
// index). By half, not by doubling: a column's spare room is then at most a
// third of it, against a half, which at millions of sessions is tens of bytes
// per session (measured at 10 M sessions: 341 B each with doubling, the
// columns 60 % full). The price is more copying as a table fills (each element
// is copied about twice, against once), which stays a constant per insert.

/** The capacity after `current` when `needed` elements must fit: at least 1.5× `current`. */
export function grownCapacity(current: number, needed = current + 1): number {
  let capacity = Math.max(current, 1);
  while (capacity < needed) capacity = Math.ceil(capacity * 1.5);
  return Math.max(capacity, Math.ceil(current * 1.5));
}
