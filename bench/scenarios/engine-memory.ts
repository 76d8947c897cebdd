// engine-memory: bytes held per online session (docs/performance.md#targets: <= 350 B with
// one client session; Redis holds 483 B, Keycloak 5-8 KB). Each store is built
// in a fresh child process (bench/fixtures/memory-probe.ts) so that heaps and
// leftovers of one measurement never mix with another's. The targets are
// absolute, so no row has a baseline; the plain-object row is there to compare.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProbeResult } from '../fixtures/memory-probe.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';

const NAME = 'engine-memory';
const SESSIONS_FULL = 1_000_000;
const SESSIONS_QUICK = 200_000;
const PROBE = fileURLToPath(new URL('../fixtures/memory-probe.js', import.meta.url));

function probe(layout: string, sessions: number): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    // stdout is piped to our stderr: the runner's stdout must stay parseable.
    const child = fork(PROBE, [layout, String(sessions)], {
      execArgv: ['--expose-gc', '--enable-source-maps'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    child.stdout?.pipe(process.stderr);
    let result: ProbeResult | undefined;
    child.on('message', (message) => {
      result = message as ProbeResult;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`memory-probe ${layout} exited with ${signal ?? code} and no result`));
    });
  });
}

export const engineMemory: Scenario = {
  name: NAME,
  description: 'heap + typed-array bytes per session (1 and 3 client sessions) in a fresh process, vs plain objects (1 M sessions)',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const measure = async (layout: string): Promise<number> => {
      const r = await probe(layout, n);
      log(
        `${layout}: ${r.bytesPerSession.toFixed(1)} B/session ` +
          `(V8 heap ${(r.heapBytes / n).toFixed(1)} + array buffers ${(r.arrayBufferBytes / n).toFixed(1)}) over ${n.toLocaleString('en-US')} sessions`,
      );
      return r.bytesPerSession;
    };
    const rows: Row[] = [
      row(NAME, 'heap_bytes_per_session_1_client', await measure('actor-1'), 'bytes'),
      row(NAME, 'heap_bytes_per_session_3_clients', await measure('actor-3'), 'bytes'),
      row(NAME, 'heap_bytes_per_session_plain_object', await measure('plain'), 'bytes'),
      // The strings a shard worker really keeps come out of msgpackr, not out
      // of the host's JSON parser: this row shows what that costs.
      row(NAME, 'heap_bytes_per_session_1_client_via_codec', await measure('actor-1-codec'), 'bytes'),
    ];
    return rows;
  },
};
