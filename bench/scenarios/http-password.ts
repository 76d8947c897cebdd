// http-password: password grants over HTTP with PBKDF2-SHA512 at 210,000
// iterations (docs/performance.md#targets: >= 0.9x the PBKDF2 ceiling, and the event loop
// stays responsive while the hashes run).
//
//   login_rps                         vs the PBKDF2 ceiling: one core's
//                                     crypto.pbkdf2Sync rate (measured in this
//                                     process while the server idles, half just
//                                     before the load, half just after) times
//                                     the server's hash pool size (one thread
//                                     per core, PasswordHasher's default)
//   introspect_p99_ms_during_logins   p99 of one introspection loop (1
//                                     connection, at most PROBE_RATE/s)
//                                     running beside the logins;
//                                     target < 50 ms: a hash must never hold
//                                     the event loop (absolute, no baseline)
//
// No warm-up run: hashing is not JIT-bound, and a warm-up's queued logins
// (50 connections x ~100 ms hashes) would still be hashing when the measured
// run starts. For the same reason the run is followed by a pause before the
// second baseline half: the server finishes the logins whose connections
// autocannon already closed.

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { row, type Row, type Scenario } from '../lib/scenario.js';
import { describeLoad, runLoad, type LoadResult } from '../http/load.js';
import { stopAll } from '../http/processes.js';
import { errorRows, httpErrorsRow, latencyRows, runRows } from '../http/report.js';
import { introspectRequest, passwordRequest, postFormOk, type ActiveTally } from '../http/requests.js';
import { httpBench, setupTarget, type TargetSetup } from '../http/setup.js';
import { paths } from '../http/target.js';

const NAME = 'http-password';
const ITERATIONS = 210_000;
const KEY_BYTES = 64;
const BASELINE_HALF_S = 1.5;
const BASELINE_HALF_QUICK_S = 0.75;
/**
 * Introspections per second of the latency probe. A probe, not a load: run
 * flat out, one connection made ~450 requests/s at ~0.8 ms of event-loop CPU
 * each (an otherwise idle loop pays thread wake-ups per request on this KVM
 * guest: the HTTP socket, the shard round trip), a third of a core taken
 * from the two hash threads, which lowered login_rps by ~20 %. At 100/s it
 * costs about a tenth of a core and still gives 1,000 samples per 10 s.
 */
const PROBE_RATE = 100;
/** Longest pause for the server to finish logins left from the run. */
const DRAIN_MAX_S = 10;

interface HashRate {
  ops: number;
  seconds: number;
  /** CPU seconds this process used meanwhile: unlike the wall rate, not lowered by other jobs on the machine. */
  cpuSeconds: number;
}

/** pbkdf2Sync back to back on this thread for `seconds`. */
function pbkdf2Rate(password: string, iterations: number, seconds: number): HashRate {
  const salt = randomBytes(16);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let ops = 0;
  do {
    pbkdf2Sync(password, salt, iterations, KEY_BYTES, 'sha512');
    ops++;
  } while (performance.now() < deadline);
  const used = process.cpuUsage(cpu);
  return { ops, seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const httpPassword: Scenario = {
  name: NAME,
  description: 'password grants over HTTP (PBKDF2-SHA512 210k) vs pbkdf2Sync rate x pool size; introspection p99 during the logins',
  async run(options) {
    const b = httpBench(NAME, options);
    const o = b.opts;
    const iterations = o.hashIterations ?? ITERATIONS;
    let setup: TargetSetup | null = null;
    try {
      setup = await setupTarget(b, [{ name: 'bench-password', algorithm: o.algorithm ?? 'ES256' }], ITERATIONS);
      const target = setup.target;
      const realm = setup.realms[0]!;
      // One session whose access token the introspection loop checks throughout.
      const login = await postFormOk(target, paths.token(target, realm), { grant_type: 'password', username: `${target.usersPrefix}0`, password: target.password, scope: 'openid' }, `login in realm ${realm}`);
      const access = login['access_token'] as string;

      const poolSize = os.availableParallelism();
      const halfS = b.quick ? BASELINE_HALF_QUICK_S : BASELINE_HALF_S;
      const before = pbkdf2Rate(target.password, iterations, halfS);

      const tally: ActiveTally = { active: 0, inactive: 0 };
      const [logins, introspections] = await Promise.all([
        runLoad({
          label: 'logins',
          origin: target.origin,
          connections: o.connections,
          durationS: o.duration,
          requests: [passwordRequest(target, realm)],
          timeoutS: 60,
          progress: b.progress,
          serverPid: setup.local?.process.pid,
        }),
        runLoad({
          label: 'introspect',
          origin: target.origin,
          connections: 1,
          durationS: o.duration,
          requests: [introspectRequest(target, realm, [access], tally)],
          progress: null,
          connectionRate: PROBE_RATE,
        }),
      ]);
      b.log(describeLoad(logins));
      b.log(describeLoad(introspections));
      const drainS = Math.min(DRAIN_MAX_S, logins.rps > 0 ? o.connections / logins.rps + 0.5 : DRAIN_MAX_S);
      b.log(`waiting ${drainS.toFixed(1)} s for logins left in the server's queue`);
      await sleep(drainS * 1000);

      const after = pbkdf2Rate(target.password, iterations, halfS);
      const single = (before.ops + after.ops) / (before.seconds + after.seconds);
      const hashCpuUs = ((before.cpuSeconds + after.cpuSeconds) * 1e6) / (before.ops + after.ops);
      b.log(`pbkdf2Sync ${iterations.toLocaleString('en-US')} iterations on one core: ${(before.ops / before.seconds).toFixed(2)}/s before, ${(after.ops / after.seconds).toFixed(2)}/s after; ` +
        `ceiling = ${single.toFixed(2)} x pool ${poolSize} = ${(single * poolSize).toFixed(2)} logins/s${target.local ? '' : ' (measured on this machine: only a guide for a remote --target)'}; ` +
        `${hashCpuUs.toFixed(0)} CPU us per hash`);
      if (tally.inactive > 0) b.log(`WARNING: ${tally.inactive} introspections answered active:false`);

      const rows: Row[] = [
        row(NAME, 'login_rps', logins.rps, 'req/s', single * poolSize),
        row(NAME, 'introspect_p99_ms_during_logins', introspections.latency.p99, 'ms'),
        row(NAME, 'introspect_rps_during_logins', introspections.rps, 'req/s'),
        ...latencyRows(NAME, 'login', logins),
        // What a login costs the server in CPU against one bare hash: the contention-proof view of login_rps.
        ...(logins.serverCpuUsPerResponse === null ? [] : [row(NAME, 'login_server_cpu_us_per_req', logins.serverCpuUsPerResponse, 'us', hashCpuUs)]),
        ...errorRows(NAME, 'login', logins),
        ...runRows(NAME, 'introspect', introspections),
        row(NAME, 'introspect_errors_inactive', tally.inactive, 'responses'),
        httpErrorsRow(NAME, [logins, introspections] satisfies LoadResult[]),
      ];
      return rows;
    } finally {
      await stopAll([setup]);
    }
  },
};
