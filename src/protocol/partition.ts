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

// Drawing 16 bytes at a time from a pool refilled by the CSPRNG costs far less
// than one randomBytes() call per id (the call overhead dominates).
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;
const idBytes = Buffer.alloc(SESSION_ID_BYTES);

/** A new session id in `partition` (0 ≤ partition < PARTITION_COUNT). */
export function newSessionId(partition: number): string {
  if (!(Number.isInteger(partition) && partition >= 0 && partition < PARTITION_COUNT)) {
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

/** The shard that owns a partition on a node with `shardCount` shards. */
export function shardOfPartition(partition: number, shardCount: number): number {
  return partition % shardCount;
}
