// CopyChecks: anti-entropy between a partition's primary and its backups.
// Owner: the cluster member.
//
// A backup holds every acknowledged change of its partitions (a reply waits
// for its acknowledgement), so copies differ only where something went
// wrong: a change that was never acknowledged (its primary or a backup died
// mid-way) kept by some owners' disks and not by others' through a
// whole-cluster restart, a copy a crash left empty, sessions that expired
// while every node was down (a restarted primary drops them silently), or a
// bug. The checks find such copies and send them their partition again.
//
// Every ROUND_MS a primary takes the next partitions it is primary of (a
// cursor over the partition numbers, so each is checked once per `periodMs`),
// asks its shards for their digests (src/actor/partition-digest.ts: the
// sessions without their idle clocks) and sends them to each backup on its
// replication stream, behind every record sent before (Replicator.check).
// The backup compares its copies' digests once it applied those records and
// answers the partitions that differ. A copy that differs is checked again in
// the next round before anything is done: a record still on its way (an
// expiry shipped after the turn that took the digest) makes a copy differ for
// a moment. One that differs twice in a row is sent its partition again,
// whole (Replicator.refill), counted and logged. No round runs while the node
// is not serving or while a transfer from it is under way (a rebalance fills
// copies anyway, and its transfers come first).
//
// Copies may differ after this node restarted as the member the table names
// (every node stopped at once: a change in flight may be on one owner's disk
// only) or regained its lease as that member: then `sweepSoon` has the next
// rounds check every primary within SWEEP_MS, not within the period.

import { PARTITION_COUNT } from '../constants.js';
import type { PartitionTable } from './partition-table.js';

/** How often a round runs. */
export const ROUND_MS = 1000;
/** After sweepSoon, every primary is checked within this (unless the period is shorter). */
export const SWEEP_MS = 10_000;
/** #sweepLeft from sweepSoon to the next round, which counts the primaries to sweep. */
const SWEEP_ALL = -1;

export interface CopyCheckOptions {
  self: string;
  /** Each partition is checked once per period; 0 turns checks off. */
  periodMs: number;
  /** The table this node obeys (null before the first). */
  table(): PartitionTable | null;
  /** Whether a round may run now: the node serves and sends no transfer. */
  ready(): boolean;
  /** This node's digests of these partitions (null: not held). */
  digests(partitions: number[]): Promise<(string | null)[]>;
  /** Sends a check to a backup; resolves with the partitions whose copy there differs. */
  check(node: string, partitions: number[], digests: string[]): Promise<number[]>;
  /** Sends `node` the partition again; false when that is not for this node to do now. */
  refill(node: string, partition: number): boolean;
  /** Copies compared by a round. */
  onChecked(copies: number): void;
  /** A copy differed twice in a row and is being sent its partition again. */
  onRefill(node: string, partition: number): void;
}

export class CopyChecks {
  readonly #options: CopyCheckOptions;
  #timer: NodeJS.Timeout | null = null;
  /** The next partition number a round looks at. */
  #cursor = 0;
  /** `${node}:${partition}` copies that differed in their last check. */
  readonly #differed = new Set<string>();
  /** Primaries still to check at the sweep's pace: 0 (no sweep), all of them (SWEEP_ALL, counted at the next round), or the rest. */
  #sweepLeft = 0;
  #running = false;

  constructor(options: CopyCheckOptions) {
    this.#options = options;
  }

  /** Runs a round every ROUND_MS from now on (unless the period is 0). */
  start(): void {
    if (this.#options.periodMs <= 0 || this.#timer !== null) return;
    this.#timer = setInterval(() => void this.round(), ROUND_MS);
    this.#timer.unref();
  }

  /** One round (the timer's; tests run them by hand). Resolves once every backup answered or failed. */
  async round(): Promise<void> {
    const table = this.#options.table();
    if (this.#running || table === null || !this.#options.ready()) return;
    this.#running = true;
    try {
      const partitions = this.#next(table);
      if (partitions.length === 0) return;
      let digests: (string | null)[];
      try {
        digests = await this.#options.digests(partitions);
      } catch {
        return; // a shard could not answer (restarting, stopping): the partitions come round again next period
      }
      const byNode = new Map<string, { p: number[]; d: string[] }>();
      partitions.forEach((p, i) => {
        const digest = digests[i];
        if (digest === null || digest === undefined) return;
        for (const node of table.owners[p]!.slice(1)) {
          let sent = byNode.get(node);
          if (sent === undefined) byNode.set(node, (sent = { p: [], d: [] }));
          sent.p.push(p);
          sent.d.push(digest);
        }
      });
      await Promise.all([...byNode].map(([node, sent]) => this.#checkOn(node, sent.p, sent.d)));
    } finally {
      this.#running = false;
    }
  }

  /** Checks every primary within SWEEP_MS from the next round on (copies may differ: see the header). */
  sweepSoon(): void {
    this.#sweepLeft = SWEEP_ALL;
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** The copies that differed last time, then the next share of this node's primaries with backups. */
  #next(table: PartitionTable): number[] {
    const self = this.#options.self;
    const mine = (p: number): boolean => table.owners[p]![0] === self && table.owners[p]!.length > 1;
    const out = new Set<number>();
    for (const key of this.#differed) {
      const at = key.lastIndexOf(':');
      const p = Number(key.slice(at + 1));
      if (mine(p) && table.owners[p]!.includes(key.slice(0, at))) out.add(p);
      else this.#differed.delete(key); // no longer this node's to check
    }
    let primaries = 0;
    for (let p = 0; p < PARTITION_COUNT; p++) if (mine(p)) primaries++;
    if (this.#sweepLeft === SWEEP_ALL) this.#sweepLeft = primaries;
    const pace = this.#sweepLeft > 0 ? Math.min(this.#options.periodMs, SWEEP_MS) : this.#options.periodMs;
    const share = pace > 0 ? Math.ceil((primaries * ROUND_MS) / pace) : primaries;
    let taken = 0;
    for (let looked = 0; looked < PARTITION_COUNT && taken < share; looked++) {
      const p = this.#cursor;
      this.#cursor = (this.#cursor + 1) % PARTITION_COUNT;
      if (!mine(p) || out.has(p)) continue;
      out.add(p);
      taken++;
    }
    this.#sweepLeft = Math.max(0, this.#sweepLeft - taken);
    return [...out];
  }

  async #checkOn(node: string, partitions: number[], digests: string[]): Promise<void> {
    let differ: Set<number>;
    try {
      differ = new Set(await this.#options.check(node, partitions, digests));
    } catch {
      return; // the stream failed: the backup is resent everything anyway
    }
    this.#options.onChecked(partitions.length);
    for (const p of partitions) {
      const key = `${node}:${p}`;
      if (!differ.has(p)) this.#differed.delete(key);
      else if (!this.#differed.has(key)) this.#differed.add(key);
      else if (this.#options.refill(node, p)) {
        this.#differed.delete(key);
        this.#options.onRefill(node, p);
      }
    }
  }
}
