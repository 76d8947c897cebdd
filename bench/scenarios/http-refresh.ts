// http-refresh: refresh_token grants over HTTP, against the two baselines of
// docs/performance.md#targets, each measured back to back with the same connections and
// duration:
//
//   refresh_rps_es256 / _rs256   vs a bare Fastify server (bench/http/bare-server.ts,
//                                its own process) doing the same parsing, client
//                                check and signatures with no session state (>= 0.8x)
//   refresh_rps_es256_vs_oidc_provider  vs oidc-provider with 2,000 offline grants,
//                                JWT access token + ID token, ES256 (>= 3x)
//
// Load: K = --users sessions are logged in first (password grant, scope
// openid); the realm has revokeRefreshToken off, so each refresh token can be
// presented again and again: every request takes the next token of the pool
// (round-robin over all connections). Local runs use two realms on one node,
// ES256 and RS256; with --target the target's realm is run once and named by
// the algorithm its access tokens carry.
//
// Order: bare, sessiond, oidc-provider for ES256 taking turns (full runs: two
// rounds of half the duration each), then bare, sessiond for RS256: each
// subject sits next to its baselines in time.

import type { SignatureAlgorithm } from '../../src/realm/model.js';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import { algorithmOf, bareRealm, startBareServer, type BareServer } from '../http/bare.js';
import type { LoadResult } from '../http/load.js';
import { startOidcProvider, type PeerServer } from '../http/peer.js';
import { stopAll } from '../http/processes.js';
import { cpuRows, httpErrorsRow, runRows } from '../http/report.js';
import { form, loginPool, postFormOk, refreshRequest } from '../http/requests.js';
import { httpBench, measureInterleaved, POOL_HASH_ITERATIONS, setupTarget, type Measured, type TargetSetup } from '../http/setup.js';
import { basicAuthorization, paths, type Target } from '../http/target.js';

const NAME = 'http-refresh';
/** docs/performance.md#peers-on-the-same-machine: oidc-provider was measured with 2,000 grants holding offline refresh tokens. */
const PEER_GRANTS = 2000;

interface RealmRun {
  realm: string;
  algorithm: SignatureAlgorithm;
  tokens: string[];
}

export const httpRefresh: Scenario = {
  name: NAME,
  description: 'refresh_token grants over HTTP (ES256, RS256) vs a bare Fastify server with the same signatures, and vs oidc-provider',
  async run(options) {
    const b = httpBench(NAME, options);
    const o = b.opts;
    let setup: TargetSetup | null = null;
    let bare: BareServer | null = null;
    let peer: PeerServer | null = null;
    try {
      setup = await setupTarget(
        b,
        [
          { name: 'bench-es256', algorithm: 'ES256' },
          { name: 'bench-rs256', algorithm: 'RS256' },
        ],
        POOL_HASH_ITERATIONS,
      );
      const target = setup.target;

      // Pools and one sample response per realm (the bare server's templates).
      const runs: RealmRun[] = [];
      const templates: Parameters<typeof startBareServer>[3] = {};
      for (const realm of setup.realms) {
        const started = Date.now();
        const pool = await loginPool(target, realm, o.users, o.connections);
        const sample = await postFormOk(target, paths.token(target, realm), { grant_type: 'refresh_token', refresh_token: pool[0]!.refresh }, `refresh in realm ${realm}`);
        const algorithm = algorithmOf(sample);
        b.log(`realm ${realm}: ${pool.length} sessions logged in in ${Date.now() - started} ms; access tokens ${algorithm ?? 'opaque'}, ID token ${typeof sample['id_token'] === 'string' ? 'yes' : 'no'}`);
        if (algorithm === null) throw new Error(`realm ${realm}: the access token is not a JWT with a supported algorithm; no like-for-like baseline`);
        runs.push({ realm, algorithm, tokens: pool.map((s) => s.refresh) });
        templates[realm] = bareRealm(algorithm, sample, null);
      }

      bare = await startBareServer(target.client, target.secret, o.users, templates, o, b.log);
      const bareTarget: Target = { ...target, origin: bare.origin, basePath: '' };
      const wantPeer = runs.some((r) => r.algorithm === 'ES256');
      if (wantPeer) {
        peer = await startOidcProvider({ client: target.client, secret: target.secret, grants: PEER_GRANTS, algorithm: 'ES256' }, o, b.log);
        // A refused grant here would make every peer request an error: check one first.
        const check = await fetch(`${peer.origin}${peer.tokenPath}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(target.client, target.secret) },
          body: form({ grant_type: 'refresh_token', refresh_token: peer.refreshTokens[0]! }),
        });
        const text = await check.text();
        if (check.status !== 200) throw new Error(`oidc-provider refused the refresh: ${check.status} ${text.slice(0, 300)}`);
        const body = JSON.parse(text) as Record<string, unknown>;
        b.log(`oidc-provider response: access token ${algorithmOf(body) ?? 'opaque'}, ID token ${typeof body['id_token'] === 'string' ? 'yes' : 'no'}, refresh token ${body['refresh_token'] === peer.refreshTokens[0] ? 'kept (no rotation)' : 'rotated'}`);
      }

      const rows: Row[] = [];
      const all: LoadResult[] = [];
      for (const run of runs) {
        const alg = run.algorithm.toLowerCase();
        const bareTokens = bare.tokens[run.realm]!.refresh;
        const loads: Measured[] = [
          { label: `bare-${alg}`, origin: bare.origin, requests: () => [refreshRequest(bareTarget, run.realm, bareTokens)], server: bare.process },
          { label: `${target.local ? 'sessiond' : 'target'}-${alg}`, origin: target.origin, requests: () => [refreshRequest(target, run.realm, run.tokens)], server: setup.local?.process ?? null },
        ];
        const p = run.algorithm === 'ES256' ? peer : null;
        if (p !== null) {
          const peerTarget: Target = { ...target, origin: p.origin };
          loads.push({ label: 'oidc-provider-es256', origin: p.origin, requests: () => [{ ...refreshRequest(peerTarget, run.realm, p.refreshTokens), path: p.tokenPath }], server: p.process });
        }
        const [baseline, subject, peerRun] = await measureInterleaved(b, loads);
        all.push(baseline!, subject!);
        rows.push(row(NAME, `refresh_rps_${alg}`, subject!.rps, 'req/s', baseline!.rps));
        if (peerRun !== undefined) {
          all.push(peerRun);
          rows.push(row(NAME, 'refresh_rps_es256_vs_oidc_provider', subject!.rps, 'req/s', peerRun.rps));
          rows.push(...cpuRows(NAME, 'oidc_provider_es256', peerRun));
        }
        rows.push(...runRows(NAME, alg, subject!, baseline!));
      }
      rows.push(httpErrorsRow(NAME, all));
      return rows;
    } finally {
      await stopAll([peer, bare, setup]);
    }
  },
};
