// The cluster as the scenarios watch it over time, from the nodes' own
// management endpoints:
//
// - TopologySampler polls every node's metrics and keeps, per sample, the
//   partitions it counts as primary and whether it holds a valid lease. Two
//   primaries for one partition show up as more primaries, summed over the
//   nodes that hold a lease, than there are partitions. The nodes are not
//   sampled at the same instant, so a violation must persist over two rounds
//   in a row (one round straddling a handover is no evidence).
// - ReadinessRouter is a load balancer's health check: it polls
//   /health/ready and routes the workload to the ready nodes only.
// - watchReadiness records every time given nodes answer not-ready (nodes a
//   load balancer must keep while another one fails, leaves or returns).
// - waitConverged waits until the cluster is whole again after a fault.

import { PARTITION_COUNT } from '../../src/constants.js';
import { metricValue, type Cluster } from './harness.js';
import { clock, type Workload } from './workload.js';

export const METRIC_PARTITIONS_OWNED = 'sessiond_partitions_owned';
export const METRIC_LEASE_VALID = 'sessiond_cluster_lease_valid';
export const METRIC_VIEW_REVISION = 'sessiond_cluster_view_revision';
export const METRIC_MEMBERS = 'sessiond_cluster_members';
export const METRIC_UNDER_REPLICATED = 'sessiond_partitions_under_replicated';
export const METRIC_PARTITIONS_LOST = 'sessiond_partitions_lost_total';
export const METRIC_IS_COORDINATOR = 'sessiond_cluster_is_coordinator';
export const METRIC_VIEW_CHANGES = 'sessiond_cluster_view_changes_total';

/** How often the topology is sampled. */
const TOPOLOGY_SAMPLE_MS = 200;
/** How often the load balancer checks readiness. */
export const READINESS_POLL_MS = 250;

export interface TopologyRound {
  at: number;
  /** Per node that answered: primaries it counts and whether its lease is valid. */
  nodes: Map<string, { primary: number; leaseValid: boolean }>;
}

export class TopologySampler {
  readonly rounds: TopologyRound[] = [];
  readonly #cluster: Cluster;
  #running = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(cluster: Cluster) {
    this.#cluster = cluster;
  }

  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        const at = clock();
        const nodes = new Map<string, { primary: number; leaseValid: boolean }>();
        await Promise.all(
          this.#cluster.nodes.map(async (n) => {
            const samples = await n.metrics([METRIC_PARTITIONS_OWNED, METRIC_LEASE_VALID]);
            if (samples === undefined) return;
            const primary = samples.filter((s) => s.name === METRIC_PARTITIONS_OWNED && s.labels['role'] === 'primary').reduce((sum, s) => sum + s.value, 0);
            const lease = samples.find((s) => s.name === METRIC_LEASE_VALID);
            nodes.set(n.id, { primary, leaseValid: lease?.value === 1 });
          }),
        );
        this.rounds.push({ at, nodes });
        await new Promise((resolve) => setTimeout(resolve, TOPOLOGY_SAMPLE_MS));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  /** Rounds (two in a row) where the nodes holding a lease claimed more primaries than there are partitions. */
  doublePrimaries(): string[] {
    const over = this.rounds.map((r) => {
      let sum = 0;
      for (const v of r.nodes.values()) if (v.leaseValid) sum += v.primary;
      return sum > PARTITION_COUNT ? sum : 0;
    });
    const out: string[] = [];
    for (let i = 1; i < over.length; i++) {
      if (over[i]! > 0 && over[i - 1]! > 0) {
        const detail = [...this.rounds[i]!.nodes].map(([id, v]) => `${id}: ${v.primary} primaries, lease ${v.leaseValid ? 'valid' : 'invalid'}`).join(', ');
        out.push(`at ${this.rounds[i]!.at} ms: ${over[i]} primaries for ${PARTITION_COUNT} partitions (${detail})`);
      }
    }
    return out;
  }
}

export interface ReadinessChange {
  at: number;
  node: string;
  ready: boolean;
}

/** Routes the workload to the nodes whose /health/ready answers 200, like a load balancer. */
export class ReadinessRouter {
  readonly changes: ReadinessChange[] = [];
  readonly #cluster: Cluster;
  readonly #workload: Workload;
  readonly #ready = new Map<string, boolean>();
  #running = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(cluster: Cluster, workload: Workload) {
    this.#cluster = cluster;
    this.#workload = workload;
  }

  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        const states = await Promise.all(this.#cluster.nodes.map(async (n) => [n.id, await n.ready()] as const));
        const at = clock();
        for (const [id, ready] of states) {
          if (this.#ready.get(id) !== ready) this.changes.push({ at, node: id, ready });
          this.#ready.set(id, ready);
        }
        const ready = states.filter(([, r]) => r).map(([id]) => id);
        if (ready.length > 0) this.#workload.route(ready);
        await new Promise((resolve) => setTimeout(resolve, READINESS_POLL_MS));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  /** Whether the router saw `node` turn not-ready within [from, to]. */
  sawNotReady(node: string, from: number, to: number): boolean {
    return this.changes.some((c) => c.node === node && !c.ready && c.at >= from && c.at <= to);
  }
}

/**
 * What keeps `id` from seeing the cluster whole ('' when nothing): it must be
 * ready, count `members` alive members, and hold no partition
 * under-replicated or pending.
 */
async function notWholeOn(cluster: Cluster, id: string, members: number): Promise<string> {
  const n = cluster.node(id);
  if (!(await n.ready())) return `${id} not ready`;
  const samples = await n.metrics([METRIC_MEMBERS, METRIC_UNDER_REPLICATED, METRIC_PARTITIONS_OWNED]);
  if (samples === undefined) return `${id}: no metrics`;
  const value = (name: string, labels: Record<string, string> = {}): number | undefined => metricValue(samples, name, labels);
  const alive = value(METRIC_MEMBERS, { state: 'alive' });
  const under = value(METRIC_UNDER_REPLICATED);
  const pending = value(METRIC_PARTITIONS_OWNED, { role: 'pending' }) ?? 0;
  if (alive !== members) return `${id} sees ${alive ?? 'no'} ${METRIC_MEMBERS}{state="alive"} (want ${members})`;
  if (under === undefined) return `${id} exports no ${METRIC_UNDER_REPLICATED}`;
  if (under !== 0) return `${id}: ${under} partitions under-replicated`;
  if (pending !== 0) return `${id}: ${pending} partitions pending`;
  return '';
}

/** Polls `ids`' readiness until stopped; stop() resolves with each not-ready answer, as "node at +ms" since `since`. */
export function watchReadiness(cluster: Cluster, ids: readonly string[], since: number): { stop(): Promise<string[]> } {
  const notReady: string[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      for (const id of ids) if (!(await cluster.node(id).ready())) notReady.push(`${id} at +${Math.round(clock() - since)} ms`);
      await new Promise((resolve) => setTimeout(resolve, READINESS_POLL_MS));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return notReady;
    },
  };
}

/**
 * Waits until every node in `ids` is ready and the cluster of those nodes is
 * whole: each sees them all alive, no partition under-replicated or pending.
 * Returns the time it took; throws with the last state after `giveUpMs`.
 */
export async function waitConverged(cluster: Cluster, ids: readonly string[], giveUpMs: number): Promise<number> {
  let last = '';
  const started = clock();
  try {
    await cluster.until('cluster converged', async () => {
      const states = await Promise.all(ids.map((id) => notWholeOn(cluster, id, ids.length)));
      last = states.filter((s) => s !== '').join('; ');
      return last === '';
    }, giveUpMs, 100);
  } catch (err) {
    throw new Error(`${String(err)}; last state: ${last}`);
  }
  return clock() - started;
}

/** The node that reports itself as coordinator, or `fallback`. */
export async function coordinatorOr(cluster: Cluster, fallback: string): Promise<string> {
  const flags = await cluster.metric(METRIC_IS_COORDINATOR);
  return [...flags].find(([, v]) => v === 1)?.[0] ?? fallback;
}
