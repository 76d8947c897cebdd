// IdIndex: session id → slot, an open-addressing hash table over one
// Int32Array (linear probing, backward-shift deletion, load ≤ 1/2). It
// replaces a Map<string, number>: the key's hash comes from the random bits
// the id already carries (no string hashing), deletions leave no tombstones
// and the table never shrinks, so mass expiry and logout-all never stall on a
// rehash; and a slot costs 8 bytes instead of a Map entry's ~29.
// Owner: the shard's SessionTable, which keeps the id strings (`ids`).

const EMPTY = -1;
const INITIAL_CAPACITY = 1 << 12;

const VALUE = new Int8Array(128).fill(0);
{
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) VALUE[alphabet.charCodeAt(i)] = i;
}

/**
 * 30 bits of the id's randomness. Session ids are base64url of 2 partition
 * bytes and 16 random bytes; characters 3–7 hold only random bits. Any other
 * string still hashes (worse distribution, same correctness).
 */
function hashOf(id: string): number {
  return (
    (VALUE[id.charCodeAt(3) & 127]! << 24) |
    (VALUE[id.charCodeAt(4) & 127]! << 18) |
    (VALUE[id.charCodeAt(5) & 127]! << 12) |
    (VALUE[id.charCodeAt(6) & 127]! << 6) |
    VALUE[id.charCodeAt(7) & 127]!
  );
}

export class IdIndex {
  #table = new Int32Array(INITIAL_CAPACITY).fill(EMPTY);
  #mask = INITIAL_CAPACITY - 1;
  #size = 0;
  readonly #ids: string[];

  /** `ids[slot]` must hold the id of every slot in the index. */
  constructor(ids: string[]) {
    this.#ids = ids;
  }

  get size(): number {
    return this.#size;
  }

  /** The slot of `id`, or -1. */
  get(id: string): number {
    if (typeof id !== 'string' || id.length < 8) return EMPTY;
    const table = this.#table;
    const mask = this.#mask;
    for (let i = hashOf(id) & mask; ; i = (i + 1) & mask) {
      const slot = table[i]!;
      if (slot === EMPTY || this.#ids[slot] === id) return slot;
    }
  }

  /** Adds `slot` under `ids[slot]` (which must not be in the index). */
  add(slot: number): void {
    if ((this.#size + 1) * 2 > this.#table.length) this.#grow();
    const table = this.#table;
    const mask = this.#mask;
    let i = hashOf(this.#ids[slot]!) & mask;
    while (table[i] !== EMPTY) i = (i + 1) & mask;
    table[i] = slot;
    this.#size++;
  }

  /** Removes `slot` (looked up by its id, which must still be in `ids`). */
  remove(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = hashOf(this.#ids[slot]!) & mask;
    while (table[i] !== slot) {
      if (table[i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    let hole = i;
    for (let j = (i + 1) & mask; table[j] !== EMPTY; j = (j + 1) & mask) {
      const home = hashOf(this.#ids[table[j]!]!) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        table[hole] = table[j]!;
        hole = j;
      }
    }
    table[hole] = EMPTY;
    this.#size--;
  }

  #grow(): void {
    const old = this.#table;
    this.#table = new Int32Array(old.length * 2).fill(EMPTY);
    this.#mask = this.#table.length - 1;
    this.#size = 0;
    for (const slot of old) if (slot !== EMPTY) this.add(slot);
  }
}
