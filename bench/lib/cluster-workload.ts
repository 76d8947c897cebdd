// A steady background workload for the cluster-* scenarios that break nodes:
// a few workers refresh random sessions of a pool through random live nodes,
// one request at a time each, with a deadline, and keep each session's last
// acknowledged refresh token. With rotation on every refresh is a lifecycle
// change the primary replicates before it answers, so the final check
// ("every session refreshes with its last acknowledged token") covers the
// acknowledged rotations as well as the logins.
//
// The realm allows reuse of a refresh token far beyond any run
// (clusterRealm(true)): a request that got no answer may or may not have
// rotated, and either way the last acknowledged token stays valid, so the
// check never has to guess.

import { performance } from 'node:perf_hooks';
import type { Target } from '../http/target.js';
import { refreshOnce, type SessionPool } from './cluster-sessions.js';

export const REQUEST_DEADLINE_MS = 2_000;
/**
 * A failover probe's deadline: longer than the 2 s a node holds a request for
 * a partition whose primary is gone, so that the probe times the cluster's
 * answer rather than its own give-up.
 */
export const PROBE_DEADLINE_MS = 5_000;

export interface WorkloadTally {
  ok: number;
  /** Answered, but not 200. */
  refused: number;
  /** No answer within the deadline or a connection error: outcome unknown. */
  unknown: number;
  /** Status → count of the non-200 answers, with one sample body each. */
  statuses: Record<string, { count: number; sample: string }>;
}

/** One request of the workload: when it ended (performance.now()), how long it took, whether it was a 200. */
export interface Sample {
  end: number;
  ms: number;
  ok: boolean;
}

export class RefreshWorkload {
  readonly tally: WorkloadTally = { ok: 0, refused: 0, unknown: 0, statuses: {} };
  /** Every background request, when `recordSamples` is on. */
  readonly samples: Sample[] = [];
  recordSamples = false;
  /** Sessions the workers leave alone (a probe drives them). */
  readonly reserved = new Set<number>();
  readonly #pool: SessionPool;
  readonly #targets: () => readonly Target[];
  readonly #workers: Promise<void>[] = [];
  readonly #pauseMs: number;
  #running = false;

  /** `targets` is asked before every request: it lists the nodes a load balancer would send to now. */
  constructor(pool: SessionPool, targets: () => readonly Target[], pauseMs: number) {
    this.#pool = pool;
    this.#targets = targets;
    this.#pauseMs = pauseMs;
  }

  start(workers: number): void {
    this.#running = true;
    for (let w = 0; w < workers; w++) this.#workers.push(this.#loop());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers.splice(0));
  }

  /** One refresh of session i through `target`; keeps the new token when acknowledged, marks the session uncertain when unanswered. */
  async refresh(i: number, target: Target, tally: WorkloadTally = this.tally, deadlineMs = REQUEST_DEADLINE_MS): Promise<boolean> {
    const started = performance.now();
    const outcome = await refreshOnce(target, this.#pool.refresh[i]!, deadlineMs);
    if (this.recordSamples && tally === this.tally) {
      const end = performance.now();
      this.samples.push({ end, ms: end - started, ok: outcome.status === 200 });
    }
    if (outcome.status === 200) {
      this.#pool.refresh[i] = outcome.refresh!;
      this.#pool.uncertain.delete(i);
      tally.ok++;
      return true;
    }
    if (outcome.status === 0 || outcome.status >= 500) this.#pool.uncertain.add(i);
    if (outcome.status === 0) tally.unknown++;
    else tally.refused++;
    const key = outcome.status === 0 ? 'no answer' : String(outcome.status);
    const entry = (tally.statuses[key] ??= { count: 0, sample: `${target.origin}: ${outcome.body.slice(0, 200)}` });
    entry.count++;
    return false;
  }

  async #loop(): Promise<void> {
    const count = this.#pool.refresh.length;
    while (this.#running) {
      const i = Math.floor(Math.random() * count);
      const targets = this.#targets();
      if (!this.reserved.has(i) && targets.length > 0) {
        await this.refresh(i, targets[Math.floor(Math.random() * targets.length)]!);
      }
      await new Promise((r) => setTimeout(r, this.#pauseMs));
    }
  }
}

export function emptyTally(): WorkloadTally {
  return { ok: 0, refused: 0, unknown: 0, statuses: {} };
}

export function describeTally(t: WorkloadTally): string {
  const statuses = Object.entries(t.statuses)
    .map(([k, v]) => `${k} x${v.count} (e.g. ${v.sample})`)
    .join('; ');
  return `${t.ok} ok, ${t.refused} refused, ${t.unknown} unanswered${statuses === '' ? '' : `: ${statuses}`}`;
}

/** Milliseconds since `t0` on the monotonic clock. */
export function since(t0: number): number {
  return performance.now() - t0;
}
