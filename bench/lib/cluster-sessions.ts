// Sessions for the cluster-* scenarios: a realm whose users hash with one
// PBKDF2 iteration (so that logging in hundreds of thousands of sessions costs
// token signing and session creation, not hashing), bulk logins spread over
// the nodes with autocannon, single refreshes with a deadline, and a
// verification pass that refreshes every kept session once and names the
// ones that failed.
//
// Only what a check needs is kept per session (refresh token, session id):
// 300 k full token responses would take about a gigabyte.

import { performance } from 'node:perf_hooks';
import type { RealmSpec } from '../http/realm-file.js';
import { form, passwordBody } from '../http/requests.js';
import { runLoad, type LoadRequest } from '../http/load.js';
import { paths, type Target } from '../http/target.js';

export const CLUSTER_REALM = 'bench-cluster';
/** Cheap logins: the cluster's cost, not PBKDF2's, is what these scenarios look at. */
const HASH_ITERATIONS = 1;
/** Distinct users; sessions past this count log the same users in again. */
const USERS = 1_000;
const FORM = 'application/x-www-form-urlencoded';
/**
 * Logins in flight per node while a scenario makes its bulk sessions. Each
 * login costs the cluster ~2 ms of CPU with 16 (context switches across
 * threads and nodes), ~3-5 ms with 4: 300,000 logins take 330-390 s at 16
 * (measured 2026-12-06, no view change meanwhile), 560 s at 4, the value
 * until then (chosen when more in flight stalled the nodes' event loops past
 * the failure detector's 1.5 s and got healthy nodes evicted).
 */
export const BULK_LOGIN_CONNECTIONS = 16;
/** Rounds of logins before the setup gives up on refused ones. */
const LOGIN_ROUNDS = 3;

export function clusterRealm(rotation: boolean): RealmSpec {
  return {
    name: CLUSTER_REALM,
    algorithm: 'ES256',
    users: USERS,
    usersPrefix: 'bench-user-',
    password: 'bench-password',
    hashIterations: HASH_ITERATIONS,
    client: 'bench-client',
    secret: 'bench-secret',
    rotation,
  };
}

/** Sessions kept by index: refresh token and session id (the `sid` claim). */
export interface SessionPool {
  refresh: string[];
  sid: string[];
  /**
   * Sessions whose latest refresh got no answer or a 5xx: the server may have
   * run it and rotated the token, so the one kept may be stale (and, in a
   * rotation realm, presenting it is reuse, which ends the client session).
   * A later acknowledged refresh makes the session certain again.
   */
  uncertain: Set<number>;
}

/** The `sid` claim of a JWT (no verification: the token came from the server just now). */
export function sidOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { sid?: unknown };
  if (typeof payload.sid !== 'string') throw new Error('token without a sid claim');
  return payload.sid;
}

function tokenHeaders(target: Target): Record<string, string> {
  return { 'content-type': FORM, authorization: target.authorization };
}

/**
 * Logs in `count` sessions, spread evenly over `targets` (one autocannon run
 * per node, all at once, `connections` each, `pipelining` requests in flight
 * per connection: keep it 1, autocannon 7 with `amount` and pipelining
 * left each connection's last response unawaited here, and the run hung).
 */
export async function loginSessions(targets: readonly Target[], count: number, connections: number, pipelining: number, log: (line: string) => void): Promise<SessionPool> {
  const pool: SessionPool = { refresh: [], sid: [], uncertain: new Set() };
  let failures = 0;
  let firstFailure: string | null = null;
  let user = 0;
  const started = performance.now();
  const ticker = setInterval(() => log(`  logins: ${pool.refresh.length}/${count}`), 10_000);
  try {
    // A refused login acknowledged nothing: the missing ones are logged in again, a few rounds at most.
    for (let round = 0; round < LOGIN_ROUNDS && pool.refresh.length < count; round++) {
      const missing = count - pool.refresh.length;
      await Promise.all(
        targets.map((target, i) => {
          const amount = Math.floor(missing / targets.length) + (i < missing % targets.length ? 1 : 0);
          if (amount === 0) return null;
          const request: LoadRequest = {
            method: 'POST',
            path: paths.token(target, CLUSTER_REALM),
            headers: tokenHeaders(target),
            setupRequest: (req) => {
              req.body = passwordBody(target, user++ % target.users);
              return req;
            },
            onResponse: (status, body) => {
              if (status === 200 && pool.refresh.length < count) {
                const json = JSON.parse(body) as { access_token?: string; refresh_token?: string };
                if (json.access_token !== undefined && json.refresh_token !== undefined) {
                  pool.refresh.push(json.refresh_token);
                  pool.sid.push(sidOf(json.access_token));
                  return;
                }
              }
              if (status !== 200) {
                failures++;
                firstFailure ??= `status ${status}: ${body.slice(0, 300)}`;
              }
            },
          };
          return runLoad({ label: `logins ${target.origin}`, origin: target.origin, connections, amount, requests: [request], timeoutS: 60, progress: null, pipelining });
        }),
      );
    }
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - started) / 1000;
  if (failures > 0) log(`${failures} logins refused during the setup (logged in again); first: ${firstFailure!}`);
  if (pool.refresh.length < count) throw new Error(`logins: ${pool.refresh.length}/${count} succeeded after ${LOGIN_ROUNDS} rounds; first failure: ${firstFailure ?? 'socket errors or timeouts'}`);
  log(`${count} sessions logged in through ${targets.length} node(s) in ${seconds.toFixed(1)} s (${Math.round(count / seconds)}/s)`);
  return pool;
}

export interface RefreshOutcome {
  /** HTTP status, or 0 when no answer came (connection error, deadline). */
  status: number;
  /** The new refresh token on 200. */
  refresh: string | null;
  body: string;
}

/** One refresh_token grant through `target`, with a deadline. */
export async function refreshOnce(target: Target, refreshToken: string, timeoutMs: number, realm = CLUSTER_REALM): Promise<RefreshOutcome> {
  try {
    const res = await fetch(`${target.origin}${paths.token(target, realm)}`, {
      method: 'POST',
      headers: tokenHeaders(target),
      body: form({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    if (res.status !== 200) return { status: res.status, refresh: null, body };
    return { status: 200, refresh: (JSON.parse(body) as { refresh_token: string }).refresh_token, body: '' };
  } catch (err) {
    return { status: 0, refresh: null, body: (err as Error).message };
  }
}

/** A refresh_token grant request cycling through `tokens` (shared round-robin). */
export function refreshCycle(target: Target, tokens: readonly string[]): LoadRequest {
  let next = 0;
  return {
    method: 'POST',
    path: paths.token(target, CLUSTER_REALM),
    headers: tokenHeaders(target),
    setupRequest: (req) => {
      req.body = form({ grant_type: 'refresh_token', refresh_token: tokens[next]! });
      next = next + 1 === tokens.length ? 0 : next + 1;
      return req;
    },
  };
}

/**
 * What presenting a rotated-away refresh token answers in a rotation realm:
 * the reuse itself, then (the client session ended by it) the retry's answer.
 */
const REUSE_ANSWERS = ['Stale token', "Session doesn't have required client", 'Maximum allowed refresh token reuse exceeded'];

export interface Verification {
  checked: number;
  /** Indexes of sessions whose refresh failed twice (the bulk pass, then one retry alone): lost. */
  failed: number[];
  /**
   * Failed the same way, but uncertain (`SessionPool.uncertain`) and with an
   * answer that rotation explains (REUSE_ANSWERS): not a loss the check can prove.
   */
  uncertain: number[];
  /** A sample of the failures' answers. */
  samples: string[];
  seconds: number;
}

/**
 * Refreshes every session once, each through a node picked round-robin, in
 * bulk (autocannon, pipelined); a session that fails is tried once more on
 * its own through another node before it counts as failed (or as uncertain,
 * when its latest refresh before the check went unanswered and the answer is
 * one token reuse gives). The bulk
 * pass's answers are tied to their session by the connection's context.
 */
export async function verifySessions(targets: readonly Target[], pool: SessionPool, connections: number, pipelining: number): Promise<Verification> {
  const started = performance.now();
  const suspects: number[] = [];
  let next = 0;
  const count = pool.refresh.length;
  const runs = targets.map((target, t) => {
    const share = Math.floor(count / targets.length) + (t < count % targets.length ? 1 : 0);
    // Each connection's context remembers which sessions it has in flight, in order.
    const request: LoadRequest = {
      method: 'POST',
      path: paths.token(target, CLUSTER_REALM),
      headers: tokenHeaders(target),
      setupRequest: (req, context) => {
        // autocannon may start a request or two past `amount`: those check a session again.
        const i = next++ % count;
        ((context as { inFlight?: number[] }).inFlight ??= []).push(i);
        req.body = form({ grant_type: 'refresh_token', refresh_token: pool.refresh[i]! });
        return req;
      },
      onResponse: (status, _body, context) => {
        const i = (context as { inFlight: number[] }).inFlight.shift()!;
        if (status !== 200) suspects.push(i);
      },
    };
    return runLoad({ label: `verify ${target.origin}`, origin: target.origin, connections, amount: share, requests: [request], timeoutS: 30, progress: null, pipelining });
  });
  const results = await Promise.all(runs);
  const unanswered = results.reduce((n, r) => n + r.socketErrors + r.timeouts, 0);
  const failed: number[] = [];
  const uncertain: number[] = [];
  const samples: string[] = [];
  for (const [k, i] of suspects.entries()) {
    const target = targets[(k + 1) % targets.length]!;
    const outcome = await refreshOnce(target, pool.refresh[i]!, 5_000);
    if (outcome.status === 200) continue;
    const certain = !(pool.uncertain.has(i) && outcome.status === 400 && REUSE_ANSWERS.some((d) => outcome.body.includes(d)));
    (certain ? failed : uncertain).push(i);
    if (samples.length < 5) samples.push(`session ${pool.sid[i]!}${certain ? '' : ' (uncertain)'}: ${outcome.status} ${outcome.body.slice(0, 200)}`);
  }
  if (unanswered > 0) samples.push(`${unanswered} requests of the bulk pass got no answer (socket errors / timeouts): their sessions were not checked`);
  return { checked: count - unanswered, failed, uncertain, samples, seconds: (performance.now() - started) / 1000 };
}
