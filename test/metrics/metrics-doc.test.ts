// docs/metrics.md lists exactly the metrics a live node exports, each with
// the type, labels and help text of its registry entry (regenerate with
// `npm run metrics-doc`).

import test from 'ava';
import { readFileSync } from 'node:fs';
import { metricFamilies, renderTable, tableOf } from '../../src/metrics/metrics-doc.js';
import { startNode } from '../helpers/node-harness.js';
import { parseExposition } from '../helpers/prometheus.js';

const DOC = new URL('../../../docs/metrics.md', import.meta.url);

test('docs/metrics.md is the live registry, and /metrics exports exactly those families', async (t) => {
  const h = await startNode({ demo: false, shards: 1 });
  t.teardown(() => h.stop());
  const exposition = parseExposition(await h.metrics());
  const families = await metricFamilies(h.node.metrics.registry);
  t.deepEqual([...exposition.type.keys()].sort(), families.map((f) => f.name).sort());
  for (const f of families) t.is(exposition.type.get(f.name), f.type, f.name);

  const doc = readFileSync(DOC, 'utf8');
  const table = tableOf(doc);
  t.not(table, null, 'docs/metrics.md has its generated table');
  t.is(table, renderTable(families), 'docs/metrics.md is out of date: run `npm run metrics-doc`');
});
