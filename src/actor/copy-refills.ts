// CopyRefills: passive copies being filled again by a state transfer (a
// backup resynchronised after its stream broke, or sent a partition again).
// Owner: the shard actor.
//
// A transfer brings the partition's sessions as its primary exported them,
// then the records after the export. A creation of a session the copy
// already holds changes nothing, so without more a resynchronised copy would
// keep what it missed: a session the primary ended meanwhile (a logout whose
// record was lost with the broken stream) would stay, and come back if the
// copy were promoted, and a session changed meanwhile would keep its old
// client sessions and refresh chains. So when a transfer starts (the sender
// marks its first frame `fresh`), the ids the copy holds are noted; a
// creation the transfer brings for a noted id first drops the copy's version
// (the export's records rebuild it as the primary has it); when the transfer
// is done the noted ids it did not bring are removed. Until then the copy
// keeps them: a copy promoted mid-transfer (its primary died) holds a
// superset, never less than it had. The partition's offline sessions are
// noted the same way (a transfer brings each one whole, which replaces the
// copy's), and those it did not bring are removed from the offline store by
// the shard.

import { END_REASON } from '../protocol/actor-messages.js';
import { MUTATION, type ReplicatedRecord } from '../protocol/mutations.js';
import type { SessionTable } from './session-table.js';

/** A refilled copy's candidates: the online and offline session ids the transfer has not brought (yet). */
interface Stale {
  online: Set<string>;
  offline: Set<string>;
}

export class CopyRefills {
  readonly #table: SessionTable;
  readonly #stale = new Map<number, Stale>();

  constructor(table: SessionTable) {
    this.#table = table;
  }

  /** A transfer of `partition` starts: every session the copy holds (`offline`: its offline session ids) is a candidate until the transfer brings it. */
  begin(partition: number, offline: readonly string[]): void {
    const table = this.#table;
    this.#stale.set(partition, { online: new Set(table.partitionSlots(partition).map((slot) => table.idOf(slot))), offline: new Set(offline) });
  }

  /** Before a record is applied to `partition`'s copy: a creation of a noted session replaces the copy's version; an offline session brought is no candidate. */
  before(partition: number, m: ReplicatedRecord): void {
    const stale = this.#stale.get(partition);
    if (stale === undefined) return;
    if (m.k === MUTATION.offlineWritten) stale.offline.delete(m.id);
    if (m.k !== MUTATION.sessionCreated || !stale.online.delete(m.id)) return;
    this.#table.apply({ k: MUTATION.sessionRemoved, id: m.id, reason: END_REASON.revoked });
  }

  /**
   * The transfer is done: the online candidates it did not bring are removed
   * from the copy (`removed`: how many); the offline ones are returned, for
   * the shard to remove from its offline store.
   */
  end(partition: number): { removed: number; offline: string[] } {
    const stale = this.#stale.get(partition);
    if (stale === undefined) return { removed: 0, offline: [] };
    this.#stale.delete(partition);
    let removed = 0;
    for (const id of stale.online) if (this.#table.apply({ k: MUTATION.sessionRemoved, id, reason: END_REASON.revoked })) removed++;
    return { removed, offline: [...stale.offline] };
  }

  /** The partition is no longer a passive copy (promoted, or no longer held): nothing to sweep. */
  forget(partition: number): void {
    this.#stale.delete(partition);
  }
}
