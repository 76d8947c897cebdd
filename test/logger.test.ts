// Goal: both log formats carry the same fields: JSON lines by default, and
// human lines through pino-pretty with --log-format pretty. Method: a child
// process logs one line with each format; its stdout is read.

import { spawnSync } from 'node:child_process';
import test from 'ava';

const LOGGER = new URL('../src/logger.js', import.meta.url).href;

function logOnce(format: 'json' | 'pretty'): string {
  const script = `import(${JSON.stringify(LOGGER)}).then(({ createLogger }) => createLogger({ logLevel: 'info', logFormat: '${format}', nodeId: 'node-7' }).info({ realm: 'demo' }, 'hello from the node'))`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout;
}

test('json: one JSON object per line with the node name', (t) => {
  const entry = JSON.parse(logOnce('json').trim()) as Record<string, unknown>;
  t.like(entry, { msg: 'hello from the node', node: 'node-7', realm: 'demo', level: 30 });
});

test('pretty: a readable line with the level, message and fields, not JSON', (t) => {
  const out = logOnce('pretty');
  t.false(out.trimStart().startsWith('{'));
  t.regex(out, /INFO.*hello from the node/);
  t.regex(out, /node: "node-7"|node-7/);
  t.regex(out, /realm: "demo"/);
});
