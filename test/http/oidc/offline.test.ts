// Offline tokens over real HTTP (docs/keycloak-semantics.md#offline-sessions, #token-lifetimes): scope
// offline_access gives typ "Offline" refresh tokens without exp (while the
// realm's offline max is off), a user without the offline_access role is
// refused, and an offline token keeps working after the online session is gone.

import { randomUUID } from 'node:crypto';
import test from 'ava';
import * as client from 'openid-client';
import { claims, DEMO_APP, startNode, type TestNode } from '../../helpers/node-harness.js';

let h: TestNode;

test.before(async () => {
  h = await startNode();
});
test.after.always(async () => {
  await h?.stop();
});

const REDIRECT = 'http://127.0.0.1:3000/cb';

test('password grant with offline_access: typ Offline, no exp, refresh_expires_in 0, refreshable', async (t) => {
  const res = await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: 'alice-password', scope: 'openid offline_access' });
  t.is(res.status, 200, res.text);
  const body = res.body;
  t.is(body.refresh_expires_in, 0);
  t.is(body.scope, 'openid offline_access email profile');
  const rt = claims(body.refresh_token);
  t.is(rt['typ'], 'Offline');
  t.false('exp' in rt);
  t.is(rt['sid'], body.session_state);
  t.regex(claims(body.access_token)['jti'], /^ofrtro:/);
  t.true(claims(body.access_token)['exp'] > 0, 'the access token still expires');

  const offline = await h.node.engine.getOfflineSession(body.session_state);
  t.truthy(offline);

  const refreshed = await h.refresh('demo', DEMO_APP, body.refresh_token);
  t.is(refreshed.status, 200, refreshed.text);
  t.is(claims(refreshed.body.refresh_token)['typ'], 'Offline');
  t.is(refreshed.body.refresh_expires_in, 0);
  t.is(refreshed.body.session_state, body.session_state);

  const info = await h.introspect('demo', DEMO_APP, body.refresh_token);
  t.true(info.body.active);
  t.is(info.body.token_type, 'Offline');
  const at = await h.introspect('demo', DEMO_APP, refreshed.body.access_token);
  t.true(at.body.active, 'an access token of an offline session is active');

  // openid-client refreshes offline tokens like any other.
  const config = await client.discovery(new URL(h.realmUrl('demo')), DEMO_APP[0], DEMO_APP[1], undefined, { execute: [client.allowInsecureRequests] });
  const again = await client.refreshTokenGrant(config, refreshed.body.refresh_token);
  t.is(claims(again.refresh_token!)['typ'], 'Offline');
});

test('a user without the offline_access role: 400 not_allowed', async (t) => {
  const res = await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'bob', password: 'bob-password', scope: 'offline_access' });
  t.is(res.status, 400);
  t.is(res.body.error, 'not_allowed');
  t.is(typeof res.body.error_description, 'string');
  // bob can still log in online.
  t.is((await h.login('demo', DEMO_APP, 'bob', 'bob-password')).token_type, 'Bearer');
});

test('an offline token outlives its online session (code flow, then logout of the online session)', async (t) => {
  const realm = h.node.store.realmByName('demo')!;
  const alice = h.node.store.userByUsername(realm.id, 'alice')!;
  const app = h.node.store.clientByClientId(realm.id, 'demo-app')!;
  const created = await h.node.engine.createSession({ realm: realm.id, userId: alice.id, username: alice.username, ip: '127.0.0.1', client: { client: app.id, scope: 'openid offline_access' } });
  const sid = created.session.id;
  const value = randomUUID();
  await h.node.engine.putCode(sid, value, { client: app.id, redirectUri: REDIRECT, scope: 'openid offline_access', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: false });
  const res = await h.token('demo', { grant_type: 'authorization_code', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], code: `${value}.${sid}`, redirect_uri: REDIRECT });
  t.is(res.status, 200, res.text);
  t.is(claims(res.body.refresh_token)['typ'], 'Offline');
  t.truthy(await h.node.engine.getSession(sid), 'the code flow keeps the online session');

  // The online session ends (e.g. the user logged out in the browser).
  t.truthy(await h.node.engine.logoutSession(sid));
  t.is(await h.node.engine.getSession(sid), null);
  const refreshed = await h.refresh('demo', DEMO_APP, res.body.refresh_token);
  t.is(refreshed.status, 200, refreshed.text);
  t.is(refreshed.body.session_state, sid);
  t.true((await h.introspect('demo', DEMO_APP, refreshed.body.access_token)).body.active);
});

test('offline max lifespan enabled: the offline token gets an exp', async (t) => {
  const r = await h.createRealm({
    overrides: { sessions: { offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 7200 } },
    clients: [{ clientId: 'app', secret: 's', directAccessGrantsEnabled: true }],
    users: [{ username: 'u', password: 'pw' }],
  });
  const tokens = await h.login(r.name, ['app', 's'], 'u', 'pw', 'offline_access');
  const rt = claims(tokens.refresh_token!);
  t.is(rt['typ'], 'Offline');
  // exp = the offline session's start + 7200; the token's iat is that start or, when the
  // login crossed a second boundary between creating the session and signing, one later.
  t.true(rt['exp'] - rt['iat'] === 7200 || rt['exp'] - rt['iat'] === 7199, String(rt['exp'] - rt['iat']));
  t.is(tokens.refresh_expires_in, rt['exp'] - rt['iat']);
});

test('revoking an offline token removes the offline client session; the token stops working', async (t) => {
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password', 'offline_access');
  const rev = await h.post(h.oidcUrl('demo', 'revoke'), { token: tokens.refresh_token!, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(rev.status, 200);
  const res = await h.refresh('demo', DEMO_APP, tokens.refresh_token!);
  t.is(res.status, 400);
  t.is(res.body.error, 'invalid_grant');
  t.false((await h.introspect('demo', DEMO_APP, tokens.refresh_token!)).body.active);
});

test('offline refresh after the user lost the offline_access role fails', async (t) => {
  const r = await h.createRealm({
    clients: [{ clientId: 'app', secret: 's', directAccessGrantsEnabled: true }],
    users: [{ username: 'u', password: 'pw' }],
  });
  const tokens = await h.login(r.name, ['app', 's'], 'u', 'pw', 'offline_access');
  const user = h.node.store.userByUsername(r.realm.id, 'u')!;
  await h.node.store.putUser({ ...user, realmRoles: [] });
  const res = await h.refresh(r.name, ['app', 's'], tokens.refresh_token!);
  t.is(res.status, 400);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Offline session invalid because offline access not granted anymore' });
  t.false((await h.introspect(r.name, ['app', 's'], tokens.refresh_token!)).body.active);
});

test('logout with an offline token ends the offline session (and the online one of the same id)', async (t) => {
  const realm = h.node.store.realmByName('demo')!;
  const alice = h.node.store.userByUsername(realm.id, 'alice')!;
  const app = h.node.store.clientByClientId(realm.id, 'demo-app')!;
  const created = await h.node.engine.createSession({ realm: realm.id, userId: alice.id, username: alice.username, ip: '127.0.0.1', client: { client: app.id, scope: 'openid offline_access' } });
  const sid = created.session.id;
  const value = randomUUID();
  await h.node.engine.putCode(sid, value, { client: app.id, redirectUri: REDIRECT, scope: 'openid offline_access', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: false });
  const res = await h.token('demo', { grant_type: 'authorization_code', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], code: `${value}.${sid}`, redirect_uri: REDIRECT });
  t.is(res.status, 200, res.text);
  t.truthy(await h.node.engine.getOfflineSession(sid));
  const logout = await h.post(h.oidcUrl('demo', 'logout'), { refresh_token: res.body.refresh_token, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(logout.status, 204);
  t.is(await h.node.engine.getOfflineSession(sid), null, 'the offline session is gone');
  t.is(await h.node.engine.getSession(sid), null, 'and the online one with it');
  const refreshed = await h.refresh('demo', DEMO_APP, res.body.refresh_token);
  t.deepEqual(refreshed.body, { error: 'invalid_grant', error_description: 'Offline user session not found' });
  t.false((await h.introspect('demo', DEMO_APP, res.body.access_token)).body.active);
});
