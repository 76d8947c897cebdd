// Idle and max expiry over real HTTP in virtual time: a ManualClock in
// 'manual' clock mode, idle grace 0 (Keycloak 26 persistent-mode strictness)
// and realms with timeouts of a few seconds. Time moves only when a test
// advances it, so every boundary is exact and nothing sleeps.

import test from 'ava';
import { claims, startNode, type TestNode, type TestRealm } from '../../helpers/node-harness.js';

let h: TestNode;

test.before(async () => {
  h = await startNode({ manualClock: true, idleGraceSeconds: 0, demo: false });
});
test.after.always(async () => {
  await h?.stop();
});

const APP: [string, string] = ['app', 's'];
const SESSION_NOT_ACTIVE = { error: 'invalid_grant', error_description: 'Session not active' };

async function realm(sessions: Record<string, unknown>, attributes: Record<string, string> = {}): Promise<TestRealm> {
  return h.createRealm({
    overrides: { sessions },
    clients: [{ clientId: 'app', secret: 's', directAccessGrantsEnabled: true, attributes }],
    users: [{ username: 'u', password: 'pw' }],
  });
}

test.serial('idle timeout: each refresh moves the idle clock; past it the session is gone', async (t) => {
  const r = await realm({ ssoSessionIdleTimeout: 5, ssoSessionMaxLifespan: 3600 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  t.is(login.refresh_expires_in, 5);
  let rt = login.refresh_token!;
  for (let i = 0; i < 3; i++) {
    await h.advance(4);
    const res = await h.refresh(r.name, APP, rt);
    t.is(res.status, 200, res.text);
    t.is(res.body.refresh_expires_in, 5);
    rt = res.body.refresh_token;
  }
  await h.advance(5); // now == idle expiry: the token is still active, the session is not (strict >).
  const res = await h.refresh(r.name, APP, rt);
  t.is(res.status, 400);
  t.deepEqual(res.body, SESSION_NOT_ACTIVE);
  t.is(await h.node.engine.getSession(login.session_state!), null);
  t.false((await h.introspect(r.name, APP, login.access_token)).body.active);
});

test.serial('idle timeout with a longer client idle: the refresh token outlives the SSO session', async (t) => {
  const r = await realm({ ssoSessionIdleTimeout: 5, ssoSessionMaxLifespan: 3600 }, { 'client.session.idle.timeout': '60' });
  const login = await h.login(r.name, APP, 'u', 'pw');
  t.is(login.refresh_expires_in, 60);
  await h.advance(6);
  const res = await h.refresh(r.name, APP, login.refresh_token!);
  t.deepEqual(res.body, SESSION_NOT_ACTIVE);
});

test.serial('max lifespan caps the refresh token and ends the session however active', async (t) => {
  const r = await realm({ ssoSessionIdleTimeout: 5, ssoSessionMaxLifespan: 12 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  await h.advance(4);
  let res = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(res.status, 200);
  t.is(res.body.refresh_expires_in, 5);
  await h.advance(4);
  res = await h.refresh(r.name, APP, res.body.refresh_token);
  t.is(res.status, 200);
  t.is(res.body.refresh_expires_in, 4, 'capped by the session max (started + 12)');
  t.is(claims(res.body.refresh_token)['exp'], claims(login.refresh_token!)['iat'] + 12);
  await h.advance(4);
  res = await h.refresh(r.name, APP, res.body.refresh_token);
  t.deepEqual(res.body, SESSION_NOT_ACTIVE);
});

test.serial('an expired access token is inactive and refused by userinfo while its session lives', async (t) => {
  const r = await realm({ accessTokenLifespan: 3 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  t.is(login.expires_in, 3);
  await h.advance(3);
  t.true((await h.introspect(r.name, APP, login.access_token)).body.active, 'still active at exp');
  await h.advance(1);
  t.deepEqual((await h.introspect(r.name, APP, login.access_token)).body, { active: false });
  const info = await h.get(h.oidcUrl(r.name, 'userinfo'), { authorization: `Bearer ${login.access_token}` });
  t.is(info.status, 401);
  t.truthy(await h.node.engine.getSession(login.session_state!));
  const res = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(res.status, 200);
  t.true((await h.introspect(r.name, APP, res.body.access_token)).body.active);
});

test.serial('an expired refresh token: "Token is not active"', async (t) => {
  // Client idle shorter than the SSO idle: the token expires, the session does not.
  const r = await realm({ ssoSessionIdleTimeout: 3600 }, { 'client.session.idle.timeout': '5' });
  const login = await h.login(r.name, APP, 'u', 'pw');
  t.is(login.refresh_expires_in, 5);
  await h.advance(6);
  const res = await h.refresh(r.name, APP, login.refresh_token!);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Token is not active' });
  t.deepEqual((await h.introspect(r.name, APP, login.refresh_token!)).body, { active: false });
});

test.serial('a slow credential check does not make the new tokens older than their session', async (t) => {
  const r = await realm({});
  const hasher = h.node.hasher as unknown as { verify: (...args: unknown[]) => Promise<boolean> };
  const verify = hasher.verify;
  // The hash pool is busy: the check takes 3 s of (virtual) time.
  hasher.verify = async (...args: unknown[]) => {
    const ok = await verify.apply(h.node.hasher, args);
    h.clock!.advance(3);
    return ok;
  };
  let login;
  try {
    login = await h.login(r.name, APP, 'u', 'pw');
  } finally {
    hasher.verify = verify;
  }
  const session = await h.node.engine.getSession(login.session_state!);
  t.true(claims(login.refresh_token!)['iat'] >= session!.session.started);
  const res = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(res.status, 200, res.text);
});
