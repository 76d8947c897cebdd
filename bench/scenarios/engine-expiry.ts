// engine-expiry: mass expiry of N sessions in virtual time (docs/performance.md#targets:
// 1 M sessions in < 1 s of CPU, while concurrent ops keep a p99 < 5 ms).
//
// An Engine with 2 shards runs on a ManualClock. Two rounds, each on N fresh
// sessions of distinct users whose idle deadline (idle + grace) the clock then
// passes; engine.advanceTime() resolves when every shard has fired them all:
//
//   round 1  nothing else runs: process CPU (main + workers: process.cpuUsage
//            is RUSAGE_SELF, which counts every thread) between the call and
//            its resolution is expiry_cpu_seconds_1m.
//   round 2  meanwhile getSession() of sessions in a second realm with long
//            timeouts, one after another; the p99 of their latencies is
//            concurrent_op_p99_ms. (Measuring CPU here too would charge the
//            gets to expiry, hence two rounds.)
//
// Nobody listens to the engine's 'expired' event, as in src/ today, so shards
// ship no expiry notices; a listener would add their cost.

import { performance } from 'node:perf_hooks';
import { IDLE_GRACE_DEFAULT_S } from '../../src/constants.js';
import { Engine } from '../../src/host/engine.js';
import { SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S } from '../../src/session/index.js';
import { ManualClock } from '../../src/time/clock.js';
import { flatUuid, ipOf, lcg, username } from '../lib/data.js';
import { row, type Scenario } from '../lib/scenario.js';
import { cpuSecondsSince, percentile } from '../lib/stats.js';

const NAME = 'engine-expiry';
const SHARDS = 2;
const SESSIONS_FULL = 1_000_000;
const SESSIONS_QUICK = 200_000;
const LIVE_SESSIONS = 1_000;
const CREATE_CONCURRENCY = 4096;
const START_SECOND = 1_800_000_000;
const REALM = 'bench';
const LIVE_REALM = 'live';
const CLIENT = 'c-1';
const LIVE_CLIENT = 'c-live';
const LIVE_IDLE_S = 30 * 86_400;
/** Past the idle deadline (idle + grace) of sessions last used "now". */
const EXPIRE_AFTER_S = SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S + IDLE_GRACE_DEFAULT_S + 1;

async function createMany(engine: Engine, realm: string, client: string, count: number, offset: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = offset + next++;
      const { session } = await engine.createSession({
        realm,
        userId: flatUuid(),
        username: username(i),
        ip: ipOf(i),
        client: { client, scope: 'openid' },
      });
      ids.push(session.id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, count) }, lane));
  return ids;
}

async function onlineIn(engine: Engine, realm: string): Promise<number> {
  const stats = await engine.stats();
  return stats.reduce((sum, s) => sum + (s.realms[realm]?.[0] ?? 0), 0);
}

export const engineExpiry: Scenario = {
  name: NAME,
  description: 'mass idle expiry of 1 M sessions over 2 shard workers: CPU seconds, and p99 of getSession meanwhile',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const clock = new ManualClock(START_SECOND);
    const engine = await Engine.start({ shards: SHARDS, clock, clockMode: 'manual' });
    try {
      await engine.putRealm(REALM, {});
      await engine.putClient(REALM, CLIENT, {});
      await engine.putRealm(LIVE_REALM, { ssoSessionIdleTimeout: LIVE_IDLE_S, ssoSessionMaxLifespan: 10 * LIVE_IDLE_S });
      await engine.putClient(LIVE_REALM, LIVE_CLIENT, {});
      const live = await createMany(engine, LIVE_REALM, LIVE_CLIENT, LIVE_SESSIONS, 0);

      // Round 1: expiry alone.
      let t = performance.now();
      await createMany(engine, REALM, CLIENT, n, LIVE_SESSIONS);
      log(`round 1: created ${n.toLocaleString('en-US')} sessions in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      clock.advance(EXPIRE_AFTER_S);
      const cpu1 = process.cpuUsage();
      t = performance.now();
      await engine.advanceTime(clock.nowSeconds());
      const cpuSeconds = cpuSecondsSince(cpu1);
      const wall1 = (performance.now() - t) / 1000;
      const left1 = await onlineIn(engine, REALM);
      if (left1 !== 0) throw new Error(`round 1: ${left1} sessions survived expiry`);
      log(`round 1: expired ${n.toLocaleString('en-US')} in ${wall1.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU`);

      // Round 2: expiry with getSession of live sessions one after another.
      t = performance.now();
      await createMany(engine, REALM, CLIENT, n, LIVE_SESSIONS + n);
      log(`round 2: created ${n.toLocaleString('en-US')} sessions in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      clock.advance(EXPIRE_AFTER_S);
      const random = lcg(7);
      const latencies: number[] = [];
      let done = false;
      const cpu2 = process.cpuUsage();
      t = performance.now();
      const expiry = engine.advanceTime(clock.nowSeconds()).finally(() => {
        done = true;
      });
      const probe = (async (): Promise<void> => {
        while (!done) {
          const id = live[Math.floor(random() * live.length)]!;
          const start = performance.now();
          const got = await engine.getSession(id);
          latencies.push(performance.now() - start);
          if (got === null || got.invalid !== null) throw new Error(`live session ${id} was ${got === null ? 'gone' : got.invalid}`);
        }
      })();
      await Promise.all([expiry, probe]);
      const wall2 = (performance.now() - t) / 1000;
      const cpu2Seconds = cpuSecondsSince(cpu2);
      const left2 = await onlineIn(engine, REALM);
      if (left2 !== 0) throw new Error(`round 2: ${left2} sessions survived expiry`);
      if (latencies.length === 0) throw new Error('round 2: no concurrent op completed during expiry');
      const p99 = percentile(latencies, 99);
      log(
        `round 2: expired in ${wall2.toFixed(2)} s wall, ${cpu2Seconds.toFixed(2)} s CPU with ${latencies.length} concurrent gets: ` +
          `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms`,
      );
      if ((await onlineIn(engine, LIVE_REALM)) !== LIVE_SESSIONS) throw new Error('live sessions were lost');

      // The metric is per million sessions: a quick run's smaller N is scaled up
      // linearly (expiry does a fixed amount of work per session).
      const cpuPerMillion = (cpuSeconds * 1_000_000) / n;
      if (n !== 1_000_000) log(`expiry_cpu_seconds_1m scaled from ${n.toLocaleString('en-US')} sessions: ${cpuPerMillion.toFixed(2)} s`);
      return [row(NAME, 'expiry_cpu_seconds_1m', cpuPerMillion, 's'), row(NAME, 'concurrent_op_p99_ms', p99, 'ms')];
    } finally {
      await engine.close();
    }
  },
};
