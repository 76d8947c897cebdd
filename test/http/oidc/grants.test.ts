// Every grant over real HTTP, through openid-client where it has the grant:
// password (genericGrantRequest), authorization_code (+PKCE S256 and plain;
// the code is stored through the engine as the login page would), refresh_token
// and client_credentials (transient, or with a session when the client asks
// for refresh tokens). The response and the tokens are checked field by field
// against Keycloak's shapes, and verified with jose against the JWKS.

import { createHash, randomUUID } from 'node:crypto';
import test from 'ava';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { AuthCodeData } from '../../../src/protocol/actor-messages.js';
import { claims, DEMO_APP, DEMO_SERVICE, header, startNode, type TestNode } from '../../helpers/node-harness.js';

let h: TestNode;
let demoApp: client.Configuration;
let demoSpa: client.Configuration;
let demoService: client.Configuration;
const REDIRECT = 'http://127.0.0.1:3000/callback';

test.before(async () => {
  h = await startNode();
  const issuer = new URL(h.realmUrl('demo'));
  const opts = { execute: [client.allowInsecureRequests] };
  demoApp = await client.discovery(issuer, DEMO_APP[0], DEMO_APP[1], undefined, opts);
  demoSpa = await client.discovery(issuer, 'demo-spa', undefined, client.None(), opts);
  demoService = await client.discovery(issuer, DEMO_SERVICE[0], DEMO_SERVICE[1], client.ClientSecretBasic(), opts);
});
test.after.always(async () => {
  await h?.stop();
});

const KEYCLOAK_RESPONSE_FIELDS = ['access_token', 'expires_in', 'refresh_expires_in', 'refresh_token', 'token_type', 'id_token', 'not-before-policy', 'session_state', 'scope'];

function atHash(token: string): string {
  return createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');
}

function demo(name: string): string {
  return h.node.store.clientByClientId(h.node.store.realmByName('demo')!.id, name)!.id;
}

function alice() {
  const realm = h.node.store.realmByName('demo')!;
  return { realm, user: h.node.store.userByUsername(realm.id, 'alice')! };
}

test('password grant: Keycloak response fields, headers and claims', async (t) => {
  const raw = await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: 'alice-password', scope: 'openid' });
  t.is(raw.status, 200, raw.text);
  t.is(raw.headers.get('cache-control'), 'no-store');
  t.is(raw.headers.get('pragma'), 'no-cache');
  t.true(raw.headers.get('content-type')!.startsWith('application/json'));
  const body = raw.body;
  t.deepEqual(Object.keys(body).sort(), [...KEYCLOAK_RESPONSE_FIELDS].sort());
  t.is(body.token_type, 'Bearer');
  t.is(body.expires_in, 300);
  t.is(body.refresh_expires_in, 1800);
  t.is(body['not-before-policy'], 0);
  t.is(body.scope, 'openid email profile');

  const { user } = alice();
  const issuer = h.realmUrl('demo');
  const jwks = createRemoteJWKSet(new URL(h.oidcUrl('demo', 'certs')));
  const { payload: at } = await jwtVerify(body.access_token, jwks, { issuer, algorithms: ['RS256'] });
  t.regex(String(at.jti), /^onrtro:[0-9a-f-]{36}$/);
  t.is(at.sub, user.id);
  t.is(at['typ'], 'Bearer');
  t.is(at['azp'], 'demo-app');
  t.is(at['sid'], body.session_state);
  t.is(at['scope'], 'openid email profile');
  t.true((at['realm_access'] as { roles: string[] }).roles.includes('offline_access'));
  t.is(at['preferred_username'], 'alice');
  t.is(at['email'], 'alice@demo.example');
  t.is(at['email_verified'], true);
  t.is(at['name'], 'Alice Demo');
  t.is(at['given_name'], 'Alice');
  t.is(at['family_name'], 'Demo');
  t.is(typeof at['auth_time'], 'number');
  t.is(at['acr'], '1');
  t.is(at.exp! - at.iat!, 300);
  t.false('session_state' in at, 'session_state is not a claim since Keycloak 25');
  // webOrigins "+" stands for the origins of the redirect URIs (http://127.0.0.1:*/*, http://localhost:*/*).
  t.deepEqual(at['allowed-origins'], ['http://127.0.0.1', 'http://localhost']);

  const { payload: id } = await jwtVerify(body.id_token, jwks, { issuer, audience: 'demo-app', algorithms: ['RS256'] });
  t.is(id['typ'], 'ID');
  t.is(id.aud, 'demo-app');
  t.is(id['azp'], 'demo-app');
  t.is(id.sub, user.id);
  t.is(id['sid'], body.session_state);
  t.is(id['at_hash'], atHash(body.access_token));
  t.is(id.exp, at.exp);
  t.false('nonce' in id);
  t.is(id['acr'], '1');
  t.is(id['auth_time'], at['auth_time']);

  const rtHeader = header(body.refresh_token);
  t.is(rtHeader['alg'], 'HS512');
  const rt = claims(body.refresh_token);
  t.is(rt['typ'], 'Refresh');
  t.is(rt['iss'], issuer);
  t.is(rt['aud'], issuer);
  t.is(rt['sub'], user.id);
  t.is(rt['azp'], 'demo-app');
  t.is(rt['sid'], body.session_state);
  t.is(rt['scope'], 'openid email profile');
  t.is(rt['exp'] - rt['iat'], 1800);
  t.false('reuse_id' in rt, 'reuse_id only when the realm revokes refresh tokens');

  const session = await h.node.engine.getSession(body.session_state);
  t.is(session?.session.userId, user.id);
  t.deepEqual(session?.session.clients.map((c) => c.client), [demo('demo-app')]);
});

test('password grant through openid-client (genericGrantRequest), then refresh and userinfo', async (t) => {
  const tokens = await client.genericGrantRequest(demoApp, 'password', { username: 'alice', password: 'alice-password', scope: 'openid' });
  t.is(tokens.token_type, 'bearer'); // openid-client lower-cases it
  const idClaims = tokens.claims()!;
  t.is(idClaims['preferred_username'], 'alice');
  t.is(tokens['session_state'], idClaims['sid']);
  t.is(tokens['not-before-policy'], 0);

  const refreshed = await client.refreshTokenGrant(demoApp, tokens.refresh_token!);
  t.not(refreshed.access_token, tokens.access_token);
  t.not(refreshed.refresh_token, tokens.refresh_token);
  t.is(refreshed['session_state'], tokens['session_state']);
  t.is(refreshed.claims()!.sub, idClaims.sub);
  t.regex(String(claims(refreshed.access_token)['jti']), /^onrtrt:/);

  const info = await client.fetchUserInfo(demoApp, refreshed.access_token, idClaims.sub);
  t.is(info.sub, idClaims.sub);
  t.is(info['preferred_username'], 'alice');
  t.is(info['email'], 'alice@demo.example');
});

test('password grant: scope without openid gives no ID token; refresh narrows the scope', async (t) => {
  const res = await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: 'alice-password' });
  t.is(res.status, 200);
  t.false('id_token' in res.body);
  t.is(res.body.scope, 'email profile');
  const full = await h.login('demo', DEMO_APP, 'alice', 'alice-password', 'openid phone');
  t.is(full.scope, 'openid phone email profile');
  const narrowed = await h.refresh('demo', DEMO_APP, full.refresh_token!, { scope: 'openid' });
  t.is(narrowed.status, 200, narrowed.text);
  t.false(narrowed.body.scope.split(' ').includes('phone'));
  const widened = await h.refresh('demo', DEMO_APP, full.refresh_token!, { scope: 'openid address' });
  t.is(widened.status, 400);
  t.is(widened.body.error, 'invalid_scope');
  const unknown = await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: 'alice-password', scope: 'openid nonsense' });
  t.is(unknown.status, 400);
  t.is(unknown.body.error, 'invalid_scope');
});

test('password grant failures: credentials, disabled user, required actions, client without direct grants', async (t) => {
  const r = await h.createRealm({
    clients: [
      { clientId: 'app', secret: 's', directAccessGrantsEnabled: true, webOrigins: ['https://app.example.test', '+'], redirectUris: ['https://app.example.test:8443/cb/*'] },
      { clientId: 'web', secret: 's' },
    ],
    users: [
      { username: 'ok', password: 'pw' },
      { username: 'off', password: 'pw', enabled: false },
      { username: 'todo', password: 'pw', requiredActions: ['UPDATE_PASSWORD'] },
    ],
  });
  const grant = (username: string, password: string, c = 'app') =>
    h.token(r.name, { grant_type: 'password', client_id: c, client_secret: 's', username, password });
  let res = await grant('ok', 'wrong');
  t.is(res.status, 401);
  t.is(res.headers.get('cache-control'), 'no-store', 'errors are not cached either');
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
  res = await grant('nobody', 'pw');
  t.is(res.status, 401);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
  res = await grant('off', 'pw');
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Account disabled' });
  res = await grant('todo', 'pw');
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Account is not fully set up' });
  res = await grant('ok', 'pw', 'web');
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'unauthorized_client', error_description: 'Client not allowed for direct access grants' });
  res = await grant('ok', 'pw');
  t.is(res.status, 200);
  t.deepEqual(claims(res.body.access_token)['allowed-origins'], ['https://app.example.test', 'https://app.example.test:8443']);
  res = await h.token(r.name, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: 'app', client_secret: 's' });
  t.is(res.status, 400);
  t.is(res.body.error, 'unsupported_grant_type');
});

// ------------------------------------------------------------- authorization_code

async function loginSession(clientId: string, scope = 'openid'): Promise<string> {
  const { realm, user } = alice();
  const created = await h.node.engine.createSession({
    realm: realm.id,
    userId: user.id,
    username: user.username,
    ip: '127.0.0.1',
    client: { client: demo(clientId), scope },
  });
  return created.session.id;
}

async function issueCode(sessionId: string, clientId: string, data: Partial<AuthCodeData> = {}): Promise<string> {
  const value = randomUUID();
  const stored = await h.node.engine.putCode(sessionId, value, {
    client: demo(clientId),
    redirectUri: REDIRECT,
    scope: 'openid',
    nonce: null,
    codeChallenge: null,
    codeChallengeMethod: null,
    exp: h.now() + 60,
    ssoAuth: false,
    ...data,
  });
  if (!stored) throw new Error('code store full');
  return `${value}.${sessionId}`;
}

function callback(code: string, state: string, sid: string): URL {
  const url = new URL(REDIRECT);
  url.searchParams.set('code', code);
  url.searchParams.set('state', state);
  url.searchParams.set('session_state', sid);
  url.searchParams.set('iss', h.realmUrl('demo'));
  return url;
}

test('authorization_code with PKCE S256 (public client) via openid-client: nonce, at_hash, single use', async (t) => {
  const sid = await loginSession('demo-spa');
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const code = await issueCode(sid, 'demo-spa', { codeChallenge: await client.calculatePKCECodeChallenge(verifier), codeChallengeMethod: 'S256', nonce });
  const tokens = await client.authorizationCodeGrant(demoSpa, callback(code, state, sid), { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state });
  const id = tokens.claims()!;
  t.is(id['nonce'], nonce);
  t.is(id['sid'], sid);
  t.is(id['at_hash'], atHash(tokens.access_token));
  t.is(tokens['session_state'], sid);
  const at = claims(tokens.access_token);
  t.regex(at['jti'], /^onrtac:/);
  t.is(at['azp'], 'demo-spa');
  t.false('nonce' in at, 'nonce is an ID-token claim only (Keycloak 25+)');
  const jwks = createRemoteJWKSet(new URL(h.oidcUrl('demo', 'certs')));
  await jwtVerify(tokens.id_token!, jwks, { issuer: h.realmUrl('demo'), audience: 'demo-spa' });

  // The refresh token of a code exchange works.
  const refreshed = await client.refreshTokenGrant(demoSpa, tokens.refresh_token!);
  t.is(refreshed['session_state'], sid);

  // The code is single use; a replay detaches the client session (Keycloak: the code may have been stolen).
  const again = await h.token('demo', { grant_type: 'authorization_code', client_id: 'demo-spa', code, redirect_uri: REDIRECT, code_verifier: verifier });
  t.is(again.status, 400);
  t.deepEqual(again.body, { error: 'invalid_grant', error_description: 'Code not valid' });
  const session = (await h.node.engine.getSession(sid))!.session;
  t.false(session.clients.some((c) => c.client === h.node.store.clientByClientId(h.realm('demo').id, 'demo-spa')!.id), 'client session detached');
  const after = await h.refresh('demo', ['demo-spa', null], refreshed.refresh_token!);
  t.deepEqual(after.body, { error: 'invalid_grant', error_description: "Session doesn't have required client" });
});

test('authorization_code with PKCE plain (confidential client), raw form', async (t) => {
  const sid = await loginSession('demo-app');
  const verifier = client.randomPKCECodeVerifier();
  const code = await issueCode(sid, 'demo-app', { codeChallenge: verifier, codeChallengeMethod: 'plain' });
  const res = await h.token('demo', { grant_type: 'authorization_code', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], code, redirect_uri: REDIRECT, code_verifier: verifier });
  t.is(res.status, 200, res.text);
  t.deepEqual(Object.keys(res.body).sort(), [...KEYCLOAK_RESPONSE_FIELDS].sort());
  t.is(res.body.session_state, sid);
  t.is(res.headers.get('cache-control'), 'no-store');
});

test('authorization_code without PKCE via openid-client (Basic auth) and the code of another client', async (t) => {
  const sid = await loginSession('demo-app');
  const state = client.randomState();
  const code = await issueCode(sid, 'demo-app');
  const basic = await client.discovery(new URL(h.realmUrl('demo')), DEMO_APP[0], DEMO_APP[1], client.ClientSecretBasic(), { execute: [client.allowInsecureRequests] });
  const tokens = await client.authorizationCodeGrant(basic, callback(code, state, sid), { expectedState: state, pkceCodeVerifier: undefined });
  t.is(tokens.claims()!['sid'], sid);

  const sid2 = await loginSession('demo-app');
  const forApp = await issueCode(sid2, 'demo-app');
  const wrongClient = await h.token('demo', { grant_type: 'authorization_code', client_id: 'demo-spa', code: forApp, redirect_uri: REDIRECT });
  t.is(wrongClient.status, 400);
  t.deepEqual(wrongClient.body, { error: 'invalid_grant', error_description: 'Auth error' });
});

test('authorization_code failures: expired code, wrong redirect_uri, wrong / missing / malformed verifier, garbage code', async (t) => {
  const sid = await loginSession('demo-spa');
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const exchange = (code: string, extra: Record<string, string> = {}) =>
    h.token('demo', { grant_type: 'authorization_code', client_id: 'demo-spa', code, redirect_uri: REDIRECT, code_verifier: verifier, ...extra });

  const expired = await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256', exp: h.now() - 1 });
  let res = await exchange(expired);
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Code is expired' });

  res = await exchange(await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256' }), { redirect_uri: 'http://127.0.0.1:3000/other' });
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Incorrect redirect_uri' });

  res = await exchange(await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256' }), { code_verifier: client.randomPKCECodeVerifier() });
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'PKCE verification failed: Code mismatch' });

  const noVerifier = await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256' });
  res = await h.token('demo', { grant_type: 'authorization_code', client_id: 'demo-spa', code: noVerifier, redirect_uri: REDIRECT });
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'PKCE code verifier not specified' });

  for (const bad of ['', 'short', 'x'.repeat(129), `${'a'.repeat(42)}!`]) {
    res = await exchange(await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256' }), { code_verifier: bad });
    t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'PKCE verification failed: Invalid code verifier' }, JSON.stringify(bad));
  }

  // A verifier for a code issued without a challenge is refused too (PkceUtils).
  res = await exchange(await issueCode(sid, 'demo-spa'));
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'PKCE code verifier specified but challenge not present in authorization' });

  // A wrong verifier burns the code (it is single use whatever the outcome).
  const burnt = await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256' });
  res = await exchange(burnt, { code_verifier: client.randomPKCECodeVerifier() });
  t.is(res.status, 400);
  res = await exchange(burnt);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Code not valid' });

  for (const garbage of ['x', 'nodot', '.', 'a.b.c', `${randomUUID()}.${sid}`]) {
    res = await exchange(garbage);
    t.is(res.status, 400, garbage);
    t.is(res.body.error, 'invalid_grant', garbage);
  }
  res = await h.token('demo', { grant_type: 'authorization_code', client_id: 'demo-spa', redirect_uri: REDIRECT });
  t.is(res.status, 400);
  t.is(res.body.error, 'invalid_request');

  // The user session survived all of it. The replayed and forged codes detached the client
  // session (Keycloak); the client's next login joins the session again and its code works.
  t.truthy(await h.node.engine.getSession(sid));
  t.false((await h.node.engine.getSession(sid))!.session.clients.some((c) => c.client === demo('demo-spa')));
  await h.node.engine.attachClient(sid, h.realm('demo').id, { client: demo('demo-spa'), scope: 'openid' });
  res = await exchange(await issueCode(sid, 'demo-spa', { codeChallenge: challenge, codeChallengeMethod: 'S256' }));
  t.is(res.status, 200, res.text);
  // An expired code is told apart only once: the take removed it, a second try is a replay.
  t.deepEqual((await exchange(expired)).body, { error: 'invalid_grant', error_description: 'Code not valid' });
});

test('authorization_code for a session that has ended: Code not valid', async (t) => {
  const sid = await loginSession('demo-app');
  const code = await issueCode(sid, 'demo-app');
  await h.node.engine.logoutSession(sid);
  const res = await h.token('demo', { grant_type: 'authorization_code', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], code, redirect_uri: REDIRECT });
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Code not valid' });
});

test('authorization_code: a client without the standard flow may not exchange codes', async (t) => {
  const r = await h.createRealm({
    clients: [{ clientId: 'direct', secret: 's', standardFlowEnabled: false, directAccessGrantsEnabled: true }],
    users: [{ username: 'u', password: 'pw' }],
  });
  const login = await h.login(r.name, ['direct', 's'], 'u', 'pw');
  const sid = login.session_state!;
  const value = randomUUID();
  await h.node.engine.putCode(sid, value, { client: r.clients.get('direct')!.id, redirectUri: REDIRECT, scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: false });
  const res = await h.token(r.name, { grant_type: 'authorization_code', client_id: 'direct', client_secret: 's', code: `${value}.${sid}`, redirect_uri: REDIRECT });
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Client not allowed to exchange code' });
});

// ------------------------------------------------------------- client_credentials

test('client_credentials via openid-client: transient, no sid, no refresh token', async (t) => {
  const tokens = await client.clientCredentialsGrant(demoService);
  t.is(tokens.refresh_token, undefined);
  t.is(tokens['session_state'], undefined);
  t.is(tokens['refresh_expires_in'], 0);
  t.is(tokens['not-before-policy'], 0);
  t.is(tokens.expires_in, 300);
  const raw = await h.token('demo', { grant_type: 'client_credentials' }, { basic: DEMO_SERVICE });
  t.is(raw.status, 200);
  t.deepEqual(Object.keys(raw.body).sort(), ['access_token', 'expires_in', 'not-before-policy', 'refresh_expires_in', 'scope', 'token_type']);
  t.is(raw.body.scope, 'email profile');
  const jwks = createRemoteJWKSet(new URL(h.oidcUrl('demo', 'certs')));
  const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: h.realmUrl('demo') });
  t.regex(String(payload.jti), /^trrtcc:/);
  t.false('sid' in payload);
  t.false('auth_time' in payload);
  t.is(payload['azp'], 'demo-service');
  t.is(payload['preferred_username'], 'service-account-demo-service');
  t.is(payload['typ'], 'Bearer');
  // The transient token is good at introspection.
  const info = await client.tokenIntrospection(demoService, tokens.access_token);
  t.true(info.active);
  t.is(info.client_id, 'demo-service');

  const denied = await h.token('demo', { grant_type: 'client_credentials', client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(denied.status, 400);
  t.is(denied.body.error, 'unauthorized_client');
});

test('client_credentials with client_credentials.use_refresh_token: a session and a refresh token', async (t) => {
  const r = await h.createRealm({
    clients: [{ clientId: 'svc', secret: 'svc-secret', serviceAccountsEnabled: true, standardFlowEnabled: false, attributes: { 'client_credentials.use_refresh_token': 'true' } }],
  });
  const config = await client.discovery(new URL(r.issuer), 'svc', 'svc-secret', undefined, { execute: [client.allowInsecureRequests] });
  const tokens = await client.clientCredentialsGrant(config);
  t.truthy(tokens.refresh_token);
  const sid = tokens['session_state'] as string;
  t.is(typeof sid, 'string');
  t.is(claims(tokens.access_token)['sid'], sid);
  t.regex(claims(tokens.access_token)['jti'], /^onrtcc:/);
  t.true((tokens['refresh_expires_in'] as number) > 0);
  const session = await h.node.engine.getSession(sid);
  t.is(session?.session.authMethod, 'client_auth');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  t.is(refreshed['session_state'], sid);

  // A refused offline request leaves no session behind.
  const svc = r.clients.get('svc')!;
  const account = h.node.store.userByUsername(r.realm.id, 'service-account-svc')!;
  await h.node.store.putUser({ ...account, realmRoles: [] });
  const before = await h.node.engine.countClientSessions(r.realm.id, svc.id);
  const refused = await h.token(r.name, { grant_type: 'client_credentials', client_id: 'svc', client_secret: 'svc-secret', scope: 'offline_access' });
  t.is(refused.status, 400);
  t.is(refused.body.error, 'not_allowed');
  t.is(await h.node.engine.countClientSessions(r.realm.id, svc.id), before);
});

// ------------------------------------------------------- the real login form

/** Cookies of a response as a `cookie` request header value (names and values only). */
function cookieHeader(res: Response, jar: Map<string, string>): string {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

test('authorization_code through the real login form, driven over HTTP by openid-client', async (t) => {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(demoSpa, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const jar = new Map<string, string>();
  const page = await fetch(url, { redirect: 'manual' });
  t.is(page.status, 200);
  let cookies = cookieHeader(page, jar);
  const html = await page.text();
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
  t.truthy(action, 'the login page has the login form');
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) form.set(m[1]!, m[2]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
  form.set('username', 'alice');
  form.set('password', 'alice-password');
  const posted = await fetch(action!, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies }, body: form.toString() });
  t.is(posted.status, 302, await posted.clone().text());
  cookies = cookieHeader(posted, jar);
  t.true(jar.has('KEYCLOAK_IDENTITY'));
  const location = new URL(posted.headers.get('location')!);
  t.is(`${location.origin}${location.pathname}`, REDIRECT);
  t.is(location.searchParams.get('state'), state);
  t.is(location.searchParams.get('iss'), h.realmUrl('demo'));

  const tokens = await client.authorizationCodeGrant(demoSpa, location, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  const id = tokens.claims()!;
  t.is(id['preferred_username'], 'alice');
  t.is(id['nonce'], nonce);
  t.is(id['sid'], location.searchParams.get('session_state'));
  t.is(id['acr'], '1');
  t.is(id['at_hash'], atHash(tokens.access_token));
  t.is(claims(tokens.access_token)['azp'], 'demo-spa');

  // A second client logs in through the SSO cookie, without the form; its client session joins the same user session.
  const second = client.buildAuthorizationUrl(demoApp, { redirect_uri: REDIRECT, scope: 'openid', state: 's2' });
  const sso = await fetch(second, { redirect: 'manual', headers: { cookie: cookies } });
  t.is(sso.status, 302);
  const back = new URL(sso.headers.get('location')!);
  t.is(back.searchParams.get('session_state'), id['sid'] as string);
  const appTokens = await client.authorizationCodeGrant(demoApp, back, { expectedState: 's2' });
  t.is(appTokens.claims()!['sid'], id['sid']);
  t.is(appTokens.claims()!['acr'], '0', 'an SSO login is acr 0');
  const session = await h.node.engine.getSession(id['sid'] as string);
  t.deepEqual(session?.session.clients.map((c) => c.client).sort(), [demo('demo-spa'), demo('demo-app')].sort());
});
