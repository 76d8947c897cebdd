// soak: a bounded mixed load for a long time, with faults thrown in
// (docs/performance.md#targets: memory flat after warm-up, no errors).
//
//   soak_rss_growth_ratio   the server's RSS at the end / its RSS right after
//                           the warm-up (the first fifth of the run); each the
//                           median of three samples 2 s apart (target < 1.1)
//   soak_errors             failed requests of the well-formed load (non-2xx,
//                           socket errors, timeouts) plus any 5xx the faults
//                           got (target 0)
//   soak_p99_ms             p99 latency of the well-formed load over the run
//
// The load is http-mixed's virtual user (login, 5 refreshes, 2
// introspections, logout: sessions are created and ended all the time),
// 8 connections paced at 50 requests/s each, so at most 400 requests/s: the
// soak is about staying healthy, not about speed. Once a second, beside it,
// one fault from a fixed rotation:
//
//   garbage      20 malformed requests (bad forms, bad JSON, forged tokens, unknown
//                realms, absurd paging on the admin API) — 4xx expected
//   big-body     a 2 MB body on the token endpoint — 413 expected
//   abort        requests cut off mid-body, and connections closed before an answer
//   wrong-pass   10 password grants with wrong passwords — 401 expected
//   slow-client  a request trickled a byte every 100 ms for 2 s, then dropped
//
// Duration: 10 minutes, --quick 1 minute. The node is a local one (the fault
// traffic needs its admin API and free ports); --target is refused.

import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { row, type Row, type Scenario } from '../lib/scenario.js';
import { median } from '../lib/stats.js';
import { describeLoad, runLoad } from '../http/load.js';
import { stopAll } from '../http/processes.js';
import { errorRows, latencyRows } from '../http/report.js';
import { form } from '../http/requests.js';
import { httpBench, POOL_HASH_ITERATIONS, setupTarget, type TargetSetup } from '../http/setup.js';
import { paths, type Target } from '../http/target.js';
import { sequence, type Tally } from './http-mixed.js';

const NAME = 'soak';
const DURATION_S = 600;
const DURATION_QUICK_S = 60;
/** The warm-up share of the run: RSS is compared from its end. */
const WARMUP_SHARE = 0.2;
const CONNECTIONS = 8;
const RATE_PER_CONNECTION = 50;
const FAULT_INTERVAL_MS = 1000;
const RSS_SAMPLES = 3;
const RSS_SAMPLE_GAP_MS = 2000;
const BIG_BODY_BYTES = 2 * 1024 * 1024;
const FAULT_TIMEOUT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return kb === null ? 0 : Number(kb[1]) * 1024;
}

async function rssMedian(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < RSS_SAMPLES; i++) {
    if (i > 0) await sleep(RSS_SAMPLE_GAP_MS);
    samples.push(rssBytes(pid));
  }
  return median(samples);
}

interface FaultTally {
  injected: number;
  byStatus: Record<string, number>;
  fiveXx: number;
}

/** One raw HTTP exchange; resolves with the status (0 when the connection failed, as a cut-off request should). */
function exchange(origin: string, method: string, path: string, headers: Record<string, string>, body: string | Buffer | null): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(`${origin}${path}`, { method, headers: { ...headers, ...(body !== null ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, timeout: FAULT_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end(body ?? undefined);
  });
}

function count(tally: FaultTally, status: number): void {
  tally.byStatus[status] = (tally.byStatus[status] ?? 0) + 1;
  if (status >= 500) tally.fiveXx++;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

const FAULTS: readonly { name: string; run: (target: Target, realm: string, tally: FaultTally) => Promise<void> }[] = [
  {
    name: 'garbage',
    run: async (target, realm, tally) => {
      const token = paths.token(target, realm);
      const requests: [string, string, Record<string, string>, string | null][] = [
        ['POST', token, FORM, 'grant_type=password&username=%ZZ'],
        ['POST', token, FORM, form({ grant_type: 'refresh_token', refresh_token: 'a.b.c' })],
        ['POST', token, FORM, form({ grant_type: 'authorization_code', code: 'x.y' })],
        ['POST', token, JSON_TYPE, '{"grant_type":'],
        ['POST', token, { 'content-type': 'text/plain' }, 'hello'],
        ['POST', token, { ...FORM, authorization: 'Basic !!!' }, form({ grant_type: 'client_credentials' })],
        ['POST', paths.introspect(target, realm), { ...FORM, authorization: target.authorization }, form({ token: 'e30.e30.forged' })],
        ['GET', `/realms/${realm}/protocol/openid-connect/userinfo`, { authorization: 'Bearer e30.e30.forged' }, null],
        ['GET', '/realms/no-such-realm/.well-known/openid-configuration', {}, null],
        ['GET', `/realms/${realm}/protocol/openid-connect/auth?client_id=nope&redirect_uri=http://evil.example`, {}, null],
        ['GET', `/admin/realms/${realm}/users?first=-1&max=99999999999`, { authorization: 'Bearer forged' }, null],
        ['GET', `/admin/realms/${realm}/sessions/count?ipIn=10.0.0.0/99`, {}, null],
        ['DELETE', `/admin/realms/${realm}/sessions/${'x'.repeat(300)}`, {}, null],
        ['PUT', `/admin/realms/${realm}`, { ...JSON_TYPE, authorization: 'Bearer x' }, '{"__proto__":{"polluted":true}}'],
        ['POST', `/realms/${realm}/login-actions/authenticate`, FORM, 'username=a&password=b'],
        ['POST', paths.logout(target, realm), { ...FORM, authorization: target.authorization }, form({ refresh_token: 'garbage' })],
        ['POST', `/realms/${realm}/protocol/openid-connect/revoke`, { ...FORM, authorization: target.authorization }, form({ token: 'garbage' })],
        ['GET', `/realms/${'%'.repeat(3)}/protocol/openid-connect/certs`, {}, null],
        ['OPTIONS', token, { origin: 'http://evil.example', 'access-control-request-method': 'POST' }, null],
        ['GET', `/realms/${realm}/protocol/openid-connect/${'y'.repeat(1000)}`, {}, null],
      ];
      for (const [method, path, headers, body] of requests) {
        tally.injected++;
        count(tally, await exchange(target.origin, method, path, headers, body));
      }
    },
  },
  {
    name: 'big-body',
    run: async (target, realm, tally) => {
      tally.injected++;
      count(tally, await exchange(target.origin, 'POST', paths.token(target, realm), { ...FORM, authorization: target.authorization }, Buffer.alloc(BIG_BODY_BYTES, 0x61)));
    },
  },
  {
    name: 'abort',
    run: async (target, realm) => {
      const url = new URL(target.origin);
      await Promise.all(
        [0, 1, 2].map(
          (i) =>
            new Promise<void>((resolve) => {
              const socket = connect(Number(url.port), url.hostname, () => {
                // Half a request, then gone: the server must forget it.
                const body = form({ grant_type: 'password', username: 'x', password: 'y' });
                socket.write(`POST ${paths.token(target, realm)} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length + 100}\r\n\r\n${i === 0 ? '' : body}`);
                setTimeout(() => socket.destroy(), 20 * (i + 1));
              });
              socket.on('close', () => resolve());
              socket.on('error', () => resolve());
            }),
        ),
      );
    },
  },
  {
    name: 'wrong-pass',
    run: async (target, realm, tally) => {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          tally.injected++;
          count(tally, await exchange(target.origin, 'POST', paths.token(target, realm), { ...FORM, authorization: target.authorization }, form({ grant_type: 'password', username: `${target.usersPrefix}${i}`, password: 'wrong' })));
        }),
      );
    },
  },
  {
    name: 'slow-client',
    run: async (target) => {
      const url = new URL(target.origin);
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname);
        const text = `GET /realms/x/.well-known/openid-configuration HTTP/1.1\r\nhost: ${url.host}\r\n`;
        let i = 0;
        const timer = setInterval(() => {
          if (i >= 20 || socket.destroyed) {
            clearInterval(timer);
            socket.destroy();
            return;
          }
          socket.write(text[i++ % text.length]!);
        }, 100);
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    },
  },
];

export const soak: Scenario = {
  name: NAME,
  description: 'a bounded mixed load for 10 minutes (quick: 1) with faults each second: RSS growth after warm-up, errors, p99',
  async run(options) {
    const b = httpBench(NAME, options);
    if (b.opts.target !== null) throw new Error('soak runs against its own local node; --target is not supported');
    const durationS = b.quick ? DURATION_QUICK_S : DURATION_S;
    let setup: TargetSetup | null = null;
    try {
      setup = await setupTarget(b, [{ name: 'bench-soak', algorithm: 'ES256' }], POOL_HASH_ITERATIONS);
      const target = setup.target;
      const realm = setup.realms[0]!;
      const pid = setup.local!.process.pid!;
      const tally: Tally = { active: 0, inactive: 0, logouts: 0 };
      const faults: FaultTally = { injected: 0, byStatus: {}, fiveXx: 0 };
      const faultRuns: Record<string, number> = {};
      let running = true;

      const faultLoop = (async () => {
        let next = 0;
        while (running) {
          const fault = FAULTS[next++ % FAULTS.length]!;
          const started = Date.now();
          await fault.run(target, realm, faults);
          faultRuns[fault.name] = (faultRuns[fault.name] ?? 0) + 1;
          await sleep(Math.max(0, FAULT_INTERVAL_MS - (Date.now() - started)));
        }
      })();
      const rss = { warm: 0, end: 0 };
      const sampler = (async () => {
        await sleep(durationS * WARMUP_SHARE * 1000);
        rss.warm = await rssMedian(pid);
        b.log(`RSS after warm-up: ${(rss.warm / 1048576).toFixed(1)} MiB`);
      })();
      const load = await runLoad({
        label: 'soak',
        origin: target.origin,
        connections: CONNECTIONS,
        connectionRate: RATE_PER_CONNECTION,
        durationS,
        requests: sequence(target, realm, tally),
        timeoutS: 30,
        progress: b.progress,
        serverPid: pid,
      });
      await sampler;
      rss.end = await rssMedian(pid);
      running = false;
      await faultLoop;
      b.log(describeLoad(load));
      b.log(`RSS at the end: ${(rss.end / 1048576).toFixed(1)} MiB; faults: ${JSON.stringify(faultRuns)}; fault answers ${JSON.stringify(faults.byStatus)}; introspections inactive ${tally.inactive}`);
      const errors = load.errors + faults.fiveXx + tally.inactive;
      const rows: Row[] = [
        row(NAME, 'soak_rss_growth_ratio', rss.warm > 0 ? rss.end / rss.warm : 0, 'x'),
        row(NAME, 'soak_rss_bytes_end', rss.end, 'bytes', rss.warm),
        row(NAME, 'soak_errors', errors, 'errors'),
        row(NAME, 'soak_p99_ms', load.latency.p99, 'ms'),
        row(NAME, 'soak_rps', load.rps, 'req/s'),
        row(NAME, 'soak_faults_injected', faults.injected, 'requests'),
        row(NAME, 'soak_fault_5xx', faults.fiveXx, 'responses'),
        ...latencyRows(NAME, 'soak', load),
        ...errorRows(NAME, 'soak', load),
      ];
      return rows;
    } finally {
      await stopAll([setup]);
    }
  },
};
