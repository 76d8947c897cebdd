// http-introspect: token introspection (RFC 7662) over HTTP over a pool of
// access tokens of K = --users logged-in sessions, round-robin. Each check
// verifies the signature and asks the session's shard whether the session
// and its client session are still valid. Baseline: the bare Fastify server
// verifying the same kind of token (same algorithm and claims) and echoing
// its claims, with no session lookup, back to back with the same connections
// and duration (no target in docs/performance.md#targets).
//
// A 200 with `"active":false` is a failure the status code hides: every body
// is checked and such answers are reported as `introspect_errors_inactive`.

import { row, type Row, type Scenario } from '../lib/scenario.js';
import { algorithmOf, bareRealm, startBareServer, type BareServer } from '../http/bare.js';
import { stopAll } from '../http/processes.js';
import { httpErrorsRow, runRows } from '../http/report.js';
import { introspectRequest, loginPool, type ActiveTally } from '../http/requests.js';
import type { LoadResult } from '../http/load.js';
import { httpBench, measure, measureInterleaved, POOL_HASH_ITERATIONS, setupTarget, type Measured, type TargetSetup } from '../http/setup.js';
import type { Target } from '../http/target.js';

const NAME = 'http-introspect';

export const httpIntrospect: Scenario = {
  name: NAME,
  description: 'token introspection over HTTP over a pool of access tokens vs a bare Fastify server verifying the same tokens',
  async run(options) {
    const b = httpBench(NAME, options);
    const o = b.opts;
    let setup: TargetSetup | null = null;
    let bare: BareServer | null = null;
    try {
      setup = await setupTarget(b, [{ name: 'bench-introspect', algorithm: o.algorithm ?? 'ES256' }], POOL_HASH_ITERATIONS);
      const target = setup.target;
      const realm = setup.realms[0]!;
      const started = Date.now();
      const pool = await loginPool(target, realm, o.users, o.connections);
      const tokens = pool.map((s) => s.access);
      const algorithm = algorithmOf(pool[0]!.response);
      b.log(`${pool.length} sessions logged in in ${Date.now() - started} ms; access tokens ${algorithm ?? 'opaque'}`);

      // One tally per server over all its runs (warm-up included): any inactive answer is a failure.
      const tally: ActiveTally = { active: 0, inactive: 0 };
      const bareTally: ActiveTally = { active: 0, inactive: 0 };
      const subjectLoad: Measured = {
        label: target.local ? 'sessiond' : 'target',
        origin: target.origin,
        requests: () => [introspectRequest(target, realm, tokens, tally)],
        server: setup.local?.process ?? null,
      };
      let baseline: LoadResult | null = null;
      let subject: LoadResult;
      if (algorithm !== null) {
        bare = await startBareServer(target.client, target.secret, o.users, { [realm]: bareRealm(algorithm, pool[0]!.response, null) }, o, b.log);
        const bareTarget: Target = { ...target, origin: bare.origin, basePath: '' };
        const bareTokens = bare.tokens[realm]!.access;
        const results = await measureInterleaved(b, [
          { label: 'bare', origin: bare.origin, requests: () => [introspectRequest(bareTarget, realm, bareTokens, bareTally)], server: bare.process },
          subjectLoad,
        ]);
        [baseline, subject] = [results[0]!, results[1]!];
      } else {
        subject = await measure(b, subjectLoad);
      }
      b.log(`active:true answers ${tally.active}, active:false ${tally.inactive} (bare: ${bareTally.active} / ${bareTally.inactive})`);
      const rows: Row[] = [
        row(NAME, 'introspect_rps', subject.rps, 'req/s', baseline?.rps ?? null),
        ...runRows(NAME, 'introspect', subject, baseline),
        row(NAME, 'introspect_errors_inactive', tally.inactive + bareTally.inactive, 'responses'),
        httpErrorsRow(NAME, baseline === null ? [subject] : [baseline, subject]),
      ];
      return rows;
    } finally {
      await stopAll([bare, setup]);
    }
  },
};
