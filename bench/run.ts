// The benchmark runner: `npm run bench -- [--list] [--quick] [--json] [scenario...]`.
//
// Each scenario measures a workload and a baseline side by side in the same
// run (docs/performance.md#targets); this file only selects, times and reports them. Output:
// the machine first, then one table per scenario on stdout; progress goes to
// stderr, so that with --json the last stdout line is the JSON array of every
// row. Each scenario's rows also land in bench/results/<scenario>.json, a
// directory git ignores: a run leaves the working tree clean.
//
// To add a scenario: write bench/scenarios/<name>.ts exporting a Scenario and
// append it to SCENARIOS below.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { formatNumber } from './lib/data.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import type { Row, Scenario } from './lib/scenario.js';
import { engineActors } from './scenarios/engine-actors.js';
import { engineExpiry } from './scenarios/engine-expiry.js';
import { engineMemory } from './scenarios/engine-memory.js';
import { engineScale } from './scenarios/engine-scale.js';
import { engineTable } from './scenarios/engine-table.js';
import { engineTransfer } from './scenarios/engine-transfer.js';
import { password } from './scenarios/password.js';
import { HTTP_FLAG_NAMES, httpUsage, parseHttpOptions } from './http/options.js';
import { httpClientCredentials } from './scenarios/http-client-credentials.js';
import { httpIntrospect } from './scenarios/http-introspect.js';
import { httpMixed } from './scenarios/http-mixed.js';
import { httpPassword } from './scenarios/http-password.js';
import { httpRefresh } from './scenarios/http-refresh.js';
import { offlineStore } from './scenarios/offline-store.js';
import { startupOffline } from './scenarios/startup-offline.js';
import { importUsers } from './scenarios/import-users.js';
import { adminSessions } from './scenarios/admin-sessions.js';
import { adminLogoutAll } from './scenarios/admin-logout-all.js';
import { journal } from './scenarios/journal.js';
import { consoleSessions } from './scenarios/console-sessions.js';
import { loginFlood } from './scenarios/login-flood.js';
import { soak } from './scenarios/soak.js';
import { clusterThroughput } from './scenarios/cluster-throughput.js';
import { clusterFailover } from './scenarios/cluster-failover.js';
import { clusterRebalance } from './scenarios/cluster-rebalance.js';
import { clusterRollingRestart } from './scenarios/cluster-rolling-restart.js';
import { clusterCoordinatorStop } from './scenarios/cluster-coordinator-stop.js';
import { clusterSlowLink } from './scenarios/cluster-slow-link.js';
import { clusterLinkFlapping } from './scenarios/cluster-link-flapping.js';
import { clusterTouchLag } from './scenarios/cluster-touch-lag.js';

const SCENARIOS: readonly Scenario[] = [
  engineTable,
  engineMemory,
  engineActors,
  engineExpiry,
  engineScale,
  engineTransfer,
  password,
  httpRefresh,
  httpPassword,
  httpClientCredentials,
  httpIntrospect,
  httpMixed,
  offlineStore,
  startupOffline,
  importUsers,
  adminSessions,
  adminLogoutAll,
  journal,
  consoleSessions,
  loginFlood,
  soak,
  clusterFailover,
  clusterRebalance,
  clusterThroughput,
  clusterRollingRestart,
  clusterCoordinatorStop,
  clusterSlowLink,
  clusterLinkFlapping,
  clusterTouchLag,
];

// Compiled to dist/bench/run.js; results belong in the source tree's bench/results/.
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Args {
  list: boolean;
  quick: boolean;
  json: boolean;
  help: boolean;
  names: string[];
  /** Valued flags for the http-* scenarios (bench/http/options.ts). */
  flags: Record<string, string>;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { list: false, quick: false, json: false, help: false, names: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (HTTP_FLAG_NAMES.has(flag)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`option ${flag} needs a value`);
      args.flags[flag] = value;
    } else if (arg === '--list') args.list = true;
    else if (arg === '--quick') args.quick = true;
    else if (arg === '--json') args.json = true;
    else if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else args.names.push(arg);
  }
  return args;
}

class UsageError extends Error {}

const USAGE = `usage: npm run bench -- [--list] [--quick] [--json] [http options] [scenario...]   (no scenario: all)\n${httpUsage()}`;

function table(rows: readonly Row[]): string[] {
  const header = ['scenario', 'metric', 'value', 'unit', 'baseline', 'ratio'];
  const cells = rows.map((r) => [
    r.scenario,
    r.metric,
    formatNumber(r.value),
    r.unit,
    formatNumber(r.baseline),
    r.ratio === null ? '-' : r.ratio.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // Text columns left-aligned, figures right-aligned.
  const alignRight = [false, false, true, false, true, true];
  const line = (c: readonly string[]): string =>
    c.map((cell, i) => (alignRight[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)];
}

function writeResults(name: string, content: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${name}.json`;
  // Written beside and renamed, so a reader never sees half a file (*.tmp is git-ignored).
  writeFileSync(`${path}.tmp`, `${JSON.stringify(content, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
    // Checked up front, so a bad value stops the run before any scenario starts.
    parseHttpOptions(args.flags, args.quick);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.list) {
    const width = Math.max(...SCENARIOS.map((s) => s.name.length));
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(width)}  ${s.description}\n`);
    return 0;
  }
  const unknown = args.names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')} (see --list)\n`);
    return 2;
  }
  const selected = args.names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => args.names.includes(s.name));

  const machine = machineInfo();
  for (const line of describeMachine(machine)) process.stdout.write(`${line}\n`);
  process.stdout.write(`mode:   ${args.quick ? 'quick' : 'full'}\n\n`);

  const all: Row[] = [];
  let failed = 0;
  for (const scenario of selected) {
    const logLines: string[] = [];
    const log = (line: string): void => {
      logLines.push(line);
      process.stderr.write(`[${scenario.name}] ${line}\n`);
    };
    log(`start (${args.quick ? 'quick' : 'full'})`);
    const started = performance.now();
    let rows: Row[];
    try {
      rows = await scenario.run({ quick: args.quick, log, flags: args.flags });
    } catch (err) {
      failed++;
      log(`FAILED: ${(err as Error).stack ?? String(err)}`);
      continue;
    }
    const durationS = (performance.now() - started) / 1000;
    log(`done in ${durationS.toFixed(1)} s`);
    for (const line of table(rows)) process.stdout.write(`${line}\n`);
    process.stdout.write(`(${scenario.name}: ${durationS.toFixed(1)} s)\n\n`);
    all.push(...rows);
    writeResults(scenario.name, {
      scenario: scenario.name,
      description: scenario.description,
      date: new Date().toISOString(),
      quick: args.quick,
      durationSeconds: durationS,
      machine,
      rows,
      log: logLines,
    });
  }
  if (args.json) process.stdout.write(`${JSON.stringify(all)}\n`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
