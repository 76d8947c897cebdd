// Introspection (RFC 7662, docs/keycloak-semantics.md#introspection-revocation-userinfo), revocation (RFC 7009, §6.5),
// userinfo and the non-browser logout with a refresh token (§4.2), over real
// HTTP with openid-client where it covers the endpoint.

import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import test from 'ava';
import * as client from 'openid-client';
import { claims, DEMO_APP, DEMO_SERVICE, header, startNode, type TestNode } from '../../helpers/node-harness.js';

let h: TestNode;
let app: client.Configuration;
let service: client.Configuration;

test.before(async () => {
  h = await startNode();
  const opts = { execute: [client.allowInsecureRequests] };
  app = await client.discovery(new URL(h.realmUrl('demo')), DEMO_APP[0], DEMO_APP[1], undefined, opts);
  service = await client.discovery(new URL(h.realmUrl('demo')), DEMO_SERVICE[0], DEMO_SERVICE[1], undefined, opts);
});
test.after.always(async () => {
  await h?.stop();
});

const REDIRECT = 'http://127.0.0.1:3000/cb';
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Forgeries of a real token: each must be refused everywhere. */
function forgeries(token: string): Record<string, string> {
  const [h64, p64, s64] = token.split('.') as [string, string, string];
  const hdr = header(token);
  const payload = claims(token);
  const mid = Math.floor(s64.length / 2);
  const flipped = s64.slice(0, mid) + (s64[mid] === 'A' ? 'B' : 'A') + s64.slice(mid + 1);
  return {
    'bad signature': `${h64}.${p64}.${flipped}`,
    'alg none': `${b64({ ...hdr, alg: 'none' })}.${p64}.`,
    'alg none, no kid': `${b64({ alg: 'none', typ: 'JWT' })}.${p64}.`,
    'tampered payload': `${h64}.${b64({ ...payload, sub: randomUUID(), exp: payload['exp'] + 3600 })}.${s64}`,
    'truncated': token.slice(0, token.length - 20),
    'no signature': `${h64}.${p64}`,
    'HS256 with a guessed key': (() => {
      const head = b64({ ...hdr, alg: 'HS256' });
      return `${head}.${p64}.${createHmac('sha256', 'secret').update(`${head}.${p64}`).digest('base64url')}`;
    })(),
    'unknown kid': `${b64({ ...hdr, kid: 'nope' })}.${p64}.${s64}`,
    'not a jwt': 'hello',
    'json garbage': `${b64('x')}.${b64([1])}.AAAA`,
  };
}

// ---------------------------------------------------------------- introspection

test('introspection of an access token: claims plus client_id, username, token_type, active', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const info = await client.tokenIntrospection(app, tokens.access_token);
  t.true(info.active);
  t.is(info.client_id, 'demo-app');
  t.is(info.username, 'alice');
  t.is(info.token_type, 'Bearer');
  t.is(info.sub, claims(tokens.access_token)['sub']);
  t.is(info['sid'], tokens.session_state);
  t.is(info.exp, claims(tokens.access_token)['exp']);
  const raw = await h.introspect('demo', DEMO_APP, tokens.access_token);
  t.is(raw.headers.get('cache-control'), 'no-store');
  // Another confidential client may introspect it too (Keycloak's resource-server use).
  const bySvc = await client.tokenIntrospection(service, tokens.access_token);
  t.true(bySvc.active);
});

test('introspection requires client authentication; a public client is refused', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  let res = await h.post(h.oidcUrl('demo', 'token/introspect'), { token: tokens.access_token });
  t.is(res.status, 401);
  t.is(res.body.error, 'invalid_client');
  res = await h.post(h.oidcUrl('demo', 'token/introspect'), { token: tokens.access_token, client_id: 'demo-app', client_secret: 'wrong' });
  t.is(res.status, 401);
  t.is(res.body.error, 'unauthorized_client');
  res = await h.post(h.oidcUrl('demo', 'token/introspect'), { token: tokens.access_token, client_id: 'demo-spa' });
  t.is(res.status, 403);
  t.deepEqual(res.body, { error: 'invalid_request', error_description: 'Client not allowed.' });
  res = await h.post(h.oidcUrl('demo', 'token/introspect'), { client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_request', error_description: 'Token not provided.' });
});

test('introspection: forged, alg=none, tampered and truncated tokens are inactive', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  for (const token of [tokens.access_token, tokens.refresh_token!, tokens.id_token!]) {
    for (const [what, forged] of Object.entries(forgeries(token))) {
      const res = await h.introspect('demo', DEMO_APP, forged);
      t.is(res.status, 200, what);
      t.deepEqual(res.body, { active: false }, `${what} (${String(claims(token)['typ'])})`);
    }
  }
  t.deepEqual((await h.introspect('demo', DEMO_APP, tokens.id_token!)).body, { active: false }, 'an ID token is not an access token');
  t.true((await h.introspect('demo', DEMO_APP, tokens.access_token)).body.active, 'the real token is still fine');
});

test('introspection: a token of another realm is inactive', async (t) => {
  const r = await h.createRealm({ clients: [{ clientId: 'demo-app', secret: 'demo-secret', directAccessGrantsEnabled: true }], users: [{ username: 'alice', password: 'pw' }] });
  const foreign = await h.login(r.name, DEMO_APP, 'alice', 'pw');
  t.deepEqual((await h.introspect('demo', DEMO_APP, foreign.access_token)).body, { active: false });
  t.deepEqual((await h.introspect('demo', DEMO_APP, foreign.refresh_token!)).body, { active: false });
});

test('introspection: inactive after logout, user disabled, client disabled, access token revoked', async (t) => {
  const r = await h.createRealm({
    clients: [
      { clientId: 'app', secret: 's', directAccessGrantsEnabled: true },
      { clientId: 'rs', secret: 'rs', standardFlowEnabled: false },
    ],
    users: [{ username: 'u', password: 'pw' }, { username: 'w', password: 'pw' }],
  });
  const rs: [string, string] = ['rs', 'rs'];
  const active = async (token: string): Promise<boolean> => (await h.introspect(r.name, rs, token)).body.active;

  // Logged-out session.
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  t.true(await active(a.access_token));
  t.is((await h.post(h.oidcUrl(r.name, 'logout'), { refresh_token: a.refresh_token!, client_id: 'app', client_secret: 's' })).status, 204);
  t.false(await active(a.access_token));
  t.false(await active(a.refresh_token!));

  // Revoked access token (RFC 7009): inactive while the session lives on.
  const b = await h.login(r.name, ['app', 's'], 'u', 'pw');
  t.is((await h.post(h.oidcUrl(r.name, 'revoke'), { token: b.access_token, client_id: 'app', client_secret: 's', token_type_hint: 'access_token' })).status, 200);
  t.false(await active(b.access_token));
  t.true(await active(b.refresh_token!), 'revoking an access token leaves the session and its refresh token');

  // User disabled.
  const c = await h.login(r.name, ['app', 's'], 'w', 'pw');
  const w = h.node.store.userByUsername(r.realm.id, 'w')!;
  await h.node.store.putUser({ ...w, enabled: false });
  t.false(await active(c.access_token));
  t.deepEqual((await h.refresh(r.name, ['app', 's'], c.refresh_token!)).body, { error: 'invalid_grant', error_description: 'User disabled' });
  await h.node.store.putUser({ ...w, enabled: true });
  t.true(await active(c.access_token));

  // Client disabled (the token's azp).
  const d = await h.login(r.name, ['app', 's'], 'u', 'pw');
  await h.putClient(r.name, { clientId: 'app', enabled: false });
  t.false(await active(d.access_token));
  await h.putClient(r.name, { clientId: 'app', enabled: true });
  t.true(await active(d.access_token));
});

/** POST a form with an explicit Host header (fetch does not let a caller set it). */
function postWithHost(url: string, host: string, form: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = httpRequest(url, { method: 'POST', headers: { host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('introspection: inactive for another issuer, a deleted client, a deleted user', async (t) => {
  const r = await h.createRealm({
    clients: [
      { clientId: 'app', secret: 's', directAccessGrantsEnabled: true },
      { clientId: 'gone', secret: 's', directAccessGrantsEnabled: true },
      { clientId: 'rs', secret: 'rs', standardFlowEnabled: false },
    ],
    users: [{ username: 'u', password: 'pw' }, { username: 'doomed', password: 'pw' }],
  });
  const rs: [string, string] = ['rs', 'rs'];
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  t.true((await h.introspect(r.name, rs, a.access_token)).body.active);
  // The same token presented through another host name: its iss is not this issuer.
  const other = await postWithHost(h.oidcUrl(r.name, 'token/introspect'), 'sso.example.test', { token: a.access_token, client_id: 'rs', client_secret: 'rs' });
  t.is(other.status, 200);
  t.deepEqual(other.body, { active: false });

  const g = await h.login(r.name, ['gone', 's'], 'u', 'pw');
  await h.node.store.deleteClient(r.clients.get('gone')!.id);
  await h.settle();
  t.deepEqual((await h.introspect(r.name, rs, g.access_token)).body, { active: false });

  const d = await h.login(r.name, ['app', 's'], 'doomed', 'pw');
  await h.node.store.deleteUser(r.users.get('doomed')!.id);
  t.deepEqual((await h.introspect(r.name, rs, d.access_token)).body, { active: false });
  t.deepEqual((await h.introspect(r.name, rs, d.refresh_token!)).body, { active: false });
  t.is((await h.refresh(r.name, ['app', 's'], d.refresh_token!)).status, 400);
});

// ------------------------------------------------------------------- revocation

test('revocation of a refresh token detaches the client; the session ends with its last client', async (t) => {
  const realm = h.node.store.realmByName('demo')!;
  const a = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const sid = a.session_state!;
  // A second client (demo-spa) joins the SSO session through a code.
  const spa = h.node.store.clientByClientId(realm.id, 'demo-spa')!;
  await h.node.engine.attachClient(sid, realm.id, { client: spa.id, scope: 'openid', ssoAuth: true });
  const value = randomUUID();
  await h.node.engine.putCode(sid, value, { client: spa.id, redirectUri: REDIRECT, scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: true });
  const b = (await h.token('demo', { grant_type: 'authorization_code', client_id: 'demo-spa', code: `${value}.${sid}`, redirect_uri: REDIRECT })).body;
  t.is(b.session_state, sid);

  await client.tokenRevocation(app, a.refresh_token!, { token_type_hint: 'refresh_token' });
  const after = await h.node.engine.getSession(sid);
  t.deepEqual(after?.session.clients.map((c) => c.client), [spa.id], 'only demo-app was detached');
  t.deepEqual((await h.refresh('demo', DEMO_APP, a.refresh_token!)).body, { error: 'invalid_grant', error_description: "Session doesn't have required client" });
  t.false((await h.introspect('demo', DEMO_APP, a.access_token)).body.active);
  t.is((await h.refresh('demo', ['demo-spa', null], b.refresh_token)).status, 200);

  // demo-spa (public) revokes its own token: the session had no other client, so it ends.
  const rev = await h.post(h.oidcUrl('demo', 'revoke'), { token: b.refresh_token, client_id: 'demo-spa' });
  t.is(rev.status, 200);
  t.is(await h.node.engine.getSession(sid), null);
});

test('revocation: invalid tokens answer 200; someone else\'s token 400 "Unmatching clients"; client auth required', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const url = h.oidcUrl('demo', 'revoke');
  for (const [what, forged] of Object.entries(forgeries(tokens.refresh_token!))) {
    const res = await h.post(url, { token: forged, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
    t.is(res.status, 200, what);
  }
  await client.tokenRevocation(app, 'not-a-token');
  let res = await h.post(url, { token: tokens.refresh_token!, client_id: DEMO_SERVICE[0], client_secret: DEMO_SERVICE[1] });
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_request', error_description: 'Unmatching clients' });
  res = await h.post(url, { token: tokens.access_token, client_id: DEMO_SERVICE[0], client_secret: DEMO_SERVICE[1] });
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_request', error_description: 'Unmatching clients' });
  await t.throwsAsync(client.tokenRevocation(service, tokens.refresh_token!));
  // An ID token is not something one revokes (Keycloak: unsupported_token_type).
  res = await h.post(url, { token: tokens.id_token!, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'unsupported_token_type', error_description: 'Unsupported token type' });
  res = await h.post(url, { token: tokens.refresh_token! });
  t.is(res.status, 401);
  res = await h.post(url, { client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 400);
  t.is(res.body.error, 'invalid_request');
  // None of it touched the session.
  t.is((await h.refresh('demo', DEMO_APP, tokens.refresh_token!)).status, 200);
});

test('revocation of an access token persists until expiry, also across a node restart', async (t) => {
  let node = await startNode();
  t.teardown(() => node.stop());
  const tokens = await node.login('demo', DEMO_APP, 'alice', 'alice-password');
  const other = await node.login('demo', DEMO_APP, 'alice', 'alice-password');
  const res = await node.post(node.oidcUrl('demo', 'revoke'), { token: tokens.access_token, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 200);
  t.is(res.text, '');
  t.false((await node.introspect('demo', DEMO_APP, tokens.access_token)).body.active);
  t.is((await node.get(node.oidcUrl('demo', 'userinfo'), { authorization: `Bearer ${tokens.access_token}` })).status, 401);

  node = await node.restart();
  t.false((await node.introspect('demo', DEMO_APP, tokens.access_token)).body.active, 'still revoked after the restart');
  t.true((await node.introspect('demo', DEMO_APP, other.access_token)).body.active, 'the session came back from the snapshot, other tokens are fine');
  t.is((await node.refresh('demo', DEMO_APP, tokens.refresh_token!)).status, 200);
});

// --------------------------------------------------------------------- userinfo

test('userinfo: GET and POST with a bearer token, POST with a form token', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const sub = claims(tokens.access_token)['sub'];
  const viaClient = await client.fetchUserInfo(app, tokens.access_token, sub);
  t.is(viaClient['preferred_username'], 'alice');
  const expected = { sub, email_verified: true, name: 'Alice Demo', preferred_username: 'alice', given_name: 'Alice', family_name: 'Demo', email: 'alice@demo.example' };
  const get = await h.get(h.oidcUrl('demo', 'userinfo'), { authorization: `Bearer ${tokens.access_token}` });
  t.is(get.status, 200);
  t.deepEqual(get.body, expected);
  const post = await h.post(h.oidcUrl('demo', 'userinfo'), {}, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.deepEqual(post.body, expected);
  const form = await h.post(h.oidcUrl('demo', 'userinfo'), { access_token: tokens.access_token });
  t.deepEqual(form.body, expected);
});

test('userinfo: a token without the openid scope gets 403 insufficient_scope (Keycloak 19.0.2+)', async (t) => {
  const res = await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: 'alice-password', scope: 'profile' });
  t.false(res.body.scope.split(' ').includes('openid'));
  const info = await h.get(h.oidcUrl('demo', 'userinfo'), { authorization: `Bearer ${res.body.access_token}` });
  t.is(info.status, 403);
  t.deepEqual(info.body, { error: 'insufficient_scope', error_description: 'Missing openid scope' });
  t.regex(info.headers.get('www-authenticate') ?? '', /^Bearer .*error="insufficient_scope"/);
  const cc = await h.token('demo', { grant_type: 'client_credentials' }, { basic: DEMO_SERVICE });
  t.is((await h.get(h.oidcUrl('demo', 'userinfo'), { authorization: `Bearer ${cc.body.access_token}` })).status, 403);
  const withOpenid = await h.token('demo', { grant_type: 'client_credentials', scope: 'openid' }, { basic: DEMO_SERVICE });
  const svc = await h.get(h.oidcUrl('demo', 'userinfo'), { authorization: `Bearer ${withOpenid.body.access_token}` });
  t.is(svc.status, 200, 'a transient service-account token with openid is served');
  t.is(svc.body.preferred_username, 'service-account-demo-service');
});

test('userinfo: 401 with WWW-Authenticate for missing, forged, refresh and logged-out tokens', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const url = h.oidcUrl('demo', 'userinfo');
  const none = await h.get(url);
  t.is(none.status, 401);
  t.regex(none.headers.get('www-authenticate') ?? '', /^Bearer /);
  const bad = [...Object.values(forgeries(tokens.access_token)), tokens.refresh_token!, tokens.id_token!];
  for (const token of bad) {
    const res = await h.get(url, { authorization: `Bearer ${token}` });
    t.is(res.status, 401);
    t.regex(res.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
    t.is(res.body.error, 'invalid_token');
  }
  await t.throwsAsync(client.fetchUserInfo(app, bad[0]!, client.skipSubjectCheck));
  t.is((await h.post(h.oidcUrl('demo', 'logout'), { refresh_token: tokens.refresh_token!, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] })).status, 204);
  const gone = await h.get(url, { authorization: `Bearer ${tokens.access_token}` });
  t.is(gone.status, 401);
});

// ----------------------------------------------------------------------- logout

test('logout with refresh_token: 204, session gone, access token inactive, refresh "Session not active"', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const sid = tokens.session_state!;
  const res = await h.post(h.oidcUrl('demo', 'logout'), { refresh_token: tokens.refresh_token!, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 204);
  t.is(res.text, '');
  t.is(await h.node.engine.getSession(sid), null);
  t.false((await h.introspect('demo', DEMO_APP, tokens.access_token)).body.active);
  const refresh = await h.refresh('demo', DEMO_APP, tokens.refresh_token!);
  t.is(refresh.status, 400);
  t.deepEqual(refresh.body, { error: 'invalid_grant', error_description: 'Session not active' });
  // Again: the session is already gone, still 204.
  const again = await h.post(h.oidcUrl('demo', 'logout'), { refresh_token: tokens.refresh_token!, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(again.status, 204);
});

test('logout with refresh_token: wrong client, forged token, no client auth', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const url = h.oidcUrl('demo', 'logout');
  let res = await h.post(url, { refresh_token: tokens.refresh_token!, client_id: DEMO_SERVICE[0], client_secret: DEMO_SERVICE[1] });
  t.is(res.status, 400);
  t.is(res.body.error, 'invalid_grant');
  for (const forged of Object.values(forgeries(tokens.refresh_token!))) {
    res = await h.post(url, { refresh_token: forged, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
    t.is(res.status, 400);
    t.is(res.body.error, 'invalid_grant');
  }
  res = await h.post(url, { refresh_token: tokens.access_token, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 400, 'an access token is not a refresh token');
  res = await h.post(url, { refresh_token: tokens.refresh_token! });
  t.is(res.status, 401);
  t.truthy(await h.node.engine.getSession(tokens.session_state!), 'none of it ended the session');
});
