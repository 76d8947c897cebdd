// Discovery and JWKS over real HTTP: the issuer follows the request's Host
// (or --hostname), openid-client's discovery accepts the document, and tokens
// of realms signing with RS256 (default), ES256 and EdDSA verify with jose
// against the realm's certs endpoint.

import { request as httpRequest } from 'node:http';
import test from 'ava';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { DEMO_APP, header, startNode, type TestNode } from '../../helpers/node-harness.js';

let h: TestNode;

test.before(async () => {
  h = await startNode();
});
test.after.always(async () => {
  await h?.stop();
});

/** GET with an explicit Host header (fetch does not let a caller set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('discovery document: Keycloak endpoints under the issuer taken from the request', async (t) => {
  const res = await h.get(`${h.realmUrl('demo')}/.well-known/openid-configuration`);
  t.is(res.status, 200);
  const d = res.body;
  const issuer = h.realmUrl('demo');
  t.is(d.issuer, issuer);
  const oidc = `${issuer}/protocol/openid-connect`;
  t.is(d.authorization_endpoint, `${oidc}/auth`);
  t.is(d.token_endpoint, `${oidc}/token`);
  t.is(d.introspection_endpoint, `${oidc}/token/introspect`);
  t.is(d.userinfo_endpoint, `${oidc}/userinfo`);
  t.is(d.end_session_endpoint, `${oidc}/logout`);
  t.is(d.jwks_uri, `${oidc}/certs`);
  t.is(d.revocation_endpoint, `${oidc}/revoke`);
  t.deepEqual([...d.code_challenge_methods_supported].sort(), ['S256', 'plain']);
  t.true(d.backchannel_logout_supported);
  t.true(d.backchannel_logout_session_supported);
  for (const g of ['authorization_code', 'refresh_token', 'password', 'client_credentials']) t.true(d.grant_types_supported.includes(g), g);
  for (const alg of ['RS256', 'ES256', 'EdDSA']) t.true(d.id_token_signing_alg_values_supported.includes(alg), alg);

  const other = await getWithHost(`${h.realmUrl('demo')}/.well-known/openid-configuration`, 'sso.example.test:8443');
  t.is(other.status, 200);
  t.is(other.body.issuer, 'http://sso.example.test:8443/realms/demo');
  t.is(other.body.token_endpoint, 'http://sso.example.test:8443/realms/demo/protocol/openid-connect/token');
});

test('openid-client discovers the realm and uses its endpoints', async (t) => {
  const config = await client.discovery(new URL(h.realmUrl('demo')), DEMO_APP[0], DEMO_APP[1], undefined, {
    execute: [client.allowInsecureRequests],
  });
  const meta = config.serverMetadata();
  t.is(meta.issuer, h.realmUrl('demo'));
  t.is(meta.token_endpoint, h.oidcUrl('demo', 'token'));
  t.true(meta.supportsPKCE());
});

test('unknown realm: discovery and certs answer 404 with an OAuth error', async (t) => {
  for (const url of [`${h.realmUrl('nope')}/.well-known/openid-configuration`, h.oidcUrl('nope', 'certs')]) {
    const res = await h.get(url);
    t.is(res.status, 404, url);
    t.is(typeof res.body.error, 'string');
    t.is(typeof res.body.error_description, 'string');
  }
});

test('certs: public JWKs only, each with kid, use and alg', async (t) => {
  const res = await h.get(h.oidcUrl('demo', 'certs'));
  t.is(res.status, 200);
  const keys = res.body.keys as Record<string, unknown>[];
  t.true(keys.length >= 3);
  const algs = keys.map((k) => k['alg']);
  for (const alg of ['RS256', 'ES256', 'EdDSA']) t.true(algs.includes(alg), alg);
  t.false(algs.includes('HS512'), 'the HMAC key of internal tokens is never published');
  for (const k of keys) {
    t.is(typeof k['kid'], 'string');
    t.is(k['use'], 'sig');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) t.false(secret in k, `no ${secret} in ${String(k['alg'])}`);
  }
  t.is(new Set(keys.map((k) => k['kid'])).size, keys.length, 'kids are unique');
});

for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
  test(`tokens of a ${alg} realm verify with jose against the JWKS`, async (t) => {
    const r = await h.createRealm({
      overrides: { defaultSignatureAlgorithm: alg },
      clients: [{ clientId: 'app', secret: 's3cret', directAccessGrantsEnabled: true }],
      users: [{ username: 'u1', password: 'pw', email: 'u1@example.test', firstName: 'U', lastName: 'One' }],
    });
    const tokens = await h.login(r.name, ['app', 's3cret'], 'u1', 'pw', 'openid');
    const jwks = createRemoteJWKSet(new URL(h.oidcUrl(r.name, 'certs')));
    const access = await jwtVerify(tokens.access_token, jwks, { issuer: r.issuer, algorithms: [alg] });
    t.is(access.protectedHeader.alg, alg);
    t.is(access.protectedHeader.typ, 'JWT');
    t.is(access.payload['typ'], 'Bearer');
    const id = await jwtVerify(tokens.id_token!, jwks, { issuer: r.issuer, audience: 'app', algorithms: [alg] });
    t.is(id.payload['typ'], 'ID');
    t.is(id.protectedHeader.kid, access.protectedHeader.kid);
    // The refresh token is an internal HS512 token whose key is not in the JWKS.
    const rt = header(tokens.refresh_token!);
    t.is(rt['alg'], 'HS512');
    await t.throwsAsync(jwtVerify(tokens.refresh_token!, jwks, { issuer: r.issuer }));

    // openid-client accepts the realm's tokens too (it checks the ID token's alg against discovery).
    const config = await client.discovery(new URL(r.issuer), 'app', 's3cret', undefined, { execute: [client.allowInsecureRequests] });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    t.truthy(refreshed.id_token);
    t.is(refreshed.claims()?.sub, r.users.get('u1')!.id);
    await jwtVerify(refreshed.access_token, jwks, { issuer: r.issuer, algorithms: [alg] });
  });
}

test('--hostname fixes the issuer whatever the request says', async (t) => {
  const other = await startNode({ hostname: 'https://sso.example.test/' });
  t.teardown(() => other.stop());
  const res = await other.get(`${other.realmUrl('demo')}/.well-known/openid-configuration`);
  t.is(res.body.issuer, 'https://sso.example.test/realms/demo');
  t.is(res.body.jwks_uri, 'https://sso.example.test/realms/demo/protocol/openid-connect/certs');
  const tokens = await other.login('demo', DEMO_APP, 'alice', 'alice-password');
  const jwks = createRemoteJWKSet(new URL(other.oidcUrl('demo', 'certs')));
  const verified = await jwtVerify(tokens.access_token, jwks, { issuer: 'https://sso.example.test/realms/demo' });
  t.is(verified.payload['preferred_username'], 'alice');
  // A refresh through a different Host still works: the issuer comes from --hostname.
  const refreshed = await other.refresh('demo', DEMO_APP, tokens.refresh_token!);
  t.is(refreshed.status, 200, refreshed.text);
});
