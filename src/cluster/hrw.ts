// Rendezvous (highest-random-weight) hashing: who owns a partition in a
// cluster. For partition p every member gets a score h(p, node); members
// ranked by descending score, the first `owners` own p and the first of them
// is its primary (Thaler & Ravishankar, 1996).
//
// Why HRW rather than a ring: with 1024 partitions it balances primaries
// within a few per cent of even (measured in the tests: max/avg ≤ 1.15 for 2
// to 8 members), it needs no virtual nodes or stored tokens, and membership
// changes move the least possible: a member that joins takes over only the
// partitions it now ranks first or second on, and a member that leaves hands
// each of its partitions to the survivors already next in line (its backup
// becomes primary), because removing one score never reorders the others.
//
// Zones (`--zone`, a rack or an availability zone): a partition's owners
// are picked down the same ranking, skipping a member whose zone already
// holds one of them until every zone has one, then taking the skipped in
// rank order; so its copies span min(owners, zones) zones and one zone's
// loss never takes every copy while another zone is there. The primary is
// always the first in the ranking, so primaries balance as without zones. A
// member without a zone counts as a zone of its own: with no zones at all
// the owners are exactly the ranking's first (Infinispan's server hinting
// does the same with sites, racks and machines).
//
// The score must be identical on every node and every version, forever: it
// decides where sessions live. It is SplitMix64's finalizer over the
// partition number mixed with a 64-bit FNV-1a hash of the node id, in
// BigInt (a view change computes 1024 × members scores, well under a
// millisecond). Test vectors in test/cluster/hrw.test.ts pin it.

import { PARTITION_COUNT } from '../constants.js';

const MASK_64 = (1n << 64n) - 1n;
const FNV_OFFSET_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 0x100000001b3n;
const GOLDEN_64 = 0x9e3779b97f4a7c15n;

/** 64-bit FNV-1a of the id's UTF-8 bytes. */
function fnv1a64(text: string): bigint {
  let hash = FNV_OFFSET_64;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * FNV_PRIME_64) & MASK_64;
  }
  return hash;
}

/** SplitMix64's finalizer: every input bit moves every output bit. */
function mix64(x: bigint): bigint {
  let z = x & MASK_64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return z ^ (z >> 31n);
}

/** The score of `nodeId` for `partition` (unsigned 64-bit). Version-stable: never change it. */
export function hrwScore(partition: number, nodeId: string): bigint {
  return mix64(fnv1a64(nodeId) ^ ((BigInt(partition) * GOLDEN_64) & MASK_64));
}

/** Each member's zone (rack, availability zone); a member absent here is a zone of its own. */
export type Zones = Readonly<Record<string, string>>;

const NO_ZONES: Zones = {};

/** A member's zone; one without a zone is a zone of its own (a name no `--zone` can spell). */
export function zoneOf(zones: Zones, node: string): string {
  return zones[node] ?? `\0${node}`;
}

type Scored = { node: string; score: bigint };

const byScore = (a: Scored, b: Scored): number => (a.score > b.score ? -1 : a.score < b.score ? 1 : a.node < b.node ? -1 : 1);

/** The first `owners` of a ranking, one per zone as long as unused zones remain (see "Zones" above). */
function pick(ranked: readonly Scored[], owners: number, zones: Zones): string[] {
  const want = Math.max(0, owners);
  if (Object.keys(zones).length === 0) return ranked.slice(0, want).map((x) => x.node);
  const chosen: string[] = [];
  const skipped: string[] = [];
  const used = new Set<string>();
  for (const { node } of ranked) {
    if (chosen.length === want) break;
    const zone = zoneOf(zones, node);
    if (used.has(zone)) skipped.push(node);
    else {
      used.add(zone);
      chosen.push(node);
    }
  }
  return [...chosen, ...skipped.slice(0, want - chosen.length)];
}

/** The owners of a partition among `members`, best first (the first is the primary); ties by node id. */
export function ownersOf(partition: number, members: readonly string[], owners: number, zones: Zones = NO_ZONES): string[] {
  return pick(members.map((node) => ({ node, score: hrwScore(partition, node) })).sort(byScore), owners, zones);
}

/** Every partition's owners (index = partition), for a view's members. */
export function partitionTable(members: readonly string[], owners: number, zones: Zones = NO_ZONES): string[][] {
  const nodes = [...new Set(members)];
  const hashes = nodes.map((node) => fnv1a64(node));
  const table: string[][] = [];
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const spread = (BigInt(p) * GOLDEN_64) & MASK_64;
    table.push(pick(nodes.map((node, i) => ({ node, score: mix64(hashes[i]! ^ spread) })).sort(byScore), owners, zones));
  }
  return table;
}

/** The last member set's owners (the coordinator asks for the same view's many times: every table it writes). */
let memo: { key: string; owners: number; table: readonly (readonly string[])[] } | null = null;

/**
 * Every partition's owners for `members` (partitionTable's answer, for
 * members without duplicates), computed once per member set and kept: a
 * coordinator reading one partition's owners at a time through ownersOf
 * spent more on hashing than on the table it wrote. Do not modify the lists.
 */
export function ownersByPartition(members: readonly string[], owners: number, zones: Zones = NO_ZONES): readonly (readonly string[])[] {
  const key = members.map((node) => `${node}\t${zones[node] ?? ''}`).join('\n');
  if (memo === null || memo.key !== key || memo.owners !== owners) memo = { key, owners, table: partitionTable(members, owners, zones) };
  return memo.table;
}
