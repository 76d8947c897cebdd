// A partition's digest: what two copies of it agree on once every record one
// was sent reached the other. The cluster's copy checks compare a primary's
// digests with its backups' (src/cluster/copy-checks.ts); a copy that differs
// is sent its partition again.
//
// The digest covers the partition's online sessions as the records that
// recreate them (SessionTable.partitionRecords): ids, users, realms, start
// and authentication times, notes, client sessions with their scopes, and
// refresh-token chains. It leaves out the idle clocks (a session's last
// refresh, a client session's timestamp): those travel coalesced, so a
// backup's may lag its primary's by up to the touch interval without being
// wrong. It does not depend on order (a backup's table lists a partition's
// sessions in another order than its primary's): the number of records and
// the XOR of each record's 64-bit hash. The partition's offline sessions
// count too, as their LMDB records without the idle clocks (the session's
// last refresh, each client's timestamp, and the deadline they give).
//
// Hashed field by field with a hash by hand (cyrb53's mixing, public
// domain) rather than packed and hashed by node:crypto: a partition of a
// thousand sessions has two thousand records, and packing each (or a crypto
// Hash object per record) cost ~3 µs a record where this costs a fraction.
// The fields are named here, kind by kind: a field added to a record must be
// added here too (test/actor/partition-digest.test.ts changes every field of
// every record kind and expects the digest to change). Two copies that differ
// yet share a digest would need a 64-bit collision.

import type { OfflineSessionRecord } from '../offline/offline-store.js';
import { MUTATION, type Mutation } from '../protocol/mutations.js';

/**
 * The digest of a partition given its online sessions' records
 * (SessionTable.partitionRecords) and its offline sessions
 * (OfflineStore.partitionRecords): `<records>:<16 hex digits>`.
 */
export function partitionDigest(records: readonly Mutation[], offline: readonly OfflineSessionRecord[] = []): string {
  let hi = 0;
  let lo = 0;
  const add = (): void => {
    hasher.finish();
    hi ^= hasher.h1;
    lo ^= hasher.h2;
  };
  for (const m of records) {
    hasher.reset();
    hashRecord(m);
    add();
  }
  for (const record of offline) {
    hasher.reset();
    hashOffline(record);
    add();
  }
  return `${records.length + offline.length}:${hex(hi)}${hex(lo)}`;
}

function hex(word: number): string {
  return (word >>> 0).toString(16).padStart(8, '0');
}

/** A record's fields without its idle clocks (a session's last refresh, a client session's timestamp, a refresh's time). */
function hashRecord(m: Mutation): void {
  const h = hasher;
  h.num(m.k);
  switch (m.k) {
    case MUTATION.sessionCreated:
      h.str(m.id).num(m.partition).str(m.realm).str(m.userId).str(m.username).str(m.ip).str(m.authMethod);
      h.num(m.rememberMe ? 1 : 0).num(m.started).num(m.authTime).notes(m.notes);
      return;
    case MUTATION.clientAttached:
      h.str(m.id).str(m.client).num(m.started).str(m.scope).num(m.ssoAuth ? 1 : 0).notes(m.notes).num(m.userRefresh);
      return;
    case MUTATION.clientRefreshed:
      h.str(m.id).str(m.client).str(m.chainKey ?? '\u0000');
      if (m.chain === null) h.num(-1);
      else h.str(m.chain.tokenId ?? '\u0000').num(m.chain.useCount).num(m.chain.lastRefresh);
      return;
    default:
      // partitionRecords makes none of the other kinds; hashed whole should one appear.
      h.str(JSON.stringify(m));
  }
}

/** An offline session's record without its idle clocks (its last refresh, its clients' timestamps, the deadline they give). */
function hashOffline(r: OfflineSessionRecord): void {
  const h = hasher;
  h.num(MUTATION.offlineWritten).num(r.v).str(r.id).num(r.partition).str(r.realm).str(r.userId).str(r.username).str(r.ip).str(r.authMethod);
  h.num(r.rememberMe ? 1 : 0).num(r.started).num(r.authTime).notes(r.notes).num(r.clients.length);
  for (const c of [...r.clients].sort((a, b) => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0))) {
    h.str(c.client).num(c.started).str(c.scope).notes(c.notes);
    const chains = c.chains === null ? [] : Object.keys(c.chains).sort();
    h.num(c.chains === null ? -1 : chains.length);
    for (const key of chains) {
      const chain = c.chains![key]!;
      h.str(key).str(chain.tokenId ?? '\u0000').num(chain.useCount).num(chain.lastRefresh);
    }
  }
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** cyrb53's two 32-bit lanes, fed field by field (a field's end is marked, so "ab","c" and "a","bc" differ). */
class Hasher {
  h1 = 0;
  h2 = 0;

  reset(): void {
    this.h1 = 0xdeadbeef;
    this.h2 = 0x41c6ce57;
  }

  word(w: number): this {
    this.h1 = Math.imul(this.h1 ^ w, 2654435761);
    this.h2 = Math.imul(this.h2 ^ w, 1597334677);
    return this;
  }

  str(s: string): this {
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
    return this.word(0x10000 + s.length);
  }

  num(n: number): this {
    f64[0] = n;
    return this.word(u32[0]!).word(u32[1]!);
  }

  /** Notes in key order (two tables may hold the same notes in another order). */
  notes(notes: Record<string, string> | null): this {
    if (notes === null) return this.num(-1);
    const keys = Object.keys(notes).sort();
    this.num(keys.length);
    for (const key of keys) this.str(key).str(notes[key]!);
    return this;
  }

  finish(): void {
    const { h1, h2 } = this;
    this.h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    this.h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(this.h1 ^ (this.h1 >>> 13), 3266489909);
  }
}

const hasher = new Hasher();
