// admin-logout-all: POST /admin/realms/{realm}/logout-all on a realm of
// 1,000,000 online sessions while refresh_token grants of another realm keep
// coming (docs/performance.md#targets: < 2 s, concurrent token p99 < 50 ms; no baselines).
//
//   logout_all_1m_seconds            time of the POST over HTTP (fetch,
//       master-realm admin token) until its response is read, on a realm of
//       N sessions (quick: 200,000); afterwards the realm must hold none.
//   token_p99_ms_during_logout_all   p99 latency of the refresh_token grants
//       that were in flight at any moment while the POST ran (a response
//       ending after the POST began, from a request begun before it ended).
//       They come from a separate process (fixtures/refresh-load.ts,
//       autocannon, LOAD_CONNECTIONS keep-alive connections) against a
//       second realm whose sessions logout-all does not touch: a pool of
//       refresh tokens from password grants (hashIterations(1000), so the
//       pool costs a second, not minutes), round-robin, rotation off. The
//       load starts before the POST (after a warm-up) and stops after it.
//
// The node runs in this process (2 shards) so that a million sessions can
// be created straight through node.engine; the load generator has its own
// process and event loop. The log also has the p99 of every refresh of the
// load window and how many fell inside the POST.

import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { RefreshLoadResult, RefreshLoadStart } from '../fixtures/refresh-load.js';
import { loginPool } from '../http/requests.js';
import { basicAuthorization, type Target } from '../http/target.js';
import { adminToken, createSessions, onlineCount, realmFile, realmIds, startAdminNode } from '../lib/admin-node.js';
import { row, type Scenario } from '../lib/scenario.js';
import { percentile } from '../lib/stats.js';

const NAME = 'admin-logout-all';
/** dist/bench/scenarios/admin-logout-all.js -> dist/bench/fixtures/refresh-load.js */
const LOAD_JS = fileURLToPath(new URL('../fixtures/refresh-load.js', import.meta.url));
const REALM = 'logout-1m';
const LIVE = 'live';
const CLIENTS = ['app-1', 'app-2', 'app-3'];
const LIVE_CLIENT = 'bench-client';
const LIVE_SECRET = 'bench-secret';
const LIVE_PASSWORD = 'bench-password';
const SESSIONS_FULL = 1_000_000;
const SESSIONS_QUICK = 200_000;
const POOL_FULL = 500;
const POOL_QUICK = 200;
const LOAD_CONNECTIONS = 4;
const LOAD_WARMUP_MS = 1500;
/** Steady load on both sides of the POST. */
const MARGIN_MS = 500;

function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the child's next message of `type`; rejects if it exits first. */
function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`refresh load: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { type?: string }): void => {
      if (m.type === type) done(null, m as T);
    };
    const onExit = (code: number | null): void => done(new Error(`refresh load exited (code ${String(code)}) before '${type}'`));
    const done = (err: Error | null, value?: T): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err !== null) reject(err);
      else resolve(value!);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export const adminLogoutAll: Scenario = {
  name: NAME,
  description: 'admin logout-all of 1 M online sessions: its duration, and p99 of refresh grants of another realm meanwhile',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const pool = quick ? POOL_QUICK : POOL_FULL;
    const bigSpec = { name: REALM, algorithm: 'ES256' as const, users: 0, usersPrefix: 'u', password: 'p', hashIterations: 1000, client: CLIENTS[0]!, secret: 's' };
    const liveSpec = { name: LIVE, algorithm: 'ES256' as const, users: pool, usersPrefix: 'live-user-', password: LIVE_PASSWORD, hashIterations: 1000, client: LIVE_CLIENT, secret: LIVE_SECRET };
    const a = await startAdminNode([realmFile(bigSpec, CLIENTS.slice(1)), realmFile(liveSpec)]);
    let child: ChildProcess | null = null;
    try {
      const token = await adminToken(a);
      const big = realmIds(a, REALM, CLIENTS);
      const live = realmIds(a, LIVE, []);

      const target: Target = {
        origin: a.origin,
        basePath: '',
        client: LIVE_CLIENT,
        secret: LIVE_SECRET,
        usersPrefix: liveSpec.usersPrefix,
        password: LIVE_PASSWORD,
        users: pool,
        local: true,
        authorization: basicAuthorization(LIVE_CLIENT, LIVE_SECRET),
      };
      let t = performance.now();
      const sessions = await loginPool(target, LIVE, pool, 8);
      log(`refresh pool: ${pool} password grants in realm ${LIVE} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      await createSessions(a, big, 0, n, log);
      if ((await onlineCount(a, big.realmId)) !== n) throw new Error(`realm ${REALM} does not hold ${n} sessions`);

      child = fork(LOAD_JS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      const running = nextMessage(child, 'running', 60_000);
      const start: RefreshLoadStart = { type: 'start', target, realm: LIVE, refreshTokens: sessions.map((s) => s.refresh), connections: LOAD_CONNECTIONS, warmupMs: LOAD_WARMUP_MS };
      child.send(start);
      await running;
      const loadFrom = epochMs();
      await sleep(MARGIN_MS);

      const url = `${a.origin}/admin/realms/${REALM}/logout-all`;
      const postStart = epochMs();
      t = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      const seconds = (performance.now() - t) / 1000;
      const postEnd = epochMs();
      if (res.status !== 200) throw new Error(`POST ${url}: status ${res.status}: ${text.slice(0, 300)}`);

      await sleep(MARGIN_MS);
      const resultP = nextMessage<RefreshLoadResult>(child, 'result', 30_000);
      child.send({ type: 'stop' });
      const result = await resultP;

      const left = await onlineCount(a, big.realmId);
      if (left !== 0) throw new Error(`${left} sessions survived logout-all`);
      if ((await onlineCount(a, live.realmId)) < pool) throw new Error(`logout-all of ${REALM} ended sessions of ${LIVE}`);

      // Responses of the load window (after the warm-up), and of those the ones in flight during the POST.
      const all: number[] = [];
      const during: number[] = [];
      for (let i = 0; i < result.ends.length; i++) {
        const end = result.ends[i]!;
        const latency = result.latencies[i]!;
        if (end < loadFrom) continue;
        all.push(latency);
        if (end >= postStart && end - latency <= postEnd) during.push(latency);
      }
      const non2xx = Object.entries(result.statuses).filter(([status]) => !status.startsWith('2')).reduce((sum, [, c]) => sum + c, 0);
      if (non2xx > 0 || result.socketErrors > 0 || result.timeouts > 0) {
        throw new Error(`refresh load: statuses ${JSON.stringify(result.statuses)}, ${result.socketErrors} socket errors, ${result.timeouts} timeouts`);
      }
      if (during.length === 0) throw new Error('no refresh grant was in flight during logout-all');
      const p99 = percentile(during, 99);
      log(
        `logout-all of ${n.toLocaleString('en-US')} sessions: ${seconds.toFixed(2)} s; refresh grants in flight meanwhile: ${during.length}, ` +
          `p50 ${percentile(during, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...during).toFixed(1)} ms; ` +
          `whole load window: ${all.length} grants, p99 ${percentile(all, 99).toFixed(1)} ms`,
      );
      if (n !== SESSIONS_FULL) log(`quick run: ${n.toLocaleString('en-US')} sessions (the metrics keep their 1m names)`);
      return [row(NAME, 'logout_all_1m_seconds', seconds, 's'), row(NAME, 'token_p99_ms_during_logout_all', p99, 'ms')];
    } finally {
      if (child !== null && child.exitCode === null) child.kill('SIGKILL');
      await a.stop();
    }
  },
};
