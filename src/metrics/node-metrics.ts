// Metrics read from the node itself at each scrape: whether it is ready
// (what /health/ready answers, as a number alerts can use) and the
// password-hashing pool's queue: how many hashes wait or run, and how many
// were refused because the queue was full (each refusal is a login answered 503).

import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './metrics.js';

export interface NodeGauges {
  /** What /health/ready reports. */
  ready(): boolean;
  hasher: { readonly queued: number; readonly rejected: number };
}

export function registerNodeMetrics(registry: Registry, node: NodeGauges): void {
  new Gauge({
    name: `${METRIC_PREFIX}ready`,
    help: '1 when the node is ready to serve (as /health/ready answers 200), else 0.',
    registers: [registry],
    collect() {
      this.set(node.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}password_hash_queue_depth`,
    help: 'Password hashes waiting or running in the hashing pool.',
    registers: [registry],
    collect() {
      this.set(node.hasher.queued);
    },
  });
  let counted = 0;
  new Counter({
    name: `${METRIC_PREFIX}password_hash_rejections_total`,
    help: 'Password checks refused with 503 because the hashing queue was full.',
    registers: [registry],
    collect() {
      const total = node.hasher.rejected;
      if (total > counted) this.inc(total - counted);
      counted = total;
    },
  });
}
