// cluster-link-flapping: one inter-node link goes up and down, 2 s each, for
// 30 s (quick: 16 s). Down: the fault proxies forward nothing n1 and n2 send
// each other, both ways, and keep the sockets open (a partition of that link
// alone: both still reach n3 and etcd); up: everything flows again.
//
//   view_changes_per_outage  members that joined or left the view, as the node
//                            outside the link (n3) counted them from the first
//                            outage until the cluster was whole after the heal,
//                            per outage (<= 1: no churn storm; an eviction and
//                            the evicted node's return count as two)
//   view_changes             the same count, in all
//   outages                  down phases
//   evictions                members that left the view (the same counter's `leave`)
//   suspicions               `peer suspected` warnings logged by any node meanwhile
//   checker_violations       the history checker after heal and settle (= 0)
//
// The mixed workload runs through the nodes that report ready, as a load
// balancer's health check would route it.

import { clock } from '../../test/cluster/workload.js';
import { finalRows, sleep, WARMUP_MS, withFaultCluster, type FaultRun } from '../lib/fault-cluster.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';

const NAME = 'cluster-link-flapping';
const LINK = ['n1', 'n2'] as const;
/** The node whose view changes are counted: on no flapping link. */
const OBSERVER = 'n3';
const UP_MS = 2_000;
const DOWN_MS = 2_000;
const FLAPPING_MS = 30_000;
const FLAPPING_QUICK_MS = 16_000;

export const clusterLinkFlapping: Scenario = {
  name: NAME,
  description: 'one inter-node link up 2 s / down 2 s for 30 s: view changes per outage (no churn storm), history checker clean',
  async run({ quick, log }) {
    return withFaultCluster({ name: NAME, log }, async (run) => {
      run.startLoad(true);
      await sleep(WARMUP_MS);
      const since = Date.now();
      const before = await run.viewChanges(OBSERVER);
      const outages = await flap(run, quick ? FLAPPING_QUICK_MS : FLAPPING_MS);
      const check = await run.finish();
      const after = await run.viewChanges(OBSERVER);
      const [joins, leaves] = [after.join - before.join, after.leave - before.leave];
      const suspicions = run.suspicions(since);
      log(`${outages} outages of ${LINK.join('↔')}: ${OBSERVER} counted ${joins} joins and ${leaves} leaves; ${suspicions.length} suspicions (${summarize(suspicions)})`);
      return [
        row(NAME, 'view_changes_per_outage', (joins + leaves) / outages, 'changes'),
        row(NAME, 'view_changes', joins + leaves, 'changes'),
        row(NAME, 'outages', outages, 'outages'),
        row(NAME, 'evictions', leaves, 'members'),
        row(NAME, 'suspicions', suspicions.length, 'warnings'),
        ...finalRows(NAME, check),
      ] satisfies Row[];
    });
  },
};

/** Up UP_MS then down DOWN_MS, as many times as fit in `ms`; returns how many times the link went down. */
async function flap(run: FaultRun, ms: number): Promise<number> {
  const [a, b] = LINK;
  const started = clock();
  const outages = Math.floor(ms / (UP_MS + DOWN_MS));
  for (let i = 0; i < outages; i++) {
    await sleep(started + i * (UP_MS + DOWN_MS) + UP_MS - clock());
    await run.cluster.partition([a], [b]);
    await sleep(started + (i + 1) * (UP_MS + DOWN_MS) - clock());
    await run.cluster.uncut(a, b);
    await run.cluster.uncut(b, a);
  }
  run.log(`${a}↔${b} flapped ${outages} times in ${Math.round(clock() - started)} ms`);
  return outages;
}

/** Who suspected whom, and how often. */
function summarize(suspicions: ReadonlyArray<Record<string, unknown>>): string {
  const counts = new Map<string, number>();
  for (const s of suspicions) {
    const key = `${String(s['node'])}→${String(s['peer'])}${s['reason'] !== undefined ? ` (${String(s['reason'])})` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}
