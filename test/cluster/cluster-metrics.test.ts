// Goal: a scrape asks the cluster member for its status once, however many
// gauges read it, and the next scrape asks again (never a stale answer); with
// mutual TLS, the certificate metrics follow the member.
// Method: the cluster metrics registered on a registry of their own for a
// member (as the operations kit's test does) that counts the questions and
// answers with a new view revision each time.

import test from 'ava';
import { Registry } from 'prom-client';
import { NO_OBSERVER } from '../../src/cluster/cluster-member.js';
import { registerClusterMetrics, type ClusterMetricsSource } from '../../src/cluster/cluster-metrics.js';
import { parseExposition, sampleValue } from '../helpers/prometheus.js';

test('a scrape reads the member\'s status once for every gauge, and the next scrape reads it again', async (t) => {
  let asked = 0;
  const member: ClusterMetricsSource = {
    status: () => {
      asked++;
      return { members: 3, suspected: 0, viewRevision: 100 + asked, coordinator: true, leaseValid: true, primary: 341, backup: 342, pending: 0, underReplicated: 0, inOneZone: 0, configRevision: 7 };
    },
    lostTotal: 0,
    counters: { transferredSessions: 0, degradedAcks: 0, certificateReloads: { peers: { reloaded: 0, refused: 0 }, etcd: { reloaded: 0, refused: 0 } }, copiesChecked: 0, copiesRefilled: 0 },
    observer: NO_OBSERVER,
    certificates: { peers: null, etcd: null },
  };
  const registry = new Registry();
  registerClusterMetrics(registry, member);
  const revision = (text: string): number | undefined => parseExposition(text).samples.find((s) => s.name === 'sessiond_cluster_view_revision')?.value;
  const first = await registry.metrics();
  t.is(asked, 1, 'seven gauges, one question');
  t.false(first.includes('sessiond_cluster_tls_'), 'plaintext links: no certificate metrics');
  t.is(revision(first), 101);
  const second = await registry.metrics();
  t.is(asked, 2);
  t.is(revision(second), 102, 'the second scrape sees the member as it is then');
});

test('with TLS: each link\'s certificate expiry, and its reloads by outcome as the member counts them; a link without a client certificate has no expiry', async (t) => {
  const counters = { transferredSessions: 0, degradedAcks: 0, certificateReloads: { peers: { reloaded: 0, refused: 0 }, etcd: { reloaded: 0, refused: 0 } }, copiesChecked: 0, copiesRefilled: 0 };
  const certificates = { peers: { expiresAt: 1_800_000_000 as number | null }, etcd: { expiresAt: null as number | null } };
  const registry = new Registry();
  registerClusterMetrics(registry, {
    status: () => ({ members: 1, suspected: 0, viewRevision: 1, coordinator: true, leaseValid: true, primary: 0, backup: 0, pending: 0, underReplicated: 0, inOneZone: 0, configRevision: 0 }),
    lostTotal: 0,
    counters,
    observer: NO_OBSERVER,
    certificates,
  });
  const exposition = async () => parseExposition(await registry.metrics());
  const read = async (name: string, labels: Record<string, string> = {}) => sampleValue(await exposition(), name, labels);
  t.is(await read('sessiond_cluster_tls_certificate_expiry_timestamp_seconds', { link: 'peers' }), 1_800_000_000);
  t.false((await exposition()).samples.some((s) => s.name === 'sessiond_cluster_tls_certificate_expiry_timestamp_seconds' && s.labels['link'] === 'etcd'), 'etcd: a CA only, nothing presented');
  t.is(await read('sessiond_cluster_tls_reloads_total', { link: 'peers', outcome: 'reloaded' }), 0);
  counters.certificateReloads.peers = { reloaded: 2, refused: 3 };
  counters.certificateReloads.etcd = { reloaded: 1, refused: 0 };
  certificates.peers.expiresAt = 1_900_000_000;
  certificates.etcd.expiresAt = 1_850_000_000;
  t.is(await read('sessiond_cluster_tls_reloads_total', { link: 'peers', outcome: 'reloaded' }), 2);
  t.is(await read('sessiond_cluster_tls_reloads_total', { link: 'peers', outcome: 'refused' }), 3);
  t.is(await read('sessiond_cluster_tls_reloads_total', { link: 'etcd', outcome: 'reloaded' }), 1);
  t.is(await read('sessiond_cluster_tls_certificate_expiry_timestamp_seconds', { link: 'peers' }), 1_900_000_000);
  t.is(await read('sessiond_cluster_tls_certificate_expiry_timestamp_seconds', { link: 'etcd' }), 1_850_000_000);
});
