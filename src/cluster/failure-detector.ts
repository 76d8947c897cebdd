// FailureDetector: which peers this node cannot hear. Every 250 ms it looks
// at each peer's Link stream: silent for 1.5 s (a hung process, a cut
// network), or down and not redialled for 250 ms (a killed process: the
// kernel refuses the redial at once; the member also asks for a round
// 250 ms after a link broke, so a kill is judged then, not up to a round
// later), or replication acknowledgements that
// stopped for the replication timeout (the accusation ends when they resume,
// or after the suspicion window), makes this node accuse the peer in etcd. The coordinator
// evicts a peer that a majority of the members accuse, or that one member
// nobody accuses has accused for a second (coordinator.ts); a node that lost
// its own network is accused by the rest, so its word counts for nothing.
//
// Lifeguard rules: a node whose own event loop is unhealthy accuses no one
// (the silence may be its own): a stall of more than 500 ms between rounds,
// or event-loop delays above 200 ms (a starved CPU), silence it for the
// suspicion window. And a node that hears none of two or more peers accuses
// none of them for silence (the likelier story is its own network or load;
// a refused redial is still evidence). A peer that restarted (a new lease)
// is judged afresh, and a peer never heard since it joined is not accused
// for silence while its Link may still be dialling (JOIN_GRACE_MS): a node
// joins once it can answer, so one still silent after that is cut off from
// us (it may well reach etcd, and its lease would never lapse).

import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';

/** Heartbeat period on the Link stream. */
export const HEARTBEAT_MS = 250;
/** Silence after which a peer is suspected. */
export const SUSPICION_MS = 1_500;
/** A Link stream down this long (redial refused) makes the peer suspected. */
export const LINK_DOWN_MS = 250;
/** A tick later than this means our own event loop stalled: accuse no one. */
export const SELF_STALL_MS = 500;
/** An event-loop delay above this in a round means this node is starved: accuse no one. */
export const SELF_DELAY_MS = 200;
/** A member never heard since it joined is accused for silence after this long. */
export const JOIN_GRACE_MS = 5_000;

export interface PeerHealth {
  node: string;
  /** The peer's lease: a new one is a peer that joined again (restarted, or its lease lapsed), judged afresh. */
  lease: string;
  /** Whether it ever answered: a member never heard is still starting, and silence says nothing yet. */
  heard: boolean;
  lastHeardMs: number;
  linkDown: boolean;
  /** When the link went down (same clock), if known: counted from there rather than from the round that first saw it down. */
  linkDownSinceMs?: number | null;
}

/** Why a peer is suspected (logged with the accusation, for the operator). */
export type SuspicionReason = 'silent' | 'link down' | 'replication timeout';

export class FailureDetector {
  readonly #accuse: (node: string, suspected: boolean, reason?: SuspicionReason) => void;
  readonly #suspected = new Set<string>();
  readonly #downSince = new Map<string, number>();
  readonly #timedOut = new Map<string, number>();
  readonly #leases = new Map<string, string>();
  /** When each peer's current lease was first seen. */
  readonly #seenSince = new Map<string, number>();
  readonly #now: () => number;
  #lastTickMs: number;
  #stalledUntilMs = 0;
  readonly #delay: IntervalHistogram;

  /** `now` is the monotonic clock in ms (tests drive their own). */
  constructor(accuse: (node: string, suspected: boolean, reason?: SuspicionReason) => void, now: () => number = () => performance.now()) {
    this.#accuse = accuse;
    this.#now = now;
    this.#lastTickMs = now();
    this.#delay = monitorEventLoopDelay({ resolution: 20 });
    this.#delay.enable();
  }

  close(): void {
    this.#delay.disable();
  }

  /** A replication acknowledgement from `node` did not come in time. */
  replicationTimedOut(node: string): void {
    this.#timedOut.set(node, this.#now());
  }

  /** `node` acknowledged again after a timeout: it is slow, not gone, and that accusation ends at the next round. */
  replicationRecovered(node: string): void {
    this.#timedOut.delete(node);
  }

  /** One detector round over the current peers. */
  tick(peers: readonly PeerHealth[]): void {
    const now = this.#now();
    const starved = this.#delay.max / 1e6 > SELF_DELAY_MS;
    this.#delay.reset();
    if (now - this.#lastTickMs > HEARTBEAT_MS + SELF_STALL_MS || starved) this.#stalledUntilMs = now + SUSPICION_MS;
    this.#lastTickMs = now;
    const present = new Map(peers.map((p) => [p.node, p.lease]));
    // A member that left (or came back under a new lease) starts with a clean record.
    for (const [node, lease] of [...this.#leases]) {
      if (present.get(node) !== lease) this.#forget(node);
    }
    const hearsSomeone = peers.length < 2 || peers.some((p) => now - p.lastHeardMs <= SUSPICION_MS);
    for (const peer of peers) {
      this.#leases.set(peer.node, peer.lease);
      if (!this.#seenSince.has(peer.node)) this.#seenSince.set(peer.node, now);
      if (peer.linkDown) {
        if (!this.#downSince.has(peer.node)) this.#downSince.set(peer.node, Math.min(peer.linkDownSinceMs ?? now, now));
      } else this.#downSince.delete(peer.node);
      const silent = (peer.heard ? now - peer.lastHeardMs > SUSPICION_MS : now - this.#seenSince.get(peer.node)! >= JOIN_GRACE_MS) && hearsSomeone;
      const down = now - (this.#downSince.get(peer.node) ?? now) >= LINK_DOWN_MS;
      const timedOut = now - (this.#timedOut.get(peer.node) ?? -Infinity) < SUSPICION_MS;
      const reason: SuspicionReason | null = down ? 'link down' : timedOut ? 'replication timeout' : silent ? 'silent' : null;
      const suspected = reason !== null && now >= this.#stalledUntilMs;
      if (suspected === this.#suspected.has(peer.node)) continue;
      if (suspected) {
        this.#suspected.add(peer.node);
        this.#accuse(peer.node, true, reason);
      } else {
        this.#suspected.delete(peer.node);
        this.#accuse(peer.node, false);
      }
    }
  }

  #forget(node: string): void {
    this.#leases.delete(node);
    this.#seenSince.delete(node);
    this.#downSince.delete(node);
    this.#timedOut.delete(node);
    if (this.#suspected.delete(node)) this.#accuse(node, false);
  }

  get suspected(): ReadonlySet<string> {
    return this.#suspected;
  }
}
