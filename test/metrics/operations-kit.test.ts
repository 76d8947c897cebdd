// The operations kit in docs/: the Grafana dashboard and the Prometheus alert
// rules name only metrics (and labels) that a live node exports, the rules
// pass `promtool check rules`, and their unit tests pass `promtool test rules`.

import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { metricFamilies, type MetricFamily } from '../../src/metrics/metrics-doc.js';
import { DEMO_APP, startNode, type TestNode } from '../helpers/node-harness.js';
import { parseExposition } from '../helpers/prometheus.js';
import { familyOf, promqlNames } from '../helpers/promql-names.js';

const run = promisify(execFile);
const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];

let h: TestNode;
let types: Map<string, string>;
let labelsOf: Map<string, MetricFamily['labels']>;

test.before(async () => {
  h = await startNode({ shards: 1 });
  // Some traffic, so that histograms and labelled counters have series too.
  await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  types = parseExposition(await h.metrics()).type;
  labelsOf = new Map((await metricFamilies(h.node.metrics.registry)).map((f) => [f.name, f.labels]));
});
test.after.always(async () => {
  await h?.stop();
});

/** Problems with one expression: metrics the node does not export, labels none of its metrics has. */
function problems(where: string, expr: string): string[] {
  const { metrics, labels } = promqlNames(expr);
  const out: string[] = [];
  const known = new Set(TARGET_LABELS);
  for (const metric of metrics) {
    const family = familyOf(metric, types);
    if (family === undefined) {
      out.push(`${where}: ${metric} is not exported by the node`);
      continue;
    }
    for (const label of labelsOf.get(family) ?? []) known.add(label);
    if (types.get(family) === 'histogram' && metric.endsWith('_bucket')) known.add('le');
  }
  for (const label of labels) if (!known.has(label)) out.push(`${where}: label ${label} is on none of ${metrics.join(', ')}`);
  return out;
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

test('every dashboard query names metrics and labels the live node exports', (t) => {
  const dashboard = JSON.parse(readFileSync(`${DOCS}grafana/sessiond.json`, 'utf8')) as {
    panels: Panel[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const queries: [string, string][] = [];
  const walk = (panels: Panel[]): void => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.expr !== undefined) queries.push([`panel "${panel.title}"`, target.expr]);
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    const query = variable.query as { query?: string } | string | undefined;
    const text = typeof query === 'string' ? query : query?.query;
    if (text !== undefined && text.includes('(')) queries.push([`variable ${variable.name}`, text]);
  }
  t.true(queries.length >= 20, `the dashboard has ${queries.length} queries`);
  const named = new Set(queries.flatMap(([, expr]) => promqlNames(expr).metrics.map((m) => familyOf(m, types))));
  for (const required of ['sessiond_sessions_active', 'sessiond_logins_total', 'sessiond_token_requests_total', 'sessiond_http_request_duration_seconds', 'sessiond_session_expirations_total', 'sessiond_actor_mailbox_depth', 'sessiond_nodejs_eventloop_lag_p99_seconds', 'sessiond_process_resident_memory_bytes', 'sessiond_backchannel_logout_total']) {
    t.true(named.has(required), `a panel shows ${required}`);
  }
  t.deepEqual(queries.flatMap(([where, expr]) => problems(where, expr)), []);
});

test('every alert names metrics and labels the live node exports', (t) => {
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
  t.is(exprs.length, 8);
  t.deepEqual(exprs.flatMap(([where, expr]) => problems(`alert ${where}`, expr)), []);
});

test('promtool checks the rules and runs their unit tests', async (t) => {
  const check = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: `${DOCS}prometheus` });
  t.regex(check.stdout, /SUCCESS: 8 rules found/);
  const unit = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: `${DOCS}prometheus` });
  t.regex(unit.stdout, /SUCCESS/);
});
