// http-mixed: the life of a session as clients drive it, per virtual user
// (one autocannon connection looping over the sequence): a password login,
// 5 refreshes, 2 introspections of the latest access token, and a logout
// with the refresh token (204). Every connection starts a new user session
// per loop (users round-robin), so sessions are created and ended as fast as
// they are used: the session table's create/delete path runs under load next
// to the refresh/validate path. No baseline: it is the headline figure of a
// realistic mix (mixed_rps), with complete cycles per second beside it.
//
// The generated users' hashes use --hash-iterations (default 1,000, not
// 210,000): with a real hash every cycle would wait ~100 ms of PBKDF2 and the
// mix would measure the hash pool, which http-password already does.

import { row, type Row, type Scenario } from '../lib/scenario.js';
import type { LoadRequest } from '../http/load.js';
import { stopAll } from '../http/processes.js';
import { httpErrorsRow, runRows } from '../http/report.js';
import { countActive, form, passwordBody, type ActiveTally } from '../http/requests.js';
import { httpBench, measure, POOL_HASH_ITERATIONS, setupTarget, type TargetSetup } from '../http/setup.js';
import { paths, type Target } from '../http/target.js';

const NAME = 'http-mixed';
const REFRESHES = 5;
const INTROSPECTIONS = 2;

interface UserContext {
  access?: string;
  refresh?: string;
}

export interface Tally extends ActiveTally {
  logouts: number;
}

function keepTokens(status: number, body: string, context: object): void {
  if (status !== 200) return;
  const json = JSON.parse(body) as Record<string, unknown>;
  const ctx = context as UserContext;
  if (typeof json['access_token'] === 'string') ctx.access = json['access_token'];
  if (typeof json['refresh_token'] === 'string') ctx.refresh = json['refresh_token'];
}

/** One user's sequence. A step whose token is missing (its login failed) returns null: autocannon restarts the sequence. */
export function sequence(target: Target, realm: string, tally: Tally): LoadRequest[] {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization };
  const tokenPath = paths.token(target, realm);
  let nextUser = 0;
  const login: LoadRequest = {
    step: 'login',
    method: 'POST',
    path: tokenPath,
    headers,
    setupRequest: (req) => {
      req.body = passwordBody(target, nextUser);
      nextUser = (nextUser + 1) % target.users;
      return req;
    },
    onResponse: keepTokens,
  };
  const withToken = (step: string, path: string, build: (ctx: UserContext) => string | null, onResponse: LoadRequest['onResponse']): LoadRequest => ({
    step,
    method: 'POST',
    path,
    headers,
    setupRequest: (req, context) => {
      const body = build(context as UserContext);
      if (body === null) return null as unknown as LoadRequest;
      req.body = body;
      return req;
    },
    ...(onResponse !== undefined ? { onResponse } : {}),
  });
  const refresh = withToken('refresh', tokenPath, (c) => (c.refresh === undefined ? null : form({ grant_type: 'refresh_token', refresh_token: c.refresh })), keepTokens);
  const introspect = withToken(
    'introspect',
    paths.introspect(target, realm),
    (c) => (c.access === undefined ? null : form({ token: c.access, token_type_hint: 'access_token' })),
    (status, body) => countActive(tally, status, body),
  );
  const logout = withToken(
    'logout',
    paths.logout(target, realm),
    (c) => (c.refresh === undefined ? null : form({ refresh_token: c.refresh })),
    (status) => {
      if (status === 204) tally.logouts++;
    },
  );
  return [login, ...Array.from({ length: REFRESHES }, () => refresh), ...Array.from({ length: INTROSPECTIONS }, () => introspect), logout];
}

export const httpMixed: Scenario = {
  name: NAME,
  description: `per virtual user: login, ${REFRESHES} refreshes, ${INTROSPECTIONS} introspections, logout (mixed_rps)`,
  async run(options) {
    const b = httpBench(NAME, options);
    const o = b.opts;
    let setup: TargetSetup | null = null;
    try {
      setup = await setupTarget(b, [{ name: 'bench-mixed', algorithm: o.algorithm ?? 'ES256' }], POOL_HASH_ITERATIONS);
      const target = setup.target;
      const realm = setup.realms[0]!;
      // Logouts are counted only in the measured window's requests: the warm-up gets its own tally.
      let tally: Tally = { active: 0, inactive: 0, logouts: 0 };
      let inactive = 0;
      const subject = await measure(b, {
        label: target.local ? 'sessiond' : 'target',
        origin: target.origin,
        requests: () => {
          inactive += tally.inactive;
          tally = { active: 0, inactive: 0, logouts: 0 };
          return sequence(target, realm, tally);
        },
        server: setup.local?.process ?? null,
      });
      inactive += tally.inactive;
      const cycles = (subject.steps['logout']?.ok ?? tally.logouts) / subject.seconds;
      b.log(`${cycles.toFixed(0)} complete cycles/s; introspections of the last run active:true ${tally.active}, active:false ${inactive} over all runs`);
      const rows: Row[] = [
        row(NAME, 'mixed_rps', subject.rps, 'req/s'),
        row(NAME, 'mixed_cycles_per_s', cycles, 'users/s'),
        ...runRows(NAME, 'mixed', subject),
        ...Object.entries(subject.steps).flatMap(([step, s]) => [
          row(NAME, `mixed_${step}_latency_p50_ms`, s.latency.p50, 'ms'),
          row(NAME, `mixed_${step}_latency_p99_ms`, s.latency.p99, 'ms'),
        ]),
        row(NAME, 'mixed_errors_inactive', inactive, 'responses'),
        httpErrorsRow(NAME, [subject]),
      ];
      return rows;
    } finally {
      await stopAll([setup]);
    }
  },
};
