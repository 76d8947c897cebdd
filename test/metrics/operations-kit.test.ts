// The operations kit in docs/: the Grafana dashboard and the Prometheus alert
// rules name only metrics (and labels) that a live node exports, the rules
// pass `promtool check rules`, and their unit tests pass `promtool test rules`.
// The dashboard's Cluster row may also name what a cluster-mode node adds: the
// families registerClusterMetrics registers (the node's own code path, run here
// on a registry of its own for a member that has not joined, so without etcd).

import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { NO_OBSERVER } from '../../src/cluster/cluster-member.js';
import { registerClusterMetrics, type ClusterMetricsSource } from '../../src/cluster/cluster-metrics.js';
import { metricFamilies, type MetricFamily } from '../../src/metrics/metrics-doc.js';
import { DEMO_APP, startNode, type TestNode } from '../helpers/node-harness.js';
import { parseExposition } from '../helpers/prometheus.js';
import { familyOf, promqlNames } from '../helpers/promql-names.js';

const run = promisify(execFile);
const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
/** The dashboard row whose panels show the cluster metrics (empty on a single node). */
const CLUSTER_ROW = /^Cluster\b/;

/** Metric families with their types and label names. */
interface Exported {
  types: Map<string, string>;
  labelsOf: Map<string, MetricFamily['labels']>;
  /** Who exports them, for the messages. */
  by: string;
}

let h: TestNode;
/** What the live single node exports. */
let node: Exported;
/** What registerClusterMetrics adds on a cluster-mode node. */
let cluster: Exported;
/** Both: what a cluster-mode node exports. */
let clusterNode: Exported;

async function exported(registry: Registry, exposition: string, by: string): Promise<Exported> {
  return { types: parseExposition(exposition).type, labelsOf: new Map((await metricFamilies(registry)).map((f) => [f.name, f.labels])), by };
}

/** A member that has not joined (both its links over TLS with certificates, so every cluster metric is there): what the cluster metrics read, all zero. */
function unjoinedMember(): ClusterMetricsSource {
  return {
    status: () => ({ members: 0, suspected: 0, viewRevision: 0, coordinator: false, leaseValid: false, primary: 0, backup: 0, pending: 0, underReplicated: 0, inOneZone: 0, configRevision: 0 }),
    lostTotal: 0,
    counters: { transferredSessions: 0, degradedAcks: 0, certificateReloads: { peers: { reloaded: 0, refused: 0 }, etcd: { reloaded: 0, refused: 0 } }, copiesChecked: 0, copiesRefilled: 0 },
    observer: NO_OBSERVER,
    certificates: { peers: { expiresAt: 0 }, etcd: { expiresAt: 0 } },
  };
}

test.before(async () => {
  h = await startNode({ shards: 1 });
  // Some traffic, so that histograms and labelled counters have series too.
  await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  node = await exported(h.node.metrics.registry, await h.metrics(), 'the node');
  const registry = new Registry();
  registerClusterMetrics(registry, unjoinedMember());
  cluster = await exported(registry, await registry.metrics(), 'a cluster node');
  clusterNode = {
    types: new Map([...node.types, ...cluster.types]),
    labelsOf: new Map([...node.labelsOf, ...cluster.labelsOf]),
    by: 'a cluster node',
  };
});
test.after.always(async () => {
  await h?.stop();
});

/** Problems with one expression: metrics `by` does not export, labels none of its metrics has. */
function problems(where: string, expr: string, { types, labelsOf, by }: Exported): string[] {
  const { metrics, labels } = promqlNames(expr);
  const out: string[] = [];
  const known = new Set(TARGET_LABELS);
  for (const metric of metrics) {
    const family = familyOf(metric, types);
    if (family === undefined) {
      out.push(`${where}: ${metric} is not exported by ${by}`);
      continue;
    }
    for (const label of labelsOf.get(family) ?? []) known.add(label);
    if (types.get(family) === 'histogram' && metric.endsWith('_bucket')) known.add('le');
  }
  for (const label of labels) if (!known.has(label)) out.push(`${where}: label ${label} is on none of ${metrics.join(', ')}`);
  return out;
}

interface Panel {
  type?: string;
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Query {
  where: string;
  expr: string;
  /** In the Cluster row. */
  cluster: boolean;
}

/** The dashboard's queries: its panels' (each with the row it sits in) and its variables'. */
function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(`${DOCS}grafana/sessiond.json`, 'utf8')) as {
    panels: Panel[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const queries: Query[] = [];
  // A panel belongs to the row above it, or (a collapsed row) sits in the row's own panels.
  let row = '';
  const walk = (panels: Panel[]): void => {
    for (const panel of panels) {
      if (panel.type === 'row') row = panel.title ?? '';
      const cluster = CLUSTER_ROW.test(row);
      for (const target of panel.targets ?? []) if (target.expr !== undefined) queries.push({ where: `panel "${panel.title}"`, expr: target.expr, cluster });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    const query = variable.query as { query?: string } | string | undefined;
    const text = typeof query === 'string' ? query : query?.query;
    if (text !== undefined && text.includes('(')) queries.push({ where: `variable ${variable.name}`, expr: text, cluster: false });
  }
  return queries;
}

/** The families a set of queries names. */
function familiesNamed(queries: readonly Query[], types: ReadonlyMap<string, string>): Set<string | undefined> {
  return new Set(queries.flatMap(({ expr }) => promqlNames(expr).metrics.map((m) => familyOf(m, types))));
}

test('every dashboard query names metrics and labels the live node exports (a cluster node, in the Cluster row)', (t) => {
  const queries = dashboardQueries();
  t.true(queries.length >= 20, `the dashboard has ${queries.length} queries`);
  const named = familiesNamed(queries, node.types);
  for (const required of ['sessiond_sessions_active', 'sessiond_logins_total', 'sessiond_token_requests_total', 'sessiond_http_request_duration_seconds', 'sessiond_session_expirations_total', 'sessiond_actor_mailbox_depth', 'sessiond_nodejs_eventloop_lag_p99_seconds', 'sessiond_process_resident_memory_bytes', 'sessiond_backchannel_logout_total']) {
    t.true(named.has(required), `a panel shows ${required}`);
  }
  t.deepEqual(queries.flatMap(({ where, expr, cluster: inClusterRow }) => problems(where, expr, inClusterRow ? clusterNode : node)), []);
});

test('the Cluster row shows every metric a cluster node adds, none of which a single node exports', (t) => {
  const clusterFamilies = [...cluster.types.keys()];
  t.true(clusterFamilies.length > 0, `registerClusterMetrics registers ${clusterFamilies.length} families`);
  t.deepEqual(clusterFamilies.filter((family) => node.types.has(family)), [], 'the Cluster row is empty on a single node');
  const named = familiesNamed(dashboardQueries().filter((q) => q.cluster), cluster.types);
  t.deepEqual(clusterFamilies.filter((family) => !named.has(family)), [], 'a Cluster row panel shows each cluster metric');
});

test('every alert names metrics and labels the live node exports (a cluster node, for the cluster\'s alerts)', (t) => {
  const rules = readFileSync(`${DOCS}prometheus/alerts.yml`, 'utf8');
  // The rule file's expressions: `expr: ...` on one line or a `|` block below it.
  const exprs: [string, string][] = [];
  const lines = rules.split('\n');
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const name = /^\s*- alert: (\S+)/.exec(lines[i]!);
    if (name !== null) alert = name[1]!;
    const expr = /^(\s*)expr: (.*)$/.exec(lines[i]!);
    if (expr === null) continue;
    if (expr[2]!.trim() !== '|') {
      exprs.push([alert, expr[2]!]);
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > expr[1]!.length)) block.push(lines[++i]!);
    exprs.push([alert, block.join('\n')]);
  }
  t.is(exprs.length, 11);
  // SessiondCluster* alerts read what a cluster node adds; the others what every node exports.
  t.deepEqual(exprs.flatMap(([where, expr]) => problems(`alert ${where}`, expr, where.startsWith('SessiondCluster') ? clusterNode : node)), []);
});

test('promtool checks the rules and runs their unit tests', async (t) => {
  const check = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: `${DOCS}prometheus` });
  t.regex(check.stdout, /SUCCESS: 11 rules found/);
  const unit = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: `${DOCS}prometheus` });
  t.regex(unit.stdout, /SUCCESS/);
});
