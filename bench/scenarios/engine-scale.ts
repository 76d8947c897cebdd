// engine-scale: 10 M online sessions in one node (two shards, one client
// session each; 1 M with --quick), each measurement in a fresh child process
// (bench/fixtures/scale-probe.ts):
//
//   scale_bytes_per_session_10m   V8 heap + typed-array bytes per session after a full GC (<= 300;
//                                 Keycloak 24 needs ~5 KB, ~500 MB per 100 k sessions)
//   scale_touch_ops_per_s_10m     touches of random sessions at 10 M, vs the same at 100 k (>= 0.8x:
//                                 the table's lookups stay O(1) as it grows)
//   scale_rss_bytes_10m           the process's resident memory at 10 M (what an operator sees)

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ScaleResult } from '../fixtures/scale-probe.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';

const NAME = 'engine-scale';
const SESSIONS_FULL = 10_000_000;
const SESSIONS_QUICK = 1_000_000;
const SESSIONS_REFERENCE = 100_000;
const TOUCHES = 1_000_000;
const PROBE = fileURLToPath(new URL('../fixtures/scale-probe.js', import.meta.url));

function probe(sessions: number): Promise<ScaleResult> {
  return new Promise((resolve, reject) => {
    const child = fork(PROBE, [String(sessions), String(TOUCHES)], {
      // 10 M sessions need ~3 GB of heap and array buffers; the default old-space limit is smaller.
      execArgv: ['--expose-gc', '--enable-source-maps', '--max-old-space-size=8192'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    child.stdout?.pipe(process.stderr);
    let result: ScaleResult | undefined;
    child.on('message', (message) => (result = message as ScaleResult));
    child.on('error', reject);
    child.on('exit', (code, signal) => (result !== undefined ? resolve(result) : reject(new Error(`scale-probe exited with ${signal ?? code} and no result`))));
  });
}

export const engineScale: Scenario = {
  name: NAME,
  description: 'bytes per session and touch rate of one node (2 shards) holding 10 M online sessions, vs the same at 100 k',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const reference = await probe(SESSIONS_REFERENCE);
    const big = await probe(n);
    for (const r of [reference, big]) {
      log(`${r.sessions.toLocaleString('en-US')} sessions: ${r.bytesPerSession.toFixed(1)} B/session, RSS ${(r.rssBytes / 2 ** 20).toFixed(0)} MiB, touch ${Math.round(r.touchOpsPerS).toLocaleString('en-US')}/s`);
    }
    const rows: Row[] = [
      row(NAME, 'scale_bytes_per_session_10m', big.bytesPerSession, 'bytes'),
      row(NAME, 'scale_touch_ops_per_s_10m', big.touchOpsPerS, 'ops/s', reference.touchOpsPerS),
      row(NAME, 'scale_rss_bytes_10m', big.rssBytes, 'bytes'),
    ];
    return rows;
  },
};
