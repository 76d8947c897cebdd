// `npm run metrics-doc`: starts a throw-away node (temp data directory, no
// listening), reads its metrics registry and rewrites the generated table of
// docs/metrics.md. Run it after adding, renaming or re-labelling a metric.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseOptions } from '../config/options.js';
import { metricFamilies, renderTable, spliceTable } from '../metrics/metrics-doc.js';
import { SessiondNode } from '../node.js';

const DOC = fileURLToPath(new URL('../../../docs/metrics.md', import.meta.url));

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sessiond-metrics-doc-'));
  const parsed = parseOptions(['--data-dir', dataDir, '--shards', '1', '--log-level', 'silent'], {});
  if (parsed.help) return;
  const node = await SessiondNode.start({ options: parsed.options, log: pino({ level: 'silent' }), hasherSize: 1 });
  try {
    await node.metrics.refresh(node.engine);
    const table = renderTable(await metricFamilies(node.metrics.registry));
    writeFileSync(DOC, spliceTable(readFileSync(DOC, 'utf8'), table));
    process.stdout.write(`rewrote the metrics table of ${DOC}\n`);
  } finally {
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`metrics-doc: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
