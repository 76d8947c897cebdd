// UUIDs as binary: a canonical lowercase UUID (Keycloak's user ids) is 128
// bits, kept as four Uint32 words instead of a 36-character string. Anything
// else (an imported id of another shape, upper case) is kept as the text the
// user gave, so it always comes back exactly, and is indexed by words hashed
// from it (textIdWords).

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;
/** Positions of the hex digit pairs of each byte in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const BYTE_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** Writes the UUID's four words to `out[at..at+4)`; false when `text` is not a canonical lowercase UUID. */
export function parseUuid(text: string, out: Uint32Array, at: number): boolean {
  if (text.length !== 36 || text.charCodeAt(8) !== 45 || text.charCodeAt(13) !== 45 || text.charCodeAt(18) !== 45 || text.charCodeAt(23) !== 45) {
    return false;
  }
  let word = 0;
  for (let b = 0; b < 16; b++) {
    const c = BYTE_AT[b]!;
    const hi = text.charCodeAt(c);
    const lo = text.charCodeAt(c + 1);
    const h = hi < 128 ? HEX[hi]! : -1;
    const l = lo < 128 ? HEX[lo]! : -1;
    if ((h | l) < 0) return false;
    word = (word << 8) | (h << 4) | l;
    if ((b & 3) === 3) out[at + (b >>> 2)] = word >>> 0;
  }
  return true;
}

const HEX_CODE = Uint8Array.from('0123456789abcdef', (ch) => ch.charCodeAt(0));
const codes = new Array<number>(36);

/** The canonical lowercase text of the UUID in `words[at..at+4)` (built from character codes: measured fastest). */
export function formatUuid(words: Uint32Array, at: number): string {
  let j = 0;
  for (let b = 0; b < 16; b++) {
    if (b === 4 || b === 6 || b === 8 || b === 10) codes[j++] = 45;
    const byte = (words[at + (b >>> 2)]! >>> (24 - 8 * (b & 3))) & 0xff;
    codes[j++] = HEX_CODE[byte >>> 4]!;
    codes[j++] = HEX_CODE[byte & 15]!;
  }
  return String.fromCharCode.apply(null, codes);
}

/**
 * Four words standing for an id that is not a UUID (an imported id of
 * another shape, a federated user's `f:<provider>:<id>`), so that such ids
 * share the binary user index with UUIDs: two 32-bit hashes of the text
 * (murmur3's mixing, two seeds), its length, and 0. Two ids may get the same
 * words (a hash, unlike a UUID's bits, can collide, and may equal a UUID's
 * words): the index keeps both, and the owner tells them apart by the text.
 */
export function textIdWords(text: string, out: Uint32Array, at: number): void {
  let a = 0x9747b28c;
  let b = 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(rotl13(a ^ Math.imul(c, 0xcc9e2d51)), 5) + 0xe6546b64;
    b = Math.imul(rotl13(b ^ Math.imul(c, 0x1b873593)), 5) + 0x85ebca6b;
  }
  out[at] = fmix32(a ^ text.length);
  out[at + 1] = fmix32(b ^ text.length);
  out[at + 2] = text.length;
  out[at + 3] = 0;
}

function rotl13(x: number): number {
  return (x << 13) | (x >>> 19);
}

/** murmur3's finalizer: every input bit reaches every output bit. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
