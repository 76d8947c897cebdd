// Refresh-token rotation and reuse detection (docs/keycloak-semantics.md#refresh-token-rotation) and the
// not-before policy (§3) over real HTTP. The node runs on a ManualClock so
// that "an older token" and "issued before not-before" are exact seconds,
// not races with the wall clock.

import { randomUUID } from 'node:crypto';
import test from 'ava';
import { claims, startNode, type TestNode, type TestRealm } from '../../helpers/node-harness.js';

let h: TestNode;

test.before(async () => {
  h = await startNode({ manualClock: true, demo: false });
});
test.after.always(async () => {
  await h?.stop();
});

const APP: [string, string] = ['app', 'app-secret'];
const OTHER: [string, string] = ['other', 'other-secret'];
const REDIRECT = 'http://127.0.0.1:3000/cb';

async function realm(sessions: Record<string, unknown> = {}): Promise<TestRealm> {
  return h.createRealm({
    overrides: { sessions },
    clients: [
      { clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true },
      { clientId: 'other', secret: 'other-secret', directAccessGrantsEnabled: true },
    ],
    users: [{ username: 'u', password: 'pw', email: 'u@example.test' }],
  });
}

// The tests share one clock and move it: they run one after the other.
const tick = (seconds = 1): Promise<void> => h.advance(seconds);

/** Attaches client `clientId` to an existing SSO session through an authorization code, as a second app's login would. */
async function joinSession(r: TestRealm, sid: string, client: [string, string]): Promise<Record<string, any>> {
  // The login of the second app attaches its client session before it issues the code.
  await h.node.engine.attachClient(sid, r.realm.id, { client: r.clients.get(client[0])!.id, scope: 'openid', ssoAuth: true });
  const value = randomUUID();
  await h.node.engine.putCode(sid, value, {
    client: r.clients.get(client[0])!.id,
    redirectUri: REDIRECT,
    scope: 'openid',
    nonce: null,
    codeChallenge: null,
    codeChallengeMethod: null,
    exp: h.now() + 60,
    ssoAuth: true,
  });
  const res = await h.token(r.name, { grant_type: 'authorization_code', client_id: client[0], client_secret: client[1], code: `${value}.${sid}`, redirect_uri: REDIRECT });
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.text}`);
  return res.body;
}

const error = (description: string) => ({ error: 'invalid_grant', error_description: description });

// ------------------------------------------------------------------ rotation

test.serial('without revokeRefreshToken an old refresh token stays usable and has no reuse_id', async (t) => {
  const r = await realm();
  const first = await h.login(r.name, APP, 'u', 'pw');
  t.false('reuse_id' in claims(first.refresh_token!));
  await tick();
  const second = await h.refresh(r.name, APP, first.refresh_token!);
  t.is(second.status, 200);
  await tick();
  for (let i = 0; i < 3; i++) {
    const again = await h.refresh(r.name, APP, first.refresh_token!);
    t.is(again.status, 200, again.text);
  }
});

test.serial('revokeRefreshToken, maxReuse 0: rotation; replaying a used token fails and detaches only that client', async (t) => {
  const r = await realm({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  const sid = login.session_state!;
  const rt0 = login.refresh_token!;
  const reuseId = claims(rt0)['reuse_id'];
  t.is(typeof reuseId, 'string');
  const other = await joinSession(r, sid, OTHER);
  t.is(other['session_state'], sid);
  t.not(claims(other['refresh_token'])['reuse_id'], reuseId, 'every login / code exchange starts its own chain');

  await tick();
  const r1 = await h.refresh(r.name, APP, rt0);
  t.is(r1.status, 200, r1.text);
  t.is(claims(r1.body.refresh_token)['reuse_id'], reuseId, 'the chain id is carried over');

  // rt0 again: same id as the stored one, used once already ⇒ over the limit.
  const replay = await h.refresh(r.name, APP, rt0);
  t.is(replay.status, 400);
  t.deepEqual(replay.body, error('Maximum allowed refresh token reuse exceeded'));

  // The client session of `app` is gone: even its newest token fails now.
  const newest = await h.refresh(r.name, APP, r1.body.refresh_token);
  t.is(newest.status, 400);
  t.deepEqual(newest.body, error("Session doesn't have required client"));

  // The SSO session and the other client survive.
  const got = await h.node.engine.getSession(sid);
  t.deepEqual(got?.session.clients.map((c) => c.client), [r.clients.get('other')!.id]);
  await tick();
  const otherRefresh = await h.refresh(r.name, OTHER, other['refresh_token']);
  t.is(otherRefresh.status, 200, otherRefresh.text);
});

test.serial('revokeRefreshToken: a token older than the chain\'s last refresh is a "Stale token"', async (t) => {
  const r = await realm({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  await tick();
  const r1 = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(r1.status, 200);
  await tick();
  const r2 = await h.refresh(r.name, APP, r1.body.refresh_token);
  t.is(r2.status, 200);
  const stale = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(stale.status, 400);
  t.deepEqual(stale.body, error('Stale token'));
  const after = await h.refresh(r.name, APP, r2.body.refresh_token);
  t.deepEqual(after.body, error("Session doesn't have required client"));
});

test.serial('revokeRefreshToken, maxReuse 1: a token may be used twice', async (t) => {
  const r = await realm({ revokeRefreshToken: true, refreshTokenMaxReuse: 1 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  await tick();
  const a = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(a.status, 200, a.text);
  const b = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(b.status, 200, b.text);
  const c = await h.refresh(r.name, APP, login.refresh_token!);
  t.deepEqual(c.body, error('Maximum allowed refresh token reuse exceeded'));
});

test.serial('revokeRefreshToken: two logins of the same client are separate chains', async (t) => {
  const r = await realm({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const tab1 = await h.login(r.name, APP, 'u', 'pw');
  const tab2 = await h.login(r.name, APP, 'u', 'pw');
  await tick();
  t.is((await h.refresh(r.name, APP, tab1.refresh_token!)).status, 200);
  t.is((await h.refresh(r.name, APP, tab2.refresh_token!)).status, 200);
});

test.serial('refresh token introspection applies the reuse rules read-only', async (t) => {
  const r = await realm({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  const before = await h.introspect(r.name, APP, login.refresh_token!);
  t.true(before.body.active);
  t.is(before.body.token_type, 'Refresh');
  await tick();
  t.is((await h.refresh(r.name, APP, login.refresh_token!)).status, 200);
  const used = await h.introspect(r.name, APP, login.refresh_token!);
  t.false(used.body.active, 'a used token with maxReuse 0 cannot be used again');
});

// ---------------------------------------------------------------- not-before

test.serial('realm notBefore: older refresh tokens are "Stale token", not-before-policy reports it, newer ones work', async (t) => {
  const r = await realm();
  const login = await h.login(r.name, APP, 'u', 'pw');
  const nb = h.now() + 1;
  await h.updateRealm(r.name, { sessions: { notBefore: nb } });
  const res = await h.refresh(r.name, APP, login.refresh_token!);
  t.is(res.status, 400);
  t.deepEqual(res.body, error('Stale token'));
  t.false((await h.introspect(r.name, APP, login.access_token)).body.active);
  // The refresh-token logout verifies the token as Keycloak's verifyRefreshToken does: realm not-before included.
  const logout = await h.post(h.oidcUrl(r.name, 'logout'), { refresh_token: login.refresh_token!, client_id: APP[0], client_secret: APP[1] });
  t.is(logout.status, 400);
  t.deepEqual(logout.body, error('Stale token'));
  await tick();
  const fresh = await h.login(r.name, APP, 'u', 'pw');
  t.true(fresh['not-before-policy'] >= nb);
  t.is((await h.refresh(r.name, APP, fresh.refresh_token!)).status, 200);
  t.true((await h.introspect(r.name, APP, fresh.access_token)).body.active);
});

test.serial('client notBefore: Stale token for that client only; with a realm notBefore the smaller one applies (min rule)', async (t) => {
  const r = await realm();
  const app = await h.login(r.name, APP, 'u', 'pw');
  const other = await h.login(r.name, OTHER, 'u', 'pw');
  const nb = h.now() + 1;
  await h.putClient(r.name, { clientId: 'app', notBefore: nb });
  t.deepEqual((await h.refresh(r.name, APP, app.refresh_token!)).body, error('Stale token'));
  t.false((await h.introspect(r.name, APP, app.access_token)).body.active);
  t.is((await h.refresh(r.name, OTHER, other.refresh_token!)).status, 200, 'other clients are not affected');

  // Min rule: a realm not-before (earlier than the token) next to a later client not-before ⇒ the realm's wins.
  const r2 = await realm();
  const issuedAt = h.now();
  await h.updateRealm(r2.name, { sessions: { notBefore: issuedAt - 100 } });
  const tok = await h.login(r2.name, APP, 'u', 'pw');
  t.is(tok['not-before-policy'], issuedAt - 100);
  await h.putClient(r2.name, { clientId: 'app', notBefore: issuedAt + 1 });
  const res = await h.refresh(r2.name, APP, tok.refresh_token!);
  t.is(res.status, 200, 'client not-before later than a non-zero realm not-before is ignored');
  t.is(res.body['not-before-policy'], issuedAt + 1, 'not-before-policy is the max of the three');
  t.true((await h.introspect(r2.name, APP, tok.access_token)).body.active);
});

test.serial('user notBefore (store): Stale token and inactive introspection for older tokens of that user', async (t) => {
  const r = await realm();
  await h.addUser(r.name, { username: 'v', password: 'pw' });
  const u = await h.login(r.name, APP, 'u', 'pw');
  const v = await h.login(r.name, APP, 'v', 'pw');
  const user = h.node.store.userByUsername(r.realm.id, 'u')!;
  const nb = h.now() + 1;
  await h.node.store.putUser({ ...user, notBefore: nb });
  t.deepEqual((await h.refresh(r.name, APP, u.refresh_token!)).body, error('Stale token'));
  t.false((await h.introspect(r.name, APP, u.access_token)).body.active);
  t.is((await h.refresh(r.name, APP, v.refresh_token!)).status, 200, 'another user is not affected');
  await tick();
  const fresh = await h.login(r.name, APP, 'u', 'pw');
  t.is(fresh['not-before-policy'], nb);
  t.is((await h.refresh(r.name, APP, fresh.refresh_token!)).status, 200);
});

test.serial('revokeRefreshToken, maxReuse 0: of concurrent refreshes with one token exactly one wins', async (t) => {
  const r = await realm({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const login = await h.login(r.name, APP, 'u', 'pw');
  await tick();
  const results = await Promise.all(Array.from({ length: 8 }, () => h.refresh(r.name, APP, login.refresh_token!)));
  const ok = results.filter((x) => x.status === 200);
  t.is(ok.length, 1, results.map((x) => x.text).join('\n'));
  for (const x of results.filter((y) => y.status !== 200)) {
    t.is(x.status, 400);
    t.is(x.body.error, 'invalid_grant');
  }
});
