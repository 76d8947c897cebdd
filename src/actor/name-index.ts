// NameIndex: every live username of a shard in one contiguous buffer, so a
// substring search (the admin console's session search) is one memchr-speed
// Buffer.indexOf pass over a few MB instead of a walk over every session
// object. Owner: the shard's SessionTable.
//
//   buffer   \n alice \n bob \n carol-x …        entries appended as users appear
//   starts   [0, 6, 10, …]                      entry start offsets, ascending
//   owners   [user slot, user slot, -1, …]      -1: the user is gone (a dead entry)
//
// A match is mapped to its entry by binary search over `starts`; a match that
// runs across an entry boundary is not a match. Dead entries are compacted away
// when they outnumber the live ones, so memory stays proportional to users.

import { growInt32, grownCapacity } from '../util/capacity.js';

const INITIAL_BYTES = 64 * 1024;
const INITIAL_ENTRIES = 1024;
const SEPARATOR = 0x0a; // "\n": usernames are single-line

export class NameIndex {
  #buffer = Buffer.alloc(INITIAL_BYTES);
  #length = 0;
  #starts = new Int32Array(INITIAL_ENTRIES);
  #owners = new Int32Array(INITIAL_ENTRIES);
  #entries = 0;
  #dead = 0;

  /** Adds a user's name; returns its entry (to remove it later). */
  add(user: number, name: string): number {
    const bytes = Buffer.byteLength(name, 'utf8') + 1;
    if (this.#length + bytes > this.#buffer.length) {
      const grown = Buffer.alloc(grownCapacity(this.#buffer.length, this.#length + bytes));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    if (this.#entries === this.#starts.length) {
      const capacity = grownCapacity(this.#starts.length);
      this.#starts = growInt32(this.#starts, capacity);
      this.#owners = growInt32(this.#owners, capacity);
    }
    this.#buffer[this.#length] = SEPARATOR;
    this.#buffer.write(name, this.#length + 1, 'utf8');
    const entry = this.#entries++;
    this.#starts[entry] = this.#length;
    this.#owners[entry] = user;
    this.#length += bytes;
    return entry;
  }

  /** The name stored in `entry` (decoded: the index is where usernames live). */
  nameOf(entry: number): string {
    const start = this.#starts[entry]! + 1;
    const end = entry + 1 < this.#entries ? this.#starts[entry + 1]! : this.#length;
    return this.#buffer.toString('utf8', start, end);
  }

  /** Does the name in `entry` contain `needle` (UTF-8 bytes)? */
  contains(entry: number, needle: Buffer): boolean {
    const start = this.#starts[entry]! + 1;
    const end = entry + 1 < this.#entries ? this.#starts[entry + 1]! : this.#length;
    if (needle.length > end - start) return false;
    const at = this.#buffer.indexOf(needle, start);
    return at >= 0 && at + needle.length <= end;
  }

  /** Marks an entry dead. `rebind` is told the new entry of every live user when a compaction renumbers them. */
  remove(entry: number, rebind: (user: number, entry: number) => void): void {
    if (this.#owners[entry] === -1) return;
    this.#owners[entry] = -1;
    this.#dead++;
    if (this.#dead > 4096 && this.#dead > this.#entries - this.#dead) this.#compact(rebind);
  }

  /**
   * Users whose name contains `text`, at most `limit` of them (then `more` is
   * true: the caller should walk instead, matches are dense).
   */
  find(text: string, limit: number): { users: number[]; more: boolean } {
    const users: number[] = [];
    if (text === '' || text.includes('\n')) return { users, more: false };
    const needle = Buffer.from(text, 'utf8');
    let from = 0;
    while (from < this.#length) {
      const at = this.#buffer.indexOf(needle, from);
      if (at < 0 || at >= this.#length) break;
      const entry = this.#entryAt(at);
      const end = entry + 1 < this.#entries ? this.#starts[entry + 1]! : this.#length;
      if (at + needle.length <= end && this.#owners[entry]! >= 0) {
        if (users.length === limit) return { users, more: true };
        users.push(this.#owners[entry]!);
      }
      from = at + needle.length <= end ? end : at + 1;
    }
    return { users, more: false };
  }

  /** The entry holding byte offset `at` (binary search over the start offsets). */
  #entryAt(at: number): number {
    let lo = 0;
    let hi = this.#entries - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Moves the live entries down over the dead ones, in place: a compaction
   * runs inside a shard's turn, and writing into fresh memory (a new buffer
   * and arrays, every page of them touched for the first time) made it the
   * longest step of a logout-all's slices. Memory is given back afterwards
   * only when at most a quarter of it is used (#shrink).
   */
  #compact(rebind: (user: number, entry: number) => void): void {
    const buffer = this.#buffer;
    const starts = this.#starts;
    const owners = this.#owners;
    const count = this.#entries;
    const oldLength = this.#length;
    let length = 0;
    let kept = 0;
    // Live entries next to each other move as one run: one native copy per
    // run instead of one per name. A run moves when the next gap is found,
    // always downwards (to <= where it was), so no byte is overwritten before
    // it moved; only starts[e] and starts[e + 1] are read, never an index
    // already rewritten (kept <= e).
    let runFrom = 0;
    let runEnd = 0;
    let runTo = 0;
    for (let e = 0; e < count; e++) {
      const user = owners[e]!;
      if (user < 0) continue;
      const start = starts[e]!;
      const end = e + 1 < count ? starts[e + 1]! : oldLength;
      if (start !== runEnd) {
        if (runFrom !== runTo) buffer.copyWithin(runTo, runFrom, runEnd);
        runFrom = start;
        runTo = length;
      }
      runEnd = end;
      starts[kept] = length;
      owners[kept] = user;
      if (kept !== e) rebind(user, kept);
      length += end - start;
      kept++;
    }
    if (runFrom !== runTo) buffer.copyWithin(runTo, runFrom, runEnd);
    this.#length = length;
    this.#entries = kept;
    this.#dead = 0;
    this.#shrink();
  }

  /** Reallocates the buffer and the entry arrays at twice what they hold once they hold a quarter or less. */
  #shrink(): void {
    if (this.#buffer.length > INITIAL_BYTES && this.#buffer.length >= 4 * this.#length) {
      const smaller = Buffer.alloc(Math.max(INITIAL_BYTES, 2 * this.#length));
      this.#buffer.copy(smaller, 0, 0, this.#length);
      this.#buffer = smaller;
    }
    if (this.#starts.length > INITIAL_ENTRIES && this.#starts.length >= 4 * this.#entries) {
      const capacity = Math.max(INITIAL_ENTRIES, 2 * this.#entries);
      this.#starts = this.#starts.slice(0, capacity);
      this.#owners = this.#owners.slice(0, capacity);
    }
  }
}
