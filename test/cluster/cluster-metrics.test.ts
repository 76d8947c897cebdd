// Goal: a scrape asks the cluster member for its status once, however many
// gauges read it, and the next scrape asks again (never a stale answer).
// Method: the cluster metrics registered on a registry of their own for a
// member (as the operations kit's test does) that counts the questions and
// answers with a new view revision each time.

import test from 'ava';
import { Registry } from 'prom-client';
import { NO_OBSERVER } from '../../src/cluster/cluster-member.js';
import { registerClusterMetrics, type ClusterMetricsSource } from '../../src/cluster/cluster-metrics.js';
import { parseExposition } from '../helpers/prometheus.js';

test('a scrape reads the member\'s status once for every gauge, and the next scrape reads it again', async (t) => {
  let asked = 0;
  const member: ClusterMetricsSource = {
    status: () => {
      asked++;
      return { members: 3, suspected: 0, viewRevision: 100 + asked, coordinator: true, leaseValid: true, primary: 341, backup: 342, pending: 0, underReplicated: 0, inOneZone: 0, configRevision: 7 };
    },
    lostTotal: 0,
    counters: { transferredSessions: 0, degradedAcks: 0 },
    observer: NO_OBSERVER,
  };
  const registry = new Registry();
  registerClusterMetrics(registry, member);
  const revision = (text: string): number | undefined => parseExposition(text).samples.find((s) => s.name === 'sessiond_cluster_view_revision')?.value;
  const first = await registry.metrics();
  t.is(asked, 1, 'seven gauges, one question');
  t.is(revision(first), 101);
  const second = await registry.metrics();
  t.is(asked, 2);
  t.is(revision(second), 102, 'the second scrape sees the member as it is then');
});
