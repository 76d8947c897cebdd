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
// superset, never less than it had.

import { END_REASON } from '../protocol/actor-messages.js';
import { MUTATION, type Mutation } from '../protocol/mutations.js';
import type { SessionTable } from './session-table.js';

export class CopyRefills {
  readonly #table: SessionTable;
  /** Per partition being refilled: the ids it held that the transfer has not brought (yet). */
  readonly #stale = new Map<number, Set<string>>();

  constructor(table: SessionTable) {
    this.#table = table;
  }

  /** A transfer of `partition` starts: every session the copy holds is a candidate until the transfer brings it. */
  begin(partition: number): void {
    const table = this.#table;
    this.#stale.set(partition, new Set(table.partitionSlots(partition).map((slot) => table.idOf(slot))));
  }

  /** Before a record is applied to `partition`'s copy: a creation of a noted session replaces the copy's version. */
  before(partition: number, m: Mutation): void {
    if (m.k !== MUTATION.sessionCreated) return;
    const stale = this.#stale.get(partition);
    if (stale === undefined || !stale.delete(m.id)) return;
    this.#table.apply({ k: MUTATION.sessionRemoved, id: m.id, reason: END_REASON.revoked });
  }

  /** The transfer is done: the candidates it did not bring are removed from the copy. Returns how many. */
  end(partition: number): number {
    const stale = this.#stale.get(partition);
    if (stale === undefined) return 0;
    this.#stale.delete(partition);
    let removed = 0;
    for (const id of stale) if (this.#table.apply({ k: MUTATION.sessionRemoved, id, reason: END_REASON.revoked })) removed++;
    return removed;
  }

  /** The partition is no longer a passive copy (promoted, or no longer held): nothing to sweep. */
  forget(partition: number): void {
    this.#stale.delete(partition);
  }
}
