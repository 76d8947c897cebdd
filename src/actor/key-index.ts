// KeyIndex: fixed-width binary key → slot, an open-addressing hash table over
// one Int32Array (linear probing, backward-shift deletion, load ≤ 3/4). The
// keys themselves live in the owner's typed-array column (`keys()`, K words
// per slot), so the index stores only slot numbers and their hashes: 8 bytes
// per entry, 1⅓–2⅔ entries per key, no string per key, no rehash when it
// shrinks (it never does), no tombstones after deletions — mass expiry and
// logout-all never stall on it. It replaces a Map<string, number> for session ids (K = 4: the id's 128
// random bits) and for user ids (K = 5: the realm and the UUID's 128 bits, or
// a hash of a text id, which the owner tells apart from an equal key by the text).
// Owner: the shard's SessionTable.

const EMPTY = -1;
const ACCEPT_ANY = (): boolean => true;
const INITIAL_CAPACITY = 1 << 12;
/**
 * The index doubles once it would be fuller than this many quarters. At 3/4
 * a lookup reads ~2.5 entries on average (one cache line: the hash sits
 * beside each slot, so a probe rarely reads the key column); at 1/2 the index
 * took 32 bytes per key just after doubling (54 B per session at 10 M, with
 * the user index).
 */
const MAX_LOAD_QUARTERS = 3;

export class KeyIndex {
  readonly #width: number;
  /** The owner's key column (it may be replaced when it grows, hence a getter). */
  readonly #keys: () => Uint32Array;
  /**
   * Entry i is `[2i]` the slot (or EMPTY) and `[2i + 1]` its key's hash.
   * The hash sits beside the slot: a probe compares it before reading the
   * key column, and deletion shifts entries by their home position without
   * recomputing it from the column (measured: the index's share of mass
   * expiry fell from ~40 % to ~15 %); interleaved, a probe reads one cache
   * line instead of one in each of two arrays.
   */
  #entries = new Int32Array(2 * INITIAL_CAPACITY).fill(EMPTY);
  #mask = INITIAL_CAPACITY - 1;
  #size = 0;

  /** `keys()[slot * width + i]` holds word i of the key of every slot in the index. */
  constructor(width: number, keys: () => Uint32Array) {
    this.#width = width;
    this.#keys = keys;
  }

  get size(): number {
    return this.#size;
  }

  /** The slot whose key equals `key[0..width)`, or -1 (the first found, if several share it: see find). */
  get(key: Uint32Array): number {
    return this.find(key, ACCEPT_ANY);
  }

  /**
   * The first slot whose key equals `key[0..width)` and that `accept`s,
   * or -1. Several slots may share a key (add() never checks): an owner whose
   * keys are hashes of longer ids tells them apart with `accept`.
   */
  find(key: Uint32Array, accept: (slot: number) => boolean): number {
    const entries = this.#entries;
    const mask = this.#mask;
    const keys = this.#keys();
    const width = this.#width;
    const hash = this.#hash(key, 0);
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = entries[2 * i]!;
      if (slot === EMPTY) return EMPTY;
      if (entries[2 * i + 1] !== hash) continue;
      let at = slot * width;
      let w = 0;
      while (w < width && keys[at] === key[w]) {
        at++;
        w++;
      }
      if (w === width && accept(slot)) return slot;
    }
  }

  /** Adds `slot` under its key (another slot may have the same key: see find). */
  add(slot: number): void {
    if ((this.#size + 1) * 4 > (this.#mask + 1) * MAX_LOAD_QUARTERS) this.#grow();
    this.#place(slot, this.#hash(this.#keys(), slot * this.#width));
    this.#size++;
  }

  /** Removes `slot` (its key must still be in the column). */
  remove(slot: number): void {
    const entries = this.#entries;
    const mask = this.#mask;
    let i = this.#hash(this.#keys(), slot * this.#width) & mask;
    while (entries[2 * i] !== slot) {
      if (entries[2 * i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    let hole = i;
    for (let j = (i + 1) & mask; entries[2 * j] !== EMPTY; j = (j + 1) & mask) {
      const home = entries[2 * j + 1]! & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        entries[2 * hole] = entries[2 * j]!;
        entries[2 * hole + 1] = entries[2 * j + 1]!;
        hole = j;
      }
    }
    entries[2 * hole] = EMPTY;
    this.#size--;
  }

  /** Mixes the key's words (the random words already spread well; the mix covers the others). */
  #hash(words: Uint32Array, at: number): number {
    let h = 0x9e3779b9;
    for (let w = 0; w < this.#width; w++) h = Math.imul(h ^ words[at + w]!, 0x85ebca6b) ^ (h >>> 13);
    return (h ^ (h >>> 16)) | 0;
  }

  #place(slot: number, hash: number): void {
    const entries = this.#entries;
    const mask = this.#mask;
    let i = hash & mask;
    while (entries[2 * i] !== EMPTY) i = (i + 1) & mask;
    entries[2 * i] = slot;
    entries[2 * i + 1] = hash;
  }

  #grow(): void {
    const old = this.#entries;
    this.#entries = new Int32Array(2 * old.length).fill(EMPTY);
    this.#mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== EMPTY) this.#place(old[i]!, old[i + 1]!);
  }
}
