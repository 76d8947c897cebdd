// http-client-credentials: client_credentials grants over HTTP. Keycloak's
// default for such clients (client_credentials.use_refresh_token off) is a
// transient session: no session is stored, one access token is signed. The
// baseline is the bare Fastify server issuing the same access token (same
// claims, algorithm and body) with no realm, client or user lookup, run back
// to back with the same connections and duration (no target in
// docs/performance.md#targets; the ratio shows what the facade costs beyond parsing and signing).

import { row, type Row, type Scenario } from '../lib/scenario.js';
import { algorithmOf, bareRealm, startBareServer, type BareServer } from '../http/bare.js';
import { stopAll } from '../http/processes.js';
import { httpErrorsRow, runRows } from '../http/report.js';
import { clientCredentialsRequest, postFormOk } from '../http/requests.js';
import type { LoadResult } from '../http/load.js';
import { httpBench, measure, measureInterleaved, POOL_HASH_ITERATIONS, setupTarget, type Measured, type TargetSetup } from '../http/setup.js';
import { paths, type Target } from '../http/target.js';

const NAME = 'http-client-credentials';

export const httpClientCredentials: Scenario = {
  name: NAME,
  description: 'client_credentials grants over HTTP (transient sessions) vs a bare Fastify server signing the same token',
  async run(options) {
    const b = httpBench(NAME, options);
    const o = b.opts;
    let setup: TargetSetup | null = null;
    let bare: BareServer | null = null;
    try {
      setup = await setupTarget(b, [{ name: 'bench-cc', algorithm: o.algorithm ?? 'ES256' }], POOL_HASH_ITERATIONS);
      const target = setup.target;
      const realm = setup.realms[0]!;
      const sample = await postFormOk(target, paths.token(target, realm), { grant_type: 'client_credentials' }, `client_credentials in realm ${realm}`);
      const algorithm = algorithmOf(sample);
      b.log(`access token ${algorithm ?? 'opaque'}, refresh token ${typeof sample['refresh_token'] === 'string' ? 'yes (not transient!)' : 'none (transient session)'}`);

      const rows: Row[] = [];
      const subjectLoad: Measured = {
        label: target.local ? 'sessiond' : 'target',
        origin: target.origin,
        requests: () => [clientCredentialsRequest(target, realm)],
        server: setup.local?.process ?? null,
      };
      let baseline: LoadResult | null = null;
      let subject: LoadResult;
      if (algorithm !== null) {
        bare = await startBareServer(target.client, target.secret, 1, { [realm]: bareRealm(algorithm, null, sample) }, o, b.log);
        const bareTarget: Target = { ...target, origin: bare.origin, basePath: '' };
        const results = await measureInterleaved(b, [{ label: 'bare', origin: bare.origin, requests: () => [clientCredentialsRequest(bareTarget, realm)], server: bare.process }, subjectLoad]);
        [baseline, subject] = [results[0]!, results[1]!];
      } else {
        b.log('opaque access tokens: no like-for-like bare baseline');
        subject = await measure(b, subjectLoad);
      }
      rows.push(
        row(NAME, 'client_credentials_rps', subject.rps, 'req/s', baseline?.rps ?? null),
        ...runRows(NAME, 'client_credentials', subject, baseline),
        httpErrorsRow(NAME, baseline === null ? [subject] : [baseline, subject]),
      );
      return rows;
    } finally {
      await stopAll([bare, setup]);
    }
  },
};
