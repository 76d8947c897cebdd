// Where a session lives. All of a user's sessions share one partition,
// `partition = fnv1a32(realmId, userId) mod PARTITION_COUNT`, so per-user work
// (logout, session limits, listing) stays inside one actor. A session id
// carries its partition in its first 16 bits, followed by 128 random bits, so
// any node can route any id without a directory:
//
//   bytes  [ p_hi p_lo | r0 r1 … r15 ]  →  base64url, 24 characters
//
// Ids are opaque to clients. They are shorter than Keycloak's 36-character
// UUIDs, which saves heap on every session and every index entry.

import { randomFillSync } from 'node:crypto';
import { PARTITION_COUNT } from '../constants.js';

const FNV_OFFSET_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;

function fnv1a(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME_32);
  }
  return hash;
}

/** The partition of a user in a realm. Stable across versions and nodes: never change it. */
export function partitionOf(realmId: string, userId: string): number {
  let hash = fnv1a(FNV_OFFSET_32, realmId);
  hash ^= 0;
  hash = Math.imul(hash, FNV_PRIME_32);
  hash = fnv1a(hash, userId);
  return (hash >>> 0) % PARTITION_COUNT;
}

export const SESSION_ID_LENGTH = 24;
const SESSION_ID_BYTES = 18;
const RANDOM_POOL_BYTES = 16 * 1024;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) BASE64URL_VALUE[BASE64URL.charCodeAt(i)] = i;
const BASE64URL_CODE = Uint8Array.from(BASE64URL, (ch) => ch.charCodeAt(0));

// Drawing 16 bytes at a time from a pool refilled by the CSPRNG costs far less
// than one randomBytes() call per id (the call overhead dominates).
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;
const idBytes = Buffer.alloc(SESSION_ID_BYTES);

/** Whether `value` is a partition number (an integer, 0 ≤ value < PARTITION_COUNT). */
export function isPartition(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < PARTITION_COUNT;
}

/** A new session id in `partition` (0 ≤ partition < PARTITION_COUNT). */
export function newSessionId(partition: number): string {
  if (!isPartition(partition)) {
    throw new RangeError(`partition out of range: ${partition}`);
  }
  if (randomOffset + 16 > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  idBytes[0] = partition >>> 8;
  idBytes[1] = partition & 0xff;
  randomPool.copy(idBytes, 2, randomOffset, randomOffset + 16);
  randomOffset += 16;
  // Consumed random bytes are zeroed so a later memory disclosure reveals no future ids.
  randomPool.fill(0, randomOffset - 16, randomOffset);
  return idBytes.toString('base64url');
}

/**
 * The partition a session id encodes, or -1 when the text is not a session id
 * (wrong length, alphabet, or partition range). Never throws: ids arrive from
 * tokens and URLs.
 */
export function partitionOfSessionId(id: string): number {
  if (typeof id !== 'string' || id.length !== SESSION_ID_LENGTH) return -1;
  let valid = 0;
  for (let i = 0; i < SESSION_ID_LENGTH; i++) {
    const c = id.charCodeAt(i);
    valid |= c < 128 ? BASE64URL_VALUE[c]! : -1;
  }
  if (valid < 0) return -1;
  const v0 = BASE64URL_VALUE[id.charCodeAt(0)]!;
  const v1 = BASE64URL_VALUE[id.charCodeAt(1)]!;
  const v2 = BASE64URL_VALUE[id.charCodeAt(2)]!;
  const partition = (v0 << 10) | (v1 << 4) | (v2 >>> 2);
  return partition < PARTITION_COUNT ? partition : -1;
}

/**
 * Session ids in the order of the bits they encode (partition, then the
 * random words as a shard holds them), which is not the order of their text:
 * base64url's alphabet is not in ASCII order. Listings break ties by it, so
 * a shard compares slots by their words and the host compares the texts, and
 * both agree. Text that is not a session id sorts by its characters' codes.
 */
export function compareSessionIds(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    const va = ca < 128 ? BASE64URL_VALUE[ca]! : -1;
    const vb = cb < 128 ? BASE64URL_VALUE[cb]! : -1;
    return va >= 0 && vb >= 0 ? va - vb : ca - cb;
  }
  return a.length - b.length;
}

/** The shard that owns a partition on a node with `shardCount` shards. */
export function shardOfPartition(partition: number, shardCount: number): number {
  return partition % shardCount;
}

// ---------------------------------------------------------------------------
// Session ids as binary: a shard keeps an id's 128 random bits as four
// Uint32 words in a typed-array column (its partition in another), not as a
// string, and compares ids as numbers.

// The 144 bits of an id's 24 characters: 16 bits of partition (characters 0,
// 1 and the top 4 bits of 2), then the 128 random bits as four words:
//   w0 = c2[1:0] c3..c7          w1 = c8..c12 c13[5:4]
//   w2 = c13[3:0] c14..c17 c18[5:2]   w3 = c18[1:0] c19..c23
// Decoded in one pass over the characters, with no intermediate bytes.

function v(id: string, i: number): number {
  const c = id.charCodeAt(i);
  return c < 128 ? BASE64URL_VALUE[c]! : -1;
}

/**
 * Writes the four words of the id's random bits to `out[at..at+4)` and
 * returns its partition, or returns -1 (writing nothing) when the text is not
 * a session id.
 */
export function sessionIdWords(id: string, out: Uint32Array, at: number): number {
  if (typeof id !== 'string' || id.length !== SESSION_ID_LENGTH) return -1;
  const v0 = v(id, 0), v1 = v(id, 1), v2 = v(id, 2), v3 = v(id, 3), v4 = v(id, 4), v5 = v(id, 5), v6 = v(id, 6), v7 = v(id, 7);
  const v8 = v(id, 8), v9 = v(id, 9), v10 = v(id, 10), v11 = v(id, 11), v12 = v(id, 12), v13 = v(id, 13), v14 = v(id, 14), v15 = v(id, 15);
  const v16 = v(id, 16), v17 = v(id, 17), v18 = v(id, 18), v19 = v(id, 19), v20 = v(id, 20), v21 = v(id, 21), v22 = v(id, 22), v23 = v(id, 23);
  if ((v0 | v1 | v2 | v3 | v4 | v5 | v6 | v7 | v8 | v9 | v10 | v11 | v12 | v13 | v14 | v15 | v16 | v17 | v18 | v19 | v20 | v21 | v22 | v23) < 0) return -1;
  const partition = (v0 << 10) | (v1 << 4) | (v2 >>> 2);
  if (partition >= PARTITION_COUNT) return -1;
  out[at] = (((v2 & 3) << 30) | (v3 << 24) | (v4 << 18) | (v5 << 12) | (v6 << 6) | v7) >>> 0;
  out[at + 1] = ((v8 << 26) | (v9 << 20) | (v10 << 14) | (v11 << 8) | (v12 << 2) | (v13 >>> 4)) >>> 0;
  out[at + 2] = (((v13 & 15) << 28) | (v14 << 22) | (v15 << 16) | (v16 << 10) | (v17 << 4) | (v18 >>> 2)) >>> 0;
  out[at + 3] = (((v18 & 3) << 30) | (v19 << 24) | (v20 << 18) | (v21 << 12) | (v22 << 6) | v23) >>> 0;
  return partition;
}

const idChars = new Array<number>(SESSION_ID_LENGTH);

/** Per base64url value, the rank of its character in code-unit order (how JS compares strings). */
const BASE64URL_RANK = (() => {
  const sorted = [...BASE64URL].sort();
  return Uint8Array.from(BASE64URL, (ch) => sorted.indexOf(ch));
})();

/**
 * Three numbers whose order (compared one after another) is the order of the
 * session ids' text (`a < b` on the strings), written to `out[outAt..outAt+3)`
 * without building the text: each holds 8 characters' ranks (48 bits, exact in
 * a double). Sorting many sessions by id compares these instead of strings.
 */
export function sessionIdOrderKeys(partition: number, words: Uint32Array, at: number, out: Float64Array, outAt: number): void {
  const w0 = words[at]!, w1 = words[at + 1]!, w2 = words[at + 2]!, w3 = words[at + 3]!;
  const r = BASE64URL_RANK;
  const key = (c0: number, c1: number, c2: number, c3: number, c4: number, c5: number, c6: number, c7: number): number =>
    ((((((r[c0]! * 64 + r[c1]!) * 64 + r[c2]!) * 64 + r[c3]!) * 64 + r[c4]!) * 64 + r[c5]!) * 64 + r[c6]!) * 64 + r[c7]!;
  out[outAt] = key(partition >>> 10, (partition >>> 4) & 63, ((partition & 15) << 2) | (w0 >>> 30), (w0 >>> 24) & 63, (w0 >>> 18) & 63, (w0 >>> 12) & 63, (w0 >>> 6) & 63, w0 & 63);
  out[outAt + 1] = key(w1 >>> 26, (w1 >>> 20) & 63, (w1 >>> 14) & 63, (w1 >>> 8) & 63, (w1 >>> 2) & 63, ((w1 & 3) << 4) | (w2 >>> 28), (w2 >>> 22) & 63, (w2 >>> 16) & 63);
  out[outAt + 2] = key((w2 >>> 10) & 63, (w2 >>> 4) & 63, ((w2 & 15) << 2) | (w3 >>> 30), (w3 >>> 24) & 63, (w3 >>> 18) & 63, (w3 >>> 12) & 63, (w3 >>> 6) & 63, w3 & 63);
}

/** The session id text of a partition and four random words (the inverse of sessionIdWords). */
export function formatSessionId(partition: number, words: Uint32Array, at: number): string {
  const w0 = words[at]!, w1 = words[at + 1]!, w2 = words[at + 2]!, w3 = words[at + 3]!;
  const c = idChars;
  c[0] = partition >>> 10;
  c[1] = (partition >>> 4) & 63;
  c[2] = ((partition & 15) << 2) | (w0 >>> 30);
  c[3] = (w0 >>> 24) & 63; c[4] = (w0 >>> 18) & 63; c[5] = (w0 >>> 12) & 63; c[6] = (w0 >>> 6) & 63; c[7] = w0 & 63;
  c[8] = w1 >>> 26; c[9] = (w1 >>> 20) & 63; c[10] = (w1 >>> 14) & 63; c[11] = (w1 >>> 8) & 63; c[12] = (w1 >>> 2) & 63;
  c[13] = ((w1 & 3) << 4) | (w2 >>> 28);
  c[14] = (w2 >>> 22) & 63; c[15] = (w2 >>> 16) & 63; c[16] = (w2 >>> 10) & 63; c[17] = (w2 >>> 4) & 63;
  c[18] = ((w2 & 15) << 2) | (w3 >>> 30);
  c[19] = (w3 >>> 24) & 63; c[20] = (w3 >>> 18) & 63; c[21] = (w3 >>> 12) & 63; c[22] = (w3 >>> 6) & 63; c[23] = w3 & 63;
  for (let i = 0; i < SESSION_ID_LENGTH; i++) c[i] = BASE64URL_CODE[c[i]!]!;
  return String.fromCharCode.apply(null, c);
}
