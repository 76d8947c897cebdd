// The cluster's Prometheus metrics (docs/cluster.md#metrics), read from the
// member on each scrape. Registered only in cluster mode. They read only what
// ClusterMetricsSource names, so that the operations kit's test can register
// them on a registry of its own (no etcd) and hold the Grafana dashboard's
// cluster panels to the names, types and labels a cluster node exports.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TLS_LINKS, type TlsLink } from './cluster-certificates.js';
import type { ClusterMember } from './cluster-member.js';

/** What the metrics read from the member on each scrape, and the observer they set on it. */
export type ClusterMetricsSource = Pick<ClusterMember, 'status' | 'lostTotal' | 'counters' | 'observer'> & {
  /** The certificates of each TLS link (null: plaintext, no certificate metrics for it). */
  readonly certificates: Record<TlsLink, { readonly expiresAt: number | null } | null>;
};

export function registerClusterMetrics(registry: Registry, member: ClusterMetricsSource): void {
  const registers = [registry];
  const status = oncePerScrape(() => member.status());
  new Gauge({
    name: 'sessiond_cluster_members',
    help: 'Members of the current view, by whether this node can hear them (alive) or accuses them (suspect)',
    labelNames: ['state'],
    registers,
    collect() {
      const s = status();
      this.set({ state: 'alive' }, s.members - s.suspected);
      this.set({ state: 'suspect' }, s.suspected);
    },
  });
  gauge(registry, 'sessiond_cluster_view_revision', 'etcd revision of the member view this node holds', () => status().viewRevision);
  gauge(registry, 'sessiond_cluster_is_coordinator', '1 on the member that computes partition tables and evicts unreachable members', () => (status().coordinator ? 1 : 0));
  gauge(registry, 'sessiond_cluster_lease_valid', '1 while this node can prove its etcd lease is alive (it serves only then, or while every member confirms a frozen view)', () =>
    status().leaseValid ? 1 : 0,
  );
  new Gauge({
    name: 'sessiond_partitions_owned',
    help: 'Partitions this node holds, by role: primary (serves), backup (a synchronous copy), pending (being filled by a state transfer)',
    labelNames: ['role'],
    registers,
    collect() {
      const s = status();
      this.set({ role: 'primary' }, s.primary);
      this.set({ role: 'backup' }, s.backup);
      this.set({ role: 'pending' }, s.pending);
    },
  });
  gauge(registry, 'sessiond_partitions_under_replicated', 'Partitions with fewer serving copies than min(--owners, members)', () => status().underReplicated);
  gauge(registry, 'sessiond_partitions_in_one_zone', 'Partitions whose serving copies all lie in one zone while the members span several (0 without --zone)', () => status().inOneZone);
  gauge(registry, 'sessiond_config_revision_applied', 'etcd revision of the configuration log this node has applied', () => status().configRevision);
  counterFrom(registry, 'sessiond_partitions_lost_total', 'Partitions whose every owner left before a copy was made (counted by the coordinator that noticed)', () => member.lostTotal);
  counterFrom(registry, 'sessiond_replication_degraded_acks_total', 'Replies released with a copy holder gone (it left the view or the table) instead of its acknowledgement', () => member.counters.degradedAcks);
  counterFrom(registry, 'sessiond_state_transfer_sessions_total', 'Sessions this node sent to new owners in state transfers', () => member.counters.transferredSessions);
  counterFrom(registry, 'sessiond_copy_checks_total', 'Backup copies this node (their primary) compared with its own by their digests', () => member.counters.copiesChecked);
  counterFrom(registry, 'sessiond_copy_refills_total', 'Backup copies that differed from this node (their primary) in two checks in a row and were sent their partition again', () => member.counters.copiesRefilled);
  if (TLS_LINKS.some((link) => member.certificates[link] !== null)) registerCertificateMetrics(registry, member);

  const forwarded = new Counter({ name: 'sessiond_forwarded_requests_total', help: 'Engine commands forwarded to the primary on another node, by peer and outcome', labelNames: ['peer', 'outcome'], registers });
  const forwardSeconds = new Histogram({ name: 'sessiond_forward_seconds', help: 'Time from forwarding an engine command to its answer from the primary', buckets: FAST_BUCKETS, registers });
  const wrongOwner = new Counter({ name: 'sessiond_forward_wrong_owner_total', help: 'Forwarded commands that found the partition moved and were retried after the table changed', registers });
  const ackSeconds = new Histogram({ name: 'sessiond_replication_ack_seconds', help: 'Time from sending a replication frame to a backup to its acknowledgement (applied there)', buckets: FAST_BUCKETS, registers });
  const viewChanges = new Counter({ name: 'sessiond_cluster_view_changes_total', help: 'Members that joined or left the view this node holds', labelNames: ['reason'], registers });
  const rtt = new Histogram({ name: 'sessiond_cluster_heartbeat_rtt_seconds', help: 'Round trip of a heartbeat to a peer and back', buckets: FAST_BUCKETS, registers });
  for (const reason of ['join', 'leave']) viewChanges.inc({ reason }, 0);
  member.observer = {
    forwarded(peer, seconds, ok) {
      forwarded.inc({ peer, outcome: ok ? 'ok' : 'error' });
      forwardSeconds.observe(seconds);
    },
    wrongOwner: () => wrongOwner.inc(),
    replicationAck: (seconds) => ackSeconds.observe(seconds),
    viewChanged: (reason) => viewChanges.inc({ reason }),
    heartbeatRtt: (seconds) => rtt.observe(seconds),
  };
}

/**
 * The member's status computed once per scrape: the gauges above each read
 * it, and a scrape runs every collect in one synchronous pass, so the first
 * reads it and the rest share that answer until the pass is over.
 */
function oncePerScrape<T>(read: () => T): () => T {
  let current: { value: T } | null = null;
  return () => {
    if (current === null) {
      current = { value: read() };
      queueMicrotask(() => (current = null));
    }
    return current.value;
  };
}

/** Sub-millisecond to seconds: loopback hops are ~0.1 ms, a stalled peer seconds. */
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** With TLS on a link (between members, to etcd): when the certificate this node presents on it expires, and what the reloads did. */
function registerCertificateMetrics(registry: Registry, member: ClusterMetricsSource): void {
  const links = TLS_LINKS.filter((link) => member.certificates[link] !== null);
  new Gauge({
    name: 'sessiond_cluster_tls_certificate_expiry_timestamp_seconds',
    help: 'When the certificate this node presents expires, in Unix seconds, by link: peers (--grpc-tls-cert), etcd (--cluster-etcd-cert)',
    labelNames: ['link'],
    registers: [registry],
    collect() {
      for (const link of links) {
        const expiresAt = member.certificates[link]!.expiresAt;
        if (expiresAt !== null) this.set({ link }, expiresAt);
      }
    },
  });
  new Counter({
    name: 'sessiond_cluster_tls_reloads_total',
    help: 'Changed TLS files taken (reloaded), and checks that found them failing the start-up checks (refused, counted at each check until they pass; the current certificates stay), by link: peers (--grpc-tls-*), etcd (--cluster-etcd-*)',
    labelNames: ['link', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const link of links) {
        const counts = member.counters.certificateReloads[link];
        this.inc({ link, outcome: 'reloaded' }, counts.reloaded);
        this.inc({ link, outcome: 'refused' }, counts.refused);
      }
    },
  });
}

/** A counter mirroring a monotonic total kept elsewhere. */
function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}
